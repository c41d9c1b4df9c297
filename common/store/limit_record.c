/*
 * NAME
 *	limit_record - one counter of store.h's limits as a bounded, packed record
 * SUMMARY
 *	limit_record_decode(), limit_record_encode(), limit_record_reserve(),
 *	limit_record_commit(), limit_record_release(), limit_record_state(),
 *	limit_record_committed()
 * DESCRIPTION
 *	Like quota_record.c: the record is decoded into arrays, changed in
 *	memory and encoded again.  The work is linear in the record's size:
 *	bucket cap plus reservations (never the number of units sent).  A
 *	distinct limit's addresses live outside (limit_record.h): the caller
 *	passes what its set holds as a struct limit_set_view; only a
 *	version 1 record still carries them inline, until its first write
 *	moves them out.  Amounts saturate at
 *	STORE_LIMIT_MAX, so a record full of huge amounts cannot wrap around
 *	into "under the limit".
 *
 *	Time is the caller's: every function takes now.  A clock going
 *	backwards only makes usage last longer.
 * DIAGNOSTICS
 *	limit_record_decode() returns -1 with a static message for a corrupt
 *	record; reserve and commit return errors for full tables.  Nothing
 *	here logs or aborts.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "store/limit_record.h"
#include "base/xalloc.h"
#include "store/bigendian.h"

#define LIMIT_RECORD_MAGIC 'L'
#define LIMIT_RECORD_VERSION 2
#define LIMIT_RECORD_VERSION_INLINE 1	/* distinct addresses inside the record */

/* sat_add - a + b saturated at STORE_LIMIT_MAX */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	if (a >= STORE_LIMIT_MAX || b >= STORE_LIMIT_MAX - a)
		return STORE_LIMIT_MAX;
	return a + b;
}

/* floor_div - a / b rounded towards minus infinity (b > 0) */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* add_span - t + span, saturated */
static int64_t add_span(int64_t t, int64_t span)
{
	return t > INT64_MAX - span ? INT64_MAX : t + span;
}

/* bucket_end - when bucket b stops counting */
static int64_t bucket_end(const struct limit_record *rec, const struct limit_bucket *b)
{
	return add_span(b->start, (int64_t)rec->resolution + (int64_t)rec->interval);
}

/* hash_end - when a legacy distinct address stops counting (sliding) */
static int64_t hash_end(const struct limit_record *rec, const struct limit_hash *h)
{
	if (rec->window == STORE_WINDOW_CALENDAR)
		return INT64_MAX;
	return add_span(h->time, (int64_t)rec->interval);
}

/* resv_find - index of reservation resid, or -1 */
static int resv_find(const struct limit_record *rec, const char *resid)
{
	size_t len = strlen(resid);
	uint32_t i;

	for (i = 0; i < rec->n_resv; i++) {
		const struct limit_resv *r = &rec->resv[i];

		if (r->id_len == len && memcmp(r->id, resid, len) == 0)
			return (int)i;
	}
	return -1;
}

/* resv_remove - delete reservation i (the last one takes its place) */
static void resv_remove(struct limit_record *rec, uint32_t i)
{
	XFREE(rec->resv[i].hashes);
	rec->n_resv--;
	if (i != rec->n_resv)
		rec->resv[i] = rec->resv[rec->n_resv];
	rec->dirty = true;
}

/* grow - make room for n elements of size in *arr (allocated *alloc) */
static void *grow(void *arr, uint32_t *alloc, uint32_t n, size_t size)
{
	if (n <= *alloc)
		return arr;
	*alloc = n < 4 ? 4 : n + n / 2;
	return xreallocarray(arr, *alloc, size);
}

