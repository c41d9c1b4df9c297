/*
 * check_store_redis - the Redis store engine against a real redis-server
 *
 * Runs the engine-neutral contract suite (tests/store_contract.h) against
 * a throwaway server on 127.0.0.1, then the Redis-specific cases: the key
 * layout, NOSCRIPT recovery, error replies, the reservation cap, bucket
 * folding after clock jumps, a server killed or hung mid-run (STORE_ERROR
 * within the timeouts, recovery without reopening the store), password,
 * database index, unix socket, pooling, the locks' layout (seen at once
 * through a second pool), store_mail_lookup's error replies and deadline,
 * the cost of store_lock_get and store_mail_lookup, and deferred commits
 * (store.redis.defer_commit: with the next command, by the flusher, after
 * NOSCRIPT, after a killed connection, at close).  Exits 77 when
 * redis-server is not installed.
 */
#include "autoconf.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "redis_helper.h"
#include "store/store.h"
#include "store_contract.h"

#define PORT_MAIN_FIRST 16300	/* the shared server */
#define PORT_MAIN_LAST 16329
#define PORT_OWN_FIRST 16330	/* servers of single cases */
#define PORT_OWN_LAST 16399
#define TIMEOUT_MS 300		/* connect and command timeouts of the failure cases */

static struct redis_helper_server main_srv;

static long long info_field(redisContext *c, const char *name);

/*
 * The server of a case that kills, stops or configures it: started by an
 * unchecked fixture, so in the runner's process, which stops it and
 * removes its directory even when the case (a forked child) fails.  A
 * server the case restarts dies with the case's process (PDEATHSIG).
 */
static struct redis_helper_server own_srv;
static struct redis_helper_options own_opts;
static char own_password[] = "s3cr et";

static char localhost[] = "127.0.0.1";

static const struct store_quota_params P = {
	.limit = 10, .margin = 2, .interval = 3600, .resolution = 60, .reservation_ttl = 300,
};

/* config_for - a zeroed config that points at srv */
static void config_for(struct config *cfg, const struct redis_helper_server *srv)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->store_backend = STORE_BACKEND_REDIS;
	cfg->redis_server = localhost;
	cfg->redis_port = srv->port;
	cfg->redis_connect_timeout_ms = 1000;
	cfg->redis_command_timeout_ms = 1000;
}

/* open_ok - store_open that must succeed */
static struct store *open_ok(const struct config *cfg)
{
	struct store *store = NULL;
	const char *error = NULL;

	ck_assert_msg(store_open(cfg, &store, &error) == 0, "store_open: got error %s, want 0",
		      error);
	ck_assert_str_eq(store_backend_name(store), "redis");
	return store;
}

/* connect_ok - a direct connection to srv that must succeed */
static redisContext *connect_ok(const struct redis_helper_server *srv)
{
	redisContext *c = redis_helper_connect(srv);

	ck_assert_msg(c != NULL, "cannot connect to the test server on port %d", srv->port);
	return c;
}

/* flushall - empty the shared server */
static void flushall(void)
{
	redisContext *c = connect_ok(&main_srv);
	redisReply *r = redis_helper_command(c, "FLUSHALL");

	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "FLUSHALL failed");
	freeReplyObject(r);
	redisFree(c);
}

/* script_flush - SCRIPT FLUSH on c, which must succeed (the server forgets every script) */
static void script_flush(redisContext *c)
{
	redisReply *r = redis_helper_command(c, "SCRIPT FLUSH");

	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "SCRIPT FLUSH failed");
	freeReplyObject(r);
}

/* reserve - store_quota_reserve with P at now, returning the status */
static int reserve(struct store *store, const char *user, const char *resid, uint32_t n,
		   int64_t now, struct store_quota_state *st, const char **error)
{
	return store_quota_reserve(store, user, strlen(user), resid, n, &P, now, st, error);
}

/* ---- the contract suite ------------------------------------------------ */

/* contract_open - a store on the flushed shared server */
static struct store *contract_open(void *ctx)
{
	struct config cfg;

	flushall();
	config_for(&cfg, &main_srv);
	return open_ok(&cfg);
}

/* contract_close - close the store; the next open flushes */
static void contract_close(struct store **store, void *ctx)
{
	store_close(store);
}

static const struct store_contract_backend backend = {
	.name = "redis",
	.open = contract_open,
	.close = contract_close,
};

/* ---- fixtures ---------------------------------------------------------- */

/* setup_flush - empty the shared server before a case */
static void setup_flush(void)
{
	flushall();
}

/* start_own - start own_srv with own_opts (ports from the single-case range) */
static void start_own(void)
{
	own_opts.port_first = own_opts.unix_socket ? 0 : PORT_OWN_FIRST;
	own_opts.port_last = own_opts.unix_socket ? 0 : PORT_OWN_LAST;
	ck_assert_msg(redis_helper_start(&own_srv, &own_opts) == 0, "cannot start redis-server");
}

/* setup_own_plain - a plain server of the case's own */
static void setup_own_plain(void)
{
	memset(&own_opts, 0, sizeof(own_opts));
	start_own();
}

/* setup_own_password - a server with requirepass (with a space in it) */
static void setup_own_password(void)
{
	memset(&own_opts, 0, sizeof(own_opts));
	own_opts.password = own_password;
	start_own();
}

/* setup_own_unix - a server on a unix socket only */
static void setup_own_unix(void)
{
	memset(&own_opts, 0, sizeof(own_opts));
	own_opts.unix_socket = true;	/* and TCP off: port 0 */
	start_own();
}

/* teardown_own - stop the case's server and remove its directory */
static void teardown_own(void)
{
	redis_helper_stop(&own_srv);
}

/* ---- layout ------------------------------------------------------------ */

START_TEST(test_key_layout)
{
	static const char user[] = "a\0b:c d";	/* NUL, colon, space */
	const size_t ulen = sizeof(user) - 1;
	const int64_t now = 100000;
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	redisReply *r;
	char key[64], want[64];
	size_t klen;
	long long ttl;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	ck_assert_int_eq(store_quota_reserve(store, user, ulen, "R1", 3, &P, now, &st, &error),
			 STORE_OK);
	memcpy(key, "chapps:q:", 9);
	memcpy(key + 9, user, ulen);
	klen = 9 + ulen;

	c = connect_ok(&main_srv);
	r = redis_helper_command(c, "HGET %b rR1", key, klen);
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING, "reservation field missing");
	snprintf(want, sizeof(want), "3 %lld", (long long)(now + P.reservation_ttl));
	ck_assert_msg(strcmp(r->str, want) == 0, "reservation: got '%s', want '%s'", r->str, want);
	freeReplyObject(r);
	ttl = redis_helper_integer(c, "TTL %b", key, klen);
	ck_assert_msg(ttl > P.reservation_ttl && ttl <= P.reservation_ttl + 60,
		      "TTL after reserve: got %lld, want (%u, %u]", ttl, P.reservation_ttl,
		      P.reservation_ttl + 60);
	/* a user "a" must not see it */
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS chapps:q:a"), 0);

	ck_assert_int_eq(store_quota_commit(store, user, ulen, "R1", &P, now, &error), STORE_OK);
	r = redis_helper_command(c, "HGET %b b%lld", key, klen, (long long)(now / P.resolution));
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "3") == 0,
		      "bucket field: got %s, want 3", r != NULL && r->str ? r->str : "nothing");
	freeReplyObject(r);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS %b rR1", key, klen), 0);
	/* the bucket lives until (bucket + 1) * resolution + interval */
	ttl = redis_helper_integer(c, "TTL %b", key, klen);
	ck_assert_msg(ttl > P.interval && ttl <= P.interval + P.resolution + 60,
		      "TTL after commit: got %lld, want (%u, %u]", ttl, P.interval,
		      P.interval + P.resolution + 60);

	/* releasing the only item deletes the key */
	ck_assert_int_eq(store_quota_reset(store, user, ulen, NULL, &error), STORE_OK);
	ck_assert_int_eq(store_quota_reserve(store, user, ulen, "R2", 1, &P, now, &st, &error),
			 STORE_OK);
	ck_assert_int_eq(store_quota_release(store, user, ulen, "R2", now, &error), STORE_OK);
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS %b", key, klen), 0);

	/* cache: prefix + binary key, 8-byte expiry, real TTL ttl + slack */
	ck_assert_int_eq(store_cache_set(store, "k\0x", 3, "val", 3, 100, now, &error), STORE_OK);
	r = redis_helper_command(c, "GET %b", "chapps:c:k\0x", (size_t)12);
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING && r->len == 11 &&
			      memcmp(r->str + 8, "val", 3) == 0,
		      "cache entry layout");
	freeReplyObject(r);
	ttl = redis_helper_integer(c, "TTL %b", "chapps:c:k\0x", (size_t)12);
	ck_assert_msg(ttl > 100 && ttl <= 160, "cache TTL: got %lld, want (100, 160]", ttl);
	redisFree(c);
	store_close(&store);
	ck_assert_ptr_null(store);
}
END_TEST


