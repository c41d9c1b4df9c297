/*
 * check_store_cluster - the Redis engine on a Redis Cluster (store.redis.cluster)
 *
 * The slot function against known values (no server), then, on a private
 * cluster of 3 masters and 3 replicas on 127.0.0.1 (started here: six
 * cluster-enabled redis-server processes, redis-cli --cluster create, and
 * CLUSTER INFO polled until cluster_state is ok on every node): the
 * slot function against CLUSTER KEYSLOT, the engine-neutral contract
 * suite, the key tags (a user's keys and the domain pool's share one
 * slot), operator SCANs over every master, a slot resharded under the
 * engine (ASK while it migrates, MOVED once it moved) with the answers
 * checked at each step, and exactness with 2 processes of 16 threads.
 * Exits 77 when redis-server or redis-cli is not installed (the slot cases
 * are then skipped too: they are cheap, the cluster is the point).
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "redis_helper.h"
#include "store/redis_cluster.h"
#include "store/store.h"
#include "store_contract.h"

#define PORT_FIRST 16600	/* cluster nodes (bus ports: + 10000); no other test uses these */
#define PORT_LAST 16659
#define NODES 6
#define MASTERS 3
#define READY_MS 30000		/* cluster_state:ok on every node within this */
#define POLL_MS 50

static struct redis_helper_server node_srv[NODES];
static char seed_buf[MASTERS][32];
static char *seeds[MASTERS];

static const struct store_quota_params P = {
	.limit = 10, .margin = 0, .interval = 3600, .resolution = 60, .reservation_ttl = 300,
};

/* nap - wait ms milliseconds between two polls */
static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* config_cluster - a zeroed config naming the first three nodes as seeds */
static void config_cluster(struct config *cfg)
{
	int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->store_backend = STORE_BACKEND_REDIS;
	for (i = 0; i < MASTERS; i++)
		cfg->redis_cluster[i] = seeds[i];
	cfg->n_redis_cluster = MASTERS;
	cfg->redis_connect_timeout_ms = 2000;
	cfg->redis_command_timeout_ms = 2000;
}

/* open_ok - store_open on the cluster, which must succeed */
static struct store *open_ok(void)
{
	struct config cfg;
	struct store *store = NULL;
	const char *error = NULL;

	config_cluster(&cfg);
	ck_assert_msg(store_open(&cfg, &store, &error) == 0, "store_open: got error %s, want 0",
		      error);
	return store;
}

/* node_connect - a direct connection to node i */
static redisContext *node_connect(int i)
{
	redisContext *c = redis_helper_connect(&node_srv[i]);

	ck_assert_msg(c != NULL, "cannot connect to node %d (port %d)", i, node_srv[i].port);
	return c;
}

/* is_master - does node i say it is a master? */
static bool is_master(int i)
{
	redisContext *c = node_connect(i);
	redisReply *r = redis_helper_command(c, "ROLE");
	bool m = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		 r->element[0]->type == REDIS_REPLY_STRING &&
		 strcmp(r->element[0]->str, "master") == 0;

	freeReplyObject(r);
	redisFree(c);
	return m;
}

/* flush_all - FLUSHALL on every master */
static void flush_all(void)
{
	int i;

	for (i = 0; i < NODES; i++) {
		redisContext *c;
		redisReply *r;

		if (!is_master(i))
			continue;
		c = node_connect(i);
		r = redis_helper_command(c, "FLUSHALL");
		ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "FLUSHALL on node %d", i);
		freeReplyObject(r);
		redisFree(c);
	}
}

/* keyslot - CLUSTER KEYSLOT of a binary key, asked of node 0 */
static long long keyslot(const char *key, size_t len)
{
	redisContext *c = node_connect(0);
	redisReply *r = redisCommand(c, "CLUSTER KEYSLOT %b", key, len);
	long long slot = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;

	freeReplyObject(r);
	redisFree(c);
	return slot;
}

static int slot_owner(long long slot);

