/*
 * NAME
 *	store_lmdb_quota - the quota operations of the LMDB engine
 * SUMMARY
 *	store_lmdb_quota_reserve/commit/release/usage/reset, for lmdb_ops
 * DESCRIPTION
 *	The "quota" database: key = the user name's bytes (binary-safe, at
 *	most the LMDB key size), value = the packed quota_record of
 *	quota_record.h.  Every change is one write transaction: read the
 *	record, prune, decide (quota_record.c), write it back (or delete it
 *	when empty), commit; LMDB's single writer makes it atomic against
 *	every thread and process.  usage reads in a read-only transaction.
 * DIAGNOSTICS
 *	STORE_ERROR with a message naming the step and LMDB's text.  A
 *	corrupt record is an error for that user until store_quota_reset
 *	removes it (reset drops it all the same: that is the cure).
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "store/quota_record.h"
#include "store/store_lmdb-private.h"

/* decode_record - decode a stored record, with a message naming the problem */
static int decode_record(struct quota_record *rec, const MDB_val *val, const char **error_r)
{
	const char *why;

	if (quota_record_decode(rec, val->mv_data, val->mv_size, &why) == 0)
		return 0;
	*error_r = store_lmdb_errorf("%s (store_quota_reset clears it)", why);
	return -1;
}

enum lmdb_quota_op { LMDB_RESERVE, LMDB_COMMIT, LMDB_RELEASE };

struct lmdb_quota_args {
	enum lmdb_quota_op op;
	const char *resid;
	uint32_t n;
	const struct store_quota_params *params;
	int64_t now;
	struct store_quota_state *state;
};

/*
 * lmdb_quota_update - one read-decide-write transaction on a user's
 * record: one cursor finds it, and the write replaces it where the cursor
 * stands (MDB_CURRENT) without a second search; the record is decoded
 * into s->wrec, whose arrays the next transaction reuses
 */
static int lmdb_quota_update(struct store_lmdb *s, const char *user, size_t user_len,
			     const struct lmdb_quota_args *a, const char **error_r)
{
	MDB_val key = { user_len, (void *)user }, val;
	struct quota_record *rec = &s->wrec;
	MDB_cursor *cur;
	MDB_txn *txn;
	bool found;
	int rc, status = STORE_OK;

	if (store_lmdb_check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	pthread_mutex_lock(&s->wlock);
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		pthread_mutex_unlock(&s->wlock);
		*error_r = store_lmdb_error(s, "quota: begin transaction", rc);
		return STORE_ERROR;
	}
	rec->n_buckets = 0;
	rec->n_resv = 0;
	rec->dirty = false;
	rc = mdb_cursor_open(txn, s->quota_dbi, &cur);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "quota: read", rc);
		status = STORE_ERROR;
		goto abort;
	}
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET);
	found = rc == 0;
	if (found) {
		if (decode_record(rec, &val, error_r) < 0) {
			status = STORE_ERROR;
			goto abort;
		}
	} else if (rc != MDB_NOTFOUND) {
		*error_r = store_lmdb_error(s, "quota: read", rc);
		status = STORE_ERROR;
		goto abort;
	}
	switch (a->op) {
	case LMDB_RESERVE:
		status = quota_record_reserve(rec, a->resid, a->n, a->params, a->now, a->state,
					      error_r);
		break;
	case LMDB_COMMIT:
		quota_record_commit(rec, a->resid, a->params, a->now);
		break;
	case LMDB_RELEASE:
		quota_record_release(rec, a->resid, a->now);
		break;
	}
	if (status == STORE_ERROR || !rec->dirty)
		goto abort;
	rc = 0;
	if (quota_record_is_empty(rec)) {
		if (found)
			rc = mdb_cursor_del(cur, 0);
	} else {
		val.mv_size = quota_record_encoded_size(rec);
		val.mv_data = NULL;
		rc = mdb_cursor_put(cur, &key, &val, MDB_RESERVE | (found ? MDB_CURRENT : 0));
		if (rc == 0)
			quota_record_encode(rec, val.mv_data, val.mv_size);
	}
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "quota: write", rc);
		status = STORE_ERROR;
		goto abort;
	}
	mdb_cursor_close(cur);
	rc = mdb_txn_commit(txn);
	pthread_mutex_unlock(&s->wlock);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "quota: commit", rc);
		return STORE_ERROR;
	}
	return status;
