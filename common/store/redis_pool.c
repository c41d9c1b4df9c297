/*
 * NAME
 *	redis_pool - the Redis engine's pool of connections, its scripts and routing
 * SUMMARY
 *	redis_pool_open() copies the settings and connects once;
 *	redis_pool_exec() runs one command or script on a pooled connection;
 *	redis_pool_pipeline() sends several plain commands in one round trip;
 *	redis_pool_defer() (redis_later.c) sends a script call with a later command.
 * DESCRIPTION
 *	Scripts.  Each script the pool is given is sent with EVALSHA; its SHA1
 *	comes from SCRIPT LOAD (at open, and whenever it is unknown), and a
 *	NOSCRIPT reply (SCRIPT FLUSH, restart, failover) loads it again and
 *	retries once.
 *
 *	Pool.  Up to redis.pool_size (0: CONFIG_REDIS_POOL_SIZE_DEFAULT) idle
 *	connections are kept in a mutex-protected stack.  A caller takes one
 *	or, when none is idle, opens a new one; it never waits for another
 *	thread.  Giving a connection back to a full pool closes it, so a
 *	burst beyond pool_size costs extra connects but no waiting.  A
 *	connection that failed (I/O error, timeout) is freed, and every
 *	pooled connection is retired with it (a generation counter), so the
 *	next call reconnects; an idle connection the server closed is noticed
 *	with a zero-timeout poll(2) when it is taken.  An ordinary error reply
 *	(WRONGTYPE...) leaves the connection in the pool.
 *
 *	Open.  redis_pool_open() connects once (address, AUTH, SELECT, ROLE,
 *	SCRIPT LOAD), so a wrong setting or an unreachable server is reported
 *	at start-up rather than on the first message.
 *
 *	Sentinel.  A new connection asks each sentinel in turn (starting with
 *	the last one that answered) for SENTINEL get-master-addr-by-name,
 *	connects to that address, authenticates, selects the database and
 *	checks with ROLE that the server is a master; a sentinel whose answer
 *	fails moves on to the next.  A READONLY, LOADING or MASTERDOWN reply
 *	retires the pool and the call is retried once on a freshly discovered
 *	master (these replies mean the command was not executed).  An I/O
 *	error is never retried: the script may have run.  The discovery is
 *	redis_sentinel.c's (redis_conn-private.h holds what the two share).
 *
 *	Deferred calls (store.redis.defer_commit: the quota's commit).
 *	redis_pool_defer() formats the call and appends it to a pooled
 *	connection's hiredis output buffer without writing it, and gives the
 *	connection back; the next pipeline on that connection (any caller's,
 *	and the pool is a LIFO stack, so under load the next call) writes it in
 *	the same write as its own commands and reads its reply first
 *	(redis_conn.c).  So the commit costs no round trip of its own.  A
 *	connection left idle with deferred calls is flushed by the pool's
 *	flusher thread (started at the first deferral) once they have waited
 *	later_ms (REDIS_LATER_MS, 10 ms).  A deferred call whose reply is an
 *	error (NOSCRIPT: loaded again first; READONLY after a failover) or
 *	never came (the connection broke or was dropped as stale) moves to the
 *	pool's redo list, which the flusher sends again on another connection,
 *	backing off from 100 ms to 2 s while the server is away, until it runs
 *	or REDIS_LATER_GIVEUP_MS (a minute, or half of quota.reservation_ttl
 *	when that is shorter) has passed since it was deferred; what is
 *	given up (or still waiting at close, which flushes everything once) is
 *	counted and logged.  Sending a commit twice is harmless: the second
 *	finds no reservation and changes nothing.  Never with WAIT
 *	(wait_replicas) or a cluster: there the call runs at once.
 *
 *	Cluster.  With store.redis.cluster, redis_pool_open() hands the
 *	settings to redis_cluster.c, and redis_pool_exec and
 *	redis_pool_pipeline go through it: it keeps one pool of this file per
 *	node (redis_pool_node), and runs each command on the right node with
 *	redis_pool_node_exec, which returns MOVED, ASK, TRYAGAIN and
 *	CLUSTERDOWN answers to it instead of failing, and sends ASKING first
 *	when asked to.
 * DIAGNOSTICS
 *	Failures return NULL (or -1 from redis_pool_open) with *error_r
 *	pointing to a thread-local buffer that names the server and the
 *	failing step, valid until the next call from the same thread.
 *	Nothing is fatal except out-of-memory (xalloc).
 */
