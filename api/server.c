/*
 * NAME
 *	server - chapps-api's HTTP side: libmicrohttpd, authentication, dispatch
 * SUMMARY
 *	api_serve(api, fd) runs until SIGTERM/SIGINT
 * DESCRIPTION
 *	libmicrohttpd runs a pool of api.threads threads, each polling its
 *	share of the connections (epoll), on a listening socket made by
 *	main.c (TCP or unix).  With api.tls_cert and api.tls_key it speaks
 *	HTTPS through GnuTLS.  Each connection may idle api.timeout seconds;
 *	a client that sends a request slowly is cut off then, and ties up one
 *	connection slot only, never a thread.
 *
 *	A request is handled in three steps, as libmicrohttpd calls back:
 *	  1. headers complete: authenticate (below) and check the declared
 *	     Content-Length against api.body_max (413 at once, before any
 *	     body is read);
 *	  2. body pieces: appended up to api.body_max; past it the rest is
 *	     read and dropped and the answer is 413;
 *	  3. end: match the route, check the role, call the handler, send
 *	     its JSON.
 *	Authentication: "Authorization: Bearer TOKEN" checked against the
 *	token file (token_watch: a revoked token fails at its next request).
 *	No or a wrong token: 401 {"detail": ...} with WWW-Authenticate; a
 *	read token on a changing route: 403.  Failed attempts count per client
 *	address; after api.auth_fail_max in a minute, every request from that
 *	address gets 429 until the minute is over, before the token is
 *	looked at.
 * DIAGNOSTICS
 *	Authentication failures are logged at warning level with the client
 *	address; handlers log their own errors.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "api/api.h"
#include "base/config.h"
#include "base/log.h"
#include "base/xalloc.h"

/* ---- failed-authentication rate limit ----------------------------------- */

#define RL_SLOTS 1024
#define RL_WINDOW 60

struct rl_slot {
	char client[80];
	long start;		/* window start */
	int fails;
};

struct ratelimit {
	pthread_mutex_t lock;
	int max;
	struct rl_slot slot[RL_SLOTS];
};

struct ratelimit *ratelimit_new(int max_per_minute)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	pthread_mutex_init(&rl->lock, NULL);
	rl->max = max_per_minute;
	return rl;
}

void ratelimit_free(struct ratelimit **rl)
{
	if (*rl == NULL)
		return;
	pthread_mutex_destroy(&(*rl)->lock);
	free(*rl);
	*rl = NULL;
}

/* rl_find - the slot of client (a stale or colliding one is taken over) */
static struct rl_slot *rl_find(struct ratelimit *rl, const char *client, long now)
{
	uint32_t h = 2166136261u;
	struct rl_slot *s;

