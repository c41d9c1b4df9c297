/*
 * NAME
 *	store - live policy state: the engine-independent half
 * SUMMARY
 *	store_open(), store_close(), store_backend_name(),
 *	store_quota_reserve(), store_quota_commit(), store_quota_commit_later(),
 *	store_quota_release(),
 *	store_quota_usage(), store_quota_reset(), store_cache_get(),
 *	store_cache_set(), store_cache_del(), store_limits_reserve(),
 *	store_limits_commit(), store_limits_release(), store_limits_usage(),
 *	store_limits_reset(), store_limits_top(), store_lock_get(),
 *	store_mail_lookup(), store_lock_set(), store_lock_clear(), store_lock_strike(),
 *	store_locks_list(), store_event_add(), store_events_list(),
 *	store_key()
 * DESCRIPTION
 *	The public functions check their arguments once, here, so that the
 *	engines (store_lmdb.c, store_redis.c) may assume: a non-NULL store,
 *	user and error_r; a user name of at least one byte; a reservation id
 *	of 1..STORE_RESID_MAX bytes; quota parameters with resolution,
 *	interval and reservation_ttl of at least 1; a clock in
 *	[0, STORE_NOW_MAX]; a non-empty cache key; a cache value of at most
 *	STORE_CACHE_VALUE_MAX bytes and a ttl of at least 1; non-NULL state
 *	and dropped_r pointers (replaced by locals when the caller passes
 *	NULL); a lock reason that is NUL-terminated and shorter than
 *	STORE_LOCK_REASON_MAX (a longer one is cut here, never inside a
 *	UTF-8 sequence; NULL is ""); an event of 1..STORE_EVENT_MAX bytes.
 *	Then they dispatch through the engine's ops table.
 *
 *	store_key builds the binary-safe composite keys that the callers use
 *	for the cache: the tag, a 0x00 byte, then each part as a 4-byte
 *	big-endian length and its bytes, so ("a", "b:c") and ("a:b", "c")
 *	differ.
 * DIAGNOSTICS
 *	Bad arguments give STORE_ERROR (-1 for store_open) with a static
 *	message; engine failures are passed through.  Nothing here logs.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/xalloc.h"
#include "store/store-private.h"

/* check_user - is the user argument usable? */
static int check_user(const char *user, size_t user_len, const char **error_r)
{
	if (user == NULL || user_len == 0) {
		*error_r = "empty user name";
		return -1;
	}
	return 0;
}

/* check_resid - is the reservation id 1..STORE_RESID_MAX bytes? */
static int check_resid(const char *resid, const char **error_r)
{
	if (resid == NULL || resid[0] == '\0' || strnlen(resid, STORE_RESID_MAX + 1) >
	    STORE_RESID_MAX) {
		*error_r = "bad reservation id (1 to 64 bytes)";
		return -1;
	}
	return 0;
}

/* check_params - are the quota parameters usable? */
static int check_params(const struct store_quota_params *params, const char **error_r)
{
	if (params == NULL || params->interval == 0 || params->resolution == 0 ||
	    params->reservation_ttl == 0) {
		*error_r = "bad quota parameters (interval, resolution and "
			"reservation_ttl must be at least 1)";
		return -1;
	}
	return 0;
}

/* check_now - is the clock value sane? */
static int check_now(int64_t now, const char **error_r)
{
	if (now < 0 || now > STORE_NOW_MAX) {
		*error_r = "bad clock value";
		return -1;
	}
	return 0;
}

/* check_key - is the cache key usable? */
static int check_key(const void *key, size_t key_len, const char **error_r)
{
	if (key == NULL || key_len == 0) {
		*error_r = "empty cache key";
		return -1;
	}
	return 0;
}

int store_open(const struct config *config, struct store **store_r, const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	*store_r = NULL;
	if (config == NULL) {
		*error_r = "no configuration";
		return -1;
	}
	switch (config->store_backend) {
	case STORE_BACKEND_LMDB:
		return store_lmdb_open(config, store_r, error_r);
	case STORE_BACKEND_REDIS:
		return store_redis_open(config, store_r, error_r);
	}
	*error_r = "unknown store backend";
	return -1;
}

