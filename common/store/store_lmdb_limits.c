/*
 * NAME
 *	store_lmdb_limits - the limits operations of the LMDB engine
 * SUMMARY
 *	store_lmdb_limits_reserve/commit/release/usage/reset/top, for lmdb_ops
 * DESCRIPTION
 *	A limit (owner, id) with id != 0 lives in the "limits" database: key =
 *	id as 4 bytes big-endian then the owner's bytes (so one id's records
 *	are adjacent for store_limits_top), value = the packed limit_record
 *	of limit_record.h.  Id 0 is the single quota: its record is the
 *	"quota" database's quota_record under the owner's name, the very
 *	state store_quota_* keeps, so usage survives the upgrade.
 *
 *	A distinct-recipients limit's addresses are not in its record but in
 *	two databases under the same key, each a sorted set of 16-byte
 *	duplicates (MDB_DUPSORT | MDB_DUPFIXED): "distinct-hash" holds (hash,
 *	time) sorted by hash, "distinct-time" (time, hash) sorted by time;
 *	hash and time big-endian, time with its sign bit flipped so that the
 *	bytes sort like the numbers; time is the address's last commit.  A
 *	reserve looks up its one hash (MDB_GET_BOTH_RANGE), a commit its
 *	message's hashes (a repeat address moves to its new time), and the
 *	count is LMDB's own count of the key's duplicates (mdb_cursor_count,
 *	kept by LMDB in the duplicate tree: O(1), it cannot drift from the
 *	set).  Expiry (sliding windows): every write first drops the
 *	addresses whose time + interval has passed, oldest first from
 *	"distinct-time" (all at once when the newest has passed too), so each
 *	address is deleted once in its life; a read (usage, top, the states
 *	of a refused reserve) skips and does not count them.  So a reserve
 *	costs a few B-tree look-ups, O(log n), with 10 or 100,000 addresses in
 *	the window, and usage O(1) plus the addresses expired since the
 *	limit's last write.  Another count, window or period empties the set
 *	(mdb_del of the key: LMDB frees the duplicate tree's pages); the
 *	record is kept (not deleted as empty) while its set has an address.
 *	The set's operations are in store_lmdb_distinct.c.
 *
 *	Records written before the set moved out (limit_record.h format
 *	version 1) keep their addresses inline: reads count them there, and
 *	the record's first write moves the live ones into the two databases
 *	and writes the record as version 2.  Nothing is converted at open.
 *
 *	Every call is ONE write transaction over its n records: each record
 *	is read, decided and written in turn; a refusal or an error aborts
 *	the transaction, so either every limit changes or none does (LMDB's
 *	single writer serialises it against every thread and process).
 *	usage and top read in a read-only transaction.  A transaction opens
 *	one cursor per database at its first use there and closes them at
 *	its end; a record is read through its cursor and, unless new or
 *	larger than RECORD_BUF, written back at it (MDB_CURRENT).
 * DIAGNOSTICS
 *	STORE_ERROR with a message naming the step and LMDB's text; a
 *	corrupt record is an error until store_limits_reset drops it.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/limit_record.h"
#include "store/quota_record.h"
#include "store/store_lmdb-private.h"

enum lmdb_limits_op { LIM_RESERVE, LIM_COMMIT, LIM_RELEASE, LIM_USAGE, LIM_RESET };

struct lmdb_limits_args {
	enum lmdb_limits_op op;
	const char *resid;
	const struct store_limit *limits;
	const struct store_limit_ask *asks;
	const uint64_t *final;
	size_t n;
	int64_t now;
	size_t *refused_r;
	struct store_limit_state *states;
};

#define RECORD_BUF 4096		/* a record up to this size is rewritten in place */

/* store_lmdb_cursors_get - the transaction's cursor on database which; 0 or an LMDB code */
int store_lmdb_cursors_get(struct lmdb_cursors *cs, enum lmdb_cur which, MDB_cursor **cur_r)
{
	const struct store_lmdb *s = cs->s;
	MDB_dbi dbi = which == CUR_QUOTA ? s->quota_dbi : which == CUR_LIMITS ? s->limits_dbi :
		      which == CUR_HASH ? s->dhash_dbi : s->dtime_dbi;
	int rc = 0;

	if (cs->cur[which] == NULL)
		rc = mdb_cursor_open(cs->txn, dbi, &cs->cur[which]);
	*cur_r = cs->cur[which];
	return rc;
}