	for (const char *p = client; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	s = &rl->slot[h % RL_SLOTS];
	if (strcmp(s->client, client) != 0 || now - s->start >= RL_WINDOW) {
		/* a colliding live slot is kept if it is blocking: never unblock early */
		if (strcmp(s->client, client) != 0 && now - s->start < RL_WINDOW &&
		    s->fails >= rl->max)
			return NULL;
		snprintf(s->client, sizeof(s->client), "%s", client);
		s->start = now;
		s->fails = 0;
	}
	return s;
}

bool ratelimit_blocked(struct ratelimit *rl, const char *client, long now)
{
	struct rl_slot *s;
	bool blocked;

	pthread_mutex_lock(&rl->lock);
	s = rl_find(rl, client, now);
	blocked = s != NULL && s->fails >= rl->max;
	pthread_mutex_unlock(&rl->lock);
	return blocked;
}

void ratelimit_fail(struct ratelimit *rl, const char *client, long now)
{
	struct rl_slot *s;

	pthread_mutex_lock(&rl->lock);
	s = rl_find(rl, client, now);
	if (s != NULL)
		s->fails++;
	pthread_mutex_unlock(&rl->lock);
}

/* ---- route matching --------------------------------------------------- */

/* match_pattern - does path fit pattern? parameters copied into r->seg */
static bool match_pattern(struct api_req *r, const char *pattern, const char *path)
{
	const char *p = pattern, *s = path;
	size_t used = 0;
	int nseg = 0;

	for (;;) {
		if (*p == '{') {
			size_t n = strcspn(s, "/");
			const char *close = strchr(p, '}');

			if (n == 0 || close == NULL || nseg == API_SEG_MAX ||
			    used + n + 1 > sizeof(r->segbuf))
				return false;
			memcpy(r->segbuf + used, s, n);
			r->segbuf[used + n] = '\0';
			r->seg[nseg++] = r->segbuf + used;
			used += n + 1;
			s += n;
			p = close + 1;
			continue;
		}
		if (*p == '\0' && *s == '\0')
			return true;
		/* one trailing slash more or less */
		if (*p == '/' && p[1] == '\0' && *s == '\0')
			return true;
		if (*p == '\0' && *s == '/' && s[1] == '\0')
			return true;
		if (*p != *s)
			return false;
		p++;
		s++;
	}
}

const struct api_route *api_route_match(struct api_req *r, const char *method, const char *path,
					bool *path_known_r)
{
	*path_known_r = false;
	for (const struct api_route *rt = api_routes; rt->method != NULL; rt++) {
		if (!match_pattern(r, rt->pattern, path))
			continue;
		*path_known_r = true;
		if (strcmp(rt->method, method) == 0) {
			/* the parameters of this route (another may have filled them) */
			match_pattern(r, rt->pattern, path);
			return rt;
		}
	}
	return NULL;
}

/* ---- HTTP ------------------------------------------------------------- */

struct conn_state {
	char *body;
	size_t len;
	bool too_big;
	bool answered;		/* a response was queued at the headers */
	bool authed;
	char token[TOKEN_NAME_MAX + 1];
	enum token_role role;
	char client[80];
};

/* send_json - queue a JSON response (body taken over and freed) */
static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_t *body,
				 bool auth_challenge)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text = json_dumps(body, JSON_COMPACT);
	size_t len;

	json_decref(body);
	if (text == NULL)
		text = xstrdup("{\"detail\":\"cannot encode the response\"}");
	len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (auth_challenge)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"chapps-api\"");
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* detail - {"detail": text} */
static json_t *detail(const char *text)
{
	return json_pack("{s:s}", "detail", text);
}

/* client_of - the peer address as text ("unix" for a unix socket) */
static void client_of(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

	snprintf(buf, size, "unix");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			  (socklen_t)size);
}

/* authenticate - check the bearer token at the headers; false: a response is queued */
static bool authenticate(struct api *api, struct MHD_Connection *c, struct conn_state *cs,
			 const char *method, const char *url, enum MHD_Result *ret)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	const char *error = NULL;
	long now = (long)time(NULL);

	client_of(c, cs->client, sizeof(cs->client));
	if (ratelimit_blocked(api->fails, cs->client, now)) {
		log_warn("api: %s %s from %s: refused, too many failed authentications",
			 method, url, cs->client);
		*ret = send_json(c, 429, detail("Too many failed authentication attempts; "
						"try again later"), false);
		return false;
	}
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		ratelimit_fail(api->fails, cs->client, now);
		log_warn("api: %s %s from %s: no bearer token", method, url, cs->client);
		*ret = send_json(c, 401, detail("Not authenticated"), true);
		return false;
	}
	h += 7;
	while (*h == ' ')
		h++;
	cs->role = token_watch_check(api->tokens, h, strlen(h), cs->token, &error);
	if (error != NULL)
		log_error("api: token file: %s (no token is accepted until it is fixed)", error);
	if (cs->role == TOKEN_ROLE_NONE) {
		ratelimit_fail(api->fails, cs->client, now);
		log_warn("api: %s %s from %s: invalid token", method, url, cs->client);
		*ret = send_json(c, 401, detail("Invalid or revoked token"), true);
		return false;
	}
	cs->authed = true;
	return true;
}

