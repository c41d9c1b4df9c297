/*
 * check_policy - the outbound decision chain through its public header:
 * identity gate, sender-domain authorization and quota, on a real LMDB
 * store and SQLite policy database in a temporary directory, with an
 * injected clock.  The inbound path has its own tests (SPF, greylisting).
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "test_util.h"
#include "base/config.h"
#include "policy/backends.h"
#include "policy/policy.h"
#include "policy/sender_domain_auth.h"
#include "policy/quota.h"
#include "policydb/policydb.h"
#include "request/request.h"
#include "request/resolver.h"
#include "store/store.h"

static char dir[64];		/* /tmp/check_policy.XXXXXX */
static int64_t clock_now = 1800000000;
static struct config *cfg;
static struct backends *backends;
static struct policy_env env;

/* test_clock - the injected clock */
static int64_t test_clock(void)
{
	return clock_now;
}

/* start - a config with extra settings, a fresh state dir and policy db */
static void start(const char *extra)
{
	char path[256], *errors = NULL, err[256];
	struct policydb *db;
	FILE *f;

	ck_assert_ptr_nonnull(test_mkdtemp(dir, sizeof(dir), "/tmp", "check_policy.XXXXXX"));
	snprintf(path, sizeof(path), "%s/chapps.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"milter: { user = \"\"; group = \"\"; pidfile = \"\"; run_as_root = true; };\n"
		"store: { path = \"%s/state\"; };\n"
		"listeners: { inbound = [ \"mx\" ]; };\n"
		"%s\n",
		dir, extra ? extra : "");
	if (extra == NULL || strstr(extra, "policy_db:") == NULL)
		fprintf(f, "policy_db: { path = \"%s/policy.db\"; cache_ttl = 60; };\n", dir);
	fclose(f);
	if (config_load(path, &cfg, &errors) < 0)
		ck_abort_msg("config: %s", errors);
	backends = backends_create(cfg);
	env.config = cfg;
	env.backends = backends;
	env.clock = test_clock;
	if (cfg->policydb_backend != POLICYDB_BACKEND_SQLITE)
		return;
	ck_assert_int_eq(policydb_open(cfg, true, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_setup(db, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_quota_add(db, "q3", 3, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_quota_add(db, "q5", 5, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_user_add(db, "alice", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_user_set_quota(db, "alice", "q3", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_user_add(db, "nobody", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_domain_add(db, "example.com", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_domain_add(db, "*.wild.org", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_email_add(db, "alice@other.net", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_link_domain(db, "alice", "example.com", true, err, sizeof(err)),
			 POLICYDB_OK);
	ck_assert_int_eq(policydb_link_domain(db, "alice", "*.wild.org", true, err, sizeof(err)),
			 POLICYDB_OK);
	ck_assert_int_eq(policydb_link_email(db, "alice", "alice@other.net", true, err,
					     sizeof(err)),
			 POLICYDB_OK);
	ck_assert_int_eq(policydb_link_domain(db, "nobody", "example.com", true, err, sizeof(err)),
			 POLICYDB_OK);
	policydb_close(&db);
}

/* stop - free everything and remove the directory */
static void stop(void)
{
	backends_destroy(&backends);
	config_unref(&cfg);
	test_rmtree(dir);
	dir[0] = '\0';
}

/* new_request - a request from user (NULL: none) with sender */
static struct request *new_request(const char *user, const char *sender)
{
	struct request *req = request_create(&cfg->limits, resolver_macro_count(cfg->resolver));

	request_set(req, REQ_CLIENT_ADDR, "192.0.2.7");
	request_set(req, REQ_CLIENT_NAME, "client.example");
	request_set(req, REQ_AUTH_AUTHEN, user);
	request_set_sender(req, sender);
	return req;
}

/* send_msg - MAIL + n RCPT (+ DATA when all wanted); returns accepted rcpts, -1 if MAIL refused */
static int send_msg(const char *user, const char *sender, int n, bool data, const char **reply_r)
{
	struct request *req = new_request(user, sender);
	struct policy_msg *msg = policy_msg_create();
	struct policy_result r;
	int accepted = 0;
	static char last[512];

	policy_mail(&env, req, msg, &r);
	if (r.action == POLICY_REJECT || r.action == POLICY_TEMPFAIL) {
		if (reply_r)
			*reply_r = r.reply ? reply_format(r.reply, last, sizeof(last)) : "";
		policy_abort(&env, msg);
		policy_msg_destroy(&msg);
		request_destroy(&req);
		return -1;
	}
	if (r.action == POLICY_CONTINUE) {
		for (int i = 0; i < n; i++) {
			char rcpt[64];

			snprintf(rcpt, sizeof(rcpt), "<r%d@dest.test>", i);
			policy_rcpt(&env, req, msg, rcpt, &r);
			if (r.action == POLICY_CONTINUE)
				accepted++;
			else if (reply_r)
				*reply_r = r.reply ? reply_format(r.reply, last, sizeof(last)) : "";
		}
		if (data && accepted > 0) {
			policy_data(&env, req, msg, &r);
			ck_assert_int_eq(r.action, POLICY_ACCEPT);
		}
	} else {
		accepted = n;
	}
	policy_abort(&env, msg);
	policy_msg_destroy(&msg);
	request_destroy(&req);
	return accepted;
}

START_TEST(test_identity_gate)
{
	const char *reply = NULL;

	start("outbound: { policies = [ ]; };");
	ck_assert_int_eq(send_msg(NULL, "<m@example.com>", 1, true, &reply), -1);
	ck_assert_str_eq(reply, "554 5.7.1 Rejected - Authentication failed");
	ck_assert_int_eq(send_msg("None", "<m@example.com>", 1, true, &reply), -1);
	/* gate only: accepted at MAIL, no recipient stage needed */
	ck_assert_int_eq(send_msg("alice", "<a@anything.test>", 2, true, NULL), 2);
	stop();
}
END_TEST

static const struct {
	const char *name, *sender, *extra;
	bool pass;
	const char *reply;
} sda_rows[] = {
	{ "linked domain", "<a@example.com>", "", true, NULL },
	{ "domain case-insensitive", "<A@EXAMPLE.Com>", "", true, NULL },
	{ "linked address", "<alice@other.net>", "", true, NULL },
	{ "address domain case", "<alice@OTHER.NET>", "", true, NULL },
	{ "address local part as stored", "<Alice@other.net>", "", false,
	  "554 5.7.1 Rejected - not allowed to send mail from this domain" },
	{ "local part casefold on", "<Alice@other.net>",
	  "sender_domain_auth: { local_part_casefold = true; };", true, NULL },
	{ "other domain", "<a@evil.test>", "", false,
	  "554 5.7.1 Rejected - not allowed to send mail from this domain" },
	{ "subdomain, wildcards off", "<a@sub.wild.org>", "", false,
	  "554 5.7.1 Rejected - not allowed to send mail from this domain" },
	{ "subdomain, wildcards on", "<a@sub.wild.org>",
	  "sender_domain_auth: { subdomains = true; };", true, NULL },
	{ "deep subdomain, wildcards on", "<a@x.y.wild.org>",
	  "sender_domain_auth: { subdomains = true; };", true, NULL },
	{ "wildcard does not cover look-alike", "<a@evilwild.org>",
	  "sender_domain_auth: { subdomains = true; };", false,
	  "554 5.7.1 Rejected - not allowed to send mail from this domain" },
	{ "null sender refused", "<>", "", false,
	  "554 5.7.1 Rejected - not allowed to send mail from this domain" },
	{ "null sender ok", "<>", "sender_domain_auth: { null_sender_ok = true; };", true, NULL },
	{ "no @", "<bareword>", "", false, "553 5.1.7 Rejected - malformed sender address" },
	{ "two @", "<a@b@example.com>", "", false, "553 5.1.7 Rejected - malformed sender address" },
	{ "source route", "<@relay.test:a@example.com>", "", false,
	  "553 5.1.7 Rejected - malformed sender address" },
	{ "trailing dot", "<a@example.com.>", "", false,
	  "553 5.1.7 Rejected - malformed sender address" },
	{ "quoted local part", "<\"a@b\"@example.com>", "", true, NULL },
	{ "ip literal not linked", "<a@[192.0.2.1]>", "", false,
	  "554 5.7.1 Rejected - not allowed to send mail from this domain" },
};

START_TEST(test_sda)
{
	char extra[512];
	const char *reply = NULL;
	int got;

	snprintf(extra, sizeof(extra), "outbound: { policies = [ \"sender_domain_auth\" ]; };\n%s",
		 sda_rows[_i].extra);
	start(extra);
	got = send_msg("alice", sda_rows[_i].sender, 1, true, &reply);
	if (sda_rows[_i].pass) {
		ck_assert_msg(got == 1, "%s: got refused (%s), want accepted", sda_rows[_i].name,
			      reply ? reply : "");
	} else {
		ck_assert_msg(got == -1, "%s: got accepted, want refused", sda_rows[_i].name);
		ck_assert_msg(strcmp(reply, sda_rows[_i].reply) == 0, "%s: got \"%s\", want \"%s\"",
			      sda_rows[_i].name, reply, sda_rows[_i].reply);
	}
	stop();
}
END_TEST

START_TEST(test_sda_unknown_user)
{
	const char *reply = NULL;

	start("outbound: { policies = [ \"sender_domain_auth\" ]; };");
	ck_assert_int_eq(send_msg("mallory", "<m@example.com>", 1, true, &reply), -1);
	ck_assert_str_eq(reply, "554 5.7.1 Rejected - not allowed to send mail from this domain");
	stop();
}
END_TEST

/*
 * the decision is cached: an unlinked domain still passes until
 * sender_domain_auth_forget (chapps-cli's and chapps-api's) drops it
 */
START_TEST(test_sda_forget)
{
	char err[256];
	const char *reply = NULL, *serr = NULL;
	struct policydb *db;
	struct store *store;

	start("outbound: { policies = [ \"sender_domain_auth\" ]; };");
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, &reply), 1);
	ck_assert_int_eq(send_msg("alice", "<a@other.net>", 1, true, &reply), -1);
	ck_assert_int_eq(policydb_open(cfg, false, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_link_domain(db, "alice", "example.com", false, err,
					      sizeof(err)),
			 POLICYDB_OK);
	policydb_close(&db);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, &reply), 1);
	store = backends_store(backends, clock_now, &serr);
	ck_assert_ptr_nonnull(store);
	/* another (user, kind, name) is not touched, an uncached one is no error */
	ck_assert_int_eq(sender_domain_auth_forget(store, "alice", SDA_KIND_EMAIL, "example.com",
						   &serr),
			 STORE_OK);
	ck_assert_int_eq(sender_domain_auth_forget(store, "bob", SDA_KIND_DOMAIN, "example.com",
						   &serr),
			 STORE_OK);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, &reply), 1);
	ck_assert_int_eq(sender_domain_auth_forget(store, "alice", SDA_KIND_DOMAIN, "example.com",
						   &serr),
			 STORE_OK);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, &reply), -1);
	ck_assert_str_eq(reply, "554 5.7.1 Rejected - not allowed to send mail from this domain");
	stop();
}
END_TEST

START_TEST(test_quota_single_recipients)
{
	const char *reply = NULL;

	start("outbound: { policies = [ \"sender_domain_auth\", \"quota\" ]; };\n"
	      "quota: { margin = 0; };");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 1);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, &reply), 0);
	ck_assert_str_eq(reply, "554 5.7.1 Rejected - outbound quota fulfilled");
	/* a sliding window: one interval (plus one bucket) later it is free again */
	clock_now += 86400 + 300;
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 1);
	stop();
}
END_TEST

