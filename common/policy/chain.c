/*
 * NAME
 *	chain - run the policies in force over one message, stage by stage
 * DESCRIPTION
 *	The runner knows no policy by name.  For a message it:
 *	  - refuses a request whose values overflowed their limits (MAIL) or
 *	    a recipient past limits.recipients (RCPT);
 *	  - chooses the flow from the listener (config_flow) and, inbound,
 *	    lets a client on the HELO whitelist through at once;
 *	  - builds the flow's chain from the registry: the policies in force,
 *	    by their declared order, ties in config order (the identity gate
 *	    comes first outbound);
 *	  - calls each policy's hook of the stage in turn, with the one result
 *	    of the stage.  A policy stops the stage with a decision, passes
 *	    and follows the message on, or passes and drops out.  At MAIL a
 *	    policy without a mail hook follows; later stages call only the
 *	    policies still following;
 *	  - ends a stage where every policy passed: MAIL and DATA accept when
 *	    no policy follows any more (the milter leaves the transaction),
 *	    else continue; RCPT continues (a refused recipient is removed from
 *	    the request again); EOM accepts.
 *	Before the RCPT hooks of policies that declare POLICY_STAGE_DOMAIN_
 *	OPTINS, the recipient domain's opt-ins are looked up once for all; a
 *	failure applies inbound.on_error, named "inbound".
 *
 *	Per-message state: the user and key (identity), the flow, the set
 *	of following policies and one zeroed block per registered policy,
 *	allocated when the policy is first called (a connection that sends
 *	no message, or only outbound ones, never pays for SPF's state) and
 *	reset only when it was used.
 *
 *	Reserve / commit / release: a policy that holds something for the
 *	message (quota's reservation) keeps it in its state and releases it
 *	in its abort hook, which runs at abort, at the next MAIL and at close,
 *	whether the message was decided or not.
 *
 *	Monitor mode: when a hook stops the stage with a refusal and its
 *	policy is in monitor mode (ops->monitored), the result is copied into
 *	the message's list of would-be refusals (emptied at each stage),
 *	the stage's result is reset to a pass (incident lines kept) and the
 *	next policy runs; the policy keeps following while it has a hook at a
 *	later stage.  Only refusals are masked: an ACCEPT, a header or a hold
 *	stand.
 *
 *	Hold: a policy may hold the message (policy_msg_hold).  From then on
 *	no hook runs for it; MAIL and DATA continue instead of accepting, so
 *	that the milter sees the end of the message, where the stage accepts
 *	with result.hold = the reason.
 * DIAGNOSTICS
 *	None: results only.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "base/xalloc.h"
#include "policy/helo_whitelist.h"
#include "policy/policy.h"
#include "policy/policy_ops.h"
#include "request/request.h"
#include "request/resolver.h"
#include "store/store.h"

#define CHAIN_MAX 32	/* policies in one chain (the registry is smaller) */

struct chain {
	size_t n;
	size_t slot[CHAIN_MAX];
};

struct policy_msg {
	char *user;
	const char *key;		/* borrowed from the config's resolver */
	int flow;			/* enum flow, decided at MAIL */
	bool whitelisted;		/* inbound: HELO whitelist matched */
	uint32_t following;		/* registry slots still following the message */
	unsigned rcpt_seq;		/* RCPT commands seen */
	bool size_known;		/* the milter counted the message's real size */
	uint64_t size;			/* its bytes: headers and body */
	uint32_t touched;		/* registry slots whose state was handed out */
	struct reply reply;		/* a reply formatted for this message */
	int lock_st;			/* policy_msg_set_lock: STORE_OK, STORE_MISS, STORE_ERROR;
					   POLICY_LOCK_UNREAD none */
	struct store_lock_info lock_info;
	char lock_err[200];		/* why the read failed (STORE_ERROR) */
	bool held;			/* policy_msg_hold */
	const char *hold_policy;
	char hold_reason[256];
	size_t n_would;			/* would-be refusals of the current stage */
	struct would *would;		/* POLICY_WOULD_MAX, allocated at the first */
	/* the chain of this message's flow under chain_config, built at MAIL
	 * for its later stages (NULL: build it again) */
	const struct config *chain_config;
	struct chain chain;
	size_t n_states;
	void *state[];			/* one per registry slot (NULL: no state) */
};

