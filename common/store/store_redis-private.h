/*
 * store_redis-private.h - what the Redis engine's files share
 *
 * store_redis.c owns the handle (open, close, the ops table) and every
 * key: the prefixes below, the key builders and the hash tags of Redis
 * Cluster; store_redis_quota.c, store_redis_cache.c,
 * store_redis_greylist.c, store_redis_limits.c and store_redis_locks.c
 * each implement one family of store_ops on the handle, each through its
 * own script (redis/<name>.lua) or plain commands.  The connections are
 * redis_pool.c's.  Nothing here is visible outside common/store.
 */
#ifndef CHAPPS_STORE_REDIS_PRIVATE_H
#define CHAPPS_STORE_REDIS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "store/greylist_record.h"
#include "store/redis_conn.h"
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

#define REDIS_ERROR_COPY 512	/* an error kept across a clean-up call */
#define REDIS_TAG_MAX 64	/* a hash tag's bytes, at most (longer: cut, it only places keys) */

/* A key's hash tag in cluster mode; len 0: none (single Redis: today's key names). */
struct redis_tag {
	char buf[REDIS_TAG_MAX];
	size_t len;
};

/* store_redis.c: keys and hash tags (see its DESCRIPTION) */

/* store_redis_key - prefix + the caller's raw bytes into a new buffer of *len_r bytes */
char *store_redis_key(const char *prefix, const void *data, size_t data_len, size_t *len_r);

/*
 * store_redis_tag_user - a user's tag: the domain after the last '@' (every
 * user of a domain in one slot, with the domain's pool), else the whole
 * name; nothing outside cluster mode
 */
void store_redis_tag_user(const struct store_redis *rs, const void *user, size_t len,
			  struct redis_tag *t);

/* store_redis_tag_owner - a limit owner's tag: a pool's is its domain, a user's tag_user */
void store_redis_tag_owner(const struct store_redis *rs, const char *owner, size_t len,
			   struct redis_tag *t);

/* store_redis_tkey - prefix + "{" tag "}" (when t has one) + raw bytes, as store_redis_key */
char *store_redis_tkey(const char *prefix, const struct redis_tag *t, const void *data,
		       size_t data_len, size_t *len_r);

/*
 * store_redis_untag - the name in a key read back by SCAN (after its
 * prefix of plen bytes): in cluster mode past the "{tag}"; sets *len_r
 */
const char *store_redis_untag(const struct store_redis *rs, const char *key, size_t len,
			      size_t plen, size_t *len_r);

/* store_redis_cache_key - "chapps:c:" (+ tag) + the cache key */
char *store_redis_cache_key(const struct store *store, const void *key, size_t len,
			    size_t *len_r);

/* store_redis_grey_key - a greylisting key: prefix (+ tag, fixed tag "g") + the caller's key */
char *store_redis_grey_key(const struct store *store, const char *prefix, const void *key,
			   size_t len, size_t *len_r);

/* store_redis_lock_key - "chapps:k:" (+ tag_user) + the user name */
char *store_redis_lock_key(const struct store *store, const char *user, size_t len,
			   size_t *len_r);

/* store_redis_resid_field - "r" + resid into field (1 + STORE_RESID_MAX + 1 bytes); its length */
size_t store_redis_resid_field(char *field, const char *resid);

/* store_redis_sat32 - v clamped to 0..UINT32_MAX */
uint32_t store_redis_sat32(long long v);

/* store_redis_quota.c: the quota ops (see store.h) */
int store_redis_quota_reserve(struct store *store, const char *user, size_t user_len,
			      const char *resid, uint32_t n,
			      const struct store_quota_params *params, int64_t now,
			      struct store_quota_state *state, const char **error_r);
int store_redis_quota_commit(struct store *store, const char *user, size_t user_len,
			     const char *resid, const struct store_quota_params *params,
			     int64_t now, const char **error_r);
int store_redis_quota_commit_later(struct store *store, const char *user, size_t user_len,
				   const char *resid, const struct store_quota_params *params,
				   int64_t now, const char **error_r);
int store_redis_quota_release(struct store *store, const char *user, size_t user_len,
			      const char *resid, int64_t now, const char **error_r);
int store_redis_quota_usage(struct store *store, const char *user, size_t user_len,
			    const struct store_quota_params *params, int64_t now,
			    struct store_quota_state *state, const char **error_r);
int store_redis_quota_reset(struct store *store, const char *user, size_t user_len,
			    uint32_t *dropped_r, const char **error_r);

/* store_redis_cache.c: the cache ops */

