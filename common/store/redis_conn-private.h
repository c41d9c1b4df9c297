/*
 * redis_conn-private.h - what redis_conn.c, redis_pool.c, redis_later.c and
 * redis_sentinel.c share
 *
 * redis_conn.c owns one connection (connect, set up, commands and
 * pipelines within a deadline); redis_pool.c the pool of them (open,
 * exec, pipeline, scripts, the cluster's routing); redis_sentinel.c asks
 * the sentinels for the master and opens a connection to it with the
 * helpers below.  Nothing here is
 * visible outside common/store.
 */
#ifndef CHAPPS_REDIS_CONN_PRIVATE_H
#define CHAPPS_REDIS_CONN_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "base/config.h"
#include "base/hostport.h"
#include "store/redis_conn.h"

#define REDIS_ADDR_MAX 300
#define REDIS_ERROR_MAX 1024

#define REDIS_LATER_MAX 16	/* deferred scripts a connection carries at most */
#define REDIS_REDO_MAX 4096	/* deferred calls the pool keeps to send again at most */
#define REDIS_LATER_MS 10	/* an idle connection's deferred calls wait at most so long */
#define REDIS_LATER_GIVEUP_MS 60000	/* a deferred call not run after so long is given up,
					   or after half of quota.reservation_ttl if sooner */

/*
 * A script call sent later (redis_pool_defer): its protocol bytes, kept
 * until its reply says it ran, so that it can be sent again elsewhere.
 */
struct redis_later {
	char *cmd;			/* formatted by hiredis; owned */
	size_t len;
	int script;			/* which script (its SHA1 is in cmd) */
	int64_t since;			/* when it was deferred (monotonic ms) */
	bool noscript;			/* the last answer was NOSCRIPT: load it first */
};

struct redis_conn {
	struct redis_conn *next;	/* idle stack */
	redisContext *ctx;
	uint64_t generation;		/* pool generation it was opened in */
	int timeout_ms;			/* the socket's send/receive timeout (-1: unknown) */
	char addr[REDIS_ADDR_MAX];	/* "host:port" or "unix:path", for errors */
	/*
	 * deferred calls: later[0..n_later) are in ctx's output buffer, unsent;
	 * the next pipeline on this connection sends them ahead of its own
	 * commands and reads their replies first.  redo[0..n_redo) are those
	 * whose reply was an error or never came: the pool sends them again.
	 */
	struct redis_later later[REDIS_LATER_MAX];
	size_t n_later;
	int64_t later_since;		/* when later[0] was appended (monotonic ms) */
	struct redis_later redo[REDIS_LATER_MAX];
	size_t n_redo;
};

struct redis_pool {
	pthread_mutex_t lock;		/* guards the fields up to sha */
	struct redis_conn *idle;
	int n_idle;
	uint64_t generation;
	int sentinel_next;		/* index of the last sentinel that answered */
	bool lost;			/* atomic: retired after a failure; the next open reconnects */
	char sha[REDIS_POOL_SCRIPTS_MAX][41];	/* scripts' SHA1s, "" until loaded */

	/* settings, copied at open and read-only afterwards */
	const struct redis_script *scripts;	/* borrowed */
	int n_scripts;
	int pool_size;
	char *host;
	int port;
	char *socket;			/* NULL: TCP */
	char *username;			/* NULL: AUTH password (the default user) */
	char *password;			/* NULL: no AUTH */
	int db;
	struct hostport sentinels[CONFIG_LIST_MAX];
	int n_sentinels;
	char *dataset;
	int connect_timeout_ms;
	int command_timeout_ms;
	int wait_replicas;		/* > 0: WAIT for so many replicas after each script */
	bool node;			/* a cluster node's pool: cluster answers go back raw */
	struct redis_cluster *cluster;	/* store.redis.cluster: every call is routed by it */

	/* deferred calls (redis_pool_defer): the flusher thread, under lock */
	bool defer;			/* redis_pool_defer may defer (else it runs the call) */
	int later_ms;			/* an idle connection's deferred calls wait so long */
	bool flusher_started, stopping;
	int64_t flusher_due;		/* when the flusher wakes (INT64_MAX: when signalled) */
	int64_t giveup_ms;		/* a deferred call not run after so long is given up */
	pthread_t flusher;
	pthread_cond_t wake;		/* a deferral or a redo waits (CLOCK_MONOTONIC) */
	struct redis_later *redo;	/* calls to send again, n_redo of them */
	size_t n_redo, redo_size;
	unsigned long n_lost;		/* deferred calls given up, not yet logged */
	int64_t redo_after;		/* no resend before (monotonic ms): backing off */
	int redo_backoff_ms;		/* the next back-off: 100 ms doubling to 2 s */
};

/* One public call: its deadline on the monotonic clock. */
struct redis_call {
	struct redis_pool *rp;
	int64_t deadline_ms;
};