/* one refusal monitor mode turned into a pass */
struct would {
	struct policy_result r;
	struct reply reply;		/* r.reply points here */
};

int64_t policy_now(const struct policy_env *env)
{
	return env->clock ? env->clock() : (int64_t)time(NULL);
}

/* ---- per-message state ---------------------------------------------------- */

struct policy_msg *policy_msg_create(void)
{
	size_t n = policy_registry_count();
	struct policy_msg *msg = xcalloc(1, sizeof(*msg) + n * sizeof(msg->state[0]));

	msg->n_states = n;
	msg->lock_st = POLICY_LOCK_UNREAD;
	return msg;
}

/*
 * msg_state - slot i's state, allocated on first use with the bytes every
 * message starts from zeroed (state_reset, when the policy says so, else
 * all); marks it used
 */
static void *msg_state(struct policy_msg *msg, size_t i)
{
	const struct policy_ops *ops = policy_registry_ops(i);
	size_t size = ops->state_size;

	if (msg->state[i] == NULL && size > 0) {
		msg->state[i] = xmalloc(size);
		memset(msg->state[i], 0, ops->state_reset ? ops->state_reset : size);
	}
	msg->touched |= 1u << i;
	return msg->state[i];
}

/*
 * reset_states - the abort hook of every policy used (env may be NULL),
 * then zero its state (its first state_reset bytes, when it says so),
 * unless it is about to be freed (clear false); an unused state is zero
 * already ("nothing done")
 */
static void reset_states(const struct policy_env *env, struct policy_msg *msg, bool clear)
{
	for (size_t i = 0; i < msg->n_states && msg->touched != 0; i++) {
		const struct policy_ops *ops = policy_registry_ops(i);
		struct policy_call call = { .env = env, .msg = msg, .state = msg->state[i] };

		if (!(msg->touched & (1u << i)))
			continue;
		msg->touched &= ~(1u << i);
		if (ops->abort != NULL)
			ops->abort(&call);
		if (clear && msg->state[i] != NULL)
			memset(msg->state[i], 0, ops->state_reset ? ops->state_reset : ops->state_size);
	}
}

void policy_msg_destroy(struct policy_msg **msgp)
{
	struct policy_msg *msg = *msgp;

	if (msg == NULL)
		return;
	reset_states(NULL, msg, false);
	for (size_t i = 0; i < msg->n_states; i++)
		free(msg->state[i]);
	for (size_t i = 0; msg->would != NULL && i < POLICY_WOULD_MAX; i++)
		reply_clear(&msg->would[i].reply);
	free(msg->would);
	reply_clear(&msg->reply);
	XFREE(msg->user);
	XFREE(*msgp);
}

const char *policy_msg_user(const struct policy_msg *msg)
{
	return msg->user;
}

const char *policy_msg_key(const struct policy_msg *msg)
{
	return msg->key;
}

void policy_msg_set_user(struct policy_msg *msg, const char *user, const char *key)
{
	XFREE(msg->user);
	msg->user = user ? xstrdup(user) : NULL;
	msg->key = key;
}

void policy_msg_set_size(struct policy_msg *msg, uint64_t size)
{
	msg->size = size;
	msg->size_known = true;
}

bool policy_msg_size(const struct policy_msg *msg, uint64_t *size_r)
{
	*size_r = msg->size_known ? msg->size : 0;
	return msg->size_known;
}

