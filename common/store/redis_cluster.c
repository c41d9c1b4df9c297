/*
 * NAME
 *	redis_cluster - Redis Cluster routing of the Redis engine (hiredis 0.14)
 * SUMMARY
 *	redis_cluster_slot() is the slot of a key; redis_cluster_open() reads
 *	the slot map from a seed; redis_cluster_exec() sends a command to the
 *	master of its key's slot, following MOVED and ASK.
 * DESCRIPTION
 *	Debian 12's hiredis 0.14 has no cluster support: this file is that
 *	support, kept small.  The slot of a key is CRC16 (XMODEM, the
 *	cluster specification's) of the key, or of its hash tag, modulo 16384.
 *
 *	Nodes.  Every node ever named (seeds, CLUSTER SLOTS, MOVED, ASK) gets
 *	one redis_pool.c pool of its own (redis_pool_node: the owner's
 *	settings, its own idle connections, script SHA1s and generation), kept
 *	until the cluster is closed (at most REDIS_CLUSTER_NODES_MAX), so a
 *	thread holding a node never sees it freed.
 *
 *	Map.  map[slot] is the index of the slot's master, -1 for a slot no
 *	master serves.  It is read from CLUSTER SLOTS at open and whenever it
 *	is stale: after a MOVED answer (the slot is pointed at the named node
 *	at once, and the whole map is read again on the next call), after a
 *	call that failed on a node (I/O error, timeout, READONLY: a master may
 *	have died or been demoted) and after CLUSTERDOWN.  CLUSTER SLOTS is
 *	asked of the known masters, then of every other node, then of the
 *	seeds, the first answer wins.  A read-write lock guards the map and
 *	the node table.
 *
 *	Redirections.  A call goes to map[slot]; MOVED points the slot at
 *	the node named and tries again; ASK sends ASKING and the command to
 *	the node named, once, without touching the map (the slot is being
 *	migrated); TRYAGAIN (a multi-key command while its keys are split
 *	between the two nodes of a migration) waits 10 ms and tries again.
 *	At most REDIS_CLUSTER_REDIRECTS_MAX such answers per call, all
 *	within the call's one deadline.  These answers mean the command did
 *	not run, so following them never runs a script twice.
 *
 *	Failover.  While a master is down its slots fail (the connection
 *	fails or times out: STORE_ERROR, so the configured on_error), as
 *	behind Sentinel; the failed call marks the map stale, and once the
 *	cluster has promoted a replica, the next CLUSTER SLOTS names it and
 *	calls succeed again, without a restart.  A stale map is read again at
 *	most once per REDIS_CLUSTER_REFRESH_MS (100 ms; at open always).  A command is never retried
 *	after an I/O error (it may have run).
 *
 *	Not supported: replicas are never read from; a pipeline is one round
 *	trip only when all its keys are in one slot; store.redis.db must be 0.
 * DIAGNOSTICS
 *	As redis_pool.c: NULL (or -1) with *error_r in the thread's error
 *	buffer, naming the node and the failing step.  Nothing is fatal
 *	except out-of-memory (xalloc).
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "base/config.h"
#include "base/hostport.h"
#include "base/xalloc.h"
#include "store/redis_cluster.h"
#include "store/redis_conn.h"

struct cluster_node {
	char host[HOSTPORT_HOST_MAX];
	int port;
	struct redis_pool *pool;
};

struct redis_cluster {
	pthread_rwlock_t lock;		/* guards everything below but owner */
	struct redis_pool *owner;	/* borrowed: the settings of the node pools */
	struct cluster_node nodes[REDIS_CLUSTER_NODES_MAX];
	int n_nodes;
	int n_seeds;			/* nodes[0..n_seeds) are the configured seeds */
	bool stale;			/* atomic: read the map again before the next call */
	int64_t refreshed_ms;		/* atomic: when the map was last asked for */
	int answered;			/* the node that gave the last map: asked first */
	int16_t map[REDIS_CLUSTER_SLOTS];
};

/* crc16 - CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as the cluster specification's */
static uint16_t crc16(const unsigned char *p, size_t len)
{
	uint16_t crc = 0;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
					     : (uint16_t)(crc << 1);
	}
	return crc;
}