/*
 * store_redis_cache_parse - a GET reply of a cache entry into STORE_OK
 * (val filled), STORE_MISS or STORE_ERROR (also for store_redis_mail_lookup)
 */
int store_redis_cache_parse(const redisReply *reply, void *val, size_t *val_len, int64_t now,
			    const char **error_r);
int store_redis_cache_get(struct store *store, const void *key, size_t key_len, void *val,
			  size_t *val_len, int64_t now, const char **error_r);
int store_redis_cache_set(struct store *store, const void *key, size_t key_len,
			  const void *val, size_t val_len, uint32_t ttl, int64_t now,
			  const char **error_r);
int store_redis_cache_del(struct store *store, const void *key, size_t key_len,
			  const char **error_r);

/* store_redis_greylist.c: the greylisting ops */
int store_redis_greylist_check(struct store *store, const void *tuple, size_t tuple_len,
			       const void *client, size_t client_len,
			       const struct greylist_params *params, int64_t now,
			       int *verdict_r, const char **error_r);
int store_redis_greylist_tally(struct store *store, const void *client, size_t client_len,
			       int64_t now, uint32_t *count_r, const char **error_r);
int store_redis_greylist_tally_clear(struct store *store, const void *client,
				     size_t client_len, const char **error_r);
int store_redis_greylist_peek(struct store *store, const void *tuple, size_t tuple_len,
			      int64_t now, bool *present_r,
			      struct greylist_record_tuple *tuple_r, const char **error_r);

/* store_redis_limits.c: the limits ops, and the SCAN of the operator commands */
int store_redis_limits_reserve(struct store *store, const char *resid,
			       const struct store_limit *limits,
			       const struct store_limit_ask *asks, size_t n, int64_t now,
			       size_t *refused_r, struct store_limit_state *states,
			       const char **error_r);
int store_redis_limits_commit(struct store *store, const char *resid,
			      const struct store_limit *limits, const uint64_t *final, size_t n,
			      int64_t now, const char **error_r);
int store_redis_limits_release(struct store *store, const char *resid,
			       const struct store_limit *limits, size_t n, int64_t now,
			       const char **error_r);
int store_redis_limits_usage(struct store *store, const struct store_limit *limits, size_t n,
			     int64_t now, struct store_limit_state *states,
			     const char **error_r);
int store_redis_limits_reset(struct store *store, const struct store_limit *limits, size_t n,
			     const char **error_r);
int store_redis_limits_top(struct store *store, uint32_t id,
			   void (*emit)(void *ctx, const char *owner, size_t owner_len,
					uint64_t committed),
			   void *ctx, int64_t now, const char **error_r);

/*
 * store_redis_scan - SCAN every key matching pattern (a prefix of plen
 * bytes and "*"), calling each(ctx, key, len) for each key longer than
 * the prefix, until it returns other than STORE_OK (returned) or the scan
 * ends; what names the caller in errors.  Every master in cluster mode.
 */
int store_redis_scan(struct redis_pool *pool, const char *pattern, size_t plen,
		     int (*each)(void *ctx, const char *key, size_t len), void *ctx,
		     const char *what, const char **error_r);

/* store_redis_locks.c: locks, strikes and events */
int store_redis_lock_get(struct store *store, const char *user, size_t user_len,
			 struct store_lock_info *info_r, const char **error_r);
int store_redis_mail_lookup(struct store *store, const void *key, size_t key_len, void *val,
			    size_t *val_len, const char *user, size_t user_len, int64_t now,
			    int *lock_r, struct store_lock_info *info_r, const char **error_r);
int store_redis_lock_set(struct store *store, const char *user, size_t user_len,
			 const char *reason, int64_t now, const char **error_r);
int store_redis_lock_clear(struct store *store, const char *user, size_t user_len,
			   const char **error_r);
int store_redis_lock_strike(struct store *store, const char *user, size_t user_len,
			    uint32_t after, uint32_t window, const char *reason, int64_t now,
			    uint32_t *strikes_r, int *locked_r, const char **error_r);
int store_redis_locks_list(struct store *store,
			   void (*emit)(void *ctx, const char *user, size_t user_len,
					int64_t since, const char *reason),
			   void *ctx, const char **error_r);
int store_redis_event_add(struct store *store, const char *text, size_t len, int64_t now,
			  const char **error_r);
int store_redis_events_list(struct store *store, size_t max,
			    void (*emit)(void *ctx, int64_t time, const char *text, size_t len),
			    void *ctx, const char **error_r);

#endif
