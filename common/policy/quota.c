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
 *	  DATA or EOM (quota.commit)  store_quota_commit_later (on Redis
 *	         with store.redis.defer_commit it goes out with a later
 *	         command: the reservation holds the room until it runs);
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
 *	(quota.reply, CHAPPS's text).  Commit and release as above, except
 *	that a set with a bytes limit or max_message_bytes commits at EOM
 *	whatever quota.commit says: there max_message_bytes checks the real
 *	size the milter counted (policy_msg_size) and the bytes limits commit
 *	it in place of what was reserved (the declared size when the milter
 *	did not count it).  A CHAPPS single limit keeps the store_quota_*
 *	path unchanged.
 *	Exempt mail (null sender, exempt users and senders) drops out at
 *	MAIL uncounted; recipients in quota.uncounted_domains pass uncounted.
 *
 *	Issue 11.  A limit that refuses does what limits_entry_policy says:
 *	reject (as above); tempfail (the same reply made 4xx); quarantine
 *	(the reservation of the whole message is released, the message held:
 *	the runner quarantines it at EOM, it counts nothing); lock (reject,
 *	and one strike per message with store_lock_strike; the strike that
 *	locks posts ALERT_LOCK).  Each enforced refusal posts ALERT_REFUSAL
 *	(the alerts module keeps one per user per interval).  A limit in
 *	monitor mode that refuses is recorded as a would-be refusal
 *	(policy_msg_would) and the reserve is tried again without it, so the
 *	message counts on the other limits only.  A granted reserve that
 *	brings a limit to warn_at percent of its maximum posts ALERT_WARN.
 *	At MAIL, with lock.check, a locked user is refused with lock.reply
 *	(held with lock.hold) before anything is counted; a store that fails
 *	there lets the message go on (an incident), to the reservation at
 *	RCPT where quota.on_error applies as it always did.
 * DIAGNOSTICS
 *	None: results only.
 */
#include "autoconf.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
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
	bool struck;			/* action lock: this message's strike is counted */
	uint64_t size;			/* SIZE= of MAIL FROM */
	bool sized;			/* a bytes limit or max_message_bytes: commit at EOM */
	size_t n;			/* store limits built at the first RCPT */
	/*
	 * From set.l on, only what the counts (set.n, set.n_pool, n) cover is
	 * read, and it is written first: the runner zeroes the state up to
	 * there alone (QUOTA_STATE_RESET), not its 5 kB of rows each message.
	 */
	struct backends_limits set;
	struct store_limit limits[STORE_LIMITS_MAX];
	struct limits_entry entries[STORE_LIMITS_MAX];
	char pool_owner[LIMITS_OWNER_MAX];
};

#define QUOTA_STATE_RESET (offsetof(struct quota_state, set) + offsetof(struct backends_limits, l))

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

static char resid_prefix[48];		/* "host.pid." */
static size_t resid_prefix_len;
static pthread_once_t resid_once = PTHREAD_ONCE_INIT;

/* init_host - the reservation ids' prefix: the short host name and the pid */
static void init_host(void)
{
	char buf[256] = "";
	int n;

	if (gethostname(buf, sizeof(buf) - 1) < 0 || buf[0] == '\0')
		snprintf(buf, sizeof(buf), "host");
	buf[sizeof(buf) - 1] = '\0';
	/* the first message comes after any detach: the pid is the milter's */
	n = snprintf(resid_prefix, sizeof(resid_prefix), "%.23s.%ld.", buf, (long)getpid());
	resid_prefix_len = n > 0 && (size_t)n < sizeof(resid_prefix) ? (size_t)n : 0;
}

/* put_hex - v in lower-case hexadecimal at p ("%lx"); returns the end */
static char *put_hex(char *p, unsigned long v)
{
	char d[2 * sizeof(v)];
	size_t n = 0;

	do
		d[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) != 0);
	while (n > 0)
		*p++ = d[--n];
	return p;
}

/*
 * new_resid - an id unique to this message across processes and hosts:
 * "host.pid.counter.sec.nsec" (the last three in hex), built without
 * printf (once per message) and cut to STORE_RESID_MAX as snprintf would
 */
