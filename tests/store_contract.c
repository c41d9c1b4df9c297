/*
 * NAME
 *	store_contract - Check cases every store engine must pass
 * DESCRIPTION
 *	Written against store.h only.  Times are injected (now), parameters
 *	are chosen per case; a "big" parameter set with a huge limit is used
 *	to put a user into a known state (committed usage, open reservations)
 *	before the case's own parameters are applied.  Threads never call
 *	ck_assert: they record what they saw and the main thread asserts.
 *	Locks: set/get/clear/list, strikes reaching `after` lock once (16
 *	racing threads: exactly one caller is told it locked), strikes leave
 *	the window, binary user names, events capped and newest first.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store/greylist_record.h"
#include "store/store.h"
#include "store_contract.h"

#define BASE 1700000040		/* a multiple of 60: a bucket start */
#define RES 60
#define INTERVAL 3600
#define TTL 300

static const struct store_contract_backend *backend;
static struct store *st;

static const struct store_quota_params big = { 1000000, 0, INTERVAL, RES, TTL };

/* setup - a fresh, empty store for each case */
static void setup(void)
{
	st = backend->open(backend->ctx);
	ck_assert_msg(st != NULL, "%s: open returned NULL", backend->name);
}

/* teardown - dispose of the case's store */
static void teardown(void)
{
	backend->close(&st, backend->ctx);
}

/* params - a parameter set with the usual window */
static struct store_quota_params params(uint32_t limit, uint32_t margin)
{
	struct store_quota_params p = { limit, margin, INTERVAL, RES, TTL };

	return p;
}

/* status_name - a status for messages */
static const char *status_name(int status)
{
	switch (status) {
	case STORE_OK:
		return "STORE_OK";
	case STORE_REFUSED:
		return "STORE_REFUSED";
	case STORE_MISS:
		return "STORE_MISS";
	case STORE_ERROR:
		return "STORE_ERROR";
	}
	return "?";
}

/* the CHECK_ macros evaluate `got` once: a failure message must not call again */
#define CHECK_STATUS(got, want, what)                                                      \
	do {                                                                               \
		int got_ = (got);                                                          \
		ck_assert_msg(got_ == (want), "%s: got %s, want %s", (what),               \
			      status_name(got_), status_name(want));                       \
	} while (0)

#define CHECK_STATE(s, c, r, o, what)                                                      \
	ck_assert_msg((s).committed == (c) && (s).reserved == (r) && (s).own == (o),      \
		      "%s: got committed=%u reserved=%u own=%u, want %u/%u/%u", (what),   \
		      (s).committed, (s).reserved, (s).own, (unsigned)(c), (unsigned)(r), \
		      (unsigned)(o))

/* reserve - store_quota_reserve for a NUL-terminated user; errors fail */
static int reserve(const char *user, const char *resid, uint32_t n,
		   const struct store_quota_params *p, int64_t now, struct store_quota_state *state)
{
	const char *error = NULL;
	int ret;

	ret = store_quota_reserve(st, user, strlen(user), resid, n, p, now, state, &error);
	ck_assert_msg(ret != STORE_ERROR, "reserve %s/%s: %s", user, resid, error);
	return ret;
}

/* commit - store_quota_commit, which must succeed */
static void commit(const char *user, const char *resid, const struct store_quota_params *p,
		   int64_t now)
{
	const char *error = NULL;
	int ret;

	ret = store_quota_commit(st, user, strlen(user), resid, p, now, &error);
	ck_assert_msg(ret == STORE_OK, "commit %s/%s: got %s (%s), want STORE_OK", user, resid,
		      status_name(ret), error);
}

/* release - store_quota_release, which must succeed */
static void release(const char *user, const char *resid, int64_t now)
{
	const char *error = NULL;
	int ret;

	ret = store_quota_release(st, user, strlen(user), resid, now, &error);
	ck_assert_msg(ret == STORE_OK, "release %s/%s: got %s (%s), want STORE_OK", user,
		      resid, status_name(ret), error);
}

/* usage_n - store_quota_usage with an explicit name length */
static struct store_quota_state usage_n(const char *user, size_t len,
					const struct store_quota_params *p, int64_t now)
{
	struct store_quota_state s;
	const char *error = NULL;
	int ret;

	memset(&s, 0xff, sizeof(s));
	ret = store_quota_usage(st, user, len, p, now, &s, &error);
	ck_assert_msg(ret == STORE_OK, "usage: got %s (%s), want STORE_OK", status_name(ret),
		      error);
	ck_assert_msg(s.own == 0, "usage: got own=%u, want 0", s.own);
	return s;
}

/* usage - store_quota_usage for a NUL-terminated user */
static struct store_quota_state usage(const char *user, const struct store_quota_params *p,
				      int64_t now)
{
	return usage_n(user, strlen(user), p, now);
}

/* use - commit n units for user at now (through a reservation, big limits) */
static void use(const char *user, uint32_t n, int64_t now)
{
	CHECK_STATUS(reserve(user, "use", n, &big, now, NULL), STORE_OK, "use: reserve");
	commit(user, "use", &big, now);
}

START_TEST(test_reserve_under_limit)
{
	struct store_quota_params p = params(3, 0);
	struct store_quota_state s;

	CHECK_STATUS(reserve("u", "r1", 1, &p, BASE, &s), STORE_OK, "first");
	CHECK_STATE(s, 0, 1, 1, "first");
	CHECK_STATUS(reserve("u", "r2", 1, &p, BASE, &s), STORE_OK, "second message");
	CHECK_STATE(s, 0, 2, 1, "second message");
	CHECK_STATUS(reserve("u", "r1", 1, &p, BASE, &s), STORE_OK, "first grows");
	CHECK_STATE(s, 0, 3, 2, "first grows");
	s = usage("u", &p, BASE);
	CHECK_STATE(s, 0, 3, 0, "usage");
	/* state may be NULL */
	CHECK_STATUS(store_quota_reserve(st, "v", 1, "r", 1, &p, BASE, NULL, NULL), STORE_OK,
		     "NULL state");
}
END_TEST

START_TEST(test_refuse_at_limit)
{
	struct store_quota_params p = params(2, 0), zero = params(0, 5);
	struct store_quota_state s;

	use("u", 2, BASE);
	CHECK_STATUS(reserve("u", "r3", 1, &p, BASE + 1, &s), STORE_REFUSED,
		     "committed at limit");
	CHECK_STATE(s, 2, 0, 0, "committed at limit");
	s = usage("u", &p, BASE + 1);
	CHECK_STATE(s, 2, 0, 0, "refusal changed nothing");

	CHECK_STATUS(reserve("w", "r1", 1, &p, BASE, NULL), STORE_OK, "w r1");
	CHECK_STATUS(reserve("w", "r2", 1, &p, BASE, NULL), STORE_OK, "w r2");
	CHECK_STATUS(reserve("w", "r3", 1, &p, BASE, &s), STORE_REFUSED, "reservations at limit");
	CHECK_STATE(s, 0, 2, 0, "reservations at limit");
	CHECK_STATUS(reserve("w", "r1", 1, &p, BASE, &s), STORE_REFUSED, "own at limit");
	CHECK_STATE(s, 0, 2, 1, "own at limit");

	CHECK_STATUS(reserve("z", "r1", 1, &zero, BASE, &s), STORE_REFUSED, "limit 0");
	CHECK_STATE(s, 0, 0, 0, "limit 0");
}
END_TEST

struct margin_row {
	const char *name;
	uint32_t limit, margin;
	uint32_t committed;	/* usage before */
	uint32_t other;		/* another open reservation */
	uint32_t own;		/* this reservation before */
	uint32_t n;
	int want;
	uint32_t want_own;
};

static const struct margin_row margin_rows[] = {
	{ "under, ends within margin", 10, 3, 9, 0, 0, 4, STORE_OK, 4 },
	{ "under, ends past margin", 10, 3, 9, 0, 0, 5, STORE_REFUSED, 0 },
	{ "ends exactly at limit", 10, 0, 9, 0, 0, 1, STORE_OK, 1 },
	{ "at limit", 10, 3, 10, 0, 0, 1, STORE_REFUSED, 0 },
	{ "over limit", 10, 3, 12, 0, 0, 1, STORE_REFUSED, 0 },
	{ "other reservation reaches limit", 10, 3, 6, 4, 0, 1, STORE_REFUSED, 0 },
	{ "second message after first crossed", 10, 3, 9, 4, 0, 1, STORE_REFUSED, 0 },
	{ "own grows within margin", 10, 3, 9, 0, 3, 1, STORE_OK, 4 },
	{ "own grows past margin", 10, 3, 9, 0, 4, 1, STORE_REFUSED, 4 },
	{ "own is not others", 10, 0, 5, 0, 5, 1, STORE_REFUSED, 5 },
	{ "own is not others, margin 1", 10, 1, 5, 0, 5, 1, STORE_OK, 6 },
	{ "big first message within margin", 10, 3, 0, 0, 0, 13, STORE_OK, 13 },
	{ "big first message past margin", 10, 3, 0, 0, 0, 14, STORE_REFUSED, 0 },
};

START_TEST(test_margin)
{
	const struct margin_row *row = &margin_rows[_i];
	struct store_quota_params p = params(row->limit, row->margin);
	struct store_quota_state s;
	int ret;

	if (row->committed > 0)
		use("u", row->committed, BASE);
	if (row->other > 0)
		CHECK_STATUS(reserve("u", "other", row->other, &big, BASE, NULL), STORE_OK,
			     row->name);
	if (row->own > 0)
		CHECK_STATUS(reserve("u", "own", row->own, &big, BASE, NULL), STORE_OK,
			     row->name);
	ret = reserve("u", "own", row->n, &p, BASE + 1, &s);
	CHECK_STATUS(ret, row->want, row->name);
	CHECK_STATE(s, row->committed, row->other + row->want_own, row->want_own, row->name);
}
END_TEST

START_TEST(test_margin_story)
{
	struct store_quota_params p = params(10, 3);
	struct store_quota_state s;
	uint32_t i;

	use("u", 9, BASE);
	/* message A starts under quota and adds one recipient at a time */
	for (i = 1; i <= 4; i++) {
		CHECK_STATUS(reserve("u", "A", 1, &p, BASE + i, &s), STORE_OK, "A within margin");
		CHECK_STATE(s, 9, i, i, "A within margin");
	}
	CHECK_STATUS(reserve("u", "A", 1, &p, BASE + 5, &s), STORE_REFUSED, "A past margin");
	CHECK_STATE(s, 9, 4, 4, "A past margin");
	/* message B, concurrent, finds the user over the limit */
	CHECK_STATUS(reserve("u", "B", 1, &p, BASE + 6, &s), STORE_REFUSED, "B");
	CHECK_STATE(s, 9, 4, 0, "B");
	commit("u", "A", &p, BASE + 7);
	s = usage("u", &p, BASE + 7);
	CHECK_STATE(s, 13, 0, 0, "after A");
	CHECK_STATUS(reserve("u", "B", 1, &p, BASE + 8, &s), STORE_REFUSED, "B after A");
}
END_TEST

START_TEST(test_commit)
{
	struct store_quota_params p = params(10, 0);
	struct store_quota_state s;
	int64_t now = BASE + 90;	/* in the bucket starting at BASE + 60 */

	CHECK_STATUS(reserve("u", "r1", 3, &p, now, NULL), STORE_OK, "reserve");
	commit("u", "r1", &p, now + 5);
	s = usage("u", &p, now + 5);
	CHECK_STATE(s, 3, 0, 0, "after commit");
	ck_assert_msg(s.last_send == BASE + 60, "last_send: got %lld, want %lld",
		      (long long)s.last_send, (long long)(BASE + 60));
	commit("u", "r1", &p, now + 6);	/* again: nothing left to commit */
	commit("u", "nosuch", &p, now + 6);
	commit("nobody", "r1", &p, now + 6);
	s = usage("u", &p, now + 6);
	CHECK_STATE(s, 3, 0, 0, "second commit");
	s = usage("nobody", &p, now + 6);
	CHECK_STATE(s, 0, 0, 0, "commit for unknown user");
	/* a committed message still counts against the limit */
	CHECK_STATUS(reserve("u", "r2", 7, &p, now + 7, NULL), STORE_OK, "up to limit");
	CHECK_STATUS(reserve("u", "r3", 1, &p, now + 7, NULL), STORE_REFUSED, "past limit");
}
END_TEST

START_TEST(test_release)
{
	struct store_quota_params p = params(3, 0);
	struct store_quota_state s;

	CHECK_STATUS(reserve("u", "r1", 3, &p, BASE, NULL), STORE_OK, "r1");
	CHECK_STATUS(reserve("u", "r2", 1, &p, BASE, NULL), STORE_REFUSED, "r2 while r1 open");
	release("u", "r1", BASE + 1);
	s = usage("u", &p, BASE + 1);
	CHECK_STATE(s, 0, 0, 0, "after release");
	commit("u", "r1", &p, BASE + 2);
	s = usage("u", &p, BASE + 2);
	CHECK_STATE(s, 0, 0, 0, "commit after release");
	CHECK_STATUS(reserve("u", "r2", 3, &p, BASE + 3, &s), STORE_OK, "r2 after release");
	CHECK_STATE(s, 0, 3, 3, "r2 after release");
	release("u", "nosuch", BASE + 3);
	release("nobody", "r1", BASE + 3);
}
END_TEST

START_TEST(test_reservation_expiry)
{
	struct store_quota_params p = params(2, 0);
	struct store_quota_state s;

	CHECK_STATUS(reserve("u", "r1", 2, &p, BASE, NULL), STORE_OK, "r1");
	s = usage("u", &p, BASE + TTL - 1);
	CHECK_STATE(s, 0, 2, 0, "just before expiry");
	CHECK_STATUS(reserve("u", "r2", 1, &p, BASE + TTL - 1, NULL), STORE_REFUSED,
		     "r2 before expiry");
	s = usage("u", &p, BASE + TTL);
	CHECK_STATE(s, 0, 0, 0, "at expiry");
	commit("u", "r1", &p, BASE + TTL);
	s = usage("u", &p, BASE + TTL);
	CHECK_STATE(s, 0, 0, 0, "expired reservation committed nothing");
	CHECK_STATUS(reserve("u", "r2", 2, &p, BASE + TTL, &s), STORE_OK, "r2 after expiry");
	CHECK_STATE(s, 0, 2, 2, "r2 after expiry");

	/* a granted reserve re-arms the reservation's expiry */
	CHECK_STATUS(reserve("w", "r", 1, &big, BASE, NULL), STORE_OK, "w first");
	CHECK_STATUS(reserve("w", "r", 1, &big, BASE + 200, NULL), STORE_OK, "w second");
	s = usage("w", &big, BASE + 200 + TTL - 1);
	CHECK_STATE(s, 0, 2, 0, "re-armed");
	s = usage("w", &big, BASE + 200 + TTL);
	CHECK_STATE(s, 0, 0, 0, "re-armed, expired");
	/* an expired reservation starts again from zero */
	CHECK_STATUS(reserve("w", "r", 1, &big, BASE + 200 + TTL, &s), STORE_OK, "w again");
	CHECK_STATE(s, 0, 1, 1, "w again");
}
END_TEST

struct window_row {
	const char *name;
	int64_t at;	/* commit time, offset from BASE (a bucket start) */
	int64_t look;	/* usage time, offset from BASE */
	uint32_t want;
};

static const struct window_row window_rows[] = {
	{ "same instant", 0, 0, 1 },
	{ "bucket start, interval later", 0, INTERVAL, 1 },
	{ "bucket start, last counted second", 0, RES + INTERVAL - 1, 1 },
	{ "bucket start, interval + resolution later", 0, RES + INTERVAL, 0 },
	{ "bucket end, interval later", RES - 1, RES - 1 + INTERVAL, 1 },
	{ "bucket end, last counted second", RES - 1, RES + INTERVAL - 1, 1 },
	{ "bucket end, one bucket later", RES - 1, RES + INTERVAL, 0 },
	{ "mid bucket, interval later", 30, 30 + INTERVAL, 1 },
	{ "mid bucket, interval + resolution later", 30, 30 + INTERVAL + RES, 0 },
	{ "next bucket lives one bucket longer", RES, 2 * RES + INTERVAL - 1, 1 },
	{ "next bucket, gone", RES, 2 * RES + INTERVAL, 0 },
	{ "long ago", 0, 10 * INTERVAL, 0 },
};

START_TEST(test_window_edges)
{
	const struct window_row *row = &window_rows[_i];
	struct store_quota_params p = params(100, 0);
	struct store_quota_state s;

	use("u", 1, BASE + row->at);
	s = usage("u", &p, BASE + row->look);
	ck_assert_msg(s.committed == row->want, "%s: got committed=%u, want %u", row->name,
		      s.committed, row->want);
}
END_TEST

