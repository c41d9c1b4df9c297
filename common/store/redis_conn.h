/*
 * redis_conn - the Redis engine's connections: pool, Sentinel discovery,
 * deadlines, and the EVALSHA/NOSCRIPT script cache
 *
 * A struct redis_pool holds the connection settings copied from the config
 * (0 or empty fields fall back to the CONFIG_REDIS_*_DEFAULT values of
 * config.h), a mutex-protected stack of idle connections, and the SHA1 of
 * every server-side script it was given.  redis_pool_exec runs one command
 * (or one script) within one deadline, reconnecting, rediscovering the
 * master through Sentinel and reloading a script after NOSCRIPT as
 * described in redis_pool.c.  It knows nothing of quota, cache or
 * greylisting: store_redis.c and its store_redis_*.c build the commands
 * and read the replies.
 *
 * Thread safety: every function may be called from any thread at once,
 * except redis_pool_close, which must be the last call.
 */
#ifndef CHAPPS_REDIS_CONN_H
#define CHAPPS_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct config;
struct redis_pool;

#define REDIS_POOL_SCRIPTS_MAX 4
#define REDIS_SCRIPT_NONE (-1)	/* redis_pool_exec: a plain command */

/* One server-side Lua script: its name (for errors) and its text. */
struct redis_script {
	const char *name;
	const char *text;
	size_t len;
};

/*
 * redis_pool_open - copy the store.redis settings of config, check them
 * (sentinel entries are split with hostport_parse), connect once (address,
 * AUTH, SELECT, ROLE behind Sentinel) and SCRIPT LOAD each of the
 * n_scripts (at most REDIS_POOL_SCRIPTS_MAX) scripts, which are borrowed
 * for the pool's life.  Returns 0 with *pool_r, or -1 with *error_r (a
 * static or thread-local text, valid until the next call from the thread).
 */
int redis_pool_open(const struct config *config, const struct redis_script *scripts,
		    int n_scripts, struct redis_pool **pool_r, const char **error_r);

/* redis_pool_close - close every connection, free *pool, set it NULL; NULL is fine. */
void redis_pool_close(struct redis_pool **pool);

/*
 * redis_pool_exec - run argv (argc words of lens bytes) on a pooled
 * connection.  With script >= 0 (an index into the pool's scripts),
 * argv[1] and lens[1] are replaced by that script's SHA1 (so argv is
 * EVALSHA, a placeholder, numkeys, ...).  Returns a reply that is not an
 * error reply (the caller frees it with freeReplyObject), or NULL with
 * *error_r naming the server and the failing step.
 */
redisReply *redis_pool_exec(struct redis_pool *pool, int script, int argc, const char **argv,
			    size_t *lens, const char **error_r);

/*
 * redis_pool_defer - run the script call argv (as redis_pool_exec) without
 * waiting for its reply: it is put in a pooled connection's output and
 * goes out with that connection's next command or within REDIS_LATER_MS
 * (redis_conn-private.h); an error reply or none gets it sent again, for
 * up to a minute.  Runs it at once and waits instead when the pool does
 * not defer (store.redis.defer_commit false, wait_replicas, a cluster) or
 * the script is not loaded yet.  Returns 0, or -1 with *error_r when no
 * connection could be had (nothing sent) or the call run at once failed.
 */
int redis_pool_defer(struct redis_pool *pool, int script, int argc, const char **argv,
		     size_t *lens, const char **error_r);

/*
 * redis_pool_pipeline - send n plain commands (argvs[i]: argcs[i] words of
 * lenss[i] bytes) on one pooled connection at once and read their n
 * replies: one round trip, one command budget.  Returns 0 with replies[i]
 * set (none an error reply; the caller frees each), or -1 with *error_r
 * and no reply (an I/O error or any error reply; nothing is retried).
 */
int redis_pool_pipeline(struct redis_pool *pool, size_t n, const int *argcs,
			const char *const *const *argvs, const size_t *const *lenss,
			redisReply **replies, const char **error_r);

/*
 * redis_pool_masters - how many servers a SCAN of every key must visit:
 * 1, or with store.redis.cluster the masters of the current slot map
 * (0 with *error_r when there is no map).
 */
size_t redis_pool_masters(struct redis_pool *pool, const char **error_r);

/*
 * redis_pool_exec_master - run the plain command argv (SCAN: no key) on
 * the i-th of redis_pool_masters' servers; redis_pool_exec's contract.
 */
redisReply *redis_pool_exec_master(struct redis_pool *pool, size_t i, int argc, const char **argv,
				   size_t *lens, const char **error_r);

/* ---- for redis_cluster.c: one node's pool ---- */

/* redis_mono_ms - the monotonic clock in milliseconds. */
int64_t redis_mono_ms(void);

/* redis_pool_deadline - the deadline of a call starting now (connect + command timeout). */
int64_t redis_pool_deadline(const struct redis_pool *pool);

/*
 * redis_pool_node - a pool for one cluster node at host:port with the
 * settings (scripts, AUTH, timeouts, size) of owner; connects lazily.
 * Closed with redis_pool_close.
 */
struct redis_pool *redis_pool_node(const struct redis_pool *owner, const char *host, int port);

/*
 * redis_pool_node_exec - redis_pool_exec on a node's pool within
 * deadline_ms (redis_mono_ms clock), preceded by ASKING when asking; a
 * cluster answer (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) is returned as the
 * error reply it is (the command did not run).
 */
redisReply *redis_pool_node_exec(struct redis_pool *node, int64_t deadline_ms, int script,
				 bool asking, int argc, const char **argv, size_t *lens,
				 const char **error_r);

/*
 * redis_pool_node_pipeline - redis_pool_pipeline on a node's pool within
 * deadline_ms; -2 (no reply kept, *error_r set) when a reply was a
 * cluster answer.
 */
int redis_pool_node_pipeline(struct redis_pool *node, int64_t deadline_ms, size_t n,
			     const int *argcs, const char *const *const *argvs,
			     const size_t *const *lenss, redisReply **replies,
			     const char **error_r);

/*
 * redis_error - printf into this thread's error buffer (shared with the
 * pool's own messages) and return it; valid until the next call.
 */
const char *redis_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
