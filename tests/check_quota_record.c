/*
 * check_quota_record - the pure per-user quota record: window arithmetic
 * with an injected clock, the bucket and reservation bounds, the
 * reservation life cycle, and the packed format (round trip, and clean
 * failure on every truncation and on corrupt bytes).
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "store/quota_record.h"

#define BASE 1700000040		/* a multiple of 60 */

static struct quota_record rec;

/* setup - an empty record */
static void setup(void)
{
	quota_record_init(&rec);
}

/* teardown - free it */
static void teardown(void)
{
	quota_record_reset(&rec);
}

/* add - reserve n under resid with p and commit it at now */
static void add(struct quota_record *r, uint32_t n, const struct store_quota_params *p,
		int64_t now)
{
	struct store_quota_params big = *p;
	const char *error = NULL;

	big.limit = UINT32_MAX - 1;
	ck_assert_int_eq(quota_record_reserve(r, "add", n, &big, now, NULL, &error), STORE_OK);
	quota_record_commit(r, "add", &big, now);
}

/* committed - committed usage at now */
static uint32_t committed(const struct quota_record *r, const struct store_quota_params *p,
			  int64_t now)
{
	struct store_quota_state s;

	quota_record_state(r, NULL, p, now, &s);
	return s.committed;
}

struct window_row {
	const char *name;
	uint32_t interval, resolution;
	int64_t at, look;	/* offsets from BASE */
	uint32_t want;
};

static const struct window_row window_rows[] = {
	{ "same second", 3600, 60, 0, 0, 1 },
	{ "start, +interval", 3600, 60, 0, 3600, 1 },
	{ "start, last second", 3600, 60, 0, 3659, 1 },
	{ "start, +interval+resolution", 3600, 60, 0, 3660, 0 },
	{ "end of bucket, +interval", 3600, 60, 59, 3659, 1 },
	{ "end of bucket, +interval+1", 3600, 60, 59, 3660, 0 },
	{ "resolution 1, +interval-1", 3600, 1, 17, 17 + 3599, 1 },
	{ "resolution 1, +interval", 3600, 1, 17, 17 + 3600, 1 },
	{ "resolution 1, +interval+1", 3600, 1, 17, 17 + 3601, 0 },
	{ "resolution = interval", 60, 60, 30, 119, 1 },
	{ "resolution = interval, gone", 60, 60, 30, 120, 0 },
	{ "resolution not dividing, live", 100, 30, 29, 129, 1 },
	{ "resolution not dividing, gone", 100, 30, 29, 130, 0 },
	{ "clock before the commit", 3600, 60, 100, 0, 1 },
};

START_TEST(test_window)
{
	const struct window_row *row = &window_rows[_i];
	struct store_quota_params p = { 100, 0, row->interval, row->resolution, 300 };
	uint32_t got;

	add(&rec, 1, &p, BASE + row->at);
	got = committed(&rec, &p, BASE + row->look);
	ck_assert_msg(got == row->want, "%s: got %u, want %u", row->name, got, row->want);
	/* pruning agrees with counting */
	quota_record_prune(&rec, &p, BASE + row->look);
	ck_assert_msg(quota_record_total(&rec) == row->want, "%s after prune: got %u, want %u",
		      row->name, quota_record_total(&rec), row->want);
}
END_TEST

START_TEST(test_window_negative_clock)
{
	/* floor division: a time before the epoch lands in the right bucket */
	struct store_quota_params p = { 100, 0, 100, 60, 300 };
	struct store_quota_state s;

	add(&rec, 1, &p, -1);
	quota_record_state(&rec, NULL, &p, -1, &s);
	ck_assert_int_eq(s.last_send, -60);
	ck_assert_uint_eq(committed(&rec, &p, 99), 1);	/* -60 + 60 + 100 = 100 */
	ck_assert_uint_eq(committed(&rec, &p, 100), 0);
}
END_TEST

struct cap_row {
	const char *name;
	uint32_t interval, resolution, cap;
};

static const struct cap_row cap_rows[] = {
	{ "hour by minute", 3600, 60, 62 },
	{ "day by 5 minutes", 86400, 300, 290 },
	{ "not dividing", 100, 30, 5 },
	{ "resolution = interval", 60, 60, 3 },
	{ "resolution > interval", 10, 60, 2 },
	{ "day by second, hard cap", 86400, 1, QUOTA_RECORD_BUCKETS_MAX },
};

