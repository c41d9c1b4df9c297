/*
 * store-private.h - what the store engines share with store.c
 *
 * store.c's public functions check their arguments and dispatch through
 * the engine's ops table.  An engine's handle embeds struct store as its
 * first member.
 */
#ifndef CHAPPS_STORE_PRIVATE_H
#define CHAPPS_STORE_PRIVATE_H

#include "store/store.h"

/*
 * The latest clock value store.c lets through (about 34,000 years after
 * the epoch); with now in [0, STORE_NOW_MAX] the engines' time arithmetic
 * (now + ttl, bucket starts) cannot overflow.
 */
#define STORE_NOW_MAX ((int64_t)1 << 40)

struct store_ops {
	const char *name;
	int (*quota_reserve)(struct store *store, const char *user, size_t user_len,
			     const char *resid, uint32_t n, const struct store_quota_params *params,
			     int64_t now, struct store_quota_state *state, const char **error_r);
	int (*quota_commit)(struct store *store, const char *user, size_t user_len,
			    const char *resid, const struct store_quota_params *params, int64_t now,
			    const char **error_r);
	/* NULL: store_quota_commit_later commits at once (quota_commit) */
	int (*quota_commit_later)(struct store *store, const char *user, size_t user_len,
				  const char *resid, const struct store_quota_params *params,
				  int64_t now, const char **error_r);
	int (*quota_release)(struct store *store, const char *user, size_t user_len,
			     const char *resid, int64_t now, const char **error_r);
	int (*quota_usage)(struct store *store, const char *user, size_t user_len,
			   const struct store_quota_params *params, int64_t now,
			   struct store_quota_state *state, const char **error_r);
	int (*quota_reset)(struct store *store, const char *user, size_t user_len,
			   uint32_t *dropped_r, const char **error_r);
	int (*cache_get)(struct store *store, const void *key, size_t key_len, void *val,
			 size_t *val_len, int64_t now, const char **error_r);
	int (*cache_set)(struct store *store, const void *key, size_t key_len, const void *val,
			 size_t val_len, uint32_t ttl, int64_t now, const char **error_r);
	int (*cache_del)(struct store *store, const void *key, size_t key_len,
			 const char **error_r);
	/* greylisting; NULL in an engine that does not implement it (yet) */
	int (*greylist_check)(struct store *store, const void *tuple, size_t tuple_len,
			      const void *client, size_t client_len,
			      const struct greylist_params *params, int64_t now, int *verdict_r,
			      const char **error_r);
	int (*greylist_tally)(struct store *store, const void *client, size_t client_len,
			      int64_t now, uint32_t *count_r, const char **error_r);
	int (*greylist_tally_clear)(struct store *store, const void *client, size_t client_len,
				    const char **error_r);
	int (*greylist_peek)(struct store *store, const void *tuple, size_t tuple_len,
			     int64_t now, bool *present_r, struct greylist_record_tuple *tuple_r,
			     const char **error_r);
	/* limits; NULL in an engine that does not implement them (yet);
	 * limits_reserve may get states NULL (not wanted) */
	int (*limits_reserve)(struct store *store, const char *resid,
			      const struct store_limit *limits, const struct store_limit_ask *asks,
			      size_t n, int64_t now, size_t *refused_r,
			      struct store_limit_state *states, const char **error_r);
	int (*limits_commit)(struct store *store, const char *resid,
			     const struct store_limit *limits, const uint64_t *final, size_t n,
			     int64_t now, const char **error_r);
	int (*limits_release)(struct store *store, const char *resid,
			      const struct store_limit *limits, size_t n, int64_t now,
			      const char **error_r);
	int (*limits_usage)(struct store *store, const struct store_limit *limits, size_t n,
			    int64_t now, struct store_limit_state *states, const char **error_r);
	int (*limits_reset)(struct store *store, const struct store_limit *limits, size_t n,
			    const char **error_r);
	/* limits_top emits every owner of id with its committed usage at now
	 * (store.c keeps the heaviest) */
	int (*limits_top)(struct store *store, uint32_t id,
			  void (*emit)(void *ctx, const char *owner, size_t owner_len,
				       uint64_t committed),
			  void *ctx, int64_t now, const char **error_r);
	/* locks, strikes and events; NULL in an engine that does not
	 * implement them (yet); info_r, strikes_r and locked_r are never NULL,
	 * reason is NUL-terminated and at most STORE_LOCK_REASON_MAX - 1 bytes */
	int (*lock_get)(struct store *store, const char *user, size_t user_len,
			struct store_lock_info *info_r, const char **error_r);
	/* mail_lookup: cache_get and lock_get as one read; NULL: store.c makes
	 * the two calls; lock_r and info_r are never NULL */
	int (*mail_lookup)(struct store *store, const void *key, size_t key_len, void *val,
			   size_t *val_len, const char *user, size_t user_len, int64_t now,
			   int *lock_r, struct store_lock_info *info_r, const char **error_r);
	int (*lock_set)(struct store *store, const char *user, size_t user_len,
			const char *reason, int64_t now, const char **error_r);
	int (*lock_clear)(struct store *store, const char *user, size_t user_len,
			  const char **error_r);
	int (*lock_strike)(struct store *store, const char *user, size_t user_len,
			   uint32_t after, uint32_t window, const char *reason, int64_t now,
			   uint32_t *strikes_r, int *locked_r, const char **error_r);
	int (*locks_list)(struct store *store,
			  void (*emit)(void *ctx, const char *user, size_t user_len,
				       int64_t since, const char *reason),
			  void *ctx, const char **error_r);
	int (*event_add)(struct store *store, const char *text, size_t len, int64_t now,
			 const char **error_r);
	int (*events_list)(struct store *store, size_t max,
			   void (*emit)(void *ctx, int64_t time, const char *text, size_t len),
			   void *ctx, const char **error_r);
	void (*close)(struct store *store);
};

struct store {
	const struct store_ops *ops;
};

/* The engines' constructors, called by store_open. */
int store_lmdb_open(const struct config *config, struct store **store_r, const char **error_r);
int store_redis_open(const struct config *config, struct store **store_r, const char **error_r);

#endif