/* two_limits - l[0] messages (id 7) and l[1] distinct recipients (id 8) of owner, per hour */
static void two_limits(struct store_limit *l, const char *owner, size_t olen)
{
	memset(l, 0, 2 * sizeof(*l));
	l[0].owner = owner;
	l[0].owner_len = olen;
	l[0].id = 7;
	l[0].count = STORE_COUNT_MESSAGES;
	l[0].window = STORE_WINDOW_SLIDING;
	l[0].interval = 3600;
	l[0].resolution = 60;
	l[0].max = 10;
	l[0].reservation_ttl = 300;
	l[1] = l[0];
	l[1].id = 8;
	l[1].count = STORE_COUNT_DISTINCT;
}

START_TEST(test_limits_key_layout)
{
	static const char owner[] = "\0pool:x";	/* a pool name: NUL, colon */
	const size_t olen = sizeof(owner) - 1;
	const int64_t now = 100000;
	struct store_limit l[2];
	struct store_limit_ask asks[2] = { { 1, 0 }, { 1, 0xabcdef } };
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	redisReply *r;
	char key[64], set[64];
	size_t klen, slen;
	long long ttl;

	two_limits(l, owner, olen);
	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	ck_assert_int_eq(store_limits_reserve(store, "R1", l, asks, 2, now, NULL, NULL, &error),
			 STORE_OK);
	ck_assert_int_eq(store_limits_commit(store, "R1", l, NULL, 2, now, &error), STORE_OK);
	memcpy(key, "chapps:l:7:", 11);
	memcpy(key + 11, owner, olen);
	klen = 11 + olen;
	memcpy(set, "chapps:lh:8:", 12);
	memcpy(set + 12, owner, olen);
	slen = 12 + olen;

	c = connect_ok(&main_srv);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS %b b%lld", key, klen,
					      (long long)(now / 60)), 1);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS %b rR1", key, klen), 0);
	ck_assert_int_eq(redis_helper_integer(c, "ZCARD %b", set, slen), 1);
	r = redis_helper_command(c, "ZSCORE %b 0000000000abcdef", set, slen);
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING && atoll(r->str) == now,
		      "address: got %s, want %lld", r != NULL && r->str ? r->str : "nothing",
		      (long long)now);
	freeReplyObject(r);
	/* every key expires: a bucket lives for at most interval + resolution */
	ttl = redis_helper_integer(c, "TTL %b", key, klen);
	ck_assert_msg(ttl > 3600 && ttl <= 3660 + 60, "limit TTL: got %lld", ttl);
	ttl = redis_helper_integer(c, "TTL %b", set, slen);
	ck_assert_msg(ttl > 3600 && ttl <= 3660 + 60, "address set TTL: got %lld", ttl);
	/* the single quota's key is untouched by other ids */
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS %b", "chapps:q:\0pool:x", (size_t)16), 0);
	ck_assert_int_eq(store_limits_reset(store, l, 2, &error), STORE_OK);
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS %b", key, klen), 0);
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS %b", set, slen), 0);
	redisFree(c);
	store_close(&store);
}
END_TEST

/* ---- script and server errors ----------------------------------------- */

START_TEST(test_noscript_recovery)
{
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	int i;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	c = connect_ok(&main_srv);
	for (i = 1; i <= 3; i++) {
		script_flush(c);
		ck_assert_msg(reserve(store, "bob", "R1", 1, 1000, &st, &error) == STORE_OK,
			      "reserve %d after SCRIPT FLUSH: got error %s, want STORE_OK", i,
			      error);
		ck_assert_msg(st.own == (uint32_t)i, "own: got %u, want %d", st.own, i);
	}
	ck_assert_int_eq(store_quota_usage(store, "bob", 3, &P, 1000, &st, &error), STORE_OK);
	ck_assert_uint_eq(st.reserved, 3);
	redisFree(c);
	store_close(&store);
}
END_TEST

START_TEST(test_error_reply)
{
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	redisReply *r;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	c = connect_ok(&main_srv);
	r = redis_helper_command(c, "SET chapps:q:bob notahash");
	freeReplyObject(r);
	ck_assert_int_eq(reserve(store, "bob", "R1", 1, 1000, &st, &error), STORE_ERROR);
	ck_assert_msg(error != NULL && strstr(error, "WRONGTYPE") != NULL,
		      "error: got '%s', want WRONGTYPE", error);
	/* the connection stays usable */
	ck_assert_int_eq(reserve(store, "alice", "R1", 1, 1000, &st, &error), STORE_OK);
	redisFree(c);
	store_close(&store);
}
END_TEST

/* mail_lookup - store_mail_lookup of user with a fixed cache key */
static int mail_lookup(struct store *store, const char *user, int *lock, const char **error)
{
	struct store_lock_info info;
	char val[8];
	size_t len = sizeof(val);

	return store_mail_lookup(store, "sdakey", 6, val, &len, user, strlen(user), 1000, lock,
				 &info, error);
}

START_TEST(test_mail_lookup_error_reply)
{
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	redisReply *r;
	long long before;
	int lock;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	c = connect_ok(&main_srv);
	before = info_field(c, "total_connections_received");
	/* the lock's HMGET fails (the cache's GET does not): no answer at all */
	r = redis_helper_command(c, "SET chapps:k:bob notahash");
	freeReplyObject(r);
	ck_assert_int_eq(mail_lookup(store, "bob", &lock, &error), STORE_ERROR);
	ck_assert_int_eq(lock, STORE_ERROR);
	ck_assert_msg(error != NULL && strstr(error, "WRONGTYPE") != NULL &&
			      strstr(error, "HMGET") != NULL,
		      "error: got '%s', want HMGET: WRONGTYPE", error);
	/* the cache's GET fails */
	r = redis_helper_command(c, "HSET chapps:c:sdakey f v");
	freeReplyObject(r);
	ck_assert_int_eq(mail_lookup(store, "alice", &lock, &error), STORE_ERROR);
	ck_assert_msg(error != NULL && strstr(error, "GET") != NULL,
		      "error: got '%s', want GET: WRONGTYPE", error);
	/* the connection stays in the pool and usable: nothing was left unread */
	r = redis_helper_command(c, "DEL chapps:c:sdakey");
	freeReplyObject(r);
	ck_assert_int_eq(mail_lookup(store, "alice", &lock, &error), STORE_MISS);
	ck_assert_int_eq(lock, STORE_MISS);
	ck_assert_int_eq(store_lock_set(store, "alice", 5, "r", 1000, &error), STORE_OK);
	ck_assert_int_eq(mail_lookup(store, "alice", &lock, &error), STORE_MISS);
	ck_assert_int_eq(lock, STORE_OK);
	/* the connection opened by store_open served every call */
	ck_assert_int_eq(info_field(c, "total_connections_received") - before, 0);
	redisFree(c);
	store_close(&store);
}
END_TEST

/* ---- bounds ------------------------------------------------------------ */