#include "autoconf.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "base/config.h"
#include "base/hostport.h"
#include "base/metrics.h"
#include "base/xalloc.h"
#include "store/redis_cluster.h"
#include "store/redis_conn.h"
#include "store/redis_conn-private.h"

/* conn_open - open and prepare a new connection to the master */
static struct redis_conn *conn_open(struct redis_pool *rp, const struct redis_call *call,
				    uint64_t generation, const char **error_r)
{
	struct redis_conn *conn;

	if (rp->n_sentinels > 0) {
		conn = redis_sentinel_open(rp, call, error_r);
	} else {
		conn = redis_conn_connect(rp, call, "redis", rp->host, rp->port, rp->socket,
					  error_r);
		if (conn != NULL && redis_conn_setup(rp, conn, call, error_r) < 0)
			redis_conn_free(&conn);
	}
	if (conn != NULL) {
		conn->generation = generation;
		if (__atomic_exchange_n(&rp->lost, false, __ATOMIC_ACQ_REL))
			metrics_backend(METRICS_BACKEND_STORE, METRICS_BACKEND_RECONNECT);
	}
	return conn;
}

/* conn_is_idle_ok - false when the server closed or wrote to an idle connection */
static bool conn_is_idle_ok(const struct redis_conn *conn)
{
	struct pollfd pfd;

	pfd.fd = conn->ctx->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 0;
}

/* redis_pool_take - an idle connection of the current generation, or a new one */
struct redis_conn *redis_pool_take(struct redis_pool *rp, const struct redis_call *call,
				    const char **error_r)
{
	struct redis_conn *conn;
	uint64_t generation;

	for (;;) {
		pthread_mutex_lock(&rp->lock);
		conn = rp->idle;
		if (conn != NULL) {
			rp->idle = conn->next;
			rp->n_idle--;
			conn->next = NULL;
		}
		generation = rp->generation;
		pthread_mutex_unlock(&rp->lock);
		if (conn == NULL)
			break;
		if (conn->generation == generation && conn_is_idle_ok(conn))
			return conn;
		redis_pool_drop(rp, &conn);
	}
	return conn_open(rp, call, generation, error_r);
}

/*
 * redis_pool_later_keep - under rp->lock: add l (its command now the pool's) to the
 * calls the flusher sends again; one deferred REDIS_LATER_GIVEUP_MS ago,
 * or one more than a full list holds, is given up (counted, logged later)
 */
void redis_pool_later_keep(struct redis_pool *rp, struct redis_later *l)
{
	if (redis_mono_ms() - l->since > rp->giveup_ms) {
		rp->n_lost++;
		free(l->cmd);
		l->cmd = NULL;
		return;
	}
	if (rp->n_redo == rp->redo_size && rp->redo_size < REDIS_REDO_MAX) {
		rp->redo_size = rp->redo_size ? rp->redo_size * 2 : 16;
		rp->redo = xrealloc(rp->redo, rp->redo_size * sizeof(*rp->redo));
	}
	if (rp->n_redo < rp->redo_size) {
		rp->redo[rp->n_redo++] = *l;
		pthread_cond_signal(&rp->wake);
	} else {
		rp->n_lost++;
		free(l->cmd);
	}
	l->cmd = NULL;
}

/*
 * redis_pool_later_collect - under rp->lock: conn's calls to send again (redo), and,
 * when conn is about to be freed (all), its unsent ones, into the pool's
 */