START_TEST(test_bucket_cap)
{
	const struct cap_row *row = &cap_rows[_i];
	struct store_quota_params p = { 100, 0, row->interval, row->resolution, 300 };
	uint32_t i, most = 0;
	uint32_t steps = row->cap > 1000 ? row->cap + 200 : 3 * row->cap + 10;
	int64_t now = BASE;

	ck_assert_uint_eq(quota_record_bucket_cap(&p), row->cap);
	/* one message per bucket for three windows: never more than cap */
	for (i = 0; i < steps; i++, now += row->resolution) {
		add(&rec, 1, &p, now);
		if (rec.n_buckets > most)
			most = rec.n_buckets;
	}
	ck_assert_msg(most <= row->cap, "%s: got %u buckets, want at most %u", row->name, most,
		      row->cap);
}
END_TEST

START_TEST(test_bucket_cap_backwards_clock)
{
	/* a clock jumping around keeps the cap and never loses a count */
	struct store_quota_params p = { 100, 0, 3600, 60, 300 };
	uint32_t i, cap = quota_record_bucket_cap(&p);
	int64_t now;

	srandom(42);
	for (i = 0; i < 2000; i++) {
		now = BASE + random() % 3000;
		add(&rec, 1, &p, now);
		ck_assert_uint_le(rec.n_buckets, cap);
		ck_assert_uint_eq(quota_record_total(&rec), i + 1);
	}
	for (i = 1; i < rec.n_buckets; i++)
		ck_assert_int_lt(rec.buckets[i - 1].start, rec.buckets[i].start);
	/* within the window everything still counts */
	ck_assert_uint_eq(committed(&rec, &p, BASE + 3000), 2000);
}
END_TEST

START_TEST(test_lifecycle)
{
	struct store_quota_params p = { 5, 2, 3600, 60, 300 };
	struct store_quota_state s;
	const char *error = NULL;

	ck_assert_int_eq(quota_record_reserve(&rec, "m1", 2, &p, BASE, &s, &error), STORE_OK);
	ck_assert(rec.dirty);
	ck_assert_uint_eq(s.reserved, 2);
	ck_assert_uint_eq(s.own, 2);
	ck_assert_int_eq(quota_record_reserve(&rec, "m2", 2, &p, BASE + 1, &s, &error),
			 STORE_OK);
	ck_assert_uint_eq(s.reserved, 4);
	ck_assert_uint_eq(s.own, 2);
	/* m1 grows to 5 (others 2, 2 + 3 + 2 = 7 = limit + margin) */
	ck_assert_int_eq(quota_record_reserve(&rec, "m1", 3, &p, BASE + 2, &s, &error),
			 STORE_OK);
	ck_assert_uint_eq(s.own, 5);
	ck_assert_int_eq(quota_record_reserve(&rec, "m1", 1, &p, BASE + 2, &s, &error),
			 STORE_REFUSED);
	ck_assert_uint_eq(s.own, 5);
	ck_assert_uint_eq(s.reserved, 7);
	quota_record_commit(&rec, "m1", &p, BASE + 70);
	quota_record_state(&rec, "m2", &p, BASE + 70, &s);
	ck_assert_uint_eq(s.committed, 5);
	ck_assert_uint_eq(s.reserved, 2);
	ck_assert_uint_eq(s.own, 2);
	ck_assert_int_eq(s.last_send, BASE + 60);
	quota_record_release(&rec, "m2", BASE + 71);
	ck_assert_uint_eq(rec.n_resv, 0);
	ck_assert_uint_eq(rec.n_buckets, 1);
	/* expiry: m3 lives [BASE + 100, BASE + 400) */
	ck_assert_int_eq(quota_record_reserve(&rec, "m3", 1, &p, BASE + 100, &s, &error),
			 STORE_REFUSED);	/* committed 5 = limit */
	quota_record_reset(&rec);
	ck_assert_int_eq(quota_record_reserve(&rec, "m3", 1, &p, BASE + 100, &s, &error),
			 STORE_OK);
	quota_record_state(&rec, NULL, &p, BASE + 399, &s);
	ck_assert_uint_eq(s.reserved, 1);
	quota_record_state(&rec, NULL, &p, BASE + 400, &s);
	ck_assert_uint_eq(s.reserved, 0);
	ck_assert(quota_record_prune(&rec, &p, BASE + 400));
	ck_assert(quota_record_is_empty(&rec));
	ck_assert(!quota_record_prune(&rec, &p, BASE + 400));
	/* commit of an expired reservation commits nothing */
	ck_assert_int_eq(quota_record_reserve(&rec, "m4", 1, &p, BASE, &s, &error), STORE_OK);
	quota_record_commit(&rec, "m4", &p, BASE + 300);
	ck_assert_uint_eq(quota_record_total(&rec), 0);
}
END_TEST