unsigned redis_cluster_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	if (open != NULL) {
		size_t rest = len - (size_t)(open - key) - 1;

		close = memchr(open + 1, '}', rest);
		if (close != NULL && close > open + 1)
			return crc16((const unsigned char *)open + 1, (size_t)(close - open - 1)) &
			       (REDIS_CLUSTER_SLOTS - 1);
	}
	return crc16((const unsigned char *)key, len) & (REDIS_CLUSTER_SLOTS - 1);
}

/* node_find - the index of host:port, -1 if unknown; the caller holds the lock */
static int node_find(const struct redis_cluster *cl, const char *host, int port)
{
	int i;

	for (i = 0; i < cl->n_nodes; i++)
		if (cl->nodes[i].port == port && strcmp(cl->nodes[i].host, host) == 0)
			return i;
	return -1;
}

/* node_add - the index of host:port, added if new; -1 when the table is full (write lock held) */
static int node_add(struct redis_cluster *cl, const char *host, int port)
{
	int i = node_find(cl, host, port);

	if (i >= 0)
		return i;
	if (cl->n_nodes >= REDIS_CLUSTER_NODES_MAX || strlen(host) >= HOSTPORT_HOST_MAX)
		return -1;
	i = cl->n_nodes;
	memcpy(cl->nodes[i].host, host, strlen(host) + 1);
	cl->nodes[i].port = port;
	cl->nodes[i].pool = redis_pool_node(cl->owner, host, port);
	cl->n_nodes++;
	return i;
}

/* node_lookup - node_add under the write lock */
static int node_lookup(struct redis_cluster *cl, const char *host, int port)
{
	int i;

	pthread_rwlock_rdlock(&cl->lock);
	i = node_find(cl, host, port);
	pthread_rwlock_unlock(&cl->lock);
	if (i >= 0)
		return i;
	pthread_rwlock_wrlock(&cl->lock);
	i = node_add(cl, host, port);
	pthread_rwlock_unlock(&cl->lock);
	return i;
}

/* node_pool - the pool of node i (nodes are never removed: safe without the lock once seen) */
static struct redis_pool *node_pool(struct redis_cluster *cl, int i)
{
	struct redis_pool *pool;

	pthread_rwlock_rdlock(&cl->lock);
	pool = cl->nodes[i].pool;
	pthread_rwlock_unlock(&cl->lock);
	return pool;
}

/* reply_int - an integer element of a CLUSTER SLOTS entry, -1 if not one */
static long long reply_int(const redisReply *r)
{
	return r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

/*
 * map_parse - a CLUSTER SLOTS reply into map (master indexes, nodes added
 * as needed; asked is the node that answered, for a master it names with
 * an empty or "?" host); the write lock is held.  -1 when malformed.
 */
static int map_parse(struct redis_cluster *cl, const redisReply *reply, int asked,
		     int16_t *map)
{
	size_t i;
	long long s;

	if (reply->type != REDIS_REPLY_ARRAY)
		return -1;
	for (s = 0; s < REDIS_CLUSTER_SLOTS; s++)
		map[s] = -1;
	for (i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i], *m;
		long long first, last, port;
		const char *host;
		int idx;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
			return -1;
		m = e->element[2];
		first = reply_int(e->element[0]);
		last = reply_int(e->element[1]);
		port = reply_int(m->element[1]);
		if (first < 0 || last < first || last >= REDIS_CLUSTER_SLOTS || port <= 0 ||
		    port > 65535 || m->element[0]->type != REDIS_REPLY_STRING)
			return -1;
		host = m->element[0]->str;
		if (host[0] == '\0' || strcmp(host, "?") == 0)
			host = cl->nodes[asked].host;
		idx = node_add(cl, host, (int)port);
		if (idx < 0)
			return -1;
		for (s = first; s <= last; s++)
			map[s] = (int16_t)idx;
	}
	return 0;
}

/* node_is_master - does node i serve a slot in the map? (lock held) */
static bool node_is_master(const struct redis_cluster *cl, int i)
{
	int s;

	for (s = 0; s < REDIS_CLUSTER_SLOTS; s++)
		if (cl->map[s] == i)
			return true;
	return false;
}

/*
 * map_refresh - CLUSTER SLOTS of the first node that answers (the one
 * that gave the last map, then the masters, then the others, the seeds
 * among them) into the map; 0, or -1 with *error_r (the last failure)
 */