START_TEST(test_reservation_cap)
{
	const struct store_quota_params big = {
		.limit = 100000, .margin = 0, .interval = 60, .resolution = 10,
		.reservation_ttl = 30,
	};
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	char resid[16];
	int i;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	for (i = 0; i < 1024; i++) {
		snprintf(resid, sizeof(resid), "r%d", i);
		ck_assert_msg(store_quota_reserve(store, "u", 1, resid, 1, &big, 1000, &st,
						  &error) == STORE_OK,
			      "reserve %d: got error %s, want STORE_OK", i, error);
	}
	ck_assert_int_eq(store_quota_reserve(store, "u", 1, "one-more", 1, &big, 1000, &st,
					     &error),
			 STORE_ERROR);
	ck_assert_msg(strstr(error, "too many") != NULL, "error: got '%s', want too many", error);
	/* an open one may still grow */
	ck_assert_int_eq(store_quota_reserve(store, "u", 1, "r7", 1, &big, 1001, &st, &error),
			 STORE_OK);
	ck_assert_uint_eq(st.own, 2);
	ck_assert_uint_eq(st.reserved, 1025);
	/* once they expire there is room again, and the dead ones are pruned */
	ck_assert_int_eq(store_quota_reserve(store, "u", 1, "one-more", 1, &big, 1031, &st,
					     &error),
			 STORE_OK);
	ck_assert_uint_eq(st.reserved, 1);
	c = connect_ok(&main_srv);
	/* the live reservation and the aggregate field "b" */
	ck_assert_int_eq(redis_helper_integer(c, "HLEN chapps:q:u"), 2);
	redisFree(c);
	store_close(&store);
}
END_TEST

START_TEST(test_bucket_fold)
{
	/* 10 s window, 1 s buckets: at most 12 buckets kept */
	const struct store_quota_params p = {
		.limit = 1000, .margin = 0, .interval = 10, .resolution = 1, .reservation_ttl = 30,
	};
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	int64_t t;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	/* a clock running backwards leaves "future" buckets alive: 21 of them */
	for (t = 1040; t >= 1020; t--) {
		ck_assert_int_eq(store_quota_reserve(store, "u", 1, "R", 1, &p, t, &st, &error),
				 STORE_OK);
		ck_assert_int_eq(store_quota_commit(store, "u", 1, "R", &p, t, &error), STORE_OK);
	}
	c = connect_ok(&main_srv);
	/* 12 buckets and the aggregate field "b" */
	ck_assert_msg(redis_helper_integer(c, "HLEN chapps:q:u") <= 13,
		      "fields: got %lld, want <= 13", redis_helper_integer(c, "HLEN chapps:q:u"));
	redisFree(c);
	/* folding never loses usage: at 1030 all 21 commits still count ... */
	ck_assert_int_eq(store_quota_usage(store, "u", 1, &p, 1030, &st, &error), STORE_OK);
	ck_assert_uint_eq(st.committed, 21);
	ck_assert_int_eq(st.last_send, 1040);
	/* ... and at 1040 at least those of 1030..1040 */
	ck_assert_int_eq(store_quota_usage(store, "u", 1, &p, 1040, &st, &error), STORE_OK);
	ck_assert_uint_ge(st.committed, 11);
	store_close(&store);
}
END_TEST

/* hash_fields - user's quota hash without the aggregate field, as "f=v;" sorted by Redis order */
static void hash_fields(redisContext *c, const char *user, char *buf, size_t size)
{
	redisReply *r = redis_helper_command(c, "HGETALL chapps:q:%s", user);
	size_t i, len = 0;

	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_ARRAY, "HGETALL %s failed", user);
	buf[0] = '\0';
	for (i = 0; i + 1 < r->elements; i += 2) {
		if (strcmp(r->element[i]->str, "b") == 0)
			continue;
		len += (size_t)snprintf(buf + len, size > len ? size - len : 0, "%s=%s;",
					r->element[i]->str, r->element[i + 1]->str);
	}
	ck_assert_msg(len < size, "hash of %s too big", user);
	freeReplyObject(r);
}

/* sorted_fields - hash_fields, sorted, so two hashes compare by content */
static void sorted_fields(redisContext *c, const char *user, char *buf, size_t size)
{
	char tmp[4096], *parts[256], *p, *save = NULL;
	size_t np = 0, i, j, len = 0;

	hash_fields(c, user, tmp, sizeof(tmp));
	for (p = strtok_r(tmp, ";", &save); p != NULL && np < 256; p = strtok_r(NULL, ";", &save))
		parts[np++] = p;
	for (i = 1; i < np; i++)
		for (j = i; j > 0 && strcmp(parts[j - 1], parts[j]) > 0; j--) {
			p = parts[j]; parts[j] = parts[j - 1]; parts[j - 1] = p;
		}
	buf[0] = '\0';
	for (i = 0; i < np; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s;", parts[i]);
}

START_TEST(test_aggregates)
{
	/*
	 * The same random sequence on two users: "fast" keeps its running
	 * aggregates, "slow" loses them before every call (an old-format key:
	 * full recompute each time).  Every answer and the stored buckets and
	 * reservations must agree, through expiry, folding (a clock running
	 * backwards) and releases.
	 */
	const struct store_quota_params p = {
		.limit = 60, .margin = 4, .interval = 10, .resolution = 1, .reservation_ttl = 5,
	};
	static const char *const ids[] = { "r1", "r2", "r3", "r4", "r5" };
	struct store_quota_state sf, ss;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	char hf[4096], hs[4096];
	uint32_t seed = 12345, df, ds;
	int64_t now = 100000;
	int step, rf, rs, fast_seen = 0;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	c = connect_ok(&main_srv);
	for (step = 0; step < 3000; step++) {
		uint32_t x, op;
		const char *id;

		seed = seed * 1103515245u + 12345u;
		x = seed >> 8;
		op = x % 100;
		id = ids[(x / 100) % 5];
		if (op < 8)
			now -= 3;
		else if (op < 10)
			now += 25;
		else if (op < 40)
			now += 1;
		freeReplyObject(redis_helper_command(c, "HDEL chapps:q:slow b"));
		memset(&sf, 0, sizeof(sf));
		memset(&ss, 0, sizeof(ss));
		if (op < 55) {
			uint32_t n = 1 + (x / 1000) % 3;

			rf = store_quota_reserve(store, "fast", 4, id, n, &p, now, &sf, &error);
			rs = store_quota_reserve(store, "slow", 4, id, n, &p, now, &ss, &error);
		} else if (op < 85) {
			rf = store_quota_commit(store, "fast", 4, id, &p, now, &error);
			rs = store_quota_commit(store, "slow", 4, id, &p, now, &error);
		} else if (op < 95) {
			rf = store_quota_release(store, "fast", 4, id, now, &error);
			rs = store_quota_release(store, "slow", 4, id, now, &error);
		} else if (op < 99) {
			rf = store_quota_usage(store, "fast", 4, &p, now, &sf, &error);
			rs = store_quota_usage(store, "slow", 4, &p, now, &ss, &error);
		} else {
			df = ds = 7;
			rf = store_quota_reset(store, "fast", 4, &df, &error);
			rs = store_quota_reset(store, "slow", 4, &ds, &error);
			ck_assert_msg(df == ds, "step %d: dropped: got %u, want %u", step, df, ds);
		}
		ck_assert_msg(rf == rs, "step %d op %u: status: got %d, want %d", step, op, rf, rs);
		ck_assert_msg(sf.committed == ss.committed && sf.reserved == ss.reserved &&
				      sf.own == ss.own && sf.last_send == ss.last_send,
			      "step %d op %u: got %u/%u/%u/%lld, want %u/%u/%u/%lld", step, op,
			      sf.committed, sf.reserved, sf.own, (long long)sf.last_send,
			      ss.committed, ss.reserved, ss.own, (long long)ss.last_send);
		sorted_fields(c, "fast", hf, sizeof(hf));
		sorted_fields(c, "slow", hs, sizeof(hs));
		ck_assert_msg(strcmp(hf, hs) == 0, "step %d: hash: got %s, want %s", step, hf, hs);
		if (redis_helper_integer(c, "HEXISTS chapps:q:fast b") == 1)
			fast_seen++;
		/* an empty state leaves no key behind, aggregate field included */
		if (hf[0] == '\0')
			ck_assert_int_eq(redis_helper_integer(c, "EXISTS chapps:q:fast"), 0);
	}
	ck_assert_msg(fast_seen > 1000, "aggregate present: got %d steps, want > 1000", fast_seen);
	redisFree(c);
	store_close(&store);
}
END_TEST

START_TEST(test_old_format_key)
{
	/* a hash written by the previous script (no aggregate field) is read as before */
	const struct store_quota_params p = {
		.limit = 100, .margin = 0, .interval = 60, .resolution = 10, .reservation_ttl = 30,
	};
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	uint32_t dropped = 0;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	c = connect_ok(&main_srv);
	/* at now = 1000: b99 and b100 live, b20 dead, rA live, rB expired */
	freeReplyObject(redis_helper_command(c, "HSET chapps:q:old b99 4 b100 5 b20 9 "
					     "rA %s rB %s", "3 1020", "2 990"));
	ck_assert_int_eq(store_quota_usage(store, "old", 3, &p, 1000, &st, &error), STORE_OK);
	ck_assert_msg(st.committed == 9 && st.reserved == 3 && st.last_send == 1000,
		      "usage: got %u/%u/%lld, want 9/3/1000", st.committed, st.reserved,
		      (long long)st.last_send);
	ck_assert_int_eq(store_quota_reserve(store, "old", 3, "A", 1, &p, 1000, &st, &error),
			 STORE_OK);
	ck_assert_msg(st.committed == 9 && st.reserved == 4 && st.own == 4,
		      "reserve: got %u/%u/%u, want 9/4/4", st.committed, st.reserved, st.own);
	/* the dead items are gone and the aggregate is written */
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS chapps:q:old b20"), 0);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS chapps:q:old rB"), 0);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS chapps:q:old b"), 1);
	ck_assert_int_eq(store_quota_commit(store, "old", 3, "A", &p, 1001, &error), STORE_OK);
	ck_assert_int_eq(store_quota_usage(store, "old", 3, &p, 1001, &st, &error), STORE_OK);
	ck_assert_msg(st.committed == 13 && st.reserved == 0,
		      "after commit: got %u/%u, want 13/0", st.committed, st.reserved);
	/* b99 ends at 1000 + 60 = 1060: from then only b100 counts */
	ck_assert_int_eq(store_quota_usage(store, "old", 3, &p, 1060, &st, &error), STORE_OK);
	ck_assert_msg(st.committed == 9, "after expiry: got %u, want 9", st.committed);
	ck_assert_int_eq(store_quota_reserve(store, "old", 3, "C", 91, &p, 1060, &st, &error),
			 STORE_OK);
	ck_assert_int_eq(store_quota_reserve(store, "old", 3, "D", 1, &p, 1060, &st, &error),
			 STORE_REFUSED);
	ck_assert_int_eq(store_quota_reset(store, "old", 3, &dropped, &error), STORE_OK);
	ck_assert_msg(dropped == 9, "dropped: got %u, want 9", dropped);
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS chapps:q:old"), 0);
	redisFree(c);
	store_close(&store);
}
END_TEST