static void new_resid(struct quota_state *s)
{
	static unsigned long counter;
	unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	struct timespec ts;
	char id[sizeof(resid_prefix) + 3 * (2 * sizeof(unsigned long) + 1)], *p;
	size_t len;

	pthread_once(&resid_once, init_host);
	clock_gettime(CLOCK_REALTIME, &ts);
	memcpy(id, resid_prefix, resid_prefix_len);
	p = put_hex(id + resid_prefix_len, n);
	*p++ = '.';
	p = put_hex(p, (unsigned long)ts.tv_sec);
	*p++ = '.';
	p = put_hex(p, (unsigned long)ts.tv_nsec);
	len = (size_t)(p - id);
	if (len > sizeof(s->resid) - 1)
		len = sizeof(s->resid) - 1;
	memcpy(s->resid, id, len);
	s->resid[len] = '\0';
}

/* detail_append - append text to r's detail (its numbers formatted first) */
static void detail_append(struct policy_result *r, const char *text)
{
	char buf[sizeof(r->detail)];
	const char *d = policy_result_detail(r, buf, sizeof(buf));
	size_t len;

	if (d != NULL && d != r->detail)
		snprintf(r->detail, sizeof(r->detail), "%s", d);
	r->n_detail_nums = 0;
	len = strlen(r->detail);
	snprintf(r->detail + len, sizeof(r->detail) - len, "%s", text);
}

/* post - an alert of kind about user's limit why (env->alerts may be NULL) */
static void post(struct policy_call *call, enum alert_kind kind, const char *why, uint64_t used,
		 uint64_t max)
{
	struct alert_event ev = {
		.kind = kind,
		.user = policy_msg_user(call->msg),
		.limit = why,
		.used = used,
		.max = max,
		.client_addr = request_get(call->req, REQ_CLIENT_ADDR),
		.queue_id = request_get(call->req, REQ_QUEUE_ID),
		.time = policy_now(call->env),
	};

	if (call->env->alerts != NULL && ev.user != NULL)
		(void)alerts_post(call->env->alerts, &ev);
}

/* warn - ALERT_WARN when used (committed + reserved) reached warn_at percent of max */
static void warn(struct policy_call *call, const struct limits_entry *e, uint64_t used,
		 uint64_t max)
{
	const struct config *c = call->env->config;
	struct limits_policy p;
	char why[128];

	if (call->env->alerts == NULL || max == 0)
		return;
	limits_entry_policy(c, e, &p);
	if (p.warn_at <= 0 || used * 100 < (uint64_t)p.warn_at * max)
		return;
	limits_describe(c, e, NULL, why, sizeof(why));
	post(call, ALERT_WARN, why, used, max);
}

/* release - drop the message's reservations now (a held message counts nothing) */
static void release(struct policy_call *call, struct quota_state *s)
{
	const char *user = policy_msg_user(call->msg);
	const char *err;
	int64_t t = policy_now(call->env);
	struct store *store;

	if ((s->reserved == 0 && !s->release_anyway) || s->committed || user == NULL)
		return;
	if (s->reserved > 0)
		metrics_reservation(false);
	store = backends_store(call->env->backends, t, &err);
	/* a failed release is harmless: the reservation expires by itself */
	if (store != NULL && s->multi && s->n > 0)
		(void)store_limits_release(store, s->resid, s->limits, s->n, t, &err);
	else if (store != NULL && !s->multi)
		(void)store_quota_release(store, user, strlen(user), s->resid, t, &err);
	s->reserved = 0;
	s->release_anyway = false;
}