static int map_refresh(struct redis_cluster *cl, int64_t deadline_ms, const char **error_r)
{
	static const char *const argv0[] = { "CLUSTER", "SLOTS" };
	int order[REDIS_CLUSTER_NODES_MAX], n = 0, pass, i, k;
	int16_t *map = NULL;

	pthread_rwlock_rdlock(&cl->lock);
	order[n++] = cl->answered;
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < cl->n_nodes; i++)
			if (i != cl->answered && node_is_master(cl, i) == (pass == 0))
				order[n++] = i;
	pthread_rwlock_unlock(&cl->lock);

	__atomic_store_n(&cl->refreshed_ms, redis_mono_ms(), __ATOMIC_RELAXED);
	*error_r = "redis cluster: no node to ask for CLUSTER SLOTS";
	for (k = 0; k < n; k++) {
		const char *argv[2] = { argv0[0], argv0[1] };
		size_t lens[2] = { 7, 5 };
		redisReply *reply;
		int r;

		if (redis_mono_ms() >= deadline_ms)
			break;
		reply = redis_pool_node_exec(node_pool(cl, order[k]), deadline_ms,
					     REDIS_SCRIPT_NONE, false, 2, argv, lens, error_r);
		if (reply == NULL)
			continue;
		if (reply->type == REDIS_REPLY_ERROR) {
			*error_r = redis_error("redis cluster %s:%d: CLUSTER SLOTS: %s",
					       cl->nodes[order[k]].host, cl->nodes[order[k]].port,
					       reply->str);
			freeReplyObject(reply);
			continue;
		}
		if (map == NULL)
			map = xmalloc(sizeof(cl->map));
		pthread_rwlock_wrlock(&cl->lock);
		r = map_parse(cl, reply, order[k], map);
		if (r == 0) {
			memcpy(cl->map, map, sizeof(cl->map));
			cl->answered = order[k];
			__atomic_store_n(&cl->stale, false, __ATOMIC_RELEASE);
		}
		pthread_rwlock_unlock(&cl->lock);
		freeReplyObject(reply);
		if (r == 0) {
			free(map);
			return 0;
		}
		*error_r = redis_error("redis cluster %s:%d: CLUSTER SLOTS: unreadable reply",
				       cl->nodes[order[k]].host, cl->nodes[order[k]].port);
	}
	free(map);
	return -1;
}

/*
 * map_get - the master of slot, -1 with *error_r; a stale map is read
 * again first, at most once per REDIS_CLUSTER_REFRESH_MS (while a master
 * is down every call to it fails and marks the map stale: the calls to
 * the other masters must not each pay a CLUSTER SLOTS)
 */
static int map_get(struct redis_cluster *cl, unsigned slot, int64_t deadline_ms,
		   const char **error_r)
{
	int idx;

	if (__atomic_load_n(&cl->stale, __ATOMIC_ACQUIRE) &&
	    redis_mono_ms() - __atomic_load_n(&cl->refreshed_ms, __ATOMIC_RELAXED) >=
		    REDIS_CLUSTER_REFRESH_MS &&
	    map_refresh(cl, deadline_ms, error_r) < 0)
		return -1;
	pthread_rwlock_rdlock(&cl->lock);
	idx = cl->map[slot];
	pthread_rwlock_unlock(&cl->lock);
	if (idx < 0)
		*error_r = redis_error("redis cluster: no master serves slot %u", slot);
	return idx;
}

/* mark_stale - read the map again before the next call */
static void mark_stale(struct redis_cluster *cl)
{
	__atomic_store_n(&cl->stale, true, __ATOMIC_RELEASE);
}

/*
 * redirect_parse - "MOVED <slot> <host>:<port>" or "ASK ...": the node's
 * index (added if new); -1 when unreadable
 */
static int redirect_parse(struct redis_cluster *cl, const char *str)
{
	const char *sp = strchr(str, ' ');
	struct hostport hp;
	const char *why;

	if (sp == NULL || (sp = strchr(sp + 1, ' ')) == NULL)
		return -1;
	if (hostport_parse(sp + 1, &hp, &why) < 0)
		return -1;
	return node_lookup(cl, hp.host, hp.port);
}

/* pause_ms - wait ms milliseconds (TRYAGAIN: a migration in progress) */
static void pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * cluster_run - run argv on the master of slot, following MOVED, ASK and
 * TRYAGAIN; redis_pool_exec's contract
 */
