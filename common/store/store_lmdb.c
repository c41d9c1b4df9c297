/*
 * NAME
 *	store_lmdb - the embedded store engine (LMDB)
 * SUMMARY
 *	store_lmdb_open() fills the ops table of store-private.h
 * DESCRIPTION
 *	This file holds the environment (open, close, durability, threads)
 *	and the helpers of store_lmdb-private.h; the operations are in
 *	store_lmdb_quota.c, store_lmdb_cache.c, store_lmdb_greylist.c,
 *	store_lmdb_limits.c and store_lmdb_locks.c, and the greylisting rule
 *	itself in greylist_record.c.
 *
 *	One LMDB environment in the directory store.path (created 0750 when
 *	missing) with nine named databases:
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
 *	  limits store_limits_* with id != 0: key = id (4 bytes big-endian)
 *	         then the owner's bytes, value = the packed limit_record of
 *	         limit_record.h (id 0 is the quota record above).
 *	  distinct-hash, distinct-time
 *	         the address sets of distinct-recipients limits, under the
 *	         limit's "limits" key, as sorted duplicates of 16 bytes
 *	         (MDB_DUPSORT | MDB_DUPFIXED): (hash, time) and (time, hash);
 *	         layout and upkeep in store_lmdb_limits.c.
 *	  locks, strikes, events
 *	         store_lock_* and store_event*: a lock per user name, the
 *	         user's recent strike times (swept like the cache), and the
 *	         newest STORE_EVENTS_KEEP events by sequence number; layouts
 *	         in store_lmdb_locks.c.
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
 *	for write transactions.  The read transactions of the message path
 *	(store_lmdb_read_begin) are kept after use, reset (holding no
 *	snapshot) and renewed by the next reader on any thread: up to
 *	LMDB_RPOOL_MAX of them, each keeping its reader slot, so that a read
 *	neither allocates a transaction nor takes the reader table's
 *	process-shared mutex; store_close frees them.  The quota's write
 *	transactions (store_lmdb_quota.c) also take a process-local adaptive
 *	mutex (wlock) before LMDB's: a thread that finds another of ours
 *	writing spins a little before it sleeps, where LMDB's robust
 *	process-shared mutex puts it to sleep at once (a futex wait and a
 *	wake-up per collision; other processes still meet on LMDB's).  Stale reader slots left by dead processes are
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
 *	client's tally and the tuple, apply the rule of greylist_record.h,
 *	write the tuple (not on a DEFER_EARLY, which changes nothing) and, on
 *	a pass, the tally; so concurrent checks of one tuple see one
 *	first-seen time.  A tuple record's expiry is the first instant at which the rule
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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/config.h"
#include "base/xalloc.h"
#include "store/store_lmdb-private.h"

static __thread char lmdb_error_buf[512];

const char *store_lmdb_error(const struct store_lmdb *s, const char *what, int rc)
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

const char *store_lmdb_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lmdb_error_buf, sizeof(lmdb_error_buf), fmt, ap);
	va_end(ap);
	return lmdb_error_buf;
}

int64_t store_lmdb_get_expiry(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < LMDB_EXPIRY_SIZE; i++)
		v = (v << 8) | p[i];
	return v <= INT64_MAX ? (int64_t)v : -1;
}

void store_lmdb_put_expiry(unsigned char *p, int64_t expiry)
{
	uint64_t v = (uint64_t)expiry;
	int i;

	for (i = LMDB_EXPIRY_SIZE - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

int store_lmdb_check_key_len(const struct store_lmdb *s, size_t len, const char *what,
			     const char **error_r)
{
	if (len > s->max_key) {
		*error_r = store_lmdb_errorf("%s too long for LMDB (%zu bytes, at most %zu)", what,
					     len, s->max_key);
		return -1;
	}
	return 0;
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
		if (v.mv_size < LMDB_EXPIRY_SIZE || now >= store_lmdb_get_expiry(v.mv_data)) {
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

int store_lmdb_sweep_tick(MDB_txn *txn, MDB_dbi dbi, struct lmdb_sweep *sw, int64_t now)
{
	if (++sw->tick < LMDB_SWEEP_EVERY)
		return 0;
	sw->tick = 0;
	return lmdb_sweep(txn, dbi, sw, now);
}

int store_lmdb_read_begin(struct store_lmdb *s, MDB_txn **txn_r)
{
	MDB_txn *txn = NULL;

	pthread_mutex_lock(&s->rpool_lock);
	if (s->rpool_n > 0)
		txn = s->rpool[--s->rpool_n];
	pthread_mutex_unlock(&s->rpool_lock);
	if (txn != NULL) {
		if (mdb_txn_renew(txn) == 0) {
			*txn_r = txn;
			return 0;
		}
		mdb_txn_abort(txn);	/* frees it and its slot; start afresh */
	}
	return mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn_r);
}

