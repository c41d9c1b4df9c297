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

#include <stdbool.h>
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

/*
 * store_quota_commit_later - store_quota_commit, possibly after it returns:
 * the Redis engine with store.redis.defer_commit sends it with a later
 * command (redis_pool_defer), so STORE_OK says only that it will be sent;
 * until it runs, the reservation holds its room.  Other engines commit at
 * once.  For the milter's DATA/EOM commit; tools that read the state back
 * use store_quota_commit.
 */
int store_quota_commit_later(struct store *store, const char *user, size_t user_len,
			     const char *resid, const struct store_quota_params *params,
			     int64_t now, const char **error_r);

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

struct greylist_record_tuple;

/*
 * store_greylist_peek - read tuple's state at now and change nothing (no
 * write, no lifetime renewed, no tally counted: for chapps-api).
 * *present_r: whether a live record exists (a record the rule would
 * restart anyway counts as absent); then *tuple_r gets its first-seen and
 * last-pass times (last_pass -1: not passed yet).  STORE_OK or STORE_ERROR.
 */
int store_greylist_peek(struct store *store, const void *tuple, size_t tuple_len, int64_t now,
			bool *present_r, struct greylist_record_tuple *tuple_r,
			const char **error_r);

/* ---- limits: several counters per message, reserved all or nothing ------- */

/*
 * The contract of /work/wt/LIMITS-API.md (issue 10), with these
 * refinements by the store (also in LIMITS-NOTES.md):
 *
 * - id 0 is the CHAPPS-style single limit and IS the store_quota_* state
 *   of owner (same LMDB record, same Redis hash "chapps:q:" + owner): usage
 *   counted by store_quota_* before an upgrade is seen by store_limits_*
 *   with id 0 and the other way round.  Hence id 0 must be a sliding
 *   messages or recipients limit with max, margin and amounts of at most
 *   UINT32_MAX (anything else is STORE_ERROR), and store_limits_reset of id
 *   0 is store_quota_reset.
 * - A limit's rule is store.h's reserve rule with max as limit, applied
 *   only when the ask costs something: others = committed + reserved -
 *   own; refused when others >= max or others + own + cost > max + margin.
 *   An ask that costs 0 (amount 0; a distinct address already counted) is
 *   always granted: the message already holds its place.  A granted ask
 *   creates or refreshes resid's reservation on that limit (expiry now +
 *   reservation_ttl) even at cost 0, so that commit with a final amount
 *   (bytes without SIZE=) knows the message.
 * - Distinct: cost 1 when the hash is neither committed in the window nor
 *   already reserved under this resid (an address reserved only by another
 *   live message is counted again: over-counting for a while, never
 *   under-counting).  Commit adds resid's hashes to the set at now (a
 *   repeat address's time is renewed: it counts for a window after its
 *   last use); committed = the number of hashes in the window.  At most
 *   STORE_LIMITS_RCPT_MAX hashes per reservation.
 * - Sliding windows are buckets as for store_quota_*: a unit committed at
 *   t counts while now < floor(t / resolution) * resolution + resolution +
 *   interval (distinct: while now < t + interval).  Calendar: the counter
 *   (or set) is tagged with period_start; a stored period_start different
 *   from the limit's means 0 (the old period is dropped on the next write).
 * - The stored record remembers the count type and window kind of (owner,
 *   id); a limit redefined with another count or window starts from 0.
 * - The same (owner, id) twice in one call is STORE_ERROR; max, margin,
 *   amounts and final amounts are at most STORE_LIMIT_MAX (exact as Lua
 *   numbers); sums saturate there.
 * - next_free: sliding, when the oldest counted unit leaves the window;
 *   calendar, period_end; 0 when nothing is committed.
 * - Cost: one LMDB write transaction / one Redis script call per call,
 *   whatever n.  Messages, recipients and bytes cost the same for 10 or
 *   100,000 units in the window (buckets and running aggregates).  Distinct
 *   is a sorted set on both engines (Redis: a sorted set; LMDB: two
 *   sorted-duplicate databases beside the limit's record, by hash and by
 *   time, store_lmdb_limits.c): a reserve looks up its one hash, a commit
 *   writes its message's hashes, expired addresses go oldest first on the
 *   next write, the count is kept by the engine (ZCARD, mdb_cursor_count):
 *   logarithmic in the addresses kept.  bench/limits-cost, LMDB, one
 *   reserve + commit with 10 / 1,440 / 10,000 / 100,000 addresses in the
 *   window: 8.0 / 9.0 / 14.5 / 11.3 us (the whole set decoded and
 *   re-encoded at each call before: 16.6 / 131 / 163 / 752 us, same
 *   loaded machine; docs/BENCHMARKS.md).  A read (usage, top) also steps
 *   over the addresses expired since the limit's last write.
 */

