/*
 * NAME
 *	store_redis - the Redis engine of the store (hiredis 0.14, Sentinel, Cluster)
 * SUMMARY
 *	store_redis_open() builds a struct store whose ops talk to one Redis
 *	master, given directly (redis.server/port or redis.socket) or found
 *	through Sentinel (redis.sentinel_servers + redis.sentinel_dataset),
 *	or to a Redis Cluster (redis.cluster: seed nodes).
 * DESCRIPTION
 *	The engine's files build the commands and read the replies: this one
 *	opens and closes the handle, holds the ops table and builds every key
 *	(the prefixes are in store_redis-private.h); store_redis_quota.c,
 *	store_redis_cache.c, store_redis_greylist.c, store_redis_limits.c and
 *	store_redis_locks.c each implement one family of operations, and say
 *	there how their keys are laid out.  The connections (pool, Sentinel
 *	discovery, deadlines, EVALSHA with SCRIPT LOAD again after NOSCRIPT)
 *	are redis_pool.c's, and the server-side scripts are redis/quota.lua,
 *	redis/greylist.lua, redis/limits.lua and redis/lock.lua, embedded at
 *	build time (store.am generates redis_scripts.c from them in the build
 *	directory).  Every key is one prefix + the caller's raw bytes
 *	(store_redis_key).
 *
 *	Redis Cluster.  With store.redis.cluster, redis_pool.c routes each
 *	call by the slot of its (first) key (redis_cluster.c), and every key
 *	carries a hash tag after its prefix, "{tag}", so that each call's keys
 *	share one slot (store_redis_tkey; without the cluster no tag: today's
 *	key names, so a single Redis keeps its state).  A user's quota, limit and
 *	lock keys are tagged with the user's domain (after the last '@',
 *	lowercased), and a domain pool's ("\0pool:" + domain) with its domain,
 *	so a user's limits and the pool reserved in one script call are in one
 *	slot; a name without a domain is its own tag (it has no pool).  A
 *	limits call over owners of several tags (the store's contract allows
 *	it, the policy never makes one) runs one script call per tag
 *	(limits_run in store_redis_limits.c).  A cache key made by
 *	store_key is tagged like the user that is its first part (the SDA entry
 *	and the user's lock: one slot, one round trip in store_mail_lookup);
 *	a greylisting tuple and its client's tally are tagged with the client
 *	(their first part), other keys of theirs with "g".  The events list is
 *	one key.  The SCANs of the operator commands visit every master.
 * DIAGNOSTICS
 *	Failures return STORE_ERROR (or -1 from store_redis_open) with
 *	*error_r pointing to a thread-local buffer that names the server and
 *	the failing step, valid until the next call from the same thread.
 *	Nothing is fatal except out-of-memory (xalloc).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/xalloc.h"
#include "store/redis_conn.h"
#include "store/redis_scripts.h"
#include "store/store_redis-private.h"

/* store_redis_key - prefix + the caller's raw bytes into a new buffer of *len_r bytes */
char *store_redis_key(const char *prefix, const void *data, size_t data_len, size_t *len_r)
{
	size_t plen = strlen(prefix);
	char *k = xmalloc(plen + data_len);

	memcpy(k, prefix, plen);
	if (data_len > 0)
		memcpy(k + plen, data, data_len);
	*len_r = plen + data_len;
	return k;
}

#define REDIS_POOL_OWNER "\0pool:"	/* a domain pool's owner (store.h, policy/limits.h) */
#define REDIS_POOL_OWNER_LEN 6

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
 * store_redis_tag_user - a user's tag: the domain after the last '@' (every user of a
 * domain in one slot, with the domain's pool), else the whole name (a
 * name without a domain has no pool); nothing outside cluster mode
 */
