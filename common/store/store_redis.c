/*
 * NAME
 *	store_redis - the Redis engine of the store (hiredis 0.14, Sentinel, Cluster)
 * SUMMARY
 *	store_redis_open() builds a struct store whose ops talk to one Redis
 *	master, given directly (redis.server/port or redis.socket) or found
 *	through Sentinel (redis.sentinel_servers + redis.sentinel_dataset),
 *	or to a Redis Cluster (redis.cluster: seed nodes).
 * DESCRIPTION
 *	This file builds the commands and reads the replies; the connections
 *	(pool, Sentinel discovery, deadlines, EVALSHA with SCRIPT LOAD again
 *	after NOSCRIPT) are redis_conn.c's, and the server-side scripts
 *	are redis/quota.lua, redis/greylist.lua, redis/limits.lua and
 *	redis/lock.lua, embedded at build time
 *	(store.am generates redis_scripts.c from them in the build directory).
 *	Every key is one prefix + the caller's raw bytes (redis_key).
 *
 *	Redis Cluster.  With store.redis.cluster, redis_conn.c routes each
 *	call by the slot of its (first) key (redis_cluster.c), and every key
 *	carries a hash tag after its prefix, "{tag}", so that each call's keys
 *	share one slot (redis_tkey; without the cluster no tag: today's key
 *	names, so a single Redis keeps its state).  A user's quota, limit and
 *	lock keys are tagged with the user's domain (after the last '@',
 *	lowercased), and a domain pool's ("\0pool:" + domain) with its domain,
 *	so a user's limits and the pool reserved in one script call are in one
 *	slot; a name without a domain is its own tag (it has no pool).  A
 *	limits call over owners of several tags (the store's contract allows
 *	it, the policy never makes one) runs one script call per tag
 *	(limits_run).  A cache key made by
 *	store_key is tagged like the user that is its first part (the SDA entry
 *	and the user's lock: one slot, one round trip in store_mail_lookup);
 *	a greylisting tuple and its client's tally are tagged with the client
 *	(their first part), other keys of theirs with "g".  The events list is
 *	one key.  The SCANs of the operator commands visit every master.
 *
 *	Quota.  Each decision (reserve, commit, release, usage, reset) is one
 *	call of the quota script, so it runs atomically on the server and any
 *	number of milter hosts share exact counts.  A user's state is one hash,
 *	    "chapps:q:" + raw user bytes
 *	with fields "b<bucket>" -> count and "r<resid>" -> "<count> <expiry>",
 *	and one field "b" (no number) holding running aggregates over the
 *	items present: "S B O W R N E X" = sum and number of buckets, oldest
 *	and newest bucket, sum and number of reservations, a lower bound of
 *	their earliest expiry and an upper bound of their latest.  When these
 *	show that nothing can have died (O still lives, now < E) a call reads
 *	only "b", its reservation and the current bucket (one HMGET), so its
 *	cost does not grow with the live buckets; otherwise (something may have
 *	expired, a commit that may fold, the field absent or malformed: a key
 *	of the previous script version, whose reserve and commit delete "b" as
 *	a malformed bucket) it scans the hash, prunes, and rewrites "b".  Past
 *	32 items "b" is padded beyond Redis's hash-max-listpack-value (64 by
 *	default), which turns the hash into a real hash table: in a listpack
 *	every field lookup is a linear scan.
 *	The rule is the one of store.h and quota_record.c (same bucket life,
 *	same folding of the oldest buckets past interval/resolution + 2, same
 *	"too many open reservations" error past 1024), with the caller's
 *	clock (now), never Redis TIME.  Every write prunes dead buckets and
 *	expired reservations and sets the key's TTL to the remaining life of
 *	its longest-lived item (on the fast path a reservation deleted since
 *	the last scan may still count here, via X) plus REDIS_EXPIRE_SLACK
 *	seconds (clock skew between milter hosts), so an idle user vanishes.
 *	The cost of a call is bounded by the live state, whatever the number
 *	of messages ever sent, and is constant while nothing expires.
 *
 *	Limits (store_limits_*).  Each call is one call of redis/limits.lua
 *	with the limit's hash "chapps:l:<id>:" + owner and, for a distinct
 *	limit (and for every limit at reset), its address set
 *	"chapps:lh:<id>:" + owner (distinct recipients: a sorted set hash ->
 *	time of last use); id 0 is the quota hash above,
 *	kept in quota.lua's format (its fast path included), so the single
 *	quota and id 0 are one state.  The script checks every limit before
 *	it writes any, keeps running aggregates (sum, oldest and newest
 *	bucket, reservations) so that a decision reads a few fields whatever
 *	the window holds, and gives every key a TTL longer than what it
 *	holds.  store_limits_top SCANs "chapps:l:<id>:*" (or "chapps:q:*")
 *	and asks the script for each key's usage.  Redis Cluster: a domain
 *	pool's keys and its users' share the domain's tag (above).
 *	A limit travels as one argument (limit_arg, written without stdio):
 *	each argument costs hiredis a formatting step and the server a
 *	conversion, and with 13 a limit those were most of the milter's cost
 *	of a call (bench/limits-cost, three limits: 160,000 instructions a
 *	decision before, 47,000 after, as the single quota).  Its 12 numbers
 *	are little-endian doubles, read by the script with one struct.unpack:
 *	in decimal, a string.match and a tonumber (strtod) each were most of
 *	the script's cost of reading a limit.
 *
 *	Cache.  "chapps:c:" + the caller's binary key holds an 8-byte
 *	big-endian expiry (caller's clock) followed by the value; the key
 *	also gets a real TTL of ttl + REDIS_EXPIRE_SLACK seconds.
 *
 *	Greylisting.  Every check is one call of the greylisting script
 *	(the same EVALSHA/NOSCRIPT machinery, its own SHA1), with the
 *	caller's clock.  A tuple is the hash "chapps:g:" + the caller's
 *	tuple key with fields f (first seen), p (last pass, -1 none) and e
 *	(the instant from which the rule would restart it anyway; the tuple
 *	is absent from then on); a client's pass tally is the hash
 *	"chapps:gt:" + the caller's client key with one field "h<hour>" per
 *	hour that saw passes (at most GREYLIST_TALLY_MAX live, as in the
 *	LMDB engine; the tally constants of greylist_record.h are passed to
 *	the script).  A write sets the key's TTL to its remaining life plus
 *	REDIS_EXPIRE_SLACK, so a tuple vanishes max(retry_window, lifetime)
 *	after its last change and a tally a day after its last pass; an
 *	early retry writes nothing.
 *
 *	Locks, strikes and events.  A user's lock and strikes are one hash,
 *	"chapps:k:" + the user name's bytes, with fields s (locked since), r
 *	(reason) and t (the strike times in the window); a lock has no TTL,
 *	a strikes-only hash expires when its newest strike leaves the window
 *	(plus REDIS_EXPIRE_SLACK).  set, clear and strike are calls of
 *	redis/lock.lua, so a strike and the lock it causes are one atomic
 *	step: of racing strikes exactly one sees no lock and sets it.
 *	store_lock_get is one plain HMGET (no script); store_mail_lookup
 *	sends the cache GET and that HMGET pipelined, in one round trip.  store_locks_list
 *	SCANs "chapps:k:*" and reads each hash (an operator command).  The
 *	events are one list, "chapps:events", of "<time> <text>" newest
 *	first: LPUSH and LTRIM to STORE_EVENTS_KEEP in one script call;
 *	store_events_list is one LRANGE.
 * DIAGNOSTICS
 *	Failures return STORE_ERROR (or -1 from store_redis_open) with
 *	*error_r pointing to a thread-local buffer that names the server and
 *	the failing step, valid until the next call from the same thread.
 *	Nothing is fatal except out-of-memory (xalloc).
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "base/config.h"
#include "base/xalloc.h"
#include "store/greylist_record.h"
#include "store/limit_record.h"
#include "store/quota_record.h"
#include "store/redis_conn.h"
#include "store/redis_scripts.h"
#include "store/store-private.h"

#define REDIS_EXPIRE_SLACK 60
#define REDIS_STR2(x) #x
#define REDIS_STR(x) REDIS_STR2(x)
#define REDIS_QUOTA_PREFIX "chapps:q:"
#define REDIS_CACHE_PREFIX "chapps:c:"
#define REDIS_GREY_TUPLE_PREFIX "chapps:g:"
#define REDIS_GREY_TALLY_PREFIX "chapps:gt:"
#define REDIS_LIMITS_PREFIX "chapps:l:"
#define REDIS_LIMITS_SET_PREFIX "chapps:lh:"
#define REDIS_LOCK_PREFIX "chapps:k:"
#define REDIS_EVENTS_KEY "chapps:events"

/* The server-side scripts (redis/quota.lua, greylist.lua, limits.lua, lock.lua), in the pool's order. */
enum redis_script_id { REDIS_SCRIPT_QUOTA, REDIS_SCRIPT_GREYLIST, REDIS_SCRIPT_LIMITS,
		       REDIS_SCRIPT_LOCK, REDIS_SCRIPTS };

