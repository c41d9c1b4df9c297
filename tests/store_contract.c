/*
 * NAME
 *	store_contract - Check cases every store engine must pass
 * DESCRIPTION
 *	Written against store.h only.  Times are injected (now), parameters
 *	are chosen per case; a "big" parameter set with a huge limit is used
 *	to put a user into a known state (committed usage, open reservations)
 *	before the case's own parameters are applied.  Threads never call
 *	ck_assert: they record what they saw and the main thread asserts.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
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

#define CHECK_STATUS(got, want, what)                                                      \
	ck_assert_msg((got) == (want), "%s: got %s, want %s", (what), status_name(got),   \
		      status_name(want))

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
	int i, granted = 0, refused = 0;

	int started;

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

	tc = tcase_create("concurrency");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_concurrency, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
