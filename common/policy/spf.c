/*
 * NAME
 *	spf - the SPF policy: evaluate the sender once, act on the result
 * DESCRIPTION
 *	For inbound recipients.  The libspf2 checker (common/spf) evaluates
 *	the message once, at its first recipient that needs it: a domain
 *	that opted in (domains.check_spf) enforces the result, and
 *	spf.add_header wants the Received-SPF header for every message; with
 *	neither there is no DNS work at all.
 *
 *	Where enforced, spf.actions maps the result (pass, fail, softfail,
 *	none/neutral, temperror, permerror) to: prepend (accept, with the
 *	header), a reply (its text may hold "{reason}"), or greylist (the
 *	greylisting check, with the SPF reason appended, even where
 *	greylisting is not listed).  The header is inserted at end of
 *	message.
 *
 *	A passing recipient is logged with its SPF result, named "spf" when
 *	enforced (the runner's note).
 * DIAGNOSTICS
 *	None: results only.  A checker that cannot be made is a temperror.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "policy/greylisting.h"
#include "policy/policy_ops.h"
#include "request/request.h"
#include "spf/spf.h"

struct spf_state {
	bool done;			/* evaluated for this message */
	bool header;			/* insert Received-SPF at EOM */
	struct spf_outcome outcome;
};

/* action_slot - the spf.actions slot of a result */
static enum spf_action_slot action_slot(enum spf_result result)
{
	switch (result) {
	case SPF_RESULT_PASS: return SPF_SLOT_PASS;
	case SPF_RESULT_FAIL: return SPF_SLOT_FAIL;
	case SPF_RESULT_SOFTFAIL: return SPF_SLOT_SOFTFAIL;
	case SPF_RESULT_TEMPERROR: return SPF_SLOT_TEMPERROR;
	case SPF_RESULT_PERMERROR: return SPF_SLOT_PERMERROR;
	default: return SPF_SLOT_NONE_NEUTRAL;
	}
}

/* evaluate - one SPF evaluation for the message */
static void evaluate(struct policy_call *call, struct spf_state *s)
{
	const struct config *c = call->env->config;
	const char *err = NULL;
	struct spf_checker *spf = backends_spf(call->env->backends, &err);

	if (spf == NULL) {
		s->outcome.result = SPF_RESULT_TEMPERROR;
		snprintf(s->outcome.reason, sizeof(s->outcome.reason), "SPF Temporary Error: %s",
			 err ? err : "no checker");
		s->outcome.header[0] = '\0';
	} else {
		spf_check(spf, request_get(call->req, REQ_CLIENT_ADDR),
			  request_get(call->req, REQ_HELO), request_get(call->req, REQ_SENDER),
			  (unsigned)c->spf_time_budget * 1000, &s->outcome);
	}
	s->done = true;
}

/* spf_rcpt - evaluate when needed, then the enforced domain's action */
static enum policy_step spf_rcpt(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct spf_state *s = call->state;
	bool enforce = (call->domain_bits & BACKENDS_DOMAIN_CHECK_SPF) != 0;
	const char *result_name;

	/* no DNS work unless a domain enforces SPF or the header is wanted */
	if ((enforce || c->spf_add_header) && !s->done)
		evaluate(call, s);
	if (s->done && s->outcome.header[0] != '\0' && (enforce || c->spf_add_header))
		s->header = true;
	result_name = spf_result_name(s->outcome.result);
	if (enforce) {
		const struct spf_action *a = &c->spf_actions[action_slot(s->outcome.result)];

		if (a->kind == SPF_ACTION_REPLY) {
			policy_refuse(r,
				      policy_msg_reply_format(call->msg, &a->reply,
							      s->outcome.reason, NULL),
				      "spf");
			snprintf(r->detail, sizeof(r->detail), "spf=%s", result_name);
			return POLICY_STEP_STOP;
		}
		if (a->kind == SPF_ACTION_GREYLIST &&
		    greylisting_check(call,
				      s->outcome.reason[0] ? s->outcome.reason
							   : "due to SPF enforcement policy",
				      result_name, r) == POLICY_STEP_STOP)
			return POLICY_STEP_STOP;
	}
	if (s->done) {
		call->noted = true;
		call->note_policy = enforce ? "spf" : NULL;
		snprintf(call->note, sizeof(call->note), "spf=%s", result_name);
	}
	return POLICY_STEP_NEXT;
}

/* spf_eom - the Received-SPF header, when there is one to insert */
static enum policy_step spf_eom(struct policy_call *call, struct policy_result *r)
{
	struct spf_state *s = call->state;

	if (s->done && s->header) {
		r->header_name = "Received-SPF";
		r->header_value = s->outcome.header;
		r->policy = "spf";
		snprintf(r->detail, sizeof(r->detail), "spf=%s", spf_result_name(s->outcome.result));
	}
	return POLICY_STEP_DONE;
}

/* spf_monitored - spf.mode = monitor */
static bool spf_monitored(const struct config *c)
{
	return c->spf_mode == CONFIG_MODE_MONITOR;
}

const struct policy_ops policy_spf = {
	.name = "spf",
	.flow = FLOW_INBOUND,
	.stages = POLICY_STAGE_HELO | POLICY_STAGE_RCPT | POLICY_STAGE_EOM | POLICY_STAGE_HEADERS |
		  POLICY_STAGE_DOMAIN_OPTINS,
	/* the store too: the "greylist" action */
	.uses = BACKENDS_USES_STORE | BACKENDS_USES_DB,
	.state_size = sizeof(struct spf_state),
	.monitored = spf_monitored,
	.rcpt = spf_rcpt,
	.eom = spf_eom,
};