/* the kinds of an error reply, for retrying (redis_conn_reply_kind) */
enum redis_reply_kind { REPLY_OK, REPLY_NOSCRIPT, REPLY_FAILOVER, REPLY_CLUSTER,
		       REPLY_OTHER_ERROR };

/* redis_conn_call_init - start a call: its deadline covers one connect and one command budget */
void redis_conn_call_init(struct redis_call *call, struct redis_pool *rp);

/* redis_conn_reply_kind - classify an error reply: retry-worthy or final */
enum redis_reply_kind redis_conn_reply_kind(const redisReply *reply);

/* redis_conn_pipeline - n commands at once, their n replies, within the call's deadline */
int redis_conn_pipeline(struct redis_conn *conn, const struct redis_call *call, size_t n,
			const int *argcs, const char *const *const *argvs,
			const size_t *const *lenss, redisReply **replies, const char **error_r);

/*
 * redis_conn_script_wait - the script and WAIT in one round trip; fewer
 * replicas in time: NULL with *error_r == redis_conn_wait_short (the
 * connection stays usable)
 */
redisReply *redis_conn_script_wait(struct redis_conn *conn, const struct redis_call *call,
				   int argc, const char **argv, const size_t *lens,
				   const char **error_r);
extern const char redis_conn_wait_short[];

/* this thread's error text (redis_error writes it) */
extern __thread char redis_errbuf[REDIS_ERROR_MAX];

/* redis_conn_call_budget - min(step_ms, time left), or 0 when the deadline has passed */
int redis_conn_call_budget(const struct redis_call *call, int step_ms);

/*
 * redis_conn_free - close a connection and NULL the pointer; its deferred
 * calls are freed with it (the pool moves them out first: redis_pool.c)
 */
void redis_conn_free(struct redis_conn **conn);

/*
 * redis_conn_defer - append a formatted script call to conn's output
 * buffer, unsent (the next pipeline on conn sends it); takes cmd; since:
 * when it was first deferred (0: now).  -1 when conn already carries
 * REDIS_LATER_MAX with those of its redo list (the pool collects that first).
 */
int redis_conn_defer(struct redis_conn *conn, char *cmd, size_t len, int script, int64_t since);

/* redis_conn_command - run one command within the call's deadline; NULL on I/O error */
redisReply *redis_conn_command(struct redis_conn *conn, const struct redis_call *call, int argc,
			       const char **argv, const size_t *lens, const char **error_r);

/*
 * redis_conn_connect - connect to host:port or a unix socket within the
 * deadline; kind ("redis", "sentinel") names it in errors
 */
struct redis_conn *redis_conn_connect(struct redis_pool *rp, const struct redis_call *call,
				      const char *kind, const char *host, int port,
				      const char *socket, const char **error_r);

/* redis_conn_setup - AUTH, SELECT and, behind Sentinel, check ROLE is master */
int redis_conn_setup(struct redis_pool *rp, struct redis_conn *conn,
		     const struct redis_call *call, const char **error_r);

/* redis_pool.c: the pool's own operations, shared with redis_later.c */

/* redis_pool_take - an idle connection of the current generation, or a new one */
struct redis_conn *redis_pool_take(struct redis_pool *rp, const struct redis_call *call,
				   const char **error_r);

/* redis_pool_give - back to the pool, or closed when stale or the pool is full */
void redis_pool_give(struct redis_pool *rp, struct redis_conn **conn);

/* redis_pool_drop - free a pool connection, its deferred calls kept for the flusher */
void redis_pool_drop(struct redis_pool *rp, struct redis_conn **conn);

/* redis_pool_lose - retire the pool after a failure: the next connection is a reconnect */
void redis_pool_lose(struct redis_pool *rp);

/* redis_pool_script_load - SCRIPT LOAD script which on conn; -2: error reply, conn usable */
int redis_pool_script_load(struct redis_pool *rp, struct redis_conn *conn,
			   const struct redis_call *call, int which, char sha[41],
			   const char **error_r);

/* redis_pool_later_keep - under rp->lock: l into the calls to resend (or given up) */
void redis_pool_later_keep(struct redis_pool *rp, struct redis_later *l);

/* redis_pool_later_collect - under rp->lock: conn's resends (all: and unsent calls) */
void redis_pool_later_collect(struct redis_pool *rp, struct redis_conn *conn, bool all);

/* redis_later.c: redis_pool_flush_idle - send what idle connections hold, resend the rest */
void redis_pool_flush_idle(struct redis_pool *rp, bool all);

/* redis_later.c: redis_pool_lost_log - log how many deferred calls were given up */
void redis_pool_lost_log(struct redis_pool *rp, const char *why);

/*
 * redis_sentinel_open - (redis_sentinel.c) ask the sentinels in turn,
 * connect to and verify the master; NULL with *error_r naming each
 * sentinel's failure
 */
struct redis_conn *redis_sentinel_open(struct redis_pool *rp, const struct redis_call *call,
				       const char **error_r);

#endif
