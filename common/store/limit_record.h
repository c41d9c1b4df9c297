/*
 * limit_record - one counter of store.h's limits as a bounded, packed record
 *
 * The pure half of the LMDB engine's limits (store_limits_*, id != 0; id 0
 * is a quota_record): no I/O, no locks, no clock.  A record holds one
 * (owner, id)'s state: the count type and window it was written with, the
 * committed usage and the open reservations.  The set of addresses of a
 * distinct-recipients limit is NOT in the record (format version 2): its
 * keeper (store_lmdb_limits.c, two sorted LMDB databases) looks up the
 * asked hashes, adds a message's hashes at commit and drops the expired
 * ones, and tells the record what it holds through a struct
 * limit_set_view; so a decision on a distinct limit costs the same with
 * 10 or 100,000 addresses in the window.
 *
 *   sliding   buckets (start, amount) oldest first, as quota_record.h: a
 *             bucket counts while now < start + resolution + interval; at
 *             most interval / resolution + 2 buckets (and
 *             LIMIT_RECORD_BUCKETS_MAX): past the cap the oldest is folded
 *             into the next newer one (over-counts, never under-counts).
 *   calendar  one amount tagged with period_start; a limit whose
 *             period_start differs sees 0 and the next write drops it.
 *   distinct  the keeper's set of (hash, time): a hash counts while now <
 *             time + interval (sliding) or while the period is the same
 *             (calendar).  Bounded because reserve refuses a new hash past
 *             max + margin, and by LIMIT_RECORD_HASHES_MAX.
 *   reservations  (id, amount, expiry) and, for distinct, the hashes asked
 *             under the id with a flag "counted" (1: it costs a unit, 0:
 *             already in the set when asked); amount = counted hashes.
 *
 * Packed format (big-endian, no padding):
 *   u8 'L', u8 version (2; 1 is read), u8 count, u8 window, u32 interval,
 *   u32 resolution, i64 period_start, i64 period_end, u64 period_amount,
 *   u16 n_buckets, u32 n_hashes, u16 n_resv, u32 0,
 *   n_buckets x (i64 start, u64 amount), starts strictly increasing,
 *   n_hashes x (u64 hash, i64 time), hashes strictly increasing,
 *   n_resv x (i64 expiry, u64 amount, u8 id_len 1..64, id bytes,
 *             u16 n, n x (u64 hash, u8 counted)).
 * n_hashes is 0 in what this code writes: the inline set is version 1's,
 * which kept a distinct limit's addresses in the record (decoded and
 * encoded whole at every call).  A version 1 record decodes with its
 * hashes (the "legacy" set); limit_record_legacy_view() reads them, and
 * the keeper moves them into its own set on the record's first write.
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

/*
 * What a distinct limit's set holds at now, as its keeper sees it: the
 * addresses that count, the last-use time of the oldest of them (sliding),
 * and for a reserve whether the asked hash is one of them.
 */
struct limit_set_view {
	uint64_t live;
	int64_t oldest;		/* sliding and live > 0 */
	bool has_hash;
};

struct limit_record {
	uint8_t count;		/* enum store_count */
	uint8_t window;		/* enum store_window */
	uint32_t interval, resolution;
	int64_t period_start, period_end;
	uint64_t period_amount;		/* calendar, not distinct */
	struct limit_bucket *buckets;	/* sliding, not distinct; oldest first */
	uint32_t n_buckets, buckets_alloc;
	struct limit_hash *hashes;	/* version 1's inline set (legacy); by hash */
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
 * limit_record_prepare - adopt limit's definition (another count or window:
 * start from 0; another period: drop the old period's usage) and prune at
 * now (expired reservations, dead buckets, dead legacy hashes).  Returns
 * true when the usage was dropped: the keeper must empty its address set.
 * reserve and commit do it too (a second time changes nothing).
 */
bool limit_record_prepare(struct limit_record *rec, const struct store_limit *limit,
			  int64_t now);

/* limit_record_resv - resid's reservation, or NULL (call prepare first: live ones only) */
const struct limit_resv *limit_record_resv(const struct limit_record *rec, const char *resid);

/*
 * limit_record_reserve - store_limits_reserve's rule for one limit: prepare,
 * compute the ask's cost and grant or refuse.  Distinct: view (not NULL)
 * is the keeper's set after its expired addresses were dropped; the ask
 * costs 1 when its hash is neither in the set nor already asked under
 * resid.  Granted: resid's reservation gets the cost (and, distinct, the
 * hash) and expiry now + reservation_ttl.  Returns STORE_OK,
 * STORE_REFUSED (the record may be pruned: the caller drops it anyway) or
 * STORE_ERROR with a static *error_r (too many reservations or
 * addresses).  *state (may be NULL) gets the state after the call (not
 * set on STORE_ERROR).
 */
int limit_record_reserve(struct limit_record *rec, const struct store_limit *limit,
			 const char *resid, const struct store_limit_ask *ask,
			 const struct limit_set_view *view, int64_t now,
			 struct store_limit_state *state, const char **error_r);

/*
 * limit_record_commit - prepare, then turn resid's live reservation into
 * usage at now (final replaces its amount unless UINT64_MAX or distinct)
 * and delete it.  Distinct: the keeper adds the reservation's hashes
 * (limit_record_resv) to its set first; here the reservation only goes.
 * Returns 0.  No live reservation: no change.
 */
int limit_record_commit(struct limit_record *rec, const struct store_limit *limit,
			const char *resid, uint64_t final, int64_t now, const char **error_r);

/* limit_record_release - drop expired reservations and resid's. */
void limit_record_release(struct limit_record *rec, const char *resid, int64_t now);

/*
 * limit_record_state - the state of limit at now (own = resid's amount, 0
 * when resid is NULL); rec is not changed.  view: the distinct set (NULL:
 * empty).
 */
void limit_record_state(const struct limit_record *rec, const struct store_limit *limit,
			const char *resid, const struct limit_set_view *view, int64_t now,
			struct store_limit_state *state);

/*
 * limit_record_committed - committed usage at now with the definition the
 * record was last written with (for store_limits_top); view as above.
 */
uint64_t limit_record_committed(const struct limit_record *rec,
				const struct limit_set_view *view, int64_t now);

/* limit_record_hash_counts - does legacy hash h of rec count at now? */
bool limit_record_hash_counts(const struct limit_record *rec, const struct limit_hash *h,
			      int64_t now);

/*
 * limit_record_legacy_view - *view from rec's inline (version 1) set at
 * now, has_hash for hash.
 */
void limit_record_legacy_view(const struct limit_record *rec, uint64_t hash, int64_t now,
			      struct limit_set_view *view);

/* limit_record_forget_legacy - drop the inline set (moved to the keeper's). */
void limit_record_forget_legacy(struct limit_record *rec);

#endif
