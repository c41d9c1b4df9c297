/*
 * check_actions - issue 11 through the public policy headers: monitor mode
 * in the chain runner (a policy's and a quota limit's), the quota actions
 * reject, tempfail, quarantine and lock, the lock check at MAIL FROM, on a
 * real LMDB store and SQLite policy database in a temporary directory,
 * with an injected clock.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_main.h"
#include "test_util.h"
#include "alert/alert.h"
#include "base/config.h"
#include "base/log.h"
#include "policy/policy.h"
#include "policy/policy_ops.h"
#include "policy/quota.h"
#include "policydb/policydb.h"
#include "request/request.h"
#include "request/resolver.h"
#include "store/store.h"

static char dir[64];		/* /tmp/check_actions.XXXXXX */
static int64_t clock_now = 1800000000;
static struct config *cfg;
static struct backends *backends;
static struct policy_env env;

/* test_clock - the injected clock */
static int64_t test_clock(void)
{
	return clock_now;
}

/*
 * start - a config with extra settings, a fresh state dir and policy db:
 * alice has quota q3 (3 per day), linked to example.com
 */
static void start(const char *extra)
{
	char path[256], *errors = NULL, err[256];
	struct policydb *db;
	FILE *f;

	ck_assert_ptr_nonnull(test_mkdtemp(dir, sizeof(dir), "/tmp", "check_actions.XXXXXX"));
	snprintf(path, sizeof(path), "%s/chapps.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"milter: { user = \"\"; group = \"\"; pidfile = \"\"; run_as_root = true; };\n"
		"store: { path = \"%s/state\"; };\n"
		"policy_db: { path = \"%s/policy.db\"; cache_ttl = 60; };\n"
		"%s\n",
		dir, dir, extra ? extra : "");
	fclose(f);
	if (config_load(path, &cfg, &errors) < 0)
		ck_abort_msg("config: %s", errors);
	backends = backends_create(cfg);
	env.config = cfg;
	env.backends = backends;
	env.clock = test_clock;
	env.alerts = NULL;
	ck_assert_int_eq(policydb_open(cfg, true, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_setup(db, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_quota_add(db, "q3", 3, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_user_add(db, "alice", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_user_set_quota(db, "alice", "q3", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_domain_add(db, "example.com", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_link_domain(db, "alice", "example.com", true, err, sizeof(err)),
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

/* One message driven stage by stage. */
struct run {
	struct request *req;
	struct policy_msg *msg;
	struct policy_result r;
	char reply[512];
};

/* run_mail - MAIL FROM sender by user (NULL: no user); returns the action */
static enum policy_action run_mail(struct run *m, const char *user, const char *sender)
{
	m->req = request_create(&cfg->limits, resolver_macro_count(cfg->resolver));
	m->msg = policy_msg_create();
	request_set(m->req, REQ_CLIENT_ADDR, "192.0.2.7");
	request_set(m->req, REQ_CLIENT_NAME, "client.example");
	request_set(m->req, REQ_AUTH_AUTHEN, user);
	request_set_sender(m->req, sender);
	policy_mail(&env, m->req, m->msg, &m->r);
	m->reply[0] = '\0';
	if (m->r.reply != NULL)
		reply_format(m->r.reply, m->reply, sizeof(m->reply));
	return m->r.action;
}

/* run_rcpt - RCPT TO <rN@dest.test>; returns the action */
static enum policy_action run_rcpt(struct run *m, int n)
{
	char rcpt[64];

	snprintf(rcpt, sizeof(rcpt), "<r%d@dest.test>", n);
	policy_rcpt(&env, m->req, m->msg, rcpt, &m->r);
	m->reply[0] = '\0';
	if (m->r.reply != NULL)
		reply_format(m->r.reply, m->reply, sizeof(m->reply));
	return m->r.action;
}

/* run_end - DATA and EOM (when DATA did not accept already); returns EOM's (or DATA's) action */
static enum policy_action run_end(struct run *m)
{
	policy_data(&env, m->req, m->msg, &m->r);
	if (m->r.action != POLICY_CONTINUE)
		return m->r.action;
	policy_eom(&env, m->req, m->msg, &m->r);
	return m->r.action;
}

/* run_free - abort what is left and free the message */
static void run_free(struct run *m)
{
	policy_abort(&env, m->msg);
	policy_msg_destroy(&m->msg);
	request_destroy(&m->req);
}

/* send - a whole message of n recipients; returns how many were accepted, -1 if MAIL refused */
static int send(const char *user, int n)
{
	struct run m;
	int accepted = 0;

	if (run_mail(&m, user, "<alice@example.com>") >= POLICY_REJECT) {
		run_free(&m);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (m.r.action == POLICY_ACCEPT || run_rcpt(&m, i) == POLICY_CONTINUE)
			accepted++;
	if (accepted > 0 && m.r.action != POLICY_ACCEPT)
		ck_assert_int_eq(run_end(&m), POLICY_ACCEPT);
	run_free(&m);
	return accepted;
}

/* used - alice's committed count on the quota's own number */
static unsigned used(void)
{
	struct store_quota_params p;
	struct store_quota_state st;
	const char *err = NULL;
	struct store *store = backends_store(backends, clock_now, &err);

	ck_assert_ptr_nonnull(store);
	quota_store_params(cfg, 3, &p);
	ck_assert_int_eq(store_quota_usage(store, "alice", 5, &p, clock_now, &st, &err), STORE_OK);
	return st.committed;
}

#define QUOTA_ONLY "outbound: { policies = [ \"quota\" ]; };\n"

/* ---- monitor mode ------------------------------------------------------------- */

/* a policy in monitor mode: its refusal is kept for the log and the message passes */
START_TEST(test_monitor_policy)
{
	struct run m;
	const struct policy_result *w;

	start("outbound: { policies = [ \"sender_domain_auth\" ]; };\n"
	      "sender_domain_auth: { mode = \"monitor\"; };");
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@evil.test>"), POLICY_ACCEPT);
	w = policy_msg_monitored(m.msg, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(w->action, POLICY_REJECT);
	ck_assert_str_eq(w->policy, "sender_domain_auth");
	ck_assert_str_eq(w->reply->text, "Rejected - not allowed to send mail from this domain");
	ck_assert_str_eq(w->detail, "domain=evil.test");
	ck_assert_ptr_null(policy_msg_monitored(m.msg, 1));
	ck_assert_ptr_null(m.r.reply);
	run_free(&m);
	/* a sender that passes leaves nothing */
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_ACCEPT);
	ck_assert_ptr_null(policy_msg_monitored(m.msg, 0));
	run_free(&m);
	stop();

	/* the same in enforce mode refuses */
	start("outbound: { policies = [ \"sender_domain_auth\" ]; };");
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@evil.test>"), POLICY_REJECT);
	ck_assert_ptr_null(policy_msg_monitored(m.msg, 0));
	run_free(&m);
	stop();
}
END_TEST

/* identity.mode = monitor: no user, would reject, and the user policies leave it alone */
START_TEST(test_monitor_identity)
{
	struct run m;
	const struct policy_result *w;

	start("outbound: { policies = [ \"sender_domain_auth\", \"quota\" ]; };\n"
	      "identity: { mode = \"monitor\"; };");
	ck_assert_int_eq(run_mail(&m, NULL, "<x@evil.test>"), POLICY_ACCEPT);
	w = policy_msg_monitored(m.msg, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_str_eq(w->policy, "identity");
	ck_assert_str_eq(w->reply->code, "554");
	ck_assert_ptr_null(policy_msg_monitored(m.msg, 1));
	ck_assert_ptr_null(policy_msg_user(m.msg));
	run_free(&m);
	ck_assert_int_eq(send("alice", 3), 3);
	ck_assert_int_eq(send("alice", 1), 0);
	stop();
}
END_TEST

/* quota.mode = monitor: each refusal would reject, the recipient passes uncounted */
START_TEST(test_monitor_quota)
{
	struct run m;
	const struct policy_result *w;

	start(QUOTA_ONLY "quota: { margin = 0; mode = \"monitor\"; };");
	ck_assert_int_eq(send("alice", 2), 2);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_CONTINUE);
	ck_assert_ptr_null(policy_msg_monitored(m.msg, 0));
	ck_assert_int_eq(run_rcpt(&m, 1), POLICY_CONTINUE);
	w = policy_msg_monitored(m.msg, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(w->action, POLICY_REJECT);
	ck_assert_str_eq(w->policy, "quota");
	ck_assert_str_eq(w->reply->text, "Rejected - outbound quota fulfilled");
	{
		char buf[192];

		ck_assert_str_eq(policy_result_detail(w, buf, sizeof(buf)),
				 "used=2 reserved=1 limit=3 margin=0");
	}
	ck_assert_int_eq(run_rcpt(&m, 2), POLICY_CONTINUE);
	ck_assert_ptr_nonnull(policy_msg_monitored(m.msg, 0));
	ck_assert_int_eq(run_end(&m), POLICY_ACCEPT);
	run_free(&m);
	/* 2 + the one granted recipient: the two refused ones were not counted */
	ck_assert_uint_eq(used(), 3);
	ck_assert_int_eq(send("alice", 4), 4);
	ck_assert_uint_eq(used(), 3);
	stop();
}
END_TEST

/* several limits, all in monitor mode: a refusing limit is left out, the others count */
START_TEST(test_monitor_limits_retry)
{
	char err[256];
	struct policydb *db;
	struct policydb_limit l;
	struct run m;
	const struct policy_result *w;

	start(QUOTA_ONLY "quota: { margin = 0; mode = \"monitor\"; };");
	ck_assert_int_eq(policydb_open(cfg, false, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_limit_parse("messages", "1h", "1", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_limit_add(db, "q3", &l, err, sizeof(err)), POLICYDB_OK);
	policydb_close(&db);
	ck_assert_int_eq(send("alice", 1), 1);
	ck_assert_uint_eq(used(), 1);
	/* the second message: "1 messages per hour" would refuse; the quota's own number counts */
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_CONTINUE);
	w = policy_msg_monitored(m.msg, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_str_eq(w->reply->text, "Rejected - outbound quota fulfilled (1 messages per hour)");
	ck_assert_msg(strncmp(w->detail, "refused by 1 messages per hour:", 31) == 0, "got %s",
		      w->detail);
	ck_assert_ptr_null(policy_msg_monitored(m.msg, 1));
	ck_assert_int_eq(run_end(&m), POLICY_ACCEPT);
	run_free(&m);
	ck_assert_uint_eq(used(), 2);
	stop();
}
END_TEST

/* ---- actions --------------------------------------------------------------------- */

/* tempfail: the reply made 4xx, same text */
START_TEST(test_action_tempfail)
{
	struct run m;

	start(QUOTA_ONLY "quota: { margin = 0; action = \"tempfail\"; };");
	ck_assert_int_eq(send("alice", 3), 3);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_TEMPFAIL);
	ck_assert_str_eq(m.reply, "451 4.7.1 Rejected - outbound quota fulfilled");
	run_free(&m);
	stop();
}
END_TEST

/* quarantine: the message is held at EOM, naming user and limit, and counts nothing */
START_TEST(test_action_quarantine)
{
	struct run m;

	start(QUOTA_ONLY "quota: { margin = 0; action = \"quarantine\"; };");
	ck_assert_int_eq(send("alice", 2), 2);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 1), POLICY_CONTINUE);	/* over: held */
	ck_assert(policy_msg_held(m.msg));
	ck_assert_int_eq(run_rcpt(&m, 2), POLICY_CONTINUE);	/* unchecked */
	policy_data(&env, m.req, m.msg, &m.r);
	ck_assert_int_eq(m.r.action, POLICY_CONTINUE);		/* on to EOM */
	policy_eom(&env, m.req, m.msg, &m.r);
	ck_assert_int_eq(m.r.action, POLICY_ACCEPT);
	ck_assert_ptr_nonnull(m.r.hold);
	ck_assert_str_eq(m.r.hold, "chapps: alice over 3 recipients per day");
	ck_assert_str_eq(m.r.policy, "quota");
	run_free(&m);
	/* the held message released its reservation: one more recipient fits */
	ck_assert_uint_eq(used(), 2);
	ck_assert_int_eq(send("alice", 1), 1);
	ck_assert_uint_eq(used(), 3);
	/* the next message is held too, and a new message is not held by the old one */
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert(!policy_msg_held(m.msg));
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_CONTINUE);
	ck_assert(policy_msg_held(m.msg));
	policy_abort(&env, m.msg);
	ck_assert(!policy_msg_held(m.msg));
	run_free(&m);
	stop();
}
END_TEST

/*
 * a limit's own action and mode (quota_limits columns) win over quota.action
 * and quota.mode: "1 messages per hour" says quarantine while the quota says
 * reject; a second limit in monitor mode only logs under an enforcing quota
 */
START_TEST(test_limit_row_overrides)
{
	char err[256];
	struct policydb *db;
	struct policydb_limit l;
	struct run m;
	const struct policy_result *w;

	start(QUOTA_ONLY "quota: { margin = 0; action = \"reject\"; mode = \"enforce\"; };");
	ck_assert_int_eq(policydb_open(cfg, false, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_limit_parse("recipients", "1h", "1", &l, err, sizeof(err)), 0);
	l.mode = POLICYDB_MODE_MONITOR;
	ck_assert_int_eq(policydb_limit_add(db, "q3", &l, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_limit_parse("messages", "1h", "1", &l, err, sizeof(err)), 0);
	l.action = POLICYDB_ACTION_QUARANTINE;
	ck_assert_int_eq(policydb_limit_add(db, "q3", &l, err, sizeof(err)), POLICYDB_OK);
	policydb_close(&db);
	ck_assert_int_eq(send("alice", 1), 1);
	/* the second message: over "1 messages per hour" (quarantine), held at EOM */
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_CONTINUE);
	/* "1 recipients per hour" refused first, in monitor mode: only logged */
	w = policy_msg_monitored(m.msg, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_str_eq(w->reply->text,
			 "Rejected - outbound quota fulfilled (1 recipients per hour)");
	ck_assert(policy_msg_held(m.msg));
	policy_data(&env, m.req, m.msg, &m.r);
	ck_assert_int_eq(m.r.action, POLICY_CONTINUE);
	policy_eom(&env, m.req, m.msg, &m.r);
	ck_assert_int_eq(m.r.action, POLICY_ACCEPT);
	ck_assert_str_eq(m.r.hold, "chapps: alice over 1 messages per hour");
	run_free(&m);
	ck_assert_uint_eq(used(), 1);	/* the held message counted nothing */
	stop();
}
END_TEST

/*
 * quarantine by max_message_bytes on the real size at EOM (no SIZE= at
 * MAIL): the message is held, not delivered, and counts nothing
 */
START_TEST(test_quarantine_cap_at_eom)
{
	char err[256];
	struct policydb *db;
	struct policydb_limit l;
	struct run m;

	start(QUOTA_ONLY "quota: { margin = 0; action = \"quarantine\"; };");
	ck_assert_int_eq(policydb_open(cfg, false, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_limit_parse("max_message_bytes", NULL, "1000", &l, err,
					      sizeof(err)), 0);
	ck_assert_int_eq(policydb_limit_add(db, "q3", &l, err, sizeof(err)), POLICYDB_OK);
	policydb_close(&db);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_CONTINUE);
	policy_data(&env, m.req, m.msg, &m.r);
	ck_assert_int_eq(m.r.action, POLICY_CONTINUE);		/* on to EOM: the real size */
	policy_msg_set_size(m.msg, 5000);
	policy_eom(&env, m.req, m.msg, &m.r);
	ck_assert_int_eq(m.r.action, POLICY_ACCEPT);
	ck_assert_ptr_nonnull(m.r.hold);
	ck_assert_str_eq(m.r.hold, "chapps: alice over 1000 bytes per message");
	run_free(&m);
	ck_assert_uint_eq(used(), 0);
	stop();
}
END_TEST

/* lock: each refused message strikes once; after lock.after the user is refused at MAIL */
START_TEST(test_action_lock)
{
	struct run m;
	const char *err = NULL;
	struct store *store;
	struct store_lock_info info;

	start(QUOTA_ONLY "quota: { margin = 0; action = \"lock\"; };\n"
	      "lock: { after = 2; window = 600; };");
	ck_assert_int_eq(send("alice", 3), 3);
	/* strike 1: two refused recipients of one message are one strike */
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_REJECT);
	ck_assert_str_eq(m.reply, "554 5.7.1 Rejected - outbound quota fulfilled");
	ck_assert_msg(strstr(m.r.detail, "strikes=1") != NULL, "got %s", m.r.detail);
	ck_assert_int_eq(run_rcpt(&m, 1), POLICY_REJECT);
	run_free(&m);
	/* strike 2 locks */
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_REJECT);
	ck_assert_msg(strstr(m.r.detail, "strikes=2 locked") != NULL, "got %s", m.r.detail);
	run_free(&m);
	store = backends_store(backends, clock_now, &err);
	ck_assert_int_eq(store_lock_get(store, "alice", 5, &info, &err), STORE_OK);
	ck_assert_str_eq(info.reason, "quota: 3 recipients per day");
	/* locked: refused at MAIL, even once the window is free again */
	clock_now += 2 * 86400;
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_REJECT);
	ck_assert_str_eq(m.reply, "554 5.7.1 Rejected - account locked");
	ck_assert_str_eq(m.r.policy, "lock");
	run_free(&m);
	/* unlocked */
	ck_assert_int_eq(store_lock_clear(store, "alice", 5, &err), STORE_OK);
	ck_assert_int_eq(send("alice", 1), 1);
	stop();
}
END_TEST

/* lock check: a lock set from elsewhere; refused, held with lock.hold, ignored without lock.check */
START_TEST(test_lock_check)
{
	struct run m;
	const char *err = NULL;

	start(QUOTA_ONLY "lock: { reply = \"550 5.7.1 Locked\"; };");
	ck_assert_int_eq(store_lock_set(backends_store(backends, clock_now, &err), "alice", 5,
					"by hand", clock_now, &err),
			 STORE_OK);
	ck_assert_int_eq(send("alice", 1), -1);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_REJECT);
	ck_assert_str_eq(m.reply, "550 5.7.1 Locked");
	ck_assert_str_eq(m.r.detail, "locked: by hand");
	run_free(&m);
	stop();

	start(QUOTA_ONLY "lock: { hold = true; };");
	ck_assert_int_eq(store_lock_set(backends_store(backends, clock_now, &err), "alice", 5,
					"by hand", clock_now, &err),
			 STORE_OK);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert(policy_msg_held(m.msg));
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_CONTINUE);
	ck_assert_int_eq(run_end(&m), POLICY_ACCEPT);
	ck_assert_str_eq(m.r.hold, "chapps: user alice is locked");
	ck_assert_str_eq(m.r.policy, "lock");
	run_free(&m);
	ck_assert_uint_eq(used(), 0);
	stop();

	start(QUOTA_ONLY "lock: { check = false; };");
	ck_assert_int_eq(store_lock_set(backends_store(backends, clock_now, &err), "alice", 5,
					"by hand", clock_now, &err),
			 STORE_OK);
	ck_assert_int_eq(send("alice", 1), 1);
	stop();
}
END_TEST

#define SDA_QUOTA "outbound: { policies = [ \"sender_domain_auth\", \"quota\" ]; };\n"
#define QUOTA_SDA "outbound: { policies = [ \"quota\", \"sender_domain_auth\" ]; };\n"

/*
 * lock.check with sender_domain_auth first: its cache look-up reads the
 * lock too (store_mail_lookup) and quota uses that read, on a cache miss
 * and on a hit; a lock set or cleared between two messages is seen by the
 * next; with quota first, quota reads the lock itself
 */
/*
 * The lock read handed from sender_domain_auth to quota: a failed read is
 * handed over as a failure (with its reason), so that quota's lock check
 * does not ask a store that just failed again within the same MAIL
 */
START_TEST(test_lock_handover)
{
	struct policy_msg *msg = policy_msg_create();
	struct store_lock_info info = { .since = 7 }, got;
	const char *err = NULL;

	ck_assert_int_eq(policy_msg_take_lock(msg, &got, &err), POLICY_LOCK_UNREAD);
	policy_msg_set_lock(msg, STORE_ERROR, NULL, "redis 10.0.0.1:6379: connect: timed out");
	ck_assert_int_eq(policy_msg_take_lock(msg, &got, &err), STORE_ERROR);
	ck_assert_str_eq(err, "redis 10.0.0.1:6379: connect: timed out");
	ck_assert_int_eq(policy_msg_take_lock(msg, &got, &err), POLICY_LOCK_UNREAD);
	policy_msg_set_lock(msg, STORE_OK, &info, NULL);
	ck_assert_int_eq(policy_msg_take_lock(msg, &got, &err), STORE_OK);
	ck_assert_int_eq(got.since, 7);
	policy_msg_set_lock(msg, STORE_MISS, NULL, NULL);
	ck_assert_int_eq(policy_msg_take_lock(msg, &got, &err), STORE_MISS);
	policy_msg_destroy(&msg);
}
END_TEST

START_TEST(test_lock_check_with_sda)
{
	struct store_lock_info info;
	struct run m;
	const char *err = NULL;
	struct store *store;

	start(SDA_QUOTA "lock: { reply = \"550 5.7.1 Locked\"; };");
	store = backends_store(backends, clock_now, &err);
	ck_assert_ptr_nonnull(store);
	/* not locked: the read handed over is used (consumed) by quota */
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(policy_msg_take_lock(m.msg, &info, &err), POLICY_LOCK_UNREAD);
	run_free(&m);
	ck_assert_int_eq(store_lock_set(store, "alice", 5, "by hand", clock_now, &err), STORE_OK);
	/* the SDA answer is cached now: the lock comes with the cache hit */
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_REJECT);
	ck_assert_str_eq(m.reply, "550 5.7.1 Locked");
	ck_assert_str_eq(m.r.detail, "locked: by hand");
	ck_assert_str_eq(m.r.policy, "lock");
	run_free(&m);
	ck_assert_int_eq(store_lock_clear(store, "alice", 5, &err), STORE_OK);
	ck_assert_int_eq(send("alice", 1), 1);
	ck_assert_uint_eq(used(), 1);
	/* a sender the domain does not allow is refused by sender_domain_auth first */
	ck_assert_int_eq(store_lock_set(store, "alice", 5, "again", clock_now, &err), STORE_OK);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@other.test>"), POLICY_REJECT);
	ck_assert_str_eq(m.r.policy, "sender_domain_auth");
	run_free(&m);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_REJECT);
	ck_assert_str_eq(m.r.detail, "locked: again");
	run_free(&m);
	stop();

	/* the cache off: sender_domain_auth reads nothing, quota reads the lock */
	start(SDA_QUOTA "sender_domain_auth: { cache_ttl = 0; };");
	store = backends_store(backends, clock_now, &err);
	ck_assert_int_eq(store_lock_set(store, "alice", 5, "nocache", clock_now, &err), STORE_OK);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_REJECT);
	ck_assert_str_eq(m.r.detail, "locked: nocache");
	run_free(&m);
	stop();

	/* quota first: it reads the lock itself; sender_domain_auth reads none along */
	start(QUOTA_SDA);
	store = backends_store(backends, clock_now, &err);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(policy_msg_take_lock(m.msg, &info, &err), POLICY_LOCK_UNREAD);
	run_free(&m);
	ck_assert_int_eq(store_lock_set(store, "alice", 5, "first", clock_now, &err), STORE_OK);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_REJECT);
	ck_assert_str_eq(m.r.detail, "locked: first");
	run_free(&m);
	stop();
}
END_TEST

/* the replies of the actions, and what a monitored action logs */
START_TEST(test_action_monitored_names_action)
{
	struct run m;
	const struct policy_result *w;

	start(QUOTA_ONLY "quota: { margin = 0; action = \"quarantine\"; mode = \"monitor\"; };");
	ck_assert_int_eq(send("alice", 3), 3);
	ck_assert_int_eq(run_mail(&m, "alice", "<alice@example.com>"), POLICY_CONTINUE);
	ck_assert_int_eq(run_rcpt(&m, 0), POLICY_CONTINUE);
	ck_assert(!policy_msg_held(m.msg));
	w = policy_msg_monitored(m.msg, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_str_eq(w->detail, "used=3 reserved=0 limit=3 margin=0 action=quarantine");
	ck_assert_int_eq(run_end(&m), POLICY_ACCEPT);
	ck_assert_ptr_null(m.r.hold);
	run_free(&m);
	ck_assert_uint_eq(used(), 3);
	stop();
}
END_TEST

/* count - occurrences of needle in haystack */
static int count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* alerts: warn_at on a granted recipient, refusal on the first refusal, lock on the locking strike */
START_TEST(test_alerts)
{
	struct alerts *alerts = NULL;
	char err[256];
	const char *text;

	start(QUOTA_ONLY "quota: { margin = 0; warn_at = 60; action = \"lock\"; };\n"
	      "lock: { after = 1; };");
	ck_assert_int_eq(alerts_open(cfg, &alerts, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(alerts);
	env.alerts = alerts;
	log_capture_start(LOG_LEVEL_INFO);
	/* 1 of 3 is under 60 %, 2 of 3 is over: one warn */
	ck_assert_int_eq(send("alice", 1), 1);
	ck_assert_int_eq(count(log_capture_text(), "alert: "), 0);
	ck_assert_int_eq(send("alice", 1), 1);
	text = log_capture_text();
	ck_assert_msg(count(text, "alert: kind=warn user=<alice> limit=\"3 recipients per day\" "
			      "used=2 max=3 client=192.0.2.7 ") == 1, "got %s", text);
	/* the third fits, the fourth is refused: a refusal, and with lock.after = 1 a lock */
	ck_assert_int_eq(send("alice", 2), 1);
	text = log_capture_text();
	ck_assert_msg(count(text, "alert: kind=refusal user=<alice> limit=\"3 recipients per day\" "
			      "used=3 max=3 ") == 1, "got %s", text);
	ck_assert_msg(count(text, "alert: kind=lock user=<alice> limit=\"3 recipients per day\" "
			      "used=1 max=1 ") == 1, "got %s", text);
	ck_assert_int_eq(send("alice", 1), -1);
	/* one warn only (the alerts module keeps one per user and kind per interval) */
	ck_assert_int_eq(count(log_capture_text(), "alert: kind=warn"), 1);
	log_capture_stop();
	env.alerts = NULL;
	alerts_close(&alerts);
	stop();
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("actions");
	TCase *tc = tcase_create("actions");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_monitor_policy);
	tcase_add_test(tc, test_monitor_identity);
	tcase_add_test(tc, test_monitor_quota);
	tcase_add_test(tc, test_monitor_limits_retry);
	tcase_add_test(tc, test_action_tempfail);
	tcase_add_test(tc, test_action_quarantine);
	tcase_add_test(tc, test_action_lock);
	tcase_add_test(tc, test_limit_row_overrides);
	tcase_add_test(tc, test_quarantine_cap_at_eom);
	tcase_add_test(tc, test_lock_check);
	tcase_add_test(tc, test_lock_handover);
	tcase_add_test(tc, test_lock_check_with_sda);
	tcase_add_test(tc, test_action_monitored_names_action);
	tcase_add_test(tc, test_alerts);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