void redis_pool_later_collect(struct redis_pool *rp, struct redis_conn *conn, bool all)
{
	size_t i;

	for (i = 0; i < conn->n_redo; i++)
		redis_pool_later_keep(rp, &conn->redo[i]);
	conn->n_redo = 0;
	if (!all)
		return;
	for (i = 0; i < conn->n_later; i++)
		redis_pool_later_keep(rp, &conn->later[i]);
	conn->n_later = 0;
}

/* redis_pool_drop - free a connection of the pool, keeping its deferred calls for the flusher */
void redis_pool_drop(struct redis_pool *rp, struct redis_conn **conn)
{
	if (*conn == NULL)
		return;
	if ((*conn)->n_redo > 0 || (*conn)->n_later > 0) {
		pthread_mutex_lock(&rp->lock);
		redis_pool_later_collect(rp, *conn, true);
		pthread_mutex_unlock(&rp->lock);
	}
	redis_conn_free(conn);
}

/* redis_pool_give - return a connection to the pool, or close it when stale or the pool is full */
void redis_pool_give(struct redis_pool *rp, struct redis_conn **conn)
{
	pthread_mutex_lock(&rp->lock);
	if ((*conn)->generation == rp->generation && rp->n_idle < rp->pool_size) {
		redis_pool_later_collect(rp, *conn, false);
		if ((*conn)->n_later > 0 && (*conn)->later_since + rp->later_ms < rp->flusher_due)
			pthread_cond_signal(&rp->wake);	/* due before the flusher wakes */
		(*conn)->next = rp->idle;
		rp->idle = *conn;
		rp->n_idle++;
		*conn = NULL;
	} else {
		redis_pool_later_collect(rp, *conn, true);
	}
	pthread_mutex_unlock(&rp->lock);
	redis_conn_free(conn);
}

/* pool_retire - close every idle connection and mark the busy ones stale */
static void pool_retire(struct redis_pool *rp)
{
	struct redis_conn *list, *next;

	pthread_mutex_lock(&rp->lock);
	list = rp->idle;
	rp->idle = NULL;
	rp->n_idle = 0;
	rp->generation++;
	for (next = list; next != NULL; next = next->next)
		redis_pool_later_collect(rp, next, true);
	pthread_mutex_unlock(&rp->lock);
	for (; list != NULL; list = next) {
		next = list->next;
		redis_conn_free(&list);
	}
}

/* redis_pool_lose - retire the pool after a failure: the next connection opened is a reconnect */
void redis_pool_lose(struct redis_pool *rp)
{
	__atomic_store_n(&rp->lost, true, __ATOMIC_RELEASE);
	pool_retire(rp);
}

/* redis_pool_script_load - SCRIPT LOAD script `which` on conn and remember its SHA1 */
int redis_pool_script_load(struct redis_pool *rp, struct redis_conn *conn,
		       const struct redis_call *call, int which, char sha[41],
		       const char **error_r)
{
	const char *argv[] = { "SCRIPT", "LOAD", rp->scripts[which].text };
	size_t lens[] = { 6, 4, rp->scripts[which].len };
	redisReply *reply;

	reply = redis_conn_command(conn, call, 3, argv, lens, error_r);
	if (reply == NULL)
		return -1;
	if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
		/* An error reply leaves the connection usable; -2 says so. */
		int ret = reply->type == REDIS_REPLY_ERROR ? -2 : -1;

		*error_r = redis_error("redis %s: SCRIPT LOAD %s: %s", conn->addr,
				       rp->scripts[which].name,
				       reply->type == REDIS_REPLY_ERROR ? reply->str
									 : "unexpected reply");
		freeReplyObject(reply);
		return ret;
	}
	memcpy(sha, reply->str, 41);
	freeReplyObject(reply);
	pthread_mutex_lock(&rp->lock);
	memcpy(rp->sha[which], sha, 41);
	pthread_mutex_unlock(&rp->lock);
	return 0;
}

/*
 * conn_asking - ASKING then the command, in one round trip (a cluster's
 * ASK redirection: the command runs on the importing node once); the
 * command's reply, or NULL on an I/O error or a refused ASKING
 */
