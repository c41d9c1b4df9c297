/*
 * NAME
 *	greylisting - defer new (client, sender, recipient) tuples once
 * DESCRIPTION
 *	Per recipient of a domain that opted in (domains.greylist), the tuple
 *	(client network, sender without SRS/VERP tags, recipient lower-cased)
 *	goes through store_greylist_check, which applies the timing rule
 *	atomically (min_delay, retry_window, lifetime) and the client's
 *	auto-whitelist (whitelist_threshold passes in 24 hours; one pass
 *	counted per message, not per recipient).  A deferral answers with
 *	greylisting.reply; a store failure applies inbound.on_error.
 *
 *	The SPF policy runs first (a higher order here) and may greylist a
 *	recipient itself (its "greylist" action, through greylisting_check);
 *	such a recipient is not checked twice.
 * DIAGNOSTICS
 *	None: results only.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "policy/greylist.h"
#include "policy/greylisting.h"
#include "policy/policy_ops.h"
#include "request/request.h"
#include "store/store.h"

extern const struct policy_ops policy_greylisting;

struct greylisting_state {
	bool counted;			/* a pass was tallied for this message */
	unsigned checked_seq;		/* the recipient (rcpt_seq) last checked */
};

size_t greylisting_tally_key(void *buf, size_t size, const char *client)
{
	return store_key(buf, size, "greyc", client, (char *)NULL);
}

size_t greylisting_tuple_key(void *buf, size_t size, const struct config *c,
			     const char *client_addr, const char *sender, const char *rcpt,
			     char *client, size_t csize)
{
	char plain[600], rcpt_lc[600];

	greylist_client_key(client_addr, (unsigned)c->grey_prefix_v4, (unsigned)c->grey_prefix_v6,
			    client, csize);
	if (c->grey_strip_srs_verp)
		greylist_strip_sender(sender, plain, sizeof(plain));
	else
		snprintf(plain, sizeof(plain), "%s", sender ? sender : "");
	snprintf(rcpt_lc, sizeof(rcpt_lc), "%s", rcpt ? rcpt : "");
	for (char *p = rcpt_lc; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return store_key(buf, size, "grey", client, plain, rcpt_lc, (char *)NULL);
}

enum policy_step greylisting_check(struct policy_call *call, const char *forced_reason,
				   const char *spf_result, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct backends *b = call->env->backends;
	struct greylisting_state *s = policy_msg_state(call->msg, &policy_greylisting);
	struct greylist_params gp = {
		(uint32_t)c->grey_min_delay, (uint32_t)c->grey_retry_window,
		(uint32_t)c->grey_lifetime, (uint32_t)c->grey_whitelist_threshold,
		s->counted,	/* the tally counts messages, not recipients */
	};
	char client[64], tuple[1500], ckey[128];
	const char *err = NULL;
	int64_t t = policy_now(call->env);
	size_t tlen, clen;
	int verdict = 0;
	struct store *store;

	s->checked_seq = call->rcpt_seq;
	tlen = greylisting_tuple_key(tuple, sizeof(tuple), c, request_get(call->req, REQ_CLIENT_ADDR),
				     request_get(call->req, REQ_SENDER), call->rcpt, client,
				     sizeof(client));
	clen = greylisting_tally_key(ckey, sizeof(ckey), client);
	store = backends_store(b, t, &err);
	if (store == NULL || tlen == 0 || clen == 0 ||
	    store_greylist_check(store, tuple, tlen, ckey, clen, &gp, t, &verdict, &err) !=
		    STORE_OK) {
		backends_failed(b, BACKENDS_STORE, err ? err : "key too long", r);
		return policy_on_error(call->env, c->inbound_on_error, true, "greylisting", r)
			       ? POLICY_STEP_NEXT
			       : POLICY_STEP_STOP;
	}
	backends_ok(b, BACKENDS_STORE, r);
	if (verdict == GREYLIST_PASS || verdict == GREYLIST_PASS_WHITELISTED) {
		s->counted = true;
		return POLICY_STEP_NEXT;
	}
	policy_result_set(r, POLICY_TEMPFAIL,
			  policy_msg_reply_format(call->msg, &c->grey_reply, NULL, forced_reason),
			  "greylisting");
	snprintf(r->detail, sizeof(r->detail), "greylist=%s%s%s",
		 greylist_verdict_name((enum greylist_verdict)verdict),
		 forced_reason ? " spf=" : "", forced_reason ? spf_result : "");
	return POLICY_STEP_STOP;
}

/* greylisting_rcpt - check the tuple when the recipient's domain opted in */
static enum policy_step greylisting_rcpt(struct policy_call *call, struct policy_result *r)
{
	struct greylisting_state *s = call->state;

	if (!(call->domain_bits & BACKENDS_DOMAIN_GREYLIST))
		return POLICY_STEP_NEXT;
	if (s->checked_seq == call->rcpt_seq)
		return POLICY_STEP_NEXT;	/* SPF's "greylist" action did it */
	return greylisting_check(call, NULL, NULL, r);
}

/* greylisting_monitored - greylisting.mode = monitor */
static bool greylisting_monitored(const struct config *c)
{
	return c->grey_mode == CONFIG_MODE_MONITOR;
}

const struct policy_ops policy_greylisting = {
	.name = "greylisting",
	.flow = FLOW_INBOUND,
	.order = 1,		/* after SPF, whose action may greylist first */
	.stages = POLICY_STAGE_RCPT | POLICY_STAGE_DOMAIN_OPTINS,
	.uses = BACKENDS_USES_STORE | BACKENDS_USES_DB,
	.state_size = sizeof(struct greylisting_state),
	.monitored = greylisting_monitored,
	.rcpt = greylisting_rcpt,
};