struct store_redis {
	struct store store;		/* first: store.c sees only this */
	struct redis_pool *pool;
	bool cluster;			/* store.redis.cluster: keys carry hash tags */
	struct redis_script scripts[REDIS_SCRIPTS];
};

/* floordiv - floor(a / b) for b > 0 */
static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* redis_key - prefix + the caller's raw bytes into a new buffer of *len_r bytes */
static char *redis_key(const char *prefix, const void *data, size_t data_len, size_t *len_r)
{
	size_t plen = strlen(prefix);
	char *k = xmalloc(plen + data_len);

	memcpy(k, prefix, plen);
	if (data_len > 0)
		memcpy(k + plen, data, data_len);
	*len_r = plen + data_len;
	return k;
}

#define REDIS_ERROR_COPY 512	/* an error kept across a clean-up call */
#define REDIS_TAG_MAX 64	/* a hash tag's bytes, at most (longer: cut, it only places keys) */
#define REDIS_POOL_OWNER "\0pool:"	/* a domain pool's owner (store.h, policy/limits.h) */
#define REDIS_POOL_OWNER_LEN 6

/* A key's hash tag in cluster mode; len 0: none (single Redis: today's key names). */
struct redis_tag {
	char buf[REDIS_TAG_MAX];
	size_t len;
};

/*
 * tag_bytes - data (len bytes) as a tag: ASCII letters lowercased, '{'
 * and '}' replaced by '_' (a tag must not end early), cut to
 * REDIS_TAG_MAX bytes, "_" when empty.  A tag only decides the slot:
 * the whole name follows it in the key, so two names with one tag stay
 * two keys.
 */
static void tag_bytes(const char *data, size_t len, struct redis_tag *t)
{
	size_t i;

	if (len > REDIS_TAG_MAX)
		len = REDIS_TAG_MAX;
	for (i = 0; i < len; i++) {
		char c = data[i];

		t->buf[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a')
			    : c == '{' || c == '}' ? '_' : c;
	}
	t->len = len;
	if (len == 0) {
		t->buf[0] = '_';
		t->len = 1;
	}
}

/*
 * tag_user - a user's tag: the domain after the last '@' (every user of a
 * domain in one slot, with the domain's pool), else the whole name (a
 * name without a domain has no pool); nothing outside cluster mode
 */
static void tag_user(const struct store_redis *rs, const void *user, size_t len,
		     struct redis_tag *t)
{
	const char *u = user, *at = len > 0 ? memrchr(u, '@', len) : NULL;

	t->len = 0;
	if (!rs->cluster)
		return;
	if (at != NULL && (size_t)(at - u) + 1 < len)
		tag_bytes(at + 1, len - (size_t)(at - u) - 1, t);
	else
		tag_bytes(u, len, t);
}

/* tag_owner - a limit owner's tag: a domain pool's is its domain, a user's tag_user */
static void tag_owner(const struct store_redis *rs, const char *owner, size_t len,
		      struct redis_tag *t)
{
	t->len = 0;
	if (!rs->cluster)
		return;
	if (len > REDIS_POOL_OWNER_LEN &&
	    memcmp(owner, REDIS_POOL_OWNER, REDIS_POOL_OWNER_LEN) == 0)
		tag_bytes(owner + REDIS_POOL_OWNER_LEN, len - REDIS_POOL_OWNER_LEN, t);
	else
		tag_user(rs, owner, len, t);
}

/*
 * tag_keyed - the tag of a store_key key, from its first part: with
 * fallback NULL (the cache) tag_user of it (the user of an SDA entry, so
 * it shares the slot of the user's lock), else the part itself (the
 * client of a greylisting tuple and of its tally, so the two share one);
 * a key of another form gets the fixed tag fallback, or none (the cache)
 */
static void tag_keyed(const struct store_redis *rs, const void *key, size_t len,
		      const char *fallback, struct redis_tag *t)
{
	const unsigned char *k = key;
	const unsigned char *nul = len > 0 ? memchr(k, 0, len < 32 ? len : 32) : NULL;

	t->len = 0;
	if (!rs->cluster)
		return;
	if (nul != NULL && (size_t)(nul - k) + 5 <= len) {
		size_t at = (size_t)(nul - k) + 1;
		uint32_t plen = (uint32_t)k[at] << 24 | (uint32_t)k[at + 1] << 16 |
				(uint32_t)k[at + 2] << 8 | k[at + 3];

		if (plen > 0 && plen <= len - at - 4) {
			if (fallback == NULL)
				tag_user(rs, k + at + 4, plen, t);
			else
				tag_bytes((const char *)k + at + 4, plen, t);
			return;
		}
	}
	if (fallback != NULL)
		tag_bytes(fallback, strlen(fallback), t);
}

/* redis_tkey - prefix + "{" tag "}" (when t has one) + the caller's raw bytes, as redis_key */
static char *redis_tkey(const char *prefix, const struct redis_tag *t, const void *data,
			size_t data_len, size_t *len_r)
{
	size_t plen = strlen(prefix), tlen = t->len > 0 ? t->len + 2 : 0;
	char *k = xmalloc(plen + tlen + data_len);

	memcpy(k, prefix, plen);
	if (tlen > 0) {
		k[plen] = '{';
		memcpy(k + plen + 1, t->buf, t->len);
		k[plen + tlen - 1] = '}';
	}
	if (data_len > 0)
		memcpy(k + plen + tlen, data, data_len);
	*len_r = plen + tlen + data_len;
	return k;
}

/*
 * untag - the name in a key read back by SCAN (after its prefix of plen
 * bytes): in cluster mode past the "{tag}"; sets *len_r
 */
static const char *untag(const struct store_redis *rs, const char *key, size_t len, size_t plen,
			 size_t *len_r)
{
	const char *p = key + plen, *close;

	if (rs->cluster && len > plen && *p == '{' &&
	    (close = memchr(p, '}', len - plen)) != NULL)
		p = close + 1;
	*len_r = len - (size_t)(p - key);
	return p;
}

/* cache_key - "chapps:c:" (+ tag_keyed) + the cache key */
static char *cache_key(const struct store *store, const void *key, size_t len, size_t *len_r)
{
	struct redis_tag t;

	tag_keyed((const struct store_redis *)store, key, len, NULL, &t);
	return redis_tkey(REDIS_CACHE_PREFIX, &t, key, len, len_r);
}

/* grey_key - a greylisting key: prefix (+ tag_keyed, fixed tag "g") + the caller's key */
static char *grey_key(const struct store *store, const char *prefix, const void *key, size_t len,
		      size_t *len_r)
{
	struct redis_tag t;

	tag_keyed((const struct store_redis *)store, key, len, "g", &t);
	return redis_tkey(prefix, &t, key, len, len_r);
}

/* lock_key - "chapps:k:" (+ tag_user) + the user name */
static char *lock_key(const struct store *store, const char *user, size_t len, size_t *len_r)
{
	struct redis_tag t;

	tag_user((const struct store_redis *)store, user, len, &t);
	return redis_tkey(REDIS_LOCK_PREFIX, &t, user, len, len_r);
}

/* resid_field - "r" + resid into field (size 1 + STORE_RESID_MAX + 1); returns its length */
static size_t resid_field(char *field, const char *resid)
{
	size_t len = resid != NULL ? strnlen(resid, STORE_RESID_MAX) : 0;

	field[0] = 'r';
	if (len > 0)
		memcpy(field + 1, resid, len);
	field[len + 1] = '\0';
	return len + 1;
}

/* sat32 - v clamped to 0..UINT32_MAX */
static uint32_t sat32(long long v)
{
	return v < 0 ? 0 : v > (long long)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

#define QUOTA_ARGC 17

enum quota_op { OP_RESERVE, OP_COMMIT, OP_RELEASE, OP_USAGE, OP_RESET };

static const char *const quota_op_names[] = { "reserve", "commit", "release", "usage", "reset" };

#define QUOTA_TOO_MANY 2	/* script status: a new reservation over the cap */

/* quota_parse - the script's reply into a status, *state and *dropped_r */
static int quota_parse(const redisReply *reply, struct store_quota_state *state,
		       uint32_t *dropped_r)
{
	long long v[5];
	size_t i;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5)
		return STORE_ERROR;
	for (i = 0; i < 5; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER ||
		    reply->element[i]->integer < 0)
			return STORE_ERROR;
		v[i] = reply->element[i]->integer;
	}
	if (v[0] > QUOTA_TOO_MANY)
		return STORE_ERROR;
	if (state != NULL) {
		state->committed = sat32(v[1]);
		state->reserved = sat32(v[2]);
		state->own = sat32(v[3]);
		state->last_send = v[4];
	}
	if (dropped_r != NULL)
		*dropped_r = sat32(v[1]);
	return v[0] == 0 ? STORE_OK : v[0] == 1 ? STORE_REFUSED : QUOTA_TOO_MANY;
}