static redisReply *conn_asking(struct redis_conn *conn, const struct redis_call *call, int argc,
			       const char **argv, const size_t *lens, const char **error_r)
{
	const char *aargv[] = { "ASKING" };
	const size_t alens[] = { 6 };
	const char *const *argvs[2] = { aargv, argv };
	const size_t *lenss[2] = { alens, lens };
	int argcs[2] = { 1, argc };
	redisReply *replies[2];

	if (redis_conn_pipeline(conn, call, 2, argcs, argvs, lenss, replies, error_r) < 0)
		return NULL;
	if (replies[0]->type == REDIS_REPLY_ERROR) {
		*error_r = redis_error("redis %s: ASKING: %s", conn->addr, replies[0]->str);
		freeReplyObject(replies[0]);
		freeReplyObject(replies[1]);
		return NULL;
	}
	freeReplyObject(replies[0]);
	return replies[1];
}

/*
 * pool_exec - redis_pool_exec on one pool within call's deadline; with
 * asking, each command is preceded by ASKING.  A node's pool (rp->node)
 * hands a cluster answer (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) back as it
 * is, for redis_cluster.c to follow.
 */
static redisReply *pool_exec(struct redis_pool *rp, struct redis_call *call, int script,
			     bool asking, int argc, const char **argv, size_t *lens,
			     const char **error_r)
{
	struct redis_conn *conn;
	redisReply *reply;
	bool noscript_retried = false, failover_retried = false;
	char sha[41];

	if (script >= rp->n_scripts) {
		*error_r = "redis: no such script";
		return NULL;
	}
	for (;;) {
		conn = redis_pool_take(rp, call, error_r);
		if (conn == NULL) {
			/* Nothing pooled is worth keeping if a new connection fails. */
			redis_pool_lose(rp);
			return NULL;
		}
		if (script != REDIS_SCRIPT_NONE) {
			pthread_mutex_lock(&rp->lock);
			memcpy(sha, rp->sha[script], sizeof(sha));
			pthread_mutex_unlock(&rp->lock);
			if (sha[0] == '\0') {
				int r = redis_pool_script_load(rp, conn, call, script, sha, error_r);

				if (r == -1) {
					redis_pool_drop(rp, &conn);
					redis_pool_lose(rp);
					return NULL;
				}
				if (r == -2) {
					redis_pool_give(rp, &conn);
					return NULL;
				}
			}
			argv[1] = sha;
			lens[1] = 40;
		}
		if (asking)
			reply = conn_asking(conn, call, argc, argv, lens, error_r);
		else if (script != REDIS_SCRIPT_NONE && rp->wait_replicas > 0)
			reply = redis_conn_script_wait(conn, call, argc, argv, lens, error_r);
		else
			reply = redis_conn_command(conn, call, argc, argv, lens, error_r);
		if (reply == NULL && *error_r == redis_conn_wait_short) {
			/* The script ran and the connection is sound: only the replicas lag. */
			redis_pool_give(rp, &conn);
			*error_r = redis_errbuf;
			return NULL;
		}
		if (reply == NULL) {
			/* Unknown whether it ran: no retry; reconnect next time. */
			redis_pool_drop(rp, &conn);
			redis_pool_lose(rp);
			return NULL;
		}
		switch (redis_conn_reply_kind(reply)) {
		case REPLY_OK:
			redis_pool_give(rp, &conn);
			return reply;
		case REPLY_NOSCRIPT:
			if (script != REDIS_SCRIPT_NONE && !noscript_retried) {
				noscript_retried = true;
				freeReplyObject(reply);
				pthread_mutex_lock(&rp->lock);
				rp->sha[script][0] = '\0';
				pthread_mutex_unlock(&rp->lock);
				redis_pool_give(rp, &conn);
				continue;
			}
			break;
		case REPLY_FAILOVER:
			if (rp->n_sentinels > 0 && !failover_retried &&
			    redis_conn_call_budget(call, 1) > 0) {
				failover_retried = true;
				freeReplyObject(reply);
				redis_pool_drop(rp, &conn);
				redis_pool_lose(rp);
				continue;
			}
			*error_r = redis_error("redis %s: %.*s: %s", conn->addr, (int)lens[0],
					       argv[0], reply->str);
			freeReplyObject(reply);
			redis_pool_drop(rp, &conn);
			redis_pool_lose(rp);
			return NULL;
		case REPLY_CLUSTER:
			if (rp->node) {
				/* not executed: redis_cluster.c follows it */
				redis_pool_give(rp, &conn);
				return reply;
			}
			break;
		case REPLY_OTHER_ERROR:
			break;
		}
		*error_r = redis_error("redis %s: %.*s: %s", conn->addr, (int)lens[0], argv[0],
				       reply->str);
		freeReplyObject(reply);
		redis_pool_give(rp, &conn);
		return NULL;
	}
}

