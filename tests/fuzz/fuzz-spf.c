/*
 * NAME
 *	fuzz-spf - libFuzzer target for SPF records and DNS answers an attacker controls
 * DESCRIPTION
 *	Whoever owns a domain writes its SPF TXT records (and the A, AAAA,
 *	MX and PTR records its mechanisms look up).  Each input is a zone:
 *	byte 0 picks the identities checked (client address, HELO, sender:
 *	see idents[]), the rest is "name TYPE data" lines given to
 *	spf_checker_create_zone; then spf_check evaluates the identities over
 *	that zone, so every TXT string passes the checker's DNS-layer screen
 *	(spf_fix_txt / spf_txt_screen) and libspf2's record compiler and
 *	interpreter, macro expansion and explanation included.  No test
 *	touches the real resolver.
 *
 *	Lines that cannot be a record of their type (a bad A or AAAA
 *	address, an unknown type) are dropped before the zone is made, so
 *	one bad line does not throw the whole input away, and so are the
 *	zone's test-only data TIMEOUT (it sleeps to the deadline) and
 *	LIBERROR (an injected libspf2 internal error, whose leak is
 *	documented).  At most 64 lines.
 *
 *	Promises checked (spf.h): spf_checker_create_zone fails only with a
 *	message; spf_check gives a known result with a name, a reason of
 *	printable ASCII, and a Received-SPF value of printable ASCII (so no
 *	CR or LF) under 980 bytes, never empty for a valid client address.
 * DIAGNOSTICS
 *	abort() on a broken promise, with the input on stderr.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spf/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 64

static const struct {
	const char *ip, *helo, *sender;
} idents[] = {
	{"192.0.2.1", "mail.example.com", "user@example.com"},
	{"2001:db8::1", "mail.example.com", "user@example.com"},
	{"198.51.100.7", "example.org", ""},
	{"::ffff:192.0.2.1", "helo.example.net", "list+bounce@sub.example.com"},
	{"192.0.2.200", "[192.0.2.200]", "postmaster@example.org"},
	{"IPv6:2001:db8:1::25", "localhost", "u@example.net"},
	{"203.0.113.9", "example.com", "a.b@example.com"},
	{"10.0.0.1", "x.example.com", "user@x.example.com"},
};
#define N_IDENTS (sizeof(idents) / sizeof(idents[0]))

/* fail - report a broken promise and abort */
static void fail(const char *what, const char *text)
{
	fprintf(stderr, "spf: %s: \"%s\"\n", what, text);
	abort();
}

/* printable - s is printable ASCII only */
static int printable(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s > '~')
			return 0;
	return 1;
}

/* line_ok - line ("name TYPE data") can be a zone record that does not sleep */
static int line_ok(const char *line)
{
	char name[256], type[8];
	const char *data;
	int n = 0;
	unsigned char bin[16];

	if (sscanf(line, " %255s %7s %n", name, type, &n) != 2 || n == 0)
		return 0;
	data = line + n;
	if (*data == '\0' || strstr(data, "TIMEOUT") != NULL || strstr(data, "LIBERROR") != NULL)
		return 0;
	if (strcasecmp(type, "A") == 0)
		return inet_pton(AF_INET, data, bin) == 1;
	if (strcasecmp(type, "AAAA") == 0)
		return inet_pton(AF_INET6, data, bin) == 1;
	return strcasecmp(type, "TXT") == 0 || strcasecmp(type, "MX") == 0 ||
	       strcasecmp(type, "PTR") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *records[MAX_LINES], *err = NULL;
	struct spf_checker *c = NULL;
	struct spf_outcome out;
	char *text, *p;
	size_t n = 0, id;

	if (size < 1)
		return 0;
	id = data[0] % N_IDENTS;
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	for (p = text; p != NULL && n < MAX_LINES;) {
		char *nl = strchr(p, '\n');

		if (nl != NULL)
			*nl++ = '\0';
		if (line_ok(p))
			records[n++] = p;
		p = nl;
	}
	if (spf_checker_create_zone("mx.receiver.example", records, n, &c, &err) < 0) {
		if (err == NULL || *err == '\0' || c != NULL)
			fail("zone refused without a message", text);
		free(text);
		return 0;
	}
	spf_check(c, idents[id].ip, idents[id].helo, idents[id].sender, 2000, &out);
	if (out.result < SPF_RESULT_NONE || out.result > SPF_RESULT_PERMERROR ||
	    strcmp(spf_result_name(out.result), "unknown") == 0)
		fail("unknown result", text);
	if (strnlen(out.reason, sizeof(out.reason)) == sizeof(out.reason) || !printable(out.reason))
		fail("reason not printable ASCII", out.reason);
	if (strnlen(out.header, sizeof(out.header)) >= 980 || !printable(out.header))
		fail("Received-SPF value not printable ASCII under 980 bytes", out.header);
	if (out.header[0] == '\0')
		fail("no Received-SPF value for a valid client address", text);
	spf_checker_destroy(&c);
	if (c != NULL)
		fail("spf_checker_destroy did not clear the pointer", text);
	free(text);
	return 0;
}