/* key_count - EXISTS of a binary key on the master of its slot */
static long long key_count(const char *key, size_t len)
{
	int i = slot_owner(keyslot(key, len));
	redisContext *c;
	redisReply *r;
	long long n;

	ck_assert_int_ge(i, 0);
	c = node_connect(i);
	r = redisCommand(c, "EXISTS %b", key, len);
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_INTEGER, "EXISTS on node %d: %s", i,
		      r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "I/O error");
	n = r->integer;
	freeReplyObject(r);
	redisFree(c);
	return n;
}

/* ---- the slot function (no server) ---------------------------------------- */

/* slot_of - redis_cluster_slot of a C string */
static unsigned slot_of(const char *s)
{
	return redis_cluster_slot(s, strlen(s));
}

START_TEST(test_slot_known)
{
	/* the cluster specification's examples and CLUSTER KEYSLOT's answers */
	ck_assert_uint_eq(slot_of("foo"), 12182);
	ck_assert_uint_eq(slot_of("123456789"), 0x31C3 & 16383);
	ck_assert_uint_eq(slot_of(""), 0);
	ck_assert_uint_eq(slot_of("{user1000}.following"), slot_of("{user1000}.followers"));
	ck_assert_uint_eq(slot_of("{user1000}.following"), slot_of("user1000"));
	/* an empty tag: the whole key */
	ck_assert_uint_eq(slot_of("foo{}{bar}"), redis_cluster_slot("foo{}{bar}", 10));
	ck_assert_uint_ne(slot_of("foo{}{bar}"), slot_of("bar"));
	/* the first '{' and the first '}' after it */
	ck_assert_uint_eq(slot_of("foo{{bar}}zap"), slot_of("{bar"));
	ck_assert_uint_eq(slot_of("foo{bar}{zap}"), slot_of("bar"));
	/* an unclosed '{': the whole key */
	ck_assert_uint_ne(slot_of("foo{bar"), slot_of("bar"));
	ck_assert_uint_eq(slot_of("chapps:q:{example.com}bob@example.com"),
			  slot_of("chapps:l:7:{example.com}x"));
}
END_TEST

/* ---- on the cluster --------------------------------------------------------- */

START_TEST(test_slot_server)
{
	static const char *const keys[] = {
		"foo", "bar", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap",
		"foo{bar}{zap}", "chapps:q:{example.com}bob@example.com", "}{", "{}", "a{b}",
	};
	static const char binary[] = "chapps:l:7:{example.com}\0pool:example.com";
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(keyslot(keys[i], strlen(keys[i])) == (long long)slot_of(keys[i]),
			      "%s: server says %lld, we say %u", keys[i],
			      keyslot(keys[i], strlen(keys[i])), slot_of(keys[i]));
	ck_assert_int_eq(keyslot(binary, sizeof(binary) - 1),
			 (long long)redis_cluster_slot(binary, sizeof(binary) - 1));
}
END_TEST

/* contract_open - a store on the flushed cluster */
static struct store *contract_open(void *ctx)
{
	(void)ctx;
	flush_all();
	return open_ok();
}

/* contract_close - close the store; the next open flushes */
static void contract_close(struct store **store, void *ctx)
{
	(void)ctx;
	store_close(store);
}

static const struct store_contract_backend backend = {
	.name = "redis",
	.open = contract_open,
	.close = contract_close,
};

/* pool_limits - l[0] the user's single limit (id 0), l[1] the domain pool's (id 9) */
static void pool_limits(struct store_limit *l, const char *user, const char *pool, size_t plen)
{
	memset(l, 0, 2 * sizeof(*l));
	l[0].owner = user;
	l[0].owner_len = strlen(user);
	l[0].id = 0;
	l[0].count = STORE_COUNT_MESSAGES;
	l[0].window = STORE_WINDOW_SLIDING;
	l[0].interval = 3600;
	l[0].resolution = 60;
	l[0].max = 100;
	l[0].reservation_ttl = 300;
	l[1] = l[0];
	l[1].owner = pool;
	l[1].owner_len = plen;
	l[1].id = 9;
	l[1].max = 3;
}