/* strike - action lock: count this message's refusal once; the strike that locks alerts */
static void strike(struct policy_call *call, struct quota_state *s, const char *why,
		   struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct backends *b = call->env->backends;
	const char *user = policy_msg_user(call->msg);
	const char *err = NULL;
	int64_t t = policy_now(call->env);
	struct store *store;
	uint32_t strikes = 0;
	int locked = 0;
	char reason[160];

	if (s->struck)
		return;
	s->struck = true;
	snprintf(reason, sizeof(reason), "quota: %s", why);
	store = backends_store(b, t, &err);
	if (store == NULL ||
	    store_lock_strike(store, user, strlen(user), (uint32_t)c->lock_after,
			      (uint32_t)c->lock_window, reason, t, &strikes, &locked,
			      &err) != STORE_OK) {
		/* the refusal stands; only the strike is lost */
		backends_failed(b, BACKENDS_STORE, err, r);
		return;
	}
	snprintf(reason, sizeof(reason), " strikes=%u%s", (unsigned)strikes,
		 locked ? " locked" : "");
	detail_append(r, reason);
	if (locked)
		post(call, ALERT_LOCK, why, strikes, (uint64_t)c->lock_after);
}

/*
 * refused_limit - limit e (described by why) refused, with reply as its reject
 * reply and r's detail set: apply its action, or in monitor mode record
 * the would-be refusal, reset r and set *monitored_r (the caller goes on
 * without this limit).  Returns the step.
 */
static enum policy_step refused_limit(struct policy_call *call, struct policy_result *r,
				      const struct limits_entry *e, const char *why,
				      const struct reply *reply, uint64_t used, uint64_t max,
				      bool *monitored_r)
{
	const struct config *c = call->env->config;
	struct quota_state *s = call->state;
	struct limits_policy p;
	char reason[300];

	limits_entry_policy(c, e, &p);
	*monitored_r = p.monitor;
	if (p.action == QUOTA_ACTION_TEMPFAIL)
		reply = policy_msg_reply_temporary(call->msg, reply);
	if (p.monitor) {
		policy_refuse(r, reply, "quota");
		if (p.action != QUOTA_ACTION_REJECT) {
			snprintf(reason, sizeof(reason), " action=%s",
				 config_quota_action_name((enum quota_action)p.action));
			detail_append(r, reason);
		}
		policy_msg_would(call->msg, r);
		policy_result_set(r, POLICY_CONTINUE, NULL, NULL);
		r->detail[0] = '\0';
		r->n_detail_nums = 0;
		return POLICY_STEP_NEXT;
	}
	post(call, ALERT_REFUSAL, why, used, max);
	switch (p.action) {
	case QUOTA_ACTION_QUARANTINE:
		release(call, s);
		snprintf(reason, sizeof(reason), "chapps: %s over %s", policy_msg_user(call->msg),
			 why);
		policy_msg_hold(call->msg, "quota", reason);
		policy_result_set(r, POLICY_CONTINUE, NULL, "quota");
		return POLICY_STEP_DONE;
	case QUOTA_ACTION_LOCK:
		policy_refuse(r, reply, "quota");
		strike(call, s, why, r);
		return POLICY_STEP_STOP;
	default:
		return policy_refuse(r, reply, "quota");
	}
}

/* refuse_cap - a per-message cap refused: limit_reply naming it (or its action) */
static enum policy_step refuse_cap(struct policy_call *call, struct policy_result *r, int kind,
				   long long cap, uint64_t used, bool *monitored_r)
{
	const struct policydb_limit *row = limits_cap_row(&((struct quota_state *)call->state)->set,
							   kind);
	struct limits_entry e = { .row = { .kind = kind, .span = POLICYDB_SPAN_MESSAGE,
					   .max = cap, .warn_at = POLICYDB_WARN_DEFAULT } };
	char why[128];

	if (row != NULL)
		e.row = *row;	/* with the cap's overrides (issue 11) */

	limits_describe(call->env->config, &e, NULL, why, sizeof(why));
	snprintf(r->detail, sizeof(r->detail), "cap: %s", why);
	return refused_limit(call, r, &e, why,
			     policy_msg_reply_format(call->msg,
						     &call->env->config->quota_limit_reply, why,
						     NULL),
			     used, (uint64_t)cap, monitored_r);
}

/*
 * lock_check - lock.check at MAIL: NEXT (not locked, held, or the store
 * failed: the limits' reservation applies quota.on_error), or STOP with r set
 */