/*
 * quota_run - run the quota script for op and parse its reply into
 * *status_r (STORE_OK or STORE_REFUSED) and state (may be NULL).
 */
static int quota_run(struct store *store, enum quota_op op, const char *user, size_t user_len,
		     const char *resid, uint32_t n, const struct store_quota_params *params,
		     int64_t now, struct store_quota_state *state, uint32_t *dropped_r,
		     const char **error_r)
{
	static const struct store_quota_params no_params = { 0, 0, 0, 1, 0 };
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	char num[10][24], field[STORE_RESID_MAX + 2];
	const char *argv[QUOTA_ARGC];
	struct redis_tag tag;
	size_t lens[QUOTA_ARGC];
	redisReply *reply;
	uint32_t maxbuckets;
	char *key;
	int i, ret;

	if (params == NULL)
		params = &no_params;
	if (params->resolution == 0) {
		*error_r = "quota resolution must be at least 1 second";
		return STORE_ERROR;
	}
	maxbuckets = params->interval / params->resolution + 2;
	if (maxbuckets > QUOTA_RECORD_BUCKETS_MAX)
		maxbuckets = QUOTA_RECORD_BUCKETS_MAX;
	snprintf(num[0], sizeof(num[0]), "%lld", (long long)now);
	snprintf(num[1], sizeof(num[1]), "%u", params->interval);
	snprintf(num[2], sizeof(num[2]), "%u", params->resolution);
	snprintf(num[3], sizeof(num[3]), "%u", params->reservation_ttl);
	snprintf(num[4], sizeof(num[4]), "%u", params->limit);
	snprintf(num[5], sizeof(num[5]), "%u", params->margin);
	snprintf(num[6], sizeof(num[6]), "%u", n);
	snprintf(num[7], sizeof(num[7]), "%d", QUOTA_RECORD_RESV_MAX);
	snprintf(num[8], sizeof(num[8]), "%lld", (long long)floordiv(now, params->resolution));
	snprintf(num[9], sizeof(num[9]), "%u", maxbuckets);

	tag_user((struct store_redis *)store, user, user_len, &tag);
	key = redis_tkey(REDIS_QUOTA_PREFIX, &tag, user, user_len, &lens[3]);
	argv[0] = "EVALSHA";
	argv[1] = "";	/* the SHA1, filled in by redis_pool_exec */
	argv[2] = "1";
	argv[3] = key;
	argv[4] = quota_op_names[op];
	for (i = 0; i < 6; i++)	/* now .. margin */
		argv[5 + i] = num[i];
	argv[11] = field;
	argv[12] = num[6];
	argv[13] = num[7];
	argv[14] = num[8];
	argv[15] = REDIS_STR(REDIS_EXPIRE_SLACK);
	argv[16] = num[9];
	for (i = 0; i < QUOTA_ARGC; i++) {
		if (i != 3 && i != 11)
			lens[i] = strlen(argv[i]);
	}
	lens[11] = resid_field(field, resid);

	reply = redis_pool_exec(pool, REDIS_SCRIPT_QUOTA, QUOTA_ARGC, argv, lens, error_r);
	XFREE(key);
	if (reply == NULL)
		return STORE_ERROR;
	ret = quota_parse(reply, state, dropped_r);
	if (ret == STORE_ERROR)
		*error_r = redis_error("redis: quota %s: malformed script reply",
				       quota_op_names[op]);
	else if (ret == QUOTA_TOO_MANY)
		*error_r = "too many open reservations";
	if (ret == QUOTA_TOO_MANY)
		ret = STORE_ERROR;
	freeReplyObject(reply);
	return ret;
}

/* redis_quota_reserve - store_quota_reserve */
static int redis_quota_reserve(struct store *store, const char *user, size_t user_len,
			       const char *resid, uint32_t n,
			       const struct store_quota_params *params, int64_t now,
			       struct store_quota_state *state, const char **error_r)
{
	return quota_run(store, OP_RESERVE, user, user_len, resid, n, params, now, state, NULL,
			 error_r);
}

