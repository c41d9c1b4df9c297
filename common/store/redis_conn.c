/*
 * NAME
 *	redis_conn - one connection of the Redis engine: connect, commands, deadlines
 * SUMMARY
 *	redis_conn_connect() and redis_conn_setup() open one; redis_conn_command()
 *	and the pipelines send on it within a call's deadline; redis_error()
 *	and redis_mono_ms() serve the whole engine.
 * DESCRIPTION
 *	redis_pool.c keeps a pool of these connections and the scripts;
 *	redis_sentinel.c finds the master behind Sentinel (redis_conn-private.h
 *	holds what the three share).
 *
 *	Time.  Every redis_pool_exec call has one deadline of
 *	connect_timeout_ms + command_timeout_ms from its start (0:
 *	CONFIG_REDIS_TIMEOUT_MS_DEFAULT); each connect waits at most
 *	min(connect_timeout_ms, time left) and each command at most
 *	min(command_timeout_ms, time left), Sentinel discovery and retries
 *	included.  (Host names are resolved by getaddrinfo without a timeout:
 *	use addresses.)  The socket's send and receive timeouts are set only
 *	when a command's budget differs from the one the connection has (a
 *	pooled connection keeps command_timeout_ms: no system call per
 *	command).  A write to a socket the server closed must not kill the
 *	process: unless SIGPIPE is ignored process-wide (chapps-milter,
 *	chapps-api; once seen ignored it is assumed to stay so), it is
 *	blocked in the calling thread around each command and a pending one
 *	is consumed.
 *
 *	Metrics: a deadline reached (before sending, or waiting for a reply
 *	or a connect) counts as a store timeout; the first connection opened
 *	after a failure retired the pool counts as a reconnect.
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

__thread char redis_errbuf[REDIS_ERROR_MAX];

const char *redis_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(redis_errbuf, sizeof(redis_errbuf), fmt, ap);
	va_end(ap);
	return redis_errbuf;
}

int64_t redis_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* redis_conn_call_init - start a call: its deadline covers one connect and one command budget */
void redis_conn_call_init(struct redis_call *call, struct redis_pool *rp)
{
	call->rp = rp;
	call->deadline_ms = redis_mono_ms() + rp->connect_timeout_ms + rp->command_timeout_ms;
}

/* redis_conn_call_budget - min(step_ms, time left), or 0 when the deadline has passed */
int redis_conn_call_budget(const struct redis_call *call, int step_ms)
{
	int64_t left = call->deadline_ms - redis_mono_ms();

	if (left <= 0)
		return 0;
	return left < step_ms ? (int)left : step_ms;
}

/* ms_timeval - a timeval of ms milliseconds */
static struct timeval ms_timeval(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}


/* redis_conn_free - close a connection and NULL the pointer */
void redis_conn_free(struct redis_conn **conn)
{
	size_t i;

	if (*conn == NULL)
		return;
	for (i = 0; i < (*conn)->n_later; i++)
		free((*conn)->later[i].cmd);
	for (i = 0; i < (*conn)->n_redo; i++)
		free((*conn)->redo[i].cmd);
	if ((*conn)->ctx != NULL)
		redisFree((*conn)->ctx);
	free(*conn);
	*conn = NULL;
}

int redis_conn_defer(struct redis_conn *conn, char *cmd, size_t len, int script, int64_t since)
{
	struct redis_later *l;
	int64_t now;

	/* every deferred call may end in redo[]: the two together stay within its size */
	if (conn->n_later + conn->n_redo >= REDIS_LATER_MAX ||
	    redisAppendFormattedCommand(conn->ctx, cmd, len) != REDIS_OK)
		return -1;
	now = redis_mono_ms();
	if (conn->n_later == 0)
		conn->later_since = now;
	l = &conn->later[conn->n_later++];
	l->cmd = cmd;
	l->len = len;
	l->script = script;
	l->since = since != 0 ? since : now;
	l->noscript = false;
	return 0;
}

/*
 * later_done - the deferred call i got reply (NULL: none came): forget it
 * when it ran, else move it to the connection's redo list for the pool
 */
static void later_done(struct redis_conn *conn, size_t i, const redisReply *reply)
{
	struct redis_later *l = &conn->later[i];

	if (reply != NULL && reply->type != REDIS_REPLY_ERROR) {
		free(l->cmd);
		l->cmd = NULL;
		return;
	}
	l->noscript = reply != NULL && redis_conn_reply_kind(reply) == REPLY_NOSCRIPT;
	conn->redo[conn->n_redo++] = *l;	/* n_redo + n_later <= REDIS_LATER_MAX */
	l->cmd = NULL;
}