/* limits_states_are - the n states are committed/reserved as given */
static void limits_states_are(const char *what, const struct store_limit_state *st, size_t n,
			      const uint64_t *committed, const uint64_t *reserved)
{
	size_t i;

	for (i = 0; i < n; i++)
		ck_assert_msg(st[i].committed == committed[i] && st[i].reserved == reserved[i],
			      "%s: limit %zu: got %llu/%llu, want %llu/%llu", what, i,
			      (unsigned long long)st[i].committed,
			      (unsigned long long)st[i].reserved,
			      (unsigned long long)committed[i], (unsigned long long)reserved[i]);
}

START_TEST(test_limits_old_format)
{
	/*
	 * Limits written by the previous script (decimal aggregates "a") are
	 * read as they are, their reservation included (committed once), and
	 * rewritten: a sliding window's "a" in binary ('A' and 8 doubles), a
	 * calendar window's still in decimal.  Then the TTLs: a write adds
	 * no EXPIRE while the hash's TTL already covers what it adds, and
	 * gives the TTL again when it does not; the address set (recreated
	 * empty by a commit) always gets one.  EXPIRE by hand stands for the
	 * real time passing.
	 */
	const int64_t now = 100000;
	struct store_limit l[3];
	struct store_limit_ask asks[3] = { { 1, 0 }, { 1, 0x01 }, { 1, 0 } };
	struct store_limit_state st[3];
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	redisReply *r;
	long long ttl;

	two_limits(l, "up", 2);
	l[2] = l[0];
	l[2].id = 9;
	l[2].window = STORE_WINDOW_CALENDAR;
	l[2].interval = 86400;
	l[2].period_start = 99000;
	l[2].period_end = 186400;
	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	c = connect_ok(&main_srv);
	/* the previous script's state at 99,400..99,900, reservation X live until 100,100 */
	freeReplyObject(redis_helper_command(c, "HSET chapps:l:7:up d %s a %s b1656 2 b1657 1 "
					     "rX %s", "0 0 3600 60 0 0", "3 1656 1657 2 1 1 100100",
					     "1 100100"));
	freeReplyObject(redis_helper_command(c, "HSET chapps:l:8:up d %s a %s rX %s",
					     "2 0 3600 60 0 0", "0 -1 -1 0 1 1 100100",
					     "1 100100 +00000000000000aa"));
	freeReplyObject(redis_helper_command(c, "ZADD chapps:lh:8:up 99400 0000000000000001 "
					     "99500 0000000000000002"));
	freeReplyObject(redis_helper_command(c, "HSET chapps:l:9:up d %s a %s rX %s",
					     "0 1 86400 60 99000 186400", "4 -1 -1 0 1 1 100100",
					     "1 100100"));
	ck_assert_int_eq(store_limits_usage(store, l, 3, now, st, &error), STORE_OK);
	limits_states_are("usage", st, 3, (const uint64_t[]){ 3, 2, 4 },
			  (const uint64_t[]){ 1, 1, 1 });
	ck_assert_int_eq(store_limits_commit(store, "X", l, NULL, 3, now, &error), STORE_OK);
	ck_assert_int_eq(store_limits_usage(store, l, 3, now, st, &error), STORE_OK);
	limits_states_are("after commit", st, 3, (const uint64_t[]){ 4, 3, 5 },
			  (const uint64_t[]){ 0, 0, 0 });
	r = redis_helper_command(c, "HGET chapps:l:7:up a");
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING && r->len == 65 && r->str[0] == 'A',
		      "sliding aggregates: not binary");
	freeReplyObject(r);
	r = redis_helper_command(c, "HGET chapps:l:9:up a");
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "5 -1 -1 0 0 0 0") == 0,
		      "calendar aggregates: got %s", r != NULL && r->str != NULL ? r->str : "nothing");
	freeReplyObject(r);
	ttl = redis_helper_integer(c, "TTL chapps:l:7:up");
	ck_assert_msg(ttl > 3600 && ttl <= 3720, "limit TTL: got %lld", ttl);
	ttl = redis_helper_integer(c, "TTL chapps:lh:8:up");
	ck_assert_msg(ttl > 3600 && ttl <= 3720, "address set TTL: got %lld", ttl);
	ck_assert_int_eq(store_limits_reserve(store, "Y", l, asks, 3, now, NULL, st, &error),
			 STORE_OK);
	limits_states_are("reserve Y", st, 3, (const uint64_t[]){ 4, 3, 5 },
			  (const uint64_t[]){ 1, 0, 1 });

	/* 10 s later: Y's bucket ends at 103,620, the TTL (to 103,720) covers it: no EXPIRE */
	freeReplyObject(redis_helper_command(c, "EXPIRE chapps:l:7:up 3710"));
	ck_assert_int_eq(store_limits_commit(store, "Y", l, NULL, 3, now + 10, &error), STORE_OK);
	ttl = redis_helper_integer(c, "TTL chapps:l:7:up");
	ck_assert_msg(ttl >= 103620 + 60 - (now + 10) && ttl <= 3710,
		      "limit TTL after a covered commit: got %lld, want [3670, 3710]", ttl);
	/* at 103,620 (100 s of TTL left) a reservation to 103,920 needs it again */
	freeReplyObject(redis_helper_command(c, "EXPIRE chapps:l:7:up 100"));
	freeReplyObject(redis_helper_command(c, "EXPIRE chapps:lh:8:up 100"));
	asks[1].rcpt_hash = 0xbb;
	ck_assert_int_eq(store_limits_reserve(store, "Z", l, asks, 3, 103620, NULL, st, &error),
			 STORE_OK);
	ttl = redis_helper_integer(c, "TTL chapps:l:7:up");
	ck_assert_msg(ttl > 3600 && ttl <= 3720, "limit TTL after a reserve: got %lld", ttl);
	/* every address had expired: the set is gone, and made again by the commit, with a TTL */
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS chapps:lh:8:up"), 0);
	ck_assert_int_eq(store_limits_commit(store, "Z", l, NULL, 3, 103620, &error), STORE_OK);
	ttl = redis_helper_integer(c, "TTL chapps:lh:8:up");
	ck_assert_msg(ttl > 3600 && ttl <= 3720, "address set TTL after a commit: got %lld", ttl);
	ck_assert_int_eq(store_limits_usage(store, l, 3, 103620, st, &error), STORE_OK);
	limits_states_are("after Z", st, 3, (const uint64_t[]){ 1, 1, 7 },
			  (const uint64_t[]){ 0, 0, 0 });
	ck_assert_int_eq(store_limits_reset(store, l, 3, &error), STORE_OK);
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS chapps:l:7:up"), 0);
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS chapps:lh:8:up"), 0);
	redisFree(c);
	store_close(&store);
}
END_TEST

