/*
 * check_limit_record - the pure record of one limit (limit_record.h): the
 * reserve rule, sliding buckets and their cap, calendar periods, the
 * distinct-address set, bytes with a final amount, redefinition, and the
 * packed format (round trip, every truncation, corrupt bytes), all with an
 * injected clock.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_main.h"
#include "store/limit_record.h"

#define BASE 1700000040		/* a multiple of 60 */
#define RES 60
#define INTERVAL 3600
#define TTL 300
#define DAY 86400

static struct limit_record rec;

/* setup - an empty record */
static void setup(void)
{
	limit_record_init(&rec);
}

/* teardown - free it */
static void teardown(void)
{
	limit_record_reset(&rec);
}

/* lim - a sliding limit of count with max */
static struct store_limit lim(enum store_count count, uint64_t max, uint64_t margin)
{
	struct store_limit l;

	memset(&l, 0, sizeof(l));
	l.owner = "u";
	l.owner_len = 1;
	l.id = 1;
	l.count = count;
	l.window = STORE_WINDOW_SLIDING;
	l.interval = INTERVAL;
	l.resolution = RES;
	l.max = max;
	l.margin = margin;
	l.reservation_ttl = TTL;
	return l;
}

/* ask - reserve amount (and hash) for resid; returns the status */
static int ask(const struct store_limit *l, const char *resid, uint64_t amount, uint64_t hash,
	       int64_t now, struct store_limit_state *st)
{
	struct store_limit_ask a = { amount, hash };
	const char *error = NULL;
	int ret = limit_record_reserve(&rec, l, resid, &a, now, st, &error);

	ck_assert_msg(ret != STORE_ERROR, "reserve %s: %s", resid, error);
	return ret;
}

/* commit - limit_record_commit, which must succeed */
static void commit(const struct store_limit *l, const char *resid, uint64_t final, int64_t now)
{
	const char *error = NULL;

	ck_assert_msg(limit_record_commit(&rec, l, resid, final, now, &error) == 0, "commit: %s",
		      error);
}

/* roundtrip - encode and decode rec again, checking the size */
static void roundtrip(void)
{
	size_t size = limit_record_encoded_size(&rec);
	unsigned char *buf = malloc(size);
	const char *error = NULL;

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(limit_record_encode(&rec, buf, size), size);
	ck_assert_uint_eq(limit_record_encode(&rec, buf, size - 1), 0);
	ck_assert_msg(limit_record_decode(&rec, buf, size, &error) == 0, "decode: %s", error);
	free(buf);
}

START_TEST(test_rule_and_margin)
{
	struct store_limit l = lim(STORE_COUNT_RECIPIENTS, 5, 2);
	struct store_limit_state s;

	ck_assert_int_eq(ask(&l, "a", 4, 0, BASE, &s), STORE_OK);
	ck_assert_int_eq(ask(&l, "b", 1, 0, BASE, &s), STORE_OK);
	/* others = 5 >= max: refused, even within the margin */
	ck_assert_int_eq(ask(&l, "c", 1, 0, BASE, &s), STORE_REFUSED);
	/* a started under the limit: it may grow by the margin, not past */
	ck_assert_int_eq(ask(&l, "b", 2, 0, BASE, &s), STORE_OK);
	ck_assert_uint_eq(s.own, 3);
	ck_assert_int_eq(ask(&l, "b", 1, 0, BASE, &s), STORE_REFUSED);
	/* cost 0 is always granted */
	ck_assert_int_eq(ask(&l, "c", 0, 0, BASE, &s), STORE_OK);
	ck_assert_uint_eq(s.reserved, 7);
	ck_assert_uint_eq(rec.n_resv, 3);
	roundtrip();
	limit_record_state(&rec, &l, "b", BASE + TTL - 1, &s);
	ck_assert_uint_eq(s.reserved, 7);
	ck_assert_uint_eq(s.own, 3);
	limit_record_state(&rec, &l, "b", BASE + TTL, &s);
	ck_assert_uint_eq(s.reserved, 0);
	limit_record_release(&rec, "a", BASE + 1);
	limit_record_state(&rec, &l, NULL, BASE + 1, &s);
	ck_assert_uint_eq(s.reserved, 3);
}
END_TEST

START_TEST(test_buckets)
{
	struct store_limit l = lim(STORE_COUNT_MESSAGES, 1000000, 0);
	struct store_limit_state s;
	char resid[16];
	int i;

	/* one unit a minute for three hours: at most interval/res + 2 buckets */
	for (i = 0; i < 180; i++) {
		snprintf(resid, sizeof(resid), "m%d", i);
		ck_assert_int_eq(ask(&l, resid, 1, 0, BASE + i * RES, NULL), STORE_OK);
		commit(&l, resid, UINT64_MAX, BASE + i * RES);
		ck_assert_uint_le(rec.n_buckets, INTERVAL / RES + 2);
	}
	limit_record_state(&rec, &l, NULL, BASE + 179 * RES, &s);
	ck_assert_uint_eq(s.committed, INTERVAL / RES + 1);
	ck_assert_int_eq(s.next_free, BASE + (179 - 60) * RES + RES + INTERVAL);
	roundtrip();
	/* a shorter interval lowers the cap: the oldest buckets fold, never under-counting */
	l.interval = 120;
	for (i = 0; i < 5; i++) {
		snprintf(resid, sizeof(resid), "j%d", i);
		ck_assert_int_eq(ask(&l, resid, 1, 0, BASE + 179 * RES + i * RES, NULL),
				 STORE_OK);
		commit(&l, resid, UINT64_MAX, BASE + 179 * RES + i * RES);
		ck_assert_uint_le(rec.n_buckets, 120 / RES + 2);
	}
	limit_record_state(&rec, &l, NULL, BASE + 183 * RES, &s);
	ck_assert_uint_ge(s.committed, 3);
}
END_TEST