START_TEST(test_quota_not_charged_when_sda_refuses)
{
	start("outbound: { policies = [ \"sender_domain_auth\", \"quota\" ]; };\n"
	      "quota: { margin = 0; };");
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(send_msg("alice", "<a@evil.test>", 1, true, NULL), -1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 1);
	stop();
}
END_TEST

START_TEST(test_quota_recipients_and_margin)
{
	start("outbound: { policies = [ \"quota\" ]; };\nquota: { margin = 0; };");
	/* quota 3, counting recipients: 2 then 2 -> the second gets 1 */
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 2, true, NULL), 2);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 2, true, NULL), 1);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 0);
	stop();

	start("outbound: { policies = [ \"quota\" ]; };\nquota: { margin = 2; };");
	/* used 2, then a 3-recipient message starts under quota and may end at 5 = 3 + 2 */
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 2, true, NULL), 2);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 4, true, NULL), 3);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 0);
	stop();

	start("outbound: { policies = [ \"quota\" ]; };\n"
	      "quota: { margin = 0; counting_recipients = false; };");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(send_msg("alice", "<a@example.com>", 5, true, NULL), 5);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 5, true, NULL), 0);
	stop();
}
END_TEST

START_TEST(test_quota_abort_releases)
{
	start("outbound: { policies = [ \"quota\" ]; };\nquota: { margin = 0; };");
	/* three aborted messages of 3 recipients each: nothing counts */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(send_msg("alice", "<a@example.com>", 3, false, NULL), 3);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 3, true, NULL), 3);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 0);
	stop();
}
END_TEST

