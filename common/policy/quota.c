/*
 * NAME
 *	quota - outbound quota over a sliding window, reserved per recipient
 * DESCRIPTION
 *	Life cycle of one message:
 *	  MAIL   look the user's limit up (in-process cache, negative entries
 *	         for unknown users, then the policy database); a user without
 *	         a quota is refused, or let through with unknown_user = accept
 *	         (then nothing is counted and the policy drops out);
 *	  RCPT   store_quota_reserve(1) per recipient (per message without
 *	         counting_recipients) under a reservation id unique to the
 *	         message; a refusal refuses the recipient;
 *	  DATA or EOM (quota.commit)  store_quota_commit;
 *	  abort, next MAIL, close     store_quota_release (a crashed milter's
 *	         reservation expires in the store after reservation_ttl).
 *	So only accepted mail counts, and two connections of one user can
 *	never both pass the limit: the reserve is one atomic store operation.
 *
 *	Backend failures apply quota.on_error.  A reserve that failed may
 *	still have run late on the server, so it is released at the end too.
 * DIAGNOSTICS
 *	None: results only.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "policy/policy_ops.h"
#include "policy/quota.h"
#include "store/store.h"

struct quota_state {
	long limit;			/* looked up at MAIL; valid while the policy follows */
	uint32_t reserved;		/* units reserved in the store */
	bool committed;
	bool release_anyway;		/* a reserve failed: it may still have run late */
	bool uncounted;			/* on_error = accept let the message through */
	char resid[STORE_RESID_MAX + 1];
};

void quota_store_params(const struct config *c, long limit, struct store_quota_params *p)
{
	const struct config_margin *m = &c->quota_margin;
	double margin = m->absolute ? (double)m->count : m->ratio * (double)limit;

	p->limit = limit > 0 ? (uint32_t)limit : 0;
	p->margin = (uint32_t)margin;
	p->interval = (uint32_t)c->quota_interval;
	p->resolution = (uint32_t)c->quota_resolution;
	p->reservation_ttl = (uint32_t)c->quota_reservation_ttl;
}

int quota_import_usage(const struct config *c, struct store *store, const char *user,
		       uint32_t count, uint32_t spread, int64_t now, uint32_t *buckets_r,
		       const char **err)
{
	struct store_quota_params params;
	struct store_quota_state state;
	uint32_t buckets = spread / (uint32_t)c->quota_resolution;

	if (count > QUOTA_IMPORT_MAX || spread > (uint32_t)c->quota_interval) {
		*err = "count or spread out of range";
		return -1;
	}
	/* a limit no import reaches: the usage happened, it is not a request */
	quota_store_params(c, 10L * QUOTA_IMPORT_MAX, &params);
	params.margin = 0;
	if (buckets == 0)
		buckets = 1;
	if (buckets > count)
		buckets = count;
	for (uint32_t k = buckets; k-- > 0;) {
		/* bucket k back from now gets count / buckets units, the newest the rest */
		uint32_t units = count / buckets + (k < count % buckets ? 1 : 0);
		int64_t t = now - (int64_t)k * c->quota_resolution;
		char resid[STORE_RESID_MAX];

		snprintf(resid, sizeof(resid), "import.%ld.%lu", (long)getpid(), (unsigned long)k);
		int st = store_quota_reserve(store, user, strlen(user), resid, units, &params, t,
					     &state, err);

		if (st == STORE_REFUSED)
			*err = "the store refused the units";
		if (st != STORE_OK)
			return -1;
		if (store_quota_commit(store, user, strlen(user), resid, &params, t, err) != STORE_OK)
			return -1;
	}
	*buckets_r = buckets;
	return 0;
}

static char resid_host[24];
static long resid_pid;
static pthread_once_t resid_once = PTHREAD_ONCE_INIT;

/* init_host - the short host name used in reservation ids */
static void init_host(void)
{
	char buf[256] = "";

	if (gethostname(buf, sizeof(buf) - 1) < 0 || buf[0] == '\0')
		snprintf(buf, sizeof(buf), "host");
	buf[sizeof(buf) - 1] = '\0';
	snprintf(resid_host, sizeof(resid_host), "%.23s", buf);
	resid_pid = (long)getpid();	/* the first message comes after any detach */
}