START_TEST(test_tags)
{
	static const char pool[] = "\0pool:example.com";
	static const char qkey[] = "chapps:q:{example.com}Bob@Example.COM";
	static const char pkey[] = "chapps:l:9:{example.com}\0pool:example.com";
	struct store_limit_ask asks[2] = { { 1, 0 }, { 1, 0 } };
	struct store_limit l[2];
	struct store *store;
	const char *error = NULL;
	size_t refused = 99;
	char resid[16];
	int i;

	flush_all();
	store = open_ok();
	/* a user and the domain's pool in one script call: one slot, so it runs */
	pool_limits(l, "Bob@Example.COM", pool, sizeof(pool) - 1);
	for (i = 0; i < 3; i++) {
		snprintf(resid, sizeof(resid), "R%d", i);
		ck_assert_msg(store_limits_reserve(store, resid, l, asks, 2, 100000, &refused,
						   NULL, &error) == STORE_OK,
			      "reserve %d: %s", i, error);
	}
	ck_assert_int_eq(store_limits_reserve(store, "R3", l, asks, 2, 100000, &refused, NULL,
					      &error), STORE_REFUSED);
	ck_assert_uint_eq(refused, 1);
	ck_assert_int_eq(key_count(qkey, sizeof(qkey) - 1), 1);
	ck_assert_int_eq(key_count(pkey, sizeof(pkey) - 1), 1);
	ck_assert_int_eq(keyslot(qkey, sizeof(qkey) - 1), keyslot(pkey, sizeof(pkey) - 1));
	/* the single quota is the id 0 limit: the same tagged hash */
	ck_assert_int_eq(store_quota_reserve(store, "Bob@Example.COM", 15, "Q1", 1, &P, 100000,
					     NULL, &error), STORE_OK);
	ck_assert_int_eq(key_count(qkey, sizeof(qkey) - 1), 1);
	/* a lock: tagged by the domain too */
	ck_assert_int_eq(store_lock_set(store, "carol@example.com", 17, "test", 100000, &error),
			 STORE_OK);
	ck_assert_int_eq(key_count("chapps:k:{example.com}carol@example.com", 39), 1);
	store_close(&store);
}
END_TEST

/* a reserve over two owners of different tags: two script calls, the first undone on refusal */
START_TEST(test_groups)
{
	struct store_limit_ask asks[2] = { { 1, 0 }, { 1, 0 } };
	struct store_limit l[2];
	struct store_limit_state s[2];
	struct store *store;
	const char *error = NULL;
	size_t refused = 99;

	flush_all();
	store = open_ok();
	pool_limits(l, "ann", "bob", 3);	/* bare names: tags "ann" and "bob" */
	l[1].max = 1;
	ck_assert_uint_ne(slot_of("{ann}"), slot_of("{bob}"));
	ck_assert_int_eq(store_limits_reserve(store, "R1", l, asks, 2, 100000, &refused, s, &error),
			 STORE_OK);
	ck_assert_uint_eq(s[0].reserved, 1);
	ck_assert_uint_eq(s[1].reserved, 1);
	ck_assert_int_eq(store_limits_reserve(store, "R2", l, asks, 2, 100000, &refused, s, &error),
			 STORE_REFUSED);
	ck_assert_uint_eq(refused, 1);
	/* ann's reservation of R2 was released: one unit, R1's */
	ck_assert_int_eq(store_limits_usage(store, l, 1, 100000, s, &error), STORE_OK);
	ck_assert_uint_eq(s[0].reserved, 1);
	ck_assert_int_eq(store_limits_commit(store, "R1", l, NULL, 2, 100000, &error), STORE_OK);
	ck_assert_int_eq(store_limits_usage(store, l, 2, 100000, s, &error), STORE_OK);
	ck_assert_uint_eq(s[0].committed, 1);
	ck_assert_uint_eq(s[1].committed, 1);
	ck_assert_uint_eq(s[0].reserved + s[1].reserved, 0);
	store_close(&store);
}
END_TEST

