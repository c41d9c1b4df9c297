/*
 * NAME
 *	quota_record - one user's quota state as a bounded, packed record
 * SUMMARY
 *	quota_record_decode(), quota_record_encode(), quota_record_prune(),
 *	quota_record_reserve(), quota_record_hold(), quota_record_set_own(),
 *	quota_record_commit(), quota_record_release(), quota_record_state()
 * DESCRIPTION
 *	The record is decoded into two arrays (buckets oldest first, and
 *	reservations in no order), changed in memory and encoded again; all
 *	the work is linear in the record's size, which is bounded by the
 *	bucket cap plus QUOTA_RECORD_RESV_MAX, never by the number of
 *	messages sent.  Sums are computed in 64 bits and saturated to 32 bits
 *	when reported, so a record full of huge counts cannot wrap around
 *	into "under quota".
 *
 *	Time is the caller's: every function takes now, so the tests can move
 *	the clock to the window's edges.  A clock that goes backwards (another
 *	host, a correction) only makes usage last longer: buckets in the
 *	future are kept and counted.
 * DIAGNOSTICS
 *	quota_record_decode() returns -1 with a static message for a corrupt
 *	record; quota_record_reserve() returns STORE_ERROR "too many open
 *	reservations".  Nothing here logs or aborts.
 */
#include "autoconf.h"

#include <limits.h>
#include <string.h>

#include "store/quota_record.h"
#include "base/xalloc.h"
#include "store/bigendian.h"

#define QUOTA_RECORD_MAGIC 'Q'
#define QUOTA_RECORD_VERSION 1

/* sat32 - v clamped to UINT32_MAX */
static uint32_t sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* floor_div - a / b rounded towards minus infinity (b > 0) */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* bucket_live - does bucket b still count at now? */
static bool bucket_live(const struct quota_bucket *b, const struct store_quota_params *params,
			int64_t now)
{
	int64_t span = (int64_t)params->resolution + (int64_t)params->interval;

	/* a start this close to the end of time (a corrupt record) lives */
	if (b->start > INT64_MAX - span)
		return true;
	return now < b->start + span;
}

/* add_ttl - now + ttl, saturated */
static int64_t add_ttl(int64_t now, uint32_t ttl)
{
	return now > INT64_MAX - (int64_t)ttl ? INT64_MAX : now + (int64_t)ttl;
}

/* resv_find - index of reservation resid, or -1 */
static int resv_find(const struct quota_record *rec, const char *resid, size_t len)
{
	uint32_t i;

	for (i = 0; i < rec->n_resv; i++) {
		const struct quota_resv *r = &rec->resv[i];

		if (r->id_len == len && memcmp(r->id, resid, len) == 0)
			return (int)i;
	}
	return -1;
}

/* resv_remove - delete reservation i (the last one takes its place) */
static void resv_remove(struct quota_record *rec, uint32_t i)
{
	rec->n_resv--;
	if (i != rec->n_resv)
		rec->resv[i] = rec->resv[rec->n_resv];
	rec->dirty = true;
}

/* buckets_grow - make room for n buckets */
static void buckets_grow(struct quota_record *rec, uint32_t n)
{
	if (n <= rec->buckets_alloc)
		return;
	rec->buckets_alloc = n < 8 ? 8 : n + n / 2;
	rec->buckets = xreallocarray(rec->buckets, rec->buckets_alloc, sizeof(*rec->buckets));
}

/* resv_grow - make room for n reservations */
static void resv_grow(struct quota_record *rec, uint32_t n)
{
	if (n <= rec->resv_alloc)
		return;
	rec->resv_alloc = n < 4 ? 4 : n + n / 2;
	rec->resv = xreallocarray(rec->resv, rec->resv_alloc, sizeof(*rec->resv));
}

void quota_record_init(struct quota_record *rec)
{
	memset(rec, 0, sizeof(*rec));
}

void quota_record_reset(struct quota_record *rec)
{
	XFREE(rec->buckets);
	XFREE(rec->resv);
	quota_record_init(rec);
}