/* redis_quota_commit - store_quota_commit */
static int redis_quota_commit(struct store *store, const char *user, size_t user_len,
			      const char *resid, const struct store_quota_params *params,
			      int64_t now, const char **error_r)
{
	int ret = quota_run(store, OP_COMMIT, user, user_len, resid, 0, params, now, NULL, NULL,
			    error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* redis_quota_release - store_quota_release */
static int redis_quota_release(struct store *store, const char *user, size_t user_len,
			       const char *resid, int64_t now, const char **error_r)
{
	int ret = quota_run(store, OP_RELEASE, user, user_len, resid, 0, NULL, now, NULL, NULL,
			    error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* redis_quota_usage - store_quota_usage */
static int redis_quota_usage(struct store *store, const char *user, size_t user_len,
			     const struct store_quota_params *params, int64_t now,
			     struct store_quota_state *state, const char **error_r)
{
	int ret = quota_run(store, OP_USAGE, user, user_len, NULL, 0, params, now, state, NULL,
			    error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* redis_quota_reset - store_quota_reset */
static int redis_quota_reset(struct store *store, const char *user, size_t user_len,
			     uint32_t *dropped_r, const char **error_r)
{
	int ret = quota_run(store, OP_RESET, user, user_len, NULL, 0, NULL, 0, NULL, dropped_r,
			    error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* cache_parse - a GET reply of a cache entry into STORE_OK (val filled), STORE_MISS or STORE_ERROR */
static int cache_parse(const redisReply *reply, void *val, size_t *val_len, int64_t now,
		       const char **error_r)
{
	const unsigned char *p = (const unsigned char *)reply->str;
	uint64_t expiry = 0;
	size_t len;
	int i;

	if (reply->type == REDIS_REPLY_NIL)
		return STORE_MISS;
	if (reply->type != REDIS_REPLY_STRING || reply->len < 8) {
		*error_r = redis_error("redis: cache GET: %s", reply->type == REDIS_REPLY_STRING
									? "malformed entry"
									: "unexpected reply");
		return STORE_ERROR;
	}
	len = reply->len - 8;
	for (i = 0; i < 8; i++)
		expiry = expiry << 8 | p[i];
	if ((int64_t)expiry <= now)
		return STORE_MISS;
	if (len > *val_len) {
		*error_r = redis_error("redis: cache value of %zu bytes does not fit in %zu", len,
				       *val_len);
		return STORE_ERROR;
	}
	memcpy(val, p + 8, len);
	*val_len = len;
	return STORE_OK;
}

/* redis_cache_get - store_cache_get */
static int redis_cache_get(struct store *store, const void *key, size_t key_len, void *val,
			   size_t *val_len, int64_t now, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[2] = { "GET" };
	size_t lens[2] = { 3 };
	redisReply *reply;
	char *k;
	int ret;

	k = cache_key(store, key, key_len, &lens[1]);
	argv[1] = k;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 2, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	ret = cache_parse(reply, val, val_len, now, error_r);
	freeReplyObject(reply);
	return ret;
}

/* redis_cache_set - store_cache_set */
static int redis_cache_set(struct store *store, const void *key, size_t key_len, const void *val,
			   size_t val_len, uint32_t ttl, int64_t now, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	unsigned char buf[8 + STORE_CACHE_VALUE_MAX];
	char ex[24];
	const char *argv[5] = { "SET", NULL, (const char *)buf, "EX", ex };
	size_t lens[5] = { 3, 0, 0, 2, 0 };
	uint64_t expiry = (uint64_t)(now + (int64_t)ttl);
	redisReply *reply;
	char *k;
	int i;

	if (val_len > STORE_CACHE_VALUE_MAX) {
		*error_r = redis_error("cache value of %zu bytes is over %d", val_len,
				       STORE_CACHE_VALUE_MAX);
		return STORE_ERROR;
	}
	for (i = 7; i >= 0; i--) {
		buf[i] = (unsigned char)(expiry & 0xff);
		expiry >>= 8;
	}
	if (val_len > 0)
		memcpy(buf + 8, val, val_len);
	lens[2] = 8 + val_len;
	lens[4] = (size_t)snprintf(ex, sizeof(ex), "%llu",
				   (unsigned long long)ttl + REDIS_EXPIRE_SLACK);
	k = cache_key(store, key, key_len, &lens[1]);
	argv[1] = k;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 5, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	freeReplyObject(reply);
	return STORE_OK;
}

/* redis_cache_del - store_cache_del */
static int redis_cache_del(struct store *store, const void *key, size_t key_len,
			   const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[2] = { "DEL" };
	size_t lens[2] = { 3 };
	redisReply *reply;
	char *k;

	k = cache_key(store, key, key_len, &lens[1]);
	argv[1] = k;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 2, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	freeReplyObject(reply);
	return STORE_OK;
}

/* ---- greylisting -------------------------------------------------------- */

#define GREY_ARGC 17

enum grey_op { GREY_CHECK, GREY_TALLY, GREY_CLEAR };

static const char *const grey_op_names[] = { "check", "tally", "clear" };

/*
 * grey_run - run the greylisting script for op; *verdict_r and *count_r
 * (may be NULL) get its answer
 */
static int grey_run(struct store *store, enum grey_op op, const void *tuple, size_t tuple_len,
		    const void *client, size_t client_len, const struct greylist_params *params,
		    int64_t now, int *verdict_r, uint32_t *count_r, const char **error_r)
{
	static const struct greylist_params no_params = { 0, 0, 0, 0, false };
	static const int verdicts[] = { GREYLIST_PASS, GREYLIST_PASS_WHITELISTED,
					GREYLIST_DEFER_NEW, GREYLIST_DEFER_EARLY };
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[GREY_ARGC];
	size_t lens[GREY_ARGC];
	char num[10][24], *ck, *tk = NULL;
	int i, argc, nkeys = op == GREY_CHECK ? 2 : 1, ret = STORE_OK;
	redisReply *reply;

	if (params == NULL)
		params = &no_params;
	snprintf(num[0], sizeof(num[0]), "%lld", (long long)now);
	snprintf(num[1], sizeof(num[1]), "%lld", (long long)(now / GREYLIST_TALLY_HOUR));
	snprintf(num[2], sizeof(num[2]), "%u", params->min_delay);
	snprintf(num[3], sizeof(num[3]), "%u", params->retry_window);
	snprintf(num[4], sizeof(num[4]), "%u", params->lifetime);
	snprintf(num[5], sizeof(num[5]), "%u", params->whitelist_threshold);
	snprintf(num[6], sizeof(num[6]), "%d", REDIS_EXPIRE_SLACK);
	snprintf(num[7], sizeof(num[7]), "%d", GREYLIST_TALLY_HOUR);
	snprintf(num[8], sizeof(num[8]), "%d", GREYLIST_TALLY_WINDOW);
	snprintf(num[9], sizeof(num[9]), "%d", GREYLIST_TALLY_MAX);

	argc = 0;
	argv[argc] = "EVALSHA";
	lens[argc++] = 7;
	argv[argc] = "";	/* the SHA1, filled in by redis_pool_exec */
	lens[argc++] = 0;
	argv[argc] = nkeys == 2 ? "2" : "1";
	lens[argc++] = 1;
	ck = grey_key(store, REDIS_GREY_TALLY_PREFIX, client, client_len, &lens[argc]);
	argv[argc++] = ck;
	if (nkeys == 2) {
		tk = grey_key(store, REDIS_GREY_TUPLE_PREFIX, tuple, tuple_len, &lens[argc]);
		argv[argc++] = tk;
	}
	argv[argc] = grey_op_names[op];
	lens[argc] = strlen(argv[argc]);
	argc++;
	for (i = 0; i < 10; i++) {
		argv[argc] = num[i];
		lens[argc++] = strlen(num[i]);
	}
	argv[argc] = params->uncounted ? "1" : "0";	/* ARGV[12] */
	lens[argc++] = 1;

	reply = redis_pool_exec(pool, REDIS_SCRIPT_GREYLIST, argc, argv, lens, error_r);
	XFREE(ck);
	XFREE(tk);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[0]->integer < 0 ||
	    reply->element[0]->integer > 3 || reply->element[1]->integer < 0) {
		*error_r = redis_error("redis: greylist %s: malformed script reply",
				       grey_op_names[op]);
		ret = STORE_ERROR;
	} else {
		if (verdict_r != NULL)
			*verdict_r = verdicts[reply->element[0]->integer];
		if (count_r != NULL)
			*count_r = sat32(reply->element[1]->integer);
	}
	freeReplyObject(reply);
	return ret;
}

/* redis_greylist_check - store_greylist_check */
static int redis_greylist_check(struct store *store, const void *tuple, size_t tuple_len,
				const void *client, size_t client_len,
				const struct greylist_params *params, int64_t now, int *verdict_r,
				const char **error_r)
{
	return grey_run(store, GREY_CHECK, tuple, tuple_len, client, client_len, params, now,
			verdict_r, NULL, error_r);
}

/* redis_greylist_tally - store_greylist_tally */
static int redis_greylist_tally(struct store *store, const void *client, size_t client_len,
				int64_t now, uint32_t *count_r, const char **error_r)
{
	*count_r = 0;
	return grey_run(store, GREY_TALLY, NULL, 0, client, client_len, NULL, now, NULL, count_r,
			error_r);
}

/* redis_greylist_tally_clear - store_greylist_tally_clear */
static int redis_greylist_tally_clear(struct store *store, const void *client,
				      size_t client_len, const char **error_r)
{
	return grey_run(store, GREY_CLEAR, NULL, 0, client, client_len, NULL, 0, NULL, NULL,
			error_r);
}

/* redis_greylist_peek - store_greylist_peek: HMGET of the tuple's hash, nothing written */
static int redis_greylist_peek(struct store *store, const void *tuple, size_t tuple_len,
			       int64_t now, bool *present_r, struct greylist_record_tuple *tuple_r,
			       const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[5] = { "HMGET", NULL, "f", "p", "e" };
	size_t lens[5] = { 5, 0, 1, 1, 1 };
	long long f[3];
	redisReply *reply;
	char *tk;
	int ret = STORE_OK;

	tk = grey_key(store, REDIS_GREY_TUPLE_PREFIX, tuple, tuple_len, &lens[1]);
	argv[1] = tk;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 5, argv, lens, error_r);
	XFREE(tk);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
		*error_r = redis_error("redis: greylist HMGET: unexpected reply");
		ret = STORE_ERROR;
	} else {
		/* as greylist.lua reads it: all three numbers, and now before e */
		bool ok = true;

		for (size_t i = 0; i < 3 && ok; i++) {
			const redisReply *e = reply->element[i];
			char *end;

			ok = e->type == REDIS_REPLY_STRING && e->len > 0 && e->len < 24;
			if (ok) {
				f[i] = strtoll(e->str, &end, 10);
				ok = *end == '\0';
			}
		}
		if (ok && now < f[2] && f[0] >= 0 && f[1] >= -1) {
			tuple_r->first = f[0];
			tuple_r->last_pass = f[1];
			*present_r = true;
		}
	}
	freeReplyObject(reply);
	return ret;
}

/* ---- limits -------------------------------------------------------------- */

#define LIMITS_ARG_MAX 256	/* one limit's packed argument, at most (13 numbers) */
#define LIMITS_OWNER_BYTES 320	/* owners up to this many bytes: keys built in place */
#define LIMITS_KEY_MAX (40 + REDIS_TAG_MAX + 2 + LIMITS_OWNER_BYTES)
#define LIMITS_ARGC (3 + 2 * STORE_LIMITS_MAX + 6 + STORE_LIMITS_MAX)
#define LIMITS_TOO_MANY 2	/* script status: a new reservation over the cap */
#define LIMITS_TOO_MANY_RCPT 3	/* script status: too many hashes in a reservation */
#define LIMITS_SCAN_COUNT "1000"

enum limits_op { LIM_RESERVE, LIM_COMMIT, LIM_RELEASE, LIM_USAGE, LIM_RESET };

static const char *const limits_op_names[] = { "reserve", "commit", "release", "usage",
					       "reset" };

/*
 * limit_key - the limit's hash ("chapps:l:<id>:" + owner, or for id 0 the
 * quota hash "chapps:q:" + owner) or, with set, its address set
 * ("chapps:lh:<id>:" + owner); built by redis_key like every key
 */
static char *limit_key(const struct store_redis *rs, const struct store_limit *l, bool set,
		       size_t *len_r)
{
	char prefix[40];
	struct redis_tag t;

	tag_owner(rs, l->owner, l->owner_len, &t);
	if (l->id == 0 && !set)
		return redis_tkey(REDIS_QUOTA_PREFIX, &t, l->owner, l->owner_len, len_r);
	snprintf(prefix, sizeof(prefix), "%s%" PRIu32 ":",
		 set ? REDIS_LIMITS_SET_PREFIX : REDIS_LIMITS_PREFIX, l->id);
	return redis_tkey(prefix, &t, l->owner, l->owner_len, len_r);
}

/* put_u64 - v in decimal at p, then sep unless it is '\0'; returns the end */
static char *put_u64(char *p, uint64_t v, char sep)
{
	char t[20];
	size_t n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = t[--n];
	if (sep != '\0')
		*p++ = sep;
	return p;
}

/* put_i64 - put_u64 for a signed v */
static char *put_i64(char *p, int64_t v, char sep)
{
	if (v >= 0)
		return put_u64(p, (uint64_t)v, sep);
	*p++ = '-';
	return put_u64(p, (uint64_t)0 - (uint64_t)v, sep);
}

/*
 * put_num - v as a little-endian IEEE double at p (Lua's struct.unpack
 * "<d": a copy, no conversion); returns the end.  Every number sent is
 * an integer below 2^53 (store.h: STORE_LIMIT_MAX), so exact.
 */
static char *put_num(char *p, double v)
{
	uint64_t u;
	int k;

	memcpy(&u, &v, sizeof(u));
	for (k = 0; k < 8; k++)
		*p++ = (char)(u >> (8 * k));
	return p;
}

/*
 * limit_arg - a limit's one script argument: 12 numbers as doubles
 * ("count window interval resolution period_start period_end id max margin
 * reservation_ttl amount final", final -1: none), the rcpt hash in 16 hex
 * digits, then the definition "count window interval resolution
 * period_start period_end" in decimal, as the script stores it in "d";
 * returns its length
 */
static size_t limit_arg(char *buf, const struct store_limit *l,
			const struct store_limit_ask *ask, const uint64_t *final)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = ask != NULL ? ask->rcpt_hash : 0;
	uint32_t res = l->resolution > 0 ? l->resolution : 1;
	char *p = buf;
	int k;

	p = put_num(p, (double)l->count);
	p = put_num(p, (double)l->window);
	p = put_num(p, (double)l->interval);
	p = put_num(p, (double)res);
	p = put_num(p, (double)l->period_start);
	p = put_num(p, (double)l->period_end);
	p = put_num(p, (double)l->id);
	p = put_num(p, (double)l->max);
	p = put_num(p, (double)l->margin);
	p = put_num(p, (double)l->reservation_ttl);
	p = put_num(p, (double)(ask != NULL ? ask->amount : 0));
	p = put_num(p, final != NULL && *final != UINT64_MAX ? (double)*final : -1.0);
	for (k = 15; k >= 0; k--)
		*p++ = hex[(h >> (4 * k)) & 0xf];
	p = put_u64(p, (uint64_t)l->count, ' ');
	p = put_u64(p, (uint64_t)l->window, ' ');
	p = put_u64(p, l->interval, ' ');
	p = put_u64(p, res, ' ');
	p = put_i64(p, l->period_start, ' ');
	p = put_i64(p, l->period_end, '\0');
	return (size_t)(p - buf);
}

/*
 * limits_head - the script's third argument: now, the expire slack, the
 * cap of reservations and of buckets, as doubles; returns its length
 */
static size_t limits_head(char *buf, int64_t now)
{
	char *p = buf;

	p = put_num(p, (double)now);
	p = put_num(p, REDIS_EXPIRE_SLACK);
	p = put_num(p, LIMIT_RECORD_RESV_MAX);
	p = put_num(p, LIMIT_RECORD_BUCKETS_MAX);
	return (size_t)(p - buf);
}

/*
 * limits_parse - the script's reply: status, refusing index and n states
 * (commit and release: the status and index only)
 */
static int limits_parse(const redisReply *reply, enum limits_op op, size_t n,
			size_t *refused_r, struct store_limit_state *states)
{
	long long v[2 + 4 * STORE_LIMITS_MAX];
	size_t i, want = op == LIM_COMMIT || op == LIM_RELEASE ? 2 : 2 + 4 * n;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != want)
		return STORE_ERROR;
	for (i = 0; i < want; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER ||
		    reply->element[i]->integer < 0)
			return STORE_ERROR;
		v[i] = reply->element[i]->integer;
	}
	if (v[0] > LIMITS_TOO_MANY_RCPT || (v[0] != 0 && (v[1] < 1 || (size_t)v[1] > n)))
		return STORE_ERROR;
	for (i = 0; states != NULL && want > 2 && i < n; i++) {
		states[i].committed = (uint64_t)v[2 + 4 * i];
		states[i].reserved = (uint64_t)v[3 + 4 * i];
		states[i].own = (uint64_t)v[4 + 4 * i];
		states[i].next_free = v[5 + 4 * i];
	}
	if (refused_r != NULL && v[0] != 0)
		*refused_r = (size_t)v[1] - 1;
	return v[0] == 0 ? STORE_OK : v[0] == 1 ? STORE_REFUSED : (int)v[0];
}

/*
 * limits_key_into - limit_key into buf (LIMITS_KEY_MAX bytes, an owner up
 * to LIMITS_OWNER_BYTES; a longer one takes limit_key's heap copy, set in
 * *heap_r); returns the key
 */
static const char *limits_key_into(const struct store_redis *rs, char *buf,
				   const struct store_limit *l, bool set, size_t *len_r,
				   char **heap_r)
{
	struct redis_tag t;
	const char *prefix = l->id == 0 && !set ? REDIS_QUOTA_PREFIX
			   : set ? REDIS_LIMITS_SET_PREFIX : REDIS_LIMITS_PREFIX;
	size_t plen = strlen(prefix);
	char *p;

	*heap_r = NULL;
	if (l->owner_len > LIMITS_OWNER_BYTES)
		return *heap_r = limit_key(rs, l, set, len_r);
	memcpy(buf, prefix, plen);
	p = buf + plen;
	if (l->id != 0 || set)
		p = put_u64(p, l->id, ':');
	tag_owner(rs, l->owner, l->owner_len, &t);
	if (t.len > 0) {
		*p++ = '{';
		memcpy(p, t.buf, t.len);
		p += t.len;
		*p++ = '}';
	}
	memcpy(p, l->owner, l->owner_len);
	*len_r = (size_t)(p - buf) + l->owner_len;
	return buf;
}

/*
 * limits_run - one call of the limits script over the n limits: the
 * limit's hash, and its address set only where the script may touch it
 * (distinct; every limit for reset, which drops a set left by a former
 * distinct definition): each key costs the server a conversion
 */
static int limits_run_one(struct store *store, enum limits_op op, const char *resid,
		      const struct store_limit *limits, const struct store_limit_ask *asks,
		      const uint64_t *final, size_t n, int64_t now, size_t *refused_r,
		      struct store_limit_state *states, const char **error_r)
{
	const struct store_redis *rs = (const struct store_redis *)store;
	struct redis_pool *pool = rs->pool;
	char field[STORE_RESID_MAX + 2], nkeys[24], head[32];
	char (*kb)[LIMITS_KEY_MAX], (*ab)[LIMITS_ARG_MAX];
	const char *argv[LIMITS_ARGC];
	size_t lens[LIMITS_ARGC];
	char *heap[2 * STORE_LIMITS_MAX];
	redisReply *reply;
	size_t i, argc = 0, keys = 0;
	int ret;

	/* one block for the keys and the arguments: no formatting through stdio */
	kb = xmalloc(n * (2 * sizeof(*kb) + sizeof(*ab)));
	ab = (char (*)[LIMITS_ARG_MAX])(kb + 2 * n);
	argv[argc] = "EVALSHA";
	lens[argc++] = 7;
	argv[argc] = "";	/* the SHA1, filled in by redis_pool_exec */
	lens[argc++] = 0;
	argv[argc] = nkeys;	/* the number of keys, set below */
	argc++;
	for (i = 0; i < n; i++) {
		heap[2 * i + 1] = NULL;
		argv[argc] = limits_key_into(rs, kb[2 * i], &limits[i], false, &lens[argc],
					     &heap[2 * i]);
		argc++;
		if (limits[i].count == STORE_COUNT_DISTINCT || op == LIM_RESET) {
			argv[argc] = limits_key_into(rs, kb[2 * i + 1], &limits[i], true, &lens[argc],
						     &heap[2 * i + 1]);
			argc++;
		}
	}
	keys = argc - 3;
	lens[2] = (size_t)(put_u64(nkeys, keys, '\0') - nkeys);
	argv[argc] = limits_op_names[op];
	lens[argc] = strlen(argv[argc]);
	argc++;
	lens[argc] = resid_field(field, resid);
	argv[argc++] = field;
	argv[argc] = head;
	lens[argc++] = limits_head(head, now);
	for (i = 0; i < n; i++) {
		lens[argc] = limit_arg(ab[i], &limits[i], asks != NULL ? &asks[i] : NULL,
				       final != NULL ? &final[i] : NULL);
		argv[argc++] = ab[i];
	}

	reply = redis_pool_exec(pool, REDIS_SCRIPT_LIMITS, (int)argc, argv, lens, error_r);
	for (i = 0; i < 2 * n; i++)
		if (heap[i] != NULL)
			XFREE(heap[i]);
	XFREE(kb);
	if (reply == NULL)
		return STORE_ERROR;
	ret = limits_parse(reply, op, n, refused_r, states);
	freeReplyObject(reply);
	if (ret == STORE_ERROR)
		*error_r = redis_error("redis: limits %s: malformed script reply",
				       limits_op_names[op]);
	else if (ret == LIMITS_TOO_MANY)
		*error_r = "too many open reservations";
	else if (ret == LIMITS_TOO_MANY_RCPT)
		*error_r = "too many recipients in one reservation";
	if (ret == LIMITS_TOO_MANY || ret == LIMITS_TOO_MANY_RCPT)
		ret = STORE_ERROR;
	return ret;
}

/*
 * limits_run - limits_run_one, or in cluster mode, when the limits' tags
 * differ (owners of different domains: never a call of the policy, whose
 * user and pool share the domain's tag, but the store's contract allows
 * it), one call per tag in the order of the limits: a reserve that a
 * later group refuses (or fails) releases the earlier groups' reservation,
 * so no limit ever counts more than it grants (a message racing with it
 * may be refused by the short-lived reservation: never over-admitted);
 * the other operations are per limit anyway
 */
static int limits_run(struct store *store, enum limits_op op, const char *resid,
		      const struct store_limit *limits, const struct store_limit_ask *asks,
		      const uint64_t *final, size_t n, int64_t now, size_t *refused_r,
		      struct store_limit_state *states, const char **error_r)
{
	const struct store_redis *rs = (const struct store_redis *)store;
	struct redis_tag tags[STORE_LIMITS_MAX], t0;
	struct store_limit sl[STORE_LIMITS_MAX];
	struct store_limit_ask sa[STORE_LIMITS_MAX];
	struct store_limit_state ss[STORE_LIMITS_MAX];
	uint64_t sf[STORE_LIMITS_MAX];
	size_t idx[STORE_LIMITS_MAX], i, j, k, m, refused = 0;
	bool same = true, grouped[STORE_LIMITS_MAX] = { false };
	bool granted[STORE_LIMITS_MAX] = { false };
	int ret = STORE_OK;

	if (!rs->cluster || n < 2 || n > STORE_LIMITS_MAX)
		return limits_run_one(store, op, resid, limits, asks, final, n, now, refused_r,
				      states, error_r);
	for (i = 0; i < n; i++) {
		tag_owner(rs, limits[i].owner, limits[i].owner_len, &tags[i]);
		if (tags[i].len != tags[0].len ||
		    memcmp(tags[i].buf, tags[0].buf, tags[0].len) != 0)
			same = false;
	}
	if (same)
		return limits_run_one(store, op, resid, limits, asks, final, n, now, refused_r,
				      states, error_r);
	for (i = 0; i < n && ret == STORE_OK; i++) {
		if (grouped[i])
			continue;
		t0 = tags[i];
		for (m = 0, j = i; j < n; j++) {
			if (grouped[j] || tags[j].len != t0.len ||
			    memcmp(tags[j].buf, t0.buf, t0.len) != 0)
				continue;
			grouped[j] = true;
			idx[m] = j;
			sl[m] = limits[j];
			if (asks != NULL)
				sa[m] = asks[j];
			if (final != NULL)
				sf[m] = final[j];
			m++;
		}
		ret = limits_run_one(store, op, resid, sl, asks != NULL ? sa : NULL,
				     final != NULL ? sf : NULL, m, now, &refused,
				     states != NULL ? ss : NULL, error_r);
		for (k = 0; states != NULL && ret != STORE_ERROR && k < m; k++)
			states[idx[k]] = ss[k];
		for (k = 0; ret == STORE_OK && k < m; k++)
			granted[idx[k]] = true;
		if (ret == STORE_REFUSED && refused_r != NULL)
			*refused_r = idx[refused < m ? refused : 0];
	}
	if (ret != STORE_OK && op == LIM_RESERVE) {
		/* undo the groups that granted, one release per group */
		char saved[REDIS_ERROR_COPY];

		snprintf(saved, sizeof(saved), "%s", ret == STORE_ERROR ? *error_r : "");
		for (i = 0; i < n; i++) {
			const char *ignored;

			if (!granted[i])
				continue;
			for (m = 0, j = i; j < n; j++)
				if (granted[j] && tags[j].len == tags[i].len &&
				    memcmp(tags[j].buf, tags[i].buf, tags[i].len) == 0) {
					granted[j] = false;
					sl[m++] = limits[j];
				}
			limits_run_one(store, LIM_RELEASE, resid, sl, NULL, NULL, m, now, NULL,
				       NULL, &ignored);
		}
		if (ret == STORE_ERROR)
			*error_r = redis_error("%s", saved);
	}
	return ret;
}

/* redis_limits_reserve - store_limits_reserve */
static int redis_limits_reserve(struct store *store, const char *resid,
				const struct store_limit *limits,
				const struct store_limit_ask *asks, size_t n, int64_t now,
				size_t *refused_r, struct store_limit_state *states,
				const char **error_r)
{
	return limits_run(store, LIM_RESERVE, resid, limits, asks, NULL, n, now, refused_r,
			  states, error_r);
}

/* redis_limits_commit - store_limits_commit */
static int redis_limits_commit(struct store *store, const char *resid,
			       const struct store_limit *limits, const uint64_t *final, size_t n,
			       int64_t now, const char **error_r)
{
	return limits_run(store, LIM_COMMIT, resid, limits, NULL, final, n, now, NULL, NULL,
			  error_r);
}

/* redis_limits_release - store_limits_release */
static int redis_limits_release(struct store *store, const char *resid,
				const struct store_limit *limits, size_t n, int64_t now,
				const char **error_r)
{
	return limits_run(store, LIM_RELEASE, resid, limits, NULL, NULL, n, now, NULL, NULL,
			  error_r);
}

/* redis_limits_usage - store_limits_usage */
static int redis_limits_usage(struct store *store, const struct store_limit *limits, size_t n,
			      int64_t now, struct store_limit_state *states, const char **error_r)
{
	return limits_run(store, LIM_USAGE, NULL, limits, NULL, NULL, n, now, NULL, states,
			  error_r);
}

/* redis_limits_reset - store_limits_reset */
static int redis_limits_reset(struct store *store, const struct store_limit *limits, size_t n,
			      const char **error_r)
{
	return limits_run(store, LIM_RESET, NULL, limits, NULL, NULL, n, 0, NULL, NULL, error_r);
}

/* limits_top_one - the committed usage of the limit whose hash is key */
static int limits_top_one(struct redis_pool *pool, uint32_t id, const char *key, size_t key_len,
			  size_t prefix_len, int64_t now, uint64_t *committed_r,
			  const char **error_r)
{
	const char *argv[8];
	size_t lens[8];
	char head[32], *set = NULL;
	redisReply *reply;
	int i, ret = STORE_OK;

	argv[0] = "EVALSHA";
	argv[1] = "";
	argv[2] = "2";
	argv[3] = key;
	lens[3] = key_len;
	if (id == 0) {
		argv[4] = key;
		lens[4] = key_len;
	} else {
		/* the address set: the same owner under the set prefix */
		char prefix[40];

		snprintf(prefix, sizeof(prefix), "%s%" PRIu32 ":", REDIS_LIMITS_SET_PREFIX, id);
		set = redis_key(prefix, key + prefix_len, key_len - prefix_len, &lens[4]);
		argv[4] = set;
	}
	argv[5] = id == 0 ? "qtop" : "top";
	argv[6] = "r";
	argv[7] = head;
	lens[7] = limits_head(head, now);
	for (i = 0; i < 7; i++)
		if (i != 3 && i != 4)
			lens[i] = strlen(argv[i]);
	reply = redis_pool_exec(pool, REDIS_SCRIPT_LIMITS, 8, argv, lens, error_r);
	XFREE(set);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[0]->integer < 0) {
		*error_r = redis_error("redis: limits top: malformed script reply");
		ret = STORE_ERROR;
	} else {
		*committed_r = (uint64_t)reply->element[0]->integer;
	}
	freeReplyObject(reply);
	return ret;
}

/*
 * redis_scan - SCAN every key matching pattern (a prefix of plen bytes and
 * "*"), calling each(ctx, key, len) for each key longer than the prefix,
 * until it returns other than STORE_OK (returned) or the scan ends.  what
 * names the caller in errors.  In cluster mode every master is scanned in
 * turn (a key lives on one master).  An operator command, never on the
 * decision path.
 */
static int redis_scan(struct redis_pool *pool, const char *pattern, size_t plen,
		      int (*each)(void *ctx, const char *key, size_t len), void *ctx,
		      const char *what, const char **error_r)
{
	char cursor[32];
	const char *argv[6] = { "SCAN", cursor, "MATCH", pattern, "COUNT", LIMITS_SCAN_COUNT };
	size_t lens[6], i, m, masters;
	redisReply *reply;
	int k, ret = STORE_OK;

	masters = redis_pool_masters(pool, error_r);
	if (masters == 0)
		return STORE_ERROR;
	for (m = 0; m < masters && ret == STORE_OK; m++) {
		strcpy(cursor, "0");
		do {
			for (k = 0; k < 6; k++)
				lens[k] = strlen(argv[k]);
			reply = redis_pool_exec_master(pool, m, 6, argv, lens, error_r);
			if (reply == NULL)
				return STORE_ERROR;
			if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
			    reply->element[0]->type != REDIS_REPLY_STRING ||
			    reply->element[0]->len >= sizeof(cursor) ||
			    reply->element[1]->type != REDIS_REPLY_ARRAY) {
				freeReplyObject(reply);
				*error_r = redis_error("redis: %s: malformed SCAN reply", what);
				return STORE_ERROR;
			}
			memcpy(cursor, reply->element[0]->str, reply->element[0]->len);
			cursor[reply->element[0]->len] = '\0';
			for (i = 0; i < reply->element[1]->elements && ret == STORE_OK; i++) {
				const redisReply *e = reply->element[1]->element[i];

				if (e->type == REDIS_REPLY_STRING && e->len > plen)
					ret = each(ctx, e->str, e->len);
			}
			freeReplyObject(reply);
		} while (ret == STORE_OK && strcmp(cursor, "0") != 0);
	}
	return ret;
}