/* ---- failures of the server -------------------------------------------- */

/* timed_reserve - reserve and return the elapsed milliseconds */
static long long timed_reserve(struct store *store, const char *resid, int *status,
			       const char **error)
{
	struct store_quota_state st;
	long long t0 = redis_helper_mono_ms();

	*status = reserve(store, "bob", resid, 1, 1000, &st, error);
	return redis_helper_mono_ms() - t0;
}

START_TEST(test_server_killed)
{
	struct redis_helper_server *srv = &own_srv;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	long long ms;
	int status;

	config_for(&cfg, srv);
	cfg.redis_connect_timeout_ms = TIMEOUT_MS;
	cfg.redis_command_timeout_ms = TIMEOUT_MS;
	store = open_ok(&cfg);
	timed_reserve(store, "R1", &status, &error);
	ck_assert_int_eq(status, STORE_OK);

	/* an idle pooled connection to a restarted server is noticed: no error */
	redis_helper_kill(srv);
	ck_assert_int_eq(redis_helper_restart(srv, &own_opts), 0);
	ms = timed_reserve(store, "R2", &status, &error);
	ck_assert_msg(status == STORE_OK, "after restart: got error %s, want STORE_OK", error);

	/* server gone: an error, quickly */
	redis_helper_kill(srv);
	ms = timed_reserve(store, "R3", &status, &error);
	ck_assert_int_eq(status, STORE_ERROR);
	ck_assert_msg(ms < 2 * TIMEOUT_MS, "error took %lld ms, want < %d", ms, 2 * TIMEOUT_MS);
	ck_assert_msg(strstr(error, "127.0.0.1") != NULL, "error does not name the server: %s",
		      error);
	ms = timed_reserve(store, "R4", &status, &error);
	ck_assert_int_eq(status, STORE_ERROR);
	ck_assert_msg(ms < 2 * TIMEOUT_MS, "error took %lld ms, want < %d", ms, 2 * TIMEOUT_MS);

	/* back: the same store recovers */
	ck_assert_int_eq(redis_helper_restart(srv, &own_opts), 0);
	timed_reserve(store, "R5", &status, &error);
	ck_assert_msg(status == STORE_OK, "after recovery: got error %s, want STORE_OK", error);
	store_close(&store);
}
END_TEST

START_TEST(test_server_hung)
{
	struct redis_helper_server *srv = &own_srv;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	long long ms, t0;
	int status, lock;

	config_for(&cfg, srv);
	cfg.redis_connect_timeout_ms = TIMEOUT_MS;
	cfg.redis_command_timeout_ms = TIMEOUT_MS;
	store = open_ok(&cfg);
	timed_reserve(store, "R1", &status, &error);
	ck_assert_int_eq(status, STORE_OK);

	kill(srv->pid, SIGSTOP);
	/* first on the pooled connection, then on a new one (accepted by the backlog) */
	ms = timed_reserve(store, "R2", &status, &error);
	ck_assert_int_eq(status, STORE_ERROR);
	ck_assert_msg(ms >= TIMEOUT_MS - 50 && ms < 2 * TIMEOUT_MS,
		      "pooled: error after %lld ms, want about %d", ms, TIMEOUT_MS);
	ck_assert_msg(strstr(error, "timed out") != NULL, "error: got '%s', want timed out",
		      error);
	ms = timed_reserve(store, "R3", &status, &error);
	ck_assert_int_eq(status, STORE_ERROR);
	ck_assert_msg(ms < 2 * TIMEOUT_MS, "new connection: error after %lld ms, want < %d", ms,
		      2 * TIMEOUT_MS);
	/* the pipelined look-up keeps the same deadline */
	t0 = redis_helper_mono_ms();
	ck_assert_int_eq(mail_lookup(store, "bob", &lock, &error), STORE_ERROR);
	ms = redis_helper_mono_ms() - t0;
	ck_assert_msg(ms < 2 * TIMEOUT_MS, "mail look-up: error after %lld ms, want < %d", ms,
		      2 * TIMEOUT_MS);

	kill(srv->pid, SIGCONT);
	timed_reserve(store, "R4", &status, &error);
	ck_assert_msg(status == STORE_OK, "after SIGCONT: got error %s, want STORE_OK", error);
	ck_assert_int_eq(mail_lookup(store, "bob", &lock, &error), STORE_MISS);
	ck_assert_int_eq(lock, STORE_MISS);
	store_close(&store);
}
END_TEST

/* ---- connection settings ----------------------------------------------- */

START_TEST(test_password)
{
	static char wrong[] = "nope";
	struct redis_helper_server *srv = &own_srv;
	struct store_quota_state st;
	struct config cfg;
	struct store *store = NULL;
	const char *error = NULL;

	config_for(&cfg, srv);
	ck_assert_int_eq(store_open(&cfg, &store, &error), -1);
	ck_assert_ptr_null(store);
	ck_assert_msg(strstr(error, "NOAUTH") != NULL, "no password: got '%s', want NOAUTH",
		      error);

	cfg.redis_password = wrong;
	ck_assert_int_eq(store_open(&cfg, &store, &error), -1);
	ck_assert_msg(strstr(error, "AUTH") != NULL, "wrong password: got '%s', want AUTH", error);

	cfg.redis_password = own_password;
	store = open_ok(&cfg);
	ck_assert_int_eq(reserve(store, "bob", "R1", 1, 1000, &st, &error), STORE_OK);
	store_close(&store);
}
END_TEST

/* acl_setuser - ACL SETUSER with the rules of a NULL-terminated list (one argument each) */
static void acl_setuser(const struct redis_helper_server *srv, const char *const *rules)
{
	const char *argv[16] = { "ACL", "SETUSER" };
	redisContext *c = connect_ok(srv);
	redisReply *r;
	int argc = 2;

	while (*rules != NULL && argc < 16)
		argv[argc++] = *rules++;
	r = redisCommandArgv(c, argc, argv, NULL);
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS, "ACL SETUSER %s failed",
		      argv[2]);
	freeReplyObject(r);
	redisFree(c);
}

/* A Redis 6 ACL user: AUTH user password, with hiredis 0.14 */
START_TEST(test_acl_user)
{
	static char user[] = "chapps", limited[] = "limited", pw[] = "acl pw", wrong[] = "nope";
	static const char *const full[] = { "chapps", "on", ">acl pw", "~*", "&*", "+@all", NULL };
	static const char *const few[] = { "limited", "on", ">acl pw", "~*", "&*", "-@all",
					    "+ping", "+auth", "+select", "+role", NULL };
	struct redis_helper_server *srv = &own_srv;
	struct store_quota_state st;
	struct config cfg;
	struct store *store = NULL;
	const char *error = NULL;

	acl_setuser(srv, full);
	acl_setuser(srv, few);
	config_for(&cfg, srv);
	cfg.redis_username = user;
	cfg.redis_password = wrong;
	ck_assert_int_eq(store_open(&cfg, &store, &error), -1);
	ck_assert_msg(strstr(error, "AUTH") != NULL, "wrong password: got '%s', want AUTH", error);

	/* the user exists but may not run scripts: refused at open, not at the first mail */
	cfg.redis_username = limited;
	cfg.redis_password = pw;
	ck_assert_int_eq(store_open(&cfg, &store, &error), -1);
	ck_assert_ptr_null(store);
	ck_assert_msg(strstr(error, "NOPERM") != NULL, "limited user: got '%s', want NOPERM", error);

	cfg.redis_username = user;
	store = open_ok(&cfg);
	ck_assert_int_eq(reserve(store, "bob", "R1", 1, 1000, &st, &error), STORE_OK);
	store_close(&store);
}
END_TEST