redisReply *redis_pool_exec(struct redis_pool *rp, int script, int argc, const char **argv,
			    size_t *lens, const char **error_r)
{
	struct redis_call call;

	if (rp->cluster != NULL)
		return redis_cluster_exec(rp->cluster, script, argc, argv, lens, error_r);
	redis_conn_call_init(&call, rp);
	return pool_exec(rp, &call, script, false, argc, argv, lens, error_r);
}

redisReply *redis_pool_node_exec(struct redis_pool *node, int64_t deadline_ms, int script,
				 bool asking, int argc, const char **argv, size_t *lens,
				 const char **error_r)
{
	struct redis_call call = { node, deadline_ms };

	return pool_exec(node, &call, script, asking, argc, argv, lens, error_r);
}

/*
 * pool_pipeline - redis_pool_pipeline on one pool within call's deadline;
 * -2 (replies freed, *error_r set) when a node's pool got a cluster answer
 */
static int pool_pipeline(struct redis_pool *rp, struct redis_call *call, size_t n,
			 const int *argcs, const char *const *const *argvs,
			 const size_t *const *lenss, redisReply **replies, const char **error_r)
{
	struct redis_conn *conn;
	size_t i;
	int ret = -1;

	conn = redis_pool_take(rp, call, error_r);
	if (conn == NULL) {
		redis_pool_lose(rp);
		return -1;
	}
	if (redis_conn_pipeline(conn, call, n, argcs, argvs, lenss, replies, error_r) < 0) {
		redis_pool_drop(rp, &conn);
		redis_pool_lose(rp);
		return -1;
	}
	for (i = 0; i < n; i++) {
		enum redis_reply_kind kind = redis_conn_reply_kind(replies[i]);

		if (kind == REPLY_OK)
			continue;
		*error_r = redis_error("redis %s: %.*s: %s", conn->addr, (int)lenss[i][0],
				       argvs[i][0], replies[i]->str);
		if (kind == REPLY_FAILOVER) {
			redis_pool_drop(rp, &conn);
			redis_pool_lose(rp);
		} else {
			if (kind == REPLY_CLUSTER && rp->node)
				ret = -2;
			redis_pool_give(rp, &conn);
		}
		for (i = 0; i < n; i++) {
			freeReplyObject(replies[i]);
			replies[i] = NULL;
		}
		return ret;
	}
	redis_pool_give(rp, &conn);
	return 0;
}

int redis_pool_pipeline(struct redis_pool *rp, size_t n, const int *argcs,
			const char *const *const *argvs, const size_t *const *lenss,
			redisReply **replies, const char **error_r)
{
	struct redis_call call;

	if (rp->cluster != NULL)
		return redis_cluster_pipeline(rp->cluster, n, argcs, argvs, lenss, replies,
					      error_r);
	redis_conn_call_init(&call, rp);
	return pool_pipeline(rp, &call, n, argcs, argvs, lenss, replies, error_r);
}

int redis_pool_node_pipeline(struct redis_pool *node, int64_t deadline_ms, size_t n,
			     const int *argcs, const char *const *const *argvs,
			     const size_t *const *lenss, redisReply **replies,
			     const char **error_r)
{
	struct redis_call call = { node, deadline_ms };

	return pool_pipeline(node, &call, n, argcs, argvs, lenss, replies, error_r);
}

