/*
 * NAME
 *	redis_sentinel - Sentinel discovery of the Redis engine's master
 * SUMMARY
 *	redis_sentinel_open() asks the sentinels for the master and returns
 *	a new connection to it, for redis_pool.c's conn_open.
 * DESCRIPTION
 *	Sentinel.  A new connection asks each sentinel in turn (starting with
 *	the last one that answered) for SENTINEL get-master-addr-by-name,
 *	connects to that address, authenticates, selects the database and
 *	checks with ROLE that the server is a master; a sentinel whose answer
 *	fails moves on to the next.  The retry once on a freshly discovered
 *	master after a READONLY, LOADING or MASTERDOWN reply, and the
 *	deadlines, are redis_pool.c's and redis_conn.c's (see there): every connect and command
 *	here spends the budget of the caller's one deadline.
 * DIAGNOSTICS
 *	Failures return NULL with *error_r pointing to a thread-local buffer
 *	(redis_error) that names each sentinel tried and its failure, valid
 *	until the next call from the same thread.
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "base/hostport.h"
#include "store/redis_conn-private.h"

/* sentinel_ask - ask one sentinel for the master's address; -1 with *error_r */
static int sentinel_ask(struct redis_pool *rp, const struct redis_call *call,
			const struct hostport *sentinel, char *host, size_t host_size,
			int *port_r, const char **error_r)
{
	const char *argv[] = { "SENTINEL", "get-master-addr-by-name", rp->dataset };
	size_t lens[] = { 8, 23, strlen(rp->dataset) };
	struct redis_conn *conn;
	redisReply *reply;
	int ret = -1;

	conn = redis_conn_connect(rp, call, "sentinel", sentinel->host, sentinel->port, NULL,
				  error_r);
	if (conn == NULL)
		return -1;
	reply = redis_conn_command(conn, call, 3, argv, lens, error_r);
	if (reply == NULL) {
		redis_conn_free(&conn);
		return -1;
	}
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[0]->type == REDIS_REPLY_STRING &&
	    reply->element[1]->type == REDIS_REPLY_STRING && reply->element[0]->len < host_size) {
		char *end;
		long port;

		errno = 0;
		port = strtol(reply->element[1]->str, &end, 10);
		if (errno == 0 && *end == '\0' && port > 0 && port < 65536) {
			memcpy(host, reply->element[0]->str, reply->element[0]->len + 1);
			*port_r = (int)port;
			ret = 0;
		}
	}
	if (ret < 0) {
		if (reply->type == REDIS_REPLY_ERROR)
			*error_r = redis_error("sentinel %s: %s", conn->addr, reply->str);
		else if (reply->type == REDIS_REPLY_NIL)
			*error_r = redis_error("sentinel %s: unknown master name '%s'", conn->addr,
					       rp->dataset);
		else
			*error_r = redis_error("sentinel %s: unexpected reply to "
					       "get-master-addr-by-name", conn->addr);
	}
	freeReplyObject(reply);
	redis_conn_free(&conn);
	return ret;
}

/* redis_sentinel_open - ask the sentinels in turn, connect to and verify the master */
struct redis_conn *redis_sentinel_open(struct redis_pool *rp, const struct redis_call *call,
				       const char **error_r)
{
	char host[256], errors[REDIS_ERROR_MAX];
	size_t used = 0;
	int first, i;

	pthread_mutex_lock(&rp->lock);
	first = rp->sentinel_next;
	pthread_mutex_unlock(&rp->lock);

	errors[0] = '\0';
	for (i = 0; i < rp->n_sentinels; i++) {
		int idx = (first + i) % rp->n_sentinels;
		struct redis_conn *conn;
		const char *error;
		int port;

		if (sentinel_ask(rp, call, &rp->sentinels[idx], host, sizeof(host), &port,
				 &error) == 0) {
			conn = redis_conn_connect(rp, call, "redis", host, port, NULL, &error);
			if (conn != NULL && redis_conn_setup(rp, conn, call, &error) == 0) {
				pthread_mutex_lock(&rp->lock);
				rp->sentinel_next = idx;
				pthread_mutex_unlock(&rp->lock);
				return conn;
			}
			redis_conn_free(&conn);
		}
		/* Say what went wrong with each, in the order tried. */
		if (used < sizeof(errors)) {
			int w = snprintf(errors + used, sizeof(errors) - used, "%s%s",
					 used > 0 ? "; " : "", error);

			used += w > 0 ? (size_t)w : 0;
		}
		if (redis_conn_call_budget(call, 1) == 0)
			break;
	}
	*error_r = redis_error("no master for '%s' from %d sentinel(s): %s", rp->dataset,
			       rp->n_sentinels, errors);
	return NULL;
}