START_TEST(test_db_index)
{
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;

	config_for(&cfg, &main_srv);
	cfg.redis_db = 5;
	store = open_ok(&cfg);
	ck_assert_int_eq(reserve(store, "bob", "R1", 1, 1000, &st, &error), STORE_OK);
	ck_assert_int_eq(store_cache_set(store, "k", 1, "v", 1, 10, 1000, &error), STORE_OK);
	c = connect_ok(&main_srv);
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS chapps:q:bob chapps:c:k"), 0);
	freeReplyObject(redis_helper_command(c, "SELECT 5"));
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS chapps:q:bob chapps:c:k"), 2);
	redisFree(c);
	store_close(&store);
}
END_TEST

START_TEST(test_unix_socket)
{
	struct redis_helper_server *srv = &own_srv;
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;

	ck_assert_int_eq(srv->port, 0);
	config_for(&cfg, srv);
	cfg.redis_port = 1;		/* would fail if used */
	cfg.redis_socket = srv->socket;
	store = open_ok(&cfg);
	ck_assert_int_eq(reserve(store, "bob", "R1", 1, 1000, &st, &error), STORE_OK);
	ck_assert_int_eq(reserve(store, "bob", "R1", 2, 1000, &st, &error), STORE_OK);
	ck_assert_uint_eq(st.own, 3);
	store_close(&store);
}
END_TEST

START_TEST(test_open_errors)
{
	static char bad[] = "127.0.0.1", dataset[] = "mymaster";
	static char *sentinels[] = { bad };
	struct config cfg;
	struct store *store = NULL;
	const char *error = NULL;
	long long t0;

	/* nothing listens on port 1 */
	config_for(&cfg, &main_srv);
	cfg.redis_port = 1;
	t0 = redis_helper_mono_ms();
	ck_assert_int_eq(store_open(&cfg, &store, &error), -1);
	ck_assert_msg(redis_helper_mono_ms() - t0 < 2000, "refused connect took too long");
	ck_assert_msg(strstr(error, "127.0.0.1:1") != NULL, "error: got '%s'", error);

	config_for(&cfg, &main_srv);
	cfg.redis_sentinel_servers[0] = sentinels[0];
	cfg.n_redis_sentinel_servers = 1;
	cfg.redis_sentinel_dataset = dataset;
	ck_assert_int_eq(store_open(&cfg, &store, &error), -1);
	ck_assert_msg(strstr(error, "host:port") != NULL, "error: got '%s'", error);

	cfg.redis_sentinel_dataset = NULL;
	ck_assert_int_eq(store_open(&cfg, &store, &error), -1);
	ck_assert_ptr_null(store);
}
END_TEST

/* ---- pool -------------------------------------------------------------- */

/* info_field - an integer field of INFO, or -1 */
static long long info_field(redisContext *c, const char *name)
{
	redisReply *r = redis_helper_command(c, "INFO");
	long long v = -1;
	const char *p;

	if (r != NULL && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, name)) != NULL)
		v = atoll(p + strlen(name) + 1);
	if (r != NULL)
		freeReplyObject(r);
	return v;
}

START_TEST(test_pool_reuse)
{
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	long long before, after;
	int i;

	config_for(&cfg, &main_srv);
	c = connect_ok(&main_srv);
	before = info_field(c, "total_connections_received");
	store = open_ok(&cfg);
	for (i = 0; i < 50; i++) {
		ck_assert_int_eq(reserve(store, "bob", "R", 0, 1000 + i, &st, &error), STORE_OK);
		ck_assert_int_eq(store_quota_release(store, "bob", 3, "R", 1000 + i, &error),
				 STORE_OK);
	}
	after = info_field(c, "total_connections_received");
	ck_assert_msg(after - before == 1, "connections for 100 calls: got %lld, want 1",
		      after - before);
	redisFree(c);
	store_close(&store);
}
END_TEST

/* ---- deferred commits (store.redis.defer_commit) ------------------------------- */

/*
 * defer_open - a store that defers commits, its flusher waiting wait_ms
 * (0: the default); -1: one that does not defer (a reader of the state)
 */
static struct store *defer_open(int wait_ms)
{
	struct config cfg;

	config_for(&cfg, &main_srv);
	cfg.redis_defer_commit = wait_ms >= 0;
	cfg.redis_defer_ms = wait_ms > 0 ? wait_ms : 0;
	return open_ok(&cfg);
}

/* usage_of - committed and reserved of user, read through store */
static void usage_of(struct store *store, const char *user, uint32_t *committed,
		     uint32_t *reserved)
{
	struct store_quota_state st;
	const char *error = NULL;

	ck_assert_msg(store_quota_usage(store, user, strlen(user), &P, 1000, &st, &error) ==
			      STORE_OK, "usage: %s", error);
	*committed = st.committed;
	*reserved = st.reserved;
}

/* wait_committed - poll reader (5 ms apart, 5 s at most) until user's committed is want */
static uint32_t wait_committed(struct store *reader, const char *user, uint32_t want)
{
	struct timespec pause = { 0, 5000000 };
	uint32_t committed = 0, reserved = 0;

	for (int i = 0; i < 1000; i++) {
		usage_of(reader, user, &committed, &reserved);
		if (committed == want)
			break;
		nanosleep(&pause, NULL);
	}
	return committed;
}

/* reserve_and_defer - reserve one unit for user and commit it later */
static void reserve_and_defer(struct store *store, const char *user)
{
	struct store_quota_state st;
	const char *error = NULL;

	ck_assert_int_eq(reserve(store, user, "R1", 1, 1000, &st, &error), STORE_OK);
	ck_assert_msg(store_quota_commit_later(store, user, strlen(user), "R1", &P, 1000,
					       &error) == STORE_OK, "commit_later: %s", error);
}

/*
 * the deferred commit waits in the connection, holding its reservation,
 * and goes out with that connection's next command: one read for both
 */
START_TEST(test_defer_next_command)
{
	struct store *store = defer_open(600000), *reader = defer_open(-1);
	uint32_t committed, reserved;
	redisContext *c = connect_ok(&main_srv);
	long long before, after;

	reserve_and_defer(store, "dan");
	usage_of(reader, "dan", &committed, &reserved);
	ck_assert_uint_eq(committed, 0);	/* not sent: the flusher waits 10 minutes */
	ck_assert_uint_eq(reserved, 1);		/* the room is held */
	before = info_field(c, "total_reads_processed");
	usage_of(store, "dan", &committed, &reserved);	/* the same (idle, last) connection */
	after = info_field(c, "total_reads_processed");
	ck_assert_uint_eq(committed, 1);	/* the commit ran first */
	ck_assert_uint_eq(reserved, 0);
	ck_assert_msg(after - before == 2, "reads for the commit and the usage: got %lld, "
		      "want 2 (theirs and the INFO's)", after - before);
	usage_of(reader, "dan", &committed, &reserved);
	ck_assert_uint_eq(committed, 1);
	redisFree(c);
	store_close(&store);
	store_close(&reader);
}
END_TEST

/* an idle connection's deferred commit goes out by itself, within the flusher's wait */
START_TEST(test_defer_idle)
{
	struct store *store = defer_open(0), *reader = defer_open(-1);

	reserve_and_defer(store, "eve");
	ck_assert_uint_eq(wait_committed(reader, "eve", 1), 1);
	store_close(&store);
	store_close(&reader);
}
END_TEST

/*
 * a deferred commit answered NOSCRIPT (SCRIPT FLUSH, a restart, a failover
 * to a server without the script) is sent again after the script is loaded
 */
START_TEST(test_defer_noscript)
{
	struct store *store = defer_open(600000), *reader = defer_open(-1);
	redisContext *c = connect_ok(&main_srv);
	uint32_t committed, reserved;

	reserve_and_defer(store, "fay");
	script_flush(c);
	usage_of(store, "fay", &committed, &reserved);	/* carries it: NOSCRIPT, kept */
	ck_assert_uint_eq(committed + reserved, 1);
	ck_assert_uint_eq(wait_committed(reader, "fay", 1), 1);
	usage_of(reader, "fay", &committed, &reserved);
	ck_assert_uint_eq(reserved, 0);
	redisFree(c);
	store_close(&store);
	store_close(&reader);
}
END_TEST