START_TEST(test_quota_unknown_user)
{
	const char *reply = NULL;

	start("outbound: { policies = [ \"quota\" ]; };");
	ck_assert_int_eq(send_msg("mallory", "<m@example.com>", 1, true, &reply), -1);
	ck_assert_str_eq(reply, "554 5.7.1 Rejected - no quota for this user");
	/* a user without a quota is refused the same way */
	ck_assert_int_eq(send_msg("nobody", "<n@example.com>", 1, true, &reply), -1);
	stop();
	start("outbound: { policies = [ \"quota\" ]; };\nquota: { unknown_user = \"accept\"; };");
	ck_assert_int_eq(send_msg("mallory", "<m@example.com>", 1, true, NULL), 1);
	stop();
}
END_TEST

START_TEST(test_quota_cache_lifetime)
{
	char err[256], path[300];
	struct policydb *db;

	start("outbound: { policies = [ \"quota\" ]; };\nquota: { margin = 0; };");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 1);
	snprintf(path, sizeof(path), "%s", cfg->policydb_path);
	ck_assert_int_eq(policydb_open(cfg, false, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_user_set_quota(db, "alice", "q5", err, sizeof(err)), POLICYDB_OK);
	policydb_close(&db);
	/* still cached: the old limit holds within policy_db.cache_ttl */
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 0);
	clock_now += 61;
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 1);
	/* or at once after a flush (SIGUSR2, chapps-cli) */
	backends_flush_caches(backends);
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 2, true, NULL), 1);
	stop();
}
END_TEST

