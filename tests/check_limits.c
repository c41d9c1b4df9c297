/*
 * check_limits - issue 10's limits through the policy chain: several
 * limits per user (hourly under daily), calendar windows in a time zone
 * with DST, distinct recipients, bytes with and without SIZE=, per-message
 * caps, exemptions, domain defaults and pools, and the reply that names
 * the limit; on a real LMDB store and SQLite policy database in a
 * temporary directory, with an injected clock.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "test_util.h"
#include "base/config.h"
#include "base/reply.h"
#include "policy/limits.h"
#include "policy/policy.h"
#include "policy/quota.h"
#include "policydb/policydb.h"
#include "request/request.h"
#include "request/resolver.h"
#include "store/store.h"

#define QUOTA_REPLY "554 5.7.1 Rejected - outbound quota fulfilled"

static char dir[64];
static int64_t clock_now = 1800000000;	/* Fri 15 Jan 2027 09:00 in Berlin */
static struct config *cfg;
static struct backends *backends;
static struct policy_env env;
static struct policydb *db;
static char err[256];

/* test_clock - the injected clock */
static int64_t test_clock(void)
{
	return clock_now;
}

/* start - config (quota only, Europe/Berlin), fresh store and policy database */
static void start(const char *extra)
{
	char path[256], *errors = NULL;
	FILE *f;

	clock_now = 1800000000;
	ck_assert_ptr_nonnull(test_mkdtemp(dir, sizeof(dir), "/tmp", "check_limits.XXXXXX"));
	snprintf(path, sizeof(path), "%s/chapps.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"milter: { user = \"\"; group = \"\"; pidfile = \"\"; run_as_root = true; };\n"
		"store: { path = \"%s/state\"; };\n"
		"policy_db: { path = \"%s/policy.db\"; cache_ttl = 60; };\n"
		"outbound: { policies = [ \"quota\" ]; };\n"
		"quota: { counting_recipients = false; margin = 0; timezone = \"Europe/Berlin\"; %s };\n",
		dir, dir, extra ? extra : "");
	fclose(f);
	if (config_load(path, &cfg, &errors) < 0)
		ck_abort_msg("config: %s", errors);
	ck_assert_int_eq(limits_set_timezone(cfg, err, sizeof(err)), 0);
	backends = backends_create(cfg);
	env.config = cfg;
	env.backends = backends;
	env.clock = test_clock;
	ck_assert_int_eq(policydb_open(cfg, true, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_setup(db, err, sizeof(err)), POLICYDB_OK);
}

/* stop - free everything and remove the directory */
static void stop(void)
{
	policydb_close(&db);
	backends_destroy(&backends);
	config_unref(&cfg);
	test_rmtree(dir);
	dir[0] = '\0';
}

/* limit - add a limit to quota */
static void limit(const char *quota, const char *kind, const char *span, const char *max)
{
	struct policydb_limit l;

	ck_assert_msg(policydb_limit_parse(kind, span, max, &l, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(policydb_limit_add(db, quota, &l, err, sizeof(err)) == POLICYDB_OK, "%s", err);
}

/* user - a user with quota (NULL: none) */
static void user(const char *name, const char *quota)
{
	ck_assert_int_eq(policydb_user_add(db, name, err, sizeof(err)), POLICYDB_OK);
	if (quota != NULL)
		ck_assert_int_eq(policydb_user_set_quota(db, name, quota, err, sizeof(err)),
				 POLICYDB_OK);
}

static char last_reply[512];

static int64_t real_size = -1;		/* send: the size the milter counted (-1: none) */
static enum policy_action eom_action;	/* send: the result at EOM (CONTINUE: no EOM) */

/*
 * send - MAIL (with esmtp, e.g. "SIZE=600", or NULL) + the recipients of
 * rcpts (space-separated) + DATA when one passed, and EOM (with real_size
 * when not -1) when the message waits for it (a bytes limit): the number
 * accepted, -1 when MAIL was refused; last_reply gets the last refusal
 * ("" if none), eom_action the result at EOM
 */
static int send(const char *u, const char *sender, const char *esmtp, const char *rcpts)
{
	struct request *req = request_create(&cfg->limits, resolver_macro_count(cfg->resolver));
	struct policy_msg *msg = policy_msg_create();
	struct policy_result r;
	char list[512], *save = NULL;
	int accepted = 0;

	last_reply[0] = '\0';
	request_set(req, REQ_CLIENT_ADDR, "192.0.2.7");
	request_set(req, REQ_AUTH_AUTHEN, u);
	request_set_sender(req, sender);
	if (esmtp != NULL) {
		char arg[64], *argv[2] = { arg, NULL };

		snprintf(arg, sizeof(arg), "%s", esmtp);
		request_set_esmtp(req, argv);
	}
	policy_mail(&env, req, msg, &r);
	if (r.action == POLICY_REJECT || r.action == POLICY_TEMPFAIL) {
		reply_format(r.reply, last_reply, sizeof(last_reply));
		accepted = -1;
	} else if (r.action == POLICY_CONTINUE) {
		snprintf(list, sizeof(list), "%s", rcpts);
		for (char *a = strtok_r(list, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
			policy_rcpt(&env, req, msg, a, &r);
			if (r.action == POLICY_CONTINUE)
				accepted++;
			else
				reply_format(r.reply, last_reply, sizeof(last_reply));
		}
		eom_action = POLICY_CONTINUE;
		if (accepted > 0) {
			policy_data(&env, req, msg, &r);
			if (r.action == POLICY_CONTINUE) {
				if (real_size >= 0)
					policy_msg_set_size(msg, (uint64_t)real_size);
				policy_eom(&env, req, msg, &r);
				eom_action = r.action;
				if (r.action != POLICY_ACCEPT)
					reply_format(r.reply, last_reply, sizeof(last_reply));
			}
			ck_assert_int_ne(r.action, POLICY_CONTINUE);
		}
	} else {
		accepted = 1000;	/* accepted at MAIL: nothing counted */
	}
	policy_abort(&env, msg);
	policy_msg_destroy(&msg);
	request_destroy(&req);
	return accepted;
}

/* usage - committed units of user's limit id (0: the quota's own) at the clock */
static uint64_t usage(const char *u, uint32_t id)
{
	struct backends_limits l;
	struct store_limit limits[STORE_LIMITS_MAX];
	struct store_limit_state st[STORE_LIMITS_MAX];
	char pool[LIMITS_OWNER_MAX];
	struct store *store = NULL;
	const char *e = NULL;
	size_t n;
	uint64_t v = UINT64_MAX;

	ck_assert_int_eq(backends_read_limits(db, u, &l, err, sizeof(err)), POLICYDB_OK);
	n = limits_build(cfg, &l, u, pool, clock_now, limits, NULL);
	store = backends_store(backends, clock_now, &e);
	ck_assert_ptr_nonnull(store);
	ck_assert_msg(store_limits_usage(store, limits, n, clock_now, st, &e) == STORE_OK, "%s", e);
	for (size_t i = 0; i < n; i++)
		if (limits[i].id == id && limits[i].owner == u)
			v = st[i].committed;
	return v;
}

/* 3 messages per hour under 5 per day: the hour refuses first, then the day */
START_TEST(test_hourly_then_daily)
{
	ck_assert_int_eq(policydb_quota_add(db, "q5", 5, err, sizeof(err)), POLICYDB_OK);
	limit("q5", "messages", "1h", "3");
	user("alice", "q5");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(send("alice", "<a@example.com>", NULL, "<r@dest.test>"), 1);
	ck_assert_int_eq(send("alice", "<a@example.com>", NULL, "<r@dest.test>"), 0);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (3 messages per hour)");
	/* the refusal by the hour left no trace in the day */
	ck_assert_uint_eq(usage("alice", 0), 3);
	clock_now += 3600 + 300;
	ck_assert_int_eq(send("alice", "<a@example.com>", NULL, "<r@dest.test>"), 1);
	ck_assert_int_eq(send("alice", "<a@example.com>", NULL, "<r@dest.test>"), 1);
	ck_assert_int_eq(send("alice", "<a@example.com>", NULL, "<r@dest.test>"), 0);
	/* the quota's own number (CHAPPS's limit) keeps CHAPPS's text */
	ck_assert_str_eq(last_reply, QUOTA_REPLY);
	ck_assert_uint_eq(usage("alice", 0), 5);
}
END_TEST

/* calendar periods in Europe/Berlin, DST days 23 and 25 hours long */
START_TEST(test_calendar_periods)
{
	int64_t s, e;

	limits_period(POLICYDB_SPAN_DAY, 1774778400, &s, &e);	/* 29 Mar 2026 12:00 CEST */
	ck_assert_int_eq(s, 1774738800);
	ck_assert_int_eq(e - s, 23 * 3600);
	limits_period(POLICYDB_SPAN_DAY, 1792922400, &s, &e);	/* 25 Oct 2026 midday */
	ck_assert_int_eq(s, 1792879200);
	ck_assert_int_eq(e - s, 25 * 3600);
	limits_period(POLICYDB_SPAN_MONTH, 1801432800, &s, &e);	/* 31 Jan 2027 23:00 */
	ck_assert_int_eq(e, 1801436400);			/* 1 Feb 00:00 */
	limits_period(POLICYDB_SPAN_MONTH, 1801436400, &s, &e);
	ck_assert_int_eq(s, 1801436400);
	ck_assert_int_eq(e, 1803855600);			/* 1 Mar 00:00 */
}
END_TEST

/* calendar:month resets at local midnight of the first */
START_TEST(test_calendar_month_resets)
{
	ck_assert_int_eq(policydb_quota_add(db, "big", 1000, err, sizeof(err)), POLICYDB_OK);
	limit("big", "messages", "calendar:month", "2");
	user("carol", "big");
	clock_now = 1801432800;	/* 31 Jan 2027 23:00 Berlin */
	ck_assert_int_eq(send("carol", "<c@example.com>", NULL, "<r@dest.test>"), 1);
	ck_assert_int_eq(send("carol", "<c@example.com>", NULL, "<r@dest.test>"), 1);
	ck_assert_int_eq(send("carol", "<c@example.com>", NULL, "<r@dest.test>"), 0);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (2 messages per calendar month)");
	clock_now = 1801436400 - 1;
	ck_assert_int_eq(send("carol", "<c@example.com>", NULL, "<r@dest.test>"), 0);
	clock_now = 1801436400;	/* 1 Feb 00:00 */
	ck_assert_int_eq(send("carol", "<c@example.com>", NULL, "<r@dest.test>"), 1);
}
END_TEST

/* distinct recipients: a repeated address counts once in the window */
START_TEST(test_distinct_recipients)
{
	ck_assert_int_eq(policydb_quota_add(db, "q100", 100, err, sizeof(err)), POLICYDB_OK);
	limit("q100", "distinct_recipients", "1d", "3");
	user("dave", "q100");
	ck_assert_int_eq(send("dave", "<d@example.com>", NULL, "<a@x.test> <b@x.test>"), 2);
	/* A@X.TEST is a@x.test: not new */
	ck_assert_int_eq(send("dave", "<d@example.com>", NULL, "<A@X.TEST> <b@x.test>"), 2);
	ck_assert_int_eq(send("dave", "<d@example.com>", NULL, "<c@x.test> <e@x.test> <a@x.test>"),
			 2);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (3 distinct recipients per day)");
	ck_assert_uint_eq(usage("dave", 1), 3);
}
END_TEST

/* bytes: SIZE= reserved and counted; without SIZE= nothing; caps at MAIL and RCPT */
START_TEST(test_bytes_and_caps)
{
	const char *r2 = "<a@x.test> <b@x.test> <c@x.test>";

	ck_assert_int_eq(policydb_quota_add(db, "q100", 100, err, sizeof(err)), POLICYDB_OK);
	limit("q100", "bytes", "1h", "1000");
	limit("q100", "max_recipients_per_message", "message", "2");
	limit("q100", "max_message_bytes", NULL, "700");
	user("erin", "q100");
	/* no SIZE= and no counted size: one byte */
	ck_assert_int_eq(send("erin", "<e@example.com>", NULL, r2), 2);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (2 recipients per message)");
	ck_assert_uint_eq(usage("erin", 1), 1);
	ck_assert_int_eq(send("erin", "<e@example.com>", "SIZE=600", "<a@x.test>"), 1);
	ck_assert_int_eq(send("erin", "<e@example.com>", "SIZE=600", "<a@x.test>"), 0);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (1000 bytes per hour)");
	ck_assert_int_eq(send("erin", "<e@example.com>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(send("erin", "<e@example.com>", "SIZE=398", "<a@x.test>"), 1);
	ck_assert_uint_eq(usage("erin", 1), 1000);
	ck_assert_int_eq(send("erin", "<e@example.com>", "SIZE=701", "<a@x.test>"), -1);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (700 bytes per message)");
	/* a full bytes limit refuses a message without SIZE= too (an ask of 0 would pass) */
	ck_assert_int_eq(send("erin", "<e@example.com>", NULL, "<a@x.test>"), 0);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (1000 bytes per hour)");
	ck_assert_uint_eq(usage("erin", 1), 1000);
}
END_TEST

/*
 * the real size: reserved SIZE= (or 0), committed the size the milter
 * counted at EOM, with quota.commit = "data" too; max_message_bytes on it
 */
START_TEST(test_real_size)
{
	ck_assert_int_eq(policydb_quota_add(db, "q100", 100, err, sizeof(err)), POLICYDB_OK);
	limit("q100", "bytes", "1h", "1000");
	limit("q100", "messages", "1h", "50");
	user("erin", "q100");
	ck_assert_int_eq(policydb_quota_add(db, "q200", 200, err, sizeof(err)), POLICYDB_OK);
	limit("q200", "max_message_bytes", NULL, "700");
	limit("q200", "messages", "1h", "50");
	user("fred", "q200");
	ck_assert_int_eq(policydb_quota_add(db, "q300", 300, err, sizeof(err)), POLICYDB_OK);
	limit("q300", "messages", "1h", "50");
	user("gina", "q300");

	/* no SIZE=, 300 bytes: 300 counted (not 0); a lie of SIZE=10 for 500 bytes: 500 */
	real_size = 300;
	ck_assert_int_eq(send("erin", "<e@example.com>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(eom_action, POLICY_ACCEPT);
	ck_assert_uint_eq(usage("erin", 1), 300);
	real_size = 500;
	ck_assert_int_eq(send("erin", "<e@example.com>", "SIZE=10", "<a@x.test>"), 1);
	ck_assert_uint_eq(usage("erin", 1), 800);
	/* the limit refuses on what was counted: SIZE=300 no longer fits */
	ck_assert_int_eq(send("erin", "<e@example.com>", "SIZE=300", "<a@x.test>"), 0);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (1000 bytes per hour)");
	ck_assert_uint_eq(usage("erin", 1), 800);
	ck_assert_uint_eq(usage("erin", 2), 2);
	/* a message the milter did not count (no body stage): the declared size */
	real_size = -1;
	ck_assert_int_eq(send("erin", "<e@example.com>", "SIZE=150", "<a@x.test>"), 1);
	ck_assert_uint_eq(usage("erin", 1), 950);

	/* max_message_bytes: SIZE= at MAIL, the real size at EOM (nothing counted) */
	real_size = 701;
	ck_assert_int_eq(send("fred", "<f@example.com>", "SIZE=100", "<a@x.test>"), 1);
	ck_assert_int_eq(eom_action, POLICY_REJECT);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (700 bytes per message)");
	ck_assert_uint_eq(usage("fred", 4), 0);
	ck_assert_uint_eq(usage("fred", 0), 0);
	real_size = 700;
	ck_assert_int_eq(send("fred", "<f@example.com>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(eom_action, POLICY_ACCEPT);
	ck_assert_uint_eq(usage("fred", 4), 1);

	/* without a size limit, quota.commit = "data" still commits at DATA */
	ck_assert_int_eq(send("gina", "<g@example.com>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(eom_action, POLICY_CONTINUE);
	ck_assert_uint_eq(usage("gina", 5), 1);
	real_size = -1;
}
END_TEST

/* exemptions: null sender (by default), exempt users and senders, uncounted domains */
START_TEST(test_exemptions)
{
	stop();
	start("exempt_users = [ \"robot\" ]; exempt_senders = [ \"NoReply@Example.com\" ];"
	      " uncounted_domains = [ \"own.test\" ];");
	ck_assert_int_eq(policydb_quota_add(db, "q1", 1, err, sizeof(err)), POLICYDB_OK);
	limit("q1", "recipients", "1h", "10");
	user("frank", "q1");
	ck_assert_int_eq(send("frank", "<>", NULL, "<a@x.test>"), 1000);
	ck_assert_int_eq(send("frank", "<noreply@example.com>", NULL, "<a@x.test>"), 1000);
	ck_assert_int_eq(send("robot", "<r@example.com>", NULL, "<a@x.test>"), 1000);
	ck_assert_int_eq(send("frank", "<f@example.com>", NULL, "<a@own.test> <b@OWN.test>"), 2);
	ck_assert_uint_eq(usage("frank", 0), 0);
	ck_assert_int_eq(send("frank", "<f@example.com>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(send("frank", "<f@example.com>", NULL, "<a@x.test>"), 0);
	ck_assert_str_eq(last_reply, QUOTA_REPLY);
	stop();
	/* count_null_sender = true: bounces count */
	start("count_null_sender = true;");
	ck_assert_int_eq(policydb_quota_add(db, "q1", 1, err, sizeof(err)), POLICYDB_OK);
	user("frank", "q1");
	ck_assert_int_eq(send("frank", "<>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(send("frank", "<>", NULL, "<a@x.test>"), 0);
}
END_TEST

/* a domain's default quota and its pool, shared by its users */
START_TEST(test_domain_default_and_pool)
{
	ck_assert_int_eq(policydb_quota_add(db, "mailbox", 5, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_quota_add(db, "pool3", 3, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_domain_add(db, "pool.test", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_domain_set_quota(db, "pool.test", "mailbox", false, err,
						   sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_domain_set_quota(db, "POOL.test", "pool3", true, err,
						   sizeof(err)), POLICYDB_OK);
	/* u1 has no user row at all, u2 one without a quota: both get the default */
	user("u2@pool.test", NULL);
	ck_assert_int_eq(send("u1@pool.test", "<u1@pool.test>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(send("u2@pool.test", "<u2@pool.test>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(send("u1@pool.test", "<u1@pool.test>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(send("u2@pool.test", "<u2@pool.test>", NULL, "<a@x.test>"), 0);
	ck_assert_str_eq(last_reply, QUOTA_REPLY " (3 messages per day, pool of pool.test)");
	ck_assert_uint_eq(usage("u1@pool.test", 0), 2);
	ck_assert_uint_eq(usage("u2@pool.test", 0), 1);
	/* another domain without a default: unknown */
	ck_assert_int_eq(send("u3@other.test", "<u3@other.test>", NULL, "<a@x.test>"), -1);
	ck_assert_str_eq(last_reply, "554 5.7.1 Rejected - no quota for this user");
}
END_TEST

/* a CHAPPS single limit: no extra tables needed, today's path and text */
START_TEST(test_single_limit_unchanged)
{
	ck_assert_int_eq(policydb_quota_add(db, "q2", 2, err, sizeof(err)), POLICYDB_OK);
	user("gina", "q2");
	ck_assert_int_eq(send("gina", "<g@example.com>", NULL, "<a@x.test>"), 1);
	ck_assert_int_eq(send("gina", "<g@example.com>", NULL, "<a@x.test> <b@x.test>"), 2);
	ck_assert_int_eq(send("gina", "<g@example.com>", NULL, "<a@x.test>"), 0);
	ck_assert_str_eq(last_reply, QUOTA_REPLY);
	ck_assert_uint_eq(usage("gina", 0), 2);
}
END_TEST

/* limit texts */
START_TEST(test_describe)
{
	static const struct {
		int kind;
		long long span, max;
		bool pool;
		const char *want;
	} rows[] = {
		{ POLICYDB_LIMIT_MESSAGES, 3600, 100, false, "100 messages per hour" },
		{ POLICYDB_LIMIT_RECIPIENTS, 20, 5, false, "5 recipients per 20 seconds" },
		{ POLICYDB_LIMIT_MESSAGES, 86400, 10000, true, "10000 messages per day, pool of d.test" },
		{ POLICYDB_LIMIT_BYTES, POLICYDB_SPAN_DAY, 9, false, "9 bytes per calendar day" },
		{ POLICYDB_LIMIT_DISTINCT, 7200, 50, false, "50 distinct recipients per 2 hours" },
		{ POLICYDB_LIMIT_MAX_RCPT, 0, 50, false, "50 recipients per message" },
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct limits_entry e = { .pool = rows[i].pool,
					  .row = { .kind = rows[i].kind, .span = rows[i].span,
						   .max = rows[i].max } };

		limits_describe(cfg, &e, "d.test", buf, sizeof(buf));
		ck_assert_str_eq(buf, rows[i].want);
	}
}
END_TEST

/*
 * make bench's 1,000 users l0..l999 of a quota with an extra limit: each
 * is cached by its first look-up and served from the cache by the next
 * one, which the limit's removal from the database would otherwise show
 * (direct-mapped, 168 of them shared a slot with another and were read
 * from the database every time)
 */
START_TEST(test_limits_cache_many_users)
{
	struct backends_limits l;
	struct policy_result r;
	char name[32];
	long id = -1;
	int i;

	ck_assert_int_eq(policydb_quota_add(db, "q3", 1000, err, sizeof(err)), POLICYDB_OK);
	limit("q3", "messages", "1h", "100");
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		user(name, "q3");
	}
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		memset(&r, 0, sizeof(r));
		ck_assert_int_eq(backends_user_limits(backends, name, clock_now, 60, &l, &r), 1);
		ck_assert_uint_eq(l.n, 1);
		id = l.l[0].id;
	}
	ck_assert_int_eq(policydb_limit_del(db, "q3", id, err, sizeof(err)), POLICYDB_OK);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		memset(&r, 0, sizeof(r));
		ck_assert_int_eq(backends_user_limits(backends, name, clock_now + 30, 60, &l, &r), 1);
		ck_assert_msg(l.n == 1, "%s was read from the database again", name);
	}
	/* past the ttl the database answers: without the limit */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(backends_user_limits(backends, "l0", clock_now + 61, 60, &l, &r), 1);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

/* setup / teardown - each test starts with the default settings */
static void setup(void)
{
	start(NULL);
}

static void teardown(void)
{
	stop();
}

static Suite *make_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hourly_then_daily);
	tcase_add_test(tc, test_calendar_periods);
	tcase_add_test(tc, test_calendar_month_resets);
	tcase_add_test(tc, test_distinct_recipients);
	tcase_add_test(tc, test_bytes_and_caps);
	tcase_add_test(tc, test_real_size);
	tcase_add_test(tc, test_exemptions);
	tcase_add_test(tc, test_domain_default_and_pool);
	tcase_add_test(tc, test_single_limit_unchanged);
	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_limits_cache_many_users);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