int quota_record_decode(struct quota_record *rec, const void *data, size_t len,
			const char **error_r)
{
	const unsigned char *p = data, *end = p + len;
	uint32_t nb, nr, i;

	rec->n_buckets = 0;
	rec->n_resv = 0;
	rec->dirty = false;
	if (len < QUOTA_RECORD_HEADER_SIZE) {
		*error_r = "quota record truncated";
		return -1;
	}
	if (p[0] != QUOTA_RECORD_MAGIC || p[1] != QUOTA_RECORD_VERSION) {
		*error_r = "quota record has an unknown format";
		return -1;
	}
	nb = be_get_u16(p + 2);
	nr = be_get_u16(p + 4);
	p += QUOTA_RECORD_HEADER_SIZE;
	if (nb > QUOTA_RECORD_BUCKETS_MAX || nr > QUOTA_RECORD_RESV_MAX) {
		*error_r = "quota record has too many entries";
		return -1;
	}
	if ((size_t)(end - p) < (size_t)nb * QUOTA_RECORD_BUCKET_SIZE +
	    (size_t)nr * QUOTA_RECORD_RESV_SIZE_MIN) {
		*error_r = "quota record truncated";
		return -1;
	}
	buckets_grow(rec, nb);
	for (i = 0; i < nb; i++, p += QUOTA_RECORD_BUCKET_SIZE) {
		struct quota_bucket *b = &rec->buckets[i];

		b->start = be_get_i64(p);
		b->count = be_get_u32(p + 8);
		if (b->count == 0 || (i > 0 && b->start <= rec->buckets[i - 1].start)) {
			*error_r = "quota record has a bad bucket";
			return -1;
		}
	}
	rec->n_buckets = nb;
	resv_grow(rec, nr);
	for (i = 0; i < nr; i++) {
		struct quota_resv *r = &rec->resv[i];

		if (end - p < QUOTA_RECORD_RESV_SIZE_MIN) {
			*error_r = "quota record truncated";
			goto fail;
		}
		r->expiry = be_get_i64(p);
		r->count = be_get_u32(p + 8);
		r->id_len = p[12];
		p += 13;
		if (r->id_len == 0 || r->id_len > STORE_RESID_MAX) {
			*error_r = "quota record has a bad reservation id";
			goto fail;
		}
		if (end - p < r->id_len) {
			*error_r = "quota record truncated";
			goto fail;
		}
		memcpy(r->id, p, r->id_len);
		p += r->id_len;
	}
	if (p != end) {
		*error_r = "quota record has trailing bytes";
		goto fail;
	}
	rec->n_resv = nr;
	return 0;
fail:
	rec->n_buckets = 0;
	return -1;
}

size_t quota_record_encoded_size(const struct quota_record *rec)
{
	size_t size = QUOTA_RECORD_HEADER_SIZE + (size_t)rec->n_buckets * QUOTA_RECORD_BUCKET_SIZE;
	uint32_t i;

	for (i = 0; i < rec->n_resv; i++)
		size += 13 + rec->resv[i].id_len;
	return size;
}

size_t quota_record_encode(const struct quota_record *rec, void *buf, size_t bufsize)
{
	size_t size = quota_record_encoded_size(rec);
	unsigned char *p = buf;
	uint32_t i;

	if (bufsize < size || rec->n_buckets > QUOTA_RECORD_BUCKETS_MAX ||
	    rec->n_resv > QUOTA_RECORD_RESV_MAX)
		return 0;
	*p++ = QUOTA_RECORD_MAGIC;
	*p++ = QUOTA_RECORD_VERSION;
	p = be_put_u16(p, (uint16_t)rec->n_buckets);
	p = be_put_u16(p, (uint16_t)rec->n_resv);
	for (i = 0; i < rec->n_buckets; i++) {
		p = be_put_i64(p, rec->buckets[i].start);
		p = be_put_u32(p, rec->buckets[i].count);
	}
	for (i = 0; i < rec->n_resv; i++) {
		const struct quota_resv *r = &rec->resv[i];

		p = be_put_i64(p, r->expiry);
		p = be_put_u32(p, r->count);
		*p++ = r->id_len;
		memcpy(p, r->id, r->id_len);
		p += r->id_len;
	}
	return size;
}

bool quota_record_is_empty(const struct quota_record *rec)
{
	return rec->n_buckets == 0 && rec->n_resv == 0;
}