/* hash_find - index of hash in the sorted set, or where it would go (*found_r) */
static uint32_t hash_find(const struct limit_record *rec, uint64_t hash, bool *found_r)
{
	uint32_t lo = 0, hi = rec->n_hashes;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (rec->hashes[mid].hash < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found_r = lo < rec->n_hashes && rec->hashes[lo].hash == hash;
	return lo;
}

/* clear_usage - forget committed usage (buckets, period amount, hashes) */
static void clear_usage(struct limit_record *rec)
{
	if (rec->n_buckets > 0 || rec->n_hashes > 0 || rec->period_amount > 0)
		rec->dirty = true;
	rec->n_buckets = 0;
	rec->n_hashes = 0;
	rec->period_amount = 0;
}

void limit_record_init(struct limit_record *rec)
{
	memset(rec, 0, sizeof(*rec));
}

void limit_record_reset(struct limit_record *rec)
{
	uint32_t i;

	for (i = 0; i < rec->n_resv; i++)
		XFREE(rec->resv[i].hashes);
	XFREE(rec->buckets);
	XFREE(rec->hashes);
	XFREE(rec->resv);
	limit_record_init(rec);
}

int limit_record_decode(struct limit_record *rec, const void *data, size_t len,
			const char **error_r)
{
	const unsigned char *p = data, *end = p + len;
	uint32_t nb, nh, nr, i, j;

	limit_record_reset(rec);
	if (len < LIMIT_RECORD_HEADER_SIZE) {
		*error_r = "limit record truncated";
		return -1;
	}
	if (p[0] != LIMIT_RECORD_MAGIC ||
	    (p[1] != LIMIT_RECORD_VERSION && p[1] != LIMIT_RECORD_VERSION_INLINE) ||
	    p[2] > STORE_COUNT_BYTES || p[3] > STORE_WINDOW_CALENDAR) {
		*error_r = "limit record has an unknown format";
		return -1;
	}
	rec->count = p[2];
	rec->window = p[3];
	rec->interval = be_get_u32(p + 4);
	rec->resolution = be_get_u32(p + 8);
	rec->period_start = be_get_i64(p + 12);
	rec->period_end = be_get_i64(p + 20);
	rec->period_amount = be_get_u64(p + 28);
	nb = be_get_u16(p + 36);
	nh = be_get_u32(p + 38);
	nr = be_get_u16(p + 42);
	p += LIMIT_RECORD_HEADER_SIZE;	/* the last 4 bytes are reserved (0) */
	if (nb > LIMIT_RECORD_BUCKETS_MAX || nh > LIMIT_RECORD_HASHES_MAX ||
	    nr > LIMIT_RECORD_RESV_MAX) {
		*error_r = "limit record has too many entries";
		goto fail;
	}
	if ((size_t)(end - p) < (size_t)nb * 16 + (size_t)nh * 16) {
		*error_r = "limit record truncated";
		goto fail;
	}
	rec->buckets = grow(rec->buckets, &rec->buckets_alloc, nb, sizeof(*rec->buckets));
	for (i = 0; i < nb; i++, p += 16) {
		struct limit_bucket *b = &rec->buckets[i];

		b->start = be_get_i64(p);
		b->amount = be_get_u64(p + 8);
		if (b->amount == 0 || (i > 0 && b->start <= rec->buckets[i - 1].start)) {
			*error_r = "limit record has a bad bucket";
			goto fail;
		}
		rec->n_buckets = i + 1;
	}
	rec->hashes = grow(rec->hashes, &rec->hashes_alloc, nh, sizeof(*rec->hashes));
	for (i = 0; i < nh; i++, p += 16) {
		rec->hashes[i].hash = be_get_u64(p);
		rec->hashes[i].time = be_get_i64(p + 8);
		if (i > 0 && rec->hashes[i].hash <= rec->hashes[i - 1].hash) {
			*error_r = "limit record has a bad address set";
			goto fail;
		}
		rec->n_hashes = i + 1;
	}
	rec->resv = grow(rec->resv, &rec->resv_alloc, nr, sizeof(*rec->resv));
	for (i = 0; i < nr; i++) {
		struct limit_resv *r = &rec->resv[i];

		memset(r, 0, sizeof(*r));
		if (end - p < 17) {
			*error_r = "limit record truncated";
			goto fail;
		}
		r->expiry = be_get_i64(p);
		r->amount = be_get_u64(p + 8);
		r->id_len = p[16];
		p += 17;
		rec->n_resv = i + 1;
		if (r->id_len == 0 || r->id_len > STORE_RESID_MAX) {
			*error_r = "limit record has a bad reservation id";
			goto fail;
		}
		if (end - p < r->id_len + 2) {
			*error_r = "limit record truncated";
			goto fail;
		}
		memcpy(r->id, p, r->id_len);
		p += r->id_len;
		r->n_hashes = be_get_u16(p);
		p += 2;
		if (r->n_hashes > STORE_LIMITS_RCPT_MAX || end - p < (ptrdiff_t)r->n_hashes * 9) {
			r->n_hashes = 0;
			*error_r = "limit record has a bad reservation";
			goto fail;
		}
		r->hashes_alloc = r->n_hashes;
		r->hashes = r->n_hashes > 0 ? xreallocarray(NULL, r->n_hashes, sizeof(*r->hashes))
			: NULL;
		for (j = 0; j < r->n_hashes; j++, p += 9) {
			r->hashes[j].hash = be_get_u64(p);
			r->hashes[j].counted = p[8] != 0;
		}
	}
	if (p != end) {
		*error_r = "limit record has trailing bytes";
		goto fail;
	}
	rec->dirty = false;
	return 0;
fail:
	limit_record_reset(rec);
	return -1;
}

size_t limit_record_encoded_size(const struct limit_record *rec)
{
	size_t size = LIMIT_RECORD_HEADER_SIZE + (size_t)rec->n_buckets * 16 +
		(size_t)rec->n_hashes * 16;
	uint32_t i;

	for (i = 0; i < rec->n_resv; i++)
		size += 19 + rec->resv[i].id_len + (size_t)rec->resv[i].n_hashes * 9;
	return size;
}

size_t limit_record_encode(const struct limit_record *rec, void *buf, size_t bufsize)
{
	size_t size = limit_record_encoded_size(rec);
	unsigned char *p = buf;
	uint32_t i, j;

	if (bufsize < size || rec->n_buckets > LIMIT_RECORD_BUCKETS_MAX ||
	    rec->n_hashes > LIMIT_RECORD_HASHES_MAX || rec->n_resv > LIMIT_RECORD_RESV_MAX)
		return 0;
	*p++ = LIMIT_RECORD_MAGIC;
	*p++ = LIMIT_RECORD_VERSION;
	*p++ = rec->count;
	*p++ = rec->window;
	p = be_put_u32(p, rec->interval);
	p = be_put_u32(p, rec->resolution);
	p = be_put_u64(p, (uint64_t)rec->period_start);
	p = be_put_u64(p, (uint64_t)rec->period_end);
	p = be_put_u64(p, rec->period_amount);
	p = be_put_u16(p, (uint16_t)rec->n_buckets);
	p = be_put_u32(p, rec->n_hashes);
	p = be_put_u16(p, (uint16_t)rec->n_resv);
	p = be_put_u32(p, 0);
	for (i = 0; i < rec->n_buckets; i++) {
		p = be_put_u64(p, (uint64_t)rec->buckets[i].start);
		p = be_put_u64(p, rec->buckets[i].amount);
	}
	for (i = 0; i < rec->n_hashes; i++) {
		p = be_put_u64(p, rec->hashes[i].hash);
		p = be_put_u64(p, (uint64_t)rec->hashes[i].time);
	}
	for (i = 0; i < rec->n_resv; i++) {
		const struct limit_resv *r = &rec->resv[i];

		p = be_put_u64(p, (uint64_t)r->expiry);
		p = be_put_u64(p, r->amount);
		*p++ = r->id_len;
		memcpy(p, r->id, r->id_len);
		p += r->id_len;
		p = be_put_u16(p, r->n_hashes);
		for (j = 0; j < r->n_hashes; j++) {
			p = be_put_u64(p, r->hashes[j].hash);
			*p++ = r->hashes[j].counted ? 1 : 0;
		}
	}
	return size;
}

bool limit_record_is_empty(const struct limit_record *rec)
{
	return rec->n_buckets == 0 && rec->n_hashes == 0 && rec->n_resv == 0 &&
		rec->period_amount == 0;
}

/* bucket_cap - most buckets kept */
static uint32_t bucket_cap(const struct limit_record *rec)
{
	uint32_t cap = rec->interval / (rec->resolution > 0 ? rec->resolution : 1) + 2;

	return cap > LIMIT_RECORD_BUCKETS_MAX ? LIMIT_RECORD_BUCKETS_MAX : cap;
}

/*
 * adopt - make rec hold limit's definition: another count or window starts
 * from 0, another calendar period drops the old period's usage; true when
 * the usage was dropped
 */
static bool adopt(struct limit_record *rec, const struct store_limit *limit)
{
	bool dropped = false;

	if (rec->count != (uint8_t)limit->count || rec->window != (uint8_t)limit->window) {
		clear_usage(rec);
		rec->count = (uint8_t)limit->count;
		rec->window = (uint8_t)limit->window;
		rec->dirty = true;
		dropped = true;
	}
	if (limit->window == STORE_WINDOW_CALENDAR) {
		if (rec->period_start != limit->period_start) {
			clear_usage(rec);
			rec->period_start = limit->period_start;
			rec->dirty = true;
			dropped = true;
		}
		if (rec->period_end != limit->period_end) {
			rec->period_end = limit->period_end;
			rec->dirty = true;
		}
	} else if (rec->interval != limit->interval || rec->resolution != limit->resolution) {
		rec->interval = limit->interval;
		rec->resolution = limit->resolution;
		rec->dirty = true;
	}
	return dropped;
}

/* prune - drop expired reservations and usage out of the window at now */
static void prune(struct limit_record *rec, int64_t now)
{
	uint32_t i, keep;

	for (i = 0; i < rec->n_resv;) {
		if (now >= rec->resv[i].expiry)
			resv_remove(rec, i);
		else
			i++;
	}
	/* buckets are oldest first: the dead ones form a prefix */
	for (keep = 0; keep < rec->n_buckets; keep++)
		if (now < bucket_end(rec, &rec->buckets[keep]))
			break;
	if (keep > 0) {
		memmove(rec->buckets, rec->buckets + keep,
			(rec->n_buckets - keep) * sizeof(*rec->buckets));
		rec->n_buckets -= keep;
		rec->dirty = true;
	}
	if (rec->window == STORE_WINDOW_SLIDING) {
		for (i = 0, keep = 0; i < rec->n_hashes; i++)
			if (now < hash_end(rec, &rec->hashes[i]))
				rec->hashes[keep++] = rec->hashes[i];
		if (keep != rec->n_hashes) {
			rec->n_hashes = keep;
			rec->dirty = true;
		}
	}
}

bool limit_record_prepare(struct limit_record *rec, const struct store_limit *limit,
			  int64_t now)
{
	bool dropped = adopt(rec, limit);

	prune(rec, now);
	return dropped;
}

const struct limit_resv *limit_record_resv(const struct limit_record *rec, const char *resid)
{
	int i = resv_find(rec, resid);

	return i >= 0 ? &rec->resv[i] : NULL;
}

/* same_definition - does rec count what limit counts, in the same period? */
static bool same_definition(const struct limit_record *rec, const struct store_limit *limit)
{
	if (rec->count != (uint8_t)limit->count || rec->window != (uint8_t)limit->window)
		return false;
	if (limit->window == STORE_WINDOW_CALENDAR)
		return rec->period_start == limit->period_start;
	return true;
}

/*
 * usage_at - committed usage and next_free at now, with rec's own window
 * (interval, resolution, period_end as stored); view: the distinct set
 */
static uint64_t usage_at(const struct limit_record *rec, const struct limit_set_view *view,
			 int64_t now, int64_t *next_free_r)
{
	uint64_t sum = 0;
	int64_t next = 0;
	uint32_t i;

	if (rec->count == STORE_COUNT_DISTINCT) {
		if (view != NULL && view->live > 0) {
			sum = view->live;
			if (rec->window == STORE_WINDOW_SLIDING)
				next = add_span(view->oldest, (int64_t)rec->interval);
		}
	} else if (rec->window == STORE_WINDOW_CALENDAR) {
		sum = rec->period_amount;
	} else {
		/* oldest first: the dead buckets are a prefix; the live ones sum
		 * without overflow (at most 4096 amounts of at most 2^50) */
		for (i = 0; i < rec->n_buckets; i++)
			if (now < bucket_end(rec, &rec->buckets[i]))
				break;
		if (i < rec->n_buckets)
			next = bucket_end(rec, &rec->buckets[i]);
		for (; i < rec->n_buckets; i++)
			sum += rec->buckets[i].amount;
		sum = sat_add(sum, 0);
	}
	if (rec->window == STORE_WINDOW_CALENDAR) {
		if (now >= rec->period_end)
			sum = 0;
		next = sum > 0 ? rec->period_end : 0;
	}
	*next_free_r = sum > 0 ? next : 0;
	return sum;
}

uint64_t limit_record_committed(const struct limit_record *rec,
				const struct limit_set_view *view, int64_t now)
{
	int64_t next;

	return usage_at(rec, view, now, &next);
}

bool limit_record_hash_counts(const struct limit_record *rec, const struct limit_hash *h,
			      int64_t now)
{
	return now < hash_end(rec, h);
}

void limit_record_legacy_view(const struct limit_record *rec, uint64_t hash, int64_t now,
			      struct limit_set_view *view)
{
	uint32_t i;
	bool found;

	memset(view, 0, sizeof(*view));
	for (i = 0; i < rec->n_hashes; i++) {
		if (!limit_record_hash_counts(rec, &rec->hashes[i], now))
			continue;
		if (view->live == 0 || rec->hashes[i].time < view->oldest)
			view->oldest = rec->hashes[i].time;
		view->live++;
	}
	i = hash_find(rec, hash, &found);
	view->has_hash = found && limit_record_hash_counts(rec, &rec->hashes[i], now);
}

void limit_record_forget_legacy(struct limit_record *rec)
{
	if (rec->n_hashes > 0)
		rec->dirty = true;
	rec->n_hashes = 0;
}

void limit_record_state(const struct limit_record *rec, const struct store_limit *limit,
			const char *resid, const struct limit_set_view *view, int64_t now,
			struct store_limit_state *state)
{
	size_t len = resid != NULL ? strlen(resid) : 0;
	uint32_t i;

	memset(state, 0, sizeof(*state));
	if (same_definition(rec, limit))
		state->committed = usage_at(rec, view, now, &state->next_free);
	if (limit->window == STORE_WINDOW_CALENDAR && state->committed > 0)
		state->next_free = limit->period_end;
	for (i = 0; i < rec->n_resv; i++) {
		const struct limit_resv *r = &rec->resv[i];

		if (now >= r->expiry)
			continue;
		state->reserved = sat_add(state->reserved, r->amount);
		if (resid != NULL && r->id_len == len && memcmp(r->id, resid, len) == 0)
			state->own = r->amount;
	}
}

/* resv_has_hash - is hash asked under reservation r? */
static bool resv_has_hash(const struct limit_resv *r, uint64_t hash)
{
	uint16_t i;

	for (i = 0; i < r->n_hashes; i++)
		if (r->hashes[i].hash == hash)
			return true;
	return false;
}

int limit_record_reserve(struct limit_record *rec, const struct store_limit *limit,
			 const char *resid, const struct store_limit_ask *ask,
			 const struct limit_set_view *view, int64_t now,
			 struct store_limit_state *state, const char **error_r)
{
	static const struct limit_set_view empty;
	struct store_limit_state st;
	struct limit_resv *r = NULL;
	bool distinct = limit->count == STORE_COUNT_DISTINCT, add_hash = false;
	uint64_t cost = ask->amount, others;
	int i;

	if (view == NULL)
		view = &empty;
	(void)limit_record_prepare(rec, limit, now);
	i = resv_find(rec, resid);
	if (i >= 0)
		r = &rec->resv[i];
	if (distinct) {
		cost = 0;
		if (ask->amount > 0 && (r == NULL || !resv_has_hash(r, ask->rcpt_hash))) {
			add_hash = true;
			cost = view->has_hash ? 0 : 1;
		}
	}
	limit_record_state(rec, limit, resid, view, now, &st);
	others = st.committed + st.reserved - st.own;
	if (cost > 0 && (others >= limit->max ||
			 others + st.own + cost > limit->max + limit->margin)) {
		if (state != NULL)
			*state = st;
		return STORE_REFUSED;
	}
	if (add_hash && cost > 0 && view->live + rec->n_resv >= LIMIT_RECORD_HASHES_MAX) {
		*error_r = "too many distinct addresses kept";
		return STORE_ERROR;
	}
	if (r == NULL) {
		if (rec->n_resv >= LIMIT_RECORD_RESV_MAX) {
			*error_r = "too many open reservations";
			return STORE_ERROR;
		}
		rec->resv = grow(rec->resv, &rec->resv_alloc, rec->n_resv + 1, sizeof(*rec->resv));
		r = &rec->resv[rec->n_resv++];
		memset(r, 0, sizeof(*r));
		r->id_len = (uint8_t)strlen(resid);
		memcpy(r->id, resid, r->id_len);
	}
	if (add_hash) {
		uint32_t alloc = r->hashes_alloc;

		if (r->n_hashes >= STORE_LIMITS_RCPT_MAX) {
			*error_r = "too many recipients in one reservation";
			return STORE_ERROR;
		}
		r->hashes = grow(r->hashes, &alloc, r->n_hashes + 1u, sizeof(*r->hashes));
		r->hashes_alloc = (uint16_t)(alloc > UINT16_MAX ? UINT16_MAX : alloc);
		r->hashes[r->n_hashes].hash = ask->rcpt_hash;
		r->hashes[r->n_hashes].counted = cost > 0;
		r->n_hashes++;
	}
	r->amount = sat_add(r->amount, cost);
	r->expiry = add_span(now, limit->reservation_ttl);
	rec->dirty = true;
	if (state != NULL)
		limit_record_state(rec, limit, resid, view, now, state);
	return STORE_OK;
}

/* bucket_add - add amount to the bucket holding now, keeping the cap */
static void bucket_add(struct limit_record *rec, uint64_t amount, int64_t now)
{
	int64_t res = rec->resolution > 0 ? rec->resolution : 1;
	int64_t start = floor_div(now, res) * res;
	uint32_t cap = bucket_cap(rec), i;

	if (amount == 0)
		return;
	for (i = rec->n_buckets; i > 0; i--)
		if (rec->buckets[i - 1].start <= start)
			break;
	if (i > 0 && rec->buckets[i - 1].start == start) {
		rec->buckets[i - 1].amount = sat_add(rec->buckets[i - 1].amount, amount);
	} else {
		rec->buckets = grow(rec->buckets, &rec->buckets_alloc, rec->n_buckets + 1,
				    sizeof(*rec->buckets));
		memmove(rec->buckets + i + 1, rec->buckets + i,
			(rec->n_buckets - i) * sizeof(*rec->buckets));
		rec->buckets[i].start = start;
		rec->buckets[i].amount = amount;
		rec->n_buckets++;
	}
	/* over the cap: fold the oldest into the next one, which lives longer */
	while (rec->n_buckets > cap && rec->n_buckets > 1) {
		rec->buckets[1].amount = sat_add(rec->buckets[1].amount, rec->buckets[0].amount);
		memmove(rec->buckets, rec->buckets + 1,
			(rec->n_buckets - 1) * sizeof(*rec->buckets));
		rec->n_buckets--;
	}
	rec->dirty = true;
}

int limit_record_commit(struct limit_record *rec, const struct store_limit *limit,
			const char *resid, uint64_t final, int64_t now, const char **error_r)
{
	struct limit_resv *r;
	uint64_t amount;
	int i;

	(void)error_r;
	(void)limit_record_prepare(rec, limit, now);
	i = resv_find(rec, resid);
	if (i < 0)
		return 0;
	r = &rec->resv[i];
	if (limit->count != STORE_COUNT_DISTINCT) {
		amount = final != UINT64_MAX ? final : r->amount;
		if (limit->window == STORE_WINDOW_CALENDAR)
			rec->period_amount = sat_add(rec->period_amount, amount);
		else
			bucket_add(rec, amount, now);
	}
	resv_remove(rec, (uint32_t)i);
	rec->dirty = true;
	return 0;
}

void limit_record_release(struct limit_record *rec, const char *resid, int64_t now)
{
	uint32_t i;
	int k;

	for (i = 0; i < rec->n_resv;) {
		if (now >= rec->resv[i].expiry)
			resv_remove(rec, i);
		else
			i++;
	}
	k = resv_find(rec, resid);
	if (k >= 0)
		resv_remove(rec, (uint32_t)k);
}