struct top_seen {
	int n;
	bool bob;
};

/* top_emit - store_limits_top's callback: which owners came back, untagged */
static void top_emit(void *ctx, const char *owner, size_t len, uint64_t committed)
{
	struct top_seen *t = ctx;

	t->n++;
	if (len == 15 && memcmp(owner, "bob@example.com", 15) == 0 && committed == 1)
		t->bob = true;
}

struct lock_seen {
	int n;
	int users;
};

/* lock_emit - store_locks_list's callback: count the users named u<k>@d<k>.example */
static void lock_emit(void *ctx, const char *user, size_t len, int64_t since, const char *reason)
{
	struct lock_seen *l = ctx;

	(void)since;
	(void)reason;
	l->n++;
	if (len > 1 && user[0] == 'u' && memchr(user, '{', len) == NULL)
		l->users++;
}

START_TEST(test_scan_every_master)
{
	struct store *store;
	struct top_seen t = { 0, false };
	struct lock_seen ls = { 0, 0 };
	const char *error = NULL;
	char user[64];
	int i, masters_used = 0;
	bool used[MASTERS] = { false };

	flush_all();
	store = open_ok();
	/* 40 users of 40 domains: their keys spread over the three masters */
	for (i = 0; i < 40; i++) {
		snprintf(user, sizeof(user), "u%d@d%d.example", i, i);
		ck_assert_int_eq(store_lock_set(store, user, strlen(user), "x", 100000, &error),
				 STORE_OK);
	}
	ck_assert_int_eq(store_locks_list(store, lock_emit, &ls, &error), STORE_OK);
	ck_assert_int_eq(ls.n, 40);
	ck_assert_int_eq(ls.users, 40);
	for (i = 0; i < 40; i++) {
		unsigned s;

		snprintf(user, sizeof(user), "chapps:k:{d%d.example}", i);
		s = slot_of(user) * MASTERS / 16384;	/* redis-cli splits the slots evenly */
		if (!used[s]) {
			used[s] = true;
			masters_used++;
		}
	}
	ck_assert_int_eq(masters_used, MASTERS);
	ck_assert_int_eq(store_quota_reserve(store, "bob@example.com", 15, "Q1", 1, &P, 100000,
					     NULL, &error), STORE_OK);
	ck_assert_int_eq(store_quota_commit(store, "bob@example.com", 15, "Q1", &P, 100000,
					    &error), STORE_OK);
	ck_assert_int_eq(store_limits_top(store, 0, 10, top_emit, &t, 100000, &error), STORE_OK);
	ck_assert_int_eq(t.n, 1);
	ck_assert(t.bob);
	store_close(&store);
}
END_TEST

/* node_id - CLUSTER MYID of node i into id (41 bytes) */
static void node_id(int i, char *id)
{
	redisContext *c = node_connect(i);
	redisReply *r = redis_helper_command(c, "CLUSTER MYID");

	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING && r->len == 40,
		      "CLUSTER MYID on node %d", i);
	memcpy(id, r->str, 41);
	freeReplyObject(r);
	redisFree(c);
}

/* slot_owner - the node (index into node_srv) whose CLUSTER SLOTS says it serves slot */
static int slot_owner(long long slot)
{
	int ask = 0;

	while (ask < NODES - 1 && node_srv[ask].pid == 0)	/* killed by test_failover */
		ask++;
	redisContext *c = node_connect(ask);
	redisReply *r = redis_helper_command(c, "CLUSTER SLOTS");
	int owner = -1;
	size_t i;
	int k;

	ck_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
	for (i = 0; i < r->elements; i++) {
		redisReply *e = r->element[i];

		if (e->element[0]->integer <= slot && slot <= e->element[1]->integer)
			for (k = 0; k < NODES; k++)
				if (node_srv[k].port == e->element[2]->element[1]->integer)
					owner = k;
	}
	freeReplyObject(r);
	redisFree(c);
	return owner;
}