uint32_t quota_record_bucket_cap(const struct store_quota_params *params)
{
	uint32_t cap = params->resolution == 0 ? QUOTA_RECORD_BUCKETS_MAX
		: params->interval / params->resolution + 2;

	return cap > QUOTA_RECORD_BUCKETS_MAX ? QUOTA_RECORD_BUCKETS_MAX : cap;
}

bool quota_record_prune(struct quota_record *rec, const struct store_quota_params *params,
			int64_t now)
{
	bool pruned = false;
	uint32_t i, keep;

	for (i = 0; i < rec->n_resv;) {
		if (now >= rec->resv[i].expiry) {
			resv_remove(rec, i);
			pruned = true;
		} else {
			i++;
		}
	}
	if (params != NULL) {
		/* buckets are oldest first, so the dead ones form a prefix */
		for (keep = 0; keep < rec->n_buckets; keep++) {
			if (bucket_live(&rec->buckets[keep], params, now))
				break;
		}
		if (keep > 0) {
			memmove(rec->buckets, rec->buckets + keep,
				(rec->n_buckets - keep) * sizeof(*rec->buckets));
			rec->n_buckets -= keep;
			pruned = true;
		}
	}
	if (pruned)
		rec->dirty = true;
	return pruned;
}

/* sum_committed - committed usage of the live buckets at now */
static uint64_t sum_committed(const struct quota_record *rec,
			      const struct store_quota_params *params, int64_t now,
			      int64_t *last_send_r)
{
	uint64_t sum = 0;
	uint32_t i;

	*last_send_r = 0;
	for (i = 0; i < rec->n_buckets; i++) {
		if (params != NULL && !bucket_live(&rec->buckets[i], params, now))
			continue;
		sum += rec->buckets[i].count;
		*last_send_r = rec->buckets[i].start;
	}
	return sum;
}

/* sum_reserved - live reservations at now, all of them and resid's own */
static uint64_t sum_reserved(const struct quota_record *rec, const char *resid, int64_t now,
			     uint64_t *own_r)
{
	size_t len = resid != NULL ? strlen(resid) : 0;
	uint64_t sum = 0;
	uint32_t i;

	*own_r = 0;
	for (i = 0; i < rec->n_resv; i++) {
		const struct quota_resv *r = &rec->resv[i];

		if (now >= r->expiry)
			continue;
		sum += r->count;
		if (resid != NULL && r->id_len == len && memcmp(r->id, resid, len) == 0)
			*own_r = r->count;
	}
	return sum;
}

void quota_record_state(const struct quota_record *rec, const char *resid,
			const struct store_quota_params *params, int64_t now,
			struct store_quota_state *state)
{
	uint64_t own;

	state->committed = sat32(sum_committed(rec, params, now, &state->last_send));
	state->reserved = sat32(sum_reserved(rec, resid, now, &own));
	state->own = sat32(own);
}

int quota_record_reserve(struct quota_record *rec, const char *resid, uint32_t n,
			 const struct store_quota_params *params, int64_t now,
			 struct store_quota_state *state, const char **error_r)
{
	size_t len = strlen(resid);
	uint64_t committed, reserved, own, others;
	struct store_quota_state dummy;
	struct quota_resv *r;
	int64_t last_send;
	int i;

	if (state == NULL)
		state = &dummy;
	quota_record_prune(rec, params, now);
	committed = sum_committed(rec, params, now, &last_send);
	reserved = sum_reserved(rec, resid, now, &own);
	others = committed + reserved - own;
	if (others >= params->limit ||
	    others + own + n > (uint64_t)params->limit + params->margin) {
		quota_record_state(rec, resid, params, now, state);
		return STORE_REFUSED;
	}
	i = resv_find(rec, resid, len);
	if (i < 0) {
		if (len == 0 || len > STORE_RESID_MAX) {
			*error_r = "bad reservation id";
			return STORE_ERROR;
		}
		if (rec->n_resv >= QUOTA_RECORD_RESV_MAX) {
			quota_record_state(rec, resid, params, now, state);
			*error_r = "too many open reservations";
			return STORE_ERROR;
		}
		resv_grow(rec, rec->n_resv + 1);
		r = &rec->resv[rec->n_resv++];
		memset(r, 0, sizeof(*r));
		r->id_len = (uint8_t)len;
		memcpy(r->id, resid, len);
	} else {
		r = &rec->resv[i];
	}
	r->count = sat32((uint64_t)r->count + n);
	r->expiry = add_ttl(now, params->reservation_ttl);
	rec->dirty = true;
	quota_record_state(rec, resid, params, now, state);
	return STORE_OK;
}

