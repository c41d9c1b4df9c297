/*
 * NAME
 *	identity - the gate every outbound message passes first
 * DESCRIPTION
 *	Names the user who sends the message (the resolver compiled from
 *	identity.user_key, require_user_key and search_order) and keeps it in
 *	the message for the policies after it and for the log line.  No user:
 *	refused with identity.no_user_key_reply.  In force whatever
 *	outbound.policies says.  With identity.mode = monitor the refusal is
 *	only logged and the message goes on without a user: the policies
 *	that need one let it pass unchecked.
 *
 *	Needs the macros of the SASL and TLS keys at MAIL, those of any
 *	"{macro}" key, and the HELO stage when a key is helo_name.
 * DIAGNOSTICS
 *	None: results only.
 */
#include "autoconf.h"

#include <stddef.h>

#include "base/config.h"
#include "policy/policy_ops.h"
#include "request/resolver.h"

/* identity_needs - the resolver's own macros, and HELO when a key reads it */
static void identity_needs(const struct config *c, struct policy_needs *needs)
{
	for (size_t i = 0; i < resolver_macro_count(c->resolver); i++)
		policy_needs_add_macros(needs, resolver_macro_name(c->resolver, i));
	if (resolver_uses_helo(c->resolver))
		needs->helo = true;
}

/* identity_mail - resolve the user; refuse when there is none */
static enum policy_step identity_mail(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	const char *key = NULL;
	const char *user = resolver_resolve(c->resolver, call->req, &key);

	if (user == NULL)
		return policy_refuse(r, &c->no_user_key_reply, "identity");
	policy_msg_set_user(call->msg, user, key);
	return POLICY_STEP_DONE;
}

/* identity_monitored - identity.mode = monitor: a message without a user passes */
static bool identity_monitored(const struct config *c)
{
	return c->identity_mode == CONFIG_MODE_MONITOR;
}

const struct policy_ops policy_identity = {
	.name = "identity",
	.flow = FLOW_OUTBOUND,
	.order = -1,		/* before every listed policy */
	.stages = POLICY_STAGE_MAIL,
	.mail_macros = "{auth_authen} {auth_type} {auth_author} {cert_subject} {cert_issuer}",
	.needs = identity_needs,
	.monitored = identity_monitored,
	.mail = identity_mail,
};
