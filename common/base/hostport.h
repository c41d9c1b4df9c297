/*
 * hostport - the one parser of "host:port" endpoints (Sentinel servers)
 *
 * Accepted: "name:port", "192.0.2.1:port", "[2001:db8::1]:port".  A bare
 * IPv6 address ("::1:26379") is refused: which colon starts the port is
 * ambiguous, so an IPv6 address is always written in brackets.  The port
 * is decimal, 1..65535, with nothing after it.  The host is taken as
 * written (not resolved, not checked further): empty is refused.
 *
 * The config validates sentinel entries with hostport_parse (so a bad one
 * is a "file:line" error at start-up) and the Redis engine splits them with
 * the same function, so the two cannot disagree.
 *
 * Pure functions, thread-safe, no allocation.
 */
#ifndef CHAPPS_HOSTPORT_H
#define CHAPPS_HOSTPORT_H

#include <stddef.h>

#define HOSTPORT_HOST_MAX 256	/* host bytes + NUL; a DNS name is at most 253 */

struct hostport {
	char host[HOSTPORT_HOST_MAX];	/* without the brackets of an IPv6 address */
	int port;			/* 1..65535 */
};

/*
 * hostport_parse - split s into *hp_r.  Returns 0, or -1 with *error_r (a
 * static text saying what is wrong) and *hp_r unspecified.
 */
int hostport_parse(const char *s, struct hostport *hp_r, const char **error_r);

/*
 * hostport_format - "host:port", or "[host]:port" when host holds a ':',
 * into buf (size bufsize, truncated to fit); returns buf.
 */
char *hostport_format(const char *host, int port, char *buf, size_t bufsize);

#endif
