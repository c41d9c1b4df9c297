/*
 * check_greylist_record - the greylisting rule as a pure function: every
 * verdict of greylist_record_decide (new, early, pass, retry window
 * missed, whitelisted, lifetime renewal, clock going back) with what the
 * store must write, the tuple's expiry, and the hourly pass tally (live
 * window, sum, folding past GREYLIST_TALLY_MAX).  No store, no clock: the
 * engines' contract tests (tests/store_contract.c) check that both stores
 * apply this rule.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "check_main.h"
#include "store/greylist_record.h"

#define T 1700000000		/* "now" of the table */
#define MIN 60
#define RETRY 3600
#define LIFE (36 * 86400)

static const struct greylist_params P = {
	.min_delay = MIN, .retry_window = RETRY, .lifetime = LIFE, .whitelist_threshold = 10,
};

static const struct greylist_params NO_WHITELIST = {
	.min_delay = MIN, .retry_window = RETRY, .lifetime = LIFE, .whitelist_threshold = 0,
};

static const struct greylist_params NO_DELAY = {
	.min_delay = 0, .retry_window = RETRY, .lifetime = LIFE, .whitelist_threshold = 10,
};

static const struct {
	const char *name;
	const struct greylist_params *params;
	uint32_t tally;
	bool present;			/* a live record before the check */
	int64_t first, last_pass;	/* the record, when present */
	enum greylist_verdict want;
	int64_t want_first, want_last;	/* the record to write (unchanged when early) */
} decide[] = {
	{ "new tuple", &P, 0, false, 0, -1, GREYLIST_DEFER_NEW, T, -1 },
	{ "new tuple, client with passes under threshold", &P, 9, false, 0, -1,
	  GREYLIST_DEFER_NEW, T, -1 },
	{ "early retry", &P, 0, true, T - 30, -1, GREYLIST_DEFER_EARLY, T - 30, -1 },
	{ "early by one second", &P, 0, true, T - MIN + 1, -1, GREYLIST_DEFER_EARLY,
	  T - MIN + 1, -1 },
	{ "retry at min_delay passes", &P, 0, true, T - MIN, -1, GREYLIST_PASS, T - MIN, T },
	{ "retry inside the window passes", &P, 0, true, T - 600, -1, GREYLIST_PASS, T - 600,
	  T },
	{ "retry at the window's last second passes", &P, 0, true, T - RETRY, -1,
	  GREYLIST_PASS, T - RETRY, T },
	{ "retry window missed: starts again", &P, 0, true, T - RETRY - 1, -1,
	  GREYLIST_DEFER_NEW, T, -1 },
	{ "remembered pass renews its lifetime", &P, 0, true, T - 100000, T - 5000,
	  GREYLIST_PASS, T - 100000, T },
	{ "remembered pass at the lifetime's last second", &P, 0, true, T - LIFE - 100,
	  T - LIFE, GREYLIST_PASS, T - LIFE - 100, T },
	{ "lifetime over, window long gone: starts again", &P, 0, true, T - LIFE - 100,
	  T - LIFE - 1, GREYLIST_DEFER_NEW, T, -1 },
	{ "lifetime over but still early: the clock keeps running", &P, 0, true, T - 10,
	  T - LIFE - 1, GREYLIST_DEFER_EARLY, T - 10, T - LIFE - 1 },
	{ "whitelisted client, new tuple", &P, 10, false, 0, -1, GREYLIST_PASS_WHITELISTED, T,
	  T },
	{ "whitelisted client, early retry", &P, 25, true, T - 10, -1,
	  GREYLIST_PASS_WHITELISTED, T - 10, T },
	{ "whitelisted client, window missed", &P, 10, true, T - RETRY - 100, -1,
	  GREYLIST_PASS_WHITELISTED, T - RETRY - 100, T },
	{ "threshold 0 turns the whitelist off", &NO_WHITELIST, 1000000, false, 0, -1,
	  GREYLIST_DEFER_NEW, T, -1 },
	{ "min_delay 0: an immediate retry passes", &NO_DELAY, 0, true, T, -1, GREYLIST_PASS, T,
	  T },
	{ "clock went back: a pass is not shortened", &P, 0, true, T - 1000, T + 50,
	  GREYLIST_PASS, T - 1000, T + 50 },
	{ "clock went back before first: early", &P, 0, true, T + 30, -1, GREYLIST_DEFER_EARLY,
	  T + 30, -1 },
};

/* greylist_record_decide: verdict and the record to write */
START_TEST(test_decide)
{
	struct greylist_record_tuple t = { decide[_i].first, decide[_i].last_pass };
	bool present = decide[_i].present;
	enum greylist_verdict v;

	v = greylist_record_decide(decide[_i].params, decide[_i].tally, T, &present, &t);
	ck_assert_msg(v == decide[_i].want, "%s: verdict got %s, want %s", decide[_i].name,
		      greylist_verdict_name(v), greylist_verdict_name(decide[_i].want));
	if (v == GREYLIST_DEFER_EARLY)
		ck_assert_msg(present == decide[_i].present, "%s: early changed present",
			      decide[_i].name);
	else
		ck_assert_msg(present, "%s: present got false, want true", decide[_i].name);
	ck_assert_msg(t.first == decide[_i].want_first, "%s: first got T%+lld, want T%+lld",
		      decide[_i].name, (long long)(t.first - T),
		      (long long)(decide[_i].want_first - T));
	ck_assert_msg(t.last_pass == decide[_i].want_last,
		      "%s: last_pass got %lld, want %lld", decide[_i].name,
		      (long long)t.last_pass, (long long)decide[_i].want_last);
}
END_TEST