void store_close(struct store **store)
{
	struct store *s;

	if (store == NULL || *store == NULL)
		return;
	s = *store;
	*store = NULL;
	s->ops->close(s);
}

const char *store_backend_name(const struct store *store)
{
	return store != NULL ? store->ops->name : "none";
}

int store_quota_reserve(struct store *store, const char *user, size_t user_len,
			const char *resid, uint32_t n, const struct store_quota_params *params,
			int64_t now, struct store_quota_state *state, const char **error_r)
{
	struct store_quota_state local;
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (state == NULL)
		state = &local;
	memset(state, 0, sizeof(*state));
	if (store == NULL) {
		*error_r = "no store";
		return STORE_ERROR;
	}
	if (check_user(user, user_len, error_r) < 0 || check_resid(resid, error_r) < 0 ||
	    check_params(params, error_r) < 0 || check_now(now, error_r) < 0)
		return STORE_ERROR;
	return store->ops->quota_reserve(store, user, user_len, resid, n, params, now, state,
					 error_r);
}

/* quota_commit - store_quota_commit(_later): the checks, then the engine's commit */
static int quota_commit(struct store *store, const char *user, size_t user_len,
			const char *resid, const struct store_quota_params *params, int64_t now,
			bool later, const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (store == NULL) {
		*error_r = "no store";
		return STORE_ERROR;
	}
	if (check_user(user, user_len, error_r) < 0 || check_resid(resid, error_r) < 0 ||
	    check_params(params, error_r) < 0 || check_now(now, error_r) < 0)
		return STORE_ERROR;
	if (later && store->ops->quota_commit_later != NULL)
		return store->ops->quota_commit_later(store, user, user_len, resid, params, now,
						      error_r);
	return store->ops->quota_commit(store, user, user_len, resid, params, now, error_r);
}

int store_quota_commit(struct store *store, const char *user, size_t user_len,
		       const char *resid, const struct store_quota_params *params, int64_t now,
		       const char **error_r)
{
	return quota_commit(store, user, user_len, resid, params, now, false, error_r);
}

int store_quota_commit_later(struct store *store, const char *user, size_t user_len,
			     const char *resid, const struct store_quota_params *params,
			     int64_t now, const char **error_r)
{
	return quota_commit(store, user, user_len, resid, params, now, true, error_r);
}

int store_quota_release(struct store *store, const char *user, size_t user_len,
			const char *resid, int64_t now, const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (store == NULL) {
		*error_r = "no store";
		return STORE_ERROR;
	}
	if (check_user(user, user_len, error_r) < 0 || check_resid(resid, error_r) < 0 ||
	    check_now(now, error_r) < 0)
		return STORE_ERROR;
	return store->ops->quota_release(store, user, user_len, resid, now, error_r);
}

int store_quota_usage(struct store *store, const char *user, size_t user_len,
		      const struct store_quota_params *params, int64_t now,
		      struct store_quota_state *state, const char **error_r)
{
	struct store_quota_state local;
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (state == NULL)
		state = &local;
	memset(state, 0, sizeof(*state));
	if (store == NULL) {
		*error_r = "no store";
		return STORE_ERROR;
	}
	if (check_user(user, user_len, error_r) < 0 || check_params(params, error_r) < 0 ||
	    check_now(now, error_r) < 0)
		return STORE_ERROR;
	return store->ops->quota_usage(store, user, user_len, params, now, state, error_r);
}

int store_quota_reset(struct store *store, const char *user, size_t user_len,
		      uint32_t *dropped_r, const char **error_r)
{
	const char *dummy;
	uint32_t local;

	if (error_r == NULL)
		error_r = &dummy;
	if (dropped_r == NULL)
		dropped_r = &local;
	*dropped_r = 0;
	if (store == NULL) {
		*error_r = "no store";
		return STORE_ERROR;
	}
	if (check_user(user, user_len, error_r) < 0)
		return STORE_ERROR;
	return store->ops->quota_reset(store, user, user_len, dropped_r, error_r);
}