/* on_node - a command on node i that must not fail; returns the reply's type */
static void on_node(int i, const char *fmt, ...)
{
	redisContext *c = node_connect(i);
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(r != NULL && r->type != REDIS_REPLY_ERROR, "node %d: %s: %s", i, fmt,
		      r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "I/O error");
	freeReplyObject(r);
	redisFree(c);
}

/* used_now - the committed + reserved usage of user's single quota */
static uint32_t used_now(struct store *store, const char *user)
{
	struct store_quota_state s;
	const char *error = NULL;

	ck_assert_msg(store_quota_usage(store, user, strlen(user), &P, 100000, &s, &error) ==
		      STORE_OK, "usage of %s: %s", user, error);
	return s.committed + s.reserved;
}

START_TEST(test_reshard)
{
	static const char ukey[] = "chapps:q:{moving.example}u@moving.example";
	struct store *store;
	const char *error = NULL;
	char src_id[41], dst_id[41];
	long long slot = keyslot(ukey, sizeof(ukey) - 1);
	int src, dst, i;

	flush_all();
	store = open_ok();
	src = slot_owner(slot);
	ck_assert_int_ge(src, 0);
	for (dst = 0; dst < NODES && (dst == src || !is_master(dst)); dst++)
		;
	ck_assert_int_lt(dst, NODES);
	node_id(src, src_id);
	node_id(dst, dst_id);

	/* u's state on the source before the move */
	ck_assert_int_eq(store_quota_reserve(store, "u@moving.example", 16, "A1", 1, &P, 100000,
					     NULL, &error), STORE_OK);
	ck_assert_uint_eq(used_now(store, "u@moving.example"), 1);

	/* migrating: u's key is still on the source, v's (same slot, absent) gets ASK */
	on_node(dst, "CLUSTER SETSLOT %lld IMPORTING %s", slot, src_id);
	on_node(src, "CLUSTER SETSLOT %lld MIGRATING %s", slot, dst_id);
	ck_assert_int_eq(store_quota_reserve(store, "u@moving.example", 16, "A2", 1, &P, 100000,
					     NULL, &error), STORE_OK);
	ck_assert_uint_eq(used_now(store, "u@moving.example"), 2);
	ck_assert_msg(store_quota_reserve(store, "v@moving.example", 16, "B1", 1, &P, 100000, NULL,
					  &error) == STORE_OK, "reserve through ASK: %s", error);
	ck_assert_uint_eq(used_now(store, "v@moving.example"), 1);

	/* u's key moved to the destination, the slot not yet: ASK for u too */
	on_node(src, "MIGRATE 127.0.0.1 %d %s 0 5000 KEYS %b", node_srv[dst].port, "", ukey,
		sizeof(ukey) - 1);
	for (i = 0; i < 3; i++) {
		char resid[8];

		snprintf(resid, sizeof(resid), "A%d", 3 + i);
		ck_assert_msg(store_quota_reserve(store, "u@moving.example", 16, resid, 1, &P,
						  100000, NULL, &error) == STORE_OK,
			      "reserve %d during the migration: %s", i, error);
	}
	ck_assert_uint_eq(used_now(store, "u@moving.example"), 5);
	ck_assert_uint_eq(used_now(store, "v@moving.example"), 1);

	/* the slot is the destination's: MOVED, then the map says so */
	for (i = 0; i < NODES; i++)
		if (is_master(i))
			on_node(i, "CLUSTER SETSLOT %lld NODE %s", slot, dst_id);
	ck_assert_uint_eq(used_now(store, "u@moving.example"), 5);
	ck_assert_int_eq(store_quota_reserve(store, "u@moving.example", 16, "A9", 5, &P, 100000,
					     NULL, &error), STORE_OK);
	ck_assert_int_eq(store_quota_reserve(store, "u@moving.example", 16, "A10", 1, &P, 100000,
					     NULL, &error), STORE_REFUSED);
	ck_assert_uint_eq(used_now(store, "u@moving.example"), 10);
	ck_assert_uint_eq(used_now(store, "v@moving.example"), 1);
	ck_assert_int_eq(slot_owner(slot), dst);
	store_close(&store);

	/* and back, so that the next cases find the layout redis-cli made */
	on_node(src, "CLUSTER SETSLOT %lld IMPORTING %s", slot, dst_id);
	on_node(dst, "CLUSTER SETSLOT %lld MIGRATING %s", slot, src_id);
	on_node(dst, "MIGRATE 127.0.0.1 %d %s 0 5000 KEYS %b %s", node_srv[src].port, "", ukey,
		sizeof(ukey) - 1, "chapps:q:{moving.example}v@moving.example");
	for (i = 0; i < NODES; i++)
		if (is_master(i))
			on_node(i, "CLUSTER SETSLOT %lld NODE %s", slot, src_id);
}
END_TEST

