/*
 * NAME
 *	fuzz-reply - libFuzzer target for reply_parse
 * DESCRIPTION
 *	The input, cut at its first NUL, is a configured reply.  reply_parse
 *	must either fail with a message or return a reply that keeps the
 *	promises of reply.h and reply.c:
 *	  - code is 3 digits starting with 4 or 5; temporary exactly for 4xx;
 *	  - xcode is empty or "c.d.d" with c the code's class, 1-3 digits each;
 *	  - text is non-empty, at most REPLY_TEXT_MAX bytes, without control
 *	    bytes, and a suffix of the input;
 *	  - milter_text is text with every '%' doubled (libmilter's format);
 *	  - reply_format gives "code [xcode ]text" and parses back to the same
 *	    parts; reply_copy is a deep copy; reply_clear may be repeated.
 * DIAGNOSTICS
 *	abort() on a broken promise, with the input on stderr.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fail - report a broken promise and abort */
static void fail(const char *what, const char *input)
{
	fprintf(stderr, "reply_parse: %s; input \"%s\"\n", what, input);
	abort();
}

/* xcode_ok - is x "c.d.d" with class c and 1-3 digits per number? */
static int xcode_ok(const char *x, char c)
{
	if (x[0] != c || x[1] != '.')
		return 0;
	x += 2;
	for (int part = 0; part < 2; part++) {
		int n = 0;

		while (isdigit((unsigned char)*x)) {
			x++;
			n++;
		}
		if (n < 1 || n > 3)
			return 0;
		if (part == 0 && *x++ != '.')
			return 0;
	}
	return *x == '\0';
}

/* check - the promises of a parsed reply r of input s */
static void check(const struct reply *r, const char *s)
{
	size_t tlen, slen = strlen(s), pct = 0;
	const char *m;

	if (strlen(r->code) != 3 || (r->code[0] != '4' && r->code[0] != '5') ||
	    !isdigit((unsigned char)r->code[1]) || !isdigit((unsigned char)r->code[2]))
		fail("bad code", s);
	if (r->temporary != (r->code[0] == '4'))
		fail("temporary does not match the code", s);
	if (r->xcode[0] != '\0' && !xcode_ok(r->xcode, r->code[0]))
		fail("bad enhanced code", s);
	if (r->text == NULL || r->milter_text == NULL)
		fail("no text", s);
	tlen = strlen(r->text);
	if (tlen == 0 || tlen > REPLY_TEXT_MAX)
		fail("text empty or too long", s);
	if (tlen > slen || strcmp(s + slen - tlen, r->text) != 0)
		fail("text is not the end of the input", s);
	for (const char *p = r->text; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			fail("control byte in the text", s);
		pct += *p == '%';
	}
	if (strlen(r->milter_text) != tlen + pct)
		fail("milter_text is not text with '%' doubled (length)", s);
	m = r->milter_text;
	for (const char *p = r->text; *p; p++) {
		if (*m++ != *p)
			fail("milter_text is not text with '%' doubled", s);
		if (*p == '%' && *m++ != '%')
			fail("a '%' is not doubled in milter_text", s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), buf[1024];
	struct reply r, r2, copy;
	const char *err = NULL;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (reply_parse(s, &r, &err) < 0) {
		if (err == NULL || *err == '\0')
			fail("failed without a message", s);
		if (r.text != NULL || r.milter_text != NULL)
			fail("failed but left allocations", s);
		free(s);
		return 0;
	}
	check(&r, s);

	/* what reply_format writes parses back to the same reply */
	reply_format(&r, buf, sizeof(buf));
	if (reply_parse(buf, &r2, &err) < 0)
		fail("reply_format output does not parse", s);
	if (strcmp(r2.code, r.code) != 0 || strcmp(r2.xcode, r.xcode) != 0 ||
	    strcmp(r2.text, r.text) != 0)
		fail("reply_format output parses to other parts", s);
	reply_clear(&r2);

	reply_copy(&copy, &r);
	if (copy.text == r.text || strcmp(copy.text, r.text) != 0 ||
	    strcmp(copy.milter_text, r.milter_text) != 0)
		fail("reply_copy is not a deep copy", s);
	reply_clear(&copy);
	reply_clear(&r);
	reply_clear(&r);
	free(s);
	return 0;
}