enum store_count {
	STORE_COUNT_MESSAGES = 0,	/* one unit per message */
	STORE_COUNT_RECIPIENTS,		/* one unit per accepted recipient */
	STORE_COUNT_DISTINCT,		/* one unit per recipient address not yet seen in the window */
	STORE_COUNT_BYTES,		/* message size: SIZE= reserved, the real size committed */
};

enum store_window {
	STORE_WINDOW_SLIDING = 0,	/* interval seconds, buckets of resolution seconds */
	STORE_WINDOW_CALENDAR,		/* [period_start, period_end): reset at the boundary */
};

#define STORE_LIMITS_MAX 16		/* limits per call */
#define STORE_LIMITS_RCPT_MAX 1024	/* distinct hashes per reservation */
#define STORE_LIMIT_MAX ((uint64_t)1 << 50)	/* largest max, margin, amount (exact in Lua) */
#define STORE_LIMITS_TOP_MAX 10000	/* store_limits_top's max is capped there */

/*
 * One counter.  The key is (owner, id): owner is the user name, or for a
 * domain pool the pool's name made by the caller (e.g. "\0pool" + domain,
 * binary-safe, never colliding with a user name); id tells a user's limits
 * apart (the limit's row id; 0 for the CHAPPS-style single limit, see
 * above).
 */
struct store_limit {
	const char *owner;
	size_t owner_len;		/* >= 1 */
	uint32_t id;
	enum store_count count;
	enum store_window window;
	uint32_t interval;		/* sliding: window length, s (>= 1) */
	uint32_t resolution;		/* sliding: bucket width, s (>= 1) */
	int64_t period_start;		/* calendar: the current period at now, computed by the caller */
	int64_t period_end;		/*   (time zone, DST: the caller's business); start < end */
	uint64_t max;			/* the limit */
	uint64_t margin;		/* absolute, as store_quota_params.margin */
	uint32_t reservation_ttl;	/* s (>= 1) */
};

/*
 * What one reserve call asks of each limit: amount units (messages: 1 for
 * the first recipient, then 0; recipients: 1; bytes: the declared SIZE or
 * 0; distinct: 1, and rcpt_hash names the address: the engine counts it
 * only when the hash is not already committed or reserved in the window).
 */
struct store_limit_ask {
	uint64_t amount;
	uint64_t rcpt_hash;		/* distinct only: a 64-bit hash of the normalised address */
};

struct store_limit_state {
	uint64_t committed;		/* in the window / period */
	uint64_t reserved;		/* every live reservation, this one included */
	uint64_t own;			/* this reservation's amount after the call */
	int64_t next_free;		/* when the oldest counted unit leaves the window (0: n/a) */
};

/*
 * store_limits_reserve - for reservation resid, atomically across all n
 * limits: apply the reserve rule to each limit with its ask; if every
 * limit grants, add every ask (all); if any refuses, change nothing (none)
 * and set *refused_r to the index of the first limit that refused.  A
 * refused message leaves no trace in any limit.  Returns STORE_OK,
 * STORE_REFUSED or STORE_ERROR.  states (may be NULL) gets n states after
 * the call.  n is 1..STORE_LIMITS_MAX.
 */
int store_limits_reserve(struct store *store, const char *resid,
			 const struct store_limit *limits, const struct store_limit_ask *asks,
			 size_t n, int64_t now, size_t *refused_r,
			 struct store_limit_state *states, const char **error_r);

/*
 * store_limits_commit - turn resid's reservations on the n limits into
 * usage at now.  final (may be NULL) replaces the reserved amount of a
 * limit when final[i] != UINT64_MAX (bytes: the real size at end of
 * message; it may be larger than what was reserved: usage can exceed the
 * limit by at most one message, like margin; ignored for distinct).  A
 * limit where resid holds no live reservation gets nothing.  Unknown
 * resid: STORE_OK.
 */
int store_limits_commit(struct store *store, const char *resid,
			const struct store_limit *limits, const uint64_t *final, size_t n,
			int64_t now, const char **error_r);

/* store_limits_release - drop resid's reservations on the n limits. */
int store_limits_release(struct store *store, const char *resid,
			 const struct store_limit *limits, size_t n, int64_t now,
			 const char **error_r);

/* store_limits_usage - the states (own = 0) of n limits at now, nothing changed. */
int store_limits_usage(struct store *store, const struct store_limit *limits, size_t n,
		       int64_t now, struct store_limit_state *states, const char **error_r);

/* store_limits_reset - forget the usage and reservations of the n limits. */
int store_limits_reset(struct store *store, const struct store_limit *limits, size_t n,
		       const char **error_r);

/*
 * store_limits_top - the heaviest owners: up to max entries of (owner,
 * committed) for limit id `id`, heaviest first, for chapps-cli top.
 * committed is counted at now with the window the record was last written
 * with (records remember interval, resolution and period; id 0: every
 * stored bucket of the quota record).  Scans (LMDB: the limits database; Redis: SCAN): an
 * operator command, never on the decision path.
 */