/* store_lmdb_cursors_close - close every cursor cs opened (before its transaction ends) */
void store_lmdb_cursors_close(struct lmdb_cursors *cs)
{
	int i;

	for (i = 0; i < CUR_N; i++)
		if (cs->cur[i] != NULL) {
			mdb_cursor_close(cs->cur[i]);
			cs->cur[i] = NULL;
		}
}

/* limit_key - the "limits" key of l into buf (4 + LMDB_KEY_MAX) */
static int limit_key(const struct store_lmdb *s, const struct store_limit *l,
		     unsigned char *buf, MDB_val *key, const char **error_r)
{
	if (l->id == 0) {
		if (store_lmdb_check_key_len(s, l->owner_len, "limit owner", error_r) < 0)
			return -1;
		key->mv_data = (void *)l->owner;
		key->mv_size = l->owner_len;
		return 0;
	}
	if (store_lmdb_check_key_len(s, l->owner_len + 4, "limit owner", error_r) < 0)
		return -1;
	buf[0] = (unsigned char)(l->id >> 24);
	buf[1] = (unsigned char)(l->id >> 16);
	buf[2] = (unsigned char)(l->id >> 8);
	buf[3] = (unsigned char)l->id;
	memcpy(buf + 4, l->owner, l->owner_len);
	key->mv_data = buf;
	key->mv_size = l->owner_len + 4;
	return 0;
}

/* quota_params - id 0's limit as store_quota_params */
static void quota_params(const struct store_limit *l, struct store_quota_params *p)
{
	p->limit = (uint32_t)l->max;
	p->margin = (uint32_t)l->margin;
	p->interval = l->interval;
	p->resolution = l->resolution;
	p->reservation_ttl = l->reservation_ttl;
}

/* quota_state - id 0's state at now as a store_limit_state */
static void quota_state(const struct quota_record *rec, const struct store_quota_params *p,
			const char *resid, int64_t now, struct store_limit_state *st)
{
	struct store_quota_state q;
	int64_t span = (int64_t)p->resolution + p->interval;
	uint32_t i;

	quota_record_state(rec, resid, p, now, &q);
	st->committed = q.committed;
	st->reserved = q.reserved;
	st->own = q.own;
	st->next_free = 0;
	for (i = 0; i < rec->n_buckets; i++)
		if (now < rec->buckets[i].start + span) {
			st->next_free = rec->buckets[i].start + span;
			break;
		}
}

/* quota_step - one operation on id 0's quota_record */
static int quota_step(struct quota_record *rec, const struct lmdb_limits_args *a, size_t i,
		      const char **error_r)
{
	const struct store_limit *l = &a->limits[i];
	struct store_quota_params p;
	int status = STORE_OK;

	quota_params(l, &p);
	switch (a->op) {
	case LIM_RESERVE:
		if (a->asks[i].amount == 0)
			status = quota_record_hold(rec, a->resid, &p, a->now, error_r);
		else
			status = quota_record_reserve(rec, a->resid, (uint32_t)a->asks[i].amount,
						      &p, a->now, NULL, error_r);
		break;
	case LIM_COMMIT:
		if (a->final != NULL && a->final[i] != UINT64_MAX)
			quota_record_set_own(rec, a->resid, (uint32_t)a->final[i], a->now);
		quota_record_commit(rec, a->resid, &p, a->now);
		break;
	case LIM_RELEASE:
		quota_record_release(rec, a->resid, a->now);
		break;
	case LIM_USAGE:
	case LIM_RESET:
		break;
	}
	if (a->states != NULL)
		quota_state(rec, &p, a->resid, a->now, &a->states[i]);
	return status;
}

/*
 * set_view - rec's distinct set at now as struct limit_set_view (empty for
 * another count; a version 1 record's inline set), has_hash for hash
 */