struct top_scan {
	const struct store_redis *rs;
	struct redis_pool *pool;
	uint32_t id;
	size_t plen;
	int64_t now;
	void (*emit)(void *ctx, const char *owner, size_t owner_len, uint64_t committed);
	void *ctx;
	const char **error_r;
};

/* top_each - redis_scan's callback for limits top: the key's committed count */
static int top_each(void *ctx, const char *key, size_t len)
{
	struct top_scan *t = ctx;
	uint64_t committed;
	int ret = limits_top_one(t->pool, t->id, key, len, t->plen, t->now, &committed,
				 t->error_r);
	const char *owner;
	size_t owner_len;

	owner = untag(t->rs, key, len, t->plen, &owner_len);
	if (ret == STORE_OK && committed > 0)
		t->emit(t->ctx, owner, owner_len, committed);
	return ret;
}

/* redis_limits_top - store_limits_top: SCAN the id's keys, one script call each */
static int redis_limits_top(struct store *store, uint32_t id,
			    void (*emit)(void *ctx, const char *owner, size_t owner_len,
					 uint64_t committed),
			    void *ctx, int64_t now, const char **error_r)
{
	struct top_scan t = { (struct store_redis *)store, ((struct store_redis *)store)->pool,
			      id, 0, now, emit, ctx, error_r };
	char prefix[40], pattern[48];

	if (id == 0)
		snprintf(prefix, sizeof(prefix), "%s", REDIS_QUOTA_PREFIX);
	else
		snprintf(prefix, sizeof(prefix), "%s%" PRIu32 ":", REDIS_LIMITS_PREFIX, id);
	t.plen = strlen(prefix);
	snprintf(pattern, sizeof(pattern), "%s*", prefix);
	return redis_scan(t.pool, pattern, t.plen, top_each, &t, "limits top", error_r);
}

