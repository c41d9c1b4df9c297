/*
 * NAME
 *	hostport - parse and format "host:port" endpoints
 * SUMMARY
 *	hostport_parse("[::1]:26379", &hp, &error) -> hp.host "::1", hp.port 26379
 * DESCRIPTION
 *	See hostport.h for the grammar.  The only owner of it: the config's
 *	validation and the Redis engine both call hostport_parse.
 * DIAGNOSTICS
 *	hostport_parse returns -1 and a static reason; nothing is fatal.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hostport.h"

int hostport_parse(const char *s, struct hostport *hp_r, const char **error_r)
{
	const char *hstart = s, *hend, *colon;
	char *end;
	long port;

	if (s[0] == '[') {
		hstart = s + 1;
		hend = strchr(hstart, ']');
		if (hend == NULL) {
			*error_r = "'[' without ']'";
			return -1;
		}
		if (hend[1] != ':') {
			*error_r = "no ':port' after the bracketed address";
			return -1;
		}
		colon = hend + 1;
	} else {
		colon = strchr(s, ':');
		if (colon == NULL) {
			*error_r = "no ':port'";
			return -1;
		}
		if (strchr(colon + 1, ':') != NULL) {
			*error_r = "an IPv6 address must be in brackets: [address]:port";
			return -1;
		}
		hend = colon;
	}
	if (hend == hstart) {
		*error_r = "empty host";
		return -1;
	}
	if ((size_t)(hend - hstart) >= sizeof(hp_r->host)) {
		*error_r = "host name too long";
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || errno != 0 || *end != '\0' || port < 1 ||
	    port > 65535) {
		*error_r = "the port must be a number from 1 to 65535";
		return -1;
	}
	memcpy(hp_r->host, hstart, (size_t)(hend - hstart));
	hp_r->host[hend - hstart] = '\0';
	hp_r->port = (int)port;
	return 0;
}

char *hostport_format(const char *host, int port, char *buf, size_t bufsize)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, bufsize, "[%s]:%d", host, port);
	else
		snprintf(buf, bufsize, "%s:%d", host, port);
	return buf;
}
