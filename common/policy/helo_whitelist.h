/*
 * helo_whitelist - trusted relays that skip inbound policy
 *
 * CHAPPS's syntax: entries separated by ';', each "name" or "name:ip"
 * (split at the first ':' only when the rest is an IPv4 address, or at
 * the first ':' followed by '[' for "name:[IPv6]"; a bare IPv6 address
 * may also follow the first ':' - "relay.example.net:2001:db8::1").
 *
 * Built once at start-up and at reload, never in the path of a message:
 * each name is resolved (A and AAAA) through an injectable resolver; an
 * entry with an IP keeps that IP only if the name resolves to it; an entry
 * without keeps every address the name resolves to; and every kept
 * address must resolve back (PTR) to the name, compared case-insensitively
 * with or without the trailing dot.  127.0.0.1 and ::1 are accepted
 * without DNS.  An entry that fails is dropped and reported; the others
 * stay (CHAPPS's README claimed otherwise; its code did this).
 *
 * A client matches when its HELO name (or, when it sent none, its client
 * name) equals an entry's name case-insensitively AND its address is one
 * of the entry's kept addresses.
 *
 * Immutable after helo_whitelist_build; any number of threads may match.
 */
#ifndef CHAPPS_HELO_WHITELIST_H
#define CHAPPS_HELO_WHITELIST_H

#include <stdbool.h>
#include <stddef.h>

struct helo_whitelist;

/*
 * The DNS the builder uses.  forward: up to max addresses (text) of name,
 * returns the count (0 for none, -1 on a DNS error).  reverse: the PTR
 * names of addr (text) into names, returns the count or -1.
 */
struct helo_resolver {
	int (*forward)(void *ctx, const char *name, char addrs[][64], int max);
	int (*reverse)(void *ctx, const char *addr, char names[][256], int max);
	void *ctx;
};

/* helo_resolver_system - getaddrinfo/getnameinfo based resolver. */
extern const struct helo_resolver helo_resolver_system;

/*
 * helo_whitelist_build - parse and verify spec.  Always returns a
 * whitelist (possibly empty).  *problems_r (may be NULL) gets a newly
 * allocated text, one line per dropped entry, or NULL when none.
 */
struct helo_whitelist *helo_whitelist_build(const char *spec, const struct helo_resolver *dns,
					    char **problems_r);

/* helo_whitelist_free - free a whitelist (void * for config_set_helo_whitelist). */
void helo_whitelist_free(void *whitelist);

/* helo_whitelist_count - number of (name, address) pairs kept. */
size_t helo_whitelist_count(const struct helo_whitelist *wl);

/*
 * helo_whitelist_match - is (helo or client_name, client_addr) trusted?
 * NULL whitelist or arguments never match.
 */
bool helo_whitelist_match(const struct helo_whitelist *wl, const char *helo,
			  const char *client_name, const char *client_addr);

#endif