int store_cache_get(struct store *store, const void *key, size_t key_len, void *val,
		    size_t *val_len, int64_t now, const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (store == NULL) {
		*error_r = "no store";
		return STORE_ERROR;
	}
	if (check_key(key, key_len, error_r) < 0 || check_now(now, error_r) < 0)
		return STORE_ERROR;
	if (val_len == NULL || (val == NULL && *val_len > 0)) {
		*error_r = "no buffer for the cache value";
		return STORE_ERROR;
	}
	return store->ops->cache_get(store, key, key_len, val, val_len, now, error_r);
}

int store_cache_set(struct store *store, const void *key, size_t key_len, const void *val,
		    size_t val_len, uint32_t ttl, int64_t now, const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (store == NULL) {
		*error_r = "no store";
		return STORE_ERROR;
	}
	if (check_key(key, key_len, error_r) < 0 || check_now(now, error_r) < 0)
		return STORE_ERROR;
	if (val_len > STORE_CACHE_VALUE_MAX || (val == NULL && val_len > 0)) {
		*error_r = "cache value too long";
		return STORE_ERROR;
	}
	if (ttl == 0) {
		*error_r = "cache ttl must be at least 1";
		return STORE_ERROR;
	}
	return store->ops->cache_set(store, key, key_len, val, val_len, ttl, now, error_r);
}

int store_cache_del(struct store *store, const void *key, size_t key_len,
		    const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (store == NULL) {
		*error_r = "no store";
		return STORE_ERROR;
	}
	if (check_key(key, key_len, error_r) < 0)
		return STORE_ERROR;
	return store->ops->cache_del(store, key, key_len, error_r);
}

/* greylist_args - shared argument checks of the greylisting calls */
static int greylist_args(struct store *store, const void *client, size_t client_len,
			 int64_t now, const char **error_r)
{
	if (store == NULL) {
		*error_r = "no store";
		return -1;
	}
	if (store->ops->greylist_check == NULL) {
		*error_r = "this store engine does not implement greylisting";
		return -1;
	}
	if (now < 0 || now > STORE_NOW_MAX) {
		*error_r = "clock out of range";
		return -1;
	}
	return check_key(client, client_len, error_r);
}

int store_greylist_check(struct store *store, const void *tuple, size_t tuple_len,
			 const void *client, size_t client_len,
			 const struct greylist_params *params, int64_t now, int *verdict_r,
			 const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (greylist_args(store, client, client_len, now, error_r) < 0 ||
	    check_key(tuple, tuple_len, error_r) < 0)
		return STORE_ERROR;
	if (params == NULL || verdict_r == NULL) {
		*error_r = "no greylisting parameters";
		return STORE_ERROR;
	}
	return store->ops->greylist_check(store, tuple, tuple_len, client, client_len, params,
					  now, verdict_r, error_r);
}

int store_greylist_tally(struct store *store, const void *client, size_t client_len,
			 int64_t now, uint32_t *count_r, const char **error_r)
{
	const char *dummy;
	uint32_t count;

	if (error_r == NULL)
		error_r = &dummy;
	if (count_r == NULL)
		count_r = &count;
	if (greylist_args(store, client, client_len, now, error_r) < 0)
		return STORE_ERROR;
	return store->ops->greylist_tally(store, client, client_len, now, count_r, error_r);
}

int store_greylist_tally_clear(struct store *store, const void *client, size_t client_len,
			       const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (greylist_args(store, client, client_len, 0, error_r) < 0)
		return STORE_ERROR;
	return store->ops->greylist_tally_clear(store, client, client_len, error_r);
}