START_TEST(test_limits)
{
	struct request *req;
	struct policy_msg *msg = NULL;
	struct policy_result r;
	char big[2048];

	start("outbound: { policies = [ ]; };\nlimits: { recipients = 2; };");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	req = new_request(big, "<a@example.com>");
	msg = policy_msg_create();
	policy_mail(&env, req, msg, &r);
	ck_assert_int_eq(r.action, POLICY_REJECT);
	ck_assert_str_eq(r.policy, "limits");
	ck_assert_str_eq(r.reply->code, "554");
	request_destroy(&req);
	policy_abort(&env, msg);
	policy_msg_destroy(&msg);
	stop();

	start("outbound: { policies = [ \"quota\" ]; };\nlimits: { recipients = 2; };\n"
	      "quota: { margin = 0; };");
	ck_assert_ptr_nonnull(cfg);
	req = new_request("alice", "<a@example.com>");
	msg = policy_msg_create();
	policy_mail(&env, req, msg, &r);
	ck_assert_int_eq(r.action, POLICY_CONTINUE);
	policy_rcpt(&env, req, msg, "<a@x.test>", &r);
	ck_assert_int_eq(r.action, POLICY_CONTINUE);
	policy_rcpt(&env, req, msg, "<b@x.test>", &r);
	ck_assert_int_eq(r.action, POLICY_CONTINUE);
	policy_rcpt(&env, req, msg, "<c@x.test>", &r);
	ck_assert_int_eq(r.action, POLICY_TEMPFAIL);
	ck_assert_str_eq(r.reply->code, "452");
	ck_assert_uint_eq(request_rcpt_count(req), 2);
	policy_abort(&env, msg);
	policy_msg_destroy(&msg);
	request_destroy(&req);
	stop();
}
END_TEST

