/*
 * resolver - name the user who sends a message
 *
 * CHAPPS's user-identifier search (spec section 3), compiled once: the
 * configured key names are turned, at start-up and at reload, into an
 * immutable array of accessors (a request field or a "{macro}" slot).
 * Resolving a request walks that array; it does no string comparison of key
 * names.  The first non-empty value that is not the literal "None" wins.
 *
 * Order:
 *   require_user_key = true:  [ user_key ] only.
 *   require_user_key = false: user_key first when it is set and not already
 *                             first in search_order, then search_order.
 *
 * Keys: sasl_username ({auth_authen}), sasl_method ({auth_type}),
 * sasl_sender ({auth_author}), ccert_subject ({cert_subject}),
 * ccert_issuer ({cert_issuer}), sender, client_address, client_name,
 * helo_name, or any macro written "{name}".
 *
 * A resolver is immutable after resolver_create and may be shared by any
 * number of threads.
 */
#ifndef CHAPPS_RESOLVER_H
#define CHAPPS_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>

struct request;
struct resolver;

#define RESOLVER_KEYS_MAX 16

/*
 * resolver_create - compile the order.  order (n entries) and user_key are
 * copied.  Returns 0, or -1 with *error_r set (static text) and, when one
 * key name is at fault, *bad_index_r set to its index in order (or -1 for
 * user_key, -2 when no single key is at fault).
 */
int resolver_create(const char *user_key, bool require_user_key, const char *const *order,
		    size_t n, struct resolver **resolver_r, const char **error_r, int *bad_index_r);

/* resolver_destroy - free *resolver and set it to NULL; NULL is fine. */
void resolver_destroy(struct resolver **resolver);

/*
 * resolver_resolve - the user named by req, or NULL when every key is empty.
 * *key_r (if key_r is not NULL) gets the name of the key that matched.
 * The returned string is borrowed from req.
 */
const char *resolver_resolve(const struct resolver *resolver, const struct request *req,
			     const char **key_r);

/* resolver_key_count / resolver_key_name - the compiled order, for -d. */
size_t resolver_key_count(const struct resolver *resolver);
const char *resolver_key_name(const struct resolver *resolver, size_t i);

/*
 * resolver_macro_count / resolver_macro_name - the "{name}" keys that are
 * not already request fields, in slot order: the milter fetches each at
 * MAIL FROM into request slot i (request_set_macro) and asks the MTA for it.
 */
size_t resolver_macro_count(const struct resolver *resolver);
const char *resolver_macro_name(const struct resolver *resolver, size_t i);

/* resolver_uses_helo - true when a key needs the HELO stage. */
bool resolver_uses_helo(const struct resolver *resolver);

/* resolver_uses_field - true when a key reads field (a named key, say "{daemon_port}"). */
bool resolver_uses_field(const struct resolver *resolver, enum request_field field);

/* resolver_key_valid - is name a key resolver_create accepts? */
bool resolver_key_valid(const char *name);

#endif