static redisReply *cluster_run(struct redis_cluster *cl, unsigned slot, int script, int argc,
			       const char **argv, size_t *lens, const char **error_r)
{
	int64_t deadline_ms = redis_pool_deadline(cl->owner);
	int redirects, idx = -1;
	bool asking = false;

	for (redirects = 0; redirects <= REDIS_CLUSTER_REDIRECTS_MAX; redirects++) {
		redisReply *reply;

		if (!asking) {
			idx = map_get(cl, slot, deadline_ms, error_r);
			if (idx < 0) {
				mark_stale(cl);
				return NULL;
			}
		}
		reply = redis_pool_node_exec(node_pool(cl, idx), deadline_ms, script, asking,
					     argc, argv, lens, error_r);
		asking = false;
		if (reply == NULL) {
			/* a node may be down or demoted: ask for the map again */
			mark_stale(cl);
			return NULL;
		}
		if (reply->type != REDIS_REPLY_ERROR)
			return reply;
		if (strncmp(reply->str, "MOVED ", 6) == 0) {
			int to = redirect_parse(cl, reply->str);

			if (to >= 0) {
				pthread_rwlock_wrlock(&cl->lock);
				cl->map[slot] = (int16_t)to;
				pthread_rwlock_unlock(&cl->lock);
				freeReplyObject(reply);
				/* the slot points at the new owner; the rest is read later */
				continue;
			}
		} else if (strncmp(reply->str, "ASK ", 4) == 0) {
			int to = redirect_parse(cl, reply->str);

			if (to >= 0) {
				idx = to;
				asking = true;
				freeReplyObject(reply);
				continue;
			}
		} else if (strncmp(reply->str, "TRYAGAIN", 8) == 0 &&
			   redis_mono_ms() + 10 < deadline_ms) {
			freeReplyObject(reply);
			pause_ms(10);
			continue;
		}
		*error_r = redis_error("redis cluster %s:%d: %.*s: %s", cl->nodes[idx].host,
				       cl->nodes[idx].port, (int)lens[0], argv[0], reply->str);
		freeReplyObject(reply);
		mark_stale(cl);
		return NULL;
	}
	*error_r = redis_error("redis cluster: %.*s: more than %d redirections for slot %u",
			       (int)lens[0], argv[0], REDIS_CLUSTER_REDIRECTS_MAX, slot);
	mark_stale(cl);
	return NULL;
}

redisReply *redis_cluster_exec(struct redis_cluster *cl, int script, int argc, const char **argv,
			       size_t *lens, const char **error_r)
{
	int k = script != REDIS_SCRIPT_NONE ? 3 : 1;

	if (argc <= k) {
		*error_r = redis_error("redis cluster: %.*s: no key to route by", (int)lens[0],
				       argv[0]);
		return NULL;
	}
	return cluster_run(cl, redis_cluster_slot(argv[k], lens[k]), script, argc, argv, lens,
			   error_r);
}

int redis_cluster_pipeline(struct redis_cluster *cl, size_t n, const int *argcs,
			   const char *const *const *argvs, const size_t *const *lenss,
			   redisReply **replies, const char **error_r)
{
	unsigned slot = 0;
	bool one_slot = true;
	size_t i;

	for (i = 0; i < n; i++) {
		replies[i] = NULL;
		if (argcs[i] < 2) {
			*error_r = redis_error("redis cluster: %.*s: no key to route by",
					       (int)lenss[i][0], argvs[i][0]);
			return -1;
		}
		if (i == 0)
			slot = redis_cluster_slot(argvs[0][1], lenss[0][1]);
		else if (redis_cluster_slot(argvs[i][1], lenss[i][1]) != slot)
			one_slot = false;
	}
	if (one_slot) {
		int64_t deadline_ms = redis_pool_deadline(cl->owner);
		int idx = map_get(cl, slot, deadline_ms, error_r), r;

		if (idx < 0) {
			mark_stale(cl);
			return -1;
		}
		r = redis_pool_node_pipeline(node_pool(cl, idx), deadline_ms, n, argcs, argvs,
					     lenss, replies, error_r);
		if (r == 0)
			return 0;
		mark_stale(cl);
		if (r == -1)
			return -1;
		/* -2: redirected (the slot moves): each command on its own below */
	}
	for (i = 0; i < n; i++) {
		const char *argv[8];
		size_t lens[8];
		int k;

		if (argcs[i] > 8) {
			*error_r = "redis cluster: pipelined command too long";
			break;
		}
		for (k = 0; k < argcs[i]; k++) {
			argv[k] = argvs[i][k];
			lens[k] = lenss[i][k];
		}
		replies[i] = cluster_run(cl, redis_cluster_slot(argv[1], lens[1]),
					 REDIS_SCRIPT_NONE, argcs[i], argv, lens, error_r);
		if (replies[i] == NULL)
			break;
	}
	if (i == n)
		return 0;
	for (i = 0; i < n; i++)
		if (replies[i] != NULL) {
			freeReplyObject(replies[i]);
			replies[i] = NULL;
		}
	return -1;
}