#define RACE_PROCS 2
#define RACE_THREADS 16
#define RACE_PER_THREAD 40
#define RACE_LIMIT 500

struct racer {
	pthread_t thread;
	struct store *store;
	int index, proc;
	int granted, errors;
};

/* racer_main - RACE_PER_THREAD reservations of one unit for one shared user and its pool */
static void *racer_main(void *arg)
{
	static const char pool[] = "\0pool:race.example";
	struct racer *r = arg;
	struct store_limit l[2];
	struct store_limit_ask asks[2] = { { 1, 0 }, { 1, 0 } };
	const char *error;
	char resid[32];
	int i, ret;

	pool_limits(l, "shared@race.example", pool, sizeof(pool) - 1);
	l[0].max = 100000;
	l[1].max = RACE_LIMIT;
	for (i = 0; i < RACE_PER_THREAD; i++) {
		snprintf(resid, sizeof(resid), "p%d-t%d-%d", r->proc, r->index, i);
		error = NULL;
		ret = store_limits_reserve(r->store, resid, l, asks, 2, 100000, NULL, NULL,
					   &error);
		if (ret == STORE_OK)
			r->granted++;
		else if (ret != STORE_REFUSED)
			r->errors++;
	}
	return NULL;
}

/* race_proc - one process's RACE_THREADS racers on its own store; writes granted, errors */
static void race_proc(int proc, int fd)
{
	struct racer r[RACE_THREADS];
	struct store *store = NULL;
	struct config cfg;
	const char *error = NULL;
	int out[2] = { 0, 0 }, i;

	config_cluster(&cfg);
	if (store_open(&cfg, &store, &error) != 0)
		_exit(2);
	memset(r, 0, sizeof(r));
	for (i = 0; i < RACE_THREADS; i++) {
		r[i].store = store;
		r[i].index = i;
		r[i].proc = proc;
		if (pthread_create(&r[i].thread, NULL, racer_main, &r[i]) != 0)
			_exit(3);
	}
	for (i = 0; i < RACE_THREADS; i++) {
		pthread_join(r[i].thread, NULL);
		out[0] += r[i].granted;
		out[1] += r[i].errors;
	}
	store_close(&store);
	if (write(fd, out, sizeof(out)) != (ssize_t)sizeof(out))
		_exit(4);
	_exit(0);
}