void store_redis_tag_user(const struct store_redis *rs, const void *user, size_t len,
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

/*
 * store_redis_tag_owner - a limit owner's tag: a domain pool's is its
 * domain, a user's store_redis_tag_user
 */
void store_redis_tag_owner(const struct store_redis *rs, const char *owner, size_t len,
			   struct redis_tag *t)
{
	t->len = 0;
	if (!rs->cluster)
		return;
	if (len > REDIS_POOL_OWNER_LEN &&
	    memcmp(owner, REDIS_POOL_OWNER, REDIS_POOL_OWNER_LEN) == 0)
		tag_bytes(owner + REDIS_POOL_OWNER_LEN, len - REDIS_POOL_OWNER_LEN, t);
	else
		store_redis_tag_user(rs, owner, len, t);
}

/*
 * tag_keyed - the tag of a store_key key, from its first part: with
 * fallback NULL (the cache) store_redis_tag_user of it (the user of an SDA entry, so
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
				store_redis_tag_user(rs, k + at + 4, plen, t);
			else
				tag_bytes((const char *)k + at + 4, plen, t);
			return;
		}
	}
	if (fallback != NULL)
		tag_bytes(fallback, strlen(fallback), t);
}

/*
 * store_redis_tkey - prefix + "{" tag "}" (when t has one) + the
 * caller's raw bytes, as store_redis_key
 */
char *store_redis_tkey(const char *prefix, const struct redis_tag *t, const void *data,
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
 * store_redis_untag - the name in a key read back by SCAN (after its
 * prefix of plen bytes): in cluster mode past the "{tag}"; sets *len_r
 */
const char *store_redis_untag(const struct store_redis *rs, const char *key, size_t len,
			      size_t plen, size_t *len_r)
{
	const char *p = key + plen, *close;

	if (rs->cluster && len > plen && *p == '{' &&
	    (close = memchr(p, '}', len - plen)) != NULL)
		p = close + 1;
	*len_r = len - (size_t)(p - key);
	return p;
}

/* store_redis_cache_key - "chapps:c:" (+ tag_keyed) + the cache key */
char *store_redis_cache_key(const struct store *store, const void *key, size_t len, size_t *len_r)
{
	struct redis_tag t;

	tag_keyed((const struct store_redis *)store, key, len, NULL, &t);
	return store_redis_tkey(REDIS_CACHE_PREFIX, &t, key, len, len_r);
}

/*
 * store_redis_grey_key - a greylisting key: prefix (+ tag_keyed, fixed
 * tag "g") + the caller's key
 */
char *store_redis_grey_key(const struct store *store, const char *prefix, const void *key,
			   size_t len, size_t *len_r)
{
	struct redis_tag t;

	tag_keyed((const struct store_redis *)store, key, len, "g", &t);
	return store_redis_tkey(prefix, &t, key, len, len_r);
}

/* store_redis_lock_key - "chapps:k:" (+ store_redis_tag_user) + the user name */
char *store_redis_lock_key(const struct store *store, const char *user, size_t len, size_t *len_r)
{
	struct redis_tag t;

	store_redis_tag_user((const struct store_redis *)store, user, len, &t);
	return store_redis_tkey(REDIS_LOCK_PREFIX, &t, user, len, len_r);
}

/*
 * store_redis_resid_field - "r" + resid into field (size 1 +
 * STORE_RESID_MAX + 1); returns its length
 */
size_t store_redis_resid_field(char *field, const char *resid)
{
	size_t len = resid != NULL ? strnlen(resid, STORE_RESID_MAX) : 0;

	field[0] = 'r';
	if (len > 0)
		memcpy(field + 1, resid, len);
	field[len + 1] = '\0';
	return len + 1;
}

/* store_redis_sat32 - v clamped to 0..UINT32_MAX */
uint32_t store_redis_sat32(long long v)
{
	return v < 0 ? 0 : v > (long long)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
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
	.quota_reserve = store_redis_quota_reserve,
	.quota_commit = store_redis_quota_commit,
	.quota_commit_later = store_redis_quota_commit_later,
	.quota_release = store_redis_quota_release,
	.quota_usage = store_redis_quota_usage,
	.quota_reset = store_redis_quota_reset,
	.cache_get = store_redis_cache_get,
	.cache_set = store_redis_cache_set,
	.cache_del = store_redis_cache_del,
	.greylist_check = store_redis_greylist_check,
	.greylist_tally = store_redis_greylist_tally,
	.greylist_tally_clear = store_redis_greylist_tally_clear,
	.greylist_peek = store_redis_greylist_peek,
	.limits_reserve = store_redis_limits_reserve,
	.limits_commit = store_redis_limits_commit,
	.limits_release = store_redis_limits_release,
	.limits_usage = store_redis_limits_usage,
	.limits_reset = store_redis_limits_reset,
	.limits_top = store_redis_limits_top,
	.lock_get = store_redis_lock_get,
	.mail_lookup = store_redis_mail_lookup,
	.lock_set = store_redis_lock_set,
	.lock_clear = store_redis_lock_clear,
	.lock_strike = store_redis_lock_strike,
	.locks_list = store_redis_locks_list,
	.event_add = store_redis_event_add,
	.events_list = store_redis_events_list,
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