/* ctx_error - describe a context's I/O error, naming a timeout as such */
static const char *ctx_error(const redisContext *ctx, int saved_errno, int timeout_ms)
{
	static __thread char buf[160];

	if (ctx->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
		snprintf(buf, sizeof(buf), "timed out after %d ms", timeout_ms);
		return buf;
	}
	if (ctx->err == REDIS_ERR_EOF)
		return "connection closed by server";
	snprintf(buf, sizeof(buf), "%s", ctx->errstr[0] != '\0' ? ctx->errstr : "I/O error");
	return buf;
}

/*
 * sigpipe_ignored - is SIGPIPE ignored process-wide?  Asked of the kernel
 * until the answer is yes, then remembered (chapps-milter and chapps-api
 * ignore it for good), so that the guard below costs nothing per command.
 */
static bool sigpipe_ignored(void)
{
	static bool ignored;	/* atomic */
	struct sigaction sa;

	if (__atomic_load_n(&ignored, __ATOMIC_RELAXED))
		return true;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
	    sa.sa_handler == SIG_IGN) {
		__atomic_store_n(&ignored, true, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

/*
 * redis_conn_pipeline - send n commands at once and read their n replies within
 * the call's deadline (one round trip); replies[0..n) are set, or NULL is
 * returned for all on an I/O error.  Returns 0 or -1 with *error_r.
 */
int redis_conn_pipeline(struct redis_conn *conn, const struct redis_call *call, size_t n,
			const int *argcs, const char *const *const *argvs,
			const size_t *const *lenss, redisReply **replies, const char **error_r)
{
	sigset_t pipeset, oldset, pending;
	bool guard, was_pending = false, later_failed = false;
	int budget, saved_errno, rc = REDIS_OK;
	size_t i, got = 0, nl = conn->n_later, done = 0;
	/* what an error names: the first command, or the deferred calls ahead of it */
	int name_len = n > 0 ? (int)lenss[0][0] : 8;
	const char *name = n > 0 ? argvs[0][0] : "deferred";

	for (i = 0; i < n; i++)
		replies[i] = NULL;
	if (n == 0 && nl == 0)
		return 0;
	budget = redis_conn_call_budget(call, call->rp->command_timeout_ms);
	if (budget == 0) {
		metrics_backend(METRICS_BACKEND_STORE, METRICS_BACKEND_TIMEOUT);
		*error_r = redis_error("redis %s: %.*s: deadline exceeded before sending",
				       conn->addr, name_len, name);
		return -1;
	}
	/* the socket keeps its timeouts: set them only when the budget changes */
	if (budget != conn->timeout_ms) {
		if (redisSetTimeout(conn->ctx, ms_timeval(budget)) != REDIS_OK) {
			conn->timeout_ms = -1;
			*error_r = redis_error("redis %s: setting timeout: %s", conn->addr,
					       conn->ctx->errstr);
			return -1;
		}
		conn->timeout_ms = budget;
	}

	/* A write to a closed socket must fail with EPIPE, not kill us. */
	guard = !sigpipe_ignored();
	if (guard) {
		sigemptyset(&pipeset);
		sigaddset(&pipeset, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &pipeset, &oldset);
		sigpending(&pending);
		was_pending = sigismember(&pending, SIGPIPE);
	}

	errno = 0;
	for (i = 0; i < n && rc == REDIS_OK; i++)
		rc = redisAppendCommandArgv(conn->ctx, argcs[i], (const char **)argvs[i],
					    lenss[i]);
	/* the deferred calls went out first (one write with ours): their replies first */
	for (; done < nl && rc == REDIS_OK; done++) {
		void *reply = NULL;

		rc = redisGetReply(conn->ctx, &reply);
		if (rc == REDIS_OK && reply == NULL)
			rc = REDIS_ERR;
		if (rc == REDIS_OK)
			later_done(conn, done, reply);
		freeReplyObject(reply);
	}
	if (rc != REDIS_OK) {
		/* unanswered: whether they ran is unknown (a commit sent again is harmless) */
		later_failed = nl > 0;
		for (i = 0; i < nl; i++)
			if (conn->later[i].cmd != NULL)
				later_done(conn, i, NULL);
	}
	conn->n_later = 0;
	for (; got < n && rc == REDIS_OK; got++) {
		void *reply = NULL;

		rc = redisGetReply(conn->ctx, &reply);
		replies[got] = reply;
		if (rc == REDIS_OK && reply == NULL)
			rc = REDIS_ERR;
	}
	saved_errno = errno;

	if (guard) {
		if (!was_pending) {
			sigpending(&pending);
			if (sigismember(&pending, SIGPIPE)) {
				struct timespec zero = { 0, 0 };

				sigtimedwait(&pipeset, NULL, &zero);
			}
		}
		pthread_sigmask(SIG_SETMASK, &oldset, NULL);
	}

	if (rc != REDIS_OK) {
		size_t bad = got > 0 ? got - 1 : 0;

		for (i = 0; i < n; i++)
			if (replies[i] != NULL) {
				freeReplyObject(replies[i]);
				replies[i] = NULL;
			}
		if (conn->ctx->err == REDIS_ERR_IO &&
		    (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
			metrics_backend(METRICS_BACKEND_STORE, METRICS_BACKEND_TIMEOUT);
		if (n > 0 && !later_failed) {
			name_len = (int)lenss[bad][0];
			name = argvs[bad][0];
		}
		*error_r = redis_error("redis %s: %.*s: %s", conn->addr, name_len, name,
				       ctx_error(conn->ctx, saved_errno, budget));
		return -1;
	}
	return 0;
}

/* redis_conn_command - run one command within the call's deadline; NULL on I/O error */
redisReply *redis_conn_command(struct redis_conn *conn, const struct redis_call *call, int argc,
			       const char **argv, const size_t *lens, const char **error_r)
{
	const char *const *argvs[1] = { argv };
	const size_t *lenss[1] = { lens };
	redisReply *reply;

	if (redis_conn_pipeline(conn, call, 1, &argc, argvs, lenss, &reply, error_r) < 0)
		return NULL;
	return reply;
}

/* redis_conn_wait_short - marks a script_wait failure that leaves the connection usable */
const char redis_conn_wait_short[] = "wait";

/*
 * redis_conn_script_wait - the script and WAIT in one round trip: the script's
 * reply once pool.wait_replicas replicas hold its writes.  WAIT gets what
 * is left of the call's command budget less 150 ms (half of it when that
 * is short; at least 1 ms: 0 would block for ever), so that its own
 * timeout reply arrives before the socket's.  Fewer replicas in time:
 * NULL with *error_r == redis_conn_wait_short and the message in
 * redis_errbuf (the script ran: its writes are on the master).
 */
redisReply *redis_conn_script_wait(struct redis_conn *conn, const struct redis_call *call,
				   int argc, const char **argv, const size_t *lens,
				   const char **error_r)
{
	char want[12], ms[24];
	int budget = redis_conn_call_budget(call, call->rp->command_timeout_ms);
	/* Redis ends a blocked WAIT on its event loop's tick (up to 100 ms late) */
	int wait_ms = budget > 300 ? budget - 150 : (budget > 1 ? budget / 2 : 1);
	const char *wargv[] = { "WAIT", want, ms };
	size_t wlens[] = { 4, 0, 0 };
	const char *const *argvs[2] = { argv, wargv };
	const size_t *lenss[2] = { lens, wlens };
	int argcs[2] = { argc, 3 };
	redisReply *replies[2];

	wlens[1] = (size_t)snprintf(want, sizeof(want), "%d", call->rp->wait_replicas);
	wlens[2] = (size_t)snprintf(ms, sizeof(ms), "%d", wait_ms);
	if (redis_conn_pipeline(conn, call, 2, argcs, argvs, lenss, replies, error_r) < 0)
		return NULL;
	if (replies[0]->type != REDIS_REPLY_ERROR &&
	    (replies[1]->type != REDIS_REPLY_INTEGER ||
	     replies[1]->integer < call->rp->wait_replicas)) {
		redis_error("redis %s: WAIT: %lld of %d replicas acknowledged within %d ms",
			    conn->addr,
			    replies[1]->type == REDIS_REPLY_INTEGER ? replies[1]->integer : -1LL,
			    call->rp->wait_replicas, wait_ms);
		freeReplyObject(replies[0]);
		freeReplyObject(replies[1]);
		*error_r = redis_conn_wait_short;
		return NULL;
	}
	freeReplyObject(replies[1]);
	return replies[0];
}

/* redis_conn_reply_kind - classify an error reply: retry-worthy or final */
enum redis_reply_kind redis_conn_reply_kind(const redisReply *reply)
{
	if (reply->type != REDIS_REPLY_ERROR)
		return REPLY_OK;
	if (strncmp(reply->str, "NOSCRIPT", 8) == 0)
		return REPLY_NOSCRIPT;
	if (strncmp(reply->str, "READONLY", 8) == 0 || strncmp(reply->str, "LOADING", 7) == 0 ||
	    strncmp(reply->str, "MASTERDOWN", 10) == 0 || strstr(reply->str, "-READONLY") != NULL)
		return REPLY_FAILOVER;
	if (strncmp(reply->str, "MOVED ", 6) == 0 || strncmp(reply->str, "ASK ", 4) == 0 ||
	    strncmp(reply->str, "TRYAGAIN", 8) == 0 || strncmp(reply->str, "CLUSTERDOWN", 11) == 0)
		return REPLY_CLUSTER;
	return REPLY_OTHER_ERROR;
}

/* conn_simple - run a command expecting a status or string reply; -1 with *error_r */
static int conn_simple(struct redis_conn *conn, const struct redis_call *call, int argc,
		       const char **argv, const size_t *lens, const char *what,
		       const char **error_r)
{
	redisReply *reply;

	reply = redis_conn_command(conn, call, argc, argv, lens, error_r);
	if (reply == NULL)
		return -1;
	if (reply->type == REDIS_REPLY_ERROR) {
		*error_r = redis_error("redis %s: %s: %s", conn->addr, what, reply->str);
		freeReplyObject(reply);
		return -1;
	}
	freeReplyObject(reply);
	return 0;
}

/* redis_conn_connect - connect to host:port or a unix socket within the deadline */
struct redis_conn *redis_conn_connect(struct redis_pool *rp, const struct redis_call *call,
				      const char *kind, const char *host, int port,
				      const char *socket, const char **error_r)
{
	struct redis_conn *conn;
	int budget;

	conn = xcalloc(1, sizeof(*conn));
	conn->timeout_ms = -1;	/* hiredis leaves the connect timeout on the socket */
	if (socket != NULL)
		snprintf(conn->addr, sizeof(conn->addr), "unix:%s", socket);
	else
		hostport_format(host, port, conn->addr, sizeof(conn->addr));

	budget = redis_conn_call_budget(call, rp->connect_timeout_ms);
	if (budget == 0) {
		metrics_backend(METRICS_BACKEND_STORE, METRICS_BACKEND_TIMEOUT);
		*error_r = redis_error("%s %s: deadline exceeded before connecting", kind,
				       conn->addr);
		redis_conn_free(&conn);
		return NULL;
	}
	if (socket != NULL)
		conn->ctx = redisConnectUnixWithTimeout(socket, ms_timeval(budget));
	else
		conn->ctx = redisConnectWithTimeout(host, port, ms_timeval(budget));
	if (conn->ctx == NULL) {
		*error_r = redis_error("%s %s: connect: out of memory", kind, conn->addr);
		redis_conn_free(&conn);
		return NULL;
	}
	if (conn->ctx->err != 0) {
		if (errno == ETIMEDOUT)	/* hiredis: the connect wait timed out */
			metrics_backend(METRICS_BACKEND_STORE, METRICS_BACKEND_TIMEOUT);
		*error_r = redis_error("%s %s: connect: %s", kind, conn->addr, conn->ctx->errstr);
		redis_conn_free(&conn);
		return NULL;
	}
	return conn;
}

/* redis_conn_setup - AUTH, SELECT and, behind Sentinel, check ROLE is master */
int redis_conn_setup(struct redis_pool *rp, struct redis_conn *conn, const struct redis_call *call,
		     const char **error_r)
{
	if (rp->password != NULL && rp->username != NULL) {
		/* Redis 6 ACL: AUTH is a plain command, hiredis 0.14 needs nothing new. */
		const char *argv[] = { "AUTH", rp->username, rp->password };
		size_t lens[] = { 4, strlen(rp->username), strlen(rp->password) };

		if (conn_simple(conn, call, 3, argv, lens, "AUTH", error_r) < 0)
			return -1;
	} else if (rp->password != NULL) {
		const char *argv[] = { "AUTH", rp->password };
		size_t lens[] = { 4, strlen(rp->password) };

		if (conn_simple(conn, call, 2, argv, lens, "AUTH", error_r) < 0)
			return -1;
	}
	if (rp->db != 0) {
		char db[16];
		const char *argv[] = { "SELECT", db };
		size_t lens[] = { 6, 0 };

		lens[1] = (size_t)snprintf(db, sizeof(db), "%d", rp->db);
		if (conn_simple(conn, call, 2, argv, lens, "SELECT", error_r) < 0)
			return -1;
	}
	if (rp->n_sentinels > 0) {
		const char *argv[] = { "ROLE" };
		size_t lens[] = { 4 };
		redisReply *reply;
		const redisReply *role;

		reply = redis_conn_command(conn, call, 1, argv, lens, error_r);
		if (reply == NULL)
			return -1;
		if (reply->type == REDIS_REPLY_ERROR) {
			*error_r = redis_error("redis %s: ROLE: %s", conn->addr, reply->str);
			freeReplyObject(reply);
			return -1;
		}
		role = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 ? reply->element[0]
									       : NULL;
		if (role == NULL || role->type != REDIS_REPLY_STRING ||
		    strcmp(role->str, "master") != 0) {
			*error_r = redis_error("redis %s: ROLE is %s, not master", conn->addr,
					       role != NULL && role->type == REDIS_REPLY_STRING
						       ? role->str
						       : "unreadable");
			freeReplyObject(reply);
			return -1;
		}
		freeReplyObject(reply);
	}
	return 0;
}