START_TEST(test_window_sliding)
{
	struct store_quota_params p = params(5, 0);
	struct store_quota_state s;

	use("u", 1, BASE + 10);		/* bucket BASE */
	use("u", 2, BASE + 70);		/* bucket BASE + 60 */
	use("u", 2, BASE + 1800);	/* bucket BASE + 1800 */
	s = usage("u", &p, BASE + 1800);
	CHECK_STATE(s, 5, 0, 0, "all three");
	ck_assert_msg(s.last_send == BASE + 1800, "last_send: got %lld, want %lld",
		      (long long)s.last_send, (long long)(BASE + 1800));
	CHECK_STATUS(reserve("u", "r", 1, &p, BASE + 1800, NULL), STORE_REFUSED, "full window");
	s = usage("u", &p, BASE + RES + INTERVAL);
	CHECK_STATE(s, 4, 0, 0, "first bucket gone");
	CHECK_STATUS(reserve("u", "r", 1, &p, BASE + RES + INTERVAL, NULL), STORE_OK,
		     "room again");
	commit("u", "r", &p, BASE + RES + INTERVAL);
	s = usage("u", &p, BASE + 2 * RES + INTERVAL);
	CHECK_STATE(s, 3, 0, 0, "second bucket gone");
	s = usage("u", &p, BASE + 1800 + RES + INTERVAL);
	CHECK_STATE(s, 1, 0, 0, "third bucket gone");
	ck_assert_msg(s.last_send == BASE + RES + INTERVAL, "last_send: got %lld, want %lld",
		      (long long)s.last_send, (long long)(BASE + RES + INTERVAL));
	s = usage("u", &p, BASE + 2 * (RES + INTERVAL));
	CHECK_STATE(s, 0, 0, 0, "all gone");
	ck_assert_msg(s.last_send == 0, "last_send: got %lld, want 0", (long long)s.last_send);
}
END_TEST

START_TEST(test_many_buckets)
{
	/* one message a minute for three hours: usage is one hour's worth */
	struct store_quota_params p = params(1000, 0);
	struct store_quota_state s;
	int i;

	for (i = 0; i < 180; i++)
		use("u", 1, BASE + (int64_t)i * RES + 5);
	s = usage("u", &p, BASE + 179 * RES + 5);
	/* buckets live while now < start + RES + INTERVAL: 61 of them */
	CHECK_STATE(s, INTERVAL / RES + 1, 0, 0, "sliding one-hour window");
}
END_TEST

START_TEST(test_reset)
{
	struct store_quota_params p = params(3, 0);
	struct store_quota_state s;
	const char *error = NULL;
	uint32_t dropped = 99;

	use("u", 3, BASE);
	CHECK_STATUS(reserve("u", "open", 1, &big, BASE, NULL), STORE_OK, "open reservation");
	CHECK_STATUS(reserve("u", "r", 1, &p, BASE, NULL), STORE_REFUSED, "before reset");
	CHECK_STATUS(store_quota_reset(st, "u", 1, &dropped, &error), STORE_OK, "reset");
	ck_assert_msg(dropped == 3, "dropped: got %u, want 3", dropped);
	s = usage("u", &p, BASE);
	CHECK_STATE(s, 0, 0, 0, "after reset");
	ck_assert_msg(s.last_send == 0, "last_send: got %lld, want 0", (long long)s.last_send);
	CHECK_STATUS(reserve("u", "r", 3, &p, BASE, NULL), STORE_OK, "after reset");
	dropped = 99;
	CHECK_STATUS(store_quota_reset(st, "nobody", 6, &dropped, &error), STORE_OK,
		     "reset unknown");
	ck_assert_msg(dropped == 0, "dropped: got %u, want 0", dropped);
	CHECK_STATUS(store_quota_reset(st, "u", 1, NULL, NULL), STORE_OK, "NULL dropped_r");
}
END_TEST

START_TEST(test_usage_unknown)
{
	struct store_quota_params p = params(3, 0);
	struct store_quota_state s = usage("nobody@example.org", &p, BASE);

	CHECK_STATE(s, 0, 0, 0, "unknown user");
	ck_assert_msg(s.last_send == 0, "last_send: got %lld, want 0", (long long)s.last_send);
}
END_TEST

struct name_row {
	const char *name;
	size_t len;
};

#define NAME(s) { s, sizeof(s) - 1 }
static const struct name_row names[] = {
	NAME("a"), NAME("a:b"), NAME("a:b:c"), NAME("b"), NAME("a:"), NAME(":a"),
	NAME("a b"), NAME("a\tb"), NAME("a\nb"), NAME("A"),
	NAME("j\xc3\xbcrgen@ex\xc3\xa4mple.org"), NAME("\xe7\x94\xa8\xe6\x88\xb7"),
	NAME("quota:a"), NAME("a:quota"), NAME("a\0b"), NAME("a\0"), NAME("\0a"),
	NAME("%s%n{}*?[]"), NAME("a/b\\c\"d'"),
};

START_TEST(test_user_names)
{
	struct store_quota_params p = params(1000, 0);
	struct store_quota_state s;
	const char *error = NULL;
	size_t i, n = sizeof(names) / sizeof(names[0]);
	char r[16];

	for (i = 0; i < n; i++) {
		snprintf(r, sizeof(r), "r%zu", i);
		CHECK_STATUS(store_quota_reserve(st, names[i].name, names[i].len, "same",
						 (uint32_t)(i + 1), &p, BASE, NULL, &error),
			     STORE_OK, "reserve");
		CHECK_STATUS(store_quota_commit(st, names[i].name, names[i].len, "same", &p,
						BASE, &error), STORE_OK, "commit");
		CHECK_STATUS(store_quota_reserve(st, names[i].name, names[i].len, r, 1, &p, BASE,
						 NULL, &error), STORE_OK, "open");
	}
	for (i = 0; i < n; i++) {
		s = usage_n(names[i].name, names[i].len, &p, BASE);
		ck_assert_msg(s.committed == i + 1 && s.reserved == 1,
			      "name #%zu: got committed=%u reserved=%u, want %zu/1", i,
			      s.committed, s.reserved, i + 1);
	}
	/* resetting one does not touch its prefix relatives */
	CHECK_STATUS(store_quota_reset(st, "a", 1, NULL, &error), STORE_OK, "reset a");
	s = usage("a:b", &p, BASE);
	CHECK_STATE(s, 2, 1, 0, "a:b after reset of a");
	s = usage_n("a\0b", 3, &p, BASE);
	ck_assert_msg(s.committed == 15, "a\\0b after reset of a: got %u, want 15",
		      s.committed);
}
END_TEST

START_TEST(test_arguments)
{
	struct store_quota_params p = params(10, 0), bad = params(10, 0);
	const char *error = NULL;
	char longid[STORE_RESID_MAX + 2];

	memset(longid, 'x', sizeof(longid));
	longid[STORE_RESID_MAX + 1] = '\0';
	CHECK_STATUS(store_quota_reserve(st, "u", 1, longid, 1, &p, BASE, NULL, &error),
		     STORE_ERROR, "65-byte id");
	ck_assert_ptr_nonnull(error);
	longid[STORE_RESID_MAX] = '\0';
	CHECK_STATUS(store_quota_reserve(st, "u", 1, longid, 1, &p, BASE, NULL, &error),
		     STORE_OK, "64-byte id");
	commit("u", longid, &p, BASE);
	CHECK_STATUS(store_quota_reserve(st, "u", 1, "", 1, &p, BASE, NULL, &error), STORE_ERROR,
		     "empty id");
	CHECK_STATUS(store_quota_reserve(st, "", 0, "r", 1, &p, BASE, NULL, &error), STORE_ERROR,
		     "empty user");
	CHECK_STATUS(store_quota_reserve(st, NULL, 1, "r", 1, &p, BASE, NULL, &error),
		     STORE_ERROR, "NULL user");
	bad.resolution = 0;
	CHECK_STATUS(store_quota_reserve(st, "u", 1, "r", 1, &bad, BASE, NULL, &error),
		     STORE_ERROR, "resolution 0");
	CHECK_STATUS(store_quota_usage(st, "u", 1, NULL, BASE, NULL, &error), STORE_ERROR,
		     "NULL params");
	CHECK_STATUS(store_cache_set(st, "", 0, "v", 1, 10, BASE, &error), STORE_ERROR,
		     "empty key");
	CHECK_STATUS(store_cache_set(st, "k", 1, "v", 1, 0, BASE, &error), STORE_ERROR, "ttl 0");
	CHECK_STATUS(store_quota_reserve(NULL, "u", 1, "r", 1, &p, BASE, NULL, &error),
		     STORE_ERROR, "NULL store");
	ck_assert_str_eq(store_backend_name(st), backend->name);
}
END_TEST

/* cache_get_str - get key into a NUL-terminated buffer */
static int cache_get_str(const void *key, size_t key_len, char *buf, size_t size, int64_t now)
{
	const char *error = NULL;
	size_t len = size - 1;
	int ret;

	ret = store_cache_get(st, key, key_len, buf, &len, now, &error);
	ck_assert_msg(ret != STORE_ERROR, "cache_get: %s", error);
	buf[ret == STORE_OK ? len : 0] = '\0';
	return ret;
}

START_TEST(test_cache)
{
	unsigned char key[128], key2[128], val[STORE_CACHE_VALUE_MAX + 1], out[300];
	size_t klen, klen2, len;
	const char *error = NULL;
	char buf[64];
	int i;

	klen = store_key(key, sizeof(key), "sda", "u@example.org", "example.org", NULL);
	ck_assert_uint_gt(klen, 0);
	CHECK_STATUS(cache_get_str(key, klen, buf, sizeof(buf), BASE), STORE_MISS, "absent");
	CHECK_STATUS(store_cache_set(st, key, klen, "yes", 3, 60, BASE, &error), STORE_OK, "set");
	CHECK_STATUS(cache_get_str(key, klen, buf, sizeof(buf), BASE), STORE_OK, "get");
	ck_assert_str_eq(buf, "yes");
	CHECK_STATUS(cache_get_str(key, klen, buf, sizeof(buf), BASE + 59), STORE_OK,
		     "last second");
	ck_assert_str_eq(buf, "yes");
	CHECK_STATUS(store_cache_set(st, key, klen, "no", 2, 60, BASE + 1, &error), STORE_OK,
		     "overwrite");
	CHECK_STATUS(cache_get_str(key, klen, buf, sizeof(buf), BASE + 2), STORE_OK, "get new");
	ck_assert_str_eq(buf, "no");
	CHECK_STATUS(cache_get_str(key, klen, buf, sizeof(buf), BASE + 61), STORE_MISS,
		     "expired");
	CHECK_STATUS(cache_get_str(key, klen, buf, sizeof(buf), BASE + 62), STORE_MISS,
		     "still expired");

	/* parts are length-prefixed: ("a", "b:c") and ("a:b", "c") differ */
	klen = store_key(key, sizeof(key), "t", "a", "b:c", NULL);
	klen2 = store_key(key2, sizeof(key2), "t", "a:b", "c", NULL);
	ck_assert_uint_gt(klen, 0);
	CHECK_STATUS(store_cache_set(st, key, klen, "1", 1, 60, BASE, &error), STORE_OK, "set 1");
	CHECK_STATUS(store_cache_set(st, key2, klen2, "2", 1, 60, BASE, &error), STORE_OK,
		     "set 2");
	CHECK_STATUS(cache_get_str(key, klen, buf, sizeof(buf), BASE), STORE_OK, "get 1");
	ck_assert_str_eq(buf, "1");
	CHECK_STATUS(cache_get_str(key2, klen2, buf, sizeof(buf), BASE), STORE_OK, "get 2");
	ck_assert_str_eq(buf, "2");
	CHECK_STATUS(store_cache_del(st, key, klen, &error), STORE_OK, "del");
	CHECK_STATUS(cache_get_str(key, klen, buf, sizeof(buf), BASE), STORE_MISS, "deleted");
	CHECK_STATUS(cache_get_str(key2, klen2, buf, sizeof(buf), BASE), STORE_OK, "other kept");
	CHECK_STATUS(store_cache_del(st, key, klen, &error), STORE_OK, "del absent");

	/* binary value of the maximum size; empty value */
	for (i = 0; i < STORE_CACHE_VALUE_MAX + 1; i++)
		val[i] = (unsigned char)(i * 7);
	CHECK_STATUS(store_cache_set(st, "bin\0k", 5, val, STORE_CACHE_VALUE_MAX, 60, BASE,
				     &error), STORE_OK, "max value");
	len = sizeof(out);
	CHECK_STATUS(store_cache_get(st, "bin\0k", 5, out, &len, BASE, &error), STORE_OK,
		     "get max value");
	ck_assert_uint_eq(len, STORE_CACHE_VALUE_MAX);
	ck_assert_mem_eq(out, val, STORE_CACHE_VALUE_MAX);
	len = 10;
	CHECK_STATUS(store_cache_get(st, "bin\0k", 5, out, &len, BASE, &error), STORE_ERROR,
		     "small buffer");
	CHECK_STATUS(store_cache_set(st, "bin\0k", 5, val, STORE_CACHE_VALUE_MAX + 1, 60, BASE,
				     &error), STORE_ERROR, "value too long");
	CHECK_STATUS(store_cache_set(st, "empty", 5, "", 0, 60, BASE, &error), STORE_OK,
		     "empty value");
	len = sizeof(out);
	CHECK_STATUS(store_cache_get(st, "empty", 5, out, &len, BASE, &error), STORE_OK,
		     "get empty value");
	ck_assert_uint_eq(len, 0);
	/* a cache key never reads a quota user's state, nor the reverse */
	CHECK_STATUS(cache_get_str("u", 1, buf, sizeof(buf), BASE), STORE_MISS, "no quota leak");
}
END_TEST

START_TEST(test_cache_many)
{
	/* many keys with mixed lifetimes: each reads back its own value while
	 * it lives (the engine's housekeeping must not lose a live one) */
	const char *error = NULL;
	char key[32], val[32], buf[64];
	int i, ret, want;
	uint32_t ttl;

	for (i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "v%d", i);
		ttl = 10 + (uint32_t)(i * 37) % 200;
		CHECK_STATUS(store_cache_set(st, key, strlen(key), val, strlen(val), ttl,
					     BASE + i, &error), STORE_OK, "set");
	}
	for (i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "v%d", i);
		ttl = 10 + (uint32_t)(i * 37) % 200;
		want = BASE + i + (int64_t)ttl > BASE + 499 ? STORE_OK : STORE_MISS;
		ret = cache_get_str(key, strlen(key), buf, sizeof(buf), BASE + 499);
		ck_assert_msg(ret == want, "%s: got %s, want %s", key, status_name(ret),
			      status_name(want));
		if (want == STORE_OK)
			ck_assert_str_eq(buf, val);
	}
}
END_TEST

START_TEST(test_store_key)
{
	static const unsigned char want[] = "tag\0\0\0\0\1a\0\0\0\2bc\0\0\0\0";
	unsigned char buf[64];
	size_t want_len = sizeof(want) - 1, size;

	ck_assert_uint_eq(store_key(buf, sizeof(buf), "tag", "a", "bc", "", NULL), want_len);
	ck_assert_mem_eq(buf, want, want_len);
	for (size = 0; size < want_len; size++)
		ck_assert_msg(store_key(buf, size, "tag", "a", "bc", "", NULL) == 0,
			      "buffer of %zu: got a key, want 0", size);
	ck_assert_uint_eq(store_key(buf, want_len, "tag", "a", "bc", "", NULL), want_len);
	ck_assert_uint_eq(store_key(buf, sizeof(buf), "t", NULL), 2);
	ck_assert_mem_eq(buf, "t", 2);
	ck_assert_uint_eq(store_key(NULL, 0, "t", NULL), 0);
}
END_TEST

#define THREADS 8
#define PER_THREAD 150
#define LIMIT 500

struct worker {
	pthread_t thread;
	int index;
	int commit;		/* commit each granted reservation */
	int granted, refused, errors;
	char error[256];	/* a copy: the engine's text lives in the thread */
};

/* worker_main - PER_THREAD reservations for one user, committing or not */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct store_quota_params p = params(LIMIT, 0);
	const char *error;
	char resid[32];
	int i, ret;

	for (i = 0; i < PER_THREAD; i++) {
		snprintf(resid, sizeof(resid), "t%d-%d", w->index, i);
		error = NULL;
		ret = store_quota_reserve(st, "shared", 6, resid, 1, &p, BASE, NULL, &error);
		if (ret == STORE_OK) {
			w->granted++;
			if (w->commit &&
			    store_quota_commit(st, "shared", 6, resid, &p, BASE, &error) !=
			    STORE_OK) {
				w->errors++;
				snprintf(w->error, sizeof(w->error), "%s", error ? error : "?");
			}
		} else if (ret == STORE_REFUSED) {
			w->refused++;
		} else {
			w->errors++;
			snprintf(w->error, sizeof(w->error), "%s", error ? error : "?");
		}
	}
	return NULL;
}