/* ---- locks, strikes and events ------------------------------------------ */

#define LOCK_ARGC 10	/* EVALSHA sha 1 key op now + at most 4 arguments */

/*
 * lock_run - one call of the lock script on key (len bytes) with op and
 * the n_args arguments after op and now; the reply's integers go to
 * out[0..n_out) (NULL: not wanted).  Returns STORE_OK or STORE_ERROR.
 */
static int lock_run(struct store *store, const char *key, size_t key_len, const char *op,
		    int64_t now, const char *const *args, const size_t *arg_lens, int n_args,
		    long long *out, size_t n_out, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[LOCK_ARGC];
	size_t lens[LOCK_ARGC], i;
	redisReply *reply;
	char nowbuf[24];
	int argc = 0, j, ret = STORE_OK;

	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now);
	argv[argc] = "EVALSHA";
	lens[argc++] = 7;
	argv[argc] = "";	/* the SHA1, filled in by redis_pool_exec */
	lens[argc++] = 0;
	argv[argc] = "1";
	lens[argc++] = 1;
	argv[argc] = key;
	lens[argc++] = key_len;
	argv[argc] = op;
	lens[argc++] = strlen(op);
	argv[argc] = nowbuf;
	lens[argc++] = strlen(nowbuf);
	for (j = 0; j < n_args && argc < LOCK_ARGC; j++) {
		argv[argc] = args[j];
		lens[argc++] = arg_lens[j];
	}
	reply = redis_pool_exec(pool, REDIS_SCRIPT_LOCK, argc, argv, lens, error_r);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n_out) {
		ret = STORE_ERROR;
	} else {
		for (i = 0; i < n_out; i++) {
			if (reply->element[i]->type != REDIS_REPLY_INTEGER ||
			    reply->element[i]->integer < 0) {
				ret = STORE_ERROR;
				break;
			}
			out[i] = reply->element[i]->integer;
		}
	}
	if (ret == STORE_ERROR)
		*error_r = redis_error("redis: lock %s: malformed script reply", op);
	freeReplyObject(reply);
	return ret;
}