int store_greylist_peek(struct store *store, const void *tuple, size_t tuple_len, int64_t now,
			bool *present_r, struct greylist_record_tuple *tuple_r,
			const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (greylist_args(store, tuple, tuple_len, now, error_r) < 0)
		return STORE_ERROR;
	if (present_r == NULL || tuple_r == NULL) {
		*error_r = "no place for the answer";
		return STORE_ERROR;
	}
	if (store->ops->greylist_peek == NULL) {
		*error_r = "this store engine does not implement greylisting";
		return STORE_ERROR;
	}
	*present_r = false;
	return store->ops->greylist_peek(store, tuple, tuple_len, now, present_r, tuple_r,
					 error_r);
}

/* check_limits - are the n limits usable, each (owner, id) once? */
static int check_limits(struct store *store, const struct store_limit *limits, size_t n,
			const char **error_r)
{
	size_t i, j;

	if (store == NULL) {
		*error_r = "no store";
		return -1;
	}
	if (store->ops->limits_reserve == NULL) {
		*error_r = "this store engine does not implement limits";
		return -1;
	}
	if (limits == NULL || n == 0 || n > STORE_LIMITS_MAX) {
		*error_r = "bad number of limits (1 to 16)";
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct store_limit *l = &limits[i];

		if (check_user(l->owner, l->owner_len, error_r) < 0)
			return -1;
		if ((unsigned)l->count > STORE_COUNT_BYTES ||
		    (unsigned)l->window > STORE_WINDOW_CALENDAR || l->reservation_ttl == 0) {
			*error_r = "bad limit (count, window or reservation_ttl)";
			return -1;
		}
		if (l->window == STORE_WINDOW_SLIDING && (l->interval == 0 || l->resolution == 0)) {
			*error_r = "bad sliding limit (interval and resolution must be at least 1)";
			return -1;
		}
		if (l->window == STORE_WINDOW_CALENDAR &&
		    (l->period_start < 0 || l->period_end <= l->period_start ||
		     l->period_end > STORE_NOW_MAX)) {
			*error_r = "bad calendar limit (period_start < period_end)";
			return -1;
		}
		if (l->id == 0 && (l->window != STORE_WINDOW_SLIDING ||
				   (l->count != STORE_COUNT_MESSAGES &&
				    l->count != STORE_COUNT_RECIPIENTS) ||
				   l->max > UINT32_MAX || l->margin > UINT32_MAX)) {
			*error_r = "limit id 0 is the single quota: a sliding messages or "
				"recipients limit of at most 2^32-1";
			return -1;
		}
		if (l->max > STORE_LIMIT_MAX || l->margin > STORE_LIMIT_MAX) {
			*error_r = "limit too large (at most 2^50)";
			return -1;
		}
		for (j = 0; j < i; j++)
			if (limits[j].id == l->id && limits[j].owner_len == l->owner_len &&
			    memcmp(limits[j].owner, l->owner, l->owner_len) == 0) {
				*error_r = "the same limit twice in one call";
				return -1;
			}
	}
	return 0;
}

int store_limits_reserve(struct store *store, const char *resid,
			 const struct store_limit *limits, const struct store_limit_ask *asks,
			 size_t n, int64_t now, size_t *refused_r,
			 struct store_limit_state *states, const char **error_r)
{
	const char *dummy;
	size_t refused, i;

	if (error_r == NULL)
		error_r = &dummy;
	if (refused_r == NULL)
		refused_r = &refused;
	*refused_r = 0;
	if (check_limits(store, limits, n, error_r) < 0)
		return STORE_ERROR;
	if (states != NULL)	/* NULL is passed on: the engines skip the states */
		memset(states, 0, n * sizeof(*states));
	if (check_resid(resid, error_r) < 0 || check_now(now, error_r) < 0)
		return STORE_ERROR;
	if (asks == NULL) {
		*error_r = "no asks";
		return STORE_ERROR;
	}
	for (i = 0; i < n; i++)
		if (asks[i].amount > STORE_LIMIT_MAX ||
		    (limits[i].id == 0 && asks[i].amount > UINT32_MAX)) {
			*error_r = "amount too large";
			return STORE_ERROR;
		}
	return store->ops->limits_reserve(store, resid, limits, asks, n, now, refused_r, states,
					  error_r);
}

