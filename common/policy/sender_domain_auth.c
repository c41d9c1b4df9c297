/*
 * NAME
 *	sender_domain_auth - the sender's domain must be linked to the user
 * DESCRIPTION
 *	At MAIL FROM, the sender address is parsed (addr_parse) and allowed
 *	when the user is linked, in the policy database, to its domain, to
 *	"*.parent" for the domain or one of its parents (subdomains = true),
 *	or to the whole address (local part as stored, or lower-cased with
 *	local_part_casefold).  The null sender passes with null_sender_ok.
 *	Each answer is cached in the store for cache_ttl seconds under
 *	sender_domain_auth_key, which chapps-cli and chapps-api clear on a
 *	change (sender_domain_auth_forget).  When
 *	quota runs next with lock.check, the first look-up reads the user's
 *	lock as well (store_mail_lookup: one round trip on Redis) and hands
 *	it to quota's lock check (policy_msg_set_lock).
 *
 *	Refusals: sda_reply (not linked, null sender), sda_malformed_reply
 *	(not an address); a database failure applies sender_domain_auth.
 *	on_error.  Nothing is left for later stages.  In monitor mode
 *	(sender_domain_auth.mode) the runner only logs the refusals; a
 *	message without a user (identity.mode = monitor) is not checked.
 * DIAGNOSTICS
 *	None: results only.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "base/addr.h"
#include "base/config.h"
#include "base/metrics.h"
#include "policy/policy_ops.h"
#include "policy/sender_domain_auth.h"
#include "policydb/policydb.h"
#include "request/request.h"
#include "store/store.h"

size_t sender_domain_auth_key(void *buf, size_t size, const char *user, char kind,
			      const char *name)
{
	char tag[2] = { kind, '\0' };

	return store_key(buf, size, "sda", user, tag, name, (char *)NULL);
}

int sender_domain_auth_forget(struct store *store, const char *user, char kind,
			      const char *name, const char **error_r)
{
	char key[SDA_KEY_MAX];
	size_t klen = sender_domain_auth_key(key, sizeof(key), user, kind, name);

	/* a key that does not fit was never cached (the look-up's buffer is as long) */
	return klen == 0 ? STORE_OK : store_cache_del(store, key, klen, error_r);
}

/*
 * sda_lock_along - read quota's lock.check along with the first cache
 * look-up?  When quota runs after this policy (listed after it: both have
 * the same order) with lock.check on
 */
static bool sda_lock_along(const struct config *c)
{
	bool sda_seen = false;

	if (!c->lock_check)
		return false;
	for (int k = 0; k < c->n_outbound_policies; k++) {
		if (c->outbound_policies[k] == OUTBOUND_POLICY_SDA)
			sda_seen = true;
		else if (c->outbound_policies[k] == OUTBOUND_POLICY_QUOTA)
			return sda_seen;
	}
	return false;
}

/*
 * sda_linked - is name (a domain, "*.parent" or a whole address) linked?
 * With lock_along the cache look-up reads the user's lock too, for quota
 */
static int sda_linked(const struct policy_call *call, char kind, const char *name,
		      bool lock_along, bool *linked, struct policy_result *r)
{
	const struct config *c = call->env->config;
	struct backends *b = call->env->backends;
	const char *user = policy_msg_user(call->msg);
	int64_t t = policy_now(call->env);
	char key[SDA_KEY_MAX], val[8], err[256];
	size_t klen = sender_domain_auth_key(key, sizeof(key), user, kind, name);
	size_t vlen = sizeof(val);
	const char *serr;
	struct store *store = backends_store(b, t, &serr);
	struct policydb *db;
	int st;

	if (store != NULL && klen > 0 && c->sda_cache_ttl > 0) {
		bool hit;
		int rc;

		if (lock_along) {
			/* lock.check's read too, in the same round trip */
			struct store_lock_info info;
			int lock;

			rc = store_mail_lookup(store, key, klen, val, &vlen, user, strlen(user), t,
					       &lock, &info, &serr);
			/* lock is STORE_ERROR when the look-up failed (store_mail_lookup) */
			policy_msg_set_lock(call->msg, lock, &info, serr);
		} else {
			rc = store_cache_get(store, key, klen, val, &vlen, t, &serr);
		}
		/* a store that just failed is not asked again to cache the answer */
		if (rc == STORE_ERROR)
			store = NULL;
		hit = rc == STORE_OK && vlen == 1;

		metrics_cache(METRICS_CACHE_SDA, hit);
		if (hit) {
			*linked = val[0] == '1';
			return 0;
		}
	}
	db = backends_db(b, t, err, sizeof(err));
	if (db == NULL) {
		backends_failed(b, BACKENDS_DB, err, r);
		return -1;
	}
	st = kind == SDA_KIND_EMAIL ? policydb_user_email(db, user, name, linked, err, sizeof(err))
				    : policydb_user_domain(db, user, name, linked, err, sizeof(err));
	if (st == POLICYDB_ERROR) {
		backends_failed(b, BACKENDS_DB, err, r);
		return -1;
	}
	if (st == POLICYDB_NOTFOUND)
		*linked = false;
	backends_ok(b, BACKENDS_DB, r);
	if (store != NULL && klen > 0 && c->sda_cache_ttl > 0)
		(void)store_cache_set(store, key, klen, *linked ? "1" : "0", 1,
				      (uint32_t)c->sda_cache_ttl, t, &serr);
	return 0;
}

