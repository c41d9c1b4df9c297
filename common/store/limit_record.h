/*
 * limit_record - one counter of store.h's limits as a bounded, packed record
 *
 * The pure half of the LMDB engine's limits (store_limits_*, id != 0; id 0
 * is a quota_record): no I/O, no locks, no clock.  A record holds one
 * (owner, id)'s state: the count type and window it was written with, the
 * committed usage, the open reservations, and for distinct recipients the
 * set of address hashes counted in the window.
 *
 *   sliding   buckets (start, amount) oldest first, as quota_record.h: a
 *             bucket counts while now < start + resolution + interval; at
 *             most interval / resolution + 2 buckets (and
 *             LIMIT_RECORD_BUCKETS_MAX): past the cap the oldest is folded
 *             into the next newer one (over-counts, never under-counts).
 *   calendar  one amount tagged with period_start; a limit whose
 *             period_start differs sees 0 and the next write drops it.
 *   distinct  a set of (hash, time) sorted by hash instead of the amount;
 *             a hash counts while now < time + interval (sliding) or
 *             while the period is the same (calendar).  Bounded because
 *             reserve refuses a new hash past max + margin, and by
 *             LIMIT_RECORD_HASHES_MAX.
 *   reservations  (id, amount, expiry) and, for distinct, the hashes asked
 *             under the id with a flag "counted" (1: it costs a unit, 0:
 *             already in the set when asked); amount = counted hashes.
 *
 * Packed format (big-endian, no padding):
 *   u8 'L', u8 version (1), u8 count, u8 window, u32 interval,
 *   u32 resolution, i64 period_start, i64 period_end, u64 period_amount,
 *   u16 n_buckets, u32 n_hashes, u16 n_resv,
 *   n_buckets x (i64 start, u64 amount), starts strictly increasing,
 *   n_hashes x (u64 hash, i64 time), hashes strictly increasing,
 *   n_resv x (i64 expiry, u64 amount, u8 id_len 1..64, id bytes,
 *             u16 n, n x (u64 hash, u8 counted)).
 *
 * A struct limit_record is a value owned by its caller: init it, use it,
 * reset it.  Not thread-safe.
 */
#ifndef CHAPPS_LIMIT_RECORD_H
#define CHAPPS_LIMIT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define LIMIT_RECORD_RESV_MAX 1024	/* live reservations per record */
#define LIMIT_RECORD_BUCKETS_MAX 4096	/* hard cap, whatever the parameters */
#define LIMIT_RECORD_HASHES_MAX (1u << 20)	/* distinct addresses kept */
#define LIMIT_RECORD_HEADER_SIZE 48

struct limit_bucket {
	int64_t start;		/* floor(t / resolution) * resolution */
	uint64_t amount;	/* > 0 */
};

struct limit_hash {
	uint64_t hash;
	int64_t time;		/* last commit of the address */
};

struct limit_resv_hash {
	uint64_t hash;
	bool counted;
};

struct limit_resv {
	int64_t expiry;		/* counts while now < expiry */
	uint64_t amount;
	uint8_t id_len;		/* 1..STORE_RESID_MAX */
	char id[STORE_RESID_MAX];
	struct limit_resv_hash *hashes;	/* distinct only */
	uint16_t n_hashes, hashes_alloc;
};

struct limit_record {
	uint8_t count;		/* enum store_count */
	uint8_t window;		/* enum store_window */
	uint32_t interval, resolution;
	int64_t period_start, period_end;
	uint64_t period_amount;		/* calendar, not distinct */
	struct limit_bucket *buckets;	/* sliding, not distinct; oldest first */
	uint32_t n_buckets, buckets_alloc;
	struct limit_hash *hashes;	/* distinct; by hash */
	uint32_t n_hashes, hashes_alloc;
	struct limit_resv *resv;	/* unordered */
	uint32_t n_resv, resv_alloc;
	bool dirty;	/* changed since init/decode: the caller must store it */
};

/* limit_record_init - an empty record (no allocation). */
void limit_record_init(struct limit_record *rec);

/* limit_record_reset - free what the record holds and make it empty again. */
void limit_record_reset(struct limit_record *rec);

/*
 * limit_record_decode - replace rec's contents with the packed record
 * data/len (copied).  Returns 0, or -1 with a static *error_r and rec empty
 * when the data is malformed.  Never reads outside data[0..len).  Clears
 * dirty.
 */
int limit_record_decode(struct limit_record *rec, const void *data, size_t len,
			const char **error_r);

/* limit_record_encoded_size - bytes limit_record_encode will write. */
size_t limit_record_encoded_size(const struct limit_record *rec);

/* limit_record_encode - write the packed record; the length, 0 if bufsize is short. */
size_t limit_record_encode(const struct limit_record *rec, void *buf, size_t bufsize);

/* limit_record_is_empty - nothing counted nor reserved (delete the key). */
bool limit_record_is_empty(const struct limit_record *rec);

/*
 * limit_record_reserve - store_limits_reserve's rule for one limit: adopt
 * limit's definition (another count or window: start from 0; another
 * period: drop the old period's usage), prune at now, compute the ask's
 * cost and grant or refuse.  Granted: resid's reservation gets the cost
 * (and, distinct, the hash) and expiry now + reservation_ttl.  Returns
 * STORE_OK, STORE_REFUSED (the record may be pruned: the caller drops it
 * anyway) or STORE_ERROR with a static *error_r (too many reservations or
 * hashes).  *state (may be NULL) gets the state after the call (not set
 * on STORE_ERROR).
 */
int limit_record_reserve(struct limit_record *rec, const struct store_limit *limit,
			 const char *resid, const struct store_limit_ask *ask, int64_t now,
			 struct store_limit_state *state, const char **error_r);

/*
 * limit_record_commit - adopt, prune, then turn resid's live reservation
 * into usage at now (final replaces its amount unless UINT64_MAX or
 * distinct) and delete it.  Returns 0, or -1 with *error_r when the hash
 * set is full (nothing changed but pruning).  No live reservation: no change.
 */
int limit_record_commit(struct limit_record *rec, const struct store_limit *limit,
			const char *resid, uint64_t final, int64_t now, const char **error_r);

/* limit_record_release - drop expired reservations and resid's. */
void limit_record_release(struct limit_record *rec, const char *resid, int64_t now);

/*
 * limit_record_state - the state of limit at now (own = resid's amount, 0
 * when resid is NULL); rec is not changed.
 */
void limit_record_state(const struct limit_record *rec, const struct store_limit *limit,
			const char *resid, int64_t now, struct store_limit_state *state);

/*
 * limit_record_committed - committed usage at now with the definition the
 * record was last written with (for store_limits_top).
 */
uint64_t limit_record_committed(const struct limit_record *rec, int64_t now);

#endif
