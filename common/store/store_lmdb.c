/*
 * NAME
 *	store_lmdb - the embedded store engine (LMDB)
 * SUMMARY
 *	store_lmdb_open() fills the ops table of store-private.h
 * DESCRIPTION
 *	One LMDB environment in the directory store.path (created 0750 when
 *	missing) with three named databases:
 *	  quota  key = the user name's bytes (binary-safe, at most the LMDB key
 *	         size, 511 bytes), value = the packed quota_record of
 *	         quota_record.h: at most interval/resolution + 2 buckets and
 *	         1024 live reservations, whatever the number of messages sent.
 *	  cache  key = the caller's key (see store_key), value = 8-byte
 *	         big-endian absolute expiry followed by the value bytes.
 *	  grey   greylisting: per tuple {first seen, last pass}, per client
 *	         up to 25 hourly pass counters, each value behind the same
 *	         8-byte expiry as the cache's (layout at "greylisting" below).
 *	         A database of its own rather than tagged keys in "cache": a
 *	         caller's cache key can never read, overwrite or delete
 *	         greylisting state, the cache's sweep never parses greylist
 *	         records, and a tuple key longer than LMDB's key size is
 *	         folded into prefix + digest without touching the cache's
 *	         key rules.
 *
 *	Every quota change is one write transaction: read the record, prune,
 *	decide, write it back (or delete it when empty), commit.  LMDB has a
 *	single writer at a time per environment, enforced by a robust
 *	process-shared mutex in the lock file, so a decision is atomic against
 *	every other thread of this process and every other process that opens
 *	the same directory.  Reads (usage, cache get) use read-only
 *	transactions and never wait for the writer.
 *
 *	Durability: the environment is opened with MDB_NOSYNC|MDB_NOMETASYNC,
 *	so a commit writes its pages but does not fsync.  The
 *	data is then in the kernel's page cache, which survives the death of
 *	the process: a milter crash or restart loses nothing.  A power loss
 *	or kernel crash may lose the last seconds of counts (the kernel flushes
 *	dirty pages on its own schedule, and store_close forces a sync).  The
 *	trade is deliberate: an fsync per message would cost milliseconds on
 *	the mail path, and quota counts are soft state that Redis keeps no
 *	better.  MDB_WRITEMAP: commits write into the shared map instead of
 *	calling pwrite(2) for every page (about ten system calls per message
 *	fewer; measured in bench/: milter CPU per message 158 -> 120 us).  The
 *	price is LMDB's protection against a stray pointer writing into the
 *	map; chapps runs under ASan/valgrind in its test suite for that.
 *	The data file is a sparse file of store.map_size_mb.
 *
 *	Threads: libmilter may run one connection's callbacks on different
 *	threads, so the environment uses MDB_NOTLS (reader slots belong to
 *	transactions, not threads).  Every transaction here begins and ends
 *	inside one function call on one thread, which is what LMDB requires
 *	for write transactions.  Stale reader slots left by dead processes are
 *	cleared at open (mdb_reader_check).  Do not fork after store_open and
 *	use the handle in the child: open the store after daemonising.
 *
 *	The cache is cleaned lazily: an expired entry read is deleted, and
 *	every LMDB_SWEEP_EVERY sets examine the next LMDB_SWEEP_SPAN entries
 *	(round-robin over the key space) and delete the expired ones, so keys
 *	that are never read again do not fill the map.  The grey database is
 *	swept the same way every LMDB_SWEEP_EVERY writing checks.
 *
 *	Greylisting: store_greylist_check is one write transaction: read the
 *	client's tally and the tuple, apply the rule of greylist.h, write the
 *	tuple (not on a DEFER_EARLY, which changes nothing) and, on a pass,
 *	the tally; so concurrent checks of one tuple see one first-seen
 *	time.  A tuple record's expiry is the first instant at which the rule
 *	would restart it anyway (max(first + retry_window, last_pass +
 *	lifetime) + 1), so treating an expired record as absent never
 *	changes a verdict; a tally's is when its newest counter stops
 *	counting.  A greylist record that does not decode is treated as
 *	absent and overwritten (soft state), never an error.
 * DIAGNOSTICS
 *	Failures return STORE_ERROR (-1 from store_lmdb_open) with a message
 *	that names the operation and LMDB's or the system's error text,
 *	valid until the next call from the same thread.  A full map says so
 *	and names store.map_size_mb.  A corrupt quota record is an error for
 *	that user until store_quota_reset removes it.
 */
#include "autoconf.h"

#include <errno.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/config.h"
#include "store/greylist_record.h"
#include "store/quota_record.h"
#include "store/store-private.h"
#include "base/xalloc.h"

