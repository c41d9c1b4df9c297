/*
 * NAME
 *	resolver - compiled user-identifier key search order
 * DESCRIPTION
 *	Each key becomes { kind, index, name }: kind FIELD reads a fixed
 *	request field, kind MACRO reads macro slot index.  "{name}" keys that
 *	name a macro chapps already captures ({auth_authen}, {cert_subject},
 *	...) compile to that field, so the value is fetched once.
 * DIAGNOSTICS
 *	resolver_create fails on an unknown key name, an empty user_key with
 *	require_user_key, a malformed "{macro}", too many keys.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "request/request.h"
#include "request/resolver.h"
#include "base/xalloc.h"

enum key_kind { KEY_FIELD, KEY_MACRO };

struct key {
	enum key_kind kind;
	int index;	/* enum request_field, or macro slot */
	char *name;	/* as configured */
};

struct resolver {
	struct key key[RESOLVER_KEYS_MAX];
	size_t n_keys;
	char *macro[REQUEST_MACROS_MAX];	/* "{name}" for each slot */
	size_t n_macros;
	bool uses_helo;
};

static const struct {
	const char *name;
	enum request_field field;
} named_keys[] = {
	{ "sasl_username", REQ_AUTH_AUTHEN },	{ "sasl_method", REQ_AUTH_TYPE },
	{ "sasl_sender", REQ_AUTH_AUTHOR },	{ "ccert_subject", REQ_CERT_SUBJECT },
	{ "ccert_issuer", REQ_CERT_ISSUER },	{ "sender", REQ_SENDER },
	{ "client_address", REQ_CLIENT_ADDR },	{ "client_name", REQ_CLIENT_NAME },
	{ "helo_name", REQ_HELO },
	/* macros chapps captures anyway map onto their fields */
	{ "{auth_authen}", REQ_AUTH_AUTHEN },	{ "{auth_type}", REQ_AUTH_TYPE },
	{ "{auth_author}", REQ_AUTH_AUTHOR },	{ "{cert_subject}", REQ_CERT_SUBJECT },
	{ "{cert_issuer}", REQ_CERT_ISSUER },	{ "{daemon_name}", REQ_DAEMON_NAME },
	{ "{daemon_addr}", REQ_DAEMON_ADDR },	{ "{daemon_port}", REQ_DAEMON_PORT },
	{ "{client_addr}", REQ_CLIENT_ADDR },	{ "{client_name}", REQ_CLIENT_NAME },
	{ "{client_port}", REQ_CLIENT_PORT },	{ "{mail_addr}", REQ_SENDER },
	{ "{i}", REQ_QUEUE_ID },
};

/* macro_name_valid - "{name}" with name of [A-Za-z0-9_] (1..64 chars) */
static bool macro_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 66 || s[0] != '{' || s[n - 1] != '}')
		return false;
	for (size_t i = 1; i < n - 1; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* lookup_named - index into named_keys, or -1 */
static int lookup_named(const char *name)
{
	for (size_t i = 0; i < sizeof(named_keys) / sizeof(named_keys[0]); i++)
		if (strcmp(name, named_keys[i].name) == 0)
			return (int)i;
	return -1;
}

bool resolver_key_valid(const char *name)
{
	return name != NULL && (lookup_named(name) >= 0 || macro_name_valid(name));
}

/* add_key - compile one key name; -1 when invalid or full */
static int add_key(struct resolver *r, const char *name, const char **error_r)
{
	struct key *k;
	int named;

	if (r->n_keys == RESOLVER_KEYS_MAX) {
		*error_r = "too many keys in the search order (at most 16)";
		return -1;
	}
	if (!resolver_key_valid(name)) {
		*error_r = "unknown user key (expected sasl_username, sasl_method, sasl_sender, "
			   "ccert_subject, ccert_issuer, sender, client_address, client_name, "
			   "helo_name or {macro})";
		return -1;
	}
	k = &r->key[r->n_keys];
	named = lookup_named(name);
	if (named >= 0) {
		k->kind = KEY_FIELD;
		k->index = (int)named_keys[named].field;
		if (named_keys[named].field == REQ_HELO)
			r->uses_helo = true;
	} else {
		size_t slot;

		for (slot = 0; slot < r->n_macros; slot++)
			if (strcmp(r->macro[slot], name) == 0)
				break;
		if (slot == r->n_macros) {
			if (r->n_macros == REQUEST_MACROS_MAX) {
				*error_r = "too many {macro} keys (at most 16)";
				return -1;
			}
			r->macro[r->n_macros++] = xstrdup(name);
		}
		k->kind = KEY_MACRO;
		k->index = (int)slot;
	}
	k->name = xstrdup(name);
	r->n_keys++;
	return 0;
}

int resolver_create(const char *user_key, bool require_user_key, const char *const *order,
		    size_t n, struct resolver **resolver_r, const char **error_r, int *bad_index_r)
{
	struct resolver *r = xcalloc(1, sizeof(*r));
	bool have_user_key = user_key != NULL && *user_key != '\0';

	*bad_index_r = -2;
	if (require_user_key && !have_user_key) {
		*error_r = "user_key must be set when require_user_key is true";
		*bad_index_r = -1;
		goto fail;
	}
	if (have_user_key && add_key(r, user_key, error_r) < 0) {
		*bad_index_r = -1;
		goto fail;
	}
	if (!require_user_key) {
		for (size_t i = 0; i < n; i++) {
			/* user_key already first: do not repeat it */
			if (i == 0 && have_user_key && strcmp(order[0], user_key) == 0)
				continue;
			if (add_key(r, order[i], error_r) < 0) {
				*bad_index_r = (int)i;
				goto fail;
			}
		}
		if (r->n_keys == 0) {
			*error_r = "the search order is empty and no user_key is set";
			goto fail;
		}
	}
	*resolver_r = r;
	return 0;
fail:
	resolver_destroy(&r);
	return -1;
}

void resolver_destroy(struct resolver **rp)
{
	struct resolver *r = *rp;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_keys; i++)
		free(r->key[i].name);
	for (size_t i = 0; i < r->n_macros; i++)
		free(r->macro[i]);
	free(r);
	*rp = NULL;
}

const char *resolver_resolve(const struct resolver *r, const struct request *req,
			     const char **key_r)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		const struct key *k = &r->key[i];
		const char *v = k->kind == KEY_FIELD
			? request_get(req, (enum request_field)k->index)
			: request_get_macro(req, (size_t)k->index);

		if (v != NULL && *v != '\0' && strcmp(v, "None") != 0) {
			if (key_r != NULL)
				*key_r = k->name;
			return v;
		}
	}
	return NULL;
}

size_t resolver_key_count(const struct resolver *r)
{
	return r->n_keys;
}

const char *resolver_key_name(const struct resolver *r, size_t i)
{
	return i < r->n_keys ? r->key[i].name : NULL;
}

size_t resolver_macro_count(const struct resolver *r)
{
	return r->n_macros;
}

const char *resolver_macro_name(const struct resolver *r, size_t i)
{
	return i < r->n_macros ? r->macro[i] : NULL;
}

bool resolver_uses_helo(const struct resolver *r)
{
	return r->uses_helo;
}

bool resolver_uses_field(const struct resolver *r, enum request_field field)
{
	for (size_t i = 0; r != NULL && i < r->n_keys; i++)
		if (r->key[i].kind == KEY_FIELD && r->key[i].index == (int)field)
			return true;
	return false;
}