START_TEST(test_refusal_changes_nothing)
{
	struct store_quota_params p = { 1, 0, 3600, 60, 300 };
	unsigned char before[256], after[256];
	size_t lb, la;
	const char *error = NULL;

	ck_assert_int_eq(quota_record_reserve(&rec, "a", 1, &p, BASE, NULL, &error), STORE_OK);
	lb = quota_record_encode(&rec, before, sizeof(before));
	rec.dirty = false;
	ck_assert_int_eq(quota_record_reserve(&rec, "b", 1, &p, BASE, NULL, &error),
			 STORE_REFUSED);
	ck_assert(!rec.dirty);
	la = quota_record_encode(&rec, after, sizeof(after));
	ck_assert_uint_eq(la, lb);
	ck_assert_mem_eq(after, before, la);
}
END_TEST

START_TEST(test_reservation_cap)
{
	struct store_quota_params p = { 100000, 0, 3600, 60, 300 };
	struct store_quota_state s;
	const char *error = NULL;
	char id[16];
	int i;

	for (i = 0; i < QUOTA_RECORD_RESV_MAX; i++) {
		snprintf(id, sizeof(id), "%d", i);
		ck_assert_int_eq(quota_record_reserve(&rec, id, 1, &p, BASE, NULL, &error),
				 STORE_OK);
	}
	error = NULL;
	ck_assert_int_eq(quota_record_reserve(&rec, "x", 1, &p, BASE, &s, &error), STORE_ERROR);
	ck_assert_str_eq(error, "too many open reservations");
	ck_assert_uint_eq(rec.n_resv, QUOTA_RECORD_RESV_MAX);
	ck_assert_uint_eq(s.reserved, QUOTA_RECORD_RESV_MAX);
	/* the full record still encodes and decodes */
	{
		size_t size = quota_record_encoded_size(&rec);
		unsigned char *buf = malloc(size);
		struct quota_record copy;

		ck_assert_uint_eq(quota_record_encode(&rec, buf, size), size);
		quota_record_init(&copy);
		ck_assert_int_eq(quota_record_decode(&copy, buf, size, &error), 0);
		ck_assert_uint_eq(copy.n_resv, QUOTA_RECORD_RESV_MAX);
		quota_record_reset(&copy);
		free(buf);
	}
}
END_TEST

START_TEST(test_saturation)
{
	/* sums never wrap around into "under quota" */
	struct store_quota_params p = { UINT32_MAX, UINT32_MAX, 3600, 60, 300 };
	struct store_quota_state s;
	const char *error = NULL;

	ck_assert_int_eq(quota_record_reserve(&rec, "a", UINT32_MAX - 10, &p, BASE, &s, &error),
			 STORE_OK);
	ck_assert_int_eq(quota_record_reserve(&rec, "b", 100, &p, BASE, &s, &error), STORE_OK);
	ck_assert_uint_eq(s.reserved, UINT32_MAX);
	ck_assert_int_eq(quota_record_reserve(&rec, "c", 1, &p, BASE, &s, &error),
			 STORE_REFUSED);
	quota_record_commit(&rec, "a", &p, BASE);
	quota_record_commit(&rec, "b", &p, BASE);
	ck_assert_uint_eq(quota_record_total(&rec), UINT32_MAX);
	ck_assert_int_eq(quota_record_reserve(&rec, "c", 1, &p, BASE, &s, &error),
			 STORE_REFUSED);
}
END_TEST