static enum policy_step lock_check(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct backends *b = call->env->backends;
	const char *user = policy_msg_user(call->msg);
	struct store_lock_info info;
	const char *err = NULL;
	int64_t t = policy_now(call->env);
	struct store *store = backends_store(b, t, &err);
	char reason[300];
	int st;

	/* sender_domain_auth may have read it already (or failed to), in its cache look-up */
	st = policy_msg_take_lock(call->msg, &info, &err);
	if (st == POLICY_LOCK_UNREAD)
		st = store ? store_lock_get(store, user, strlen(user), &info, &err) : STORE_ERROR;
	if (st == STORE_ERROR) {
		/* the reservation at RCPT needs the store too: quota.on_error applies there */
		backends_failed(b, BACKENDS_STORE, err, r);
		return POLICY_STEP_NEXT;
	}
	backends_ok(b, BACKENDS_STORE, r);
	if (st != STORE_OK)
		return POLICY_STEP_NEXT;
	if (c->lock_hold) {
		snprintf(reason, sizeof(reason), "chapps: user %s is locked", user);
		policy_msg_hold(call->msg, "lock", reason);
		return POLICY_STEP_NEXT;
	}
	policy_refuse(r, &c->lock_reply, "lock");
	snprintf(r->detail, sizeof(r->detail), "locked: %.180s", info.reason);
	return POLICY_STEP_STOP;
}

