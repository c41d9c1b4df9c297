/*
 * NAME
 *	store_lmdb_locks - the locks, strikes and events of the LMDB engine
 * SUMMARY
 *	store_lmdb_lock_get/set/clear/strike, store_lmdb_lock_read,
 *	store_lmdb_locks_list,
 *	store_lmdb_event_add, store_lmdb_events_list, for lmdb_ops
 * DESCRIPTION
 *	Three named databases:
 *	  locks    key = the user name's bytes, value = 8-byte big-endian
 *	           "since" followed by the reason's bytes (no NUL, at most
 *	           STORE_LOCK_REASON_MAX - 1).  A lock never expires.
 *	  strikes  key = the user name's bytes, value = 8-byte big-endian
 *	           expiry (the newest strike + window: from then on nothing in
 *	           the record counts) followed by the strike times, 8 bytes
 *	           each, oldest first, at most `after` of them.  The expiry
 *	           lets store_lmdb_sweep_tick drop the records of users who
 *	           stopped striking, as it does for the cache.
 *	  events   key = an 8-byte big-endian sequence number (the last one +
 *	           1, so the newest is the last key), value = 8-byte big-endian
 *	           time followed by the event's text.  Each add deletes the
 *	           oldest entries past STORE_EVENTS_KEEP in its own
 *	           transaction (mdb_stat counts the entries for free).
 *
 *	store_lmdb_lock_strike is ONE write transaction: read the user's
 *	strikes, keep those inside the window and the newest after - 1 of
 *	them, add now, and when the count reaches after and no lock exists,
 *	write the lock in the same transaction.  LMDB's single writer (a
 *	process-shared mutex) serialises it against every thread and
 *	process: of several racing strikes exactly one finds no lock and
 *	writes it, and only that one reports *locked_r = 1.
 *	store_lmdb_lock_get is one read-only transaction (no writer wait).
 * DIAGNOSTICS
 *	STORE_ERROR with a message naming the step and LMDB's text.  A
 *	strikes record that does not decode is treated as empty (soft state);
 *	a lock record shorter than 8 bytes reads as locked since 0.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "store/store_lmdb-private.h"

#define LMDB_TIME_SIZE 8

/* get_time - the big-endian signed 64-bit time at p */
static int64_t get_time(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < LMDB_TIME_SIZE; i++)
		v = (v << 8) | p[i];
	return (int64_t)v;
}