/* dispatch - run the route's handler and queue its answer */
static enum MHD_Result dispatch(struct api *api, struct MHD_Connection *c, struct conn_state *cs,
				const char *method, const char *url)
{
	struct api_req *r = xcalloc(1, sizeof(*r));
	const struct api_route *rt;
	enum MHD_Result ret;
	bool known;

	r->api = api;
	r->conn = c;
	r->method = method;
	r->path = url;
	r->body = cs->body != NULL ? cs->body : "";
	r->body_len = cs->len;
	r->role = cs->role;
	snprintf(r->token, sizeof(r->token), "%s", cs->token);
	snprintf(r->client, sizeof(r->client), "%s", cs->client);
	rt = api_route_match(r, method, url, &known);
	if (rt == NULL) {
		ret = send_json(c, known ? 405 : 404,
				detail(known ? "Method Not Allowed" : "Not Found"), false);
	} else if (rt->write && r->role != TOKEN_ROLE_ADMIN) {
		log_warn("api: %s %s from %s: token %s (role %s) may not change data", method, url,
			 r->client, r->token, token_role_name(r->role));
		ret = send_json(c, 403, detail("This token may only read (role read); changes "
					       "need a token with role admin"), false);
	} else {
		r->route = rt->pattern;
		r->status = 500;
		rt->handler(r);
		if (r->out == NULL)
			r->out = detail("Internal Server Error");
		ret = send_json(c, r->status, r->out, false);
		r->out = NULL;
	}
	free(r);
	return ret;
}

/* on_request - libmicrohttpd's access handler (see DESCRIPTION for the steps) */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct api *api = cls;
	struct conn_state *cs = *con_cls;
	size_t max = (size_t)api->config->api_body_max;
	enum MHD_Result ret = MHD_YES;

	if (cs == NULL) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);

		cs = xcalloc(1, sizeof(*cs));
		*con_cls = cs;
		if (!authenticate(api, c, cs, method, url, &ret)) {
			cs->answered = true;
			return ret;
		}
		if (cl != NULL && strtoull(cl, NULL, 10) > max) {
			cs->answered = true;
			log_warn("api: %s %s from %s: body of %s bytes refused (api.body_max %zu)",
				 method, url, cs->client, cl, max);
			return send_json(c, 413, detail("Request body too large"), false);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!cs->too_big && cs->len + *upload_size <= max) {
			cs->body = xrealloc(cs->body, cs->len + *upload_size + 1);
			memcpy(cs->body + cs->len, upload, *upload_size);
			cs->len += *upload_size;
			cs->body[cs->len] = '\0';
		} else {
			cs->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (cs->answered)
		return MHD_YES;
	cs->answered = true;
	if (cs->too_big)
		return send_json(c, 413, detail("Request body too large"), false);
	return dispatch(api, c, cs, method, url);
}

/* on_completed - free a request's state */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	if (cs == NULL)
		return;
	free(cs->body);
	free(cs);
	*con_cls = NULL;
}

/* read_file - a whole (PEM) file, NUL-terminated; NULL with errno */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];

	if (f == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = xrealloc(buf, len + n + 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (buf == NULL)
		buf = xstrdup("");
	buf[len] = '\0';
	return buf;
}

int api_serve(struct api *api, int fd, bool unix_socket)
{
	const struct config *cfg = api->config;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	char *cert = NULL, *key = NULL;
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;
	bool tls = cfg->api_tls_cert[0] != '\0';

	if (tls) {
		cert = read_file(cfg->api_tls_cert);
		key = read_file(cfg->api_tls_key);
		if (cert == NULL || key == NULL) {
			log_error("api: cannot read %s: %s", cert == NULL ? cfg->api_tls_cert
									  : cfg->api_tls_key,
				  strerror(errno));
			free(cert);
			free(key);
			return -1;
		}
		flags |= MHD_USE_TLS;
	}
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, api,
			     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->api_threads,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->api_timeout,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(unix_socket ? 0 : 64),
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			     tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
			     MHD_OPTION_HTTPS_MEM_KEY, key,
			     MHD_OPTION_END);
	if (d == NULL) {
		log_error("api: cannot start the HTTP server%s", tls ? " (check the TLS files)" : "");
		free(cert);
		free(key);
		return -1;
	}
	log_info("api: serving %s on %s", tls ? "HTTPS" : "HTTP", cfg->api_listen);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue;	/* tokens reload by themselves */
		break;
	}
	log_info("api: stopping on signal %d", sig);
	MHD_stop_daemon(d);
	if (key != NULL)
		memset(key, 0, strlen(key));
	free(cert);
	free(key);
	return 0;
}
