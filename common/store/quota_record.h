/*
 * quota_record - one user's quota state as a bounded, packed record
 *
 * The pure half of the LMDB store engine: no I/O, no locks, no clock.  A
 * record holds the user's committed usage as time buckets (start, count),
 * oldest first, and the open reservations (id, count, expiry).  The engine
 * reads the packed record inside a write transaction, decodes it, applies
 * one operation, encodes it and writes it back; the rules of store.h
 * (reserve rule, bucket life, reservation expiry) live here so that they
 * can be tested with an injected clock.
 *
 * Bounds (whatever the number of messages the user sent):
 *   buckets       at most quota_record_bucket_cap(params), which is
 *                 interval / resolution + 2 (integer division; the live
 *                 buckets at any instant number at most
 *                 ceil(interval / resolution) + 1), and never more than
 *                 QUOTA_RECORD_BUCKETS_MAX: past the cap the two oldest
 *                 buckets are merged into the newer one, which can only
 *                 over-count, never under-count.
 *   reservations  at most QUOTA_RECORD_RESV_MAX live ones.
 *
 * A bucket holding usage committed at time t starts at
 * floor(t / resolution) * resolution and counts while
 *   now < start + resolution + interval,
 * so usage is counted for at least interval and at most interval +
 * resolution seconds.  A reservation counts while now < expiry.
 *
 * Packed format (all integers big-endian, no padding):
 *   u8 'Q', u8 version (1), u16 n_buckets, u16 n_reservations,
 *   n_buckets x (i64 start, u32 count), starts strictly increasing,
 *   n_reservations x (i64 expiry, u32 count, u8 id_len 1..64, id bytes).
 *
 * A struct quota_record is a value owned by its caller: init it, use it,
 * reset it.  Not thread-safe (one record per thread or transaction).
 */
#ifndef CHAPPS_QUOTA_RECORD_H
#define CHAPPS_QUOTA_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define QUOTA_RECORD_RESV_MAX 1024	/* live reservations per user */
#define QUOTA_RECORD_BUCKETS_MAX 4096	/* hard cap, whatever the parameters */
#define QUOTA_RECORD_HEADER_SIZE 6
#define QUOTA_RECORD_BUCKET_SIZE 12
#define QUOTA_RECORD_RESV_SIZE_MIN 14	/* expiry, count, id_len, one id byte */

struct quota_bucket {
	int64_t start;		/* floor(t / resolution) * resolution */
	uint32_t count;		/* > 0 */
};

struct quota_resv {
	int64_t expiry;		/* counts while now < expiry */
	uint32_t count;
	uint8_t id_len;		/* 1..STORE_RESID_MAX */
	char id[STORE_RESID_MAX];
};

struct quota_record {
	struct quota_bucket *buckets;	/* oldest first */
	uint32_t n_buckets, buckets_alloc;
	struct quota_resv *resv;	/* unordered */
	uint32_t n_resv, resv_alloc;
	bool dirty;	/* changed since init/decode: the caller must store it */
};

/* quota_record_init - an empty record (no allocation). */
void quota_record_init(struct quota_record *rec);

/* quota_record_reset - free what the record holds and make it empty again. */
void quota_record_reset(struct quota_record *rec);

/*
 * quota_record_decode - replace rec's contents with the packed record
 * data/len (copied; data may go away afterwards).  Returns 0, or -1 with
 * a static *error_r and rec empty when the data is truncated, has trailing
 * bytes, an unknown version, out-of-order buckets or bad lengths.  Never
 * reads outside data[0..len).  Clears dirty.
 */
int quota_record_decode(struct quota_record *rec, const void *data, size_t len,
			const char **error_r);

/* quota_record_encoded_size - bytes quota_record_encode will write. */
size_t quota_record_encoded_size(const struct quota_record *rec);

/*
 * quota_record_encode - write the packed record into buf (bufsize at least
 * quota_record_encoded_size).  Returns the length written, 0 if it does not
 * fit.
 */
size_t quota_record_encode(const struct quota_record *rec, void *buf, size_t bufsize);

/* quota_record_is_empty - no buckets and no reservations (delete the key). */
bool quota_record_is_empty(const struct quota_record *rec);

/* quota_record_bucket_cap - most buckets kept for params. */
uint32_t quota_record_bucket_cap(const struct store_quota_params *params);

/*
 * quota_record_prune - drop reservations expired at now and, when params
 * is not NULL, buckets out of the window at now.  Returns true when
 * anything was dropped (and sets dirty).
 */
bool quota_record_prune(struct quota_record *rec, const struct store_quota_params *params,
			int64_t now);

/*
 * quota_record_reserve - store_quota_reserve on the record: prune at now,
 * then apply the reserve rule of store.h to reservation resid (1..64
 * bytes, NUL-terminated).  A granted reservation gets count += n and
 * expiry now + reservation_ttl.  Returns STORE_OK, STORE_REFUSED (nothing
 * changed but pruning) or STORE_ERROR with a static *error_r ("too many
 * open reservations" when resid is new and QUOTA_RECORD_RESV_MAX are
 * open).  *state (may be NULL) gets the state after the call.
 */
int quota_record_reserve(struct quota_record *rec, const char *resid, uint32_t n,
			 const struct store_quota_params *params, int64_t now,
			 struct store_quota_state *state, const char **error_r);

/*
 * quota_record_commit - prune at now, then move live reservation resid's
 * count into now's bucket and delete it.  Unknown or expired resid: no
 * change.
 */
void quota_record_commit(struct quota_record *rec, const char *resid,
			 const struct store_quota_params *params, int64_t now);

/* quota_record_release - drop expired reservations and resid. */
void quota_record_release(struct quota_record *rec, const char *resid, int64_t now);

/*
 * quota_record_state - the state at now as store_quota_usage reports it
 * (own = resid's count, 0 when resid is NULL or unknown), counting only
 * live buckets and reservations; rec is not changed.
 */
void quota_record_state(const struct quota_record *rec, const char *resid,
			const struct store_quota_params *params, int64_t now,
			struct store_quota_state *state);

/*
 * quota_record_hold - store_limits_reserve's cost-0 ask on the record
 * (limit id 0): prune at now, then create resid's reservation with count 0
 * or renew its expiry (now + reservation_ttl); never refused.  Returns
 * STORE_OK or STORE_ERROR "too many open reservations".
 */
int quota_record_hold(struct quota_record *rec, const char *resid,
		      const struct store_quota_params *params, int64_t now, const char **error_r);

/*
 * quota_record_set_own - set live reservation resid's count (a final
 * amount at commit); unknown resid: no change.
 */
void quota_record_set_own(struct quota_record *rec, const char *resid, uint32_t count,
			  int64_t now);

/* quota_record_total - every stored bucket's count, live or not (saturated). */
uint32_t quota_record_total(const struct quota_record *rec);

#endif
