/*
 * NAME
 *	store_lmdb_distinct - the address set of a distinct-recipients limit (LMDB)
 * SUMMARY
 *	store_lmdb_set_scan/find/put/trim/drop, for store_lmdb_limits.c
 * DESCRIPTION
 *	A distinct-recipients limit's addresses live in two databases under
 *	the limit's "limits" key, each a sorted set of 16-byte duplicates
 *	(MDB_DUPSORT | MDB_DUPFIXED): "distinct-hash" holds (hash, time)
 *	sorted by hash, "distinct-time" (time, hash) sorted by time; hash and
 *	time big-endian, time with its sign bit flipped so that the bytes sort
 *	like the numbers.  The layout, the counting and the expiry rules are
 *	described in store_lmdb_limits.c, which calls these inside its one
 *	write (or read) transaction, through its cursors (struct
 *	lmdb_cursors).
 * DIAGNOSTICS
 *	-1 with *error_r "limits: address set WHAT: LMDB's text".
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store/limit_record.h"
#include "store/store_lmdb-private.h"

#define SET_ENTRY 16		/* a duplicate: (hash, time) or (time, hash) */
#define TIME_BIAS ((uint64_t)1 << 63)


/* put_be64 - v big-endian at p */
static void put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* get_be64 - the big-endian 64-bit value at p */
static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* time_bits - t as bytes that sort like the numbers */
static uint64_t time_bits(int64_t t)
{
	return (uint64_t)t ^ TIME_BIAS;
}

/* bits_time - time_bits undone */
static int64_t bits_time(uint64_t v)
{
	v ^= TIME_BIAS;
	return v <= INT64_MAX ? (int64_t)v : -(int64_t)(UINT64_MAX - v) - 1;
}

/* by_hash - the "distinct-hash" duplicate of (hash, t) into buf */
static MDB_val by_hash(unsigned char *buf, uint64_t hash, int64_t t)
{
	MDB_val v = { SET_ENTRY, buf };

	put_be64(buf, hash);
	put_be64(buf + 8, time_bits(t));
	return v;
}

/* by_time - the "distinct-time" duplicate of (hash, t) into buf */
static MDB_val by_time(unsigned char *buf, uint64_t hash, int64_t t)
{
	MDB_val v = { SET_ENTRY, buf };

	put_be64(buf, time_bits(t));
	put_be64(buf + 8, hash);
	return v;
}

/* store_lmdb_addr_counts - does an address last used at t count at now (sliding interval)? */
bool store_lmdb_addr_counts(int64_t t, uint32_t interval, int64_t now)
{
	return t > INT64_MAX - (int64_t)interval || now < t + (int64_t)interval;
}

/* set_error - "limits: WHAT: LMDB's text" */
static int set_error(const struct lmdb_set *set, const char *what, int rc,
		     const char **error_r)
{
	char context[64];

	snprintf(context, sizeof(context), "limits: address set %s", what);
	*error_r = store_lmdb_error(set->s, context, rc);
	return -1;
}

/*
 * store_lmdb_set_scan - what the set holds at now for a record with window and
 * interval: *count_r every address stored, and in *view those that count
 * (sliding: the oldest ones whose time has passed are skipped) and the
 * oldest of them; has_hash is left alone.  0 or -1 with *error_r.
 */
int store_lmdb_set_scan(const struct lmdb_set *set, bool sliding, uint32_t interval, int64_t now,
		    size_t *count_r, struct limit_set_view *view, const char **error_r)
{
	MDB_cursor *cur;
	MDB_val k = set->key, v;
	size_t count = 0, dead = 0;
	int rc;

	view->live = 0;
	view->oldest = 0;
	*count_r = 0;
	rc = store_lmdb_cursors_get(set->cs, CUR_TIME, &cur);
	if (rc != 0)
		return set_error(set, "cursor", rc, error_r);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	if (rc == 0)
		rc = mdb_cursor_count(cur, &count);
	if (rc == 0 && sliding) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST_DUP);
		if (rc == 0 && v.mv_size == SET_ENTRY &&
		    !store_lmdb_addr_counts(bits_time(get_be64(v.mv_data)), interval, now)) {
			dead = count;	/* the newest has passed: all have */
		} else if (rc == 0) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST_DUP);
			while (rc == 0 && v.mv_size == SET_ENTRY &&
			       !store_lmdb_addr_counts(bits_time(get_be64(v.mv_data)), interval, now)) {
				dead++;
				rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
			}
		}
	} else if (rc == 0) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST_DUP);
	}
	if (rc == 0 && dead < count && v.mv_size == SET_ENTRY)
		view->oldest = bits_time(get_be64(v.mv_data));
	if (rc != 0 && rc != MDB_NOTFOUND)
		return set_error(set, "read", rc, error_r);
	*count_r = count;
	view->live = count - dead;
	return 0;
}

