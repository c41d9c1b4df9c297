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
 *
 *	Several limits (issue 10, limits.c): a user whose set is more than
 *	the quota's own number (extra limits, a domain default, a domain
 *	pool) takes store_limits_* instead: at MAIL the exemptions and
 *	max_message_bytes (SIZE=), at RCPT max_recipients_per_message and
 *	one store_limits_reserve over every limit (all or nothing: messages
 *	1 for the first counted recipient, recipients 1, distinct 1 with the
 *	address's hash, bytes the declared SIZE once); the refusal names the
 *	limit (quota.limit_reply) unless it is the quota's own number
 *	(quota.reply, CHAPPS's text).  Commit and release as above.  A
 *	CHAPPS single limit keeps the store_quota_* path unchanged.
 *	Exempt mail (null sender, exempt users and senders) drops out at
 *	MAIL uncounted; recipients in quota.uncounted_domains pass uncounted.
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
#include "base/metrics.h"
#include "policy/limits.h"
#include "policy/policy_ops.h"
#include "policy/quota.h"
#include "request/request.h"
#include "store/store.h"

struct quota_state {
	long limit;			/* looked up at MAIL; valid while the policy follows */
	uint32_t reserved;		/* units reserved in the store */
	bool committed;
	bool release_anyway;		/* a reserve failed: it may still have run late */
	bool uncounted;			/* on_error = accept let the message through */
	char resid[STORE_RESID_MAX + 1];
	/* several limits (issue 10): multi is set at MAIL when the set is more than id 0 */
	bool multi;
	uint32_t counted_rcpts;		/* recipients reserved on the limits */
	uint64_t size;			/* SIZE= of MAIL FROM */
	struct backends_limits set;
	size_t n;			/* store limits built at the first RCPT */
	struct store_limit limits[STORE_LIMITS_MAX];
	struct limits_entry entries[STORE_LIMITS_MAX];
	char pool_owner[LIMITS_OWNER_MAX];
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

/* refuse_cap - a per-message cap refused: limit_reply naming it */
static enum policy_step refuse_cap(struct policy_call *call, struct policy_result *r, int kind,
				   long long cap)
{
	struct limits_entry e = { .row = { .kind = kind, .span = POLICYDB_SPAN_MESSAGE,
					   .max = cap } };
	char why[128];

	limits_describe(call->env->config, &e, NULL, why, sizeof(why));
	policy_refuse(r, policy_msg_reply_format(call->msg, &call->env->config->quota_limit_reply,
						 why, NULL), "quota");
	snprintf(r->detail, sizeof(r->detail), "cap: %s", why);
	return POLICY_STEP_STOP;
}

/* quota_mail - find the user's limits; the policy follows a user who has some */
static enum policy_step quota_mail(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct quota_state *s = call->state;
	const char *user = policy_msg_user(call->msg);
	const char *why = NULL;
	long long cap;
	int st;

	if (limits_exempt(c, user, request_get(call->req, REQ_SENDER), &why)) {
		s->limit = -1;
		return POLICY_STEP_DONE;	/* uncounted: why */
	}
	st = backends_user_limits(call->env->backends, user, policy_now(call->env),
				  (uint32_t)c->policydb_cache_ttl, &s->set, r);
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
	s->limit = s->set.base;
	s->multi = s->set.n > 0 || s->set.pool;
	if (s->multi) {
		s->size = limits_declared_size(request_get(call->req, REQ_ESMTP_ARGS));
		cap = limits_cap(&s->set, POLICYDB_LIMIT_MAX_BYTES);
		if (cap >= 0 && s->size > (uint64_t)cap)
			return refuse_cap(call, r, POLICYDB_LIMIT_MAX_BYTES, cap);
	}
	return POLICY_STEP_NEXT;
}

/* rcpt_limits - reserve this recipient on every limit of the message, all or nothing */
static enum policy_step rcpt_limits(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct backends *b = call->env->backends;
	struct quota_state *s = call->state;
	const char *user = policy_msg_user(call->msg);
	struct store_limit_ask asks[STORE_LIMITS_MAX];
	struct store_limit_state states[STORE_LIMITS_MAX];
	const char *err = NULL;
	int64_t t = policy_now(call->env);
	long long cap = limits_cap(&s->set, POLICYDB_LIMIT_MAX_RCPT);
	bool first = s->counted_rcpts == 0;
	struct store *store;
	size_t refused = 0;
	int st;

	if (cap >= 0 && s->counted_rcpts >= (uint64_t)cap)
		return refuse_cap(call, r, POLICYDB_LIMIT_MAX_RCPT, cap);
	if (s->resid[0] == '\0')
		new_resid(s);
	if (s->n == 0)
		s->n = limits_build(c, &s->set, user, s->pool_owner, t, s->limits, s->entries);
	for (size_t i = 0; i < s->n; i++) {
		asks[i].rcpt_hash = 0;
		switch (s->limits[i].count) {
		case STORE_COUNT_MESSAGES:
			asks[i].amount = first ? 1 : 0;
			break;
		case STORE_COUNT_RECIPIENTS:
			asks[i].amount = 1;
			break;
		case STORE_COUNT_DISTINCT:
			asks[i].amount = 1;
			asks[i].rcpt_hash = limits_rcpt_hash(call->rcpt ? call->rcpt : "");
			break;
		case STORE_COUNT_BYTES:
			asks[i].amount = first ? s->size : 0;
			break;
		}
	}
	store = backends_store(b, t, &err);
	st = store ? store_limits_reserve(store, s->resid, s->limits, asks, s->n, t, &refused,
					  states, &err)
		   : STORE_ERROR;
	if (st == STORE_ERROR) {
		backends_failed(b, BACKENDS_STORE, err, r);
		s->release_anyway = true;
		if (!policy_on_error(call->env, c->quota_on_error, false, "quota", r))
			return POLICY_STEP_STOP;
		s->uncounted = true;
		return POLICY_STEP_NEXT;
	}
	backends_ok(b, BACKENDS_STORE, r);
	if (st == STORE_REFUSED && refused < s->n) {
		const struct limits_entry *e = &s->entries[refused];
		const char *at = strrchr(user, '@');
		char why[128];

		limits_describe(c, e, at ? at + 1 : NULL, why, sizeof(why));
		snprintf(r->detail, sizeof(r->detail), "refused by %s: used=%llu reserved=%llu",
			 why, (unsigned long long)states[refused].committed,
			 (unsigned long long)states[refused].reserved);
		if (e->base && !e->pool)
			return policy_refuse(r, &c->quota_reply, "quota");
		return policy_refuse(r, policy_msg_reply_format(call->msg, &c->quota_limit_reply,
								why, NULL), "quota");
	}
	if (st == STORE_REFUSED)
		return policy_refuse(r, &c->quota_reply, "quota");
	s->counted_rcpts++;
	if (s->reserved++ == 0)
		metrics_reservation(true);
	snprintf(r->detail, sizeof(r->detail), "limits=%zu used=%llu reserved=%llu limit=%llu",
		 s->n, (unsigned long long)states[0].committed,
		 (unsigned long long)states[0].reserved, (unsigned long long)s->limits[0].max);
	r->policy = "quota";
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

	if (limits_uncounted_rcpt(c, call->rcpt)) {
		call->noted = true;
		call->note_policy = "quota";
		snprintf(call->note, sizeof(call->note), "uncounted recipient domain");
		return POLICY_STEP_NEXT;
	}
	if (s->multi)
		return rcpt_limits(call, r);
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
	if (s->reserved == 0)
		metrics_reservation(true);
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
	    (s->multi ? store_limits_commit(store, s->resid, s->limits, NULL, s->n, t, &err)
		      : store_quota_commit(store, user, strlen(user), s->resid, &params, t,
					   &err)) != STORE_OK) {
		backends_failed(b, BACKENDS_STORE, err, r);
		return policy_on_error(call->env, c->quota_on_error, false, "quota", r);
	}
	backends_ok(b, BACKENDS_STORE, r);
	s->committed = true;
	metrics_reservation(false);
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

	if (s->reserved > 0 && !s->committed)
		metrics_reservation(false);	/* released, or left to expire */
	if ((s->reserved > 0 || s->release_anyway) && !s->committed && call->env != NULL &&
	    call->env->backends != NULL && user != NULL) {
		const char *err;
		int64_t t = policy_now(call->env);
		struct store *store = backends_store(call->env->backends, t, &err);

		/* a failed release is harmless: the reservation expires by itself */
		if (store != NULL && s->multi && s->n > 0)
			(void)store_limits_release(store, s->resid, s->limits, s->n, t, &err);
		else if (store != NULL && !s->multi)
			(void)store_quota_release(store, user, strlen(user), s->resid, t, &err);
	}
}

/* quota_check - set quota.timezone once, at start-up */
static int quota_check(const struct config *c, char *err, size_t errsize)
{
	return limits_set_timezone(c, err, errsize);
}

const struct policy_ops policy_quota = {
	.name = "quota",
	.flow = FLOW_OUTBOUND,
	.stages = POLICY_STAGE_MAIL | POLICY_STAGE_RCPT | POLICY_STAGE_DATA | POLICY_STAGE_EOM,
	.uses = BACKENDS_USES_STORE | BACKENDS_USES_DB,
	.state_size = sizeof(struct quota_state),
	.check = quota_check,
	.mail = quota_mail,
	.rcpt = quota_rcpt,
	.data = quota_data,
	.eom = quota_eom,
	.abort = quota_abort,
};