START_TEST(test_race_processes)
{
	static const char pool[] = "\0pool:race.example";
	struct store_limit l[2];
	struct store_limit_state states[2];
	struct store *store;
	const char *error = NULL;
	int fds[RACE_PROCS][2], granted = 0, errors = 0, i, status;
	pid_t pids[RACE_PROCS];

	flush_all();
	for (i = 0; i < RACE_PROCS; i++) {
		ck_assert_int_eq(pipe(fds[i]), 0);
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(fds[i][0]);
			race_proc(i, fds[i][1]);
		}
		close(fds[i][1]);
	}
	for (i = 0; i < RACE_PROCS; i++) {
		int got[2];

		ck_assert_int_eq(read(fds[i][0], got, sizeof(got)), (ssize_t)sizeof(got));
		close(fds[i][0]);
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d: %d", i,
			      status);
		granted += got[0];
		errors += got[1];
	}
	ck_assert_int_eq(errors, 0);
	ck_assert_int_eq(granted, RACE_LIMIT);
	store = open_ok();
	pool_limits(l, "shared@race.example", pool, sizeof(pool) - 1);
	l[0].max = 100000;
	l[1].max = RACE_LIMIT;
	ck_assert_int_eq(store_limits_usage(store, l, 2, 100000, states, &error), STORE_OK);
	ck_assert_uint_eq(states[0].reserved, RACE_LIMIT);
	ck_assert_uint_eq(states[1].reserved, RACE_LIMIT);
	store_close(&store);
}
END_TEST

/* failover_user - a user of another domain than "failover.example" whose slot another master serves */
static void failover_user(int master, char *user, size_t size)
{
	char key[64];
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "chapps:q:{d%d.example}", i);
		if (slot_owner(keyslot(key, strlen(key))) != master) {
			snprintf(user, size, "x@d%d.example", i);
			return;
		}
	}
	ck_abort_msg("no slot on another master");
}

START_TEST(test_failover)
{
	static const char ukey[] = "chapps:q:{failover.example}f@failover.example";
	struct store_quota_state st;
	struct store *store;
	const char *error = NULL;
	char other[64];
	long long slot = keyslot(ukey, sizeof(ukey) - 1), end, start;
	int master = slot_owner(slot), failed = 0, ret;

	ck_assert_int_ge(master, 0);
	failover_user(master, other, sizeof(other));
	flush_all();
	store = open_ok();
	ck_assert_int_eq(store_quota_reserve(store, "f@failover.example", 18, "F1", 1, &P, 100000,
					     NULL, &error), STORE_OK);
	ck_assert_int_eq(store_quota_commit(store, "f@failover.example", 18, "F1", &P, 100000,
					    &error), STORE_OK);
	/* the replica holds the count before its master dies */
	{
		redisContext *c = node_connect(master);

		ck_assert_int_eq(redis_helper_integer(c, "WAIT 1 5000"), 1);
		redisFree(c);
	}
	redis_helper_kill(&node_srv[master]);
	start = redis_helper_mono_ms();

	/* while it is down its slots fail, and the other masters' still answer */
	ret = store_quota_usage(store, "f@failover.example", 18, &P, 100000, &st, &error);
	ck_assert_int_eq(ret, STORE_ERROR);
	ck_assert_msg(store_quota_usage(store, other, strlen(other), &P, 100000, &st, &error) ==
		      STORE_OK, "another master's user during the outage: %s", error);

	/* the cluster promotes the replica: the same store works again, same count */
	end = redis_helper_mono_ms() + READY_MS;
	while ((ret = store_quota_usage(store, "f@failover.example", 18, &P, 100000, &st,
					&error)) != STORE_OK) {
		ck_assert_int_eq(ret, STORE_ERROR);
		ck_assert_msg(redis_helper_mono_ms() < end, "no recovery in %d ms: %s", READY_MS,
			      error);
		failed++;
		nap(POLL_MS);
	}
	fprintf(stderr, "test_failover: master killed, %d failed calls, recovered after %lld ms\n",
		failed + 1, redis_helper_mono_ms() - start);
	ck_assert_uint_eq(st.committed, 1);
	ck_assert_int_ne(slot_owner(slot), master);
	ck_assert_int_eq(store_quota_reserve(store, "f@failover.example", 18, "F2", 1, &P, 100000,
					     NULL, &error), STORE_OK);
	store_close(&store);
}
END_TEST