int store_limits_commit(struct store *store, const char *resid,
			const struct store_limit *limits, const uint64_t *final, size_t n,
			int64_t now, const char **error_r)
{
	const char *dummy;
	size_t i;

	if (error_r == NULL)
		error_r = &dummy;
	if (check_limits(store, limits, n, error_r) < 0 || check_resid(resid, error_r) < 0 ||
	    check_now(now, error_r) < 0)
		return STORE_ERROR;
	for (i = 0; final != NULL && i < n; i++)
		if (final[i] != UINT64_MAX && (final[i] > STORE_LIMIT_MAX ||
					       (limits[i].id == 0 && final[i] > UINT32_MAX))) {
			*error_r = "final amount too large";
			return STORE_ERROR;
		}
	return store->ops->limits_commit(store, resid, limits, final, n, now, error_r);
}

int store_limits_release(struct store *store, const char *resid,
			 const struct store_limit *limits, size_t n, int64_t now,
			 const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (check_limits(store, limits, n, error_r) < 0 || check_resid(resid, error_r) < 0 ||
	    check_now(now, error_r) < 0)
		return STORE_ERROR;
	return store->ops->limits_release(store, resid, limits, n, now, error_r);
}

int store_limits_usage(struct store *store, const struct store_limit *limits, size_t n,
		       int64_t now, struct store_limit_state *states, const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (check_limits(store, limits, n, error_r) < 0)
		return STORE_ERROR;
	if (states == NULL) {
		*error_r = "no states";
		return STORE_ERROR;
	}
	memset(states, 0, n * sizeof(*states));
	if (check_now(now, error_r) < 0)
		return STORE_ERROR;
	return store->ops->limits_usage(store, limits, n, now, states, error_r);
}

int store_limits_reset(struct store *store, const struct store_limit *limits, size_t n,
		       const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (check_limits(store, limits, n, error_r) < 0)
		return STORE_ERROR;
	return store->ops->limits_reset(store, limits, n, error_r);
}

struct top_entry {
	char *owner;
	size_t owner_len;
	uint64_t committed;
};

struct top_list {
	struct top_entry *e;
	size_t n, max;
};

/* top_add - keep (owner, committed) if it is among the max heaviest so far */
static void top_add(void *ctx, const char *owner, size_t owner_len, uint64_t committed)
{
	struct top_list *t = ctx;
	size_t i;

	if (committed == 0 || (t->n == t->max && t->e[t->n - 1].committed >= committed))
		return;
	if (t->n == t->max) {
		free(t->e[t->n - 1].owner);
		t->n--;
	}
	for (i = t->n; i > 0 && t->e[i - 1].committed < committed; i--)
		t->e[i] = t->e[i - 1];
	t->e[i].owner = xmalloc(owner_len > 0 ? owner_len : 1);
	memcpy(t->e[i].owner, owner, owner_len);
	t->e[i].owner_len = owner_len;
	t->e[i].committed = committed;
	t->n++;
}

int store_limits_top(struct store *store, uint32_t id, size_t max,
		     void (*emit)(void *ctx, const char *owner, size_t owner_len,
				  uint64_t committed),
		     void *ctx, int64_t now, const char **error_r)
{
	struct top_list t = { NULL, 0, 0 };
	const char *dummy;
	int status;
	size_t i;

	if (error_r == NULL)
		error_r = &dummy;
	if (store == NULL) {
		*error_r = "no store";
		return STORE_ERROR;
	}
	if (store->ops->limits_top == NULL) {
		*error_r = "this store engine does not implement limits";
		return STORE_ERROR;
	}
	if (emit == NULL || check_now(now, error_r) < 0) {
		if (emit == NULL)
			*error_r = "no callback";
		return STORE_ERROR;
	}
	if (max == 0)
		return STORE_OK;
	if (max > STORE_LIMITS_TOP_MAX)
		max = STORE_LIMITS_TOP_MAX;
	t.max = max;
	t.e = xreallocarray(NULL, max, sizeof(*t.e));
	status = store->ops->limits_top(store, id, top_add, &t, now, error_r);
	for (i = 0; i < t.n; i++) {
		if (status == STORE_OK)
			emit(ctx, t.e[i].owner, t.e[i].owner_len, t.e[i].committed);
		free(t.e[i].owner);
	}
	free(t.e);
	return status;
}