/*
 * store_lmdb_set_find - is hash in the set?  *time_r gets its time.  0 (absent or
 * present) or -1 with *error_r.
 */
int store_lmdb_set_find(const struct lmdb_set *set, uint64_t hash, bool *found_r, int64_t *time_r,
		    const char **error_r)
{
	unsigned char buf[SET_ENTRY];
	MDB_cursor *cur;
	MDB_val k = set->key, v = by_hash(buf, hash, INT64_MIN);
	int rc;

	*found_r = false;
	rc = store_lmdb_cursors_get(set->cs, CUR_HASH, &cur);
	if (rc != 0)
		return set_error(set, "cursor", rc, error_r);
	/* the first duplicate >= (hash, the smallest time): hash's own if any */
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
	if (rc == 0 && v.mv_size == SET_ENTRY && memcmp(v.mv_data, buf, 8) == 0) {
		*found_r = true;
		*time_r = bits_time(get_be64((const unsigned char *)v.mv_data + 8));
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return set_error(set, "look-up", rc, error_r);
	return 0;
}

/* store_lmdb_set_drop - empty the set (both databases); 0 or -1 with *error_r */
int store_lmdb_set_drop(const struct lmdb_set *set, const char **error_r)
{
	MDB_val k = set->key;
	int rc;

	rc = mdb_del(set->txn, set->s->dhash_dbi, &k, NULL);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_del(set->txn, set->s->dtime_dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return set_error(set, "drop", rc, error_r);
	return 0;
}

/* set_remove - delete (hash, t) from both databases; 0 or an LMDB code */
static int set_remove(const struct lmdb_set *set, uint64_t hash, int64_t t)
{
	unsigned char buf[SET_ENTRY];
	MDB_val k = set->key, v = by_hash(buf, hash, t);
	int rc;

	rc = mdb_del(set->txn, set->s->dhash_dbi, &k, &v);
	if (rc == 0 || rc == MDB_NOTFOUND) {
		k = set->key;
		v = by_time(buf, hash, t);
		rc = mdb_del(set->txn, set->s->dtime_dbi, &k, &v);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * store_lmdb_set_put - hash used at t: added, or its time moved to t when older;
 * *added_r says whether it is new.  0 or -1 with *error_r.
 */
int store_lmdb_set_put(const struct lmdb_set *set, uint64_t hash, int64_t t, bool *added_r,
		   const char **error_r)
{
	unsigned char buf[SET_ENTRY];
	MDB_val k, v;
	int64_t old;
	bool found;
	int rc;

	*added_r = false;
	if (store_lmdb_set_find(set, hash, &found, &old, error_r) < 0)
		return -1;
	if (found && old >= t)
		return 0;
	if (found) {
		/* store_lmdb_set_find left the hash cursor on (hash, old): delete it there */
		rc = mdb_cursor_del(set->cs->cur[CUR_HASH], 0);
		if (rc == 0) {
			k = set->key;
			v = by_time(buf, hash, old);
			rc = mdb_del(set->txn, set->s->dtime_dbi, &k, &v);
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			return set_error(set, "delete", rc, error_r);
	}
	k = set->key;
	v = by_hash(buf, hash, t);
	rc = mdb_put(set->txn, set->s->dhash_dbi, &k, &v, 0);
	if (rc == 0) {
		k = set->key;
		v = by_time(buf, hash, t);
		rc = mdb_put(set->txn, set->s->dtime_dbi, &k, &v, 0);
	}
	if (rc != 0)
		return set_error(set, "write", rc, error_r);
	*added_r = !found;
	return 0;
}

/*
 * store_lmdb_set_trim - drop the addresses that no longer count at now (sliding),
 * oldest first: all at once when the newest has passed.  0 or -1.
 */
int store_lmdb_set_trim(const struct lmdb_set *set, uint32_t interval, int64_t now,
		    const char **error_r)
{
	MDB_cursor *cur;
	MDB_val k = set->key, v;
	uint64_t hash;
	int64_t t;
	int rc;

	rc = store_lmdb_cursors_get(set->cs, CUR_TIME, &cur);
	if (rc != 0)
		return set_error(set, "cursor", rc, error_r);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	if (rc == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST_DUP);
	if (rc == 0 && v.mv_size == SET_ENTRY &&
	    !store_lmdb_addr_counts(bits_time(get_be64(v.mv_data)), interval, now))
		return store_lmdb_set_drop(set, error_r);
	if (rc == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST_DUP);
	while (rc == 0 && v.mv_size == SET_ENTRY) {
		t = bits_time(get_be64(v.mv_data));
		if (store_lmdb_addr_counts(t, interval, now))
			break;
		hash = get_be64((const unsigned char *)v.mv_data + 8);
		rc = set_remove(set, hash, t);
		if (rc == 0) {
			/* the cursor's page may have changed under the deletes: seek again */
			k = set->key;
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
		}
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return set_error(set, "expiry", rc, error_r);
	return 0;
}
