/*
 * check_limit_record - the pure record of one limit (limit_record.h): the
 * reserve rule, sliding buckets and their cap, calendar periods, distinct
 * addresses against the keeper's set view, a version 1 record's inline
 * set, bytes with a final amount, redefinition, and the packed format
 * (round trip, every truncation, corrupt bytes), all with an injected
 * clock.
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
static struct limit_set_view view;	/* what the keeper's distinct set holds */

/* setup - an empty record */
static void setup(void)
{
	limit_record_init(&rec);
	memset(&view, 0, sizeof(view));
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
	int ret = limit_record_reserve(&rec, l, resid, &a, &view, now, st, &error);

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
	limit_record_state(&rec, &l, "b", NULL, BASE + TTL - 1, &s);
	ck_assert_uint_eq(s.reserved, 7);
	ck_assert_uint_eq(s.own, 3);
	limit_record_state(&rec, &l, "b", NULL, BASE + TTL, &s);
	ck_assert_uint_eq(s.reserved, 0);
	limit_record_release(&rec, "a", BASE + 1);
	limit_record_state(&rec, &l, NULL, NULL, BASE + 1, &s);
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
	limit_record_state(&rec, &l, NULL, NULL, BASE + 179 * RES, &s);
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
	limit_record_state(&rec, &l, NULL, NULL, BASE + 183 * RES, &s);
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
	limit_record_state(&rec, &l, NULL, NULL, BASE + 2, &s);
	ck_assert_uint_eq(s.committed, 1000);
	ck_assert_int_eq(s.next_free, l.period_end);
	roundtrip();
	ck_assert_uint_eq(limit_record_committed(&rec, NULL, l.period_end - 1), 1000);
	ck_assert_uint_eq(limit_record_committed(&rec, NULL, l.period_end), 0);
	/* the next period starts from 0 */
	l.period_start = l.period_end;
	l.period_end += DAY;
	limit_record_state(&rec, &l, NULL, NULL, l.period_start, &s);
	ck_assert_uint_eq(s.committed, 0);
	ck_assert_int_eq(ask(&l, "m3", 1000, 0, l.period_start, &s), STORE_OK);
	ck_assert_uint_eq(rec.period_amount, 0);
	/* redefined as another count: from 0 too */
	commit(&l, "m3", UINT64_MAX, l.period_start);
	ck_assert_uint_eq(rec.period_amount, 1000);
	l.count = STORE_COUNT_MESSAGES;
	limit_record_state(&rec, &l, NULL, NULL, l.period_start, &s);
	ck_assert_uint_eq(s.committed, 0);
	ck_assert_int_eq(ask(&l, "m4", 1, 0, l.period_start, &s), STORE_OK);
	ck_assert_uint_eq(s.committed, 0);
}
END_TEST

START_TEST(test_distinct)
{
	struct store_limit l = lim(STORE_COUNT_DISTINCT, 3, 0);
	struct store_limit_state s;
	const struct limit_resv *r;

	/* the keeper's set holds 2 addresses, the oldest used at BASE */
	view.live = 2;
	view.oldest = BASE;
	view.has_hash = false;
	ck_assert_int_eq(ask(&l, "m1", 1, 7, BASE + 10, &s), STORE_OK);
	ck_assert_uint_eq(s.committed, 2);
	ck_assert_uint_eq(s.own, 1);
	ck_assert_int_eq(s.next_free, BASE + INTERVAL);
	/* the same hash again under m1: no second unit, not asked twice */
	ck_assert_int_eq(ask(&l, "m1", 1, 7, BASE + 10, &s), STORE_OK);
	ck_assert_uint_eq(s.own, 1);
	/* a third address: the set's 2 + m1's 1 = max */
	ck_assert_int_eq(ask(&l, "m2", 1, 8, BASE + 10, &s), STORE_REFUSED);
	/* an address the set holds costs 0 and is granted */
	view.has_hash = true;
	ck_assert_int_eq(ask(&l, "m2", 1, 9, BASE + 10, &s), STORE_OK);
	ck_assert_uint_eq(s.own, 0);
	r = limit_record_resv(&rec, "m2");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_hashes, 1);
	ck_assert(!r->hashes[0].counted);
	r = limit_record_resv(&rec, "m1");
	ck_assert_ptr_nonnull(r);
	ck_assert(r->hashes[0].counted);
	roundtrip();
	/* commit: the keeper added the hash; the reservation goes */
	commit(&l, "m1", UINT64_MAX, BASE + 11);
	ck_assert_ptr_null(limit_record_resv(&rec, "m1"));
	view.live = 3;
	limit_record_state(&rec, &l, NULL, &view, BASE + 11, &s);
	ck_assert_uint_eq(s.committed, 3);
	ck_assert_uint_eq(s.reserved, 0);
	/* redefined as a calendar count: the keeper must empty its set */
	l.window = STORE_WINDOW_CALENDAR;
	l.period_start = BASE;
	l.period_end = BASE + DAY;
	ck_assert(limit_record_prepare(&rec, &l, BASE + 12));
	ck_assert(!limit_record_prepare(&rec, &l, BASE + 12));
	limit_record_state(&rec, &l, NULL, &view, BASE + 12, &s);
	ck_assert_int_eq(s.next_free, BASE + DAY);
	limit_record_state(&rec, &l, NULL, &view, BASE + DAY, &s);
	ck_assert_uint_eq(s.committed, 0);
}
END_TEST