START_TEST(test_concurrency)
{
	struct store_quota_params p = params(LIMIT, 0);
	struct worker w[THREADS];
	struct store_quota_state s;
	int i, started, granted = 0, refused = 0;

	memset(w, 0, sizeof(w));
	for (started = 0; started < THREADS; started++) {
		w[started].index = started;
		w[started].commit = _i == 0;
		if (pthread_create(&w[started].thread, NULL, worker_main, &w[started]) != 0)
			break;
	}
	/* every thread is joined before anything is asserted: a failed
	 * assertion closes the store, which must not happen under a worker */
	for (i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	ck_assert_msg(started == THREADS, "pthread_create: started %d threads, want %d",
		      started, THREADS);
	for (i = 0; i < THREADS; i++) {
		ck_assert_msg(w[i].errors == 0, "thread %d: %d errors, last: %s", i, w[i].errors,
			      w[i].error);
		granted += w[i].granted;
		refused += w[i].refused;
	}
	ck_assert_msg(granted == LIMIT, "granted: got %d, want %d", granted, LIMIT);
	ck_assert_msg(refused == THREADS * PER_THREAD - LIMIT, "refused: got %d, want %d",
		      refused, THREADS * PER_THREAD - LIMIT);
	s = usage("shared", &p, BASE);
	if (_i == 0)
		CHECK_STATE(s, LIMIT, 0, 0, "all committed");
	else
		CHECK_STATE(s, 0, LIMIT, 0, "all reserved");
}
END_TEST

/* ---- greylisting ------------------------------------------------------- */

#define GBASE 1700002800	/* a multiple of 3600: an hour start */
#define MIND 300
#define WIN 14400
#define LIFE 259200
#define GHOUR 3600
#define GDAY 86400

static const struct greylist_params gp = { MIND, WIN, LIFE, 0, false };

/* verdict_name - a verdict for messages */
static const char *verdict_name(int v)
{
	return v < 0 ? "error" : greylist_verdict_name((enum greylist_verdict)v);
}

/* gcheck_n - store_greylist_check on explicit keys; errors fail */
static int gcheck_n(const void *tuple, size_t tuple_len, const void *client, size_t client_len,
		    const struct greylist_params *p, int64_t now)
{
	const char *error = NULL;
	int verdict = -1, ret;

	ret = store_greylist_check(st, tuple, tuple_len, client, client_len, p, now, &verdict,
				   &error);
	ck_assert_msg(ret == STORE_OK, "greylist check at %lld: got %s (%s), want STORE_OK",
		      (long long)now, status_name(ret), error);
	return verdict;
}

/* gcheck - a check of tuple (client, sender, rcpt) as policy.c keys it */
static int gcheck(const char *client, const char *sender, const char *rcpt,
		  const struct greylist_params *p, int64_t now)
{
	unsigned char tuple[512], ckey[128];
	size_t tlen, clen;

	tlen = store_key(tuple, sizeof(tuple), "grey", client, sender, rcpt, (char *)NULL);
	clen = store_key(ckey, sizeof(ckey), "greyc", client, (char *)NULL);
	ck_assert(tlen > 0 && clen > 0);
	return gcheck_n(tuple, tlen, ckey, clen, p, now);
}

/* tally_n - store_greylist_tally on an explicit client key; errors fail */
static uint32_t tally_n(const void *client, size_t client_len, int64_t now)
{
	const char *error = NULL;
	uint32_t count = 12345;
	int ret;

	ret = store_greylist_tally(st, client, client_len, now, &count, &error);
	ck_assert_msg(ret == STORE_OK, "tally: got %s (%s), want STORE_OK", status_name(ret),
		      error);
	return count;
}

/* tally - the tally of client keyed as policy.c keys it */
static uint32_t tally(const char *client, int64_t now)
{
	unsigned char ckey[128];
	size_t clen = store_key(ckey, sizeof(ckey), "greyc", client, (char *)NULL);

	return tally_n(ckey, clen, now);
}

/* tally_clear - forget client's tally; must succeed */
static void tally_clear(const char *client)
{
	unsigned char ckey[128];
	size_t clen = store_key(ckey, sizeof(ckey), "greyc", client, (char *)NULL);
	const char *error = NULL;
	int ret;

	ret = store_greylist_tally_clear(st, ckey, clen, &error);
	ck_assert_msg(ret == STORE_OK, "tally clear: got %s (%s), want STORE_OK",
		      status_name(ret), error);
}

#define CHECK_VERDICT(got, want, what)                                                     \
	do {                                                                               \
		int got_ = (got);                                                          \
		ck_assert_msg(got_ == (want), "%s: got %s, want %s", (what),               \
			      verdict_name(got_), verdict_name(want));                     \
	} while (0)

#define CHECK_TALLY(got, want, what)                                                       \
	do {                                                                               \
		uint32_t got_ = (got);                                                     \
		ck_assert_msg(got_ == (want), "%s: got tally %u, want %u", (what),         \
			      (unsigned)got_, (unsigned)(want));                           \
	} while (0)

/* pass_tuple - take a new tuple through greylisting: deferred at t, passes at t + MIND */
static void pass_tuple(const char *client, const char *sender, const char *rcpt, int64_t t)
{
	CHECK_VERDICT(gcheck(client, sender, rcpt, &gp, t), GREYLIST_DEFER_NEW, "pass_tuple new");
	CHECK_VERDICT(gcheck(client, sender, rcpt, &gp, t + MIND), GREYLIST_PASS,
		      "pass_tuple retry");
}

START_TEST(test_grey_new)
{
	CHECK_VERDICT(gcheck("192.0.2.1", "a@example.org", "b@example.net", &gp, GBASE),
		      GREYLIST_DEFER_NEW, "new tuple");
	/* each part of the tuple makes a new one */
	CHECK_VERDICT(gcheck("192.0.2.2", "a@example.org", "b@example.net", &gp, GBASE),
		      GREYLIST_DEFER_NEW, "other client");
	CHECK_VERDICT(gcheck("192.0.2.1", "c@example.org", "b@example.net", &gp, GBASE),
		      GREYLIST_DEFER_NEW, "other sender");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@example.org", "d@example.net", &gp, GBASE),
		      GREYLIST_DEFER_NEW, "other recipient");
	CHECK_VERDICT(gcheck("192.0.2.1", "", "b@example.net", &gp, GBASE), GREYLIST_DEFER_NEW,
		      "null sender");
	/* deferrals are not passes */
	CHECK_TALLY(tally("192.0.2.1", GBASE), 0, "after deferrals");
}
END_TEST

START_TEST(test_grey_early_keeps_clock)
{
	static const int64_t retries[] = { 1, 10, 100, MIND / 2, MIND - 2, MIND - 1 };
	size_t i;

	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, GBASE), GREYLIST_DEFER_NEW, "new");
	/* a client retrying faster than min_delay is deferred, but the clock
	 * keeps running from the first attempt (CHAPPS restarted it) */
	for (i = 0; i < sizeof(retries) / sizeof(retries[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "retry after %llds", (long long)retries[i]);
		CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, GBASE + retries[i]),
			      GREYLIST_DEFER_EARLY, what);
	}
	CHECK_TALLY(tally("192.0.2.1", GBASE + MIND - 1), 0, "no pass yet");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, GBASE + MIND), GREYLIST_PASS,
		      "retry at first + min_delay");
	CHECK_TALLY(tally("192.0.2.1", GBASE + MIND), 1, "after the pass");
}
END_TEST

START_TEST(test_grey_pass_after_delay)
{
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, GBASE), GREYLIST_DEFER_NEW, "new");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, GBASE + MIND + 100), GREYLIST_PASS,
		      "retry after min_delay");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, GBASE + MIND + 200), GREYLIST_PASS,
		      "next message");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, GBASE + WIN + 1000), GREYLIST_PASS,
		      "after the retry window, within the lifetime");
	CHECK_TALLY(tally("192.0.2.1", GBASE + WIN + 1000), 3, "three passes");
	/* the last second of the retry window still passes */
	CHECK_VERDICT(gcheck("192.0.2.9", "a@x", "b@y", &gp, GBASE), GREYLIST_DEFER_NEW, "new 2");
	CHECK_VERDICT(gcheck("192.0.2.9", "a@x", "b@y", &gp, GBASE + WIN), GREYLIST_PASS,
		      "retry at first + retry_window");
}
END_TEST

START_TEST(test_grey_lifetime)
{
	const int64_t p1 = GBASE + MIND;

	/* remembered for lifetime, then forgotten */
	pass_tuple("192.0.2.1", "a@x", "b@y", GBASE);
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, p1 + LIFE), GREYLIST_PASS,
		      "at last pass + lifetime");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, p1 + 2 * LIFE + 1),
		      GREYLIST_DEFER_NEW, "lifetime + 1 after the last pass");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, p1 + 2 * LIFE + 2),
		      GREYLIST_DEFER_EARLY, "greylisted again from scratch");

	/* every pass renews the lifetime */
	pass_tuple("192.0.2.2", "a@x", "b@y", GBASE);
	CHECK_VERDICT(gcheck("192.0.2.2", "a@x", "b@y", &gp, p1 + LIFE - 10), GREYLIST_PASS,
		      "before the lifetime ends");
	CHECK_VERDICT(gcheck("192.0.2.2", "a@x", "b@y", &gp, p1 + LIFE + 10), GREYLIST_PASS,
		      "after the first lifetime: renewed");
	CHECK_VERDICT(gcheck("192.0.2.2", "a@x", "b@y", &gp, p1 + 2 * LIFE + 10), GREYLIST_PASS,
		      "renewed again");
	CHECK_VERDICT(gcheck("192.0.2.2", "a@x", "b@y", &gp, p1 + 3 * LIFE + 11),
		      GREYLIST_DEFER_NEW, "idle for lifetime + 1");

	/* a tuple that never passed is forgotten after the retry window */
	CHECK_VERDICT(gcheck("192.0.2.3", "a@x", "b@y", &gp, GBASE), GREYLIST_DEFER_NEW, "new 3");
	CHECK_VERDICT(gcheck("192.0.2.3", "a@x", "b@y", &gp, GBASE + LIFE), GREYLIST_DEFER_NEW,
		      "never passed, lifetime later");
}
END_TEST

START_TEST(test_grey_retry_window)
{
	const int64_t late = GBASE + WIN + 1;

	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, GBASE), GREYLIST_DEFER_NEW, "new");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, late), GREYLIST_DEFER_NEW,
		      "retry after the window: restarted");
	/* the clock restarted at `late` */
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, late + MIND - 1),
		      GREYLIST_DEFER_EARLY, "early after the restart");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, late + MIND), GREYLIST_PASS,
		      "min_delay after the restart");
	/* a passed tuple whose pass expired restarts as well */
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, late + MIND + LIFE + 1),
		      GREYLIST_DEFER_NEW, "pass expired");
	CHECK_TALLY(tally("192.0.2.1", late + MIND), 1, "one pass");
}
END_TEST

START_TEST(test_grey_whitelist)
{
	struct greylist_params wp = gp;
	const int64_t t4 = GBASE + 2000;
	int i;

	wp.whitelist_threshold = 3;
	/* three passes within one hour (GBASE is an hour start) */
	for (i = 0; i < 3; i++) {
		char rcpt[32];

		snprintf(rcpt, sizeof(rcpt), "r%d@y", i);
		CHECK_VERDICT(gcheck("192.0.2.1", "a@x", rcpt, &wp, GBASE + i), GREYLIST_DEFER_NEW,
			      "new");
		CHECK_VERDICT(gcheck("192.0.2.1", "a@x", rcpt, &wp, GBASE + i + MIND),
			      GREYLIST_PASS, "retry");
		if (i < 2)
			CHECK_VERDICT(gcheck("192.0.2.1", "z@x", "new@y", &wp, GBASE + i + MIND),
				      i == 0 ? GREYLIST_DEFER_NEW : GREYLIST_DEFER_EARLY,
				      "below the threshold");
	}
	CHECK_TALLY(tally("192.0.2.1", GBASE + 1000), 3, "three passes");
	/* at the threshold a new tuple passes at once, and counts */
	CHECK_VERDICT(gcheck("192.0.2.1", "b@x", "new@y", &wp, t4), GREYLIST_PASS_WHITELISTED,
		      "new tuple of a whitelisted client");
	CHECK_VERDICT(gcheck("192.0.2.1", "z@x", "new@y", &wp, t4), GREYLIST_PASS_WHITELISTED,
		      "early tuple of a whitelisted client");
	CHECK_TALLY(tally("192.0.2.1", t4), 5, "whitelisted passes count");
	/* another client is not whitelisted */
	CHECK_VERDICT(gcheck("192.0.2.2", "b@x", "new@y", &wp, t4), GREYLIST_DEFER_NEW,
		      "other client");
	/* the whitelisted pass is remembered for the tuple */
	tally_clear("192.0.2.1");
	CHECK_TALLY(tally("192.0.2.1", t4), 0, "after clear");
	CHECK_VERDICT(gcheck("192.0.2.1", "b@x", "new@y", &wp, t4 + 10), GREYLIST_PASS,
		      "tuple passed by whitelist, after clear");
	CHECK_VERDICT(gcheck("192.0.2.1", "c@x", "new@y", &wp, t4 + 10), GREYLIST_DEFER_NEW,
		      "new tuple after clear");
}
END_TEST

START_TEST(test_grey_whitelist_window)
{
	struct greylist_params wp = gp;
	/* the passes happen in hour GBASE; that counter counts until its end
	 * plus 24 hours: at least 24 h, at most 25 h after each pass */
	const int64_t pass_at = GBASE + MIND + 2, gone = GBASE + GHOUR + GDAY;
	int i;

	wp.whitelist_threshold = 3;
	for (i = 0; i < 3; i++) {
		char rcpt[32];

		snprintf(rcpt, sizeof(rcpt), "r%d@y", i);
		pass_tuple("192.0.2.1", "a@x", rcpt, GBASE + i);
	}
	CHECK_TALLY(tally("192.0.2.1", pass_at + GDAY - 1), 3, "24 h after the passes");
	CHECK_TALLY(tally("192.0.2.1", gone - 1), 3, "last counted second");
	CHECK_TALLY(tally("192.0.2.1", gone), 0, "hour end + 24 h");
	CHECK_VERDICT(gcheck("192.0.2.1", "b@x", "n1@y", &wp, pass_at + GDAY - 1),
		      GREYLIST_PASS_WHITELISTED, "within 24 h");
	/* that pass (hour GBASE + 24 h) keeps the client whitelisted past `gone` */
	CHECK_TALLY(tally("192.0.2.1", gone), 1, "the later pass only");
	CHECK_VERDICT(gcheck("192.0.2.1", "b@x", "n2@y", &wp, gone), GREYLIST_DEFER_NEW,
		      "after 24 h");
}
END_TEST

START_TEST(test_grey_threshold_zero)
{
	int i;

	for (i = 0; i < 20; i++) {
		char rcpt[32];

		snprintf(rcpt, sizeof(rcpt), "r%d@y", i);
		pass_tuple("192.0.2.1", "a@x", rcpt, GBASE + i);
	}
	CHECK_TALLY(tally("192.0.2.1", GBASE + 1000), 20, "passes are counted");
	CHECK_VERDICT(gcheck("192.0.2.1", "b@x", "new@y", &gp, GBASE + 1000), GREYLIST_DEFER_NEW,
		      "threshold 0: no auto-whitelist");
}
END_TEST