/* lock_parse - an HMGET s r reply into STORE_OK (*info filled) or STORE_MISS */
static int lock_parse(const redisReply *reply, struct store_lock_info *info)
{
	const redisReply *s, *r;
	char buf[24];
	size_t len;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
		return STORE_ERROR;
	s = reply->element[0];
	r = reply->element[1];
	if (s->type == REDIS_REPLY_NIL)
		return STORE_MISS;
	if (s->type != REDIS_REPLY_STRING || s->len >= sizeof(buf) ||
	    (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return STORE_ERROR;
	memcpy(buf, s->str, s->len);
	buf[s->len] = '\0';
	info->since = strtoll(buf, NULL, 10);
	len = r->type == REDIS_REPLY_STRING ? r->len : 0;
	if (len > sizeof(info->reason) - 1)
		len = sizeof(info->reason) - 1;
	if (len > 0)
		memcpy(info->reason, r->str, len);
	info->reason[len] = '\0';
	return STORE_OK;
}

/* redis_lock_get - store_lock_get: one HMGET */
static int redis_lock_get(struct store *store, const char *user, size_t user_len,
			  struct store_lock_info *info_r, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[4] = { "HMGET", NULL, "s", "r" };
	size_t lens[4] = { 5, 0, 1, 1 };
	redisReply *reply;
	char *k;
	int ret;

	k = lock_key(store, user, user_len, &lens[1]);
	argv[1] = k;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 4, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	ret = lock_parse(reply, info_r);
	freeReplyObject(reply);
	if (ret == STORE_ERROR)
		*error_r = redis_error("redis: lock HMGET: unexpected reply");
	return ret;
}

/* redis_mail_lookup - store_mail_lookup: GET and HMGET pipelined, one round trip */
static int redis_mail_lookup(struct store *store, const void *key, size_t key_len, void *val,
			     size_t *val_len, const char *user, size_t user_len, int64_t now,
			     int *lock_r, struct store_lock_info *info_r, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *get[2] = { "GET" };
	size_t get_lens[2] = { 3 };
	const char *hmget[4] = { "HMGET", NULL, "s", "r" };
	size_t hmget_lens[4] = { 5, 0, 1, 1 };
	const int argcs[2] = { 2, 4 };
	const char *const *argvs[2] = { get, hmget };
	const size_t *lenss[2] = { get_lens, hmget_lens };
	redisReply *replies[2];
	char *ck, *lk;
	int ret, lock;

	ck = cache_key(store, key, key_len, &get_lens[1]);
	get[1] = ck;
	lk = lock_key(store, user, user_len, &hmget_lens[1]);
	hmget[1] = lk;
	ret = redis_pool_pipeline(pool, 2, argcs, argvs, lenss, replies, error_r);
	XFREE(ck);
	XFREE(lk);
	if (ret < 0)
		return STORE_ERROR;
	ret = cache_parse(replies[0], val, val_len, now, error_r);
	lock = lock_parse(replies[1], info_r);
	if (lock == STORE_ERROR && ret != STORE_ERROR) {
		*error_r = redis_error("redis: lock HMGET: unexpected reply");
		ret = STORE_ERROR;
	}
	freeReplyObject(replies[0]);
	freeReplyObject(replies[1]);
	*lock_r = lock;
	return ret;
}

/* redis_lock_set - store_lock_set */
static int redis_lock_set(struct store *store, const char *user, size_t user_len,
			  const char *reason, int64_t now, const char **error_r)
{
	const char *args[1] = { reason };
	size_t arg_lens[1] = { strlen(reason) };
	long long out[1];
	size_t len;
	char *k;
	int ret;

	k = lock_key(store, user, user_len, &len);
	ret = lock_run(store, k, len, "set", now, args, arg_lens, 1, out, 1, error_r);
	XFREE(k);
	if (ret == STORE_OK && out[0] == 0)
		ret = STORE_REFUSED;	/* already locked: kept as it was */
	return ret;
}

/* redis_lock_clear - store_lock_clear */
static int redis_lock_clear(struct store *store, const char *user, size_t user_len,
			    const char **error_r)
{
	long long out[1];
	size_t len;
	char *k;
	int ret;

	k = lock_key(store, user, user_len, &len);
	ret = lock_run(store, k, len, "clear", 0, NULL, NULL, 0, out, 1, error_r);
	XFREE(k);
	if (ret == STORE_OK && out[0] == 0)
		ret = STORE_MISS;
	return ret;
}

/* redis_lock_strike - store_lock_strike: one script call, strike and lock */
static int redis_lock_strike(struct store *store, const char *user, size_t user_len,
			     uint32_t after, uint32_t window, const char *reason, int64_t now,
			     uint32_t *strikes_r, int *locked_r, const char **error_r)
{
	char num[2][16];
	const char *args[4] = { reason, num[0], num[1], REDIS_STR(REDIS_EXPIRE_SLACK) };
	size_t arg_lens[4];
	long long out[2];
	size_t len;
	char *k;
	int ret, i;

	snprintf(num[0], sizeof(num[0]), "%" PRIu32, after);
	snprintf(num[1], sizeof(num[1]), "%" PRIu32, window);
	for (i = 0; i < 4; i++)
		arg_lens[i] = strlen(args[i]);
	k = lock_key(store, user, user_len, &len);
	ret = lock_run(store, k, len, "strike", now, args, arg_lens, 4, out, 2, error_r);
	XFREE(k);
	if (ret == STORE_OK) {
		*strikes_r = sat32(out[0]);
		*locked_r = out[1] != 0;
	}
	return ret;
}

struct locks_scan {
	const struct store_redis *rs;
	struct redis_pool *pool;
	void (*emit)(void *ctx, const char *user, size_t user_len, int64_t since,
		     const char *reason);
	void *ctx;
	const char **error_r;
};

/* locks_each - redis_scan's callback for the lock list: one HMGET of the key */
static int locks_each(void *ctx, const char *key, size_t len)
{
	struct locks_scan *l = ctx;
	const char *hargv[4] = { "HMGET", key, "s", "r" };
	size_t hlens[4] = { 5, len, 1, 1 }, plen = strlen(REDIS_LOCK_PREFIX);
	struct store_lock_info info;
	redisReply *h = redis_pool_exec(l->pool, REDIS_SCRIPT_NONE, 4, hargv, hlens, l->error_r);
	int st;

	if (h == NULL)
		return STORE_ERROR;
	memset(&info, 0, sizeof(info));
	st = lock_parse(h, &info);
	freeReplyObject(h);
	if (st == STORE_OK) {
		size_t ulen;
		const char *user = untag(l->rs, key, len, plen, &ulen);

		l->emit(l->ctx, user, ulen, info.since, info.reason);
	}
	/* STORE_MISS: strikes only; STORE_ERROR: not ours, skipped */
	return STORE_OK;
}

/* redis_locks_list - store_locks_list: SCAN "chapps:k:*", one HMGET per key */
static int redis_locks_list(struct store *store,
			    void (*emit)(void *ctx, const char *user, size_t user_len,
					 int64_t since, const char *reason),
			    void *ctx, const char **error_r)
{
	struct locks_scan l = { (struct store_redis *)store, ((struct store_redis *)store)->pool,
				emit, ctx, error_r };

	return redis_scan(l.pool, REDIS_LOCK_PREFIX "*", strlen(REDIS_LOCK_PREFIX), locks_each,
			  &l, "locks", error_r);
}

/* redis_event_add - store_event_add: LPUSH and LTRIM in one script call */
static int redis_event_add(struct store *store, const char *text, size_t len, int64_t now,
			   const char **error_r)
{
	char keep[16];
	const char *args[2] = { text, keep };
	size_t arg_lens[2] = { len, 0 };
	long long out[1];

	arg_lens[1] = (size_t)snprintf(keep, sizeof(keep), "%d", STORE_EVENTS_KEEP);
	return lock_run(store, REDIS_EVENTS_KEY, strlen(REDIS_EVENTS_KEY), "event", now, args,
			arg_lens, 2, out, 1, error_r);
}

/* redis_events_list - store_events_list: one LRANGE, newest first */
static int redis_events_list(struct store *store, size_t max,
			     void (*emit)(void *ctx, int64_t time, const char *text, size_t len),
			     void *ctx, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	char stop[24];
	const char *argv[4] = { "LRANGE", REDIS_EVENTS_KEY, "0", stop };
	size_t lens[4], i;
	redisReply *reply;
	int k;

	snprintf(stop, sizeof(stop), "%zu", max - 1);
	for (k = 0; k < 4; k++)
		lens[k] = strlen(argv[k]);
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 4, argv, lens, error_r);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(reply);
		*error_r = redis_error("redis: events LRANGE: unexpected reply");
		return STORE_ERROR;
	}
	for (i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		const char *sp;
		char buf[24];
		size_t tlen;

		if (e->type != REDIS_REPLY_STRING ||
		    (sp = memchr(e->str, ' ', e->len)) == NULL ||
		    (tlen = (size_t)(sp - e->str)) == 0 || tlen >= sizeof(buf))
			continue;	/* not ours: skipped */
		memcpy(buf, e->str, tlen);
		buf[tlen] = '\0';
		emit(ctx, strtoll(buf, NULL, 10), sp + 1, e->len - tlen - 1);
	}
	freeReplyObject(reply);
	return STORE_OK;
}

