/*
 * NAME
 *	metrics_http - serve common/base/metrics on metrics.listen
 * SUMMARY
 *	metrics_http_start(config) at start-up; runs until the process exits
 * DESCRIPTION
 *	libmicrohttpd with one internal polling thread, a short connection
 *	timeout and a small connection limit: a scrape is one small GET.
 *	Only loopback addresses are accepted (127.0.0.0/8, ::1): metrics
 *	show user-independent counts only, but nothing of the milter should
 *	listen beyond the host.  The bearer token, when set, is compared in
 *	constant time.
 * DIAGNOSTICS
 *	Start-up problems in err; requests are not logged.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "base/config.h"
#include "base/metrics.h"
#include "base/xalloc.h"
#include "metrics_http.h"

static char *token;		/* "" = none */
static struct MHD_Daemon *daemon_;	/* lives as long as the process */

/* same_secret - constant-time comparison of a presented token */
static int same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
	unsigned char diff = (unsigned char)(la != lb);

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)((i < la ? a[i] : 0) ^ (i < lb ? b[i] : 0));
	return diff == 0;
}

/* answer - queue a text response (text taken over and freed) */
static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* on_request - GET /metrics */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	char *text;

	if (*con_cls == NULL) {	/* headers: answer at the end of the request */
		*con_cls = c;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (token[0] != '\0') {
		const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							    MHD_HTTP_HEADER_AUTHORIZATION);

		if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || !same_secret(h + 7, token))
			return answer(c, 401, xstrdup("unauthorized\n"));
	}
	if (strcmp(method, "GET") != 0)
		return answer(c, 405, xstrdup("GET only\n"));
	if (strcmp(url, "/metrics") != 0)
		return answer(c, 404, xstrdup("see /metrics\n"));
	metrics_render(&text);
	return answer(c, 200, text);
}

/* parse_loopback - "127.0.0.1:9101" / "[::1]:9101" into ss; -1 when not loopback */
static int parse_loopback(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':' || (size_t)(close - text) > sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
	}
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return -1;
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1 &&
	    (ntohl(v4->sin_addr.s_addr) >> 24) == 127) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1 &&
	    IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	return -1;
}

int metrics_http_start(const struct config *config, char *err, size_t errsize)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (config->metrics_listen[0] == '\0')
		return 0;
	if (parse_loopback(config->metrics_listen, &ss, &len) < 0) {
		snprintf(err, errsize,
			 "metrics.listen: \"%s\" must be a loopback HOST:PORT (127.0.0.1:9101, "
			 "[::1]:9101)",
			 config->metrics_listen);
		return -1;
	}
	token = xstrdup(config->metrics_token);
	daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
				     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &ss,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)5,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_END);
	if (daemon_ == NULL) {
		snprintf(err, errsize, "metrics.listen: cannot listen on %s",
			 config->metrics_listen);
		return -1;
	}
	return 0;	/* the daemon lives as long as the process */
}