abort:
	mdb_txn_abort(txn);	/* closes the cursor */
	pthread_mutex_unlock(&s->wlock);
	return status;
}

/* store_lmdb_quota_reserve - store_quota_reserve for LMDB */
int store_lmdb_quota_reserve(struct store *store, const char *user, size_t user_len,
			     const char *resid, uint32_t n,
			     const struct store_quota_params *params, int64_t now,
			     struct store_quota_state *state, const char **error_r)
{
	struct lmdb_quota_args a = { LMDB_RESERVE, resid, n, params, now, state };

	return lmdb_quota_update((struct store_lmdb *)store, user, user_len, &a, error_r);
}

/* store_lmdb_quota_commit - store_quota_commit for LMDB */
int store_lmdb_quota_commit(struct store *store, const char *user, size_t user_len,
			    const char *resid, const struct store_quota_params *params,
			    int64_t now, const char **error_r)
{
	struct lmdb_quota_args a = { LMDB_COMMIT, resid, 0, params, now, NULL };

	return lmdb_quota_update((struct store_lmdb *)store, user, user_len, &a, error_r);
}

/* store_lmdb_quota_release - store_quota_release for LMDB */
int store_lmdb_quota_release(struct store *store, const char *user, size_t user_len,
			     const char *resid, int64_t now, const char **error_r)
{
	struct lmdb_quota_args a = { LMDB_RELEASE, resid, 0, NULL, now, NULL };

	return lmdb_quota_update((struct store_lmdb *)store, user, user_len, &a, error_r);
}

/* store_lmdb_quota_usage - store_quota_usage for LMDB (read-only transaction) */
int store_lmdb_quota_usage(struct store *store, const char *user, size_t user_len,
			   const struct store_quota_params *params, int64_t now,
			   struct store_quota_state *state, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val key = { user_len, (void *)user }, val;
	struct quota_record rec;
	int rc, status = STORE_OK;
	MDB_txn *txn;

	if (store_lmdb_check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "quota: begin read transaction", rc);
		return STORE_ERROR;
	}
	quota_record_init(&rec);
	rc = mdb_get(txn, s->quota_dbi, &key, &val);
	if (rc == 0) {
		if (decode_record(&rec, &val, error_r) < 0)
			status = STORE_ERROR;
	} else if (rc != MDB_NOTFOUND) {
		*error_r = store_lmdb_error(s, "quota: read", rc);
		status = STORE_ERROR;
	}
	mdb_txn_abort(txn);
	if (status == STORE_OK)
		quota_record_state(&rec, NULL, params, now, state);
	quota_record_reset(&rec);
	return status;
}

/* store_lmdb_quota_reset - store_quota_reset for LMDB */
int store_lmdb_quota_reset(struct store *store, const char *user, size_t user_len,
			   uint32_t *dropped_r, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val key = { user_len, (void *)user }, val;
	struct quota_record rec;
	const char *why;
	MDB_txn *txn;
	int rc;

	*dropped_r = 0;
	if (store_lmdb_check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "quota: begin transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_get(txn, s->quota_dbi, &key, &val);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return STORE_OK;
	}
	if (rc == 0) {
		/* a corrupt record is dropped all the same: that is the cure */
		quota_record_init(&rec);
		if (quota_record_decode(&rec, val.mv_data, val.mv_size, &why) == 0)
			*dropped_r = quota_record_total(&rec);
		quota_record_reset(&rec);
		rc = mdb_del(txn, s->quota_dbi, &key, NULL);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		*dropped_r = 0;
		*error_r = store_lmdb_error(s, "quota: reset", rc);
		return STORE_ERROR;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*dropped_r = 0;
		*error_r = store_lmdb_error(s, "quota: commit", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