/* redis_close - close the pool, free the handle */
static void redis_close(struct store *store)
{
	struct store_redis *rs = (struct store_redis *)store;

	if (rs == NULL)
		return;
	redis_pool_close(&rs->pool);
	free(rs);
}

static const struct store_ops redis_ops = {
	.name = "redis",
	.quota_reserve = redis_quota_reserve,
	.quota_commit = redis_quota_commit,
	.quota_release = redis_quota_release,
	.quota_usage = redis_quota_usage,
	.quota_reset = redis_quota_reset,
	.cache_get = redis_cache_get,
	.cache_set = redis_cache_set,
	.cache_del = redis_cache_del,
	.greylist_check = redis_greylist_check,
	.greylist_tally = redis_greylist_tally,
	.greylist_tally_clear = redis_greylist_tally_clear,
	.greylist_peek = redis_greylist_peek,
	.limits_reserve = redis_limits_reserve,
	.limits_commit = redis_limits_commit,
	.limits_release = redis_limits_release,
	.limits_usage = redis_limits_usage,
	.limits_reset = redis_limits_reset,
	.limits_top = redis_limits_top,
	.lock_get = redis_lock_get,
	.mail_lookup = redis_mail_lookup,
	.lock_set = redis_lock_set,
	.lock_clear = redis_lock_clear,
	.lock_strike = redis_lock_strike,
	.locks_list = redis_locks_list,
	.event_add = redis_event_add,
	.events_list = redis_events_list,
	.close = redis_close,
};

int store_redis_open(const struct config *config, struct store **store_r, const char **error_r)
{
	struct store_redis *rs;

	rs = xcalloc(1, sizeof(*rs));
	rs->store.ops = &redis_ops;
	rs->cluster = config->n_redis_cluster > 0;
	rs->scripts[REDIS_SCRIPT_QUOTA] = (struct redis_script){
		"quota", redis_lua_quota, redis_lua_quota_len };
	rs->scripts[REDIS_SCRIPT_GREYLIST] = (struct redis_script){
		"greylist", redis_lua_greylist, redis_lua_greylist_len };
	rs->scripts[REDIS_SCRIPT_LIMITS] = (struct redis_script){
		"limits", redis_lua_limits, redis_lua_limits_len };
	rs->scripts[REDIS_SCRIPT_LOCK] = (struct redis_script){
		"lock", redis_lua_lock, redis_lua_lock_len };
	if (redis_pool_open(config, rs->scripts, REDIS_SCRIPTS, &rs->pool, error_r) < 0) {
		free(rs);
		return -1;
	}
	*store_r = &rs->store;
	return 0;
}
