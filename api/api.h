/*
 * api - what the parts of chapps-api share
 *
 * main.c starts the daemon (struct api), server.c speaks HTTP through
 * libmicrohttpd, authenticates and dispatches to the route table of
 * routes.c, whose handlers answer in CHAPPS's shapes (spec 9.5).
 */
#ifndef CHAPPS_API_H
#define CHAPPS_API_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/token.h"

struct config;
struct policydb;
struct store;
struct ratelimit;

struct api {
	struct config *config;
	struct policydb *db;
	struct token_watch *tokens;
	struct ratelimit *fails;

	pthread_mutex_t store_lock;	/* guards the lazy store_open */
	struct store *store;
	bool store_tried;
};

#define API_SEG_MAX 6

/* One request, as a handler sees it. */
struct api_req {
	struct api *api;
	void *conn;			/* struct MHD_Connection */
	const char *method;
	const char *path;
	const char *seg[API_SEG_MAX];	/* the {parameters} of the route, in order */
	char segbuf[1024];
	const char *body;
	size_t body_len;
	const char *route;		/* pattern of the matched route, for audit lines */
	char token[TOKEN_NAME_MAX + 1];	/* name of the token used */
	enum token_role role;
	char client[80];

	int status;			/* set by the handler */
	json_t *out;			/* response body, owned */
};

typedef void api_handler(struct api_req *r);

struct api_route {
	const char *method;
	const char *pattern;		/* "/users/{id}/domains/" */
	api_handler *handler;
	bool write;			/* needs the admin role */
};

/* The route table, ended by a { NULL } entry. */
extern const struct api_route api_routes[];

/*
 * api_route_match - the route for method and path, with its parameters in
 * r->seg; NULL when none matches; *path_known_r true when the path matched
 * some route under another method (405).  A missing or extra trailing
 * slash matches, as FastAPI redirects it.
 */
const struct api_route *api_route_match(struct api_req *r, const char *method, const char *path,
					bool *path_known_r);

/* api_store - the state store, opened at the first use; NULL when there is none. */
struct store *api_store(struct api *api);

/*
 * api_store_make - api_store, but an LMDB store that does not exist yet is
 * created (for a write that must not be lost: PUT /v1/locks); NULL only
 * when it cannot be opened.
 */
struct store *api_store_make(struct api *api);

/* api_serve - run the HTTP server on the listening socket fd until a signal; 0 or -1. */
int api_serve(struct api *api, int fd, bool unix_socket);

/* ratelimit of failed authentication, per client address */
struct ratelimit *ratelimit_new(int max_per_minute);
void ratelimit_free(struct ratelimit **rl);
bool ratelimit_blocked(struct ratelimit *rl, const char *client, long now);
void ratelimit_fail(struct ratelimit *rl, const char *client, long now);

#endif
