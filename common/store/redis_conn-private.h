/*
 * redis_conn-private.h - what redis_conn.c, redis_pool.c and redis_sentinel.c share
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

struct redis_conn {
	struct redis_conn *next;	/* idle stack */
	redisContext *ctx;
	uint64_t generation;		/* pool generation it was opened in */
	int timeout_ms;			/* the socket's send/receive timeout (-1: unknown) */
	char addr[REDIS_ADDR_MAX];	/* "host:port" or "unix:path", for errors */
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

/* redis_conn_free - close a connection and NULL the pointer */
void redis_conn_free(struct redis_conn **conn);

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

/*
 * redis_sentinel_open - (redis_sentinel.c) ask the sentinels in turn,
 * connect to and verify the master; NULL with *error_r naming each
 * sentinel's failure
 */
struct redis_conn *redis_sentinel_open(struct redis_pool *rp, const struct redis_call *call,
				       const char **error_r);

#endif
