/*
 * redis_cluster - Redis Cluster routing for the Redis engine, on hiredis 0.14
 *
 * A struct redis_cluster holds the slot map (slot -> master, from CLUSTER
 * SLOTS) and one redis_pool per node (redis_pool.c's pool, opened for
 * that node's address with the settings of the pool that owns the
 * cluster).  redis_cluster_exec sends a command to the master of its
 * key's slot and follows MOVED and ASK answers, a bounded number of
 * times, as described in redis_cluster.c.  redis_pool.c calls it when
 * store.redis.cluster is set; store_redis.c never sees it.
 *
 * Thread safety: every function may be called from any thread at once,
 * except redis_cluster_close, which must be the last call.
 */
#ifndef CHAPPS_REDIS_CLUSTER_H
#define CHAPPS_REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct config;
struct redis_pool;
struct redis_cluster;

#define REDIS_CLUSTER_SLOTS 16384
#define REDIS_CLUSTER_NODES_MAX 64	/* nodes ever seen by one cluster handle */
#define REDIS_CLUSTER_REDIRECTS_MAX 5	/* MOVED, ASK and TRYAGAIN answers followed per call */
#define REDIS_CLUSTER_REFRESH_MS 100	/* a stale slot map is read again at most this often */

/*
 * redis_cluster_slot - the slot of key (len bytes): CRC16 (XMODEM) of
 * the key, or of its hash tag (the bytes between the first '{' and the
 * first '}' after it, when there are any), modulo 16384.  Pure.
 */
unsigned redis_cluster_slot(const char *key, size_t len);

/*
 * redis_cluster_open - the seed nodes of config (store.redis.cluster,
 * split with hostport_parse) and the slot map asked of the first seed
 * that answers; node pools take the settings of owner (borrowed for the
 * cluster's life).  Returns 0 with *cluster_r, or -1 with *error_r.
 */
int redis_cluster_open(struct redis_pool *owner, const struct config *config,
		       struct redis_cluster **cluster_r, const char **error_r);

/* redis_cluster_close - close every node pool, free *cluster, set it NULL; NULL is fine. */
void redis_cluster_close(struct redis_cluster **cluster);

/*
 * redis_cluster_exec - redis_pool_exec for a cluster: the command goes to
 * the master of the slot of its key (argv[3], the first key, for a
 * script; argv[1] for a plain command).  Same contract as
 * redis_pool_exec; the whole call, redirections and map refreshes
 * included, has one deadline (connect + command timeout).
 */
redisReply *redis_cluster_exec(struct redis_cluster *cl, int script, int argc, const char **argv,
			       size_t *lens, const char **error_r);

/*
 * redis_cluster_pipeline - redis_pool_pipeline for a cluster, for
 * commands that only read (they may be sent again): one round trip when
 * every key (argv[1]) is in one slot, else (or after a redirection) one
 * redis_cluster_exec per command.  Same contract as redis_pool_pipeline.
 */
int redis_cluster_pipeline(struct redis_cluster *cl, size_t n, const int *argcs,
			   const char *const *const *argvs, const size_t *const *lenss,
			   redisReply **replies, const char **error_r);

/*
 * redis_cluster_masters - the number of masters of the current slot map
 * (refreshed first if it is known to be stale); 0 with *error_r when no
 * map could be had.
 */
size_t redis_cluster_masters(struct redis_cluster *cl, const char **error_r);

/*
 * redis_cluster_exec_master - run the plain command argv (no key
 * routing: SCAN) on the i-th master of the current map (0-based, in
 * slot order).  Same contract as redis_pool_exec.
 */
redisReply *redis_cluster_exec_master(struct redis_cluster *cl, size_t i, int argc,
				      const char **argv, size_t *lens, const char **error_r);

#endif
