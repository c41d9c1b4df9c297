/*
 * NAME
 *	store_redis_cache - the TTL cache of the Redis engine
 * SUMMARY
 *	store_redis_cache_get/set/del, for redis_ops, and store_redis_cache_parse
 * DESCRIPTION
 *	Cache.  "chapps:c:" + the caller's binary key holds an 8-byte
 *	big-endian expiry (caller's clock) followed by the value; the key
 *	also gets a real TTL of ttl + REDIS_EXPIRE_SLACK seconds.
 * DIAGNOSTICS
 *	Failures return STORE_ERROR with *error_r pointing to a thread-local
 *	buffer that names the server and the failing step, valid until the
 *	next call from the same thread (store_redis.c).
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/xalloc.h"
#include "store/store_redis-private.h"

/*
 * store_redis_cache_parse - a GET reply of a cache entry into STORE_OK
 * (val filled), STORE_MISS or STORE_ERROR
 */
int store_redis_cache_parse(const redisReply *reply, void *val, size_t *val_len, int64_t now,
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

/* store_redis_cache_get - store_cache_get */
int store_redis_cache_get(struct store *store, const void *key, size_t key_len, void *val,
			  size_t *val_len, int64_t now, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[2] = { "GET" };
	size_t lens[2] = { 3 };
	redisReply *reply;
	char *k;
	int ret;

	k = store_redis_cache_key(store, key, key_len, &lens[1]);
	argv[1] = k;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 2, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	ret = store_redis_cache_parse(reply, val, val_len, now, error_r);
	freeReplyObject(reply);
	return ret;
}

/* store_redis_cache_set - store_cache_set */
int store_redis_cache_set(struct store *store, const void *key, size_t key_len, const void *val,
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
	k = store_redis_cache_key(store, key, key_len, &lens[1]);
	argv[1] = k;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 5, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	freeReplyObject(reply);
	return STORE_OK;
}

/* store_redis_cache_del - store_cache_del */
int store_redis_cache_del(struct store *store, const void *key, size_t key_len,
			  const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[2] = { "DEL" };
	size_t lens[2] = { 3 };
	redisReply *reply;
	char *k;

	k = store_redis_cache_key(store, key, key_len, &lens[1]);
	argv[1] = k;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 2, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	freeReplyObject(reply);
	return STORE_OK;
}