/* lock_args - does store implement the lock calls? */
static int lock_args(struct store *store, const char **error_r)
{
	if (store == NULL) {
		*error_r = "no store";
		return -1;
	}
	if (store->ops->lock_get == NULL) {
		*error_r = "this store engine does not implement locks";
		return -1;
	}
	return 0;
}

/*
 * lock_reason - reason cut to fit buf (STORE_LOCK_REASON_MAX bytes with
 * the NUL), never inside a UTF-8 sequence; NULL is ""
 */
static const char *lock_reason(const char *reason, char *buf)
{
	size_t len;

	if (reason == NULL)
		return "";
	len = strnlen(reason, STORE_LOCK_REASON_MAX);
	if (len < STORE_LOCK_REASON_MAX)
		return reason;
	len = STORE_LOCK_REASON_MAX - 1;
	/* step back over continuation bytes to the start of the cut sequence */
	while (len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80)
		len--;
	memcpy(buf, reason, len);
	buf[len] = '\0';
	return buf;
}

int store_lock_get(struct store *store, const char *user, size_t user_len,
		   struct store_lock_info *info_r, const char **error_r)
{
	struct store_lock_info local;
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (info_r == NULL)
		info_r = &local;
	memset(info_r, 0, sizeof(*info_r));
	if (lock_args(store, error_r) < 0 ||
	    check_user(user, user_len, error_r) < 0)
		return STORE_ERROR;
	return store->ops->lock_get(store, user, user_len, info_r, error_r);
}

int store_mail_lookup(struct store *store, const void *key, size_t key_len, void *val,
		      size_t *val_len, const char *user, size_t user_len, int64_t now,
		      int *lock_r, struct store_lock_info *info_r, const char **error_r)
{
	struct store_lock_info local;
	const char *dummy;
	int lock, st;

	if (error_r == NULL)
		error_r = &dummy;
	if (info_r == NULL)
		info_r = &local;
	if (lock_r == NULL)
		lock_r = &lock;
	memset(info_r, 0, sizeof(*info_r));
	*lock_r = STORE_ERROR;
	if (lock_args(store, error_r) < 0 || check_user(user, user_len, error_r) < 0 ||
	    check_key(key, key_len, error_r) < 0 || check_now(now, error_r) < 0)
		return STORE_ERROR;
	if (val_len == NULL || (val == NULL && *val_len > 0)) {
		*error_r = "no buffer for the cache value";
		return STORE_ERROR;
	}
	if (store->ops->mail_lookup != NULL) {
		st = store->ops->mail_lookup(store, key, key_len, val, val_len, user, user_len, now,
					     lock_r, info_r, error_r);
	} else {
		st = store->ops->cache_get(store, key, key_len, val, val_len, now, error_r);
		if (st != STORE_ERROR)
			*lock_r = store->ops->lock_get(store, user, user_len, info_r, error_r);
		if (*lock_r == STORE_ERROR)
			st = STORE_ERROR;
	}
	if (st == STORE_ERROR) {
		*lock_r = STORE_ERROR;
		memset(info_r, 0, sizeof(*info_r));
	}
	return st;
}

int store_lock_set(struct store *store, const char *user, size_t user_len, const char *reason,
		   int64_t now, const char **error_r)
{
	char buf[STORE_LOCK_REASON_MAX];
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (lock_args(store, error_r) < 0 ||
	    check_user(user, user_len, error_r) < 0 || check_now(now, error_r) < 0)
		return STORE_ERROR;
	return store->ops->lock_set(store, user, user_len, lock_reason(reason, buf), now,
				    error_r);
}