void store_lmdb_read_end(struct store_lmdb *s, MDB_txn *txn)
{
	/* reset: the snapshot is released (writers may reuse its pages), the slot kept */
	mdb_txn_reset(txn);
	pthread_mutex_lock(&s->rpool_lock);
	if (s->rpool_n < LMDB_RPOOL_MAX) {
		s->rpool[s->rpool_n++] = txn;
		txn = NULL;
	}
	pthread_mutex_unlock(&s->rpool_lock);
	if (txn != NULL)
		mdb_txn_abort(txn);
}

int store_lmdb_delete_key(struct store_lmdb *s, MDB_dbi dbi, MDB_val *k, const char *what,
			  const char **error_r)
{
	char context[64];
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		snprintf(context, sizeof(context), "%s: begin transaction", what);
		*error_r = store_lmdb_error(s, context, rc);
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
		*error_r = store_lmdb_error(s, context, rc);
		return STORE_ERROR;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		snprintf(context, sizeof(context), "%s: commit", what);
		*error_r = store_lmdb_error(s, context, rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* lmdb_close - flush and close the environment, free the handle */
static void lmdb_close(struct store *store)
{
	struct store_lmdb *s = (struct store_lmdb *)store;

	while (s->rpool_n > 0)
		mdb_txn_abort(s->rpool[--s->rpool_n]);
	pthread_mutex_destroy(&s->rpool_lock);
	pthread_mutex_destroy(&s->wlock);
	quota_record_reset(&s->wrec);
	if (s->env != NULL) {
		(void)mdb_env_sync(s->env, 1);
		mdb_env_close(s->env);
	}
	XFREE(s);
}

static const struct store_ops lmdb_ops = {
	.name = "lmdb",
	.quota_reserve = store_lmdb_quota_reserve,
	.quota_commit = store_lmdb_quota_commit,
	.quota_release = store_lmdb_quota_release,
	.quota_usage = store_lmdb_quota_usage,
	.quota_reset = store_lmdb_quota_reset,
	.cache_get = store_lmdb_cache_get,
	.cache_set = store_lmdb_cache_set,
	.cache_del = store_lmdb_cache_del,
	.greylist_check = store_lmdb_greylist_check,
	.greylist_tally = store_lmdb_greylist_tally,
	.greylist_tally_clear = store_lmdb_greylist_tally_clear,
	.greylist_peek = store_lmdb_greylist_peek,
	.limits_reserve = store_lmdb_limits_reserve,
	.limits_commit = store_lmdb_limits_commit,
	.limits_release = store_lmdb_limits_release,
	.limits_usage = store_lmdb_limits_usage,
	.limits_reset = store_lmdb_limits_reset,
	.limits_top = store_lmdb_limits_top,
	.lock_get = store_lmdb_lock_get,
	.mail_lookup = store_lmdb_mail_lookup,
	.lock_set = store_lmdb_lock_set,
	.lock_clear = store_lmdb_lock_clear,
	.lock_strike = store_lmdb_lock_strike,
	.locks_list = store_lmdb_locks_list,
	.event_add = store_lmdb_event_add,
	.events_list = store_lmdb_events_list,
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
		*error_r = store_lmdb_errorf("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = store_lmdb_errorf("%s is not a directory", path);
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->store.ops = &lmdb_ops;
	s->map_size_mb = config->store_map_size_mb;
	pthread_mutex_init(&s->rpool_lock, NULL);
	pthread_mutexattr_t wattr;

	pthread_mutexattr_init(&wattr);
	pthread_mutexattr_settype(&wattr, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&s->wlock, &wattr);
	pthread_mutexattr_destroy(&wattr);
	rc = mdb_env_create(&s->env);
	if (rc != 0) {
		s->env = NULL;
		*error_r = store_lmdb_error(s, "mdb_env_create", rc);
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(s->env, 9)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, LMDB_MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)config->store_map_size_mb << 20)) != 0) {
		*error_r = store_lmdb_error(s, "LMDB settings", rc);
		goto fail;
	}
	rc = mdb_env_open(s->env, path, MDB_NOTLS | MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP,
			  0660);
	if (rc != 0) {
		*error_r = store_lmdb_errorf("cannot open LMDB environment %s: %s", path,
					     mdb_strerror(rc));
		goto fail;
	}
	rc = mdb_reader_check(s->env, &dead);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "mdb_reader_check", rc);
		goto fail;
	}
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "open: begin transaction", rc);
		goto fail;
	}
	if ((rc = mdb_dbi_open(txn, "quota", MDB_CREATE, &s->quota_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "cache", MDB_CREATE, &s->cache_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "grey", MDB_CREATE, &s->grey_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "limits", MDB_CREATE, &s->limits_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "distinct-hash", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
			       &s->dhash_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "distinct-time", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
			       &s->dtime_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "locks", MDB_CREATE, &s->locks_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "strikes", MDB_CREATE, &s->strikes_dbi)) != 0 ||
	    (rc = mdb_dbi_open(txn, "events", MDB_CREATE, &s->events_dbi)) != 0) {
		mdb_txn_abort(txn);
		*error_r = store_lmdb_error(s, "open: named databases", rc);
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "open: commit", rc);
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
	pthread_mutex_destroy(&s->rpool_lock);
	pthread_mutex_destroy(&s->wlock);
	XFREE(s);
	return -1;
}
