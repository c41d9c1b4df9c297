/*
 * NAME
 *	greylist - tuple parts for greylisting: client network, plain sender
 * DESCRIPTION
 *	Sender normalisation (greylisting.strip_srs_verp), so that a list or
 *	forwarder that changes its envelope sender per message is greylisted
 *	once, not for every message:
 *	  SRS0=hash=tt=domain=local@forwarder      -> local@domain
 *	  SRS1=hash=fwd==hash=tt=domain=local@fwd2  -> local@domain
 *	  prvs=tag=local@domain (BATV)             -> local@domain
 *	  local+anything@domain (VERP, sub-address)  -> local@domain
 *	Anything else is kept as it is.  The domain is lower-cased.
 * DIAGNOSTICS
 *	None.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "greylist.h"

int greylist_client_key(const char *addr, unsigned prefix_v4, unsigned prefix_v6, char *buf,
			size_t size)
{
	unsigned char bin[16];
	char text[INET6_ADDRSTRLEN];
	int fam;
	unsigned bits, nbytes;

	if (addr == NULL)
		addr = "";
	if (inet_pton(AF_INET, addr, bin) == 1) {
		fam = AF_INET;
		bits = prefix_v4 > 32 ? 32 : prefix_v4;
		nbytes = 4;
	} else if (inet_pton(AF_INET6, addr, bin) == 1) {
		fam = AF_INET6;
		bits = prefix_v6 > 128 ? 128 : prefix_v6;
		nbytes = 16;
	} else {
		snprintf(buf, size, "%s", addr);
		return -1;
	}
	for (unsigned i = 0; i < nbytes; i++) {
		unsigned keep = bits >= (i + 1) * 8 ? 8 : (bits > i * 8 ? bits - i * 8 : 0);

		bin[i] &= (unsigned char)(0xff00u >> keep);
	}
	inet_ntop(fam, bin, text, sizeof(text));
	if (bits == nbytes * 8)
		snprintf(buf, size, "%s", text);
	else
		snprintf(buf, size, "%s/%u", text, bits);
	return 0;
}

/* lower_domain - lower-case the part after the last '@' in place */
static void lower_domain(char *s)
{
	char *at = strrchr(s, '@');

	for (char *p = at ? at : s + strlen(s); *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

/* srs_tail - "domain=local" of an SRS address into local@domain, or 0 */
static int srs_tail(const char *fields, const char *at, char *buf, size_t size)
{
	/* fields: hash=tt=domain=local (up to at) */
	const char *p = fields;

	for (int skip = 0; skip < 2; skip++) {
		p = memchr(p, '=', (size_t)(at - p));
		if (p == NULL)
			return 0;
		p++;
	}
	const char *eq = memchr(p, '=', (size_t)(at - p));

	if (eq == NULL || eq == p || eq + 1 >= at)
		return 0;
	snprintf(buf, size, "%.*s@%.*s", (int)(at - eq - 1), eq + 1, (int)(eq - p), p);
	return 1;
}

char *greylist_strip_sender(const char *sender, char *buf, size_t size)
{
	const char *at;

	if (sender == NULL)
		sender = "";
	at = strrchr(sender, '@');
	if (at == NULL) {
		snprintf(buf, size, "%s", sender);
		return buf;
	}
	if (strncasecmp(sender, "SRS0=", 5) == 0 || strncasecmp(sender, "SRS0+", 5) == 0 ||
	    strncasecmp(sender, "SRS0-", 5) == 0) {
		if (srs_tail(sender + 5, at, buf, size)) {
			lower_domain(buf);
			return buf;
		}
	} else if (strncasecmp(sender, "SRS1", 4) == 0) {
		const char *dd = strstr(sender, "==");

		if (dd != NULL && dd < at && srs_tail(dd + 2, at, buf, size)) {
			lower_domain(buf);
			return buf;
		}
	} else if (strncasecmp(sender, "prvs=", 5) == 0) {
		const char *eq = memchr(sender + 5, '=', (size_t)(at - sender - 5));

		if (eq != NULL && eq + 1 < at) {
			snprintf(buf, size, "%s", eq + 1);
			lower_domain(buf);
			return buf;
		}
	}
	const char *plus = memchr(sender, '+', (size_t)(at - sender));

	if (plus != NULL && plus > sender)
		snprintf(buf, size, "%.*s%s", (int)(plus - sender), sender, at);
	else
		snprintf(buf, size, "%s", sender);
	lower_domain(buf);
	return buf;
}

const char *greylist_verdict_name(enum greylist_verdict verdict)
{
	switch (verdict) {
	case GREYLIST_PASS: return "pass";
	case GREYLIST_PASS_WHITELISTED: return "whitelisted";
	case GREYLIST_DEFER_NEW: return "new";
	case GREYLIST_DEFER_EARLY: return "early";
	}
	return "?";
}