START_TEST(test_grey_tally)
{
	const int64_t h0 = GBASE;
	const char *error = NULL;
	int i;

	CHECK_TALLY(tally("192.0.2.7", h0), 0, "unknown client");
	/* one tuple passes once; afterwards every check within its lifetime
	 * is a pass, so each check below adds one */
	pass_tuple("192.0.2.7", "a@x", "b@y", h0);			/* hour 0 */
	CHECK_VERDICT(gcheck("192.0.2.7", "a@x", "b@y", &gp, h0 + 2 * GHOUR + 5), GREYLIST_PASS,
		      "hour 2");
	CHECK_VERDICT(gcheck("192.0.2.7", "a@x", "b@y", &gp, h0 + 2 * GHOUR + 6), GREYLIST_PASS,
		      "hour 2 again");
	CHECK_TALLY(tally("192.0.2.7", h0 + 2 * GHOUR + 6), 3, "hours 0 and 2");
	CHECK_TALLY(tally("192.0.2.7", h0 + GHOUR + GDAY - 1), 3, "hour 0 still counts");
	CHECK_TALLY(tally("192.0.2.7", h0 + GHOUR + GDAY), 2, "hour 0 gone");
	CHECK_TALLY(tally("192.0.2.7", h0 + 3 * GHOUR + GDAY), 0, "all gone");
	/* the tally reader does not change anything */
	CHECK_TALLY(tally("192.0.2.7", h0 + 2 * GHOUR + 6), 3, "read again");

	/* one pass an hour for 30 hours: 25 counters live (the hour's and the
	 * 24 before it) */
	for (i = 3; i < 33; i++)
		CHECK_VERDICT(gcheck("192.0.2.7", "a@x", "b@y", &gp, h0 + i * GHOUR + 7),
			      GREYLIST_PASS, "hourly pass");
	CHECK_TALLY(tally("192.0.2.7", h0 + 32 * GHOUR + 7), 25, "hourly passes, 25 hours");

	/* a clock jump back: counters in the "future" still count, and folding
	 * them past 25 never loses a pass */
	tally_clear("192.0.2.7");
	CHECK_VERDICT(gcheck("192.0.2.7", "a@x", "b@y", &gp, h0 + 50 * GHOUR), GREYLIST_PASS,
		      "future pass");
	for (i = 0; i < 25; i++)
		CHECK_VERDICT(gcheck("192.0.2.7", "a@x", "b@y", &gp, h0 + (20 + i) * GHOUR),
			      GREYLIST_PASS, "pass after the jump back");
	CHECK_TALLY(tally("192.0.2.7", h0 + 44 * GHOUR), 26, "26 passes in 26 hours");

	/* clear */
	tally_clear("192.0.2.7");
	CHECK_TALLY(tally("192.0.2.7", h0 + 44 * GHOUR), 0, "after clear");
	tally_clear("192.0.2.7");	/* absent: fine */
	CHECK_STATUS(store_greylist_tally(st, "x", 1, h0, NULL, &error), STORE_OK,
		     "NULL count_r");
	/* clearing the tally does not forget the tuple */
	CHECK_VERDICT(gcheck("192.0.2.7", "a@x", "b@y", &gp, h0 + 44 * GHOUR), GREYLIST_PASS,
		      "tuple after clear");
}
END_TEST

struct gkey {
	const char *s;
	size_t len;
};

#define GKEY(s) { s, sizeof(s) - 1 }
static const struct gkey gkeys[] = {
	GKEY("a"), GKEY("a\0b"), GKEY("a\0c"), GKEY("a\0"), GKEY("\0a"), GKEY("a:b"),
	GKEY("a b"), GKEY("A"), GKEY("\xc3\xa4@\xe7\x94\xa8"), GKEY("%s%n{}*?[]"),
	GKEY("greyc"), GKEY("chapps:g:a"),
};

START_TEST(test_grey_keys)
{
	size_t i, n = sizeof(gkeys) / sizeof(gkeys[0]);
	unsigned char big1[1200], big2[1200], big3[1200];
	char buf[16];

	/* every tuple key is its own tuple, every client key its own tally */
	for (i = 0; i < n; i++)
		CHECK_VERDICT(gcheck_n(gkeys[i].s, gkeys[i].len, gkeys[i].s, gkeys[i].len, &gp,
				       GBASE), GREYLIST_DEFER_NEW, gkeys[i].s);
	for (i = 0; i < n; i++)
		CHECK_VERDICT(gcheck_n(gkeys[i].s, gkeys[i].len, gkeys[i].s, gkeys[i].len, &gp,
				       GBASE + MIND + (int64_t)i), GREYLIST_PASS, gkeys[i].s);
	for (i = 0; i < n; i++) {
		uint32_t count = tally_n(gkeys[i].s, gkeys[i].len, GBASE + MIND + 100);

		ck_assert_msg(count == 1, "client key #%zu: got tally %u, want 1", i, count);
	}
	/* a tuple and a client with the same bytes are different things, and
	 * the cache's keys are another space again */
	CHECK_STATUS(store_cache_set(st, "k", 1, "v", 1, 60, GBASE, NULL), STORE_OK, "cache set");
	CHECK_VERDICT(gcheck_n("k", 1, "k", 1, &gp, GBASE), GREYLIST_DEFER_NEW, "tuple k");
	CHECK_TALLY(tally_n("k", 1, GBASE), 0, "client k");
	CHECK_STATUS(cache_get_str("k", 1, buf, sizeof(buf), GBASE), STORE_OK, "cache kept");
	ck_assert_str_eq(buf, "v");

	/* keys longer than any engine's native key size stay distinct */
	memset(big1, 'x', sizeof(big1));
	memcpy(big2, big1, sizeof(big2));
	memcpy(big3, big1, sizeof(big3));
	big2[sizeof(big2) - 1] = 'y';	/* differs in the last byte */
	big3[600] = 'y';		/* in the middle */
	CHECK_VERDICT(gcheck_n(big1, sizeof(big1), big1, 700, &gp, GBASE), GREYLIST_DEFER_NEW,
		      "long 1");
	CHECK_VERDICT(gcheck_n(big2, sizeof(big2), big2, 700, &gp, GBASE), GREYLIST_DEFER_NEW,
		      "long 2");
	CHECK_VERDICT(gcheck_n(big3, sizeof(big3), big3, 700, &gp, GBASE), GREYLIST_DEFER_NEW,
		      "long 3");
	CHECK_VERDICT(gcheck_n(big1, sizeof(big1) - 1, big1, 700, &gp, GBASE),
		      GREYLIST_DEFER_NEW, "long 1 minus its last byte");
	CHECK_VERDICT(gcheck_n(big2, sizeof(big2), big2, 700, &gp, GBASE + MIND), GREYLIST_PASS,
		      "long 2 retried");
	CHECK_VERDICT(gcheck_n(big1, sizeof(big1), big1, 700, &gp, GBASE + MIND), GREYLIST_PASS,
		      "long 1 retried");
	CHECK_TALLY(tally_n(big1, 700, GBASE + MIND), 2, "long client key");
	CHECK_TALLY(tally_n(big1, 699, GBASE + MIND), 0, "long client key minus one byte");
}
END_TEST

/* peek - store_greylist_peek of tuple (client, sender, rcpt) at now: "absent" or "FIRST/LAST" */
static const char *peek(const char *client, const char *sender, const char *rcpt, int64_t now)
{
	static char out[64];
	unsigned char tuple[512];
	size_t tlen = store_key(tuple, sizeof(tuple), "grey", client, sender, rcpt, (char *)NULL);
	struct greylist_record_tuple t = { 12345, 12345 };
	const char *error = NULL;
	bool present = true;
	int ret;

	ck_assert(tlen > 0);
	ret = store_greylist_peek(st, tuple, tlen, now, &present, &t, &error);
	ck_assert_msg(ret == STORE_OK, "greylist peek at %lld: got %s (%s), want STORE_OK",
		      (long long)now, status_name(ret), error);
	if (!present)
		return "absent";
	snprintf(out, sizeof(out), "%lld/%lld", (long long)(t.first - GBASE),
		 t.last_pass < 0 ? -1LL : (long long)(t.last_pass - GBASE));
	return out;
}

/* a read-only look at a tuple, times relative to GBASE; it must change nothing */
START_TEST(test_grey_peek)
{
	const int64_t p1 = GBASE + MIND;
	char want[64];
	const char *error = NULL;
	bool present;
	struct greylist_record_tuple t;

	ck_assert_str_eq(peek("192.0.2.1", "a@x", "b@y", GBASE), "absent");
	/* a peek creates nothing: the first check still sees a new tuple */
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, GBASE), GREYLIST_DEFER_NEW, "new");
	ck_assert_str_eq(peek("192.0.2.1", "a@x", "b@y", GBASE + 1), "0/-1");
	/* peeks at and after min_delay restart nothing and pass nothing */
	ck_assert_str_eq(peek("192.0.2.1", "a@x", "b@y", GBASE + MIND), "0/-1");
	ck_assert_str_eq(peek("192.0.2.1", "a@x", "b@y", GBASE + MIND), "0/-1");
	CHECK_TALLY(tally("192.0.2.1", GBASE + MIND), 0, "no pass counted by a peek");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, p1), GREYLIST_PASS,
		      "retry at min_delay after peeks");
	snprintf(want, sizeof(want), "0/%d", MIND);
	ck_assert_str_eq(peek("192.0.2.1", "a@x", "b@y", p1 + 1), want);
	CHECK_TALLY(tally("192.0.2.1", p1 + 1), 1, "one pass");
	/* a peek at the end of the lifetime does not renew it */
	ck_assert_str_eq(peek("192.0.2.1", "a@x", "b@y", p1 + LIFE), want);
	ck_assert_str_eq(peek("192.0.2.1", "a@x", "b@y", p1 + LIFE + 1), "absent");
	CHECK_VERDICT(gcheck("192.0.2.1", "a@x", "b@y", &gp, p1 + LIFE + 1), GREYLIST_DEFER_NEW,
		      "lifetime over despite the peek");
	/* a tuple that never passed is absent once its retry window is over */
	CHECK_VERDICT(gcheck("192.0.2.2", "a@x", "b@y", &gp, GBASE), GREYLIST_DEFER_NEW, "new 2");
	ck_assert_str_eq(peek("192.0.2.2", "a@x", "b@y", GBASE + WIN), "0/-1");
	ck_assert_str_eq(peek("192.0.2.2", "a@x", "b@y", GBASE + WIN + 1), "absent");
	/* other tuples are not touched */
	ck_assert_str_eq(peek("192.0.2.3", "a@x", "b@y", GBASE), "absent");
	/* arguments */
	CHECK_STATUS(store_greylist_peek(NULL, "t", 1, GBASE, &present, &t, &error), STORE_ERROR,
		     "no store");
	CHECK_STATUS(store_greylist_peek(st, "", 0, GBASE, &present, &t, &error), STORE_ERROR,
		     "empty tuple");
	CHECK_STATUS(store_greylist_peek(st, "t", 1, -1, &present, &t, &error), STORE_ERROR,
		     "clock before the epoch");
	CHECK_STATUS(store_greylist_peek(st, "t", 1, GBASE, NULL, &t, &error), STORE_ERROR,
		     "no present_r");
	CHECK_STATUS(store_greylist_peek(st, "t", 1, GBASE, &present, &t, NULL), STORE_OK,
		     "error_r NULL");
}
END_TEST

START_TEST(test_grey_arguments)
{
	const char *error = NULL;
	uint32_t count;
	int verdict = -1;

	CHECK_STATUS(store_greylist_check(st, "t", 1, "c", 1, NULL, GBASE, &verdict, &error),
		     STORE_ERROR, "NULL params");
	ck_assert_ptr_nonnull(error);
	CHECK_STATUS(store_greylist_check(st, "t", 1, "c", 1, &gp, GBASE, NULL, &error),
		     STORE_ERROR, "NULL verdict_r");
	CHECK_STATUS(store_greylist_check(st, "", 0, "c", 1, &gp, GBASE, &verdict, &error),
		     STORE_ERROR, "empty tuple");
	CHECK_STATUS(store_greylist_check(st, NULL, 1, "c", 1, &gp, GBASE, &verdict, &error),
		     STORE_ERROR, "NULL tuple");
	CHECK_STATUS(store_greylist_check(st, "t", 1, "", 0, &gp, GBASE, &verdict, &error),
		     STORE_ERROR, "empty client");
	CHECK_STATUS(store_greylist_check(st, "t", 1, "c", 1, &gp, -1, &verdict, &error),
		     STORE_ERROR, "negative clock");
	CHECK_STATUS(store_greylist_check(NULL, "t", 1, "c", 1, &gp, GBASE, &verdict, &error),
		     STORE_ERROR, "NULL store");
	CHECK_STATUS(store_greylist_tally(st, "", 0, GBASE, &count, &error), STORE_ERROR,
		     "tally: empty client");
	CHECK_STATUS(store_greylist_tally_clear(st, NULL, 1, &error), STORE_ERROR,
		     "clear: NULL client");
	/* nothing was created by the refused calls */
	CHECK_VERDICT(gcheck_n("t", 1, "c", 1, &gp, GBASE), GREYLIST_DEFER_NEW, "after errors");
	/* error_r may be NULL */
	CHECK_STATUS(store_greylist_check(st, "t", 1, "c", 1, &gp, GBASE, &verdict, NULL),
		     STORE_OK, "NULL error_r");
}
END_TEST

#define GREY_THREADS 8
#define GREY_TUPLES 40

struct grey_worker {
	pthread_t thread;
	int index;
	int64_t now;			/* the thread's clock */
	int verdict[GREY_TUPLES];
	int errors;
	char error[256];
};

/* grey_worker_main - check every shared tuple once at the thread's clock */
static void *grey_worker_main(void *arg)
{
	struct grey_worker *w = arg;
	const char *error;
	char tuple[32];
	int i, ret;

	for (i = 0; i < GREY_TUPLES; i++) {
		/* start at a different tuple in each thread: more collisions */
		int k = (i + w->index * 5) % GREY_TUPLES;

		snprintf(tuple, sizeof(tuple), "tuple-%d", k);
		error = NULL;
		w->verdict[k] = -1;
		ret = store_greylist_check(st, tuple, strlen(tuple), "client", 6, &gp, w->now,
					   &w->verdict[k], &error);
		if (ret != STORE_OK) {
			w->verdict[k] = -1;
			w->errors++;
			snprintf(w->error, sizeof(w->error), "%s", error ? error : "?");
		}
	}
	return NULL;
}