/* quota_mail - find the user's limits; the policy follows a user who has some */
static enum policy_step quota_mail(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct quota_state *s = call->state;
	const char *user = policy_msg_user(call->msg);
	const char *why = NULL;
	enum policy_step step;
	bool monitored;
	long long cap;
	int st;

	if (user == NULL) {
		s->limit = -1;
		return POLICY_STEP_DONE;	/* identity.mode = monitor let it through */
	}
	if (c->lock_check) {
		step = lock_check(call, r);
		if (step == POLICY_STEP_STOP || policy_msg_held(call->msg)) {
			s->limit = -1;
			return step == POLICY_STEP_STOP ? step : POLICY_STEP_DONE;
		}
	}
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
		s->sized = limits_counts_size(&s->set);
		cap = limits_cap(&s->set, POLICYDB_LIMIT_MAX_BYTES);
		if (cap >= 0 && s->size > (uint64_t)cap) {
			step = refuse_cap(call, r, POLICYDB_LIMIT_MAX_BYTES, cap, s->size,
					  &monitored);
			if (!monitored) {
				if (step == POLICY_STEP_DONE)
					s->limit = -1;	/* held */
				return step;
			}
		}
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
	const char *at = strrchr(user, '@');
	struct store_limit_ask asks[STORE_LIMITS_MAX], ask[STORE_LIMITS_MAX];
	struct store_limit_state states[STORE_LIMITS_MAX], state[STORE_LIMITS_MAX];
	struct store_limit lim[STORE_LIMITS_MAX];
	size_t idx[STORE_LIMITS_MAX], m = 0;
	bool skip[STORE_LIMITS_MAX] = { false };
	const char *err = NULL;
	int64_t t = policy_now(call->env);
	long long cap = limits_cap(&s->set, POLICYDB_LIMIT_MAX_RCPT);
	bool first = s->counted_rcpts == 0, monitored = false;
	struct store *store;
	size_t refused = 0;
	int st;

	if (cap >= 0 && s->counted_rcpts >= (uint64_t)cap) {
		enum policy_step step = refuse_cap(call, r, POLICYDB_LIMIT_MAX_RCPT, cap,
						   s->counted_rcpts + 1, &monitored);

		if (!monitored)
			return step;
	}
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
			/*
			 * SIZE=, or 1 without it: an ask of 0 is always
			 * granted, so a full bytes limit would let every
			 * message without SIZE= through (the real size
			 * is committed at EOM all the same)
			 */
			asks[i].amount = first ? (s->size > 0 ? s->size : 1) : 0;
			break;
		}
	}
	memset(states, 0, sizeof(states));
	store = backends_store(b, t, &err);
	/* a limit in monitor mode that refuses is left out and the rest asked again */
	for (;;) {
		m = 0;
		for (size_t i = 0; i < s->n; i++)
			if (!skip[i]) {
				idx[m] = i;
				lim[m] = s->limits[i];
				ask[m] = asks[i];
				m++;
			}
		if (m == 0) {
			st = STORE_OK;	/* every limit would refuse: the recipient passes uncounted */
			break;
		}
		st = store ? store_limits_reserve(store, s->resid, lim, ask, m, t, &refused, state,
						  &err)
			   : STORE_ERROR;
		if (st == STORE_ERROR)
			break;
		for (size_t j = 0; j < m; j++)
			states[idx[j]] = state[j];
		if (st == STORE_OK || refused >= m)
			break;
		refused = idx[refused];
		{
			const struct limits_entry *e = &s->entries[refused];
			char why[128];
			enum policy_step step;

			limits_describe(c, e, at ? at + 1 : NULL, why, sizeof(why));
			snprintf(r->detail, sizeof(r->detail), "refused by %s: used=%llu reserved=%llu",
				 why, (unsigned long long)states[refused].committed,
				 (unsigned long long)states[refused].reserved);
			step = refused_limit(call, r, e, why,
					     e->base && !e->pool
						     ? &c->quota_reply
						     : policy_msg_reply_format(call->msg,
									       &c->quota_limit_reply,
									       why, NULL),
					     states[refused].committed + states[refused].reserved,
					     s->limits[refused].max, &monitored);
			if (!monitored)
				return step;
			skip[refused] = true;
		}
	}
	if (st == STORE_ERROR) {
		backends_failed(b, BACKENDS_STORE, err, r);
		s->release_anyway = true;
		if (!policy_on_error(call->env, c->quota_on_error, false, "quota", r))
			return POLICY_STEP_STOP;
		s->uncounted = true;
		return POLICY_STEP_NEXT;
	}
	backends_ok(b, BACKENDS_STORE, r);
	if (st == STORE_REFUSED)
		return policy_refuse(r, &c->quota_reply, "quota");
	if (m == 0)
		return POLICY_STEP_NEXT;
	s->counted_rcpts++;
	if (s->reserved++ == 0)
		metrics_reservation(true);
	for (size_t j = 0; j < m; j++)
		warn(call, &s->entries[idx[j]], state[j].committed + state[j].reserved,
		     s->limits[idx[j]].max);
	if (states[0].committed <= UINT_MAX && states[0].reserved <= UINT_MAX &&
	    s->limits[0].max <= UINT_MAX) {
		/* the same text, formatted only if logged (RCPT passes: debug level) */
		static const char *const names[] = { "limits", "used", "reserved", "limit" };
		unsigned nums[] = { (unsigned)s->n, (unsigned)states[0].committed,
				    (unsigned)states[0].reserved, (unsigned)s->limits[0].max };

		policy_result_detail_nums(r, names, nums, 4);
	} else {
		snprintf(r->detail, sizeof(r->detail), "limits=%zu used=%llu reserved=%llu limit=%llu",
			 s->n, (unsigned long long)states[0].committed,
			 (unsigned long long)states[0].reserved,
			 (unsigned long long)s->limits[0].max);
	}
	r->policy = "quota";
	return POLICY_STEP_NEXT;
}

/* base_entry - what the quota's own number is (the single-limit path), as limits_build says */
static void base_entry(const struct config *c, long limit, struct limits_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->base = true;
	e->row.warn_at = POLICYDB_WARN_DEFAULT;
	e->row.kind = c->quota_counting_recipients ? POLICYDB_LIMIT_RECIPIENTS
						   : POLICYDB_LIMIT_MESSAGES;
	e->row.span = c->quota_interval;
	e->row.max = limit;
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
	if (st == STORE_REFUSED) {
		struct limits_entry e;
		char why[128];
		bool monitored;
		enum policy_step step;

		base_entry(c, s->limit, &e);
		limits_describe(c, &e, NULL, why, sizeof(why));
		step = refused_limit(call, r, &e, why, &c->quota_reply,
				     (uint64_t)state.committed + state.reserved, params.limit,
				     &monitored);
		/* monitored: the recipient passes, not counted on the only limit */
		return step;
	}
	if (s->reserved == 0)
		metrics_reservation(true);
	s->reserved += n;
	r->policy = "quota";
	if (call->env->alerts != NULL) {
		struct limits_entry e;

		base_entry(c, s->limit, &e);
		warn(call, &e, (uint64_t)state.committed + state.reserved, params.limit);
	}
	return POLICY_STEP_NEXT;
}