size_t redis_pool_masters(struct redis_pool *rp, const char **error_r)
{
	if (rp->cluster != NULL)
		return redis_cluster_masters(rp->cluster, error_r);
	return 1;
}

redisReply *redis_pool_exec_master(struct redis_pool *rp, size_t i, int argc, const char **argv,
				   size_t *lens, const char **error_r)
{
	if (rp->cluster != NULL)
		return redis_cluster_exec_master(rp->cluster, i, argc, argv, lens, error_r);
	return redis_pool_exec(rp, REDIS_SCRIPT_NONE, argc, argv, lens, error_r);
}

int64_t redis_pool_deadline(const struct redis_pool *rp)
{
	return redis_mono_ms() + rp->connect_timeout_ms + rp->command_timeout_ms;
}

/* pool_init_locks - the pool's mutex, and the flusher's condition on the monotonic clock */
static void pool_init_locks(struct redis_pool *rp)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&rp->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&rp->wake, &attr);
	pthread_condattr_destroy(&attr);
}

struct redis_pool *redis_pool_node(const struct redis_pool *owner, const char *host, int port)
{
	struct redis_pool *rp = xcalloc(1, sizeof(*rp));

	pool_init_locks(rp);
	rp->scripts = owner->scripts;
	rp->n_scripts = owner->n_scripts;
	rp->pool_size = owner->pool_size;
	rp->host = xstrdup(host);
	rp->port = port;
	rp->username = owner->username != NULL ? xstrdup(owner->username) : NULL;
	rp->password = owner->password != NULL ? xstrdup(owner->password) : NULL;
	rp->connect_timeout_ms = owner->connect_timeout_ms;
	rp->command_timeout_ms = owner->command_timeout_ms;
	rp->wait_replicas = owner->wait_replicas;
	rp->node = true;
	return rp;
}

