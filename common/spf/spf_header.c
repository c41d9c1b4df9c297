/*
 * NAME
 *	spf_header - the value of a Received-SPF header field
 * SUMMARY
 *	spf_header_build(&fields, buf, size)
 * DESCRIPTION
 *	Received-SPF (RFC 7208 section 9.1) is built here, not taken from
 *	libspf2, whose value lacks receiver= and identity= and has the
 *	result in lower case:
 *	  Pass (rcv: domain of example.com designates 192.0.2.3 as permitted
 *	  sender) client-ip=192.0.2.3; envelope-from="a@example.com";
 *	  helo=mx.example.com; receiver=rcv; identity=mailfrom
 *	Every untrusted part is bounded (SPF_FIELD_MAX, SPF_COMMENT_MAX,
 *	SPF_IP_MAX), control and non-ASCII bytes become '?', quotes and
 *	backslashes in quoted strings and parentheses in the comment are
 *	escaped, and client-ip keeps only the characters of an address, so
 *	the value is one line under 980 bytes, whatever the HELO and sender
 *	hold.  mechanism= is not given (libspf2 does not say which mechanism
 *	matched).
 * DIAGNOSTICS
 *	None: the function cannot fail; the value is cut at size - 1 bytes
 *	(spf_outcome's 1024 bytes always hold it whole).
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "spf/spf_header.h"

#define SPF_FIELD_MAX 160		/* header: envelope-from, helo, receiver */
#define SPF_COMMENT_MAX 240		/* header: the comment */
#define SPF_HELO_MAX 255		/* longest HELO used for postmaster@helo */
#define SPF_IP_MAX 45			/* an IPv6 address text (INET6_ADDRSTRLEN - 1) */

/* a bounded string being built */
struct spf_buf {
	char *s;
	size_t size, len;
};

/* spf_buf_ch - append ch if it fits (always leaves room for the NUL) */
static void spf_buf_ch(struct spf_buf *b, char ch)
{
	if (b->len + 1 < b->size) {
		b->s[b->len++] = ch;
		b->s[b->len] = '\0';
	}
}

/* spf_buf_str - append s (trusted text) */
static void spf_buf_str(struct spf_buf *b, const char *s)
{
	while (*s != '\0')
		spf_buf_ch(b, *s++);
}

/*
 * spf_buf_escaped - append at most max characters of s: non-printable
 * bytes as '?', the characters of specials preceded by a backslash (never
 * split from it).
 */
static void spf_buf_escaped(struct spf_buf *b, const char *s, size_t max, const char *specials)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		char ch = *s >= ' ' && *s <= '~' ? *s : '?';
		bool esc = strchr(specials, ch) != NULL;

		if (n + 1 + esc > max)
			break;
		if (esc)
			spf_buf_ch(b, '\\');
		spf_buf_ch(b, ch);
		n += 1 + esc;
	}
}

/* spf_dot_atom - s is an RFC 5322 dot-atom of at most max characters */
static bool spf_dot_atom(const char *s, size_t max)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > max || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' :
		    !(isalnum((unsigned char)s[i]) || strchr("!#$%&'*+-/=?^_`{|}~", s[i]) != NULL))
			return false;
	}
	return true;
}

/* spf_buf_value - append s as a header value: bare dot-atom or quoted-string */
static void spf_buf_value(struct spf_buf *b, const char *s, bool always_quote)
{
	if (!always_quote && spf_dot_atom(s, SPF_FIELD_MAX)) {
		spf_buf_str(b, s);
		return;
	}
	spf_buf_ch(b, '"');
	spf_buf_escaped(b, s, SPF_FIELD_MAX, "\"\\");
	spf_buf_ch(b, '"');
}

/* spf_header_word - the result as Received-SPF writes it */
static const char *spf_header_word(enum spf_result result)
{
	switch (result) {
	case SPF_RESULT_PASS:
		return "Pass";
	case SPF_RESULT_FAIL:
		return "Fail";
	case SPF_RESULT_SOFTFAIL:
		return "SoftFail";
	case SPF_RESULT_NEUTRAL:
		return "Neutral";
	case SPF_RESULT_TEMPERROR:
		return "TempError";
	case SPF_RESULT_PERMERROR:
		return "PermError";
	case SPF_RESULT_NONE:
	default:
		return "None";
	}
}

/* spf_header_ip - copy an address text: at most SPF_IP_MAX bytes, others than hex digits, '.' and ':' as '?' */
static void spf_header_ip(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < size; i++)
		dst[i] = isxdigit((unsigned char)src[i]) || src[i] == '.' || src[i] == ':' ? src[i]
											 : '?';
	dst[i] = '\0';
}

void spf_header_build(const struct spf_header_fields *f, char *buf, size_t size)
{
	struct spf_buf b = {buf, size, 0};
	bool helo_identity = f->helo_identity;
	enum spf_result result = f->result;
	const char *helo = f->helo != NULL ? f->helo : "";
	const char *sender = f->sender != NULL ? f->sender : "";
	const char *dom = helo_identity ? helo : f->domain != NULL ? f->domain : "";
	char comment[1024], from[SPF_HELO_MAX + sizeof("postmaster@")], ip[SPF_IP_MAX + 1];
	const char *r = f->receiver != NULL ? f->receiver : "";

	if (size == 0)
		return;
	spf_header_ip(ip, sizeof(ip), f->client_ip != NULL ? f->client_ip : "");

	switch (result) {
	case SPF_RESULT_PASS:
		snprintf(comment, sizeof(comment), "%s: domain of %s designates %s as permitted sender",
			 r, dom, ip);
		break;
	case SPF_RESULT_FAIL:
		snprintf(comment, sizeof(comment),
			 "%s: domain of %s does not designate %s as permitted sender", r, dom, ip);
		break;
	case SPF_RESULT_SOFTFAIL:
		snprintf(comment, sizeof(comment),
			 "%s: domain of transitioning %s does not designate %s as permitted sender",
			 r, dom, ip);
		break;
	case SPF_RESULT_NEUTRAL:
		snprintf(comment, sizeof(comment), "%s: %s is neither permitted nor denied by domain of %s",
			 r, ip, dom);
		break;
	case SPF_RESULT_TEMPERROR:
		snprintf(comment, sizeof(comment), "%s: temporary error in processing domain of %s",
			 r, dom);
		break;
	case SPF_RESULT_PERMERROR:
		snprintf(comment, sizeof(comment), "%s: permanent error in processing domain of %s",
			 r, dom);
		break;
	case SPF_RESULT_NONE:
	default:
		snprintf(comment, sizeof(comment), "%s: %s does not designate permitted sender hosts",
			 r, dom[0] != '\0' ? dom : "(no domain)");
		break;
	}
	if (helo_identity)
		snprintf(from, sizeof(from), "postmaster@%.*s", SPF_HELO_MAX, helo);

	buf[0] = '\0';
	spf_buf_str(&b, spf_header_word(result));
	spf_buf_str(&b, " (");
	spf_buf_escaped(&b, comment, SPF_COMMENT_MAX, "()\\");
	spf_buf_str(&b, ") client-ip=");
	spf_buf_str(&b, ip);
	spf_buf_str(&b, "; envelope-from=");
	spf_buf_value(&b, helo_identity ? from : sender, true);
	if (helo[0] != '\0') {
		spf_buf_str(&b, "; helo=");
		spf_buf_value(&b, helo, false);
	}
	spf_buf_str(&b, "; receiver=");
	spf_buf_value(&b, r, false);
	spf_buf_str(&b, helo_identity ? "; identity=helo" : "; identity=mailfrom");
}