START_TEST(test_on_error)
{
	const char *reply = NULL;

	/* a MariaDB that does not answer (closed loopback port) */
	start("outbound: { policies = [ \"quota\" ]; };\n"
	      "policy_db: { backend = \"mariadb\"; host = \"127.0.0.1\"; port = 1; "
	      "timeout_ms = 500; };");
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, &reply), -1);
	ck_assert_str_eq(reply, "451 4.3.0 Policy service temporarily unavailable - try again later");
	stop();
	start("outbound: { policies = [ \"quota\" ]; };\nquota: { on_error = \"accept\"; };\n"
	      "policy_db: { backend = \"mariadb\"; host = \"127.0.0.1\"; port = 1; "
	      "timeout_ms = 500; };");
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, NULL), 1);
	stop();
	start("outbound: { policies = [ \"quota\" ]; };\nquota: { on_error = \"reject\"; };\n"
	      "policy_db: { backend = \"mariadb\"; host = \"127.0.0.1\"; port = 1; "
	      "timeout_ms = 500; };");
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, &reply), -1);
	ck_assert_str_eq(reply, "554 5.3.0 Policy service unavailable");
	stop();
}
END_TEST

START_TEST(test_inbound_flow_and_whitelist)
{
	struct request *req;
	struct policy_msg *msg;
	struct policy_result r;

	start("inbound: { policies = [ ]; };");
	req = new_request(NULL, "<m@remote.test>");
	request_set(req, REQ_DAEMON_NAME, "mx");
	msg = policy_msg_create();
	/* inbound: no identity needed; with no inbound policy, accepted at MAIL */
	policy_mail(&env, req, msg, &r);
	ck_assert_int_eq(r.action, POLICY_ACCEPT);
	request_set(req, REQ_DAEMON_NAME, "submission");
	policy_mail(&env, req, msg, &r);
	ck_assert_int_eq(r.action, POLICY_REJECT);
	ck_assert_str_eq(r.policy, "identity");
	policy_abort(&env, msg);
	policy_msg_destroy(&msg);
	request_destroy(&req);
	stop();
}
END_TEST

/* usage_at - user's committed usage at time t */
static uint32_t usage_at(struct store *store, const char *user, int64_t t)
{
	struct store_quota_params p;
	struct store_quota_state qs;
	const char *err = NULL;

	quota_store_params(cfg, 0, &p);
	ck_assert_msg(store_quota_usage(store, user, strlen(user), &p, t, &qs, &err) == STORE_OK,
		      "usage of %s: %s", user, err);
	return qs.committed;
}