/* new_resid - an id unique to this message across processes and hosts */
static void new_resid(struct quota_state *s)
{
	static unsigned long counter;
	unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	struct timespec ts;

	pthread_once(&resid_once, init_host);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(s->resid, sizeof(s->resid), "%s.%ld.%lx.%lx.%lx", resid_host, resid_pid, n,
		 (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec);
}

/* quota_mail - find the user's limit; the policy follows a user who has one */
static enum policy_step quota_mail(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct quota_state *s = call->state;
	int st = backends_user_limit(call->env->backends, policy_msg_user(call->msg),
				     policy_now(call->env), (uint32_t)c->policydb_cache_ttl,
				     &s->limit, r);

	if (st < 0) {
		s->limit = -1;
		s->uncounted = policy_on_error(call->env, c->quota_on_error, false, "quota", r);
		return s->uncounted ? POLICY_STEP_DONE : POLICY_STEP_STOP;
	}
	if (st == 0) {
		s->limit = -1;
		if (c->quota_unknown_user == UNKNOWN_USER_ACCEPT)
			return POLICY_STEP_DONE;
		policy_refuse(r, &c->quota_unknown_user_reply, "quota");
		snprintf(r->detail, sizeof(r->detail), "no quota");
		return POLICY_STEP_STOP;
	}
	return POLICY_STEP_NEXT;
}

/* quota_rcpt - reserve a unit for this recipient (or the first one) */
static enum policy_step quota_rcpt(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct backends *b = call->env->backends;
	struct quota_state *s = call->state;
	const char *user = policy_msg_user(call->msg);
	struct store_quota_params params;
	struct store_quota_state state;
	const char *err = NULL;
	int64_t t = policy_now(call->env);
	struct store *store;
	uint32_t n = c->quota_counting_recipients || s->reserved == 0 ? 1 : 0;
	int st;

	if (n == 0)
		return POLICY_STEP_NEXT;
	if (s->resid[0] == '\0')
		new_resid(s);
	quota_store_params(c, s->limit, &params);
	store = backends_store(b, t, &err);
	st = store ? store_quota_reserve(store, user, strlen(user), s->resid, n, &params, t,
					 &state, &err)
		   : STORE_ERROR;
	if (st == STORE_ERROR) {
		backends_failed(b, BACKENDS_STORE, err, r);
		/* a timed-out script may still run on the server: release it at the end */
		s->release_anyway = true;
		if (!policy_on_error(call->env, c->quota_on_error, false, "quota", r))
			return POLICY_STEP_STOP;
		s->uncounted = true;
		return POLICY_STEP_NEXT;
	}
	backends_ok(b, BACKENDS_STORE, r);
	{
		/* formatted only if logged: RCPT passes are logged at debug level */
		static const char *const names[] = { "used", "reserved", "limit", "margin" };
		unsigned nums[] = { state.committed, state.reserved, params.limit, params.margin };

		policy_result_detail_nums(r, names, nums, 4);
	}
	if (st == STORE_REFUSED)
		return policy_refuse(r, &c->quota_reply, "quota");
	s->reserved += n;
	r->policy = "quota";
	return POLICY_STEP_NEXT;
}

static const char *const counted_name[] = { "counted" };

/* commit - turn the reservation into usage; false when on_error refuses */
static bool commit(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct backends *b = call->env->backends;
	struct quota_state *s = call->state;
	const char *user = policy_msg_user(call->msg);
	struct store_quota_params params;
	const char *err = NULL;
	int64_t t = policy_now(call->env);
	struct store *store;

	if (s->reserved == 0 || s->committed)
		return true;
	quota_store_params(c, s->limit, &params);
	store = backends_store(b, t, &err);
	if (store == NULL ||
	    store_quota_commit(store, user, strlen(user), s->resid, &params, t, &err) != STORE_OK) {
		backends_failed(b, BACKENDS_STORE, err, r);
		return policy_on_error(call->env, c->quota_on_error, false, "quota", r);
	}
	backends_ok(b, BACKENDS_STORE, r);
	s->committed = true;
	policy_result_detail_nums(r, counted_name, &s->reserved, 1);
	return true;
}

/* counted - commit and name the result; DONE, or STOP when on_error refuses */
static enum policy_step counted(struct policy_call *call, struct policy_result *r)
{
	struct quota_state *s = call->state;

	if (!commit(call, r))
		return POLICY_STEP_STOP;
	policy_result_set(r, POLICY_ACCEPT, NULL, "quota");
	if (s->uncounted)
		snprintf(r->detail, sizeof(r->detail), "uncounted (on_error=accept)");
	return POLICY_STEP_DONE;
}

/* quota_data - commit at DATA (quota.commit = "data") */
static enum policy_step quota_data(struct policy_call *call, struct policy_result *r)
{
	if (call->env->config->quota_commit != QUOTA_COMMIT_DATA)
		return POLICY_STEP_NEXT;
	return counted(call, r);
}

/* quota_eom - commit at end of message (quota.commit = "eom") */
static enum policy_step quota_eom(struct policy_call *call, struct policy_result *r)
{
	return counted(call, r);
}

/* quota_abort - release an uncommitted reservation */
static void quota_abort(struct policy_call *call)
{
	struct quota_state *s = call->state;
	const char *user = policy_msg_user(call->msg);

	if ((s->reserved > 0 || s->release_anyway) && !s->committed && call->env != NULL &&
	    call->env->backends != NULL && user != NULL) {
		const char *err;
		int64_t t = policy_now(call->env);
		struct store *store = backends_store(call->env->backends, t, &err);

		/* a failed release is harmless: the reservation expires by itself */
		if (store != NULL)
			(void)store_quota_release(store, user, strlen(user), s->resid, t, &err);
	}
}

const struct policy_ops policy_quota = {
	.name = "quota",
	.flow = FLOW_OUTBOUND,
	.stages = POLICY_STAGE_MAIL | POLICY_STAGE_RCPT | POLICY_STAGE_DATA | POLICY_STAGE_EOM,
	.uses = BACKENDS_USES_STORE | BACKENDS_USES_DB,
	.state_size = sizeof(struct quota_state),
	.mail = quota_mail,
	.rcpt = quota_rcpt,
	.data = quota_data,
	.eom = quota_eom,
	.abort = quota_abort,
};