/* put_time - t big-endian at p */
static void put_time(unsigned char *p, int64_t t)
{
	uint64_t v = (uint64_t)t;
	int i;

	for (i = LMDB_TIME_SIZE - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* lock_info - decode a locks value into *info */
static void lock_info(const MDB_val *v, struct store_lock_info *info)
{
	size_t len;

	memset(info, 0, sizeof(*info));
	if (v->mv_size < LMDB_TIME_SIZE)
		return;
	info->since = get_time(v->mv_data);
	len = v->mv_size - LMDB_TIME_SIZE;
	if (len > sizeof(info->reason) - 1)
		len = sizeof(info->reason) - 1;
	memcpy(info->reason, (const unsigned char *)v->mv_data + LMDB_TIME_SIZE, len);
	info->reason[len] = '\0';
}

/* lock_put - write user's lock (since now, reason) in txn */
static int lock_put(struct store_lmdb *s, MDB_txn *txn, MDB_val *k, const char *reason,
		    int64_t now)
{
	size_t rlen = strlen(reason);
	MDB_val v;
	int rc;

	v.mv_size = LMDB_TIME_SIZE + rlen;
	v.mv_data = NULL;
	rc = mdb_put(txn, s->locks_dbi, k, &v, MDB_RESERVE);
	if (rc != 0)
		return rc;
	put_time(v.mv_data, now);
	memcpy((unsigned char *)v.mv_data + LMDB_TIME_SIZE, reason, rlen);
	return 0;
}

/* lmdb_commit - commit txn; STORE_OK, or STORE_ERROR naming what */
static int lmdb_commit(struct store_lmdb *s, MDB_txn *txn, const char *what,
		       const char **error_r)
{
	int rc = mdb_txn_commit(txn);

	if (rc != 0) {
		*error_r = store_lmdb_error(s, what, rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* store_lmdb_lock_read - user's lock in the read transaction txn */
int store_lmdb_lock_read(struct store_lmdb *s, MDB_txn *txn, const char *user, size_t user_len,
			 struct store_lock_info *info_r, const char **error_r)
{
	MDB_val k = { user_len, (void *)user }, v;
	int rc;

	if (store_lmdb_check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_get(txn, s->locks_dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return STORE_MISS;
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "lock: read", rc);
		return STORE_ERROR;
	}
	lock_info(&v, info_r);
	return STORE_OK;
}

/* store_lmdb_lock_get - store_lock_get for LMDB */
int store_lmdb_lock_get(struct store *store, const char *user, size_t user_len,
			struct store_lock_info *info_r, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_txn *txn;
	int rc, st;

	if (store_lmdb_check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = store_lmdb_read_begin(s, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "lock: begin read transaction", rc);
		return STORE_ERROR;
	}
	st = store_lmdb_lock_read(s, txn, user, user_len, info_r, error_r);
	store_lmdb_read_end(s, txn);
	return st;
}

/* store_lmdb_lock_set - store_lock_set for LMDB */
int store_lmdb_lock_set(struct store *store, const char *user, size_t user_len,
			const char *reason, int64_t now, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { user_len, (void *)user }, v;
	MDB_txn *txn;
	int rc;

	if (store_lmdb_check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "lock: begin transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_get(txn, s->locks_dbi, &k, &v);
	if (rc == 0) {		/* already locked: keep since and reason */
		mdb_txn_abort(txn);
		return STORE_REFUSED;
	}
	if (rc == MDB_NOTFOUND)
		rc = lock_put(s, txn, &k, reason, now);
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r = store_lmdb_error(s, "lock: write", rc);
		return STORE_ERROR;
	}
	return lmdb_commit(s, txn, "lock: commit", error_r);
}

/* store_lmdb_lock_clear - store_lock_clear for LMDB */
int store_lmdb_lock_clear(struct store *store, const char *user, size_t user_len,
			  const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { user_len, (void *)user };
	MDB_txn *txn;
	int rc, rc2, status;

	if (store_lmdb_check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "unlock: begin transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_del(txn, s->locks_dbi, &k, NULL);
	rc2 = mdb_del(txn, s->strikes_dbi, &k, NULL);
	if ((rc != 0 && rc != MDB_NOTFOUND) || (rc2 != 0 && rc2 != MDB_NOTFOUND)) {
		mdb_txn_abort(txn);
		*error_r = store_lmdb_error(s, "unlock: delete", rc != 0 && rc != MDB_NOTFOUND
					    ? rc : rc2);
		return STORE_ERROR;
	}
	if (rc == MDB_NOTFOUND && rc2 == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return STORE_MISS;
	}
	status = lmdb_commit(s, txn, "unlock: commit", error_r);
	return status == STORE_OK && rc == MDB_NOTFOUND ? STORE_MISS : status;
}

/*
 * strikes_update - from the strikes value v (NULL: none) keep the times
 * inside the window at now, the newest after - 1 of them, add now, oldest
 * first, into times; returns their count (1..after)
 */
static uint32_t strikes_update(const MDB_val *v, uint32_t after, uint32_t window, int64_t now,
			       int64_t *times)
{
	uint32_t n = 0, i, j, have;
	const unsigned char *p;
	int64_t t;

	if (v != NULL && v->mv_size >= LMDB_EXPIRY_SIZE &&
	    (v->mv_size - LMDB_EXPIRY_SIZE) % LMDB_TIME_SIZE == 0) {
		p = (const unsigned char *)v->mv_data + LMDB_EXPIRY_SIZE;
		have = (uint32_t)((v->mv_size - LMDB_EXPIRY_SIZE) / LMDB_TIME_SIZE);
		for (i = 0; i < have && n < STORE_LOCK_AFTER_MAX; i++) {
			t = get_time(p + (size_t)i * LMDB_TIME_SIZE);
			if (t > now - (int64_t)window)
				times[n++] = t;
		}
	}
	/* insert now in order (hosts' clocks may disagree a little) */
	for (j = n; j > 0 && times[j - 1] > now; j--)
		times[j] = times[j - 1];
	times[j] = now;
	n++;
	if (n > after) {	/* keep the newest after */
		memmove(times, times + (n - after), after * sizeof(*times));
		n = after;
	}
	return n;
}

/* store_lmdb_lock_strike - store_lock_strike for LMDB: one write transaction */
int store_lmdb_lock_strike(struct store *store, const char *user, size_t user_len,
			   uint32_t after, uint32_t window, const char *reason, int64_t now,
			   uint32_t *strikes_r, int *locked_r, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_val k = { user_len, (void *)user }, v, lv;
	int64_t times[STORE_LOCK_AFTER_MAX + 1];
	const char *step;
	unsigned char *p;
	MDB_txn *txn;
	uint32_t n, i;
	int rc;

	if (store_lmdb_check_key_len(s, user_len, "user name", error_r) < 0)
		return STORE_ERROR;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "strike: begin transaction", rc);
		return STORE_ERROR;
	}
	step = "strike: read";
	rc = mdb_get(txn, s->strikes_dbi, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	n = strikes_update(rc == 0 ? &v : NULL, after, window, now, times);
	v.mv_size = LMDB_EXPIRY_SIZE + (size_t)n * LMDB_TIME_SIZE;
	v.mv_data = NULL;
	step = "strike: write";
	rc = mdb_put(txn, s->strikes_dbi, &k, &v, MDB_RESERVE);
	if (rc != 0)
		goto fail;
	p = v.mv_data;
	store_lmdb_put_expiry(p, times[n - 1] + (int64_t)window);
	for (i = 0; i < n; i++)
		put_time(p + LMDB_EXPIRY_SIZE + (size_t)i * LMDB_TIME_SIZE, times[i]);
	*strikes_r = n;
	if (n >= after) {
		step = "strike: lock";
		rc = mdb_get(txn, s->locks_dbi, &k, &lv);
		if (rc == MDB_NOTFOUND) {
			rc = lock_put(s, txn, &k, reason, now);
			if (rc == 0)
				*locked_r = 1;
		}
		if (rc != 0)
			goto fail;
	}
	step = "strike: sweep";
	rc = store_lmdb_sweep_tick(txn, s->strikes_dbi, &s->strikes_sweep, now);
	if (rc != 0)
		goto fail;
	if (lmdb_commit(s, txn, "strike: commit", error_r) != STORE_OK) {
		*locked_r = 0;
		*strikes_r = 0;
		return STORE_ERROR;
	}
	return STORE_OK;
fail:
	mdb_txn_abort(txn);
	*locked_r = 0;
	*strikes_r = 0;
	*error_r = store_lmdb_error(s, step, rc);
	return STORE_ERROR;
}

/* store_lmdb_locks_list - store_locks_list for LMDB: one read transaction */
int store_lmdb_locks_list(struct store *store,
			  void (*emit)(void *ctx, const char *user, size_t user_len,
				       int64_t since, const char *reason),
			  void *ctx, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	struct store_lock_info info;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "locks: begin read transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_cursor_open(txn, s->locks_dbi, &cur);
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r = store_lmdb_error(s, "locks: cursor", rc);
		return STORE_ERROR;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		lock_info(&v, &info);
		emit(ctx, k.mv_data, k.mv_size, info.since, info.reason);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND) {
		*error_r = store_lmdb_error(s, "locks: read", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* events_trim - delete the oldest events past STORE_EVENTS_KEEP in txn */
static int events_trim(struct store_lmdb *s, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_stat stat;
	MDB_val k, v;
	size_t extra;
	int rc;

	rc = mdb_stat(txn, s->events_dbi, &stat);
	if (rc != 0 || stat.ms_entries <= STORE_EVENTS_KEEP)
		return rc;
	extra = stat.ms_entries - STORE_EVENTS_KEEP;
	rc = mdb_cursor_open(txn, s->events_dbi, &cur);
	if (rc != 0)
		return rc;
	/* usually one: each add trims what it adds */
	for (rc = 0; rc == 0 && extra > 0; extra--) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		if (rc == 0)
			rc = mdb_cursor_del(cur, 0);
	}
	mdb_cursor_close(cur);
	return rc;
}

/* store_lmdb_event_add - store_event_add for LMDB: append and trim in one transaction */
int store_lmdb_event_add(struct store *store, const char *text, size_t len, int64_t now,
			 const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	unsigned char seq[8];
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_txn *txn;
	int64_t last = 0;
	const char *step;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "event: begin transaction", rc);
		return STORE_ERROR;
	}
	step = "event: last sequence";
	rc = mdb_cursor_open(txn, s->events_dbi, &cur);
	if (rc != 0)
		goto fail;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == sizeof(seq))
		last = get_time(k.mv_data);
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	put_time(seq, last + 1);
	k.mv_size = sizeof(seq);
	k.mv_data = seq;
	v.mv_size = LMDB_TIME_SIZE + len;
	v.mv_data = NULL;
	step = "event: write";
	rc = mdb_put(txn, s->events_dbi, &k, &v, MDB_RESERVE | MDB_APPEND);
	if (rc != 0)
		goto fail;
	put_time(v.mv_data, now);
	memcpy((unsigned char *)v.mv_data + LMDB_TIME_SIZE, text, len);
	step = "event: trim";
	rc = events_trim(s, txn);
	if (rc != 0)
		goto fail;
	return lmdb_commit(s, txn, "event: commit", error_r);
fail:
	mdb_txn_abort(txn);
	*error_r = store_lmdb_error(s, step, rc);
	return STORE_ERROR;
}

/* store_lmdb_events_list - store_events_list for LMDB: newest first, one read transaction */
int store_lmdb_events_list(struct store *store, size_t max,
			   void (*emit)(void *ctx, int64_t time, const char *text, size_t len),
			   void *ctx, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	size_t seen = 0;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "events: begin read transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_cursor_open(txn, s->events_dbi, &cur);
	if (rc != 0) {
		mdb_txn_abort(txn);
		*error_r = store_lmdb_error(s, "events: cursor", rc);
		return STORE_ERROR;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && seen < max;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if (v.mv_size < LMDB_TIME_SIZE)
			continue;	/* not ours: skip */
		emit(ctx, get_time(v.mv_data), (const char *)v.mv_data + LMDB_TIME_SIZE,
		     v.mv_size - LMDB_TIME_SIZE);
		seen++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = store_lmdb_error(s, "events: read", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}