/* a connection closed under a deferred commit: it is sent again on another */
START_TEST(test_defer_conn_killed)
{
	struct store *store = defer_open(600000), *reader = defer_open(-1);
	redisContext *c = connect_ok(&main_srv);
	redisReply *r;
	uint32_t committed, reserved;

	reserve_and_defer(store, "gus");
	r = redis_helper_command(c, "CLIENT KILL TYPE normal SKIPME yes");
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer >= 1,
		      "CLIENT KILL killed nothing");
	freeReplyObject(r);
	usage_of(store, "gus", &committed, &reserved);	/* finds it closed: a new one */
	ck_assert_uint_eq(committed + reserved, 1);
	ck_assert_uint_eq(wait_committed(reader, "gus", 1), 1);
	redisFree(c);
	store_close(&store);
	store_close(&reader);
}
END_TEST

/*
 * more deferred commits than a connection carries (16): the 17th sends the
 * first 16 and waits in their place; then NOSCRIPT for the 4 still waiting:
 * every one of the 20 ends committed, none left reserved
 */
START_TEST(test_defer_full_noscript)
{
	struct store *store = defer_open(600000), *reader = defer_open(-1);
	redisContext *c = connect_ok(&main_srv);
	struct store_quota_state st;
	const char *error = NULL;
	uint32_t committed, reserved;
	char user[16];
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(user, sizeof(user), "u%02d", i);
		ck_assert_int_eq(reserve(store, user, "R1", 1, 1000, &st, &error), STORE_OK);
	}
	for (i = 0; i < 20; i++) {
		snprintf(user, sizeof(user), "u%02d", i);
		ck_assert_int_eq(store_quota_commit_later(store, user, 3, "R1", &P, 1000, &error),
				 STORE_OK);
	}
	usage_of(reader, "u00", &committed, &reserved);
	ck_assert_uint_eq(committed, 1);	/* among the 16 sent by the 17th */
	script_flush(c);
	usage_of(store, "u19", &committed, &reserved);	/* carries the last 4: NOSCRIPT */
	for (i = 0; i < 20; i++) {
		snprintf(user, sizeof(user), "u%02d", i);
		ck_assert_msg(wait_committed(reader, user, 1) == 1, "%s not committed", user);
		usage_of(reader, user, &committed, &reserved);
		ck_assert_uint_eq(reserved, 0);
	}
	redisFree(c);
	store_close(&store);
	store_close(&reader);
}
END_TEST

/* store_close sends what waits; without defer_commit the commit is made at once */
START_TEST(test_defer_close_and_off)
{
	struct store *store = defer_open(600000), *reader = defer_open(-1);
	uint32_t committed, reserved;

	reserve_and_defer(store, "hal");
	store_close(&store);
	usage_of(reader, "hal", &committed, &reserved);
	ck_assert_uint_eq(committed, 1);
	ck_assert_uint_eq(reserved, 0);

	reserve_and_defer(reader, "ida");	/* a store that does not defer */
	usage_of(reader, "ida", &committed, &reserved);
	ck_assert_uint_eq(committed, 1);
	ck_assert_uint_eq(reserved, 0);
	store_close(&reader);
}
END_TEST

#define POOL_THREADS 8
#define POOL_TRIES 40

struct pool_arg {
	struct store *store;
	int granted, errors;
	int id;
	bool later;			/* store_quota_commit_later */
};

/* pool_worker - reserve and commit POOL_TRIES times for one shared user */
static void *pool_worker(void *p)
{
	const struct store_quota_params q = {
		.limit = 100, .margin = 0, .interval = 3600, .resolution = 60,
		.reservation_ttl = 60,
	};
	struct pool_arg *arg = p;
	const char *error;
	char resid[32];
	int i, r;

	for (i = 0; i < POOL_TRIES; i++) {
		snprintf(resid, sizeof(resid), "t%d-%d", arg->id, i);
		r = store_quota_reserve(arg->store, "shared", 6, resid, 1, &q, 5000, NULL, &error);
		if (r == STORE_OK) {
			arg->granted++;
			if ((arg->later ? store_quota_commit_later(arg->store, "shared", 6, resid,
								   &q, 5000, &error)
					: store_quota_commit(arg->store, "shared", 6, resid, &q, 5000,
							     &error)) != STORE_OK)
				arg->errors++;
		} else if (r != STORE_REFUSED) {
			arg->errors++;
		}
	}
	return NULL;
}

/*
 * exact with deferred commits: 8 threads on a pool of 2 reserve and commit
 * later against a limit of 100 (the flusher at its default 10 ms): exactly
 * 100 granted, and after close every one of them committed, none reserved
 */
START_TEST(test_defer_threads)
{
	const struct store_quota_params q = {
		.limit = 100, .margin = 0, .interval = 3600, .resolution = 60,
		.reservation_ttl = 60,
	};
	struct pool_arg args[POOL_THREADS];
	pthread_t tids[POOL_THREADS];
	struct store_quota_state st;
	struct config cfg;
	struct store *store, *reader = defer_open(-1);
	const char *error = NULL;
	int i, granted = 0;

	config_for(&cfg, &main_srv);
	cfg.redis_pool_size = 2;
	cfg.redis_defer_commit = true;
	store = open_ok(&cfg);
	for (i = 0; i < POOL_THREADS; i++) {
		args[i] = (struct pool_arg){ .store = store, .id = i, .later = true };
		ck_assert_int_eq(pthread_create(&tids[i], NULL, pool_worker, &args[i]), 0);
	}
	for (i = 0; i < POOL_THREADS; i++) {
		pthread_join(tids[i], NULL);
		granted += args[i].granted;
		ck_assert_msg(args[i].errors == 0, "thread %d: %d errors", i, args[i].errors);
	}
	ck_assert_msg(granted == 100, "granted: got %d, want exactly 100", granted);
	ck_assert_int_eq(store_quota_usage(reader, "shared", 6, &q, 5000, &st, &error), STORE_OK);
	ck_assert_uint_eq(st.committed + st.reserved, 100);	/* whatever is still on its way */
	store_close(&store);
	ck_assert_int_eq(store_quota_usage(reader, "shared", 6, &q, 5000, &st, &error), STORE_OK);
	ck_assert_uint_eq(st.committed, 100);
	ck_assert_uint_eq(st.reserved, 0);
	store_close(&reader);
}
END_TEST

START_TEST(test_pool_bounded)
{
	const struct store_quota_params q = {
		.limit = 100, .margin = 0, .interval = 3600, .resolution = 60,
		.reservation_ttl = 60,
	};
	struct pool_arg args[POOL_THREADS];
	pthread_t tids[POOL_THREADS];
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	redisReply *r;
	int i, granted = 0, clients = 0;
	long long deadline;
	const char *p;

	config_for(&cfg, &main_srv);
	cfg.redis_pool_size = 2;
	store = open_ok(&cfg);
	for (i = 0; i < POOL_THREADS; i++) {
		args[i] = (struct pool_arg){ .store = store, .id = i };
		ck_assert_int_eq(pthread_create(&tids[i], NULL, pool_worker, &args[i]), 0);
	}
	for (i = 0; i < POOL_THREADS; i++) {
		pthread_join(tids[i], NULL);
		granted += args[i].granted;
		ck_assert_msg(args[i].errors == 0, "thread %d: %d errors", i, args[i].errors);
	}
	ck_assert_msg(granted == 100, "granted: got %d, want exactly 100", granted);
	ck_assert_int_eq(store_quota_usage(store, "shared", 6, &q, 5000, &st, &error), STORE_OK);
	ck_assert_uint_eq(st.committed, 100);
	ck_assert_uint_eq(st.reserved, 0);

	/* the burst's extra connections are closed: pool_size idle + ours (bounded poll) */
	c = connect_ok(&main_srv);
	for (deadline = redis_helper_mono_ms() + 2000;;) {
		r = redis_helper_command(c, "CLIENT LIST");
		ck_assert(r != NULL && r->type == REDIS_REPLY_STRING);
		clients = 0;
		for (p = r->str; (p = strchr(p, '\n')) != NULL; p++)
			clients++;
		freeReplyObject(r);
		if (clients <= 3 || redis_helper_mono_ms() > deadline)
			break;
		nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
	}
	ck_assert_msg(clients >= 2 && clients <= 3, "clients after the burst: got %d, want 2..3",
		      clients);
	redisFree(c);
	store_close(&store);
}
END_TEST