/* nonempty_dup - a copy of s, or NULL when s is NULL or "" */
static char *nonempty_dup(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

void redis_pool_close(struct redis_pool **pool)
{
	struct redis_pool *rp = *pool;
	bool started;

	if (rp == NULL)
		return;
	*pool = NULL;
	redis_cluster_close(&rp->cluster);
	pthread_mutex_lock(&rp->lock);
	rp->stopping = true;
	started = rp->flusher_started;
	pthread_cond_signal(&rp->wake);
	pthread_mutex_unlock(&rp->lock);
	if (started)
		pthread_join(rp->flusher, NULL);
	if (rp->defer) {
		/* what waits goes out now; what the server does not take is given up */
		rp->redo_after = 0;
		redis_pool_flush_idle(rp, true);
		/* what failed in that pass (a connection the server had closed): once more */
		rp->redo_after = 0;
		redis_pool_flush_idle(rp, true);
	}
	pool_retire(rp);
	for (size_t i = 0; i < rp->n_redo; i++)
		free(rp->redo[i].cmd);
	rp->n_lost += rp->n_redo;
	free(rp->redo);
	rp->n_redo = 0;
	redis_pool_lost_log(rp, "the store could not run them before it closed");
	pthread_cond_destroy(&rp->wake);
	pthread_mutex_destroy(&rp->lock);
	XFREE(rp->host);
	XFREE(rp->socket);
	XFREE(rp->username);
	if (rp->password != NULL) {
		/* Do not leave the secret in freed memory. */
		memset(rp->password, 0, strlen(rp->password));
		XFREE(rp->password);
	}
	XFREE(rp->dataset);
	free(rp);
}

int redis_pool_open(const struct config *config, const struct redis_script *scripts,
		    int n_scripts, struct redis_pool **pool_r, const char **error_r)
{
	struct redis_pool *rp;
	struct redis_call call;
	struct redis_conn *conn;
	const char *why;
	char sha[41];
	int i, r;

	if (n_scripts < 0 || n_scripts > REDIS_POOL_SCRIPTS_MAX) {
		*error_r = "redis: too many scripts";
		return -1;
	}
	rp = xcalloc(1, sizeof(*rp));
	pool_init_locks(rp);
	rp->scripts = scripts;
	rp->n_scripts = n_scripts;
	rp->pool_size = config->redis_pool_size > 0 ? config->redis_pool_size
						    : CONFIG_REDIS_POOL_SIZE_DEFAULT;
	rp->host = xstrdup(config->redis_server != NULL && config->redis_server[0] != '\0'
				   ? config->redis_server
				   : CONFIG_REDIS_SERVER_DEFAULT);
	rp->port = config->redis_port > 0 ? config->redis_port : CONFIG_REDIS_PORT_DEFAULT;
	rp->socket = nonempty_dup(config->redis_socket);
	rp->username = nonempty_dup(config->redis_username);
	rp->password = nonempty_dup(config->redis_password);
	rp->db = config->redis_db;
	rp->connect_timeout_ms = config->redis_connect_timeout_ms > 0
					 ? config->redis_connect_timeout_ms
					 : CONFIG_REDIS_TIMEOUT_MS_DEFAULT;
	rp->command_timeout_ms = config->redis_command_timeout_ms > 0
					 ? config->redis_command_timeout_ms
					 : CONFIG_REDIS_TIMEOUT_MS_DEFAULT;
	rp->wait_replicas = config->redis_wait_replicas;
	/* WAIT acknowledges what a call wrote: it must not be sent later */
	rp->defer = config->redis_defer_commit && rp->wait_replicas == 0;
	rp->later_ms = config->redis_defer_ms > 0 ? config->redis_defer_ms : REDIS_LATER_MS;
	/* a resend after the reservation expired would count nothing, silently */
	rp->giveup_ms = REDIS_LATER_GIVEUP_MS;
	if (config->quota_reservation_ttl > 0 &&
	    (int64_t)config->quota_reservation_ttl * 500 < rp->giveup_ms)
		rp->giveup_ms = (int64_t)config->quota_reservation_ttl * 500;
	rp->flusher_due = INT64_MAX;
	for (i = 0; i < config->n_redis_sentinel_servers && i < CONFIG_LIST_MAX; i++) {
		/* config_load has checked them: this only splits, or catches a hand-made config */
		if (hostport_parse(config->redis_sentinel_servers[i],
				   &rp->sentinels[rp->n_sentinels], &why) < 0) {
			*error_r = redis_error("redis: sentinel server '%s' is not host:port",
					       config->redis_sentinel_servers[i]);
			redis_pool_close(&rp);
			return -1;
		}
		rp->n_sentinels++;
	}
	rp->dataset = nonempty_dup(config->redis_sentinel_dataset);
	if (rp->n_sentinels > 0 && rp->dataset == NULL) {
		*error_r = "redis: sentinel_servers is set but sentinel_dataset is empty";
		redis_pool_close(&rp);
		return -1;
	}
	if (rp->db < 0) {
		*error_r = redis_error("redis: db %d is negative", rp->db);
		redis_pool_close(&rp);
		return -1;
	}

	if (config->n_redis_cluster > 0) {
		/* the cluster's seeds: its own pools connect, and load the scripts */
		if (redis_cluster_open(rp, config, &rp->cluster, error_r) < 0) {
			redis_pool_close(&rp);
			return -1;
		}
		*pool_r = rp;
		return 0;
	}

	/* Connect once now, so that a wrong address, password or db shows at start-up. */
	redis_conn_call_init(&call, rp);
	conn = conn_open(rp, &call, 0, error_r);
	if (conn == NULL) {
		redis_pool_close(&rp);
		return -1;
	}
	for (r = 0, i = 0; i < n_scripts && r == 0; i++)
		r = redis_pool_script_load(rp, conn, &call, i, sha, error_r);
	if (r < 0) {
		redis_conn_free(&conn);
		redis_pool_close(&rp);
		return -1;
	}
	redis_pool_give(rp, &conn);
	*pool_r = rp;
	return 0;
}