/* masters_list - the distinct masters of the map, in slot order, into out; their number */
static size_t masters_list(struct redis_cluster *cl, int *out)
{
	bool seen[REDIS_CLUSTER_NODES_MAX] = { false };
	size_t n = 0;
	int s;

	pthread_rwlock_rdlock(&cl->lock);
	for (s = 0; s < REDIS_CLUSTER_SLOTS; s++) {
		int idx = cl->map[s];

		if (idx >= 0 && !seen[idx]) {
			seen[idx] = true;
			out[n++] = idx;
		}
	}
	pthread_rwlock_unlock(&cl->lock);
	return n;
}

size_t redis_cluster_masters(struct redis_cluster *cl, const char **error_r)
{
	int list[REDIS_CLUSTER_NODES_MAX];
	size_t n;

	if (__atomic_load_n(&cl->stale, __ATOMIC_ACQUIRE) &&
	    map_refresh(cl, redis_pool_deadline(cl->owner), error_r) < 0)
		return 0;
	n = masters_list(cl, list);
	if (n == 0)
		*error_r = "redis cluster: no master in the slot map";
	return n;
}

redisReply *redis_cluster_exec_master(struct redis_cluster *cl, size_t i, int argc,
				      const char **argv, size_t *lens, const char **error_r)
{
	int list[REDIS_CLUSTER_NODES_MAX];
	redisReply *reply;
	size_t n = masters_list(cl, list);

	if (i >= n) {
		*error_r = "redis cluster: the slot map changed during the scan";
		return NULL;
	}
	reply = redis_pool_node_exec(node_pool(cl, list[i]), redis_pool_deadline(cl->owner),
				     REDIS_SCRIPT_NONE, false, argc, argv, lens, error_r);
	if (reply == NULL)
		mark_stale(cl);
	else if (reply->type == REDIS_REPLY_ERROR) {
		*error_r = redis_error("redis cluster %s:%d: %.*s: %s", cl->nodes[list[i]].host,
				       cl->nodes[list[i]].port, (int)lens[0], argv[0], reply->str);
		freeReplyObject(reply);
		mark_stale(cl);
		reply = NULL;
	}
	return reply;
}

void redis_cluster_close(struct redis_cluster **cluster)
{
	struct redis_cluster *cl = *cluster;
	int i;

	if (cl == NULL)
		return;
	*cluster = NULL;
	for (i = 0; i < cl->n_nodes; i++)
		redis_pool_close(&cl->nodes[i].pool);
	pthread_rwlock_destroy(&cl->lock);
	free(cl);
}

int redis_cluster_open(struct redis_pool *owner, const struct config *config,
		       struct redis_cluster **cluster_r, const char **error_r)
{
	struct redis_cluster *cl = xcalloc(1, sizeof(*cl));
	int i;

	pthread_rwlock_init(&cl->lock, NULL);
	cl->owner = owner;
	for (i = 0; i < REDIS_CLUSTER_SLOTS; i++)
		cl->map[i] = -1;
	for (i = 0; i < config->n_redis_cluster && i < CONFIG_LIST_MAX; i++) {
		struct hostport hp;
		const char *why;

		/* config_load has checked them: this only splits, or catches a hand-made config */
		if (hostport_parse(config->redis_cluster[i], &hp, &why) < 0) {
			*error_r = redis_error("redis: cluster node '%s' is not host:port",
					       config->redis_cluster[i]);
			redis_cluster_close(&cl);
			return -1;
		}
		node_add(cl, hp.host, hp.port);
	}
	cl->n_seeds = cl->n_nodes;
	/* read the map now, so that an unreachable cluster shows at start-up */
	if (map_refresh(cl, redis_pool_deadline(owner), error_r) < 0) {
		redis_cluster_close(&cl);
		return -1;
	}
	*cluster_r = cl;
	return 0;
}