int store_limits_top(struct store *store, uint32_t id, size_t max,
		     void (*emit)(void *ctx, const char *owner, size_t owner_len,
				  uint64_t committed),
		     void *ctx, int64_t now, const char **error_r);

/* ---- locks, strikes and events (issue 11) -------------------------------- */

/*
 * A lock is per user name (binary-safe, as the quota's): while it exists
 * every message of that user is refused or held by the caller (the store
 * only keeps it).  Locks do not expire; store_lock_clear removes them.
 * They are in the store, so they survive a restart and every process and
 * host sharing the store sees them at once.  Strikes are the refusals that
 * lead to a lock: at most `after` strike times per user, in a sliding
 * window.  Events are a journal of JSON texts (alerts, lock, unlock) of
 * which the store keeps the newest STORE_EVENTS_KEEP.
 */

#define STORE_LOCK_REASON_MAX 256
#define STORE_EVENT_MAX 2048		/* bytes of one event's text */
#define STORE_EVENTS_KEEP 1000		/* events kept, the newest */
#define STORE_LOCK_AFTER_MAX 1000	/* largest `after` of store_lock_strike */

struct store_lock_info {
	int64_t since;				/* when locked */
	char reason[STORE_LOCK_REASON_MAX];	/* NUL-terminated, cut to fit */
};

/* store_lock_get - STORE_OK: user is locked (*info_r, may be NULL, filled); STORE_MISS: not. */
int store_lock_get(struct store *store, const char *user, size_t user_len,
		   struct store_lock_info *info_r, const char **error_r);

/*
 * store_mail_lookup - store_cache_get of key and store_lock_get of user
 * together, as one read (MAIL FROM asks both: the sender-domain cache and
 * lock.check): one pipelined round trip on Redis (GET and HMGET), one read
 * transaction on LMDB.  Returns the cache's STORE_OK or STORE_MISS (val
 * and *val_len as store_cache_get's) with *lock_r set to the lock's
 * STORE_OK (*info_r, may be NULL, filled) or STORE_MISS, or STORE_ERROR
 * when either read failed (then neither answer is given).
 */
int store_mail_lookup(struct store *store, const void *key, size_t key_len, void *val,
		      size_t *val_len, const char *user, size_t user_len, int64_t now,
		      int *lock_r, struct store_lock_info *info_r, const char **error_r);

/*
 * store_lock_set - lock user: STORE_OK when this call locked it, STORE_REFUSED
 * when it was locked already (the lock keeps its since and reason), atomically,
 * so that of two callers at once exactly one is told it locked the user.
 */
int store_lock_set(struct store *store, const char *user, size_t user_len, const char *reason,
		   int64_t now, const char **error_r);

/* store_lock_clear - unlock user and forget its strikes: STORE_OK, or STORE_MISS when not locked. */
int store_lock_clear(struct store *store, const char *user, size_t user_len,
		     const char **error_r);

/*
 * store_lock_strike - count one refusal of user at now in a sliding window of
 * `window` seconds; when the count reaches `after`, lock user with reason
 * (atomically, in the same transaction/script).  *strikes_r (may be NULL)
 * gets the count in the window after this strike; *locked_r (may be NULL)
 * gets 1 when THIS call locked the user (exactly one caller sees 1 when
 * several race), else 0.  State per user bounded (at most `after` strike
 * times kept).  after >= 1 (at most STORE_LOCK_AFTER_MAX), window >= 1.
 * A strike on a user already locked is counted and locks nothing.
 */
int store_lock_strike(struct store *store, const char *user, size_t user_len, uint32_t after,
		      uint32_t window, const char *reason, int64_t now, uint32_t *strikes_r,
		      int *locked_r, const char **error_r);

/* store_locks_list - every lock: emit(ctx, user, user_len, since, reason). */
int store_locks_list(struct store *store,
		     void (*emit)(void *ctx, const char *user, size_t user_len, int64_t since,
				  const char *reason),
		     void *ctx, const char **error_r);

/*
 * store_event_add - append one event (text: a JSON object, at most
 * STORE_EVENT_MAX bytes, else STORE_ERROR) at now; the store keeps the
 * newest 1000 (older ones dropped in the same call).
 */
int store_event_add(struct store *store, const char *text, size_t len, int64_t now,
		    const char **error_r);

/* store_events_list - the newest max events, newest first: emit(ctx, time, text, len). */
int store_events_list(struct store *store, size_t max,
		      void (*emit)(void *ctx, int64_t time, const char *text, size_t len),
		      void *ctx, const char **error_r);

/*
 * store_key - build a binary-safe composite key "tag" 0x00 len(part1)
 * part1 len(part2) part2 ... into buf (size bufsize); parts are
 * NUL-terminated strings, the list ends with NULL.  Lengths are written as
 * 4-byte big-endian.  Returns the key length, or 0 when it does not fit.
 */
size_t store_key(void *buf, size_t bufsize, const char *tag, ...) __attribute__((sentinel));

#endif