/* grey_run_threads - run the workers at clock base + index * step; all joined */
static void grey_run_threads(struct grey_worker *w, int64_t base, int64_t step)
{
	int i, started;

	memset(w, 0, GREY_THREADS * sizeof(*w));
	for (started = 0; started < GREY_THREADS; started++) {
		w[started].index = started;
		w[started].now = base + started * step;
		if (pthread_create(&w[started].thread, NULL, grey_worker_main, &w[started]) != 0)
			break;
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	ck_assert_msg(started == GREY_THREADS, "pthread_create: started %d threads, want %d",
		      started, GREY_THREADS);
	for (i = 0; i < GREY_THREADS; i++)
		ck_assert_msg(w[i].errors == 0, "thread %d: %d errors, last: %s", i, w[i].errors,
			      w[i].error);
}

START_TEST(test_grey_concurrency)
{
	struct grey_worker w[GREY_THREADS];
	int64_t first[GREY_TUPLES];
	char tuple[32];
	int i, k;

	/* 8 threads see the same 40 new tuples at once, at clocks GBASE..+7 */
	grey_run_threads(w, GBASE, 1);
	for (k = 0; k < GREY_TUPLES; k++) {
		int news = 0;

		first[k] = -1;
		for (i = 0; i < GREY_THREADS; i++) {
			int v = w[i].verdict[k];

			ck_assert_msg(v == GREYLIST_DEFER_NEW || v == GREYLIST_DEFER_EARLY,
				      "tuple %d, thread %d: got %s, want a deferral", k, i,
				      verdict_name(v));
			if (v == GREYLIST_DEFER_NEW) {
				news++;
				first[k] = w[i].now;
			}
		}
		ck_assert_msg(news == 1, "tuple %d: got %d DEFER_NEW, want exactly 1", k, news);
	}
	/* the first-seen time is the one of the thread that saw it new */
	for (k = 0; k < GREY_TUPLES; k++) {
		snprintf(tuple, sizeof(tuple), "tuple-%d", k);
		CHECK_VERDICT(gcheck_n(tuple, strlen(tuple), "client", 6, &gp, first[k] + MIND - 1),
			      GREYLIST_DEFER_EARLY, "one second before first + min_delay");
		CHECK_VERDICT(gcheck_n(tuple, strlen(tuple), "client", 6, &gp, first[k] + MIND),
			      GREYLIST_PASS, "at first + min_delay");
	}
	CHECK_TALLY(tally_n("client", 6, GBASE + MIND + 7), GREY_TUPLES, "one pass per tuple");
	/* now all pass at once: every pass is counted */
	grey_run_threads(w, GBASE + 1000, 0);
	for (k = 0; k < GREY_TUPLES; k++)
		for (i = 0; i < GREY_THREADS; i++)
			CHECK_VERDICT(w[i].verdict[k], GREYLIST_PASS, "concurrent pass");
	CHECK_TALLY(tally_n("client", 6, GBASE + 1000), GREY_TUPLES * (GREY_THREADS + 1),
		    "concurrent passes counted");
}
END_TEST

/* ---- limits (store_limits_*) ------------------------------------------- */

#define DAY 86400
#define DBASE 1700006400	/* a multiple of 86400: a (UTC) day start */

/* lim - a limit of owner (NUL-terminated) with the usual sliding window */
static struct store_limit lim(const char *owner, uint32_t id, enum store_count count,
			      uint64_t max)
{
	struct store_limit l;

	memset(&l, 0, sizeof(l));
	l.owner = owner;
	l.owner_len = strlen(owner);
	l.id = id;
	l.count = count;
	l.window = STORE_WINDOW_SLIDING;
	l.interval = INTERVAL;
	l.resolution = RES;
	l.max = max;
	l.reservation_ttl = TTL;
	return l;
}

/* cal - a calendar limit over [start, end) */
static struct store_limit cal(const char *owner, uint32_t id, enum store_count count,
			      uint64_t max, int64_t start, int64_t end)
{
	struct store_limit l = lim(owner, id, count, max);

	l.window = STORE_WINDOW_CALENDAR;
	l.period_start = start;
	l.period_end = end;
	return l;
}

/* lreserve - store_limits_reserve with one amount per limit and, for
 * distinct asks, one hash per limit (hashes may be NULL); errors fail,
 * *refused_r gets the refusing index */
static int lreserve(const char *resid, const struct store_limit *l, size_t n,
		    const uint64_t *amounts, const uint64_t *hashes, int64_t now,
		    size_t *refused_r, struct store_limit_state *states)
{
	struct store_limit_ask asks[STORE_LIMITS_MAX];
	const char *error = NULL;
	size_t refused = 99, i;
	int ret;

	for (i = 0; i < n; i++) {
		asks[i].amount = amounts[i];
		asks[i].rcpt_hash = hashes != NULL ? hashes[i] : 0;
	}
	ret = store_limits_reserve(st, resid, l, asks, n, now, &refused, states, &error);
	ck_assert_msg(ret != STORE_ERROR, "limits reserve %s: %s", resid, error);
	if (refused_r != NULL)
		*refused_r = refused;
	return ret;
}

/* lcommit - store_limits_commit, which must succeed */
static void lcommit(const char *resid, const struct store_limit *l, size_t n,
		    const uint64_t *final, int64_t now)
{
	const char *error = NULL;
	int ret = store_limits_commit(st, resid, l, final, n, now, &error);

	ck_assert_msg(ret == STORE_OK, "limits commit %s: got %s (%s)", resid, status_name(ret),
		      error);
}

/* lusage - store_limits_usage of one limit, which must succeed */
static struct store_limit_state lusage(const struct store_limit *l, int64_t now)
{
	struct store_limit_state s;
	const char *error = NULL;
	int ret;

	memset(&s, 0xff, sizeof(s));
	ret = store_limits_usage(st, l, 1, now, &s, &error);
	ck_assert_msg(ret == STORE_OK, "limits usage: got %s (%s)", status_name(ret), error);
	ck_assert_msg(s.own == 0, "limits usage: own=%llu, want 0", (unsigned long long)s.own);
	return s;
}

#define CHECK_LSTATE(s, c, r, o, what)                                                     \
	ck_assert_msg((s).committed == (c) && (s).reserved == (r) && (s).own == (o),      \
		      "%s: got committed=%llu reserved=%llu own=%llu, want %llu/%llu/%llu",  \
		      (what), (unsigned long long)(s).committed,                          \
		      (unsigned long long)(s).reserved, (unsigned long long)(s).own,      \
		      (unsigned long long)(c), (unsigned long long)(r),                   \
		      (unsigned long long)(o))

/* lsend - reserve amount on one limit and commit it at now; must be granted */
static void lsend(const char *resid, const struct store_limit *l, uint64_t amount, int64_t now)
{
	CHECK_STATUS(lreserve(resid, l, 1, &amount, NULL, now, NULL, NULL), STORE_OK, resid);
	lcommit(resid, l, 1, NULL, now);
}

START_TEST(test_limits_messages)
{
	struct store_limit l = lim("bob", 1, STORE_COUNT_MESSAGES, 3);
	struct store_limit_state s[1];
	uint64_t one = 1, zero = 0;
	size_t refused;

	CHECK_STATUS(lreserve("m1", &l, 1, &one, NULL, BASE, NULL, s), STORE_OK, "m1");
	CHECK_LSTATE(s[0], 0, 1, 1, "m1 reserved");
	/* the message's next recipients ask 0: granted, still one unit */
	CHECK_STATUS(lreserve("m1", &l, 1, &zero, NULL, BASE, NULL, s), STORE_OK, "m1 rcpt 2");
	CHECK_LSTATE(s[0], 0, 1, 1, "m1 rcpt 2");
	lcommit("m1", &l, 1, NULL, BASE);
	lsend("m2", &l, 1, BASE + 10);
	CHECK_STATUS(lreserve("m3", &l, 1, &one, NULL, BASE + 20, NULL, s), STORE_OK, "m3");
	CHECK_LSTATE(s[0], 2, 1, 1, "m3 reserved");
	CHECK_STATUS(lreserve("m4", &l, 1, &one, NULL, BASE + 30, &refused, s), STORE_REFUSED,
		     "m4 past the limit");
	ck_assert_uint_eq(refused, 0);
	CHECK_LSTATE(s[0], 2, 1, 0, "m4 refused");
	lcommit("m3", &l, 1, NULL, BASE + 30);
	s[0] = lusage(&l, BASE + 40);
	CHECK_LSTATE(s[0], 3, 0, 0, "three committed");
	ck_assert_int_eq(s[0].next_free, BASE + RES + INTERVAL);
	/* the oldest bucket leaves at start + resolution + interval */
	s[0] = lusage(&l, BASE + RES + INTERVAL - 1);
	ck_assert_uint_eq(s[0].committed, 3);
	s[0] = lusage(&l, BASE + RES + INTERVAL);
	ck_assert_uint_eq(s[0].committed, 0);
	ck_assert_int_eq(s[0].next_free, 0);
}
END_TEST

START_TEST(test_limits_sliding_buckets)
{
	/* one message a minute for two hours: the window holds 61 buckets;
	 * then ten idle hours empty it */
	struct store_limit l = lim("bob", 1, STORE_COUNT_MESSAGES, 1000);
	struct store_limit_state s[1];
	char resid[16];
	int i;

	for (i = 0; i < 120; i++) {
		snprintf(resid, sizeof(resid), "m%d", i);
		lsend(resid, &l, 1, BASE + (int64_t)i * RES);
		s[0] = lusage(&l, BASE + (int64_t)i * RES);
		ck_assert_msg(s[0].committed == (uint64_t)(i < 61 ? i + 1 : 61),
			      "minute %d: committed %llu", i, (unsigned long long)s[0].committed);
	}
	ck_assert_int_eq(s[0].next_free, BASE + (int64_t)(119 - 60) * RES + RES + INTERVAL);
	s[0] = lusage(&l, BASE + 10 * INTERVAL);
	CHECK_LSTATE(s[0], 0, 0, 0, "ten hours later");
	lsend("late", &l, 2, BASE + 10 * INTERVAL);
	s[0] = lusage(&l, BASE + 10 * INTERVAL);
	CHECK_LSTATE(s[0], 2, 0, 0, "after the idle hours");
}
END_TEST

START_TEST(test_limits_recipients)
{
	struct store_limit l = lim("bob", 2, STORE_COUNT_RECIPIENTS, 5);
	struct store_limit_state s[1];
	uint64_t one = 1;
	int i;

	for (i = 0; i < 3; i++)
		CHECK_STATUS(lreserve("m1", &l, 1, &one, NULL, BASE, NULL, s), STORE_OK, "m1");
	CHECK_LSTATE(s[0], 0, 3, 3, "m1 three recipients");
	lcommit("m1", &l, 1, NULL, BASE);
	CHECK_STATUS(lreserve("m2", &l, 1, &one, NULL, BASE, NULL, s), STORE_OK, "m2 r1");
	CHECK_STATUS(lreserve("m2", &l, 1, &one, NULL, BASE, NULL, s), STORE_OK, "m2 r2");
	CHECK_STATUS(lreserve("m2", &l, 1, &one, NULL, BASE, NULL, s), STORE_REFUSED, "m2 r3");
	CHECK_LSTATE(s[0], 3, 2, 2, "m2 refused third");
}
END_TEST

START_TEST(test_limits_refusal_leaves_no_trace)
{
	/* _i == 0: hourly first, _i == 1: daily first: the refusing limit's
	 * index moves, the other limit stays untouched either way */
	struct store_limit hourly = lim("bob", 1, STORE_COUNT_MESSAGES, 2);
	struct store_limit daily = cal("bob", 2, STORE_COUNT_MESSAGES, 10, DBASE, DBASE + DAY);
	struct store_limit l[2];
	struct store_limit_state s[2];
	uint64_t one[2] = { 1, 1 };
	size_t refused, h = _i == 0 ? 0 : 1, d = 1 - h;

	l[h] = hourly;
	l[d] = daily;
	CHECK_STATUS(lreserve("m1", l, 2, one, NULL, DBASE, NULL, s), STORE_OK, "m1");
	lcommit("m1", l, 2, NULL, DBASE);
	CHECK_STATUS(lreserve("m2", l, 2, one, NULL, DBASE + 1, NULL, s), STORE_OK, "m2");
	CHECK_LSTATE(s[h], 1, 1, 1, "m2 hourly");
	CHECK_LSTATE(s[d], 1, 1, 1, "m2 daily");
	CHECK_STATUS(lreserve("m3", l, 2, one, NULL, DBASE + 2, &refused, s), STORE_REFUSED,
		     "m3 refused by the hourly limit");
	ck_assert_uint_eq(refused, h);
	CHECK_LSTATE(s[d], 1, 1, 0, "daily after m3");
	s[0] = lusage(&daily, DBASE + 2);
	CHECK_LSTATE(s[0], 1, 1, 0, "daily not charged by the refused m3");
	lcommit("m2", l, 2, NULL, DBASE + 3);
	s[0] = lusage(&daily, DBASE + 3);
	CHECK_LSTATE(s[0], 2, 0, 0, "daily holds m1 and m2 only");
	/* an hour and a bucket later the hourly limit has room again */
	CHECK_STATUS(lreserve("m4", l, 2, one, NULL, DBASE + INTERVAL + RES, NULL, s), STORE_OK,
		     "m4 after the hour");
	CHECK_LSTATE(s[d], 2, 1, 1, "daily m4");
}
END_TEST

START_TEST(test_limits_distinct)
{
	struct store_limit l = lim("bob", 3, STORE_COUNT_DISTINCT, 3);
	struct store_limit_state s[1];
	uint64_t one = 1, a = 0xa, b = 0xb, c = 0xc, d = 0xd, e = 0xe;
	size_t refused;

	CHECK_STATUS(lreserve("m1", &l, 1, &one, &a, BASE, NULL, s), STORE_OK, "m1 a");
	CHECK_STATUS(lreserve("m1", &l, 1, &one, &b, BASE, NULL, s), STORE_OK, "m1 b");
	CHECK_STATUS(lreserve("m1", &l, 1, &one, &a, BASE, NULL, s), STORE_OK, "m1 a again");
	CHECK_LSTATE(s[0], 0, 2, 2, "m1: a twice costs one");
	lcommit("m1", &l, 1, NULL, BASE);
	s[0] = lusage(&l, BASE);
	CHECK_LSTATE(s[0], 2, 0, 0, "a and b counted");
	CHECK_STATUS(lreserve("m2", &l, 1, &one, &a, BASE + 10, NULL, s), STORE_OK, "m2 a");
	CHECK_LSTATE(s[0], 2, 0, 0, "a repeated costs 0");
	CHECK_STATUS(lreserve("m2", &l, 1, &one, &c, BASE + 10, NULL, s), STORE_OK, "m2 c");
	CHECK_LSTATE(s[0], 2, 1, 1, "c new");
	CHECK_STATUS(lreserve("m2", &l, 1, &one, &d, BASE + 10, &refused, s), STORE_REFUSED,
		     "m2 d past max");
	ck_assert_uint_eq(refused, 0);
	lcommit("m2", &l, 1, NULL, BASE + 10);
	s[0] = lusage(&l, BASE + 10);
	CHECK_LSTATE(s[0], 3, 0, 0, "a, b, c");
	/* at max: known addresses still pass, a new one does not */
	CHECK_STATUS(lreserve("m3", &l, 1, &one, &b, BASE + 20, NULL, s), STORE_OK, "m3 b");
	CHECK_STATUS(lreserve("m3", &l, 1, &one, &e, BASE + 20, NULL, s), STORE_REFUSED, "m3 e");
	lcommit("m3", &l, 1, NULL, BASE + 20);
	/* a was used again at BASE + 10, b at BASE + 20: each counts for a
	 * window after its last use */
	s[0] = lusage(&l, BASE + INTERVAL + 5);
	CHECK_LSTATE(s[0], 3, 0, 0, "a and b renewed, c in");
	ck_assert_int_eq(s[0].next_free, BASE + 10 + INTERVAL);
	s[0] = lusage(&l, BASE + INTERVAL + 10);
	CHECK_LSTATE(s[0], 1, 0, 0, "a and c gone, b in");
	ck_assert_int_eq(s[0].next_free, BASE + 20 + INTERVAL);
	s[0] = lusage(&l, BASE + INTERVAL + 20);
	CHECK_LSTATE(s[0], 0, 0, 0, "window empty");
	CHECK_STATUS(lreserve("m4", &l, 1, &one, &e, BASE + INTERVAL + 20, NULL, s), STORE_OK,
		     "m4 e in the next window");
}
END_TEST

START_TEST(test_limits_distinct_calendar)
{
	struct store_limit l = cal("bob", 3, STORE_COUNT_DISTINCT, 2, DBASE, DBASE + DAY);
	struct store_limit_state s[1];
	uint64_t one = 1, h[3] = { 1, 2, 3 };

	CHECK_STATUS(lreserve("m1", &l, 1, &one, &h[0], DBASE, NULL, s), STORE_OK, "m1 1");
	CHECK_STATUS(lreserve("m1", &l, 1, &one, &h[1], DBASE, NULL, s), STORE_OK, "m1 2");
	lcommit("m1", &l, 1, NULL, DBASE);
	CHECK_STATUS(lreserve("m2", &l, 1, &one, &h[2], DBASE + DAY - 1, NULL, s), STORE_REFUSED,
		     "m2 3 the same day");
	CHECK_STATUS(lreserve("m2", &l, 1, &one, &h[0], DBASE + DAY - 1, NULL, s), STORE_OK,
		     "m2 1 again the same day");
	lcommit("m2", &l, 1, NULL, DBASE + DAY - 1);
	l.period_start = DBASE + DAY;
	l.period_end = DBASE + 2 * DAY;
	s[0] = lusage(&l, DBASE + DAY);
	CHECK_LSTATE(s[0], 0, 0, 0, "next day: empty");
	CHECK_STATUS(lreserve("m3", &l, 1, &one, &h[2], DBASE + DAY, NULL, s), STORE_OK,
		     "m3 3 the next day");
	CHECK_STATUS(lreserve("m3", &l, 1, &one, &h[0], DBASE + DAY, NULL, s), STORE_OK,
		     "m3 1 the next day");
	CHECK_LSTATE(s[0], 0, 2, 2, "m3 two new addresses");
}
END_TEST

START_TEST(test_limits_bytes)
{
	struct store_limit l = lim("bob", 4, STORE_COUNT_BYTES, 1000);
	struct store_limit_state s[1];
	uint64_t a600 = 600, zero = 0, one = 1, final;

	/* with SIZE=: the declared size reserves, the real size commits */
	CHECK_STATUS(lreserve("m1", &l, 1, &a600, NULL, BASE, NULL, s), STORE_OK, "m1 600");
	CHECK_STATUS(lreserve("m2", &l, 1, &a600, NULL, BASE, NULL, s), STORE_REFUSED,
		     "m2 600 does not fit");
	final = 700;
	lcommit("m1", &l, 1, &final, BASE);
	s[0] = lusage(&l, BASE);
	CHECK_LSTATE(s[0], 700, 0, 0, "m1 committed its real size");
	/* without SIZE=: 0 reserved, the real size at commit */
	CHECK_STATUS(lreserve("m3", &l, 1, &zero, NULL, BASE + 1, NULL, s), STORE_OK, "m3 no SIZE");
	CHECK_LSTATE(s[0], 700, 0, 0, "m3 holds 0 bytes");
	final = 250;
	lcommit("m3", &l, 1, &final, BASE + 1);
	s[0] = lusage(&l, BASE + 1);
	CHECK_LSTATE(s[0], 950, 0, 0, "m3 committed 250");
	/* under the limit a message without SIZE= passes and may go over */
	CHECK_STATUS(lreserve("m4", &l, 1, &zero, NULL, BASE + 2, NULL, s), STORE_OK, "m4");
	final = 300;
	lcommit("m4", &l, 1, &final, BASE + 2);
	s[0] = lusage(&l, BASE + 2);
	CHECK_LSTATE(s[0], 1250, 0, 0, "m4 over by one message");
	CHECK_STATUS(lreserve("m5", &l, 1, &one, NULL, BASE + 3, NULL, s), STORE_REFUSED,
		     "m5 over the limit");
	/* a commit without a live reservation adds nothing */
	lcommit("m5", &l, 1, &final, BASE + 3);
	s[0] = lusage(&l, BASE + 3);
	ck_assert_uint_eq(s[0].committed, 1250);
}
END_TEST

START_TEST(test_limits_calendar_day)
{
	/* _i: 0 a 24-hour day, 1 a 23-hour one (spring DST), 2 a 25-hour one */
	static const int64_t lengths[] = { DAY, DAY - 3600, DAY + 3600 };
	int64_t len = lengths[_i], end = DBASE + len;
	struct store_limit l = cal("bob", 5, STORE_COUNT_MESSAGES, 2, DBASE, end);
	struct store_limit_state s[1];
	uint64_t one = 1;

	lsend("m1", &l, 1, DBASE);
	lsend("m2", &l, 1, DBASE + 100);
	s[0] = lusage(&l, end - 1);
	CHECK_LSTATE(s[0], 2, 0, 0, "last second of the day");
	ck_assert_int_eq(s[0].next_free, end);
	CHECK_STATUS(lreserve("m3", &l, 1, &one, NULL, end - 1, NULL, s), STORE_REFUSED,
		     "m3 in the last second of the day");
	if (len > DAY) {
		/* 24 hours after its start a 25-hour day is not over */
		CHECK_STATUS(lreserve("m3", &l, 1, &one, NULL, DBASE + DAY, NULL, s),
			     STORE_REFUSED, "m3 in the 25th hour");
	}
	/* the caller moves to the next period at the boundary */
	l.period_start = end;
	l.period_end = end + DAY;
	s[0] = lusage(&l, end);
	CHECK_LSTATE(s[0], 0, 0, 0, "next day");
	CHECK_STATUS(lreserve("m3", &l, 1, &one, NULL, end, NULL, s), STORE_OK, "m3 next day");
	CHECK_LSTATE(s[0], 0, 1, 1, "m3 next day");
}
END_TEST

START_TEST(test_limits_calendar_month)
{
	/* a 31-day month, then a 28-day one */
	int64_t m1 = DBASE, m2 = DBASE + 31 * DAY, m3 = m2 + 28 * DAY;
	struct store_limit l = cal("bob", 6, STORE_COUNT_RECIPIENTS, 10, m1, m2);
	struct store_limit_state s[1];
	uint64_t one = 1;

	lsend("m1", &l, 6, m1 + 5);
	lsend("m2", &l, 4, m1 + 20 * DAY);
	CHECK_STATUS(lreserve("m3", &l, 1, &one, NULL, m2 - 1, NULL, s), STORE_REFUSED,
		     "last second of the month");
	l.period_start = m2;
	l.period_end = m3;
	CHECK_STATUS(lreserve("m3", &l, 1, &one, NULL, m2, NULL, s), STORE_OK,
		     "first second of the next month");
	CHECK_LSTATE(s[0], 0, 1, 1, "next month");
	lcommit("m3", &l, 1, NULL, m2);
	s[0] = lusage(&l, m3 - 1);
	CHECK_LSTATE(s[0], 1, 0, 0, "end of the next month");
	ck_assert_int_eq(s[0].next_free, m3);
}
END_TEST

START_TEST(test_limits_release_expiry)
{
	struct store_limit l[2] = { lim("bob", 1, STORE_COUNT_MESSAGES, 5),
				    lim("bob", 2, STORE_COUNT_RECIPIENTS, 5) };
	struct store_limit_state s[2];
	uint64_t one[2] = { 1, 1 };
	const char *error = NULL;

	CHECK_STATUS(lreserve("m1", l, 2, one, NULL, BASE, NULL, s), STORE_OK, "m1");
	CHECK_STATUS(store_limits_release(st, "m1", l, 2, BASE, &error), STORE_OK, "release");
	CHECK_STATUS(store_limits_release(st, "nope", l, 2, BASE, &error), STORE_OK,
		     "release unknown");
	lcommit("m1", l, 2, NULL, BASE);
	s[0] = lusage(&l[0], BASE);
	s[1] = lusage(&l[1], BASE);
	CHECK_LSTATE(s[0], 0, 0, 0, "released: nothing committed");
	CHECK_LSTATE(s[1], 0, 0, 0, "released: nothing committed");
	/* a reservation lives reservation_ttl seconds */
	CHECK_STATUS(lreserve("m2", l, 2, one, NULL, BASE, NULL, s), STORE_OK, "m2");
	s[0] = lusage(&l[0], BASE + TTL - 1);
	CHECK_LSTATE(s[0], 0, 1, 0, "m2 alive");
	s[0] = lusage(&l[0], BASE + TTL);
	CHECK_LSTATE(s[0], 0, 0, 0, "m2 expired");
	lcommit("m2", l, 2, NULL, BASE + TTL);
	s[1] = lusage(&l[1], BASE + TTL);
	CHECK_LSTATE(s[1], 0, 0, 0, "an expired reservation commits nothing");
}
END_TEST

START_TEST(test_limits_reset)
{
	struct store_limit l[3] = { lim("bob", 1, STORE_COUNT_MESSAGES, 5),
				    lim("bob", 0, STORE_COUNT_MESSAGES, 5),
				    lim("ann", 1, STORE_COUNT_MESSAGES, 5) };
	struct store_limit_state s[1];
	uint64_t one[3] = { 1, 1, 1 };
	const char *error = NULL;

	CHECK_STATUS(lreserve("m1", l, 3, one, NULL, BASE, NULL, NULL), STORE_OK, "m1");
	lcommit("m1", l, 3, NULL, BASE);
	CHECK_STATUS(store_limits_reset(st, l, 2, &error), STORE_OK, "reset bob");
	s[0] = lusage(&l[0], BASE);
	CHECK_LSTATE(s[0], 0, 0, 0, "bob id 1 reset");
	s[0] = lusage(&l[1], BASE);
	CHECK_LSTATE(s[0], 0, 0, 0, "bob id 0 reset");
	s[0] = lusage(&l[2], BASE);
	CHECK_LSTATE(s[0], 1, 0, 0, "ann untouched");
}
END_TEST

struct top_seen {
	int n;
	char owner[8][16];
	uint64_t committed[8];
};

/* top_emit - collect store_limits_top's entries */
static void top_emit(void *ctx, const char *owner, size_t owner_len, uint64_t committed)
{
	struct top_seen *t = ctx;

	if (t->n < 8) {
		snprintf(t->owner[t->n], sizeof(t->owner[0]), "%.*s", (int)owner_len, owner);
		t->committed[t->n] = committed;
	}
	t->n++;
}

START_TEST(test_limits_top)
{
	static const char *owners[] = { "u1", "u2", "u3" };
	static const uint64_t amounts[] = { 3, 5, 1 };
	struct top_seen t;
	const char *error = NULL;
	char resid[16];
	int i;

	for (i = 0; i < 3; i++) {
		struct store_limit l = lim(owners[i], 7, STORE_COUNT_RECIPIENTS, 100);
		struct store_limit o = lim(owners[i], 8, STORE_COUNT_RECIPIENTS, 100);
		struct store_limit q = lim(owners[i], 0, STORE_COUNT_RECIPIENTS, 100);

		snprintf(resid, sizeof(resid), "r%d", i);
		lsend(resid, &l, amounts[i], BASE);
		lsend(resid, &o, 50, BASE);
		lsend(resid, &q, amounts[i] + 10, BASE);
	}
	memset(&t, 0, sizeof(t));
	CHECK_STATUS(store_limits_top(st, 7, 2, top_emit, &t, BASE + 1, &error), STORE_OK, "top");
	ck_assert_int_eq(t.n, 2);
	ck_assert_str_eq(t.owner[0], "u2");
	ck_assert_uint_eq(t.committed[0], 5);
	ck_assert_str_eq(t.owner[1], "u1");
	ck_assert_uint_eq(t.committed[1], 3);
	memset(&t, 0, sizeof(t));
	CHECK_STATUS(store_limits_top(st, 0, 10, top_emit, &t, BASE + 1, &error), STORE_OK,
		     "top of the single quota");
	ck_assert_int_eq(t.n, 3);
	ck_assert_str_eq(t.owner[0], "u2");
	ck_assert_uint_eq(t.committed[0], 15);
	ck_assert_str_eq(t.owner[2], "u3");
	memset(&t, 0, sizeof(t));
	CHECK_STATUS(store_limits_top(st, 9, 10, top_emit, &t, BASE + 1, &error), STORE_OK,
		     "top of an unused id");
	ck_assert_int_eq(t.n, 0);
	/* out of the window: nobody */
	memset(&t, 0, sizeof(t));
	CHECK_STATUS(store_limits_top(st, 7, 10, top_emit, &t, BASE + INTERVAL + RES, &error),
		     STORE_OK, "top later");
	ck_assert_int_eq(t.n, 0);
}
END_TEST

START_TEST(test_limits_id0_is_the_quota)
{
	struct store_quota_params p = params(5, 0);
	struct store_limit l[2] = { lim("bob", 0, STORE_COUNT_MESSAGES, 5),
				    lim("bob", 1, STORE_COUNT_MESSAGES, 100) };
	struct store_limit_state s[2];
	struct store_quota_state q;
	uint64_t one[2] = { 1, 1 };
	size_t refused;

	/* usage counted before the upgrade... */
	use("bob", 3, BASE);
	s[0] = lusage(&l[0], BASE);
	CHECK_LSTATE(s[0], 3, 0, 0, "id 0 sees store_quota's usage");
	ck_assert_int_eq(s[0].next_free, BASE + RES + INTERVAL);
	/* ...and the other way round */
	CHECK_STATUS(lreserve("m1", l, 2, one, NULL, BASE + 1, NULL, s), STORE_OK, "m1");
	q = usage("bob", &p, BASE + 1);
	CHECK_STATE(q, 3, 1, 0, "store_quota sees id 0's reservation");
	lcommit("m1", l, 2, NULL, BASE + 1);
	CHECK_STATUS(reserve("bob", "q1", 1, &p, BASE + 2, NULL), STORE_OK, "quota q1");
	CHECK_STATUS(lreserve("m2", l, 2, one, NULL, BASE + 2, &refused, s), STORE_REFUSED,
		     "m2: id 0 full");
	ck_assert_uint_eq(refused, 0);
	s[1] = lusage(&l[1], BASE + 2);
	CHECK_LSTATE(s[1], 1, 0, 0, "id 1 not charged");
	commit("bob", "q1", &p, BASE + 2);
	q = usage("bob", &p, BASE + 2);
	CHECK_STATE(q, 5, 0, 0, "five in the single quota");
}
END_TEST

/* swin - a sliding limit of "burst" with its own interval and resolution */
static struct store_limit swin(uint32_t id, uint32_t interval, uint32_t resolution,
			       uint64_t max)
{
	struct store_limit l = lim("burst", id, STORE_COUNT_MESSAGES, max);

	l.interval = interval;
	l.resolution = resolution;
	return l;
}

/* short_live - the committed units of test_limits_short_window's 8 s limit
 * at now: one unit at each of BASE, BASE + 1, BASE + 2, counted while now <
 * start + resolution + interval (store.h) */
static uint64_t short_live(int64_t now)
{
	uint64_t c = 0;
	int64_t t;

	for (t = BASE; t <= BASE + 2; t++)
		if (now < t + 1 + 8)
			c++;
	return c;
}

START_TEST(test_limits_short_window)
{
	/* a short sliding window among a user's limits (LIMITS-NOTES.md,
	 * 19:40): id 1 is 8 s / 1 s, max 3; _i == 0: id 1 alone, 1: with id
	 * 2 (60 s / 5 s, max 5), 2: with id 0 (the quota, 86400 s / 300 s)
	 * too.  Once a bucket of id 1 has left the window, usage and reserve
	 * (granted or refused) must agree, whichever call saw it leave. */
	struct store_limit l[3];
	struct store_limit_state s[3];
	uint64_t one[3] = { 1, 1, 1 }, over[3] = { 1, 1, 1 };
	size_t n = 0, k, i, refused;
	const char *error = NULL;
	char resid[8], what[64];
	int64_t now;

	if (_i == 2)
		l[n++] = swin(0, 86400, 300, 1000);
	k = n;
	l[n++] = swin(1, 8, 1, 3);
	if (_i >= 1)
		l[n++] = swin(2, 60, 5, 5);
	over[k] = 4;
	for (i = 0; i < 3; i++) {
		snprintf(resid, sizeof(resid), "m%zu", i);
		CHECK_STATUS(lreserve(resid, l, n, one, NULL, BASE + (int64_t)i, NULL, s),
			     STORE_OK, resid);
		lcommit(resid, l, n, NULL, BASE + (int64_t)i);
	}
	CHECK_STATUS(lreserve("m3", l, n, one, NULL, BASE + 3, &refused, s), STORE_REFUSED,
		     "m3 refused by the 8 s limit");
	ck_assert_uint_eq(refused, k);
	CHECK_LSTATE(s[k], 3, 0, 0, "m3 refused");
	/* BASE + 9: usage sees the first unit leave, then reserve */
	now = BASE + 9;
	CHECK_STATUS(store_limits_usage(st, l, n, now, s, &error), STORE_OK, "usage at +9");
	CHECK_LSTATE(s[k], short_live(now), 0, 0, "usage at +9");
	for (i = 0; i < n; i++)
		if (i != k)
			CHECK_LSTATE(s[i], 3, 0, 0, "the other limits at +9");
	CHECK_STATUS(lreserve("m4", l, n, one, NULL, now, NULL, s), STORE_OK, "m4 at +9");
	CHECK_LSTATE(s[k], short_live(now), 1, 1, "reserve at +9 after usage");
	CHECK_STATUS(store_limits_release(st, "m4", l, n, now, &error), STORE_OK, "release m4");
	/* BASE + 10: a refused reserve sees the second unit leave, then
	 * usage and a granted reserve */
	now = BASE + 10;
	CHECK_STATUS(lreserve("big", l, n, over, NULL, now, &refused, s), STORE_REFUSED,
		     "big at +10");
	ck_assert_uint_eq(refused, k);
	CHECK_LSTATE(s[k], short_live(now), 0, 0, "big refused at +10");
	CHECK_STATUS(store_limits_usage(st, l, n, now, s, &error), STORE_OK, "usage at +10");
	snprintf(what, sizeof(what), "usage at +10 after a refusal (%zu limits)", n);
	CHECK_LSTATE(s[k], short_live(now), 0, 0, what);
	CHECK_STATUS(lreserve("m5", l, n, one, NULL, now, NULL, s), STORE_OK, "m5 at +10");
	CHECK_LSTATE(s[k], short_live(now), 1, 1, "reserve at +10");
	lcommit("m5", l, n, NULL, now);
	/* BASE + 11: the last of the three left, m5 counts */
	now = BASE + 11;
	CHECK_STATUS(store_limits_usage(st, l, n, now, s, &error), STORE_OK, "usage at +11");
	CHECK_LSTATE(s[k], short_live(now) + 1, 0, 0, "usage at +11");
	CHECK_STATUS(lreserve("m6", l, n, one, NULL, now, NULL, s), STORE_OK, "m6 at +11");
	CHECK_LSTATE(s[k], short_live(now) + 1, 1, 1, "reserve at +11");
	for (i = 0; i < n; i++)
		if (i != k)
			CHECK_LSTATE(s[i], 4, 1, 1, "the other limits at +11");
}
END_TEST

START_TEST(test_limits_arguments)
{
	struct store_limit l[2] = { lim("bob", 1, STORE_COUNT_MESSAGES, 5),
				    lim("bob", 1, STORE_COUNT_RECIPIENTS, 5) };
	struct store_limit bad = cal("bob", 0, STORE_COUNT_MESSAGES, 5, DBASE, DBASE + DAY);
	struct store_limit_ask asks[2] = { { 1, 0 }, { 1, 0 } };
	struct store_limit_state s[2];
	const char *error = NULL;

	CHECK_STATUS(store_limits_reserve(st, "m", l, asks, 2, BASE, NULL, s, &error),
		     STORE_ERROR, "the same limit twice");
	CHECK_STATUS(store_limits_reserve(st, "m", &bad, asks, 1, BASE, NULL, s, &error),
		     STORE_ERROR, "id 0 calendar");
	CHECK_STATUS(store_limits_reserve(st, "m", l, asks, 0, BASE, NULL, s, &error),
		     STORE_ERROR, "no limits");
	bad = cal("bob", 1, STORE_COUNT_MESSAGES, 5, DBASE, DBASE);
	CHECK_STATUS(store_limits_reserve(st, "m", &bad, asks, 1, BASE, NULL, s, &error),
		     STORE_ERROR, "empty period");
	CHECK_STATUS(store_limits_reserve(st, "", l, asks, 1, BASE, NULL, s, &error),
		     STORE_ERROR, "empty resid");
	CHECK_STATUS(store_limits_usage(st, l, 1, -1, s, &error), STORE_ERROR, "bad clock");
	/* a binary owner ("\0pool" + domain) is its own key */
	l[0].owner = "\0poolx";
	l[0].owner_len = 6;
	l[1] = lim("", 1, STORE_COUNT_MESSAGES, 5);
	l[1].owner = "\0poolY";
	l[1].owner_len = 6;
	CHECK_STATUS(store_limits_reserve(st, "m", l, asks, 2, BASE, NULL, s, &error), STORE_OK,
		     "two pools");
	CHECK_LSTATE(s[0], 0, 1, 1, "pool x");
	CHECK_LSTATE(s[1], 0, 1, 1, "pool Y");
}
END_TEST

#define LTHREADS 16
#define LPER_THREAD 40
#define LPOOL 150	/* the binding limit: the domain pool */

struct lworker {
	pthread_t thread;
	int index;
	int granted[2], refused, errors;
	char error[256];
};

/* lworker_main - LPER_THREAD messages for user a or b, three limits each */
static void *lworker_main(void *arg)
{
	struct lworker *w = arg;
	const char *user = w->index % 2 == 0 ? "a" : "b";
	struct store_limit l[3] = { lim(user, 1, STORE_COUNT_MESSAGES, 1000),
				    lim(user, 0, STORE_COUNT_RECIPIENTS, 1000),
				    lim("pool", 2, STORE_COUNT_MESSAGES, LPOOL) };
	struct store_limit_ask asks[3] = { { 1, 0 }, { 1, 0 }, { 1, 0 } };
	const char *error;
	char resid[32];
	int i, ret;

	l[0].window = STORE_WINDOW_CALENDAR;
	l[0].period_start = BASE;
	l[0].period_end = BASE + DAY;
	for (i = 0; i < LPER_THREAD; i++) {
		snprintf(resid, sizeof(resid), "t%d-%d", w->index, i);
		error = NULL;
		ret = store_limits_reserve(st, resid, l, asks, 3, BASE, NULL, NULL, &error);
		if (ret == STORE_OK && i % 2 == 0)
			ret = store_limits_commit(st, resid, l, NULL, 3, BASE, &error);
		if (ret == STORE_OK) {
			w->granted[w->index % 2]++;
		} else if (ret == STORE_REFUSED) {
			w->refused++;
		} else {
			w->errors++;
			snprintf(w->error, sizeof(w->error), "%s", error ? error : "?");
		}
	}
	return NULL;
}

START_TEST(test_limits_concurrency)
{
	struct lworker w[LTHREADS];
	struct store_limit_state s;
	struct store_limit pool = lim("pool", 2, STORE_COUNT_MESSAGES, LPOOL);
	int i, started, granted[2] = { 0, 0 }, refused = 0;

	memset(w, 0, sizeof(w));
	for (started = 0; started < LTHREADS; started++) {
		w[started].index = started;
		if (pthread_create(&w[started].thread, NULL, lworker_main, &w[started]) != 0)
			break;
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	ck_assert_msg(started == LTHREADS, "pthread_create: started %d threads, want %d",
		      started, LTHREADS);
	for (i = 0; i < LTHREADS; i++) {
		ck_assert_msg(w[i].errors == 0, "thread %d: %d errors, last: %s", i, w[i].errors,
			      w[i].error);
		granted[0] += w[i].granted[0];
		granted[1] += w[i].granted[1];
		refused += w[i].refused;
	}
	ck_assert_msg(granted[0] + granted[1] == LPOOL, "granted: got %d, want %d",
		      granted[0] + granted[1], LPOOL);
	ck_assert_int_eq(refused, LTHREADS * LPER_THREAD - LPOOL);
	s = lusage(&pool, BASE);
	ck_assert_uint_eq(s.committed + s.reserved, LPOOL);
	for (i = 0; i < 2; i++) {
		struct store_limit day = cal(i == 0 ? "a" : "b", 1, STORE_COUNT_MESSAGES, 1000,
					     BASE, BASE + DAY);
		struct store_limit one = lim(i == 0 ? "a" : "b", 0, STORE_COUNT_RECIPIENTS, 1000);
		struct store_limit_state d = lusage(&day, BASE), o = lusage(&one, BASE);

		ck_assert_msg(d.committed + d.reserved == (uint64_t)granted[i],
			      "user %d daily: %llu, want %d", i,
			      (unsigned long long)(d.committed + d.reserved), granted[i]);
		ck_assert_msg(o.committed + o.reserved == (uint64_t)granted[i],
			      "user %d id 0: %llu, want %d", i,
			      (unsigned long long)(o.committed + o.reserved), granted[i]);
	}
}
END_TEST

/* ---- locks, strikes and events ------------------------------------------ */

struct lock_seen {
	int n;
	char user[4][16];
	size_t user_len[4];
	int64_t since[4];
	char reason[4][STORE_LOCK_REASON_MAX];
};

/* lock_emit - store_locks_list's callback: record up to 4 locks */
static void lock_emit(void *ctx, const char *user, size_t user_len, int64_t since,
		      const char *reason)
{
	struct lock_seen *seen = ctx;

	if (seen->n < 4 && user_len <= sizeof(seen->user[0])) {
		memcpy(seen->user[seen->n], user, user_len);
		seen->user_len[seen->n] = user_len;
		seen->since[seen->n] = since;
		snprintf(seen->reason[seen->n], sizeof(seen->reason[0]), "%s", reason);
	}
	seen->n++;
}

/* locks_seen - every lock, through store_locks_list */
static struct lock_seen locks_seen(void)
{
	struct lock_seen seen;
	const char *error = NULL;
	int ret;

	memset(&seen, 0, sizeof(seen));
	ret = store_locks_list(st, lock_emit, &seen, &error);
	ck_assert_msg(ret == STORE_OK, "locks list: got %s (%s)", status_name(ret), error);
	return seen;
}

/* lock_get_n - store_lock_get, which must not fail */
static int lock_get_n(const char *user, size_t len, struct store_lock_info *info)
{
	const char *error = NULL;
	int ret = store_lock_get(st, user, len, info, &error);

	ck_assert_msg(ret != STORE_ERROR, "lock get: %s", error);
	return ret;
}

/* strike - store_lock_strike, which must succeed; *locked_r gets its verdict */
static uint32_t strike(const char *user, uint32_t after, uint32_t window, int64_t now,
		       int *locked_r)
{
	const char *error = NULL;
	uint32_t strikes = 0;
	int ret;

	ret = store_lock_strike(st, user, strlen(user), after, window, "strikes", now, &strikes,
				locked_r, &error);
	ck_assert_msg(ret == STORE_OK, "strike %s at %lld: got %s (%s)", user, (long long)now,
		      status_name(ret), error);
	return strikes;
}

START_TEST(test_lock_set_get_clear)
{
	struct store_lock_info info;
	struct lock_seen seen;
	const char *error = NULL;
	char longer[400];
	int i;

	ck_assert_int_eq(lock_get_n("bob", 3, &info), STORE_MISS);
	ck_assert_int_eq(locks_seen().n, 0);
	CHECK_STATUS(store_lock_set(st, "bob", 3, "by hand", BASE, &error), STORE_OK, "lock");
	memset(&info, 0xff, sizeof(info));
	ck_assert_int_eq(lock_get_n("bob", 3, &info), STORE_OK);
	ck_assert_int_eq(info.since, BASE);
	ck_assert_str_eq(info.reason, "by hand");
	ck_assert_int_eq(lock_get_n("bob", 3, NULL), STORE_OK);
	/* locking again keeps the first since and reason */
	CHECK_STATUS(store_lock_set(st, "bob", 3, "again", BASE + 50, &error), STORE_REFUSED,
		     "lock again");
	ck_assert_int_eq(lock_get_n("bob", 3, &info), STORE_OK);
	ck_assert_int_eq(info.since, BASE);
	ck_assert_str_eq(info.reason, "by hand");
	ck_assert_int_eq(lock_get_n("bo", 2, &info), STORE_MISS);
	ck_assert_int_eq(lock_get_n("bobby", 5, &info), STORE_MISS);

	/* a reason too long is cut to fit; NULL is "" */
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	CHECK_STATUS(store_lock_set(st, "eve", 3, longer, BASE + 1, &error), STORE_OK, "lock eve");
	ck_assert_int_eq(lock_get_n("eve", 3, &info), STORE_OK);
	ck_assert_uint_eq(strlen(info.reason), STORE_LOCK_REASON_MAX - 1);
	CHECK_STATUS(store_lock_set(st, "amy", 3, NULL, BASE + 2, &error), STORE_OK, "lock amy");
	ck_assert_int_eq(lock_get_n("amy", 3, &info), STORE_OK);
	ck_assert_str_eq(info.reason, "");

	/* the list's order is the engine's (LMDB: by name; Redis: SCAN's) */
	seen = locks_seen();
	ck_assert_int_eq(seen.n, 3);
	for (i = 0; i < seen.n; i++)
		if (seen.user_len[i] == 3 && memcmp(seen.user[i], "amy", 3) == 0)
			break;
	ck_assert_msg(i < seen.n, "list: amy missing");
	ck_assert_int_eq(seen.since[i], BASE + 2);

	CHECK_STATUS(store_lock_clear(st, "bob", 3, &error), STORE_OK, "unlock");
	ck_assert_int_eq(lock_get_n("bob", 3, &info), STORE_MISS);
	CHECK_STATUS(store_lock_clear(st, "bob", 3, &error), STORE_MISS, "unlock again");
	CHECK_STATUS(store_lock_clear(st, "nobody", 6, &error), STORE_MISS, "unlock unknown");
	ck_assert_int_eq(locks_seen().n, 2);
}
END_TEST

/*
 * test_mail_lookup - store_mail_lookup gives what store_cache_get and
 * store_lock_get give, in each combination (hit/miss/expired x locked/not),
 * binary-safe user names, and refuses bad arguments
 */
START_TEST(test_mail_lookup)
{
	struct store_lock_info info;
	unsigned char key[128];
	char val[16];
	const char *error = NULL;
	size_t klen, vlen;
	int lock;

	klen = store_key(key, sizeof(key), "sda", "m\0x", "d", "example.org", NULL);
	ck_assert_uint_gt(klen, 0);
	/* neither present */
	vlen = sizeof(val);
	lock = 99;
	CHECK_STATUS(store_mail_lookup(st, key, klen, val, &vlen, "m\0x", 3, BASE, &lock, &info,
				       &error), STORE_MISS, "nothing");
	CHECK_STATUS(lock, STORE_MISS, "nothing: lock");

	/* cached, not locked */
	CHECK_STATUS(store_cache_set(st, key, klen, "1", 1, 60, BASE, &error), STORE_OK, "set");
	vlen = sizeof(val);
	CHECK_STATUS(store_mail_lookup(st, key, klen, val, &vlen, "m\0x", 3, BASE + 1, &lock,
				       &info, &error), STORE_OK, "hit");
	ck_assert_uint_eq(vlen, 1);
	ck_assert_int_eq(val[0], '1');
	CHECK_STATUS(lock, STORE_MISS, "hit: lock");

	/* cached and locked; a user sharing a prefix is not locked */
	CHECK_STATUS(store_lock_set(st, "m\0x", 3, "held", BASE + 2, &error), STORE_OK, "lock");
	vlen = sizeof(val);
	memset(&info, 0xff, sizeof(info));
	CHECK_STATUS(store_mail_lookup(st, key, klen, val, &vlen, "m\0x", 3, BASE + 3, &lock,
				       &info, &error), STORE_OK, "hit, locked");
	CHECK_STATUS(lock, STORE_OK, "hit, locked: lock");
	ck_assert_int_eq(info.since, BASE + 2);
	ck_assert_str_eq(info.reason, "held");
	vlen = sizeof(val);
	CHECK_STATUS(store_mail_lookup(st, key, klen, val, &vlen, "m\0", 2, BASE + 3, &lock, NULL,
				       &error), STORE_OK, "other user");
	CHECK_STATUS(lock, STORE_MISS, "other user: lock");

	/* expired entry, still locked: as store_cache_get and store_lock_get */
	vlen = sizeof(val);
	CHECK_STATUS(store_mail_lookup(st, key, klen, val, &vlen, "m\0x", 3, BASE + 60, &lock,
				       &info, &error), STORE_MISS, "expired");
	CHECK_STATUS(lock, STORE_OK, "expired: lock");
	ck_assert_str_eq(info.reason, "held");
	vlen = sizeof(val);
	CHECK_STATUS(store_cache_get(st, key, klen, val, &vlen, BASE + 60, &error), STORE_MISS,
		     "cache get agrees");

	/* unlocked again */
	CHECK_STATUS(store_lock_clear(st, "m\0x", 3, &error), STORE_OK, "unlock");
	CHECK_STATUS(store_cache_set(st, key, klen, "0", 1, 60, BASE + 61, &error), STORE_OK,
		     "set again");
	vlen = sizeof(val);
	CHECK_STATUS(store_mail_lookup(st, key, klen, val, &vlen, "m\0x", 3, BASE + 62, &lock,
				       &info, &error), STORE_OK, "hit, unlocked");
	ck_assert_int_eq(val[0], '0');
	CHECK_STATUS(lock, STORE_MISS, "hit, unlocked: lock");

	/* a value that does not fit is an error for both answers */
	vlen = 0;
	CHECK_STATUS(store_mail_lookup(st, key, klen, val, &vlen, "m\0x", 3, BASE + 62, &lock,
				       &info, &error), STORE_ERROR, "small buffer");
	CHECK_STATUS(lock, STORE_ERROR, "small buffer: lock");

	/* bad arguments */
	vlen = sizeof(val);
	CHECK_STATUS(store_mail_lookup(st, key, klen, val, &vlen, "", 0, BASE, &lock, &info,
				       &error), STORE_ERROR, "empty user");
	CHECK_STATUS(store_mail_lookup(st, key, 0, val, &vlen, "u", 1, BASE, &lock, &info,
				       &error), STORE_ERROR, "empty key");
	CHECK_STATUS(store_mail_lookup(st, key, klen, val, NULL, "u", 1, BASE, &lock, &info,
				       &error), STORE_ERROR, "no buffer");
	CHECK_STATUS(store_mail_lookup(NULL, key, klen, val, &vlen, "u", 1, BASE, &lock, &info,
				       &error), STORE_ERROR, "no store");
}
END_TEST

START_TEST(test_lock_strikes)
{
	struct store_lock_info info;
	const char *error = NULL;
	int locked = -1;

	ck_assert_uint_eq(strike("s", 3, 600, BASE, &locked), 1);
	ck_assert_int_eq(locked, 0);
	ck_assert_uint_eq(strike("s", 3, 600, BASE + 10, &locked), 2);
	ck_assert_int_eq(locked, 0);
	ck_assert_int_eq(lock_get_n("s", 1, NULL), STORE_MISS);
	ck_assert_uint_eq(strike("s", 3, 600, BASE + 20, &locked), 3);
	ck_assert_int_eq(locked, 1);
	ck_assert_int_eq(lock_get_n("s", 1, &info), STORE_OK);
	ck_assert_int_eq(info.since, BASE + 20);
	ck_assert_str_eq(info.reason, "strikes");
	/* more strikes: still at most `after` kept, nobody locks again */
	ck_assert_uint_eq(strike("s", 3, 600, BASE + 30, &locked), 3);
	ck_assert_int_eq(locked, 0);
	ck_assert_int_eq(lock_get_n("s", 1, &info), STORE_OK);
	ck_assert_int_eq(info.since, BASE + 20);
	/* unlock forgets the strikes */
	CHECK_STATUS(store_lock_clear(st, "s", 1, &error), STORE_OK, "unlock");
	ck_assert_uint_eq(strike("s", 3, 600, BASE + 31, &locked), 1);
	ck_assert_int_eq(locked, 0);
	/* a strike-only user is not a lock, and clearing it is a miss */
	ck_assert_int_eq(locks_seen().n, 0);
	CHECK_STATUS(store_lock_clear(st, "s", 1, &error), STORE_MISS, "unlock strikes only");
	ck_assert_uint_eq(strike("s", 3, 600, BASE + 32, &locked), 1);
	/* after = 1: the first strike locks; strikes_r and locked_r may be NULL */
	ck_assert_uint_eq(strike("one", 1, 600, BASE, &locked), 1);
	ck_assert_int_eq(locked, 1);
	CHECK_STATUS(store_lock_strike(st, "two", 3, 1, 600, "r", BASE, NULL, NULL, &error),
		     STORE_OK, "strike without outputs");
	ck_assert_int_eq(lock_get_n("two", 3, NULL), STORE_OK);
	/* a manual lock is not re-locked by strikes */
	CHECK_STATUS(store_lock_set(st, "m", 1, "manual", BASE, &error), STORE_OK, "lock m");
	ck_assert_uint_eq(strike("m", 1, 600, BASE + 1, &locked), 1);
	ck_assert_int_eq(locked, 0);
	ck_assert_int_eq(lock_get_n("m", 1, &info), STORE_OK);
	ck_assert_str_eq(info.reason, "manual");
}
END_TEST

START_TEST(test_lock_strike_window)
{
	int locked = -1;

	/* window 60: a strike counts while now - t < 60 */
	ck_assert_uint_eq(strike("w", 3, 60, BASE, &locked), 1);
	ck_assert_uint_eq(strike("w", 3, 60, BASE + 30, &locked), 2);
	ck_assert_uint_eq(strike("w", 3, 60, BASE + 60, &locked), 2);	/* BASE is out */
	ck_assert_int_eq(locked, 0);
	ck_assert_uint_eq(strike("w", 3, 60, BASE + 95, &locked), 2);	/* BASE + 30 out */
	ck_assert_int_eq(locked, 0);
	ck_assert_uint_eq(strike("w", 3, 60, BASE + 300, &locked), 1);	/* all out */
	ck_assert_int_eq(lock_get_n("w", 1, NULL), STORE_MISS);
	ck_assert_uint_eq(strike("w", 3, 60, BASE + 301, &locked), 2);
	ck_assert_uint_eq(strike("w", 3, 60, BASE + 359, &locked), 3);
	ck_assert_int_eq(locked, 1);
	/* a clock a little behind (another host) still counts, in order */
	ck_assert_uint_eq(strike("x", 3, 60, BASE + 50, &locked), 1);
	ck_assert_uint_eq(strike("x", 3, 60, BASE + 40, &locked), 2);
	ck_assert_uint_eq(strike("x", 3, 60, BASE + 101, &locked), 2);	/* BASE + 40 out */
	ck_assert_int_eq(locked, 0);
}
END_TEST

START_TEST(test_lock_user_names)
{
	static const struct {
		const char *name;
		size_t len;
	} users[] = {
		{ "a\0b", 3 }, { "a\0c", 3 }, { "a:b", 3 }, { "a", 1 }, { "a:", 2 },
		{ "a\0", 2 }, { "a:b:", 4 },
	};
	struct store_lock_info info;
	struct lock_seen seen;
	const char *error = NULL;
	size_t i;
	int j, locked;

	CHECK_STATUS(store_lock_set(st, "a\0b", 3, "nul", BASE, &error), STORE_OK, "lock a\\0b");
	CHECK_STATUS(store_lock_set(st, "a:b", 3, "colon", BASE + 1, &error), STORE_OK,
		     "lock a:b");
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		int want = i == 0 || i == 2 ? STORE_OK : STORE_MISS;

		ck_assert_msg(lock_get_n(users[i].name, users[i].len, &info) == want,
			      "user %zu: got the wrong lock status", i);
		if (want == STORE_OK)
			ck_assert_str_eq(info.reason, i == 0 ? "nul" : "colon");
	}
	seen = locks_seen();
	ck_assert_int_eq(seen.n, 2);
	for (j = 0; j < 2; j++)
		ck_assert_msg(seen.user_len[j] == 3 &&
			      (memcmp(seen.user[j], "a\0b", 3) == 0 ||
			       memcmp(seen.user[j], "a:b", 3) == 0),
			      "list entry %d: got %zu bytes", j, seen.user_len[j]);
	ck_assert_msg(memcmp(seen.user[0], seen.user[1], 3) != 0, "list: the same user twice");
	/* strikes are per exact name too */
	CHECK_STATUS(store_lock_strike(st, "a\0c", 3, 2, 60, "r", BASE, NULL, &locked, &error),
		     STORE_OK, "strike a\\0c");
	CHECK_STATUS(store_lock_strike(st, "a\0d", 3, 2, 60, "r", BASE, NULL, &locked, &error),
		     STORE_OK, "strike a\\0d");
	ck_assert_int_eq(locked, 0);
	CHECK_STATUS(store_lock_clear(st, "a\0b", 3, &error), STORE_OK, "unlock a\\0b");
	ck_assert_int_eq(lock_get_n("a:b", 3, NULL), STORE_OK);
}
END_TEST

START_TEST(test_lock_arguments)
{
	const char *error = NULL;
	uint32_t strikes = 7;
	int locked = 7;

	CHECK_STATUS(store_lock_get(st, "", 0, NULL, &error), STORE_ERROR, "empty user");
	CHECK_STATUS(store_lock_set(st, NULL, 0, "r", BASE, &error), STORE_ERROR, "NULL user");
	CHECK_STATUS(store_lock_set(st, "u", 1, "r", -1, &error), STORE_ERROR, "bad clock");
	CHECK_STATUS(store_lock_clear(NULL, "u", 1, &error), STORE_ERROR, "no store");
	CHECK_STATUS(store_lock_strike(st, "u", 1, 0, 60, "r", BASE, &strikes, &locked, &error),
		     STORE_ERROR, "after 0");
	ck_assert_msg(strikes == 0 && locked == 0, "outputs not cleared on error");
	CHECK_STATUS(store_lock_strike(st, "u", 1, 3, 0, "r", BASE, NULL, NULL, &error),
		     STORE_ERROR, "window 0");
	CHECK_STATUS(store_lock_strike(st, "u", 1, STORE_LOCK_AFTER_MAX + 1, 60, "r", BASE, NULL,
				       NULL, &error), STORE_ERROR, "after too large");
	CHECK_STATUS(store_locks_list(st, NULL, NULL, &error), STORE_ERROR, "no callback");
	CHECK_STATUS(store_events_list(st, 10, NULL, NULL, &error), STORE_ERROR, "no callback");
	CHECK_STATUS(store_event_add(st, "", 0, BASE, &error), STORE_ERROR, "empty event");
	ck_assert_int_eq(lock_get_n("u", 1, NULL), STORE_MISS);
}
END_TEST

struct event_seen {
	int n;
	int64_t first_time, last_time;
	char first[64], last[64];
	size_t max_len;
};

/* event_emit - store_events_list's callback: keep the first and the last */
static void event_emit(void *ctx, int64_t time, const char *text, size_t len)
{
	struct event_seen *seen = ctx;

	if (seen->n == 0) {
		seen->first_time = time;
		snprintf(seen->first, sizeof(seen->first), "%.*s", (int)len, text);
	}
	seen->last_time = time;
	snprintf(seen->last, sizeof(seen->last), "%.*s", (int)len, text);
	if (len > seen->max_len)
		seen->max_len = len;
	seen->n++;
}

/* events_seen - store_events_list(max), which must succeed */
static struct event_seen events_seen(size_t max)
{
	struct event_seen seen;
	const char *error = NULL;
	int ret;

	memset(&seen, 0, sizeof(seen));
	ret = store_events_list(st, max, event_emit, &seen, &error);
	ck_assert_msg(ret == STORE_OK, "events list: got %s (%s)", status_name(ret), error);
	return seen;
}

START_TEST(test_events)
{
	struct event_seen seen;
	const char *error = NULL;
	char text[STORE_EVENT_MAX + 2];
	int i, len;

	ck_assert_int_eq(events_seen(10).n, 0);
	for (i = 0; i < STORE_EVENTS_KEEP + 5; i++) {
		len = snprintf(text, sizeof(text), "{\"n\":%d}", i);
		CHECK_STATUS(store_event_add(st, text, (size_t)len, BASE + i, &error), STORE_OK,
			     "event add");
	}
	seen = events_seen(5000);
	ck_assert_int_eq(seen.n, STORE_EVENTS_KEEP);
	ck_assert_str_eq(seen.first, "{\"n\":1004}");
	ck_assert_int_eq(seen.first_time, BASE + 1004);
	ck_assert_str_eq(seen.last, "{\"n\":5}");
	ck_assert_int_eq(seen.last_time, BASE + 5);
	seen = events_seen(3);
	ck_assert_int_eq(seen.n, 3);
	ck_assert_str_eq(seen.first, "{\"n\":1004}");
	ck_assert_str_eq(seen.last, "{\"n\":1002}");
	ck_assert_int_eq(events_seen(0).n, 0);

	/* STORE_EVENT_MAX bytes pass (binary-safe: a NUL inside), one more is refused */
	memset(text, 'e', sizeof(text));
	text[10] = '\0';
	CHECK_STATUS(store_event_add(st, text, STORE_EVENT_MAX, BASE + 2000, &error), STORE_OK,
		     "event of STORE_EVENT_MAX bytes");
	CHECK_STATUS(store_event_add(st, text, STORE_EVENT_MAX + 1, BASE + 2001, &error),
		     STORE_ERROR, "event too long");
	ck_assert_msg(error != NULL && strstr(error, "too long") != NULL, "error: got %s",
		      error);
	seen = events_seen(1);
	ck_assert_int_eq(seen.n, 1);
	ck_assert_int_eq(seen.first_time, BASE + 2000);
	ck_assert_uint_eq(seen.max_len, STORE_EVENT_MAX);
	ck_assert_int_eq(events_seen(5000).n, STORE_EVENTS_KEEP);
}
END_TEST

#define LOCK_THREADS 16
#define LOCK_STRIKES 4		/* per thread */
#define LOCK_AFTER 16

struct lock_worker {
	pthread_t thread;
	pthread_barrier_t *go;
	int locked, errors, max_strikes;
	char error[256];
};

/* lock_worker_main - LOCK_STRIKES strikes of one shared user */
static void *lock_worker_main(void *arg)
{
	struct lock_worker *w = arg;
	const char *error;
	uint32_t strikes;
	int i, locked, ret;

	pthread_barrier_wait(w->go);
	for (i = 0; i < LOCK_STRIKES; i++) {
		error = NULL;
		ret = store_lock_strike(st, "shared", 6, LOCK_AFTER, 3600, "race", BASE + i,
					&strikes, &locked, &error);
		if (ret != STORE_OK) {
			w->errors++;
			snprintf(w->error, sizeof(w->error), "%s", error ? error : "?");
			continue;
		}
		w->locked += locked;
		if ((int)strikes > w->max_strikes)
			w->max_strikes = (int)strikes;
	}
	return NULL;
}

/*
 * run_lock_workers - LOCK_THREADS threads of fn on w (zeroed first), started
 * together at a barrier and joined; none may report an error
 */
static void run_lock_workers(struct lock_worker *w, void *(*fn)(void *))
{
	pthread_barrier_t go;
	int i, started;

	memset(w, 0, LOCK_THREADS * sizeof(*w));
	ck_assert_int_eq(pthread_barrier_init(&go, NULL, LOCK_THREADS), 0);
	for (started = 0; started < LOCK_THREADS; started++) {
		w[started].go = &go;
		if (pthread_create(&w[started].thread, NULL, fn, &w[started]) != 0)
			break;
	}
	ck_assert_msg(started == LOCK_THREADS, "pthread_create: started %d threads, want %d",
		      started, LOCK_THREADS);	/* the barrier would hold the others */
	for (i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < LOCK_THREADS; i++)
		ck_assert_msg(w[i].errors == 0, "thread %d: %d errors, last: %s", i, w[i].errors,
			      w[i].error);
}

START_TEST(test_lock_concurrency)
{
	struct lock_worker w[LOCK_THREADS];
	int i, locked = 0, max_strikes = 0;

	run_lock_workers(w, lock_worker_main);
	for (i = 0; i < LOCK_THREADS; i++) {
		locked += w[i].locked;
		if (w[i].max_strikes > max_strikes)
			max_strikes = w[i].max_strikes;
	}
	ck_assert_msg(locked == 1, "callers told they locked: got %d, want exactly 1", locked);
	ck_assert_int_eq(max_strikes, LOCK_AFTER);	/* bounded at after */
	ck_assert_int_eq(lock_get_n("shared", 6, NULL), STORE_OK);
}
END_TEST

/* lock_set_worker_main - one store_lock_set of a shared user: locked counts STORE_OK */
static void *lock_set_worker_main(void *arg)
{
	struct lock_worker *w = arg;
	const char *error = NULL;
	int ret;

	pthread_barrier_wait(w->go);
	ret = store_lock_set(st, "setrace", 7, "race", BASE, &error);
	if (ret == STORE_OK)
		w->locked++;
	else if (ret != STORE_REFUSED) {
		w->errors++;
		snprintf(w->error, sizeof(w->error), "%s", error ? error : "?");
	}
	return NULL;
}

/* Locking by hand (CLI, API) at once: exactly one caller is told it locked */
START_TEST(test_lock_set_race)
{
	struct lock_worker w[LOCK_THREADS];
	int i, locked = 0;

	run_lock_workers(w, lock_set_worker_main);
	for (i = 0; i < LOCK_THREADS; i++)
		locked += w[i].locked;
	ck_assert_msg(locked == 1, "callers told they locked: got %d, want exactly 1", locked);
	ck_assert_int_eq(lock_get_n("setrace", 7, NULL), STORE_OK);
}
END_TEST

/* events_worker_main - 100 events from one thread */
static void *events_worker_main(void *arg)
{
	struct lock_worker *w = arg;
	const char *error;
	char text[32];
	int i, len;

	pthread_barrier_wait(w->go);
	for (i = 0; i < 100; i++) {
		error = NULL;
		len = snprintf(text, sizeof(text), "{\"i\":%d}", i);
		if (store_event_add(st, text, (size_t)len, BASE, &error) != STORE_OK) {
			w->errors++;
			snprintf(w->error, sizeof(w->error), "%s", error ? error : "?");
		}
	}
	return NULL;
}

START_TEST(test_events_concurrency)
{
	struct lock_worker w[LOCK_THREADS];

	run_lock_workers(w, events_worker_main);
	/* 1600 added at once, exactly the newest 1000 kept */
	ck_assert_int_eq(events_seen(5000).n, STORE_EVENTS_KEEP);
}
END_TEST

Suite *store_contract_suite(const struct store_contract_backend *b)
{
	static char name[64];	/* Check keeps the pointer */
	Suite *s;
	TCase *tc;

	backend = b;
	snprintf(name, sizeof(name), "store contract (%s)", b->name);
	s = suite_create(name);

	tc = tcase_create("quota");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_reserve_under_limit);
	tcase_add_test(tc, test_refuse_at_limit);
	tcase_add_loop_test(tc, test_margin, 0,
			    (int)(sizeof(margin_rows) / sizeof(margin_rows[0])));
	tcase_add_test(tc, test_margin_story);
	tcase_add_test(tc, test_commit);
	tcase_add_test(tc, test_release);
	tcase_add_test(tc, test_reservation_expiry);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_usage_unknown);
	tcase_add_test(tc, test_user_names);
	tcase_add_test(tc, test_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("window");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_window_edges, 0,
			    (int)(sizeof(window_rows) / sizeof(window_rows[0])));
	tcase_add_test(tc, test_window_sliding);
	tcase_add_test(tc, test_many_buckets);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_cache_many);
	suite_add_tcase(s, tc);

	tc = tcase_create("key");
	tcase_add_test(tc, test_store_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("greylist");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_grey_new);
	tcase_add_test(tc, test_grey_early_keeps_clock);
	tcase_add_test(tc, test_grey_pass_after_delay);
	tcase_add_test(tc, test_grey_lifetime);
	tcase_add_test(tc, test_grey_retry_window);
	tcase_add_test(tc, test_grey_whitelist);
	tcase_add_test(tc, test_grey_whitelist_window);
	tcase_add_test(tc, test_grey_threshold_zero);
	tcase_add_test(tc, test_grey_tally);
	tcase_add_test(tc, test_grey_keys);
	tcase_add_test(tc, test_grey_arguments);
	tcase_add_test(tc, test_grey_peek);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_limits_messages);
	tcase_add_test(tc, test_limits_sliding_buckets);
	tcase_add_test(tc, test_limits_recipients);
	tcase_add_loop_test(tc, test_limits_refusal_leaves_no_trace, 0, 2);
	tcase_add_test(tc, test_limits_distinct);
	tcase_add_test(tc, test_limits_distinct_calendar);
	tcase_add_test(tc, test_limits_bytes);
	tcase_add_loop_test(tc, test_limits_calendar_day, 0, 3);
	tcase_add_test(tc, test_limits_calendar_month);
	tcase_add_test(tc, test_limits_release_expiry);
	tcase_add_test(tc, test_limits_reset);
	tcase_add_test(tc, test_limits_top);
	tcase_add_test(tc, test_limits_id0_is_the_quota);
	tcase_add_test(tc, test_limits_arguments);
	tcase_add_loop_test(tc, test_limits_short_window, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("locks");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_lock_set_get_clear);
	tcase_add_test(tc, test_mail_lookup);
	tcase_add_test(tc, test_lock_strikes);
	tcase_add_test(tc, test_lock_strike_window);
	tcase_add_test(tc, test_lock_user_names);
	tcase_add_test(tc, test_lock_arguments);
	tcase_add_test(tc, test_events);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_concurrency, 0, 2);
	tcase_add_test(tc, test_grey_concurrency);
	tcase_add_test(tc, test_limits_concurrency);
	tcase_add_test(tc, test_lock_concurrency);
	tcase_add_test(tc, test_lock_set_race);
	tcase_add_test(tc, test_events_concurrency);
	suite_add_tcase(s, tc);
	return s;
}