int quota_record_hold(struct quota_record *rec, const char *resid,
		      const struct store_quota_params *params, int64_t now, const char **error_r)
{
	size_t len = strlen(resid);
	struct quota_resv *r;
	int i;

	quota_record_prune(rec, params, now);
	i = resv_find(rec, resid, len);
	if (i < 0) {
		if (len == 0 || len > STORE_RESID_MAX) {
			*error_r = "bad reservation id";
			return STORE_ERROR;
		}
		if (rec->n_resv >= QUOTA_RECORD_RESV_MAX) {
			*error_r = "too many open reservations";
			return STORE_ERROR;
		}
		resv_grow(rec, rec->n_resv + 1);
		r = &rec->resv[rec->n_resv++];
		memset(r, 0, sizeof(*r));
		r->id_len = (uint8_t)len;
		memcpy(r->id, resid, len);
	} else {
		r = &rec->resv[i];
	}
	r->expiry = add_ttl(now, params->reservation_ttl);
	rec->dirty = true;
	return STORE_OK;
}

void quota_record_set_own(struct quota_record *rec, const char *resid, uint32_t count,
			  int64_t now)
{
	int i = resv_find(rec, resid, strlen(resid));

	if (i >= 0 && now < rec->resv[i].expiry && rec->resv[i].count != count) {
		rec->resv[i].count = count;
		rec->dirty = true;
	}
}

/* bucket_add - add count to the bucket holding now, keeping the cap */
static void bucket_add(struct quota_record *rec, uint32_t count,
		       const struct store_quota_params *params, int64_t now)
{
	int64_t res = params->resolution > 0 ? params->resolution : 1;
	int64_t start = floor_div(now, res) * res;
	uint32_t cap = quota_record_bucket_cap(params), i;

	if (count == 0)
		return;
	/* usually the newest bucket: search from the end */
	for (i = rec->n_buckets; i > 0; i--) {
		if (rec->buckets[i - 1].start <= start)
			break;
	}
	if (i > 0 && rec->buckets[i - 1].start == start) {
		rec->buckets[i - 1].count = sat32((uint64_t)rec->buckets[i - 1].count + count);
	} else {
		buckets_grow(rec, rec->n_buckets + 1);
		memmove(rec->buckets + i + 1, rec->buckets + i,
			(rec->n_buckets - i) * sizeof(*rec->buckets));
		rec->buckets[i].start = start;
		rec->buckets[i].count = count;
		rec->n_buckets++;
	}
	/* over the cap (clock jumps, changed parameters): fold the oldest
	 * into the next one, which lives longer, so nothing is under-counted */
	while (rec->n_buckets > cap && rec->n_buckets > 1) {
		rec->buckets[1].count = sat32((uint64_t)rec->buckets[1].count +
					      rec->buckets[0].count);
		memmove(rec->buckets, rec->buckets + 1,
			(rec->n_buckets - 1) * sizeof(*rec->buckets));
		rec->n_buckets--;
	}
	rec->dirty = true;
}

void quota_record_commit(struct quota_record *rec, const char *resid,
			 const struct store_quota_params *params, int64_t now)
{
	int i;

	quota_record_prune(rec, params, now);
	i = resv_find(rec, resid, strlen(resid));
	if (i < 0)
		return;
	bucket_add(rec, rec->resv[i].count, params, now);
	resv_remove(rec, (uint32_t)i);
}

void quota_record_release(struct quota_record *rec, const char *resid, int64_t now)
{
	int i;

	quota_record_prune(rec, NULL, now);
	i = resv_find(rec, resid, strlen(resid));
	if (i >= 0)
		resv_remove(rec, (uint32_t)i);
}

uint32_t quota_record_total(const struct quota_record *rec)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < rec->n_buckets; i++)
		sum += rec->buckets[i].count;
	return sat32(sum);
}