START_TEST(test_quota_import)
{
	struct store *store;
	const char *err = NULL, *reply = NULL;
	uint32_t buckets = 0;

	start("quota: { interval = 3600; resolution = 300; margin = 0; };");
	ck_assert_int_eq(store_open(cfg, &store, &err), 0);
	/* 12 units over the whole window: one per bucket, the oldest 55 minutes old */
	ck_assert_int_eq(quota_import_usage(cfg, store, "alice", 12, 3600, clock_now, &buckets,
					    &err), 0);
	ck_assert_uint_eq(buckets, 12);
	ck_assert_uint_eq(usage_at(store, "alice", clock_now), 12);
	/* an hour on, the older buckets have left the window: spread, not all at once */
	ck_assert_uint_gt(usage_at(store, "alice", clock_now + 3600), 0);
	ck_assert_uint_lt(usage_at(store, "alice", clock_now + 3600), 12);
	/* without a spread: one bucket, now, that leaves the window in one piece */
	ck_assert_int_eq(quota_import_usage(cfg, store, "bob", 7, 0, clock_now, &buckets, &err),
			 0);
	ck_assert_uint_eq(buckets, 1);
	ck_assert_uint_eq(usage_at(store, "bob", clock_now + 3600 - 1), 7);
	ck_assert_uint_eq(usage_at(store, "bob", clock_now + 3600 + 300), 0);
	/* out of range: nothing recorded */
	ck_assert_int_eq(quota_import_usage(cfg, store, "carol", 1, 3601, clock_now, &buckets,
					    &err), -1);
	ck_assert_int_eq(quota_import_usage(cfg, store, "carol", QUOTA_IMPORT_MAX + 1, 0,
					    clock_now, &buckets, &err), -1);
	ck_assert_uint_eq(usage_at(store, "carol", clock_now), 0);
	store_close(&store);
	/* the policy counts imported usage: alice (quota 3) is past her limit */
	ck_assert_int_eq(send_msg("alice", "<a@example.com>", 1, true, &reply), 0);
	ck_assert_str_eq(reply, "554 5.7.1 Rejected - outbound quota fulfilled");
	stop();
}
END_TEST

START_TEST(test_policy_names)
{
	char out[256], in[256];

	start(NULL);
	ck_assert_str_eq(policy_names(cfg, FLOW_OUTBOUND, out, sizeof(out)),
			 "identity, sender_domain_auth, quota");
	ck_assert_str_eq(policy_names(cfg, FLOW_INBOUND, in, sizeof(in)), "spf greylisting");
	stop();
	start("outbound: { policies = [ \"quota\" ]; };\ninbound: { policies = [ \"greylisting\" ]; };");
	ck_assert_str_eq(policy_names(cfg, FLOW_OUTBOUND, out, sizeof(out)), "identity, quota");
	ck_assert_str_eq(policy_names(cfg, FLOW_INBOUND, in, sizeof(in)), "greylisting");
	stop();
	start("outbound: { policies = [ ]; };\ninbound: { policies = [ ]; };");
	ck_assert_str_eq(policy_names(cfg, FLOW_OUTBOUND, out, sizeof(out)), "identity");
	ck_assert_str_eq(policy_names(cfg, FLOW_INBOUND, in, sizeof(in)), "off");
	stop();
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_identity_gate);
	tcase_add_loop_test(tc, test_sda, 0, sizeof(sda_rows) / sizeof(sda_rows[0]));
	tcase_add_test(tc, test_sda_unknown_user);
	tcase_add_test(tc, test_sda_forget);
	tcase_add_test(tc, test_quota_single_recipients);
	tcase_add_test(tc, test_quota_not_charged_when_sda_refuses);
	tcase_add_test(tc, test_quota_recipients_and_margin);
	tcase_add_test(tc, test_quota_abort_releases);
	tcase_add_test(tc, test_quota_unknown_user);
	tcase_add_test(tc, test_quota_cache_lifetime);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_on_error);
	tcase_add_test(tc, test_inbound_flow_and_whitelist);
	tcase_add_test(tc, test_quota_import);
	tcase_add_test(tc, test_policy_names);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