/* v1_put - append n bytes of v big-endian at *p (bytes above the 8th are 0) */
static void v1_put(unsigned char **p, uint64_t v, int n)
{
	while (n-- > 0)
		*(*p)++ = n < 8 ? (unsigned char)(v >> (8 * n)) : 0;
}

START_TEST(test_version1_inline_set)
{
	/* a record as version 1 wrote it: distinct, sliding 3600 s, 3
	 * addresses inline (hash 1 at BASE, 2 at BASE + 100, 3 at BASE + 200) */
	struct store_limit l = lim(STORE_COUNT_DISTINCT, 100, 0);
	unsigned char buf[LIMIT_RECORD_HEADER_SIZE + 3 * 16], *p = buf;
	const char *error = NULL;
	struct limit_set_view v;
	struct store_limit_state s;
	int i;

	v1_put(&p, 'L', 1);
	v1_put(&p, 1, 1);
	v1_put(&p, STORE_COUNT_DISTINCT, 1);
	v1_put(&p, STORE_WINDOW_SLIDING, 1);
	v1_put(&p, INTERVAL, 4);
	v1_put(&p, RES, 4);
	v1_put(&p, 0, 8 * 3);
	v1_put(&p, 0, 2);
	v1_put(&p, 3, 4);
	v1_put(&p, 0, 2);
	v1_put(&p, 0, 4);
	for (i = 0; i < 3; i++) {
		v1_put(&p, (uint64_t)i + 1, 8);
		v1_put(&p, (uint64_t)(BASE + 100 * i), 8);
	}
	ck_assert_uint_eq((size_t)(p - buf), sizeof(buf));
	ck_assert_msg(limit_record_decode(&rec, buf, sizeof(buf), &error) == 0, "decode: %s",
		      error);
	ck_assert_uint_eq(rec.n_hashes, 3);
	limit_record_legacy_view(&rec, 2, BASE + INTERVAL + 50, &v);
	ck_assert_uint_eq(v.live, 2);
	ck_assert_int_eq(v.oldest, BASE + 100);
	ck_assert(v.has_hash);
	limit_record_legacy_view(&rec, 1, BASE + INTERVAL + 50, &v);
	ck_assert(!v.has_hash);
	ck_assert(limit_record_hash_counts(&rec, &rec.hashes[2], BASE + INTERVAL + 199));
	ck_assert(!limit_record_hash_counts(&rec, &rec.hashes[2], BASE + INTERVAL + 200));
	limit_record_state(&rec, &l, NULL, &v, BASE + INTERVAL + 50, &s);
	ck_assert_uint_eq(s.committed, 2);
	ck_assert_int_eq(s.next_free, BASE + 100 + INTERVAL);
	/* moved out by the keeper: written as version 2, without them */
	limit_record_forget_legacy(&rec);
	ck_assert(rec.dirty);
	ck_assert_uint_eq(limit_record_encode(&rec, buf, sizeof(buf)), LIMIT_RECORD_HEADER_SIZE);
	ck_assert_uint_eq(buf[1], 2);
	ck_assert_msg(limit_record_decode(&rec, buf, LIMIT_RECORD_HEADER_SIZE, &error) == 0,
		      "decode: %s", error);
	ck_assert_uint_eq(rec.n_hashes, 0);
	ck_assert_uint_eq(rec.count, STORE_COUNT_DISTINCT);
	buf[1] = 3;
	ck_assert_int_eq(limit_record_decode(&rec, buf, LIMIT_RECORD_HEADER_SIZE, &error), -1);
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
	tcase_add_test(tc, test_version1_inline_set);
	tcase_add_test(tc, test_decode_truncated);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(limit_record_suite)
