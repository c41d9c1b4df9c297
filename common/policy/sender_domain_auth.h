/*
 * sender_domain_auth - may this user send as this sender address?
 *
 * The policy (sender_domain_auth.c, in outbound.policies as
 * "sender_domain_auth") caches each decision in the store under a key
 * built here; chapps-cli and chapps-api delete it when a link changes
 * (sender_domain_auth_forget), so all build it with this one function.
 */
#ifndef CHAPPS_SENDER_DOMAIN_AUTH_H
#define CHAPPS_SENDER_DOMAIN_AUTH_H

#include <stddef.h>

struct store;

/* What a cached decision is about. */
#define SDA_KIND_DOMAIN 'd'	/* a domain, or "*.parent" */
#define SDA_KIND_EMAIL 'e'	/* a whole address */

/* The longest key (bytes): a decision whose key is longer is not cached. */
#define SDA_KEY_MAX 1024

/*
 * sender_domain_auth_key - the store key of the cached decision "user may
 * send as name" (kind SDA_KIND_*) into buf.  Returns its length, or 0 when
 * it does not fit.  Binary-safe (store_key).  Thread-safe.
 */
size_t sender_domain_auth_key(void *buf, size_t size, const char *user, char kind,
			      const char *name);

/*
 * sender_domain_auth_forget - delete the cached decision of (user, kind,
 * name) from store, so that the next message asks the policy database
 * (chapps-cli and chapps-api after a change of the links).  Returns
 * STORE_OK (also when none was cached, or the key cannot exist) or
 * STORE_ERROR with *error_r.
 */
int sender_domain_auth_forget(struct store *store, const char *user, char kind,
			      const char *name, const char **error_r);

#endif
