/*
 * NAME
 *	spf_header_check - the promises of a Received-SPF value, checked
 * SUMMARY
 *	test_spf_header_fault(value, helo_given)
 * DESCRIPTION
 *	The value is read as RFC 7208 section 9.1 writes it: a result word,
 *	one comment (parentheses, '\' escapes), then key=value pairs
 *	separated by ';', a value being a dot-atom or a quoted string ('\'
 *	escapes).  A key is a word at top level (outside quotes and the
 *	comment) that ends in '='; the rest of that word is its value.
 * DIAGNOSTICS
 *	Static text naming the first broken promise, or NULL.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "spf_header_check.h"

#define HEADER_NAME "Received-SPF: "
#define HEADER_LINE_MAX 998		/* RFC 5322 section 2.1.1 */

/* top_keys - the top-level keys of value, ';'-joined, into keys; the fault, or NULL */
static const char *top_keys(const char *value, char *keys, size_t size)
{
	bool quoted = false, in_value = false;
	int depth = 0;
	size_t n = 0;
	const char *p, *start = NULL;

	keys[0] = '\0';
	for (p = value; *p != '\0'; p++) {
		if ((quoted || depth > 0) && *p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (quoted) {
			quoted = *p != '"';
			continue;
		}
		if (*p == '(' || (depth > 0 && *p == ')')) {
			depth += *p == '(' ? 1 : -1;
			continue;
		}
		if (depth > 0)
			continue;
		if (*p == '"') {
			quoted = true;
		} else if (*p == ' ' || *p == ';') {
			start = NULL;
			in_value = false;
		} else if (start == NULL && !in_value) {
			start = p;
		}
		if (*p == '=' && start != NULL) {
			n += (size_t)snprintf(keys + n, n < size ? size - n : 0, "%s%.*s",
					      n > 0 ? ";" : "", (int)(p - start), start);
			start = NULL;
			in_value = true;	/* the rest of this word is a value */
		}
	}
	if (quoted)
		return "a quoted string is left open";
	if (depth != 0)
		return "the comment is left open";
	return NULL;
}

const char *test_spf_header_fault(const char *value, bool helo_given)
{
	const char *p, *fault;
	char keys[256];

	for (p = value; *p >= ' ' && *p <= '~'; p++)
		;
	if (*p != '\0')
		return "a byte that is not printable ASCII (CR, LF, control, 8-bit)";
	if (strlen(value) >= 980 || strlen(HEADER_NAME) + strlen(value) > HEADER_LINE_MAX)
		return "longer than a header line may be";
	fault = top_keys(value, keys, sizeof(keys));
	if (fault != NULL)
		return fault;
	if (strcmp(keys, helo_given ? "client-ip;envelope-from;helo;receiver;identity"
				    : "client-ip;envelope-from;receiver;identity") != 0)
		return "top-level keys other than Received-SPF's (a field or header injected?)";
	return NULL;
}