/* ---- locks -------------------------------------------------------------- */

START_TEST(test_lock_layout)
{
	static const char user[] = "a\0b:c d";	/* NUL, colon, space */
	const size_t ulen = sizeof(user) - 1;
	struct store_lock_info info;
	struct config cfg;
	struct store *store, *other;
	const char *error = NULL;
	redisContext *c;
	redisReply *r;
	char key[64];
	size_t klen;
	long long ttl;
	int locked;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	other = open_ok(&cfg);	/* a second pool: another host */
	memcpy(key, "chapps:k:", 9);
	memcpy(key + 9, user, ulen);
	klen = 9 + ulen;
	c = connect_ok(&main_srv);

	/* one strike: the hash holds it and expires with the window */
	ck_assert_int_eq(store_lock_strike(store, user, ulen, 2, 600, "why", 100000, NULL,
					   &locked, &error), STORE_OK);
	ck_assert_int_eq(locked, 0);
	r = redis_helper_command(c, "HGET %b t", key, klen);
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "100000") == 0,
		      "strike times: got %s", r != NULL && r->str ? r->str : "nothing");
	freeReplyObject(r);
	ttl = redis_helper_integer(c, "TTL %b", key, klen);
	ck_assert_msg(ttl > 600 && ttl <= 660, "TTL after a strike: got %lld, want (600, 660]",
		      ttl);
	ck_assert_int_eq(store_lock_get(other, user, ulen, NULL, &error), STORE_MISS);

	/* the second strike locks: no TTL any more, seen at once by the other pool */
	ck_assert_int_eq(store_lock_strike(store, user, ulen, 2, 600, "why", 100010, NULL,
					   &locked, &error), STORE_OK);
	ck_assert_int_eq(locked, 1);
	ck_assert_int_eq(redis_helper_integer(c, "TTL %b", key, klen), -1);
	r = redis_helper_command(c, "HMGET %b s r", key, klen);
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		      r->element[0]->type == REDIS_REPLY_STRING &&
		      strcmp(r->element[0]->str, "100010") == 0 &&
		      r->element[1]->type == REDIS_REPLY_STRING &&
		      strcmp(r->element[1]->str, "why") == 0, "lock fields");
	freeReplyObject(r);
	ck_assert_int_eq(store_lock_get(other, user, ulen, &info, &error), STORE_OK);
	ck_assert_int_eq(info.since, 100010);
	ck_assert_str_eq(info.reason, "why");
	/* a user "a" must not see it */
	ck_assert_int_eq(store_lock_get(other, "a", 1, NULL, &error), STORE_MISS);

	/* the other host unlocks: the key is gone, strikes with it */
	ck_assert_int_eq(store_lock_clear(other, user, ulen, &error), STORE_OK);
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS %b", key, klen), 0);
	ck_assert_int_eq(store_lock_get(store, user, ulen, NULL, &error), STORE_MISS);

	/* events: one list, "<time> <text>" newest first */
	ck_assert_int_eq(store_event_add(store, "{\"a\":1}", 7, 100020, &error), STORE_OK);
	ck_assert_int_eq(store_event_add(other, "{\"b\":2}", 7, 100021, &error), STORE_OK);
	r = redis_helper_command(c, "LINDEX chapps:events 0");
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STRING &&
		      strcmp(r->str, "100021 {\"b\":2}") == 0, "newest event: got %s",
		      r != NULL && r->str ? r->str : "nothing");
	freeReplyObject(r);
	ck_assert_int_eq(redis_helper_integer(c, "TTL chapps:events"), -1);
	redisFree(c);
	store_close(&other);
	store_close(&store);
}
END_TEST

START_TEST(test_lock_get_cost)
{
	struct timespec t0, t1;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	int i, ok = 0, n = 5000;
	double us, us_get;

	config_for(&cfg, &main_srv);
	store = open_ok(&cfg);
	ck_assert_int_eq(store_lock_set(store, "locked", 6, "r", 100000, &error), STORE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		ok += store_lock_get(store, i % 2 ? "locked" : "free", i % 2 ? 6 : 4, NULL,
				     &error) == (i % 2 ? STORE_OK : STORE_MISS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(ok, n);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / n;
	/* the same number of plain GETs, for scale: one round trip each */
	ok = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		char val[8];
		size_t len = sizeof(val);

		ok += store_cache_get(store, "k", 1, val, &len, 100000, &error) == STORE_MISS;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(ok, n);
	us_get = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
		 n;
	/* both in one round trip */
	ok = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		char val[8];
		size_t len = sizeof(val);
		int lock = STORE_ERROR;

		ok += store_mail_lookup(store, "k", 1, val, &len, i % 2 ? "locked" : "free",
					i % 2 ? 6 : 4, 100000, &lock, NULL, &error) == STORE_MISS &&
		      lock == (i % 2 ? STORE_OK : STORE_MISS);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(ok, n);
	fprintf(stderr, "check_store_redis: store_lock_get: %.1f us per call, store_cache_get "
		"%.1f us, store_mail_lookup (both) %.1f us (%d calls each, loopback)\n", us,
		us_get,
		((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
		n, n);
	store_close(&store);
}
END_TEST

/* redis_suite - the Redis-specific cases */
static Suite *redis_suite(void)
{
	Suite *s = suite_create("store_redis");
	TCase *tc;

	tc = tcase_create("layout");
	tcase_add_checked_fixture(tc, setup_flush, NULL);
	tcase_add_test(tc, test_key_layout);
	tcase_add_test(tc, test_limits_key_layout);
	tcase_add_test(tc, test_lock_layout);
	tcase_add_test(tc, test_lock_get_cost);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup_flush, NULL);
	tcase_add_test(tc, test_noscript_recovery);
	tcase_add_test(tc, test_error_reply);
	tcase_add_test(tc, test_mail_lookup_error_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("bounds");
	tcase_add_checked_fixture(tc, setup_flush, NULL);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_reservation_cap);
	tcase_add_test(tc, test_bucket_fold);
	tcase_add_test(tc, test_aggregates);
	tcase_add_test(tc, test_old_format_key);
	tcase_add_test(tc, test_limits_old_format);
	suite_add_tcase(s, tc);

	tc = tcase_create("server_killed");
	tcase_add_unchecked_fixture(tc, setup_own_plain, teardown_own);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_server_killed);
	suite_add_tcase(s, tc);

	tc = tcase_create("server_hung");
	tcase_add_unchecked_fixture(tc, setup_own_plain, teardown_own);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_server_hung);
	suite_add_tcase(s, tc);

	tc = tcase_create("password");
	tcase_add_unchecked_fixture(tc, setup_own_password, teardown_own);
	tcase_add_test(tc, test_password);
	tcase_add_test(tc, test_acl_user);
	suite_add_tcase(s, tc);

	tc = tcase_create("unix_socket");
	tcase_add_unchecked_fixture(tc, setup_own_unix, teardown_own);
	tcase_add_test(tc, test_unix_socket);
	suite_add_tcase(s, tc);

	tc = tcase_create("settings");
	tcase_add_checked_fixture(tc, setup_flush, NULL);
	tcase_add_test(tc, test_db_index);
	tcase_add_test(tc, test_open_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("defer");
	tcase_add_checked_fixture(tc, setup_flush, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_defer_next_command);
	tcase_add_test(tc, test_defer_idle);
	tcase_add_test(tc, test_defer_noscript);
	tcase_add_test(tc, test_defer_conn_killed);
	tcase_add_test(tc, test_defer_close_and_off);
	tcase_add_test(tc, test_defer_full_noscript);
	tcase_add_test(tc, test_defer_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_add_checked_fixture(tc, setup_flush, NULL);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_pool_reuse);
	tcase_add_test(tc, test_pool_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct redis_helper_options opts = {
		.port_first = PORT_MAIN_FIRST, .port_last = PORT_MAIN_LAST,
	};
	SRunner *sr;
	int failed;

	if (redis_helper_binary("redis-server") == NULL) {
		fprintf(stderr, "check_store_redis: redis-server not installed, skipping\n");
		return 77;
	}
	if (redis_helper_start(&main_srv, &opts) < 0)
		return EXIT_FAILURE;
	sr = srunner_create(store_contract_suite(&backend));
	srunner_add_suite(sr, redis_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	redis_helper_stop(&main_srv);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
