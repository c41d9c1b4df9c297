/*
 * NAME
 *	store_lmdb - the embedded store engine (LMDB)
 * SUMMARY
 *	store_lmdb_open() fills the ops table of store-private.h
 * DESCRIPTION
 *	One LMDB environment in the directory store.path (created 0750 when
 *	missing) with two named databases:
 *	  quota  key = the user name's bytes (binary-safe, at most the LMDB key
 *	         size, 511 bytes), value = the packed quota_record of
 *	         quota_record.h: at most interval/resolution + 2 buckets and
 *	         1024 live reservations, whatever the number of messages sent.
 *	  cache  key = the caller's key (see store_key), value = 8-byte
 *	         big-endian absolute expiry followed by the value bytes.
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
 *	so a commit writes its pages with write(2) but does not fsync.  The
 *	data is then in the kernel's page cache, which survives the death of
 *	the process: a milter crash or restart loses nothing.  A power loss
 *	or kernel crash may lose the last seconds of counts (the kernel flushes
 *	dirty pages on its own schedule, and store_close forces a sync).  The
 *	trade is deliberate: an fsync per message would cost milliseconds on
 *	the mail path, and quota counts are soft state that Redis keeps no
 *	better.  Without MDB_WRITEMAP the map stays read-only, so a stray
 *	pointer cannot scribble on the database.
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
 *	that are never read again do not fill the map.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "config.h"
#include "quota_record.h"
#include "store-private.h"
#include "xalloc.h"

#define LMDB_MAX_READERS 1024	/* concurrent read transactions, all processes */
#define LMDB_KEY_MAX 511	/* LMDB's compiled-in default (mdb_env_get_maxkeysize) */
#define LMDB_SWEEP_EVERY 32	/* cache sets between two sweeps */
#define LMDB_SWEEP_SPAN 64	/* cache entries examined per sweep */
#define LMDB_EXPIRY_SIZE 8

struct store_lmdb {
	struct store store;
	MDB_env *env;
	MDB_dbi quota_dbi;
	MDB_dbi cache_dbi;
	size_t max_key;
	int map_size_mb;
	/* cache sweep position: only touched inside write transactions,
	 * which LMDB serialises */
	unsigned int sweep_tick;
	size_t sweep_key_len;
	unsigned char sweep_key[LMDB_KEY_MAX];
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

/* lmdb_cache_sweep - delete expired entries among the next LMDB_SWEEP_SPAN */
static int lmdb_cache_sweep(struct store_lmdb *s, MDB_txn *txn, int64_t now)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, seen;

	rc = mdb_cursor_open(txn, s->cache_dbi, &cur);
	if (rc != 0)
		return rc;
	k.mv_size = s->sweep_key_len;
	k.mv_data = s->sweep_key;
	rc = s->sweep_key_len > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
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
	if (rc == 0 && k.mv_size <= sizeof(s->sweep_key)) {
		memcpy(s->sweep_key, k.mv_data, k.mv_size);
		s->sweep_key_len = k.mv_size;
	} else {
		s->sweep_key_len = 0;	/* end of the key space: start over */
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
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
	if (++s->sweep_tick >= LMDB_SWEEP_EVERY) {
		s->sweep_tick = 0;
		rc = lmdb_cache_sweep(s, txn, now);
		if (rc != 0) {
			mdb_txn_abort(txn);
			*error_r = lmdb_error(s, "cache: sweep", rc);
			return STORE_ERROR;
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "cache: commit", rc);
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
	MDB_txn *txn;
	int rc;

	if (check_key_len(s, key_len, "cache key", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "cache: begin transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_del(txn, s->cache_dbi, &k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return STORE_OK;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r = lmdb_error(s, "cache: delete", rc);
		return STORE_ERROR;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*error_r = lmdb_error(s, "cache: commit", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
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
	if ((rc = mdb_env_set_maxdbs(s->env, 2)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, LMDB_MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)config->store_map_size_mb << 20)) != 0) {
		*error_r = lmdb_error(s, "LMDB settings", rc);
		goto fail;
	}
	rc = mdb_env_open(s->env, path, MDB_NOTLS | MDB_NOSYNC | MDB_NOMETASYNC, 0660);
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
	    (rc = mdb_dbi_open(txn, "cache", MDB_CREATE, &s->cache_dbi)) != 0) {
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