/* a tuple's record lives until the rule would restart it anyway */
START_TEST(test_tuple_expiry)
{
	struct greylist_record_tuple never = { T, -1 }, passed = { T, T + 100 };
	struct greylist_params long_delay = P;

	/* never passed: until the retry window ends */
	ck_assert_int_eq(greylist_record_tuple_expiry(&P, &never), T + RETRY + 1);
	/* passed: until the pass is forgotten */
	ck_assert_int_eq(greylist_record_tuple_expiry(&P, &passed), T + 100 + LIFE + 1);
	/* a min_delay past the window still keeps the record to the end of the delay */
	long_delay.min_delay = RETRY + 500;
	ck_assert_int_eq(greylist_record_tuple_expiry(&long_delay, &never), T + RETRY + 501);
	/* a short lifetime never cuts the retry window */
	long_delay = P;
	long_delay.lifetime = 10;
	ck_assert_int_eq(greylist_record_tuple_expiry(&long_delay, &passed), T + RETRY + 1);
}
END_TEST

/* a counter counts from its hour until its end + the window */
START_TEST(test_tally_live)
{
	int64_t h = T / GREYLIST_TALLY_HOUR;
	int64_t end = (h + 1) * GREYLIST_TALLY_HOUR + GREYLIST_TALLY_WINDOW;

	ck_assert(greylist_record_tally_live(h, h * GREYLIST_TALLY_HOUR));
	ck_assert(greylist_record_tally_live(h, end - 1));
	ck_assert(!greylist_record_tally_live(h, end));
}
END_TEST

/* passes add up per hour; dead counters neither count nor stay */
START_TEST(test_tally_add_sum)
{
	struct greylist_record_tally c;
	int64_t t0 = (T / GREYLIST_TALLY_HOUR) * GREYLIST_TALLY_HOUR;

	memset(&c, 0, sizeof(c));
	ck_assert_uint_eq(greylist_record_tally_sum(&c, t0), 0);
	greylist_record_tally_add(&c, t0);
	greylist_record_tally_add(&c, t0 + 10);
	greylist_record_tally_add(&c, t0 + GREYLIST_TALLY_HOUR);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_uint_eq(c.count[0], 2);
	ck_assert_uint_eq(greylist_record_tally_sum(&c, t0 + GREYLIST_TALLY_HOUR), 3);
	ck_assert_int_eq(greylist_record_tally_expiry(&c),
			 t0 + 2 * GREYLIST_TALLY_HOUR + GREYLIST_TALLY_WINDOW);
	/* the first hour dies at its end + the window, the second an hour later */
	ck_assert_uint_eq(greylist_record_tally_sum(&c, t0 + GREYLIST_TALLY_HOUR +
							    GREYLIST_TALLY_WINDOW), 1);
	greylist_record_tally_add(&c, t0 + GREYLIST_TALLY_HOUR + GREYLIST_TALLY_WINDOW);
	ck_assert_uint_eq(c.n, 2);	/* the dead one dropped, a new hour added */
	ck_assert_uint_eq(greylist_record_tally_sum(&c, t0 + GREYLIST_TALLY_HOUR +
							    GREYLIST_TALLY_WINDOW), 2);
}
END_TEST

/* a clock going back keeps more hours live: past GREYLIST_TALLY_MAX the oldest folds */
START_TEST(test_tally_fold)
{
	struct greylist_record_tally c;
	int64_t h0 = T / GREYLIST_TALLY_HOUR;
	const int hours = GREYLIST_TALLY_MAX + 5;
	int i;

	memset(&c, 0, sizeof(c));
	for (i = hours - 1; i >= 0; i--)	/* one pass an hour, newest first */
		greylist_record_tally_add(&c, (h0 + i) * GREYLIST_TALLY_HOUR);
	ck_assert_uint_eq(c.n, GREYLIST_TALLY_MAX);
	/* never under-counted: the folded passes moved to the next newer hour */
	ck_assert_uint_eq(greylist_record_tally_sum(&c, h0 * GREYLIST_TALLY_HOUR), hours);
	ck_assert_int_eq(c.hour[0], h0 + 5);
	ck_assert_uint_eq(c.count[0], 6);
	for (i = 1; i < (int)c.n; i++) {
		ck_assert_int_eq(c.hour[i], c.hour[i - 1] + 1);
		ck_assert_uint_eq(c.count[i], 1);
	}
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("greylist_record");
	TCase *tc;

	tc = tcase_create("decide");
	tcase_add_loop_test(tc, test_decide, 0, sizeof(decide) / sizeof(decide[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("tuple");
	tcase_add_test(tc, test_tuple_expiry);
	suite_add_tcase(s, tc);

	tc = tcase_create("tally");
	tcase_add_test(tc, test_tally_live);
	tcase_add_test(tc, test_tally_add_sum);
	tcase_add_test(tc, test_tally_fold);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
