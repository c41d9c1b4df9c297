/*
 * NAME
 *	greylist - tuple parts for greylisting: client network, plain sender
 * DESCRIPTION
 *	Client key: an IPv4 address, or an IPv6 one, with the host bits past
 *	the prefix cleared ("192.0.2.0/24"); an IPv4-mapped IPv6 address
 *	(::ffff:192.0.2.1) is keyed as the IPv4 address it carries, so one
 *	client has one key whichever socket family the MTA reports.
 *
 *	Sender normalisation (greylisting.strip_srs_verp), so that a list or
 *	forwarder that changes its envelope sender per message is greylisted
 *	once, not for every message:
 *	  SRS0=hash=tt=domain=local@forwarder        -> local@domain
 *	  SRS1=hash=fwd==hash=tt=domain=local@fwd2   -> local@domain
 *	  prvs=tag=local@domain (BATV)               -> local@domain
 *	  local+anything@domain (VERP, sub-address)  -> local@domain
 *	The SRS separator may be '=', '+' or '-' (SRS0+..., SRS1=...=-...);
 *	the sub-address rule applies to the unwrapped address as well
 *	(prvs=tag=list+bounce@domain -> list@domain).  Anything else is kept
 *	as it is.  The domain is lower-cased.
 * DIAGNOSTICS
 *	None.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "policy/greylist.h"

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
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)bin)) {
			/* ::ffff:a.b.c.d is an IPv4 client: key it as one */
			memmove(bin, bin + 12, 4);
			fam = AF_INET;
			bits = prefix_v4 > 32 ? 32 : prefix_v4;
			nbytes = 4;
		}
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

/* unwrap - the address inside an SRS or BATV sender into buf, or 0 */
static int unwrap(const char *sender, const char *at, char *buf, size_t size)
{
	size_t local = (size_t)(at - sender);

	if (local > 5 && strncasecmp(sender, "SRS0", 4) == 0 && strchr("=+-", sender[4]))
		return srs_tail(sender + 5, at, buf, size);
	if (local > 5 && strncasecmp(sender, "SRS1", 4) == 0 && strchr("=+-", sender[4])) {
		/* SRS1=hash=first-forwarder=<sep>hash=tt=domain=local */
		const char *host = memchr(sender + 5, '=', local - 5), *end;

		if (host == NULL)
			return 0;
		end = memchr(host + 1, '=', (size_t)(at - host - 1));
		if (end == NULL || end + 2 >= at || strchr("=+-", end[1]) == NULL)
			return 0;
		return srs_tail(end + 2, at, buf, size);
	}
	if (local > 5 && strncasecmp(sender, "prvs=", 5) == 0) {
		/* prvs=tag=local@domain */
		const char *eq = memchr(sender + 5, '=', local - 5);

		if (eq == NULL || eq + 1 >= at)
			return 0;
		snprintf(buf, size, "%s", eq + 1);
		return 1;
	}
	return 0;
}

char *greylist_strip_sender(const char *sender, char *buf, size_t size)
{
	char inner[1024];
	const char *at, *plus;

	if (size == 0)
		return buf;
	if (sender == NULL)
		sender = "";
	at = strrchr(sender, '@');
	if (at == NULL) {
		snprintf(buf, size, "%s", sender);
		return buf;
	}
	/* SRS or BATV: continue with the address they wrap */
	if (unwrap(sender, at, inner, sizeof(inner)) && (at = strrchr(inner, '@')) != NULL)
		sender = inner;
	else
		at = strrchr(sender, '@');
	/* local+tag@domain: sub-address or VERP tag */
	plus = memchr(sender, '+', (size_t)(at - sender));
	if (plus != NULL && plus > sender)
		snprintf(buf, size, "%.*s%s", (int)(plus - sender), sender, at);
	else
		snprintf(buf, size, "%s", sender);
	lower_domain(buf);
	return buf;
}