/* sample - a record with a bit of everything */
static void sample(struct quota_record *r)
{
	struct store_quota_params p = { UINT32_MAX - 1, 0, 3600, 60, 300 };
	const char *error = NULL;
	char id[STORE_RESID_MAX + 1];

	add(r, 3, &p, BASE);
	add(r, 1, &p, BASE + 61);
	add(r, 70000, &p, BASE + 3000);
	memset(id, 'i', STORE_RESID_MAX);
	id[STORE_RESID_MAX] = '\0';
	ck_assert_int_eq(quota_record_reserve(r, id, 2, &p, BASE + 3001, NULL, &error),
			 STORE_OK);
	ck_assert_int_eq(quota_record_reserve(r, "\xff\x01", 5, &p, BASE + 3002, NULL, &error),
			 STORE_OK);
	ck_assert_int_eq(quota_record_reserve(r, "x", 0, &p, BASE + 3003, NULL, &error),
			 STORE_OK);
}

/* encode_alloc - encode r into a malloc'd buffer of exactly its size */
static unsigned char *encode_alloc(const struct quota_record *r, size_t *len_r)
{
	size_t size = quota_record_encoded_size(r);
	unsigned char *buf = malloc(size);

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(quota_record_encode(r, buf, size), size);
	*len_r = size;
	return buf;
}

START_TEST(test_round_trip)
{
	struct quota_record copy;
	unsigned char *a, *b;
	size_t la, lb, i;
	const char *error = NULL;

	sample(&rec);
	a = encode_alloc(&rec, &la);
	ck_assert_uint_eq(la, QUOTA_RECORD_HEADER_SIZE + 3 * QUOTA_RECORD_BUCKET_SIZE +
			  (13 + STORE_RESID_MAX) + (13 + 2) + (13 + 1));
	ck_assert_uint_eq(quota_record_encode(&rec, a, la - 1), 0);
	quota_record_init(&copy);
	ck_assert_msg(quota_record_decode(&copy, a, la, &error) == 0, "decode: %s", error);
	ck_assert(!copy.dirty);
	ck_assert_uint_eq(copy.n_buckets, rec.n_buckets);
	ck_assert_uint_eq(copy.n_resv, rec.n_resv);
	for (i = 0; i < rec.n_buckets; i++) {
		ck_assert_int_eq(copy.buckets[i].start, rec.buckets[i].start);
		ck_assert_uint_eq(copy.buckets[i].count, rec.buckets[i].count);
	}
	for (i = 0; i < rec.n_resv; i++) {
		ck_assert_int_eq(copy.resv[i].expiry, rec.resv[i].expiry);
		ck_assert_uint_eq(copy.resv[i].count, rec.resv[i].count);
		ck_assert_uint_eq(copy.resv[i].id_len, rec.resv[i].id_len);
		ck_assert_mem_eq(copy.resv[i].id, rec.resv[i].id, rec.resv[i].id_len);
	}
	b = encode_alloc(&copy, &lb);
	ck_assert_uint_eq(lb, la);
	ck_assert_mem_eq(a, b, la);
	/* an empty record round-trips too */
	quota_record_reset(&copy);
	free(b);
	b = encode_alloc(&copy, &lb);
	ck_assert_uint_eq(lb, QUOTA_RECORD_HEADER_SIZE);
	ck_assert_int_eq(quota_record_decode(&copy, b, lb, &error), 0);
	ck_assert(quota_record_is_empty(&copy));
	quota_record_reset(&copy);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_decode_truncated)
{
	/* every proper prefix fails cleanly (read from an exact-size copy, so
	 * the sanitizers see any overread) */
	struct quota_record copy;
	const char *error;
	unsigned char *full, *part;
	size_t len, cut;

	sample(&rec);
	full = encode_alloc(&rec, &len);
	quota_record_init(&copy);
	for (cut = 0; cut < len; cut++) {
		part = malloc(cut > 0 ? cut : 1);
		memcpy(part, full, cut);
		error = NULL;
		ck_assert_msg(quota_record_decode(&copy, part, cut, &error) == -1,
			      "prefix of %zu/%zu bytes: got success, want failure", cut, len);
		ck_assert_ptr_nonnull(error);
		ck_assert(quota_record_is_empty(&copy));
		free(part);
	}
	/* and a trailing byte too */
	part = malloc(len + 1);
	memcpy(part, full, len);
	part[len] = 0;
	ck_assert_int_eq(quota_record_decode(&copy, part, len + 1, &error), -1);
	ck_assert_str_eq(error, "quota record has trailing bytes");
	free(part);
	quota_record_reset(&copy);
	free(full);
}
END_TEST

struct corrupt_row {
	const char *name;
	size_t offset;		/* byte to overwrite in the sample encoding */
	unsigned char value;
};

