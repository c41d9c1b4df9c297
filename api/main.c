/*
 * NAME
 *	chapps-api - CHAPPS's REST API over chapps's policy data, with tokens
 * SYNOPSIS
 *	chapps-api [-fnVh] [-c file] [--routes]
 * DESCRIPTION
 *	Start-up: load and check the configuration; refuse plain HTTP on an
 *	address that is not loopback unless api.allow_plain_remote is set
 *	(TLS needs both api.tls_cert and api.tls_key); open the log, the
 *	policy database and the token file watch; create the listening
 *	socket (api.listen: "HOST:PORT", "[V6]:PORT" or "unix:/path"); block
 *	SIGTERM, SIGINT and SIGHUP in every thread and serve (server.c) until
 *	SIGTERM or SIGINT.  The state store is opened at its first use.
 *	-n only checks (configuration and the plain-HTTP rule) and exits.
 *	--routes prints the route table ("METHOD PATH" per line) for the
 *	OpenAPI consistency test.
 * DIAGNOSTICS
 *	Configuration problems exit 78 (EX_CONFIG), -n exits 1 instead;
 *	start-up failures exit 69-75 (sysexits).
 */
#include "autoconf.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "api/api.h"
#include "base/config.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "policydb/policydb.h"
#include "store/store.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/chapps/chapps.conf"

/* usage - print the synopsis */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: chapps-api [-fnVh] [-c file] [--routes]\n"
		"  -c file    configuration file (default %s)\n"
		"  -f         stay in the foreground and log to stderr\n"
		"  -n         check the configuration, print every problem, exit\n"
		"  -V         print the version, exit\n"
		"  -h         this help\n"
		"  --routes   print the route table, exit\n",
		DEFAULT_CONFIG);
}

struct listen_addr {
	bool unix_socket;
	char path[108];
	struct sockaddr_storage ss;
	socklen_t len;
	bool loopback;
};

/* parse_listen - api.listen into an address; -1 with a message in why */
static int parse_listen(const char *text, struct listen_addr *la, char *why, size_t size)
{
	char host[256];
	const char *colon;
	char *end;
	long port;

	memset(la, 0, sizeof(*la));
	if (strncmp(text, "unix:", 5) == 0) {
		if (text[5] != '/' || strlen(text + 5) >= sizeof(la->path)) {
			snprintf(why, size, "api.listen: \"%s\": unix: needs an absolute path", text);
			return -1;
		}
		la->unix_socket = true;
		la->loopback = true;
		snprintf(la->path, sizeof(la->path), "%s", text + 5);
		return 0;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host))
			goto bad;
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
			goto bad;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
	}
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		goto bad;
	{
		struct sockaddr_in *v4 = (struct sockaddr_in *)&la->ss;
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&la->ss;

		if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			v4->sin_port = htons((uint16_t)port);
			la->len = sizeof(*v4);
			la->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
		} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t)port);
			la->len = sizeof(*v6);
			la->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
		} else {
			snprintf(why, size, "api.listen: \"%s\": the host must be an IP address",
				 text);
			return -1;
		}
	}
	return 0;
bad:
	snprintf(why, size, "api.listen: \"%s\": expected HOST:PORT, [V6]:PORT or unix:/path",
		 text);
	return -1;
}

/* check_listen - the plain-HTTP and TLS rules; -1 with a message in why */
static int check_listen(const struct config *c, struct listen_addr *la, char *why, size_t size)
{
	bool cert = c->api_tls_cert[0] != '\0', key = c->api_tls_key[0] != '\0';

	if (parse_listen(c->api_listen, la, why, size) < 0)
		return -1;
	if (cert != key) {
		snprintf(why, size, "api.tls_cert and api.tls_key: set both (HTTPS) or neither");
		return -1;
	}
	if (!cert && !la->loopback && !c->api_allow_plain_remote) {
		snprintf(why, size,
			 "api.listen: \"%s\" is not a loopback address or a unix socket: plain "
			 "HTTP would send tokens in clear; set api.tls_cert and api.tls_key, or "
			 "api.allow_plain_remote = true",
			 c->api_listen);
		return -1;
	}
	return 0;
}