static int set_view(const struct lmdb_set *set, const struct limit_record *rec, uint64_t hash,
		    bool want_hash, int64_t now, struct limit_set_view *view,
		    const char **error_r)
{
	bool sliding = rec->window == STORE_WINDOW_SLIDING, found;
	size_t count;
	int64_t t;

	memset(view, 0, sizeof(*view));
	if (rec->n_hashes > 0) {
		limit_record_legacy_view(rec, hash, now, view);
		return 0;
	}
	if (rec->count != STORE_COUNT_DISTINCT)
		return 0;
	if (store_lmdb_set_scan(set, sliding, rec->interval, now, &count, view, error_r) < 0)
		return -1;
	if (want_hash && view->live > 0) {
		if (store_lmdb_set_find(set, hash, &found, &t, error_r) < 0)
			return -1;
		view->has_hash = found && (!sliding || store_lmdb_addr_counts(t, rec->interval, now));
	}
	return 0;
}

/*
 * set_prepare - before a write to limit l's record: prepare the record
 * (limit_record_prepare); a distinct set whose usage was dropped is
 * emptied, a version 1 record's inline addresses move into the set, and
 * the set's addresses that no longer count are dropped
 */
static int set_prepare(const struct lmdb_set *set, struct limit_record *rec,
		       const struct store_limit *l, int64_t now, const char **error_r)
{
	bool was_distinct = rec->count == STORE_COUNT_DISTINCT, added;
	uint32_t i;

	if (limit_record_prepare(rec, l, now) && was_distinct && store_lmdb_set_drop(set, error_r) < 0)
		return -1;
	if (rec->n_hashes > 0) {
		for (i = 0; i < rec->n_hashes; i++)
			if (limit_record_hash_counts(rec, &rec->hashes[i], now) &&
			    store_lmdb_set_put(set, rec->hashes[i].hash, rec->hashes[i].time, &added,
				    error_r) < 0)
				return -1;
		limit_record_forget_legacy(rec);
	}
	if (rec->count == STORE_COUNT_DISTINCT && rec->window == STORE_WINDOW_SLIDING)
		return store_lmdb_set_trim(set, rec->interval, now, error_r);
	return 0;
}

/*
 * set_commit - add resid's reserved hashes to the set at now (a repeat
 * address gets the new time); too many addresses is an error, nothing
 * added
 */
static int set_commit(const struct lmdb_set *set, const struct limit_record *rec,
		      const char *resid, int64_t now, const char **error_r)
{
	const struct limit_resv *r = limit_record_resv(rec, resid);
	struct limit_set_view view;
	size_t count;
	bool added;
	uint16_t j;

	if (r == NULL || r->n_hashes == 0)
		return 0;
	if (store_lmdb_set_scan(set, false, 0, now, &count, &view, error_r) < 0)
		return -1;
	if (count + r->n_hashes > LIMIT_RECORD_HASHES_MAX) {
		*error_r = "too many distinct addresses kept";
		return -1;
	}
	for (j = 0; j < r->n_hashes; j++)
		if (store_lmdb_set_put(set, r->hashes[j].hash, now, &added, error_r) < 0)
			return -1;
	return 0;
}

/* limit_step - one operation on a limit_record and, distinct, its set */
static int limit_step(struct limit_record *rec, const struct lmdb_limits_args *a, size_t i,
		      const struct lmdb_set *set, const char **error_r)
{
	const struct store_limit *l = &a->limits[i];
	struct limit_set_view view;
	int status = STORE_OK;

	if (a->op == LIM_RESERVE || a->op == LIM_COMMIT || a->op == LIM_RELEASE) {
		if (set_prepare(set, rec, l, a->now, error_r) < 0)
			return STORE_ERROR;
	}
	switch (a->op) {
	case LIM_RESERVE:
		if (set_view(set, rec, a->asks[i].rcpt_hash,
			     l->count == STORE_COUNT_DISTINCT && a->asks[i].amount > 0, a->now,
			     &view, error_r) < 0)
			return STORE_ERROR;
		/* the state comes with the decision */
		return limit_record_reserve(rec, l, a->resid, &a->asks[i], &view, a->now,
					    a->states != NULL ? &a->states[i] : NULL, error_r);
	case LIM_COMMIT:
		if (l->count == STORE_COUNT_DISTINCT &&
		    set_commit(set, rec, a->resid, a->now, error_r) < 0)
			return STORE_ERROR;
		if (limit_record_commit(rec, l, a->resid,
					a->final != NULL ? a->final[i] : UINT64_MAX, a->now,
					error_r) < 0)
			status = STORE_ERROR;
		break;
	case LIM_RELEASE:
		limit_record_release(rec, a->resid, a->now);
		break;
	case LIM_USAGE:
	case LIM_RESET:
		break;
	}
	if (a->states != NULL && status == STORE_OK) {
		if (set_view(set, rec, 0, false, a->now, &view, error_r) < 0)
			return STORE_ERROR;
		limit_record_state(rec, l, a->resid, &view, a->now, &a->states[i]);
	}
	return status;
}