START_TEST(test_calendar_and_bytes)
{
	struct store_limit l = lim(STORE_COUNT_BYTES, 1000, 0);
	struct store_limit_state s;

	l.window = STORE_WINDOW_CALENDAR;
	l.period_start = BASE;
	l.period_end = BASE + DAY - 3600;	/* a 23-hour day */
	ck_assert_int_eq(ask(&l, "m1", 0, 0, BASE, &s), STORE_OK);
	commit(&l, "m1", 900, BASE);
	ck_assert_int_eq(ask(&l, "m2", 200, 0, BASE + 1, &s), STORE_REFUSED);
	ck_assert_int_eq(ask(&l, "m2", 100, 0, BASE + 1, &s), STORE_OK);
	commit(&l, "m2", UINT64_MAX, BASE + 1);
	limit_record_state(&rec, &l, NULL, BASE + 2, &s);
	ck_assert_uint_eq(s.committed, 1000);
	ck_assert_int_eq(s.next_free, l.period_end);
	roundtrip();
	ck_assert_uint_eq(limit_record_committed(&rec, l.period_end - 1), 1000);
	ck_assert_uint_eq(limit_record_committed(&rec, l.period_end), 0);
	/* the next period starts from 0 */
	l.period_start = l.period_end;
	l.period_end += DAY;
	limit_record_state(&rec, &l, NULL, l.period_start, &s);
	ck_assert_uint_eq(s.committed, 0);
	ck_assert_int_eq(ask(&l, "m3", 1000, 0, l.period_start, &s), STORE_OK);
	ck_assert_uint_eq(rec.period_amount, 0);
	/* redefined as another count: from 0 too */
	commit(&l, "m3", UINT64_MAX, l.period_start);
	ck_assert_uint_eq(rec.period_amount, 1000);
	l.count = STORE_COUNT_MESSAGES;
	limit_record_state(&rec, &l, NULL, l.period_start, &s);
	ck_assert_uint_eq(s.committed, 0);
	ck_assert_int_eq(ask(&l, "m4", 1, 0, l.period_start, &s), STORE_OK);
	ck_assert_uint_eq(s.committed, 0);
}
END_TEST

START_TEST(test_distinct)
{
	struct store_limit l = lim(STORE_COUNT_DISTINCT, 100, 0);
	struct store_limit_state s;
	char resid[16];
	uint64_t h;

	for (h = 0; h < 100; h++) {
		snprintf(resid, sizeof(resid), "m%u", (unsigned)h);
		ck_assert_int_eq(ask(&l, resid, 1, h * 7919 + 1, BASE + h, &s), STORE_OK);
		ck_assert_int_eq(ask(&l, resid, 1, h * 7919 + 1, BASE + h, &s), STORE_OK);
		ck_assert_uint_eq(s.own, 1);
		commit(&l, resid, UINT64_MAX, BASE + h);
	}
	ck_assert_uint_eq(rec.n_hashes, 100);
	roundtrip();
	ck_assert_uint_eq(rec.n_hashes, 100);
	ck_assert_int_eq(ask(&l, "x", 1, 5, BASE + 100, &s), STORE_REFUSED);
	ck_assert_int_eq(ask(&l, "x", 1, 1, BASE + 100, &s), STORE_OK);
	ck_assert_uint_eq(s.own, 0);
	limit_record_state(&rec, &l, NULL, BASE + INTERVAL, &s);
	ck_assert_uint_eq(s.committed, 99);
	ck_assert_int_eq(s.next_free, BASE + 1 + INTERVAL);
	/* the set stays bounded: dead addresses go on the next change */
	ck_assert_int_eq(ask(&l, "y", 1, 5, BASE + INTERVAL + 50, &s), STORE_OK);
	ck_assert_uint_eq(rec.n_hashes, 49);
	ck_assert_uint_eq(s.committed, 49);
}
END_TEST

START_TEST(test_decode_truncated)
{
	struct store_limit l = lim(STORE_COUNT_DISTINCT, 100, 0);
	unsigned char *buf;
	const char *error;
	size_t size, cut;

	ck_assert_int_eq(ask(&l, "a", 1, 1, BASE, NULL), STORE_OK);
	commit(&l, "a", UINT64_MAX, BASE);
	ck_assert_int_eq(ask(&l, "b", 1, 2, BASE, NULL), STORE_OK);
	size = limit_record_encoded_size(&rec);
	buf = malloc(size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(limit_record_encode(&rec, buf, size), size);
	for (cut = 0; cut < size; cut++) {
		error = NULL;
		ck_assert_msg(limit_record_decode(&rec, buf, cut, &error) == -1,
			      "decode of %zu of %zu bytes succeeded", cut, size);
		ck_assert_ptr_nonnull(error);
		ck_assert(limit_record_is_empty(&rec));
	}
	buf[size] = 0;
	ck_assert_int_eq(limit_record_decode(&rec, buf, size + 1, &error), -1);
	buf[0] = 'Q';
	ck_assert_int_eq(limit_record_decode(&rec, buf, size, &error), -1);
	free(buf);
}
END_TEST

/* limit_record_suite - the cases */
static Suite *limit_record_suite(void)
{
	Suite *s = suite_create("limit_record");
	TCase *tc = tcase_create("record");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rule_and_margin);
	tcase_add_test(tc, test_buckets);
	tcase_add_test(tc, test_calendar_and_bytes);
	tcase_add_test(tc, test_distinct);
	tcase_add_test(tc, test_decode_truncated);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(limit_record_suite)