/* sda_mail - sender-domain authorization at MAIL FROM */
static enum policy_step sda_mail(struct policy_call *call, struct policy_result *r)
{
	const struct config *c = call->env->config;
	const char *sender = request_get(call->req, REQ_SENDER);
	struct addr_parts parts;
	enum addr_status st = addr_parse(sender, &parts);
	bool linked = false;

	if (policy_msg_user(call->msg) == NULL)
		return POLICY_STEP_DONE;	/* identity.mode = monitor let it through */
	if (st == ADDR_NULL) {
		if (c->sda_null_sender_ok)
			return POLICY_STEP_DONE;
		policy_refuse(r, &c->sda_reply, "sender_domain_auth");
		snprintf(r->detail, sizeof(r->detail), "null sender");
		return POLICY_STEP_STOP;
	}
	if (st != ADDR_OK) {
		policy_refuse(r, &c->sda_malformed_reply, "sender_domain_auth");
		snprintf(r->detail, sizeof(r->detail), "%s", addr_status_text(st));
		return POLICY_STEP_STOP;
	}
	/* the whole domain, then (subdomains on) "*.d" for it and each parent */
	if (sda_linked(call, SDA_KIND_DOMAIN, parts.domain, sda_lock_along(c), &linked, r) < 0)
		goto error;
	if (!linked && c->sda_subdomains && !parts.ip_literal) {
		char wild[ADDR_DOMAIN_MAX + 3];

		for (const char *d = parts.domain; d != NULL && !linked;) {
			snprintf(wild, sizeof(wild), "*.%s", d);
			if (sda_linked(call, SDA_KIND_DOMAIN, wild, false, &linked, r) < 0)
				goto error;
			d = strchr(d, '.');
			if (d != NULL)
				d++;
		}
	}
	if (!linked) {
		char email[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2];

		snprintf(email, sizeof(email), "%.*s@%s", (int)parts.local_len, parts.local,
			 parts.domain);
		if (c->sda_local_part_casefold)
			for (char *p = email; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
		if (sda_linked(call, SDA_KIND_EMAIL, email, false, &linked, r) < 0)
			goto error;
	}
	if (linked)
		return POLICY_STEP_DONE;
	policy_refuse(r, &c->sda_reply, "sender_domain_auth");
	snprintf(r->detail, sizeof(r->detail), "domain=%.150s", parts.domain);
	return POLICY_STEP_STOP;
error:
	return policy_on_error(call->env, c->sda_on_error, false, "sender_domain_auth", r)
		       ? POLICY_STEP_DONE
		       : POLICY_STEP_STOP;
}

/* sda_monitored - sender_domain_auth.mode = monitor */
static bool sda_monitored(const struct config *c)
{
	return c->sda_mode == CONFIG_MODE_MONITOR;
}

const struct policy_ops policy_sender_domain_auth = {
	.name = "sender_domain_auth",
	.flow = FLOW_OUTBOUND,
	.stages = POLICY_STAGE_MAIL,
	.uses = BACKENDS_USES_STORE | BACKENDS_USES_DB,
	.monitored = sda_monitored,
	.mail = sda_mail,
};