/*
 * put_record - write the encoded record (or delete the key when empty);
 * cur is still on the record when found (nothing wrote to its database
 * since it was read): a record that fits RECORD_BUF is encoded there and
 * put at the cursor (MDB_CURRENT: no second search of the tree)
 */
static int put_record(MDB_txn *txn, MDB_dbi dbi, MDB_cursor *cur, bool found, MDB_val *key,
		      bool empty, size_t size, const void *rec, bool quota)
{
	unsigned char buf[RECORD_BUF];
	MDB_val val;
	int rc;

	if (empty) {
		rc = mdb_del(txn, dbi, key, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	if (found && size <= sizeof(buf)) {
		if (quota)
			quota_record_encode(rec, buf, size);
		else
			limit_record_encode(rec, buf, size);
		val.mv_size = size;
		val.mv_data = buf;
		return mdb_cursor_put(cur, key, &val, MDB_CURRENT);
	}
	val.mv_size = size;
	val.mv_data = NULL;
	rc = mdb_put(txn, dbi, key, &val, MDB_RESERVE);
	if (rc == 0) {
		if (quota)
			quota_record_encode(rec, val.mv_data, val.mv_size);
		else
			limit_record_encode(rec, val.mv_data, val.mv_size);
	}
	return rc;
}

/*
 * one_limit - read limit i's record in txn, apply the operation, write it
 * back when changed (not for usage)
 */
static int one_limit(struct store_lmdb *s, struct lmdb_cursors *cs,
		     const struct lmdb_limits_args *a, size_t i, const char **error_r)
{
	const struct store_limit *l = &a->limits[i];
	unsigned char buf[4 + LMDB_KEY_MAX];
	MDB_dbi dbi = l->id == 0 ? s->quota_dbi : s->limits_dbi;
	MDB_txn *txn = cs->txn;
	struct quota_record qrec;
	struct limit_record lrec;
	struct lmdb_set set;
	MDB_cursor *cur;
	MDB_val key, k, val;
	const char *why;
	size_t count;
	bool empty, found;
	int rc, status;

	if (limit_key(s, l, buf, &key, error_r) < 0)
		return STORE_ERROR;
	set.txn = txn;
	set.s = s;
	set.key = key;
	set.cs = cs;
	if (a->op == LIM_RESET) {
		rc = mdb_del(txn, dbi, &key, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			*error_r = store_lmdb_error(s, "limits: reset", rc);
			return STORE_ERROR;
		}
		if (l->id != 0 && store_lmdb_set_drop(&set, error_r) < 0)
			return STORE_ERROR;
		return STORE_OK;
	}
	rc = store_lmdb_cursors_get(cs, l->id == 0 ? CUR_QUOTA : CUR_LIMITS, &cur);
	if (rc == 0) {
		k = key;
		rc = mdb_cursor_get(cur, &k, &val, MDB_SET_KEY);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = store_lmdb_error(s, "limits: read", rc);
		return STORE_ERROR;
	}
	found = rc == 0;
	if (l->id == 0) {
		quota_record_init(&qrec);
		if (rc == 0 && quota_record_decode(&qrec, val.mv_data, val.mv_size, &why) < 0) {
			quota_record_reset(&qrec);
			*error_r = store_lmdb_errorf("%s (store_limits_reset clears it)", why);
			return STORE_ERROR;
		}
		status = quota_step(&qrec, a, i, error_r);
		if (status == STORE_OK && qrec.dirty && a->op != LIM_USAGE) {
			rc = put_record(txn, dbi, cur, found, &key, quota_record_is_empty(&qrec),
					quota_record_encoded_size(&qrec), &qrec, true);
			if (rc != 0) {
				*error_r = store_lmdb_error(s, "limits: write", rc);
				status = STORE_ERROR;
			}
		}
		quota_record_reset(&qrec);
		return status;
	}
	limit_record_init(&lrec);
	if (rc == 0 && limit_record_decode(&lrec, val.mv_data, val.mv_size, &why) < 0) {
		*error_r = store_lmdb_errorf("%s (store_limits_reset clears it)", why);
		return STORE_ERROR;
	}
	status = limit_step(&lrec, a, i, &set, error_r);
	if (status == STORE_OK && lrec.dirty && a->op != LIM_USAGE) {
		/* the record stays while its address set holds one */
		empty = limit_record_is_empty(&lrec);
		if (empty && lrec.count == STORE_COUNT_DISTINCT) {
			struct limit_set_view view;

			if (store_lmdb_set_scan(&set, false, 0, a->now, &count, &view, error_r) < 0)
				status = STORE_ERROR;
			empty = count == 0;
		}
	}
	if (status == STORE_OK && lrec.dirty && a->op != LIM_USAGE) {
		rc = put_record(txn, dbi, cur, found, &key, empty,
				limit_record_encoded_size(&lrec), &lrec, false);
		if (rc != 0) {
			*error_r = store_lmdb_error(s, "limits: write", rc);
			status = STORE_ERROR;
		}
	}
	limit_record_reset(&lrec);
	return status;
}

/* lmdb_limits_run - the operation on all n limits in one transaction */
static int lmdb_limits_run(struct store_lmdb *s, const struct lmdb_limits_args *a,
			   const char **error_r)
{
	bool ro = a->op == LIM_USAGE;
	int rc, status = STORE_OK;
	struct lmdb_cursors cs = { NULL, s, { NULL } };
	MDB_txn *txn;
	size_t i;

	rc = mdb_txn_begin(s->env, NULL, ro ? MDB_RDONLY : 0, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "limits: begin transaction", rc);
		return STORE_ERROR;
	}
	cs.txn = txn;
	for (i = 0; i < a->n; i++) {
		status = one_limit(s, &cs, a, i, error_r);
		if (status != STORE_OK)
			break;
	}
	store_lmdb_cursors_close(&cs);
	if (ro || status != STORE_OK) {
		mdb_txn_abort(txn);
		if (status == STORE_REFUSED && a->refused_r != NULL)
			*a->refused_r = i;
		return status;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "limits: commit", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* store_lmdb_limits_reserve - store_limits_reserve for LMDB */
int store_lmdb_limits_reserve(struct store *store, const char *resid,
			      const struct store_limit *limits,
			      const struct store_limit_ask *asks, size_t n, int64_t now,
			      size_t *refused_r, struct store_limit_state *states,
			      const char **error_r)
{
	struct lmdb_limits_args a = { LIM_RESERVE, resid, limits, asks, NULL, n, now,
				      refused_r, states };
	int status = lmdb_limits_run((struct store_lmdb *)store, &a, error_r);

	if (status == STORE_REFUSED && states != NULL) {
		/* nothing changed: report the states as they are */
		struct lmdb_limits_args u = { LIM_USAGE, resid, limits, NULL, NULL, n, now,
					      NULL, states };
		const char *err;

		(void)lmdb_limits_run((struct store_lmdb *)store, &u, &err);
	}
	return status;
}

/* store_lmdb_limits_commit - store_limits_commit for LMDB */
int store_lmdb_limits_commit(struct store *store, const char *resid,
			     const struct store_limit *limits, const uint64_t *final, size_t n,
			     int64_t now, const char **error_r)
{
	struct lmdb_limits_args a = { LIM_COMMIT, resid, limits, NULL, final, n, now, NULL,
				      NULL };

	return lmdb_limits_run((struct store_lmdb *)store, &a, error_r);
}

/* store_lmdb_limits_release - store_limits_release for LMDB */
int store_lmdb_limits_release(struct store *store, const char *resid,
			      const struct store_limit *limits, size_t n, int64_t now,
			      const char **error_r)
{
	struct lmdb_limits_args a = { LIM_RELEASE, resid, limits, NULL, NULL, n, now, NULL,
				      NULL };

	return lmdb_limits_run((struct store_lmdb *)store, &a, error_r);
}

/* store_lmdb_limits_usage - store_limits_usage for LMDB */
int store_lmdb_limits_usage(struct store *store, const struct store_limit *limits, size_t n,
			    int64_t now, struct store_limit_state *states, const char **error_r)
{
	struct lmdb_limits_args a = { LIM_USAGE, NULL, limits, NULL, NULL, n, now, NULL,
				      states };

	return lmdb_limits_run((struct store_lmdb *)store, &a, error_r);
}

/* store_lmdb_limits_reset - store_limits_reset for LMDB */
int store_lmdb_limits_reset(struct store *store, const struct store_limit *limits, size_t n,
			    const char **error_r)
{
	struct lmdb_limits_args a = { LIM_RESET, NULL, limits, NULL, NULL, n, 0, NULL, NULL };

	return lmdb_limits_run((struct store_lmdb *)store, &a, error_r);
}

/* top_scan - walk one id's records in a read transaction, emitting each */
static int top_scan(struct store_lmdb *s, MDB_txn *txn, uint32_t id,
		    void (*emit)(void *ctx, const char *owner, size_t owner_len,
				 uint64_t committed),
		    void *ctx, int64_t now, const char **error_r)
{
	unsigned char prefix[4] = { (unsigned char)(id >> 24), (unsigned char)(id >> 16),
				    (unsigned char)(id >> 8), (unsigned char)id };
	MDB_dbi dbi = id == 0 ? s->quota_dbi : s->limits_dbi;
	MDB_cursor *cur;
	MDB_val key = { 4, prefix }, val;
	MDB_cursor_op op = id == 0 ? MDB_FIRST : MDB_SET_RANGE;
	struct limit_set_view view;
	struct lmdb_cursors cs = { txn, s, { NULL } };
	struct lmdb_set set = { txn, s, { 0, NULL }, &cs };
	const char *why;
	int rc;

	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "limits: top cursor", rc);
		return -1;
	}
	while ((rc = mdb_cursor_get(cur, &key, &val, op)) == 0) {
		struct limit_record r;

		op = MDB_NEXT;
		if (id == 0) {
			struct quota_record q;

			quota_record_init(&q);
			if (quota_record_decode(&q, val.mv_data, val.mv_size, &why) == 0)
				emit(ctx, key.mv_data, key.mv_size, quota_record_total(&q));
			quota_record_reset(&q);
			continue;
		}
		if (key.mv_size < 4 || memcmp(key.mv_data, prefix, 4) != 0)
			break;
		limit_record_init(&r);
		set.key = key;
		if (limit_record_decode(&r, val.mv_data, val.mv_size, &why) == 0 &&
		    set_view(&set, &r, 0, false, now, &view, error_r) == 0)
			emit(ctx, (const char *)key.mv_data + 4, key.mv_size - 4,
			     limit_record_committed(&r, &view, now));
		limit_record_reset(&r);
	}
	mdb_cursor_close(cur);
	store_lmdb_cursors_close(&cs);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = store_lmdb_error(s, "limits: top scan", rc);
		return -1;
	}
	return 0;
}

/* store_lmdb_limits_top - store_limits_top for LMDB (every owner of id) */
int store_lmdb_limits_top(struct store *store, uint32_t id,
			  void (*emit)(void *ctx, const char *owner, size_t owner_len,
				       uint64_t committed),
			  void *ctx, int64_t now, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_txn *txn;
	int rc, status = STORE_OK;

	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "limits: begin read transaction", rc);
		return STORE_ERROR;
	}
	if (top_scan(s, txn, id, emit, ctx, now, error_r) < 0)
		status = STORE_ERROR;
	mdb_txn_abort(txn);
	return status;
}
