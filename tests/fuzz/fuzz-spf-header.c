/*
 * NAME
 *	fuzz-spf-header - libFuzzer target: the Received-SPF header from hostile identities
 * DESCRIPTION
 *	The SMTP client chooses its HELO name and its envelope sender (and,
 *	through a proxy or a misconfigured MTA, what arrives as its address);
 *	all three are written into the Received-SPF header (libspf2 #56: a
 *	crafted HELO injected into the header).  Input: byte 0 picks the
 *	receiver (a short name or one of the longest allowed, 253
 *	characters), the rest is "client-address NUL helo NUL sender".  The
 *	check runs through spf_check over a fixed in-memory zone whose
 *	domains give every result, explanations with macros that echo the
 *	sender and HELO included (see zone[]).
 *
 *	The header is the value after "Received-SPF: ".  It must
 *	  - hold no CR, LF or other control byte, nor any byte over 0x7e
 *	    (so no header or line can be injected);
 *	  - balance: every quoted-string closed, every comment's
 *	    parentheses matched, a backslash always followed by a character
 *	    (RFC 5322 quoted-pair) -- so no quote left open from any input;
 *	  - fit one line: "Received-SPF: " plus the value is at most 998
 *	    bytes (RFC 5322 section 2.1.1), as spf.h promises under 980;
 *	  - be "" exactly when the client address is not valid, and else
 *	    start with the result word and name the identity checked.
 * DIAGNOSTICS
 *	abort() on a broken promise, with the header and the inputs on stderr.
 */
#include "autoconf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spf/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zone[] = {
	"pass.example TXT v=spf1 +all",
	"fail.example TXT v=spf1 -all exp=why.fail.example",
	"why.fail.example TXT %{s} from %{i} via %{h} \"(denied)\" \\ ; x",
	"soft.example TXT v=spf1 ~all",
	"neutral.example TXT v=spf1 ?all",
	"perm.example TXT v=spf1 foo:bar -all",
	"temp.example TXT TEMPFAIL",
	"mixed.example TXT v=spf1 a mx ptr ip4:192.0.2.0/24 ip6:2001:db8::/32 include:pass.example "
	"-all",
	"mixed.example A 192.0.2.10",
	"mixed.example MX 10 mx.mixed.example",
	"mx.mixed.example A 198.51.100.25",
	"macro.example TXT v=spf1 exists:%{l}.%{o}.%{h}.%{i}.%{ir}.%{v}.e.example "
	"-all exp=why.fail.example",
	"redirect.example TXT v=spf1 redirect=fail.example",
	"two.example TXT v=spf1 +all",
	"two.example TXT v=spf1 -all",
	"10.2.0.192.in-addr.arpa PTR mixed.example",
};

static char receiver_long[254];

/* fail - report a broken promise and abort */
static void fail(const char *what, const char *header, const char *ip, const char *helo,
		 const char *sender)
{
	fprintf(stderr, "Received-SPF: %s\n  header \"%s\"\n  ip \"%s\" helo \"%s\" sender \"%s\"\n",
		what, header, ip, helo, sender);
	abort();
}

/* balanced - quotes closed, comments matched, every backslash escapes something */
static const char *balanced(const char *h)
{
	int depth = 0, quoted = 0;

	for (; *h; h++) {
		if (*h == '\\') {
			if (!quoted && depth == 0)
				return "backslash outside a quoted-string or comment";
			if (*++h == '\0')
				return "backslash at the end";
		} else if (*h == '"' && depth == 0) {
			quoted = !quoted;
		} else if (!quoted && *h == '(') {
			depth++;
		} else if (!quoted && *h == ')') {
			if (--depth < 0)
				return "')' without '('";
		}
	}
	if (quoted)
		return "unbalanced quote";
	if (depth != 0)
		return "unclosed comment";
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spf_checker *checkers[2];
	const char *err, *why, *ip, *helo, *sender, *word;
	struct spf_outcome out;
	char *s;
	size_t len;

	if (checkers[0] == NULL) {
		memset(receiver_long, 'r', 253);
		for (size_t i = 63; i < 253; i += 64)
			receiver_long[i] = '.';
		if (spf_checker_create_zone("mx.receiver.example", zone,
					    sizeof(zone) / sizeof(zone[0]), &checkers[0], &err) < 0 ||
		    spf_checker_create_zone(receiver_long, zone, sizeof(zone) / sizeof(zone[0]),
					    &checkers[1], &err) < 0) {
			fprintf(stderr, "spf_checker_create_zone: %s\n", err);
			abort();
		}
	}
	if (size < 1)
		return 0;
	s = malloc(size + 2);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = s[size] = s[size + 1] = '\0';
	ip = s;
	helo = ip + strlen(ip) + 1;
	if (helo > s + size - 1)
		helo = s + size;
	sender = helo + strlen(helo) + 1;

	spf_check(checkers[data[0] & 1], ip, helo, sender, 2000, &out);
	len = strnlen(out.header, sizeof(out.header));
	if (len == sizeof(out.header))
		fail("not terminated", "", ip, helo, sender);
	for (const char *p = out.header; *p; p++)
		if (*p < ' ' || *p > '~')
			fail(*p == '\r' || *p == '\n' ? "CR or LF" : "control or 8-bit byte",
			     out.header, ip, helo, sender);
	if (sizeof("Received-SPF: ") - 1 + len > 998 || len >= 980)
		fail("longer than one line may be", out.header, ip, helo, sender);
	if ((why = balanced(out.header)) != NULL)
		fail(why, out.header, ip, helo, sender);
	if (len == 0) {
		if (out.result != SPF_RESULT_TEMPERROR)
			fail("no header but not a temperror", out.header, ip, helo, sender);
	} else {
		switch (out.result) {
		case SPF_RESULT_PASS: word = "Pass ("; break;
		case SPF_RESULT_FAIL: word = "Fail ("; break;
		case SPF_RESULT_SOFTFAIL: word = "SoftFail ("; break;
		case SPF_RESULT_NEUTRAL: word = "Neutral ("; break;
		case SPF_RESULT_TEMPERROR: word = "TempError ("; break;
		case SPF_RESULT_PERMERROR: word = "PermError ("; break;
		default: word = "None ("; break;
		}
		if (strncmp(out.header, word, strlen(word)) != 0)
			fail("does not start with the result", out.header, ip, helo, sender);
		word = out.helo_identity ? "; identity=helo" : "; identity=mailfrom";
		if (len < strlen(word) || strcmp(out.header + len - strlen(word), word) != 0)
			fail("does not end with the identity", out.header, ip, helo, sender);
	}
	for (const char *p = out.reason; *p; p++)
		if (*p < ' ' || *p > '~')
			fail("reason not printable", out.reason, ip, helo, sender);
	free(s);
	return 0;
}