void policy_msg_hold(struct policy_msg *msg, const char *policy, const char *reason)
{
	if (msg->held)
		return;
	msg->held = true;
	msg->hold_policy = policy;
	snprintf(msg->hold_reason, sizeof(msg->hold_reason), "%s", reason ? reason : "held");
	/* the reason names the user: no control byte reaches the MTA or a log line */
	for (char *p = msg->hold_reason; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

bool policy_msg_held(const struct policy_msg *msg)
{
	return msg->held;
}

void policy_msg_set_lock(struct policy_msg *msg, int st, const struct store_lock_info *info,
			 const char *err)
{
	msg->lock_st = st == STORE_OK || st == STORE_MISS ? st : STORE_ERROR;
	if (st == STORE_OK && info != NULL)
		msg->lock_info = *info;
	if (msg->lock_st == STORE_ERROR)
		snprintf(msg->lock_err, sizeof(msg->lock_err), "%s",
			 err != NULL ? err : "lock look-up failed");
}

int policy_msg_take_lock(struct policy_msg *msg, struct store_lock_info *info_r,
			 const char **err_r)
{
	int st = msg->lock_st;

	msg->lock_st = POLICY_LOCK_UNREAD;
	if (st == STORE_OK)
		*info_r = msg->lock_info;
	else if (st == STORE_ERROR)
		*err_r = msg->lock_err;
	return st;
}

void policy_msg_would(struct policy_msg *msg, const struct policy_result *r)
{
	struct would *w;

	if (msg->n_would >= POLICY_WOULD_MAX)
		return;
	if (msg->would == NULL)
		msg->would = xcalloc(POLICY_WOULD_MAX, sizeof(*msg->would));
	w = &msg->would[msg->n_would++];
	reply_clear(&w->reply);
	w->r = *r;
	/* the incident is the stage's: logged once, with the real result */
	w->r.incident_kind = POLICY_INCIDENT_NONE;
	w->r.incident[0] = '\0';
	w->r.header_name = NULL;
	w->r.hold = NULL;
	if (r->reply != NULL) {
		reply_copy(&w->reply, r->reply);
		w->r.reply = &w->reply;
	}
}

const struct policy_result *policy_msg_monitored(const struct policy_msg *msg, size_t i)
{
	return msg != NULL && i < msg->n_would ? &msg->would[i].r : NULL;
}

void *policy_msg_state(struct policy_msg *msg, const struct policy_ops *ops)
{
	for (size_t i = 0; i < msg->n_states; i++)
		if (policy_registry_ops(i) == ops)
			return msg_state(msg, i);
	return NULL;
}

/* ---- results ---------------------------------------------------------------- */

void policy_result_set(struct policy_result *r, enum policy_action action,
		       const struct reply *reply, const char *policy)
{
	r->action = action;
	r->reply = reply;
	r->policy = policy;
}

void policy_result_detail_nums(struct policy_result *r, const char *const *names,
			       const unsigned *nums, unsigned n)
{
	size_t max = sizeof(r->detail_nums) / sizeof(r->detail_nums[0]);

	r->detail[0] = '\0';
	r->detail_names = names;
	r->n_detail_nums = n < max ? n : (unsigned)max;
	memcpy(r->detail_nums, nums, r->n_detail_nums * sizeof(nums[0]));
}

const char *policy_result_detail(const struct policy_result *r, char *buf, size_t size)
{
	size_t o = 0;

	if (r->detail[0] != '\0')
		return r->detail;
	if (r->n_detail_nums == 0 || size == 0)
		return NULL;
	for (unsigned i = 0; i < r->n_detail_nums; i++) {
		char digits[12];
		size_t nd = 0, len = strlen(r->detail_names[i]);
		unsigned v = r->detail_nums[i];

		do
			digits[nd++] = (char)('0' + v % 10);
		while ((v /= 10) != 0);
		if (o + (i > 0) + len + 1 + nd >= size)
			break;
		if (i > 0)
			buf[o++] = ' ';
		memcpy(buf + o, r->detail_names[i], len);
		o += len;
		buf[o++] = '=';
		while (nd > 0)
			buf[o++] = digits[--nd];
	}
	buf[o] = '\0';
	return buf;
}

enum policy_action policy_reply_action(const struct reply *reply)
{
	return reply->temporary ? POLICY_TEMPFAIL : POLICY_REJECT;
}

enum policy_step policy_refuse(struct policy_result *r, const struct reply *reply,
			       const char *policy)
{
	policy_result_set(r, policy_reply_action(reply), reply, policy);
	return POLICY_STEP_STOP;
}

bool policy_on_error(const struct policy_env *env, int action, bool inbound, const char *policy,
		     struct policy_result *r)
{
	const struct config *c = env->config;

	switch (action) {
	case ON_ERROR_ACCEPT:
		policy_result_set(r, POLICY_CONTINUE, NULL, policy);
		break;
	case ON_ERROR_REJECT:
		policy_result_set(r, POLICY_REJECT,
				  inbound ? &c->inbound_error_reply : &c->quota_error_reply, policy);
		break;
	default:
		policy_result_set(r, POLICY_TEMPFAIL,
				  inbound ? &c->inbound_tempfail_reply : &c->quota_tempfail_reply,
				  policy);
		break;
	}
	snprintf(r->detail, sizeof(r->detail), "on_error=%s",
		 config_on_error_name((enum on_error_action)action));
	return r->action == POLICY_CONTINUE;
}

const struct reply *policy_msg_reply_format(struct policy_msg *msg, const struct reply *tmpl,
					    const char *reason, const char *extra)
{
	struct reply *out = &msg->reply;
	char text[REPLY_TEXT_MAX + 1], clean[REPLY_TEXT_MAX + 1], line[REPLY_TEXT_MAX + 32];
	const char *p = tmpl->text, *mark;
	size_t o = 0, ci = 0;
	const char *why;

	for (const char *q = reason ? reason : ""; *q && ci < sizeof(clean) - 1; q++)
		clean[ci++] = (*q >= 0x20 && *q < 0x7f) ? *q : ' ';
	clean[ci] = '\0';
	while ((mark = strstr(p, "{reason}")) != NULL && o < sizeof(text) - 1) {
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%.*s%s", (int)(mark - p), p, clean);
		p = mark + 8;
	}
	if (o < sizeof(text) - 1)
		snprintf(text + o, sizeof(text) - o, "%s", p);
	if (extra != NULL && *extra != '\0') {
		o = strlen(text);
		snprintf(text + o, sizeof(text) - o, " %s", extra);
	}
	text[REPLY_TEXT_MAX - 16] = '\0';
	snprintf(line, sizeof(line), "%s%s%s %s", tmpl->code, tmpl->xcode[0] ? " " : "",
		 tmpl->xcode, text[0] ? text : "-");
	reply_clear(out);
	if (reply_parse(line, out, &why) < 0)
		return tmpl;	/* cannot happen: parts come from a valid reply */
	return out;
}

const struct reply *policy_msg_reply_temporary(struct policy_msg *msg, const struct reply *reply)
{
	struct reply fresh;
	char line[REPLY_TEXT_MAX + 32], xcode[sizeof(reply->xcode)];
	const char *why;

	if (reply->temporary)
		return reply;
	snprintf(xcode, sizeof(xcode), "%s", reply->xcode);
	if (xcode[0] != '\0')
		xcode[0] = '4';
	snprintf(line, sizeof(line), "451%s%s %s", xcode[0] ? " " : "", xcode,
		 reply->text ? reply->text : "-");
	if (reply_parse(line, &fresh, &why) < 0)
		return reply;	/* cannot happen: the parts come from a valid reply */
	/* reply may be msg->reply itself: parse first, then replace */
	reply_clear(&msg->reply);
	msg->reply = fresh;
	return &msg->reply;
}

/* ---- the chain ---------------------------------------------------------------- */

/* chain_build - the policies in force for flow, in running order */
static void chain_build(const struct config *c, enum flow flow, struct chain *ch)
{
	int rank[CHAIN_MAX];

	ch->n = 0;
	for (size_t i = 0; i < policy_registry_count() && ch->n < CHAIN_MAX; i++) {
		const struct policy_ops *ops = policy_registry_ops(i);
		int rk;
		size_t k;

		if (ops->flow != flow || !policy_registry_in_force(c, i, &rk))
			continue;
		/* insertion by (order, rank): stable for equal keys */
		for (k = ch->n; k > 0; k--) {
			const struct policy_ops *prev = policy_registry_ops(ch->slot[k - 1]);

			if (prev->order < ops->order ||
			    (prev->order == ops->order && rank[k - 1] <= rk))
				break;
			ch->slot[k] = ch->slot[k - 1];
			rank[k] = rank[k - 1];
		}
		ch->slot[k] = i;
		rank[k] = rk;
		ch->n++;
	}
}

/*
 * msg_chain - chain_build for msg's flow under c, built once per message:
 * MAIL builds it (fresh: MAIL decides the flow), RCPT, DATA and EOM reuse it
 */
static void msg_chain(const struct config *c, struct policy_msg *msg, bool fresh,
		      struct chain *ch)
{
	if (fresh || msg->chain_config != c) {
		chain_build(c, (enum flow)msg->flow, &msg->chain);
		msg->chain_config = c;
	}
	*ch = msg->chain;
}

/*
 * monitor - the step of a hook whose policy is in monitor mode: a refusal
 * is recorded and r made a pass again (its default action: CONTINUE, or
 * ACCEPT at EOM); the policy follows on when it has a later hook
 */
static enum policy_step monitor(const struct policy_env *env, struct policy_msg *msg,
				const struct policy_ops *ops, enum policy_stage stage,
				enum policy_step step, struct policy_result *r)
{
	bool later;

	if (step != POLICY_STEP_STOP ||
	    (r->action != POLICY_REJECT && r->action != POLICY_TEMPFAIL) ||
	    ops->monitored == NULL || !ops->monitored(env->config))
		return step;
	policy_msg_would(msg, r);
	r->action = stage == POLICY_STAGE_EOM ? POLICY_ACCEPT : POLICY_CONTINUE;
	r->reply = NULL;
	r->policy = NULL;
	r->detail[0] = '\0';
	r->n_detail_nums = 0;
	switch (stage) {
	case POLICY_STAGE_MAIL:
		later = ops->rcpt || ops->data || ops->eom;
		break;
	case POLICY_STAGE_RCPT:
		later = true;	/* the next recipient */
		break;
	case POLICY_STAGE_DATA:
		later = ops->eom != NULL;
		break;
	default:
		later = false;
		break;
	}
	return later ? POLICY_STEP_NEXT : POLICY_STEP_DONE;
}

/* call_init - a hook call for slot i */
static void call_init(struct policy_call *call, const struct policy_env *env,
		      struct request *req, struct policy_msg *msg, size_t i)
{
	call->env = env;
	call->req = req;
	call->msg = msg;
	call->state = msg_state(msg, i);
}

/* add_macros - append the "{name}" words of list to buf that it lacks */
static void add_macros(char *buf, size_t size, const char *list)
{
	char word[128];

	for (const char *p = list; p != NULL && *p;) {
		size_t n = strcspn(p, " ");
		size_t len = strlen(buf);

		if (n > 0 && n < sizeof(word)) {
			bool have = false;

			memcpy(word, p, n);
			word[n] = '\0';
			for (const char *q = buf; (q = strstr(q, word)) != NULL; q += n)
				if ((q == buf || q[-1] == ' ') && (q[n] == ' ' || q[n] == '\0'))
					have = true;
			if (!have)
				snprintf(buf + len, size - len, "%s%s", len ? " " : "", word);
		}
		p += n;
		p += strspn(p, " ");
	}
}

void policy_needs_add_macros(struct policy_needs *needs, const char *list)
{
	add_macros(needs->mail_macros, sizeof(needs->mail_macros), list);
}

/* the listener macros, and the request fields they fill at CONNECT */
static const struct {
	const char *name;
	enum request_field field;
} daemon_macros[] = {
	{ "{daemon_name}", REQ_DAEMON_NAME },
	{ "{daemon_addr}", REQ_DAEMON_ADDR },
	{ "{daemon_port}", REQ_DAEMON_PORT },
};

void policy_needs(const struct config *c, struct policy_needs *needs)
{
	bool inbound = config_inbound_possible(c);

	memset(needs, 0, sizeof(*needs));
	/*
	 * The flow is chosen by the listener, when a connection can be
	 * inbound at all (even with no inbound policy: inbound is then
	 * accepted at MAIL); otherwise only a user key reads these macros.
	 */
	if (c->n_listeners_inbound > 0 || c->listeners_default == FLOW_INBOUND)
		add_macros(needs->connect_macros, sizeof(needs->connect_macros),
			   "{daemon_name} {daemon_addr} {daemon_port}");
	else
		for (size_t i = 0; i < sizeof(daemon_macros) / sizeof(daemon_macros[0]); i++)
			if (resolver_uses_field(c->resolver, daemon_macros[i].field))
				add_macros(needs->connect_macros, sizeof(needs->connect_macros),
					   daemon_macros[i].name);
	/* the HELO whitelist lets inbound clients through */
	needs->helo = inbound;
	for (size_t i = 0; i < policy_registry_count(); i++) {
		const struct policy_ops *ops = policy_registry_ops(i);
		int rank;

		if (!policy_registry_in_force(c, i, &rank) || (ops->flow == FLOW_INBOUND && !inbound))
			continue;
		needs->helo |= (ops->stages & POLICY_STAGE_HELO) != 0;
		needs->rcpt |= (ops->stages & POLICY_STAGE_RCPT) != 0;
		needs->headers |= (ops->stages & POLICY_STAGE_HEADERS) != 0;
		add_macros(needs->mail_macros, sizeof(needs->mail_macros), ops->mail_macros);
		if (ops->needs != NULL)
			ops->needs(c, needs);
	}
}

char *policy_names(const struct config *c, enum flow flow, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (flow == FLOW_INBOUND && !config_inbound_possible(c)) {
		snprintf(buf, size, "off");
		return buf;
	}
	for (size_t i = 0; i < policy_registry_count(); i++) {
		const struct policy_ops *ops = policy_registry_ops(i);
		int rank;

		if (ops->flow != flow || !policy_registry_in_force(c, i, &rank) || len >= size)
			continue;
		snprintf(buf + len, size - len, "%s%s", len == 0 ? ""
						    : flow == FLOW_INBOUND ? " "
									   : ", ",
			 ops->name);
		len = strlen(buf);
	}
	return buf;
}

int policy_check(const struct config *c, struct backends *b, bool *warn_r, char *err,
		 size_t errsize)
{
	bool inbound = config_inbound_possible(c);
	unsigned fatal = 0, warn = 0;

	for (size_t i = 0; i < policy_registry_count(); i++) {
		const struct policy_ops *ops = policy_registry_ops(i);
		int rank;

		if (!policy_registry_in_force(c, i, &rank) || (ops->flow == FLOW_INBOUND && !inbound))
			continue;
		if (ops->check != NULL && ops->check(c, err, errsize) < 0)
			return -1;
		/*
		 * Outbound policies cannot work without their backends; the
		 * inbound flow only runs for listeners the MTA labels inbound,
		 * so there the same problems are warnings (on_error applies).
		 */
		if (ops->flow == FLOW_OUTBOUND)
			fatal |= ops->uses;
		else
			warn |= ops->uses;
	}
	return backends_check(b, fatal, warn, warn_r, err, errsize);
}

/* ---- stages -------------------------------------------------------------------- */

void policy_mail(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		 struct policy_result *r)
{
	const struct config *c = env->config;
	const char *overflow = request_overflow(req);
	struct chain ch;

	memset(r, 0, sizeof(*r));
	msg->n_would = 0;
	msg->chain_config = NULL;
	if (overflow != NULL) {
		policy_refuse(r, &c->limits_reply, "limits");
		snprintf(r->detail, sizeof(r->detail), "%s exceeds its limit", overflow);
		return;
	}
	msg->flow = config_flow(c, request_get(req, REQ_DAEMON_NAME),
				request_get(req, REQ_DAEMON_PORT));
	msg->following = 0;
	msg->whitelisted = false;
	if (msg->flow == FLOW_INBOUND) {
		msg->whitelisted = helo_whitelist_match(c->helo_whitelist, request_get(req, REQ_HELO),
							request_get(req, REQ_CLIENT_NAME),
							request_get(req, REQ_CLIENT_ADDR));
		if (msg->whitelisted) {
			policy_result_set(r, POLICY_ACCEPT, NULL, "helo_whitelist");
			return;
		}
	}
	msg_chain(c, msg, true, &ch);
	for (size_t k = 0; k < ch.n; k++) {
		const struct policy_ops *ops = policy_registry_ops(ch.slot[k]);
		struct policy_call call = { 0 };
		enum policy_step step = POLICY_STEP_NEXT;

		call_init(&call, env, req, msg, ch.slot[k]);
		if (ops->mail != NULL)
			step = monitor(env, msg, ops, POLICY_STAGE_MAIL, ops->mail(&call, r), r);
		if (step == POLICY_STEP_STOP)
			return;
		if (step == POLICY_STEP_NEXT)
			msg->following |= 1u << ch.slot[k];
		if (msg->held)
			break;
	}
	if (msg->held) {
		/* on to the end of the message, where it is quarantined */
		msg->following = 0;
		policy_result_set(r, POLICY_CONTINUE, NULL, msg->hold_policy);
		snprintf(r->detail, sizeof(r->detail), "hold: %.180s", msg->hold_reason);
		return;
	}
	/* a passing MAIL names no policy; an on_error text stays in detail */
	policy_result_set(r, msg->following ? POLICY_CONTINUE : POLICY_ACCEPT, NULL, NULL);
}

/* domain_optins - the recipient domain's opt-ins into call; false with r set on failure */
static bool domain_optins(const struct policy_env *env, struct policy_call *call,
			  struct policy_result *r)
{
	const char *at = call->rcpt ? strrchr(call->rcpt, '@') : NULL;
	char domain[256];

	snprintf(domain, sizeof(domain), "%s", at ? at + 1 : "");
	for (char *p = domain; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (backends_domain_optins(env->backends, domain, policy_now(env),
				   (uint32_t)env->config->policydb_cache_ttl, &call->domain_bits,
				   r) < 0) {
		policy_on_error(env, env->config->inbound_on_error, true, "inbound", r);
		return false;
	}
	return true;
}

/* run_rcpt - the RCPT hooks of the following policies */
static void run_rcpt(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		     struct policy_result *r)
{
	const struct config *c = env->config;
	struct policy_call call = { 0 };
	bool looked_up = false;
	struct chain ch;

	call.rcpt = request_rcpt(req, request_rcpt_count(req) - 1);
	call.rcpt_seq = ++msg->rcpt_seq;
	msg_chain(c, msg, false, &ch);
	for (size_t k = 0; k < ch.n; k++) {
		size_t i = ch.slot[k];
		const struct policy_ops *ops = policy_registry_ops(i);
		enum policy_step step;

		if (!(msg->following & (1u << i)) || ops->rcpt == NULL)
			continue;
		if ((ops->stages & POLICY_STAGE_DOMAIN_OPTINS) && !looked_up) {
			if (!domain_optins(env, &call, r))
				return;
			looked_up = true;
		}
		call_init(&call, env, req, msg, i);
		step = monitor(env, msg, ops, POLICY_STAGE_RCPT, ops->rcpt(&call, r), r);
		if (step == POLICY_STEP_STOP)
			return;
		if (step == POLICY_STEP_DONE)
			msg->following &= ~(1u << i);
		if (msg->held) {
			/* this recipient passes; nothing checks the message any more */
			msg->following = 0;
			break;
		}
	}
	if (call.noted) {
		r->policy = call.note_policy;
		snprintf(r->detail, sizeof(r->detail), "%s", call.note);
	}
}

void policy_rcpt(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		 const char *rcpt, struct policy_result *r)
{
	const struct config *c = env->config;

	memset(r, 0, sizeof(*r));
	msg->n_would = 0;
	policy_result_set(r, POLICY_CONTINUE, NULL, NULL);
	switch (request_add_rcpt(req, rcpt)) {
	case REQUEST_RCPT_OK:
		break;
	case REQUEST_RCPT_TOO_MANY:
		policy_refuse(r, &c->rcpt_limit_reply, "limits");
		snprintf(r->detail, sizeof(r->detail), "more than %zu recipients",
			 c->limits.rcpt_max);
		return;
	case REQUEST_RCPT_TOO_LONG:
		policy_refuse(r, &c->limits_reply, "limits");
		snprintf(r->detail, sizeof(r->detail), "recipient exceeds its limit");
		return;
	}
	if (msg->whitelisted || msg->held)
		return;
	run_rcpt(env, req, msg, r);
	if (r->action == POLICY_REJECT || r->action == POLICY_TEMPFAIL)
		request_remove_last_rcpt(req);
}

/*
 * held_result - the result of a stage for a held message: at EOM accepted
 * with the hold reason (the milter quarantines it), at DATA go on to EOM
 */
static void held_result(const struct policy_msg *msg, bool eom, struct policy_result *r)
{
	if (eom) {
		policy_result_set(r, POLICY_ACCEPT, NULL, msg->hold_policy);
		r->hold = msg->hold_reason;
		snprintf(r->detail, sizeof(r->detail), "%.190s", msg->hold_reason);
	} else {
		policy_result_set(r, POLICY_CONTINUE, NULL, msg->hold_policy);
	}
}

/*
 * run_stage - DATA or EOM: the hooks of the following policies; passed,
 * the stage accepts at EOM, or at DATA when no policy follows any more
 */
static void run_stage(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		      bool eom, struct policy_result *r)
{
	struct chain ch;

	memset(r, 0, sizeof(*r));
	msg->n_would = 0;
	policy_result_set(r, eom ? POLICY_ACCEPT : POLICY_CONTINUE, NULL, NULL);
	if (msg->held) {
		/* held: no hook; DATA goes on to the end of the message */
		held_result(msg, eom, r);
		return;
	}
	msg_chain(env->config, msg, false, &ch);
	for (size_t k = 0; k < ch.n; k++) {
		size_t i = ch.slot[k];
		const struct policy_ops *ops = policy_registry_ops(i);
		enum policy_step (*hook)(struct policy_call *, struct policy_result *) =
			eom ? ops->eom : ops->data;
		struct policy_call call = { 0 };
		enum policy_step step;

		if (!(msg->following & (1u << i)) || hook == NULL)
			continue;
		call_init(&call, env, req, msg, i);
		step = monitor(env, msg, ops, eom ? POLICY_STAGE_EOM : POLICY_STAGE_DATA,
			       hook(&call, r), r);
		if (step == POLICY_STEP_STOP)
			return;
		if (step == POLICY_STEP_DONE)
			msg->following &= ~(1u << i);
		if (msg->held) {
			/* held by this stage (max_message_bytes at EOM): no later hook */
			held_result(msg, eom, r);
			return;
		}
	}
	if (eom || msg->following == 0) {
		r->action = POLICY_ACCEPT;
		r->reply = NULL;
	}
}

void policy_data(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		 struct policy_result *r)
{
	run_stage(env, req, msg, false, r);
}

void policy_eom(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		struct policy_result *r)
{
	run_stage(env, req, msg, true, r);
}

void policy_abort(const struct policy_env *env, struct policy_msg *msg)
{
	if (msg == NULL)
		return;
	reset_states(env, msg, true);
	reply_clear(&msg->reply);
	XFREE(msg->user);
	msg->key = NULL;
	msg->lock_st = POLICY_LOCK_UNREAD;
	msg->held = false;
	msg->hold_policy = NULL;
	msg->hold_reason[0] = '\0';
	msg->n_would = 0;
	msg->flow = FLOW_OUTBOUND;
	msg->whitelisted = false;
	msg->following = 0;
	msg->rcpt_seq = 0;
	msg->size_known = false;
	msg->size = 0;
	msg->chain_config = NULL;
}