int store_lock_clear(struct store *store, const char *user, size_t user_len,
		     const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (lock_args(store, error_r) < 0 ||
	    check_user(user, user_len, error_r) < 0)
		return STORE_ERROR;
	return store->ops->lock_clear(store, user, user_len, error_r);
}

int store_lock_strike(struct store *store, const char *user, size_t user_len, uint32_t after,
		      uint32_t window, const char *reason, int64_t now, uint32_t *strikes_r,
		      int *locked_r, const char **error_r)
{
	char buf[STORE_LOCK_REASON_MAX];
	const char *dummy;
	uint32_t strikes;
	int locked;

	if (error_r == NULL)
		error_r = &dummy;
	if (strikes_r == NULL)
		strikes_r = &strikes;
	if (locked_r == NULL)
		locked_r = &locked;
	*strikes_r = 0;
	*locked_r = 0;
	if (lock_args(store, error_r) < 0 ||
	    check_user(user, user_len, error_r) < 0 || check_now(now, error_r) < 0)
		return STORE_ERROR;
	if (after == 0 || after > STORE_LOCK_AFTER_MAX || window == 0) {
		*error_r = "bad strike parameters (after 1 to 1000, window at least 1)";
		return STORE_ERROR;
	}
	return store->ops->lock_strike(store, user, user_len, after, window,
				       lock_reason(reason, buf), now, strikes_r, locked_r,
				       error_r);
}

int store_locks_list(struct store *store,
		     void (*emit)(void *ctx, const char *user, size_t user_len, int64_t since,
				  const char *reason),
		     void *ctx, const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (lock_args(store, error_r) < 0)
		return STORE_ERROR;
	if (emit == NULL) {
		*error_r = "no callback";
		return STORE_ERROR;
	}
	return store->ops->locks_list(store, emit, ctx, error_r);
}

int store_event_add(struct store *store, const char *text, size_t len, int64_t now,
		    const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (lock_args(store, error_r) < 0 || check_now(now, error_r) < 0)
		return STORE_ERROR;
	if (text == NULL || len == 0 || len > STORE_EVENT_MAX) {
		*error_r = len > STORE_EVENT_MAX ? "event too long (at most 2048 bytes)"
			: "empty event";
		return STORE_ERROR;
	}
	return store->ops->event_add(store, text, len, now, error_r);
}

int store_events_list(struct store *store, size_t max,
		      void (*emit)(void *ctx, int64_t time, const char *text, size_t len),
		      void *ctx, const char **error_r)
{
	const char *dummy;

	if (error_r == NULL)
		error_r = &dummy;
	if (lock_args(store, error_r) < 0)
		return STORE_ERROR;
	if (emit == NULL) {
		*error_r = "no callback";
		return STORE_ERROR;
	}
	if (max == 0)
		return STORE_OK;
	if (max > STORE_EVENTS_KEEP)
		max = STORE_EVENTS_KEEP;
	return store->ops->events_list(store, max, emit, ctx, error_r);
}

size_t store_key(void *buf, size_t bufsize, const char *tag, ...)
{
	unsigned char *p = buf;
	const char *part;
	size_t len, used;
	va_list ap;

	if (buf == NULL || tag == NULL)
		return 0;
	len = strlen(tag);
	if (len + 1 > bufsize)
		return 0;
	memcpy(p, tag, len);
	p[len] = 0x00;
	used = len + 1;
	va_start(ap, tag);
	while ((part = va_arg(ap, const char *)) != NULL) {
		len = strlen(part);
		if (len > UINT32_MAX || bufsize - used < 4 || bufsize - used - 4 < len) {
			used = 0;
			break;
		}
		p[used++] = (unsigned char)(len >> 24);
		p[used++] = (unsigned char)(len >> 16);
		p[used++] = (unsigned char)(len >> 8);
		p[used++] = (unsigned char)len;
		memcpy(p + used, part, len);
		used += len;
	}
	va_end(ap);
	return used;
}