static const char *const counted_name[] = { "counted" };

/*
 * commit - turn the reservation into usage; false when on_error refuses.
 * final: the message's real size for the bytes limits, or NULL (what was
 * reserved: SIZE=, or 1 without it)
 */
static bool commit(struct policy_call *call, struct policy_result *r, const uint64_t *final)
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
	    (s->multi ? store_limits_commit(store, s->resid, s->limits, final, s->n, t, &err)
		      : store_quota_commit_later(store, user, strlen(user), s->resid, &params,
						 t, &err)) != STORE_OK) {
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
static enum policy_step counted(struct policy_call *call, struct policy_result *r,
				const uint64_t *final)
{
	struct quota_state *s = call->state;

	if (!commit(call, r, final))
		return POLICY_STEP_STOP;
	policy_result_set(r, POLICY_ACCEPT, NULL, "quota");
	if (s->uncounted)
		snprintf(r->detail, sizeof(r->detail), "uncounted (on_error=accept)");
	return POLICY_STEP_DONE;
}

/*
 * quota_data - commit at DATA (quota.commit = "data"); a message with a
 * bytes limit or max_message_bytes waits for EOM and its real size
 */
static enum policy_step quota_data(struct policy_call *call, struct policy_result *r)
{
	struct quota_state *s = call->state;

	if (call->env->config->quota_commit != QUOTA_COMMIT_DATA || (s->multi && s->sized))
		return POLICY_STEP_NEXT;
	return counted(call, r, NULL);
}

/*
 * quota_eom - commit at end of message (quota.commit = "eom"): the bytes
 * limits with the real size when the milter counted it, after
 * max_message_bytes on that size
 */
static enum policy_step quota_eom(struct policy_call *call, struct policy_result *r)
{
	struct quota_state *s = call->state;
	uint64_t final[STORE_LIMITS_MAX], size;
	long long cap;

	if (!s->multi || !s->sized || !policy_msg_size(call->msg, &size))
		return counted(call, r, NULL);
	cap = limits_cap(&s->set, POLICYDB_LIMIT_MAX_BYTES);
	if (cap >= 0 && size > (uint64_t)cap) {
		bool monitored;
		enum policy_step step = refuse_cap(call, r, POLICYDB_LIMIT_MAX_BYTES, cap, size,
						   &monitored);

		if (!monitored)
			return step;	/* refused, or held (released: it counts nothing) */
	}
	if (size > STORE_LIMIT_MAX)
		size = STORE_LIMIT_MAX;
	for (size_t i = 0; i < s->n; i++)
		final[i] = s->limits[i].count == STORE_COUNT_BYTES ? size : UINT64_MAX;
	return counted(call, r, final);
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

/*
 * quota_needs - the real size of messages may count (bytes limits,
 * max_message_bytes: the milter asks for headers and body only while the
 * policy database has such a limit); a message may be held at EOM: by
 * quota.action, lock.hold, or a limit's own action in the policy database,
 * which can change without a restart (so always, when quota is in force:
 * asking costs nothing per message)
 */
static void quota_needs(const struct config *c, struct policy_needs *needs)
{
	(void)c;
	needs->size = true;
	needs->hold = true;
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
	.needs = quota_needs,
	.state_size = sizeof(struct quota_state),
	.state_reset = QUOTA_STATE_RESET,
	.check = quota_check,
	.mail = quota_mail,
	.rcpt = quota_rcpt,
	.data = quota_data,
	.eom = quota_eom,
	.abort = quota_abort,
};