#define LMDB_MAX_READERS 1024	/* concurrent read transactions, all processes */
#define LMDB_KEY_MAX 511	/* LMDB's compiled-in default (mdb_env_get_maxkeysize) */
#define LMDB_SWEEP_EVERY 32	/* writes to a database between two sweeps */
#define LMDB_SWEEP_SPAN 64	/* entries examined per sweep */
#define LMDB_EXPIRY_SIZE 8

/* Where the next lazy sweep of a database starts. */
struct lmdb_sweep {
	unsigned int tick;	/* writes since the last sweep */
	size_t key_len;		/* 0: from the first key */
	unsigned char key[LMDB_KEY_MAX];
};

struct store_lmdb {
	struct store store;
	MDB_env *env;
	MDB_dbi quota_dbi;
	MDB_dbi cache_dbi;
	MDB_dbi grey_dbi;
	size_t max_key;
	int map_size_mb;
	/* sweep positions: only touched inside write transactions, which
	 * LMDB serialises */
	struct lmdb_sweep cache_sweep;
	struct lmdb_sweep grey_sweep;
};

static __thread char lmdb_error_buf[512];

/* lmdb_error - format "what: LMDB's text for rc" into the thread's buffer */
static const char *lmdb_error(const struct store_lmdb *s, const char *what, int rc)
{
	if (rc == MDB_MAP_FULL)
		snprintf(lmdb_error_buf, sizeof(lmdb_error_buf),
			 "%s: LMDB map full (store.map_size_mb = %d): raise store.map_size_mb",
			 what, s != NULL ? s->map_size_mb : 0);
	else
		snprintf(lmdb_error_buf, sizeof(lmdb_error_buf), "%s: %s", what,
			 mdb_strerror(rc));
	return lmdb_error_buf;
}

/* get_expiry - the big-endian 64-bit expiry at p */
static int64_t get_expiry(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < LMDB_EXPIRY_SIZE; i++)
		v = (v << 8) | p[i];
	return v <= INT64_MAX ? (int64_t)v : -1;
}

