/*
 * NAME
 *	store_lmdb_cache - the TTL cache operations of the LMDB engine
 * SUMMARY
 *	store_lmdb_cache_get/set/del and store_lmdb_mail_lookup, for lmdb_ops
 * DESCRIPTION
 *	The "cache" database: key = the caller's key (see store_key), value =
 *	8-byte big-endian absolute expiry followed by the value bytes.  The
 *	cache is cleaned lazily: an expired entry read is deleted, and every
 *	LMDB_SWEEP_EVERY sets sweep the next LMDB_SWEEP_SPAN entries
 *	(store_lmdb_sweep_tick), so keys never read again do not fill the map.
 * DIAGNOSTICS
 *	STORE_ERROR with a message naming the step and LMDB's text.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/store_lmdb-private.h"

/* lmdb_cache_expire - delete key if it is still expired (or unreadable) at now */
static void lmdb_cache_expire(struct store_lmdb *s, MDB_val *key, int64_t now)
{
	MDB_txn *txn;
	MDB_val val;

	if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
		return;
	if (mdb_get(txn, s->cache_dbi, key, &val) == 0 &&
	    (val.mv_size < LMDB_EXPIRY_SIZE || now >= store_lmdb_get_expiry(val.mv_data)) &&
	    mdb_del(txn, s->cache_dbi, key, NULL) == 0) {
		mdb_txn_commit(txn);
		return;
	}
	mdb_txn_abort(txn);
}

/*
 * cache_read - key's live value in the read transaction txn: STORE_OK,
 * STORE_MISS (*expired_r true when an expired entry is to be deleted) or
 * STORE_ERROR
 */
static int cache_read(struct store_lmdb *s, MDB_txn *txn, MDB_val *k, void *val,
		      size_t *val_len, int64_t now, bool *expired_r, const char **error_r)
{
	MDB_val v;
	size_t len;
	int rc;

	*expired_r = false;
	rc = mdb_get(txn, s->cache_dbi, k, &v);
	if (rc == MDB_NOTFOUND)
		return STORE_MISS;
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "cache: read", rc);
		return STORE_ERROR;
	}
	if (v.mv_size < LMDB_EXPIRY_SIZE || now >= store_lmdb_get_expiry(v.mv_data)) {
		/* expired (or unreadable): gone for the caller, deleted lazily */
		*expired_r = true;
		return STORE_MISS;
	}
	len = v.mv_size - LMDB_EXPIRY_SIZE;
	if (len > *val_len) {
		*error_r = store_lmdb_errorf("cache: value of %zu bytes does not fit a buffer "
					     "of %zu", len, *val_len);
		return STORE_ERROR;
	}
	if (len > 0)
		memcpy(val, (const unsigned char *)v.mv_data + LMDB_EXPIRY_SIZE, len);
	*val_len = len;
	return STORE_OK;
}

/* store_lmdb_cache_get - store_cache_get for LMDB */
int store_lmdb_cache_get(struct store *store, const void *key, size_t key_len, void *val,
			 size_t *val_len, int64_t now, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { key_len, (void *)key };
	MDB_txn *txn;
	bool expired;
	int rc, st;

	if (store_lmdb_check_key_len(s, key_len, "cache key", error_r) < 0)
		return STORE_ERROR;
	rc = store_lmdb_read_begin(s, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "cache: begin read transaction", rc);
		return STORE_ERROR;
	}
	st = cache_read(s, txn, &k, val, val_len, now, &expired, error_r);
	store_lmdb_read_end(s, txn);
	if (expired)
		lmdb_cache_expire(s, &k, now);
	return st;
}

/* store_lmdb_mail_lookup - store_mail_lookup for LMDB: one read transaction */
int store_lmdb_mail_lookup(struct store *store, const void *key, size_t key_len, void *val,
			   size_t *val_len, const char *user, size_t user_len, int64_t now,
			   int *lock_r, struct store_lock_info *info_r, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { key_len, (void *)key };
	MDB_txn *txn;
	bool expired = false;
	int rc, st;

	if (store_lmdb_check_key_len(s, key_len, "cache key", error_r) < 0)
		return STORE_ERROR;
	rc = store_lmdb_read_begin(s, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "cache: begin read transaction", rc);
		return STORE_ERROR;
	}
	st = cache_read(s, txn, &k, val, val_len, now, &expired, error_r);
	if (st != STORE_ERROR)
		*lock_r = store_lmdb_lock_read(s, txn, user, user_len, info_r, error_r);
	if (*lock_r == STORE_ERROR)
		st = STORE_ERROR;
	store_lmdb_read_end(s, txn);
	if (expired)
		lmdb_cache_expire(s, &k, now);
	return st;
}

/* store_lmdb_cache_set - store_cache_set for LMDB */
int store_lmdb_cache_set(struct store *store, const void *key, size_t key_len,
			 const void *val, size_t val_len, uint32_t ttl, int64_t now,
			 const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { key_len, (void *)key }, v;
	MDB_txn *txn;
	int rc;

	if (store_lmdb_check_key_len(s, key_len, "cache key", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "cache: begin transaction", rc);
		return STORE_ERROR;
	}
	v.mv_size = LMDB_EXPIRY_SIZE + val_len;
	v.mv_data = NULL;
	rc = mdb_put(txn, s->cache_dbi, &k, &v, MDB_RESERVE);
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r = store_lmdb_error(s, "cache: write", rc);
		return STORE_ERROR;
	}
	store_lmdb_put_expiry(v.mv_data, now + (int64_t)ttl);
	if (val_len > 0)
		memcpy((unsigned char *)v.mv_data + LMDB_EXPIRY_SIZE, val, val_len);
	rc = store_lmdb_sweep_tick(txn, s->cache_dbi, &s->cache_sweep, now);
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r = store_lmdb_error(s, "cache: sweep", rc);
		return STORE_ERROR;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "cache: commit", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* store_lmdb_cache_del - store_cache_del for LMDB */
int store_lmdb_cache_del(struct store *store, const void *key, size_t key_len,
			 const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { key_len, (void *)key };

	if (store_lmdb_check_key_len(s, key_len, "cache key", error_r) < 0)
		return STORE_ERROR;
	return store_lmdb_delete_key(s, s->cache_dbi, &k, "cache", error_r);
}