/* offsets in sample(): header 6, buckets at 6, 18, 30, first reservation at 42 */
static const struct corrupt_row corrupt_rows[] = {
	{ "magic", 0, 'X' },
	{ "version", 1, 2 },
	{ "bucket count too large", 2, 0xff },
	{ "bucket count one more", 3, 4 },
	{ "reservation count one less", 5, 2 },
	{ "reservation count too large", 4, 0x7f },
	{ "bucket count zero", 6 + 11, 0 },
	{ "buckets out of order", 18 + 7, 0 },
	{ "reservation id length 0", 42 + 12, 0 },
	{ "reservation id length 65", 42 + 12, STORE_RESID_MAX + 1 },
	{ "reservation id length too long for the data", 42 + 12, 63 },
};

START_TEST(test_decode_corrupt)
{
	const struct corrupt_row *row = &corrupt_rows[_i];
	struct quota_record copy;
	const char *error = NULL;
	unsigned char *buf;
	size_t len;

	sample(&rec);
	buf = encode_alloc(&rec, &len);
	/* the first bucket count is 3 (not 0); check the layout assumption */
	ck_assert_uint_eq(buf[6 + 11], 3);
	ck_assert_uint_eq(buf[42 + 12], STORE_RESID_MAX);
	ck_assert_uint_lt(row->offset, len);
	buf[row->offset] = row->value;
	quota_record_init(&copy);
	ck_assert_msg(quota_record_decode(&copy, buf, len, &error) == -1,
		      "%s: got success, want failure", row->name);
	ck_assert_ptr_nonnull(error);
	ck_assert(quota_record_is_empty(&copy));
	quota_record_reset(&copy);
	free(buf);
}
END_TEST

START_TEST(test_decode_random)
{
	/* random and mutated bytes: never a crash; what decodes re-encodes
	 * to the same bytes (the format is canonical) */
	struct quota_record copy;
	const char *error;
	unsigned char *buf, *out, *good;
	size_t len, goodlen, i, out_len;
	int round, ok = 0;

	sample(&rec);
	good = encode_alloc(&rec, &goodlen);
	quota_record_init(&copy);
	srandom(7);
	for (round = 0; round < 20000; round++) {
		if (round % 2 == 0) {
			len = (size_t)random() % 200;
			buf = malloc(len > 0 ? len : 1);
			for (i = 0; i < len; i++)
				buf[i] = (unsigned char)random();
			if (len >= 2) {
				buf[0] = 'Q';
				buf[1] = 1;
			}
		} else {
			len = goodlen;
			buf = malloc(len);
			memcpy(buf, good, len);
			for (i = 0; i < 3; i++)
				buf[(size_t)random() % len] = (unsigned char)random();
		}
		if (quota_record_decode(&copy, buf, len, &error) == 0) {
			ok++;
			out_len = quota_record_encoded_size(&copy);
			ck_assert_uint_eq(out_len, len);
			out = malloc(out_len);
			ck_assert_uint_eq(quota_record_encode(&copy, out, out_len), len);
			ck_assert_mem_eq(out, buf, len);
			free(out);
		} else {
			ck_assert(quota_record_is_empty(&copy));
		}
		free(buf);
	}
	ck_assert_int_gt(ok, 0);	/* some mutations (counts, times) stay valid */
	quota_record_reset(&copy);
	free(good);
}
END_TEST

/* quota_record_suite - all the cases */
static Suite *quota_record_suite(void)
{
	Suite *s = suite_create("quota_record");
	TCase *tc;

	tc = tcase_create("window");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_window, 0,
			    (int)(sizeof(window_rows) / sizeof(window_rows[0])));
	tcase_add_test(tc, test_window_negative_clock);
	tcase_add_loop_test(tc, test_bucket_cap, 0,
			    (int)(sizeof(cap_rows) / sizeof(cap_rows[0])));
	tcase_add_test(tc, test_bucket_cap_backwards_clock);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("reservations");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_refusal_changes_nothing);
	tcase_add_test(tc, test_reservation_cap);
	tcase_add_test(tc, test_saturation);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_decode_truncated);
	tcase_add_loop_test(tc, test_decode_corrupt, 0,
			    (int)(sizeof(corrupt_rows) / sizeof(corrupt_rows[0])));
	tcase_add_test(tc, test_decode_random);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(quota_record_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
