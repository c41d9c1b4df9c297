/*
 * NAME
 *	registry - every policy there is, and its name in the config
 * DESCRIPTION
 *	One row per policy: its ops (defined in its own file) and the value
 *	the config's outbound.policies or inbound.policies list holds for it
 *	(enum outbound_policy / enum inbound_policy), or ALWAYS for a policy
 *	in force whatever the list says (the identity gate, which every
 *	outbound message passes first).  The row's index is also the slot of
 *	the policy's per-message state.
 *
 *	Adding a policy: its file, one extern line and one row here, its name
 *	in the config's list of names, and its test.
 * DIAGNOSTICS
 *	None.
 */
#include "autoconf.h"

#include <stddef.h>

#include "base/config.h"
#include "policy/policy_ops.h"

#define ALWAYS (-1)

extern const struct policy_ops policy_identity;
extern const struct policy_ops policy_sender_domain_auth;
extern const struct policy_ops policy_quota;
extern const struct policy_ops policy_spf;
extern const struct policy_ops policy_greylisting;

static const struct {
	const struct policy_ops *ops;
	int config_value;
} registry[] = {
	{ &policy_identity, ALWAYS },
	{ &policy_sender_domain_auth, OUTBOUND_POLICY_SDA },
	{ &policy_quota, OUTBOUND_POLICY_QUOTA },
	{ &policy_spf, INBOUND_POLICY_SPF },
	{ &policy_greylisting, INBOUND_POLICY_GREYLISTING },
};

size_t policy_registry_count(void)
{
	return sizeof(registry) / sizeof(registry[0]);
}

const struct policy_ops *policy_registry_ops(size_t i)
{
	return i < policy_registry_count() ? registry[i].ops : NULL;
}

bool policy_registry_in_force(const struct config *c, size_t i, int *rank_r)
{
	const int *list;
	int n;

	*rank_r = -1;
	if (i >= policy_registry_count())
		return false;
	if (registry[i].config_value == ALWAYS)
		return true;
	if (registry[i].ops->flow == FLOW_INBOUND) {
		list = c->inbound_policies;
		n = c->n_inbound_policies;
	} else {
		list = c->outbound_policies;
		n = c->n_outbound_policies;
	}
	for (int k = 0; k < n; k++)
		if (list[k] == registry[i].config_value) {
			*rank_r = k;
			return true;
		}
	return false;
}
