/*
 * store - live policy state: quota windows, reservations and a TTL cache
 *
 * One interface, two engines chosen in the config (store.backend):
 *   lmdb   embedded, no server; a file under store.path that survives a
 *          restart and is shared safely by several processes on one host
 *          (LMDB's writer lock makes every decision one serialised
 *          transaction).
 *   redis  hiredis, plain or through Sentinel; every decision is one
 *          server-side Lua script (EVALSHA, reloaded on NOSCRIPT), so any
 *          number of milter hosts share exact counts.
 *
 * Quota model (the same in both engines, see docs/QUOTA.md):
 *   A user's window is kept as at most interval/resolution + 1 buckets of
 *   (bucket number = floor(t / resolution), count).  A bucket counts until
 *   its end + interval has passed, so usage is never under-counted: the
 *   time resolution is `resolution` seconds, and the state per user is
 *   bounded by the bucket count plus the open reservations, whatever the
 *   number of messages sent.  Committed usage = sum of live buckets.
 *   Reservations are (id, count, expiry); they count as used while they
 *   live and expire on their own (a crashed milter's reservations vanish
 *   after reservation_ttl seconds).
 *
 *   store_quota_reserve(n) for reservation id R, atomically:
 *     others = committed + every live reservation except R
 *     own    = R's current count (0 if new)
 *     if others >= limit                    -> STORE_REFUSED (at/over quota)
 *     if others + own + n > limit + margin  -> STORE_REFUSED (past margin)
 *     else own += n                         -> STORE_OK
 *   A message that starts under quota may finish up to margin over it; once
 *   at or over the limit nothing more passes.
 *
 * Keys are binary-safe: user names and ids are passed with their lengths
 * and never go through a format string; a user name holding ':', spaces,
 * NUL or UTF-8 cannot collide with another user's keys.
 *
 * Thread safety: every function may be called from any thread at once; the
 * engines keep their own pools/locks.  Functions block for at most the
 * configured timeouts (redis.command_timeout_ms); LMDB never waits on the
 * network.
 */
#ifndef CHAPPS_STORE_H
#define CHAPPS_STORE_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

enum store_status {
	STORE_OK = 0,
	STORE_REFUSED = 1,	/* quota: the reservation was not granted */
	STORE_MISS = 2,		/* cache: no live entry */
	STORE_ERROR = -1,	/* backend failure; *error_r says what */
};

#define STORE_RESID_MAX 64	/* longest reservation id */
#define STORE_CACHE_VALUE_MAX 256

struct store_quota_params {
	uint32_t limit;		/* messages (or recipients) per interval */
	uint32_t margin;	/* absolute margin over limit */
	uint32_t interval;	/* window length, seconds */
	uint32_t resolution;	/* bucket width, seconds (divides nothing; >= 1) */
	uint32_t reservation_ttl; /* seconds a reservation lives */
};

struct store_quota_state {
	uint32_t committed;	/* committed usage in the window */
	uint32_t reserved;	/* all live reservations, this one included */
	uint32_t own;		/* this reservation's count after the call */
	int64_t last_send;	/* start of the newest non-empty bucket, 0 = none */
};

/*
 * store_open - open the backend config->store_backend with its settings.
 * Returns 0, or -1 with *error_r (a static or store-owned text valid until
 * the next call from this thread).  LMDB creates store.path if needed.
 */
int store_open(const struct config *config, struct store **store_r, const char **error_r);

/* store_close - close and free *store, set it to NULL; NULL is fine. */
void store_close(struct store **store);

/* store_backend_name - "lmdb" or "redis". */
const char *store_backend_name(const struct store *store);

/*
 * store_quota_reserve - try to add n units to reservation resid (created
 * when new) for user, under the rule above.  now is the caller's clock in
 * seconds.  Returns STORE_OK (granted), STORE_REFUSED (nothing changed) or
 * STORE_ERROR.  *state (may be NULL) gets the state after the call.
 */
int store_quota_reserve(struct store *store, const char *user, size_t user_len,
			const char *resid, uint32_t n, const struct store_quota_params *params,
			int64_t now, struct store_quota_state *state, const char **error_r);

/*
 * store_quota_commit - turn reservation resid into usage at time now (added
 * to now's bucket) and delete it.  An unknown or expired resid is not an
 * error (nothing to commit): STORE_OK.
 */
int store_quota_commit(struct store *store, const char *user, size_t user_len,
		       const char *resid, const struct store_quota_params *params, int64_t now,
		       const char **error_r);

/* store_quota_release - delete reservation resid; unknown is STORE_OK. */
int store_quota_release(struct store *store, const char *user, size_t user_len,
			const char *resid, int64_t now, const char **error_r);

/* store_quota_usage - read the state (own = 0) without changing it. */
int store_quota_usage(struct store *store, const char *user, size_t user_len,
		      const struct store_quota_params *params, int64_t now,
		      struct store_quota_state *state, const char **error_r);

/*
 * store_quota_reset - drop the user's usage and reservations; *dropped_r
 * (may be NULL) gets the committed count that was dropped.
 */
int store_quota_reset(struct store *store, const char *user, size_t user_len,
		      uint32_t *dropped_r, const char **error_r);

/*
 * store_cache_get - copy the live value of key into val (size *val_len in,
 * length out).  STORE_OK, STORE_MISS (absent or expired) or STORE_ERROR.
 */
int store_cache_get(struct store *store, const void *key, size_t key_len, void *val,
		    size_t *val_len, int64_t now, const char **error_r);

/* store_cache_set - set key to val (at most STORE_CACHE_VALUE_MAX) for ttl s. */
int store_cache_set(struct store *store, const void *key, size_t key_len, const void *val,
		    size_t val_len, uint32_t ttl, int64_t now, const char **error_r);

/* store_cache_del - delete key; absent is STORE_OK. */
int store_cache_del(struct store *store, const void *key, size_t key_len,
		    const char **error_r);

/* ---- greylisting (see greylist_record.h for the rule) ----------------- */

struct greylist_params;

/*
 * store_greylist_check - apply the greylisting rule to tuple (a key made
 * with store_key) for client (the client part of the tuple, whose 24-hour
 * pass tally decides the auto-whitelist), atomically, at time now.
 * *verdict_r gets an enum greylist_verdict.  A pass (of either kind) adds
 * one to the client's tally and renews the tuple for params->lifetime.
 * State per tuple: first-seen and last-pass times; per client: hourly
 * counters (at most 25).  Entries expire by themselves.
 */
int store_greylist_check(struct store *store, const void *tuple, size_t tuple_len,
			 const void *client, size_t client_len,
			 const struct greylist_params *params, int64_t now, int *verdict_r,
			 const char **error_r);

/*
 * store_greylist_tally - passes of client counted at now (a pass counts for
 * 24 to 25 hours: hourly counters).
 */
int store_greylist_tally(struct store *store, const void *client, size_t client_len,
			 int64_t now, uint32_t *count_r, const char **error_r);

/* store_greylist_tally_clear - forget client's tally. */
int store_greylist_tally_clear(struct store *store, const void *client, size_t client_len,
			       const char **error_r);

/*
 * store_key - build a binary-safe composite key "tag" 0x00 len(part1)
 * part1 len(part2) part2 ... into buf (size bufsize); parts are
 * NUL-terminated strings, the list ends with NULL.  Lengths are written as
 * 4-byte big-endian.  Returns the key length, or 0 when it does not fit.
 */
size_t store_key(void *buf, size_t bufsize, const char *tag, ...) __attribute__((sentinel));

#endif
