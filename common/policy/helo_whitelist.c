/*
 * NAME
 *	helo_whitelist - build and match the inbound HELO whitelist
 * DESCRIPTION
 *	The whitelist is a flat array of (name, address) pairs; matching is a
 *	linear scan (the list holds a handful of relays).  Addresses are
 *	compared in binary form (inet_pton), so "::1" and "0:0::1" match,
 *	and an IPv4-mapped address (::ffff:192.0.2.1) is the IPv4 address.
 *	An entry "name:ip" keeps at most that one address; a resolver that
 *	returns more answers than asked for is cut to the asked number.
 * DIAGNOSTICS
 *	helo_whitelist_build describes each dropped entry in *problems_r.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "policy/helo_whitelist.h"
#include "base/xalloc.h"

#define HELO_ADDRS_MAX 16

struct pair {
	char *name;
	int family;
	unsigned char addr[16];
};

struct helo_whitelist {
	struct pair *pair;
	size_t n;
};

/* sys_forward - A and AAAA through getaddrinfo */
static int sys_forward(void *ctx, const char *name, char addrs[][64], int max)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int n = 0;

	(void)ctx;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next)
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addrs[n], 64, NULL, 0,
				NI_NUMERICHOST) == 0)
			n++;
	freeaddrinfo(res);
	return n;
}

/* sys_reverse - one PTR name through getnameinfo */
static int sys_reverse(void *ctx, const char *addr, char names[][256], int max)
{
	struct sockaddr_storage ss;
	socklen_t len;

	(void)ctx;
	memset(&ss, 0, sizeof(ss));
	if (max < 1)
		return 0;
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	} else {
		return -1;
	}
	if (getnameinfo((struct sockaddr *)&ss, len, names[0], 256, NULL, 0, NI_NAMEREQD) != 0)
		return -1;
	return 1;
}

const struct helo_resolver helo_resolver_system = { sys_forward, sys_reverse, NULL };

/* to_binary - parse an address (::ffff:a.b.c.d as IPv4); family or 0 */
static int to_binary(const char *addr, unsigned char out[16])
{
	if (inet_pton(AF_INET, addr, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, addr, out) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)out)) {
			memmove(out, out + 12, 4);
			return AF_INET;
		}
		return AF_INET6;
	}
	return 0;
}

/* same_name - case-insensitive, ignoring one trailing dot on either side */
static bool same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* add_pair - keep (name, addr) */
static void add_pair(struct helo_whitelist *wl, const char *name, const char *addr)
{
	struct pair *p;

	wl->pair = xreallocarray(wl->pair, wl->n + 1, sizeof(*wl->pair));
	p = &wl->pair[wl->n];
	memset(p, 0, sizeof(*p));
	p->family = to_binary(addr, p->addr);
	if (p->family == 0)
		return;
	p->name = xstrdup(name);
	wl->n++;
}

/* note - append one problem line */
static void note(char **problems, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(char **problems, const char *fmt, ...)
{
	char line[1024];
	size_t old = *problems ? strlen(*problems) : 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	*problems = xrealloc(*problems, old + strlen(line) + 2);
	strcpy(*problems + old, line);
	strcat(*problems + old, "\n");
}

/* reverse_ok - does addr resolve back to name? */
static bool reverse_ok(const struct helo_resolver *dns, const char *addr, const char *name)
{
	char names[4][256];
	int n = dns->reverse(dns->ctx, addr, names, 4);

	if (n > 4)
		n = 4;	/* a resolver that ignores max */
	for (int i = 0; i < n; i++)
		if (same_name(names[i], name))
			return true;
	return false;
}

/* trim - strip surrounding white space in place */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* split_entry - name and optional ip of one "name[:ip]" entry, each trimmed */
static void split_entry(char *entry, char **name, char **ip)
{
	char *colon = strchr(entry, ':');

	*name = entry;
	*ip = NULL;
	if (colon == NULL)
		return;
	*colon = '\0';
	*name = trim(entry);
	*ip = trim(colon + 1);
	if (**ip == '[') {
		char *end = strchr(*ip, ']');

		(*ip)++;
		if (end != NULL && end[1] == '\0')
			*end = '\0';
	}
}

struct helo_whitelist *helo_whitelist_build(const char *spec, const struct helo_resolver *dns,
					    char **problems_r)
{
	struct helo_whitelist *wl = xcalloc(1, sizeof(*wl));
	char *copy = xstrdup(spec ? spec : ""), *save = NULL, *problems = NULL;

	for (char *tok = strtok_r(copy, ";", &save); tok != NULL;
	     tok = strtok_r(NULL, ";", &save)) {
		char *name, *ip, addrs[HELO_ADDRS_MAX][64];
		unsigned char bin[16], other[16];
		int n, fam = 0;
		bool found = false;

		tok = trim(tok);
		if (*tok == '\0')
			continue;
		split_entry(tok, &name, &ip);
		if (*name == '\0') {
			note(&problems, "helo_whitelist: entry \":%s\": no name", ip ? ip : "");
			continue;
		}
		if (ip != NULL && (fam = to_binary(ip, bin)) == 0) {
			note(&problems, "helo_whitelist: %s: \"%s\" is not an IP address", name,
			     ip);
			continue;
		}
		if (ip != NULL && (strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0)) {
			add_pair(wl, name, ip);
			continue;
		}
		n = dns->forward(dns->ctx, name, addrs, HELO_ADDRS_MAX);
		if (n > HELO_ADDRS_MAX)
			n = HELO_ADDRS_MAX;	/* a resolver that ignores max */
		if (n <= 0) {
			note(&problems, "helo_whitelist: %s: %s", name,
			     n < 0 ? "name does not resolve" : "name has no address");
			continue;
		}
		for (int i = 0; i < n; i++) {
			int f = to_binary(addrs[i], other);

			if (f == 0)
				continue;
			if (ip != NULL &&
			    (f != fam || memcmp(bin, other, f == AF_INET ? 4 : 16) != 0))
				continue;
			found = true;
			if (!reverse_ok(dns, addrs[i], name)) {
				note(&problems,
				     "helo_whitelist: %s: %s does not resolve back to it", name,
				     addrs[i]);
				continue;
			}
			add_pair(wl, name, addrs[i]);
			if (ip != NULL)
				break;	/* the one address asked for */
		}
		if (!found && ip != NULL)
			note(&problems, "helo_whitelist: %s: does not resolve to %s", name, ip);
	}
	free(copy);
	if (problems_r != NULL)
		*problems_r = problems;
	else
		free(problems);
	return wl;
}

void helo_whitelist_free(void *p)
{
	struct helo_whitelist *wl = p;

	if (wl == NULL)
		return;
	for (size_t i = 0; i < wl->n; i++)
		free(wl->pair[i].name);
	free(wl->pair);
	free(wl);
}

size_t helo_whitelist_count(const struct helo_whitelist *wl)
{
	return wl ? wl->n : 0;
}

bool helo_whitelist_match(const struct helo_whitelist *wl, const char *helo,
			  const char *client_name, const char *client_addr)
{
	const char *name = helo != NULL && *helo != '\0' ? helo : client_name;
	unsigned char bin[16];
	int fam;

	if (wl == NULL || wl->n == 0 || name == NULL || client_addr == NULL)
		return false;
	fam = to_binary(client_addr, bin);
	if (fam == 0)
		return false;
	for (size_t i = 0; i < wl->n; i++) {
		const struct pair *p = &wl->pair[i];

		if (p->family == fam && memcmp(p->addr, bin, fam == AF_INET ? 4 : 16) == 0 &&
		    same_name(p->name, name))
			return true;
	}
	return false;
}