/* open_listener - the listening socket; -1 with errno */
static int open_listener(const struct listen_addr *la)
{
	int fd, one = 1;

	if (la->unix_socket) {
		struct sockaddr_un sun;
		mode_t old;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", la->path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		(void)unlink(la->path);
		old = umask(0007);
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 128) < 0) {
			umask(old);
			close(fd);
			return -1;
		}
		umask(old);
		return fd;
	}
	fd = socket(la->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&la->ss, la->len) < 0 || listen(fd, 128) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* store_get - the store, opened at the first use; with create, even with no LMDB data yet */
static struct store *store_get(struct api *api, bool create)
{
	const char *err;
	struct store *s;

	pthread_mutex_lock(&api->store_lock);
	if (!api->store_tried || api->store == NULL) {
		api->store_tried = true;
		if (api->config->store_backend == STORE_BACKEND_LMDB && !create) {
			struct stat st;
			char *data = xasprintf("%s/data.mdb", api->config->store_path);
			bool there = stat(data, &st) == 0;

			free(data);
			if (!there) {	/* no state yet: nothing is cached */
				pthread_mutex_unlock(&api->store_lock);
				return NULL;
			}
		}
		if (store_open(api->config, &api->store, &err) < 0) {
			log_error("api: state store: %s", err);
			api->store = NULL;
		}
	}
	s = api->store;
	pthread_mutex_unlock(&api->store_lock);
	return s;
}

struct store *api_store(struct api *api)
{
	return store_get(api, false);
}

struct store *api_store_make(struct api *api)
{
	return store_get(api, true);
}

int main(int argc, char **argv)
{
	const char *config_path = DEFAULT_CONFIG;
	bool foreground = false, check_only = false;
	struct api api;
	struct listen_addr la;
	char why[512], err[512];
	char *errors = NULL;
	sigset_t set;
	int fd, rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-c") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else if (strcmp(a, "-f") == 0) {
			foreground = true;
		} else if (strcmp(a, "-n") == 0) {
			check_only = true;
		} else if (strcmp(a, "-V") == 0) {
			printf("chapps-api %s\n", PACKAGE_VERSION);
			return 0;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--routes") == 0) {
			for (const struct api_route *r = api_routes; r->method != NULL; r++)
				printf("%s %s\n", r->method, r->pattern);
			return 0;
		} else {
			usage(stderr);
			return EX_USAGE;
		}
	}
	memset(&api, 0, sizeof(api));
	if (config_load(config_path, &api.config, &errors) < 0) {
		fputs(errors, stderr);
		free(errors);
		return check_only ? 1 : EX_CONFIG;
	}
	if (check_listen(api.config, &la, why, sizeof(why)) < 0) {
		fprintf(stderr, "%s: %s\n", config_path, why);
		config_unref(&api.config);
		return check_only ? 1 : EX_CONFIG;
	}
	if (check_only) {
		config_unref(&api.config);
		return 0;
	}
	log_open("chapps-api", api.config->log_facility, foreground,
		 (enum log_level)api.config->log_level);
	if (token_init() < 0) {
		log_error("api: libsodium cannot be initialised");
		return EX_SOFTWARE;
	}
	if (policydb_open(api.config, false, &api.db, err, sizeof(err)) < 0) {
		log_error("api: policy database: %s", err);
		return EX_UNAVAILABLE;
	}
	/* every thread libmicrohttpd starts inherits this mask: main sigwaits */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = open_listener(&la);
	if (fd < 0) {
		log_error("api: cannot listen on %s: %s", api.config->api_listen, strerror(errno));
		policydb_close(&api.db);
		return EX_OSERR;
	}
	pthread_mutex_init(&api.store_lock, NULL);
	api.tokens = token_watch_new(api.config->api_tokens);
	api.fails = ratelimit_new(api.config->api_auth_fail_max);
	rc = api_serve(&api, fd, la.unix_socket);
	if (la.unix_socket)
		(void)unlink(la.path);
	token_watch_free(&api.tokens);
	ratelimit_free(&api.fails);
	store_close(&api.store);
	policydb_close(&api.db);
	pthread_mutex_destroy(&api.store_lock);
	config_unref(&api.config);
	log_close();
	return rc == 0 ? 0 : EX_SOFTWARE;
}
