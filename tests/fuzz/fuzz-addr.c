/*
 * NAME
 *	fuzz-addr - libFuzzer target for addr_parse
 * DESCRIPTION
 *	The input, cut at its first NUL, is an envelope sender as
 *	request_set_sender leaves it.  Beyond "no crash", the promises of
 *	addr.h are checked:
 *	  - ADDR_NULL exactly for the empty string;
 *	  - ADDR_OK: the local part is a non-empty prefix of the input ending
 *	    before an '@', the domain is the rest, lower-cased in ASCII, at
 *	    most ADDR_DOMAIN_MAX bytes, without a trailing dot, control byte
 *	    or space, and an IP literal exactly when it starts with '[';
 *	  - parsing "local@domain" again gives ADDR_OK and the same domain;
 *	  - every status has a text.
 * DIAGNOSTICS
 *	abort() on a broken promise, with the input on stderr.
 */
#include "autoconf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fail - report a broken promise and abort */
static void fail(const char *what, const char *input)
{
	fprintf(stderr, "addr_parse: %s; input \"%s\"\n", what, input);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *again;
	struct addr_parts p, q;
	enum addr_status st;
	size_t dlen;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	st = addr_parse(s, &p);
	if (addr_status_text(st) == NULL || strcmp(addr_status_text(st), "?") == 0)
		fail("status without a text", s);
	if ((st == ADDR_NULL) != (s[0] == '\0'))
		fail("ADDR_NULL for a non-empty sender, or not for the empty one", s);
	if (st != ADDR_OK) {
		free(s);
		return 0;
	}
	dlen = strlen(p.domain);
	if (p.local != s || p.local_len == 0 || p.local_len > ADDR_LOCAL_MAX ||
	    s[p.local_len] != '@')
		fail("local part is not a non-empty prefix ending before '@'", s);
	if (dlen == 0 || dlen > ADDR_DOMAIN_MAX || strlen(s) != p.local_len + 1 + dlen)
		fail("domain is not the rest of the input", s);
	if (strncasecmp(p.domain, s + p.local_len + 1, dlen) != 0)
		fail("domain differs from the input beyond case", s);
	for (size_t i = 0; i < dlen; i++) {
		unsigned char c = (unsigned char)p.domain[i];

		if (c >= 'A' && c <= 'Z')
			fail("domain not lower-cased", s);
		if (c <= 0x20 || c == 0x7f)
			fail("control byte or space in the domain", s);
	}
	if (p.domain[dlen - 1] == '.')
		fail("trailing dot in an accepted domain", s);
	if (p.ip_literal != (p.domain[0] == '['))
		fail("ip_literal does not match the domain", s);

	/* idempotent: the parts parse again to the same domain */
	again = malloc(p.local_len + dlen + 2);
	if (again == NULL)
		abort();
	memcpy(again, p.local, p.local_len);
	again[p.local_len] = '@';
	memcpy(again + p.local_len + 1, p.domain, dlen + 1);
	if (addr_parse(again, &q) != ADDR_OK || strcmp(q.domain, p.domain) != 0 ||
	    q.local_len != p.local_len)
		fail("local@domain does not parse to the same parts", s);
	free(again);
	free(s);
	return 0;
}