static Suite *slot_suite(void)
{
	Suite *s = suite_create("redis_cluster_slot");
	TCase *tc = tcase_create("slot");

	tcase_add_test(tc, test_slot_known);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *cluster_suite(void)
{
	Suite *s = suite_create("redis_cluster");
	TCase *tc;

	tc = tcase_create("cluster");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_slot_server);
	tcase_add_test(tc, test_tags);
	tcase_add_test(tc, test_groups);
	tcase_add_test(tc, test_scan_every_master);
	tcase_add_test(tc, test_reshard);
	tcase_add_test(tc, test_race_processes);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *failover_suite(void)
{
	Suite *s = suite_create("redis_cluster_failover");
	TCase *tc = tcase_create("failover");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_failover);
	suite_add_tcase(s, tc);
	return s;
}

/* cluster_ok - does every node say cluster_state:ok and know 3 slot ranges? */
static bool cluster_ok(void)
{
	int i;

	for (i = 0; i < NODES; i++) {
		redisContext *c = redis_helper_connect(&node_srv[i]);
		redisReply *r;
		bool ok;

		if (c == NULL)
			return false;
		r = redis_helper_command(c, "CLUSTER INFO");
		ok = r != NULL && r->type == REDIS_REPLY_STRING &&
		     strstr(r->str, "cluster_state:ok") != NULL &&
		     strstr(r->str, "cluster_known_nodes:6") != NULL;
		freeReplyObject(r);
		if (ok) {
			r = redis_helper_command(c, "CLUSTER SLOTS");
			ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == MASTERS;
			freeReplyObject(r);
		}
		redisFree(c);
		if (!ok)
			return false;
	}
	return true;
}

/* cluster_start - six nodes, redis-cli --cluster create, then poll until ready; 0 or -1 */
static int cluster_start(void)
{
	char addr[NODES][32];
	const char *argv[NODES + 8];
	int i, argc = 0, status;
	long long end;
	pid_t pid;

	for (i = 0; i < NODES; i++) {
		struct redis_helper_options opts = {
			.port_first = i == 0 ? PORT_FIRST : node_srv[i - 1].port + 1,
			.port_last = PORT_LAST, .cluster = true,
		};

		if (redis_helper_start(&node_srv[i], &opts) < 0)
			return -1;
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", node_srv[i].port);
	}
	for (i = 0; i < MASTERS; i++) {
		snprintf(seed_buf[i], sizeof(seed_buf[i]), "%s", addr[i]);
		seeds[i] = seed_buf[i];
	}
	argv[argc++] = "redis-cli";
	argv[argc++] = "--cluster";
	argv[argc++] = "create";
	for (i = 0; i < NODES; i++)
		argv[argc++] = addr[i];
	argv[argc++] = "--cluster-replicas";
	argv[argc++] = "1";
	argv[argc++] = "--cluster-yes";
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execvp("redis-cli", (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "check_store_cluster: redis-cli --cluster create failed (%d)\n",
			status);
		return -1;
	}
	end = redis_helper_mono_ms() + READY_MS;
	while (!cluster_ok()) {
		if (redis_helper_mono_ms() >= end) {
			fprintf(stderr, "check_store_cluster: cluster not ready in %d ms\n",
				READY_MS);
			return -1;
		}
		nap(POLL_MS);
	}
	return 0;
}

int main(void)
{
	SRunner *sr;
	int failed, i, rc = 0;

	if (redis_helper_binary("redis-server") == NULL ||
	    system("redis-cli --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "check_store_cluster: redis-server or redis-cli not installed, "
			"skipping\n");
		return 77;
	}
	sr = srunner_create(slot_suite());
	if (cluster_start() < 0)
		rc = -1;
	else {
		srunner_add_suite(sr, cluster_suite());
		srunner_add_suite(sr, store_contract_suite(&backend));
		srunner_add_suite(sr, failover_suite());	/* last: it kills a master */
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (i = 0; i < NODES; i++)
		redis_helper_stop(&node_srv[i]);
	return failed == 0 && rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