/* put_expiry - store expiry big-endian at p */
static void put_expiry(unsigned char *p, int64_t expiry)
{
	uint64_t v = (uint64_t)expiry;
	int i;

	for (i = LMDB_EXPIRY_SIZE - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* check_key_len - does the key fit LMDB's key size? */
static int check_key_len(const struct store_lmdb *s, size_t len, const char *what,
			 const char **error_r)
{
	if (len > s->max_key) {
		snprintf(lmdb_error_buf, sizeof(lmdb_error_buf),
			 "%s too long for LMDB (%zu bytes, at most %zu)", what, len, s->max_key);
		*error_r = lmdb_error_buf;
		return -1;
	}
	return 0;
}

/* decode_record - decode a stored record, with a message naming the problem */
static int decode_record(struct quota_record *rec, const MDB_val *val, const char **error_r)
{
	const char *why;

	if (quota_record_decode(rec, val->mv_data, val->mv_size, &why) == 0)
		return 0;
	snprintf(lmdb_error_buf, sizeof(lmdb_error_buf),
		 "%s (store_quota_reset clears it)", why);
	*error_r = lmdb_error_buf;
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

/* lmdb_quota_update - one read-decide-write transaction on a user's record */
static int lmdb_quota_update(struct store_lmdb *s, const char *user, size_t user_len,
			     const struct lmdb_quota_args *a, const char **error_r)
{
	MDB_val key = { user_len, (void *)user }, val;
	struct quota_record rec;
	MDB_txn *txn;
	int rc, status = STORE_OK;

	if (check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "quota: begin transaction", rc);
		return STORE_ERROR;
	}
	quota_record_init(&rec);
	rc = mdb_get(txn, s->quota_dbi, &key, &val);
	if (rc == 0) {
		if (decode_record(&rec, &val, error_r) < 0) {
			status = STORE_ERROR;
			goto abort;
		}
	} else if (rc != MDB_NOTFOUND) {
		*error_r = lmdb_error(s, "quota: read", rc);
		status = STORE_ERROR;
		goto abort;
	}
	switch (a->op) {
	case LMDB_RESERVE:
		status = quota_record_reserve(&rec, a->resid, a->n, a->params, a->now, a->state,
					      error_r);
		break;
	case LMDB_COMMIT:
		quota_record_commit(&rec, a->resid, a->params, a->now);
		break;
	case LMDB_RELEASE:
		quota_record_release(&rec, a->resid, a->now);
		break;
	}
	if (status == STORE_ERROR || !rec.dirty)
		goto abort;
	if (quota_record_is_empty(&rec)) {
		rc = mdb_del(txn, s->quota_dbi, &key, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	} else {
		val.mv_size = quota_record_encoded_size(&rec);
		val.mv_data = NULL;
		rc = mdb_put(txn, s->quota_dbi, &key, &val, MDB_RESERVE);
		if (rc == 0)
			quota_record_encode(&rec, val.mv_data, val.mv_size);
	}
	if (rc != 0) {
		*error_r = lmdb_error(s, "quota: write", rc);
		status = STORE_ERROR;
		goto abort;
	}
	rc = mdb_txn_commit(txn);
	quota_record_reset(&rec);
	if (rc != 0) {
		*error_r = lmdb_error(s, "quota: commit", rc);
		return STORE_ERROR;
	}
	return status;
abort:
	mdb_txn_abort(txn);
	quota_record_reset(&rec);
	return status;
}

/* lmdb_quota_reserve - store_quota_reserve for LMDB */
static int lmdb_quota_reserve(struct store *store, const char *user, size_t user_len,
			      const char *resid, uint32_t n,
			      const struct store_quota_params *params, int64_t now,
			      struct store_quota_state *state, const char **error_r)
{
	struct lmdb_quota_args a = { LMDB_RESERVE, resid, n, params, now, state };

	return lmdb_quota_update((struct store_lmdb *)store, user, user_len, &a, error_r);
}

/* lmdb_quota_commit - store_quota_commit for LMDB */
static int lmdb_quota_commit(struct store *store, const char *user, size_t user_len,
			     const char *resid, const struct store_quota_params *params,
			     int64_t now, const char **error_r)
{
	struct lmdb_quota_args a = { LMDB_COMMIT, resid, 0, params, now, NULL };

	return lmdb_quota_update((struct store_lmdb *)store, user, user_len, &a, error_r);
}

/* lmdb_quota_release - store_quota_release for LMDB */
static int lmdb_quota_release(struct store *store, const char *user, size_t user_len,
			      const char *resid, int64_t now, const char **error_r)
{
	struct lmdb_quota_args a = { LMDB_RELEASE, resid, 0, NULL, now, NULL };

	return lmdb_quota_update((struct store_lmdb *)store, user, user_len, &a, error_r);
}

/* lmdb_quota_usage - store_quota_usage for LMDB (read-only transaction) */
static int lmdb_quota_usage(struct store *store, const char *user, size_t user_len,
			    const struct store_quota_params *params, int64_t now,
			    struct store_quota_state *state, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val key = { user_len, (void *)user }, val;
	struct quota_record rec;
	int rc, status = STORE_OK;
	MDB_txn *txn;

	if (check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "quota: begin read transaction", rc);
		return STORE_ERROR;
	}
	quota_record_init(&rec);
	rc = mdb_get(txn, s->quota_dbi, &key, &val);
	if (rc == 0) {
		if (decode_record(&rec, &val, error_r) < 0)
			status = STORE_ERROR;
	} else if (rc != MDB_NOTFOUND) {
		*error_r = lmdb_error(s, "quota: read", rc);
		status = STORE_ERROR;
	}
	mdb_txn_abort(txn);
	if (status == STORE_OK)
		quota_record_state(&rec, NULL, params, now, state);
	quota_record_reset(&rec);
	return status;
}

/* lmdb_quota_reset - store_quota_reset for LMDB */
static int lmdb_quota_reset(struct store *store, const char *user, size_t user_len,
			    uint32_t *dropped_r, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val key = { user_len, (void *)user }, val;
	struct quota_record rec;
	const char *why;
	MDB_txn *txn;
	int rc;

	*dropped_r = 0;
	if (check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "quota: begin transaction", rc);
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
		*error_r = lmdb_error(s, "quota: reset", rc);
		return STORE_ERROR;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*dropped_r = 0;
		*error_r = lmdb_error(s, "quota: commit", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* lmdb_cache_expire - delete key if it is still expired (or unreadable) at now */
static void lmdb_cache_expire(struct store_lmdb *s, MDB_val *key, int64_t now)
{
	MDB_txn *txn;
	MDB_val val;

	if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
		return;
	if (mdb_get(txn, s->cache_dbi, key, &val) == 0 &&
	    (val.mv_size < LMDB_EXPIRY_SIZE || now >= get_expiry(val.mv_data)) &&
	    mdb_del(txn, s->cache_dbi, key, NULL) == 0) {
		mdb_txn_commit(txn);
		return;
	}
	mdb_txn_abort(txn);
}

/* lmdb_cache_get - store_cache_get for LMDB */
static int lmdb_cache_get(struct store *store, const void *key, size_t key_len, void *val,
			  size_t *val_len, int64_t now, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { key_len, (void *)key }, v;
	size_t len;
	MDB_txn *txn;
	int rc;

	if (check_key_len(s, key_len, "cache key", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "cache: begin read transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_get(txn, s->cache_dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return STORE_MISS;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r = lmdb_error(s, "cache: read", rc);
		return STORE_ERROR;
	}
	if (v.mv_size < LMDB_EXPIRY_SIZE || now >= get_expiry(v.mv_data)) {
		/* expired (or unreadable): gone for the caller, deleted lazily */
		mdb_txn_abort(txn);
		lmdb_cache_expire(s, &k, now);
		return STORE_MISS;
	}
	len = v.mv_size - LMDB_EXPIRY_SIZE;
	if (len > *val_len) {
		mdb_txn_abort(txn);
		snprintf(lmdb_error_buf, sizeof(lmdb_error_buf),
			 "cache: value of %zu bytes does not fit a buffer of %zu", len, *val_len);
		*error_r = lmdb_error_buf;
		return STORE_ERROR;
	}
	if (len > 0)
		memcpy(val, (const unsigned char *)v.mv_data + LMDB_EXPIRY_SIZE, len);
	*val_len = len;
	mdb_txn_abort(txn);
	return STORE_OK;
}

/*
 * lmdb_sweep - in dbi, whose values start with an 8-byte expiry, delete
 * the expired entries among the next LMDB_SWEEP_SPAN from sw's position
 */
static int lmdb_sweep(MDB_txn *txn, MDB_dbi dbi, struct lmdb_sweep *sw, int64_t now)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, seen;

	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return rc;
	k.mv_size = sw->key_len;
	k.mv_data = sw->key;
	rc = sw->key_len > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
		: mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (seen = 0; rc == 0 && seen < LMDB_SWEEP_SPAN; seen++) {
		if (v.mv_size < LMDB_EXPIRY_SIZE || now >= get_expiry(v.mv_data)) {
			/* after a delete, MDB_NEXT yields the entry that followed */
			rc = mdb_cursor_del(cur, 0);
			if (rc != 0)
				break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == 0 && k.mv_size <= sizeof(sw->key)) {
		memcpy(sw->key, k.mv_data, k.mv_size);
		sw->key_len = k.mv_size;
	} else {
		sw->key_len = 0;	/* end of the key space: start over */
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* lmdb_sweep_tick - count one write to dbi and sweep every LMDB_SWEEP_EVERY */
static int lmdb_sweep_tick(MDB_txn *txn, MDB_dbi dbi, struct lmdb_sweep *sw, int64_t now)
{
	if (++sw->tick < LMDB_SWEEP_EVERY)
		return 0;
	sw->tick = 0;
	return lmdb_sweep(txn, dbi, sw, now);
}

/* lmdb_cache_set - store_cache_set for LMDB */
static int lmdb_cache_set(struct store *store, const void *key, size_t key_len,
			  const void *val, size_t val_len, uint32_t ttl, int64_t now,
			  const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { key_len, (void *)key }, v;
	MDB_txn *txn;
	int rc;

	if (check_key_len(s, key_len, "cache key", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "cache: begin transaction", rc);
		return STORE_ERROR;
	}
	v.mv_size = LMDB_EXPIRY_SIZE + val_len;
	v.mv_data = NULL;
	rc = mdb_put(txn, s->cache_dbi, &k, &v, MDB_RESERVE);
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r = lmdb_error(s, "cache: write", rc);
		return STORE_ERROR;
	}
	put_expiry(v.mv_data, now + (int64_t)ttl);
	if (val_len > 0)
		memcpy((unsigned char *)v.mv_data + LMDB_EXPIRY_SIZE, val, val_len);
	rc = lmdb_sweep_tick(txn, s->cache_dbi, &s->cache_sweep, now);
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r = lmdb_error(s, "cache: sweep", rc);
		return STORE_ERROR;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "cache: commit", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* delete_key - delete k from dbi in one write transaction; absent is STORE_OK */
static int delete_key(struct store_lmdb *s, MDB_dbi dbi, MDB_val *k, const char *what,
		      const char **error_r)
{
	char context[64];
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		snprintf(context, sizeof(context), "%s: begin transaction", what);
		*error_r = lmdb_error(s, context, rc);
		return STORE_ERROR;
	}
	rc = mdb_del(txn, dbi, k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return STORE_OK;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		snprintf(context, sizeof(context), "%s: delete", what);
		*error_r = lmdb_error(s, context, rc);
		return STORE_ERROR;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		snprintf(context, sizeof(context), "%s: commit", what);
		*error_r = lmdb_error(s, context, rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* lmdb_cache_del - store_cache_del for LMDB */
static int lmdb_cache_del(struct store *store, const void *key, size_t key_len,
			  const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { key_len, (void *)key };

	if (check_key_len(s, key_len, "cache key", error_r) < 0)
		return STORE_ERROR;
	return delete_key(s, s->cache_dbi, &k, "cache", error_r);
}

/* ---- greylisting -------------------------------------------------------- */

/*
 * The "grey" database.  Keys: GREY_TAG_TUPLE + the caller's tuple key, or
 * GREY_TAG_CLIENT + the caller's client key; a key that would pass LMDB's
 * key size gets the upper-case tag, its first bytes and a 16-byte digest
 * of the whole (grey_key).  Values start, like the cache's, with the
 * 8-byte big-endian expiry (the record is void at now >= expiry, so the
 * shared sweep can delete it), then:
 *   tuple   'T', i64 first, i64 last_pass (-1: never passed)
 *   tally   'C', u8 n (<= GREY_TALLY_MAX), n x (i64 hour, u32 count),
 *           hours strictly increasing
 * A record that does not decode is soft state lost, not an error: it is
 * treated as absent and overwritten.
 */
#define GREY_TAG_TUPLE 't'
#define GREY_TAG_CLIENT 'c'
#define GREY_DIGEST_SIZE 16
#define GREY_HOUR 3600			/* tally counter width, seconds */
#define GREY_DAY 86400			/* the tally's window */
#define GREY_TALLY_MAX 25		/* counters kept: the window's hours + 1 */
#define GREY_TUPLE_SIZE (LMDB_EXPIRY_SIZE + 1 + 8 + 8)
#define GREY_TALLY_SIZE(n) (LMDB_EXPIRY_SIZE + 2 + (size_t)(n) * 12)

struct grey_tuple {
	int64_t first;		/* start of the current greylisting attempt */
	int64_t last_pass;	/* -1: has not passed */
};

struct grey_tally {
	unsigned int n;
	int64_t hour[GREY_TALLY_MAX + 1];	/* floor(t / GREY_HOUR), increasing */
	uint32_t count[GREY_TALLY_MAX + 1];
};

/* get_be - n-byte big-endian unsigned value at p */
static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = (v << 8) | *p++;
	return v;
}

/* put_be - store v as n bytes big-endian at p; returns p + n */
static unsigned char *put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
	return p + n;
}

/* mix64 - splitmix64's finaliser: spread every input bit over the output */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * grey_digest - a 128-bit digest of data (two independent 64-bit FNV-1a
 * style hashes, finalised); not collision-proof against a deliberate
 * attacker, who would only make two tuples share one greylisting state
 */
static void grey_digest(const unsigned char *data, size_t len, unsigned char out[GREY_DIGEST_SIZE])
{
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x6a09e667f3bcc909ULL;

	for (size_t i = 0; i < len; i++) {
		a = (a ^ data[i]) * 0x100000001b3ULL;
		b = (b ^ data[i]) * 0x9e3779b97f4a7c15ULL;
		b ^= b >> 29;
	}
	put_be(out, mix64(a ^ len), 8);
	put_be(out + 8, mix64(b + mix64(a)), 8);
}

/*
 * grey_key - the grey database key for tag + data into buf (LMDB_KEY_MAX
 * bytes): the data itself when it fits, else the upper-case tag, a prefix
 * of the data and its digest (the tag keeps the two forms apart)
 */
static size_t grey_key(const struct store_lmdb *s, char tag, const void *data, size_t len,
		       unsigned char *buf)
{
	size_t keep;

	if (1 + len <= s->max_key) {
		buf[0] = (unsigned char)tag;
		memcpy(buf + 1, data, len);
		return 1 + len;
	}
	keep = s->max_key - 1 - GREY_DIGEST_SIZE;
	buf[0] = (unsigned char)(tag - 'a' + 'A');
	memcpy(buf + 1, data, keep);
	grey_digest(data, len, buf + 1 + keep);
	return s->max_key;
}

/* grey_tuple_decode - a live tuple record at now into *t, or false */
static bool grey_tuple_decode(const MDB_val *v, int64_t now, struct grey_tuple *t)
{
	const unsigned char *p = v->mv_data;

	if (v->mv_size != GREY_TUPLE_SIZE || p[LMDB_EXPIRY_SIZE] != 'T' ||
	    now >= get_expiry(p))
		return false;
	t->first = (int64_t)get_be(p + LMDB_EXPIRY_SIZE + 1, 8);
	t->last_pass = (int64_t)get_be(p + LMDB_EXPIRY_SIZE + 9, 8);
	return t->first >= 0 && t->first <= STORE_NOW_MAX && t->last_pass >= -1 &&
		t->last_pass <= STORE_NOW_MAX;
}

/*
 * grey_tuple_expiry - first instant at which the rule no longer needs t:
 * past first + retry_window (and min_delay) a retry restarts, past
 * last_pass + lifetime the pass is forgotten
 */
static int64_t grey_tuple_expiry(const struct greylist_params *p, const struct grey_tuple *t)
{
	int64_t e = t->first + (int64_t)(p->retry_window > p->min_delay ? p->retry_window
									  : p->min_delay);

	if (t->last_pass >= 0 && t->last_pass + (int64_t)p->lifetime > e)
		e = t->last_pass + (int64_t)p->lifetime;
	return e + 1;
}

/* grey_tally_live - does counter hour still count at now? */
static bool grey_tally_live(int64_t hour, int64_t now)
{
	/* like a quota bucket: counted until its end + one day */
	return (hour + 1) * GREY_HOUR + GREY_DAY > now;
}

/* grey_tally_decode - the tally record into *c (empty when corrupt) */
static void grey_tally_decode(const MDB_val *v, struct grey_tally *c)
{
	const unsigned char *p = v->mv_data;
	unsigned int n;

	c->n = 0;
	if (v->mv_size < GREY_TALLY_SIZE(0) || p[LMDB_EXPIRY_SIZE] != 'C')
		return;
	n = p[LMDB_EXPIRY_SIZE + 1];
	if (n > GREY_TALLY_MAX || v->mv_size != GREY_TALLY_SIZE(n))
		return;
	p += GREY_TALLY_SIZE(0);
	for (unsigned int i = 0; i < n; i++, p += 12) {
		c->hour[i] = (int64_t)get_be(p, 8);
		c->count[i] = (uint32_t)get_be(p + 8, 4);
		if (c->hour[i] < 0 || c->hour[i] > STORE_NOW_MAX / GREY_HOUR ||
		    (i > 0 && c->hour[i] <= c->hour[i - 1]))
			return;
	}
	c->n = n;
}

/* grey_tally_sum - the passes counted at now (saturated) */
static uint32_t grey_tally_sum(const struct grey_tally *c, int64_t now)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < c->n; i++)
		if (grey_tally_live(c->hour[i], now))
			sum += c->count[i];
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* sat_add - a + b clamped to UINT32_MAX */
static uint32_t sat_add(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/*
 * grey_tally_add - drop dead counters and add one pass at now; past
 * GREY_TALLY_MAX counters (a clock that jumps) the oldest is folded into
 * the next newer, which lives longer: never under-counted
 */
static void grey_tally_add(struct grey_tally *c, int64_t now)
{
	int64_t hour = now / GREY_HOUR;
	unsigned int i, j;

	for (i = j = 0; i < c->n; i++) {
		if (grey_tally_live(c->hour[i], now)) {
			c->hour[j] = c->hour[i];
			c->count[j++] = c->count[i];
		}
	}
	c->n = j;
	for (i = 0; i < c->n && c->hour[i] < hour; i++)
		;
	if (i < c->n && c->hour[i] == hour) {
		c->count[i] = sat_add(c->count[i], 1);
		return;
	}
	memmove(&c->hour[i + 1], &c->hour[i], (c->n - i) * sizeof(c->hour[0]));
	memmove(&c->count[i + 1], &c->count[i], (c->n - i) * sizeof(c->count[0]));
	c->hour[i] = hour;
	c->count[i] = 1;
	c->n++;
	if (c->n > GREY_TALLY_MAX) {
		c->count[1] = sat_add(c->count[1], c->count[0]);
		memmove(&c->hour[0], &c->hour[1], (c->n - 1) * sizeof(c->hour[0]));
		memmove(&c->count[0], &c->count[1], (c->n - 1) * sizeof(c->count[0]));
		c->n--;
	}
}

/*
 * grey_decide - the rule of greylist.h for a tuple (*present: whether it
 * has a live record) and the client's tally at now; updates *t and
 * *present to what must be stored (nothing for GREYLIST_DEFER_EARLY)
 */
static enum greylist_verdict grey_decide(const struct greylist_params *p, uint32_t tally,
					 int64_t now, bool *present, struct grey_tuple *t)
{
	enum greylist_verdict verdict;

	if (p->whitelist_threshold > 0 && tally >= p->whitelist_threshold) {
		verdict = GREYLIST_PASS_WHITELISTED;
		if (!*present) {
			t->first = now;
			t->last_pass = -1;
		}
	} else if (!*present) {
		verdict = GREYLIST_DEFER_NEW;
	} else if (t->last_pass >= 0 && now - t->last_pass <= (int64_t)p->lifetime) {
		verdict = GREYLIST_PASS;	/* remembered; renewed below */
	} else if (now - t->first < (int64_t)p->min_delay) {
		return GREYLIST_DEFER_EARLY;	/* the clock keeps running from first */
	} else if (now - t->first > (int64_t)p->retry_window) {
		verdict = GREYLIST_DEFER_NEW;	/* retry window missed: start again */
	} else {
		verdict = GREYLIST_PASS;
	}
	if (verdict == GREYLIST_DEFER_NEW) {
		t->first = now;
		t->last_pass = -1;
	} else if (now > t->last_pass) {
		t->last_pass = now;	/* a clock going back never shortens a pass */
	}
	*present = true;
	return verdict;
}

/* grey_put_tuple - write tuple record t under key */
static int grey_put_tuple(struct store_lmdb *s, MDB_txn *txn, MDB_val *key,
			  const struct greylist_params *p, const struct grey_tuple *t)
{
	unsigned char buf[GREY_TUPLE_SIZE], *q = buf;
	MDB_val v = { sizeof(buf), buf };

	put_expiry(q, grey_tuple_expiry(p, t));
	q += LMDB_EXPIRY_SIZE;
	*q++ = 'T';
	q = put_be(q, (uint64_t)t->first, 8);
	put_be(q, (uint64_t)t->last_pass, 8);
	return mdb_put(txn, s->grey_dbi, key, &v, 0);
}

/* grey_put_tally - write tally record c under key, or delete it when empty */
static int grey_put_tally(struct store_lmdb *s, MDB_txn *txn, MDB_val *key,
			  const struct grey_tally *c)
{
	unsigned char buf[GREY_TALLY_SIZE(GREY_TALLY_MAX)], *q = buf;
	MDB_val v = { GREY_TALLY_SIZE(c->n), buf };
	int rc;

	if (c->n == 0) {
		rc = mdb_del(txn, s->grey_dbi, key, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	/* the newest counter is the last to die */
	put_expiry(q, (c->hour[c->n - 1] + 1) * GREY_HOUR + GREY_DAY);
	q += LMDB_EXPIRY_SIZE;
	*q++ = 'C';
	*q++ = (unsigned char)c->n;
	for (unsigned int i = 0; i < c->n; i++) {
		q = put_be(q, (uint64_t)c->hour[i], 8);
		q = put_be(q, c->count[i], 4);
	}
	return mdb_put(txn, s->grey_dbi, key, &v, 0);
}

/* lmdb_greylist_check - store_greylist_check for LMDB: one write transaction */
static int lmdb_greylist_check(struct store *store, const void *tuple, size_t tuple_len,
			       const void *client, size_t client_len,
			       const struct greylist_params *params, int64_t now, int *verdict_r,
			       const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	unsigned char tkey[LMDB_KEY_MAX], ckey[LMDB_KEY_MAX];
	MDB_val tk = { 0, tkey }, ck = { 0, ckey }, v;
	enum greylist_verdict verdict;
	struct grey_tuple t = { 0, -1 };
	struct grey_tally tally = { 0 };
	bool present = false;
	const char *what;
	MDB_txn *txn;
	int rc;

	tk.mv_size = grey_key(s, GREY_TAG_TUPLE, tuple, tuple_len, tkey);
	ck.mv_size = grey_key(s, GREY_TAG_CLIENT, client, client_len, ckey);
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "greylist: begin transaction", rc);
		return STORE_ERROR;
	}
	what = "greylist: read";
	rc = mdb_get(txn, s->grey_dbi, &ck, &v);
	if (rc == 0)
		grey_tally_decode(&v, &tally);
	else if (rc != MDB_NOTFOUND)
		goto fail;
	rc = mdb_get(txn, s->grey_dbi, &tk, &v);
	if (rc == 0)
		present = grey_tuple_decode(&v, now, &t);
	else if (rc != MDB_NOTFOUND)
		goto fail;
	verdict = grey_decide(params, grey_tally_sum(&tally, now), now, &present, &t);
	*verdict_r = (int)verdict;
	if (verdict == GREYLIST_DEFER_EARLY) {
		mdb_txn_abort(txn);	/* nothing changes */
		return STORE_OK;
	}
	what = "greylist: write";
	rc = grey_put_tuple(s, txn, &tk, params, &t);
	if (rc == 0 && verdict != GREYLIST_DEFER_NEW && !params->uncounted) {
		grey_tally_add(&tally, now);
		rc = grey_put_tally(s, txn, &ck, &tally);
	}
	if (rc == 0) {
		what = "greylist: sweep";
		rc = lmdb_sweep_tick(txn, s->grey_dbi, &s->grey_sweep, now);
	}
	if (rc != 0)
		goto fail;
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "greylist: commit", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
fail:
	mdb_txn_abort(txn);
	*error_r = lmdb_error(s, what, rc);
	return STORE_ERROR;
}

/* lmdb_greylist_tally - store_greylist_tally for LMDB (read-only transaction) */
static int lmdb_greylist_tally(struct store *store, const void *client, size_t client_len,
			       int64_t now, uint32_t *count_r, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	unsigned char ckey[LMDB_KEY_MAX];
	MDB_val ck = { 0, ckey }, v;
	struct grey_tally tally = { 0 };
	MDB_txn *txn;
	int rc;

	*count_r = 0;
	ck.mv_size = grey_key(s, GREY_TAG_CLIENT, client, client_len, ckey);
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "greylist: begin read transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_get(txn, s->grey_dbi, &ck, &v);
	if (rc == 0)
		grey_tally_decode(&v, &tally);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = lmdb_error(s, "greylist: read", rc);
		return STORE_ERROR;
	}
	*count_r = grey_tally_sum(&tally, now);
	return STORE_OK;
}

/* lmdb_greylist_tally_clear - store_greylist_tally_clear for LMDB */
static int lmdb_greylist_tally_clear(struct store *store, const void *client,
				     size_t client_len, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	unsigned char ckey[LMDB_KEY_MAX];
	MDB_val ck = { 0, ckey };

	ck.mv_size = grey_key(s, GREY_TAG_CLIENT, client, client_len, ckey);
	return delete_key(s, s->grey_dbi, &ck, "greylist", error_r);
}

/* lmdb_close - flush and close the environment, free the handle */
static void lmdb_close(struct store *store)
{
	struct store_lmdb *s = (struct store_lmdb *)store;

	if (s->env != NULL) {
		(void)mdb_env_sync(s->env, 1);
		mdb_env_close(s->env);
	}
	XFREE(s);
}

static const struct store_ops lmdb_ops = {
	.name = "lmdb",
	.quota_reserve = lmdb_quota_reserve,
	.quota_commit = lmdb_quota_commit,
	.quota_release = lmdb_quota_release,
	.quota_usage = lmdb_quota_usage,
	.quota_reset = lmdb_quota_reset,
	.cache_get = lmdb_cache_get,
	.cache_set = lmdb_cache_set,
	.cache_del = lmdb_cache_del,
	.greylist_check = lmdb_greylist_check,
	.greylist_tally = lmdb_greylist_tally,
	.greylist_tally_clear = lmdb_greylist_tally_clear,
	.close = lmdb_close,
};

/* make_dirs - mkdir -p path with mode for the directories created */
static int make_dirs(const char *path, mode_t mode)
{
	char *copy = xstrdup(path), *p, c;
	int ret = 0;

	for (p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(copy, mode) == 0) {
			/* the mode asked for, whatever the umask */
			(void)chmod(copy, mode);
		} else if (errno != EEXIST) {
			ret = -1;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	XFREE(copy);
	return ret;
}

int store_lmdb_open(const struct config *config, struct store **store_r, const char **error_r)
{
	struct store_lmdb *s;
	const char *path = config->store_path;
	struct stat st;
	MDB_txn *txn;
	int rc, dead;

	*store_r = NULL;
	if (path == NULL || path[0] == '\0') {
		*error_r = "store.path is empty";
		return -1;
	}
	if (config->store_map_size_mb < 1) {
		*error_r = "store.map_size_mb must be at least 1";
		return -1;
	}
	if (make_dirs(path, 0750) < 0 || stat(path, &st) < 0) {
		snprintf(lmdb_error_buf, sizeof(lmdb_error_buf), "cannot create %s: %s", path,
			 strerror(errno));
		*error_r = lmdb_error_buf;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(lmdb_error_buf, sizeof(lmdb_error_buf), "%s is not a directory", path);
		*error_r = lmdb_error_buf;
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->store.ops = &lmdb_ops;
	s->map_size_mb = config->store_map_size_mb;
	rc = mdb_env_create(&s->env);
	if (rc != 0) {
		s->env = NULL;
		*error_r = lmdb_error(s, "mdb_env_create", rc);
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(s->env, 3)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, LMDB_MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)config->store_map_size_mb << 20)) != 0) {
		*error_r = lmdb_error(s, "LMDB settings", rc);
		goto fail;
	}
	rc = mdb_env_open(s->env, path, MDB_NOTLS | MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP,
			  0660);
	if (rc != 0) {
		snprintf(lmdb_error_buf, sizeof(lmdb_error_buf),
			 "cannot open LMDB environment %s: %s", path, mdb_strerror(rc));
		*error_r = lmdb_error_buf;
		goto fail;
	}
	rc = mdb_reader_check(s->env, &dead);
	if (rc != 0) {
		*error_r = lmdb_error(s, "mdb_reader_check", rc);
		goto fail;
	}
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "open: begin transaction", rc);
		goto fail;
	}
	if ((rc = mdb_dbi_open(txn, "quota", MDB_CREATE, &s->quota_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "cache", MDB_CREATE, &s->cache_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "grey", MDB_CREATE, &s->grey_dbi)) != 0) {
		mdb_txn_abort(txn);
		*error_r = lmdb_error(s, "open: named databases", rc);
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "open: commit", rc);
		goto fail;
	}
	s->max_key = (size_t)mdb_env_get_maxkeysize(s->env);
	if (s->max_key > LMDB_KEY_MAX)
		s->max_key = LMDB_KEY_MAX;
	*store_r = &s->store;
	return 0;
fail:
	if (s->env != NULL)
		mdb_env_close(s->env);
	XFREE(s);
	return -1;
}
