/*
 * NAME
 *	addr - envelope sender parser for sender-domain authorization
 * DESCRIPTION
 *	A single left-to-right scan finds the last '@' outside a quoted
 *	string, counting the unquoted ones.  The domain is then checked label
 *	by label (or as an IP literal) and lower-cased in ASCII.  Bytes >= 0x80
 *	are accepted as UTF-8 without validation of the encoding beyond
 *	rejecting control bytes: SDA compares bytes, it does not render them.
 * DIAGNOSTICS
 *	enum addr_status.
 */
#include "autoconf.h"

#include <string.h>

#include "base/addr.h"

/* bad_byte - space, control byte or DEL */
static int bad_byte(unsigned char c)
{
	return c <= 0x20 || c == 0x7f;
}

/* check_domain - validate a domain or IP literal of len bytes */
static enum addr_status check_domain(const char *d, size_t len, struct addr_parts *p)
{
	if (len == 0)
		return ADDR_MALFORMED;
	if (len > ADDR_DOMAIN_MAX)
		return ADDR_TOO_LONG;
	if (d[0] == '[') {
		if (len < 3 || d[len - 1] != ']')
			return ADDR_MALFORMED;
		for (size_t i = 1; i < len - 1; i++)
			if (bad_byte((unsigned char)d[i]) || d[i] == '[' || d[i] == ']' ||
			    d[i] == '\\')
				return ADDR_MALFORMED;
		p->ip_literal = true;
	} else {
		if (d[len - 1] == '.')
			return ADDR_TRAILING_DOT;
		size_t label = 0;

		for (size_t i = 0; i <= len; i++) {
			char c = i < len ? d[i] : '.';

			if (c == '.') {
				if (label == 0 || d[i - 1] == '-' || d[i - label] == '-' ||
				    label > 63)
					return ADDR_MALFORMED;
				label = 0;
				continue;
			}
			if (bad_byte((unsigned char)c) || strchr("@[]\\\"(),;:<>", c) != NULL)
				return ADDR_MALFORMED;
			label++;
		}
	}
	for (size_t i = 0; i < len; i++) {
		char c = d[i];

		p->domain[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	p->domain[len] = '\0';
	return ADDR_OK;
}

enum addr_status addr_parse(const char *s, struct addr_parts *p)
{
	size_t len, at = 0, ats = 0;
	bool quoted = false;

	memset(p, 0, sizeof(*p));
	if (s == NULL || *s == '\0')
		return ADDR_NULL;
	len = strnlen(s, ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2);
	if (len > ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 1)
		return ADDR_TOO_LONG;
	if (s[0] == '@')
		return strchr(s, ':') != NULL ? ADDR_SOURCE_ROUTE : ADDR_MALFORMED;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (quoted) {
			if (c == '\\' && i + 1 < len) {
				if (bad_byte((unsigned char)s[i + 1]) && s[i + 1] != ' ')
					return ADDR_MALFORMED;
				i++;
			} else if (c == '"') {
				quoted = false;
			} else if (c < 0x20 || c == 0x7f) {
				return ADDR_MALFORMED;
			}
			continue;
		}
		if (c == '"' && (i == 0 || s[i - 1] == '.')) {
			quoted = true;
			p->quoted_local = true;
		} else if (c == '@') {
			at = i;
			ats++;
		} else if (bad_byte(c) || c == '"' || c == '\\') {
			return ADDR_MALFORMED;
		}
	}
	if (quoted)
		return ADDR_MALFORMED;
	if (ats == 0)
		return ADDR_NO_AT;
	if (ats > 1)
		return ADDR_MULTI_AT;
	if (at == 0)
		return ADDR_MALFORMED;
	if (at > ADDR_LOCAL_MAX)
		return ADDR_TOO_LONG;
	/* an unquoted local part is a dot-string: no empty atoms */
	if (!p->quoted_local && (s[0] == '.' || s[at - 1] == '.' || memmem(s, at, "..", 2) != NULL))
		return ADDR_MALFORMED;
	p->local = s;
	p->local_len = at;
	return check_domain(s + at + 1, len - at - 1, p);
}

const char *addr_status_text(enum addr_status status)
{
	switch (status) {
	case ADDR_OK: return "ok";
	case ADDR_NULL: return "null sender";
	case ADDR_NO_AT: return "no @ in the address";
	case ADDR_MULTI_AT: return "more than one @ outside a quoted local part";
	case ADDR_SOURCE_ROUTE: return "source route";
	case ADDR_TRAILING_DOT: return "trailing dot in the domain";
	case ADDR_MALFORMED: return "malformed address";
	case ADDR_TOO_LONG: return "address too long";
	}
	return "?";
}
