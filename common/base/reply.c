/*
 * NAME
 *	reply - parse and validate configured SMTP replies
 * DESCRIPTION
 *	The grammar accepted is the one both libmilter (smfi_setreply) and
 *	Postfix (milter8.c, SMFIR_REPLYCODE) accept:
 *	    code    = ("4" | "5") DIGIT DIGIT
 *	    xcode   = class "." 1*3DIGIT "." 1*3DIGIT, class = first digit of code
 *	    reply   = code [SP xcode] SP text
 *	text is printable ASCII (and UTF-8 bytes), no CR/LF, at most
 *	REPLY_TEXT_MAX bytes.  "%" is kept as written in text and doubled in
 *	milter_text, because libmilter treats a lone "%" as a format escape.
 * DIAGNOSTICS
 *	reply_parse returns -1 with a static message.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/reply.h"
#include "base/xalloc.h"

/* parse_xcode - length of a valid enhanced code at s with class c, or 0 */
static size_t parse_xcode(const char *s, char c)
{
	const char *p = s;
	int part;

	if (*p++ != c || *p++ != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		int digits = 0;

		while (isdigit((unsigned char)*p) && digits < 4) {
			p++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0 && *p++ != '.')
			return 0;
	}
	if (*p != ' ' && *p != '\0')
		return 0;
	return (size_t)(p - s);
}

int reply_parse(const char *s, struct reply *reply, const char **error_r)
{
	const char *p;
	size_t xlen, tlen, pct = 0;

	memset(reply, 0, sizeof(*reply));
	if (s == NULL || strlen(s) < 3 || (s[0] != '4' && s[0] != '5') ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2])) {
		*error_r = "reply must start with a 4xx or 5xx code";
		return -1;
	}
	if (s[3] != ' ') {
		*error_r = s[3] == '\0' ? "reply has no text" : "reply code must be followed by a space";
		return -1;
	}
	p = s + 4;
	while (*p == ' ')
		p++;
	xlen = 0;
	/* "5.7.1" is an enhanced code; "5 messages" or "5345" is text */
	if (isdigit((unsigned char)p[0]) && p[1] == '.') {
		xlen = parse_xcode(p, s[0]);
		if (xlen == 0) {
			*error_r = (*p != s[0] && p[1] == '.')
				? "enhanced status code class does not match the reply code"
				: "malformed enhanced status code";
			return -1;
		}
	}
	const char *text = p + xlen;

	while (*text == ' ')
		text++;
	tlen = strlen(text);
	if (tlen == 0) {
		*error_r = "reply has no text";
		return -1;
	}
	for (const char *q = text; *q != '\0'; q++) {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20 || c == 0x7f) {
			*error_r = "reply text contains a control character (CR, LF, TAB ...)";
			return -1;
		}
		if (c == '%')
			pct++;
	}
	if (tlen + pct > REPLY_TEXT_MAX) {
		*error_r = "reply text is too long (at most 900 bytes, each % counting twice)";
		return -1;
	}
	memcpy(reply->code, s, 3);
	reply->code[3] = '\0';
	if (xlen > 0)
		memcpy(reply->xcode, p, xlen);
	reply->xcode[xlen] = '\0';
	reply->temporary = s[0] == '4';
	reply->text = xstrdup(text);
	reply->milter_text = xmalloc(tlen + pct + 1);
	char *o = reply->milter_text;

	for (const char *q = text; *q != '\0'; q++) {
		*o++ = *q;
		if (*q == '%')
			*o++ = '%';
	}
	*o = '\0';
	return 0;
}

void reply_clear(struct reply *reply)
{
	XFREE(reply->text);
	XFREE(reply->milter_text);
}

void reply_copy(struct reply *dst, const struct reply *src)
{
	*dst = *src;
	dst->text = xstrdup(src->text);
	dst->milter_text = xstrdup(src->milter_text);
}

char *reply_format(const struct reply *reply, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s %s", reply->code, reply->xcode[0] ? " " : "", reply->xcode,
		 reply->text ? reply->text : "");
	return buf;
}
