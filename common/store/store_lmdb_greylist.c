/*
 * NAME
 *	store_lmdb_greylist - the greylisting operations of the LMDB engine
 * SUMMARY
 *	store_lmdb_greylist_check/tally/tally_clear/peek, for lmdb_ops
 * DESCRIPTION
 *	store_greylist_check is one write transaction: read the client's
 *	tally and the tuple, apply greylist_record_decide (greylist_record.c),
 *	write the tuple (not on a DEFER_EARLY, which changes nothing) and, on
 *	a counted pass, the tally; so concurrent checks of one tuple see one
 *	first-seen time.  A tuple record's expiry is
 *	greylist_record_tuple_expiry (the first instant at which the rule
 *	would restart it anyway), so treating an expired record as absent
 *	never changes a verdict; a tally's is when its newest counter stops
 *	counting.  The grey database is swept like the cache's every
 *	LMDB_SWEEP_EVERY writing checks.
 * DIAGNOSTICS
 *	STORE_ERROR with a message naming the step and LMDB's text.  A
 *	greylist record that does not decode is treated as absent and
 *	overwritten (soft state), never an error.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <string.h>

#include "store/greylist_record.h"
#include "store/store_lmdb-private.h"

/*
 * The "grey" database.  Keys: GREY_TAG_TUPLE + the caller's tuple key, or
 * GREY_TAG_CLIENT + the caller's client key; a key that would pass LMDB's
 * key size gets the upper-case tag, its first bytes and a 16-byte digest
 * of the whole (grey_key).  Values start, like the cache's, with the
 * 8-byte big-endian expiry (the record is void at now >= expiry, so the
 * shared sweep can delete it), then:
 *   tuple   'T', i64 first, i64 last_pass (-1: never passed)
 *   tally   'C', u8 n (<= GREYLIST_TALLY_MAX), n x (i64 hour, u32 count),
 *           hours strictly increasing
 * A record that does not decode is soft state lost, not an error: it is
 * treated as absent and overwritten.
 */
#define GREY_TAG_TUPLE 't'
#define GREY_TAG_CLIENT 'c'
#define GREY_DIGEST_SIZE 16
#define GREY_TUPLE_SIZE (LMDB_EXPIRY_SIZE + 1 + 8 + 8)
#define GREY_TALLY_SIZE(n) (LMDB_EXPIRY_SIZE + 2 + (size_t)(n) * 12)

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
static bool grey_tuple_decode(const MDB_val *v, int64_t now, struct greylist_record_tuple *t)
{
	const unsigned char *p = v->mv_data;

	if (v->mv_size != GREY_TUPLE_SIZE || p[LMDB_EXPIRY_SIZE] != 'T' ||
	    now >= store_lmdb_get_expiry(p))
		return false;
	t->first = (int64_t)get_be(p + LMDB_EXPIRY_SIZE + 1, 8);
	t->last_pass = (int64_t)get_be(p + LMDB_EXPIRY_SIZE + 9, 8);
	return t->first >= 0 && t->first <= STORE_NOW_MAX && t->last_pass >= -1 &&
		t->last_pass <= STORE_NOW_MAX;
}

/* grey_tally_decode - the tally record into *c (empty when corrupt) */
static void grey_tally_decode(const MDB_val *v, struct greylist_record_tally *c)
{
	const unsigned char *p = v->mv_data;
	unsigned int n;

	c->n = 0;
	if (v->mv_size < GREY_TALLY_SIZE(0) || p[LMDB_EXPIRY_SIZE] != 'C')
		return;
	n = p[LMDB_EXPIRY_SIZE + 1];
	if (n > GREYLIST_TALLY_MAX || v->mv_size != GREY_TALLY_SIZE(n))
		return;
	p += GREY_TALLY_SIZE(0);
	for (unsigned int i = 0; i < n; i++, p += 12) {
		c->hour[i] = (int64_t)get_be(p, 8);
		c->count[i] = (uint32_t)get_be(p + 8, 4);
		if (c->hour[i] < 0 || c->hour[i] > STORE_NOW_MAX / GREYLIST_TALLY_HOUR ||
		    (i > 0 && c->hour[i] <= c->hour[i - 1]))
			return;
	}
	c->n = n;
}

/* grey_put_tuple - write tuple record t under key */
static int grey_put_tuple(struct store_lmdb *s, MDB_txn *txn, MDB_val *key,
			  const struct greylist_params *p, const struct greylist_record_tuple *t)
{
	unsigned char buf[GREY_TUPLE_SIZE], *q = buf;
	MDB_val v = { sizeof(buf), buf };

	store_lmdb_put_expiry(q, greylist_record_tuple_expiry(p, t));
	q += LMDB_EXPIRY_SIZE;
	*q++ = 'T';
	q = put_be(q, (uint64_t)t->first, 8);
	put_be(q, (uint64_t)t->last_pass, 8);
	return mdb_put(txn, s->grey_dbi, key, &v, 0);
}

/* grey_put_tally - write tally record c under key, or delete it when empty */
static int grey_put_tally(struct store_lmdb *s, MDB_txn *txn, MDB_val *key,
			  const struct greylist_record_tally *c)
{
	unsigned char buf[GREY_TALLY_SIZE(GREYLIST_TALLY_MAX)], *q = buf;
	MDB_val v = { GREY_TALLY_SIZE(c->n), buf };
	int rc;

	if (c->n == 0) {
		rc = mdb_del(txn, s->grey_dbi, key, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	/* the newest counter is the last to die */
	store_lmdb_put_expiry(q, greylist_record_tally_expiry(c));
	q += LMDB_EXPIRY_SIZE;
	*q++ = 'C';
	*q++ = (unsigned char)c->n;
	for (unsigned int i = 0; i < c->n; i++) {
		q = put_be(q, (uint64_t)c->hour[i], 8);
		q = put_be(q, c->count[i], 4);
	}
	return mdb_put(txn, s->grey_dbi, key, &v, 0);
}

/* store_lmdb_greylist_check - store_greylist_check for LMDB: one write transaction */
int store_lmdb_greylist_check(struct store *store, const void *tuple, size_t tuple_len,
			      const void *client, size_t client_len,
			      const struct greylist_params *params, int64_t now, int *verdict_r,
			      const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	unsigned char tkey[LMDB_KEY_MAX], ckey[LMDB_KEY_MAX];
	MDB_val tk = { 0, tkey }, ck = { 0, ckey }, v;
	enum greylist_verdict verdict;
	struct greylist_record_tuple t = { 0, -1 };
	struct greylist_record_tally tally = { 0 };
	bool present = false;
	const char *what;
	MDB_txn *txn;
	int rc;

	tk.mv_size = grey_key(s, GREY_TAG_TUPLE, tuple, tuple_len, tkey);
	ck.mv_size = grey_key(s, GREY_TAG_CLIENT, client, client_len, ckey);
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "greylist: begin transaction", rc);
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
	verdict = greylist_record_decide(params, greylist_record_tally_sum(&tally, now), now,
					 &present, &t);
	*verdict_r = (int)verdict;
	if (verdict == GREYLIST_DEFER_EARLY) {
		mdb_txn_abort(txn);	/* nothing changes */
		return STORE_OK;
	}
	what = "greylist: write";
	rc = grey_put_tuple(s, txn, &tk, params, &t);
	if (rc == 0 && verdict != GREYLIST_DEFER_NEW && !params->uncounted) {
		greylist_record_tally_add(&tally, now);
		rc = grey_put_tally(s, txn, &ck, &tally);
	}
	if (rc == 0) {
		what = "greylist: sweep";
		rc = store_lmdb_sweep_tick(txn, s->grey_dbi, &s->grey_sweep, now);
	}
	if (rc != 0)
		goto fail;
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "greylist: commit", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
fail:
	mdb_txn_abort(txn);
	*error_r = store_lmdb_error(s, what, rc);
	return STORE_ERROR;
}

/* store_lmdb_greylist_tally - store_greylist_tally for LMDB (read-only transaction) */
int store_lmdb_greylist_tally(struct store *store, const void *client, size_t client_len,
			      int64_t now, uint32_t *count_r, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	unsigned char ckey[LMDB_KEY_MAX];
	MDB_val ck = { 0, ckey }, v;
	struct greylist_record_tally tally = { 0 };
	MDB_txn *txn;
	int rc;

	*count_r = 0;
	ck.mv_size = grey_key(s, GREY_TAG_CLIENT, client, client_len, ckey);
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "greylist: begin read transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_get(txn, s->grey_dbi, &ck, &v);
	if (rc == 0)
		grey_tally_decode(&v, &tally);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = store_lmdb_error(s, "greylist: read", rc);
		return STORE_ERROR;
	}
	*count_r = greylist_record_tally_sum(&tally, now);
	return STORE_OK;
}

/* store_lmdb_greylist_peek - store_greylist_peek for LMDB (read-only transaction) */
int store_lmdb_greylist_peek(struct store *store, const void *tuple, size_t tuple_len,
			     int64_t now, bool *present_r, struct greylist_record_tuple *tuple_r,
			     const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	unsigned char tkey[LMDB_KEY_MAX];
	MDB_val tk = { 0, tkey }, v;
	MDB_txn *txn;
	int rc;

	tk.mv_size = grey_key(s, GREY_TAG_TUPLE, tuple, tuple_len, tkey);
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		*error_r = store_lmdb_error(s, "greylist: begin read transaction", rc);
		return STORE_ERROR;
	}
	rc = mdb_get(txn, s->grey_dbi, &tk, &v);
	if (rc == 0)
		*present_r = grey_tuple_decode(&v, now, tuple_r);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = store_lmdb_error(s, "greylist: read", rc);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* store_lmdb_greylist_tally_clear - store_greylist_tally_clear for LMDB */
int store_lmdb_greylist_tally_clear(struct store *store, const void *client,
				    size_t client_len, const char **error_r)
{
	struct store_lmdb *s = (struct store_lmdb *)store;
	unsigned char ckey[LMDB_KEY_MAX];
	MDB_val ck = { 0, ckey };

	ck.mv_size = grey_key(s, GREY_TAG_CLIENT, client, client_len, ckey);
	return store_lmdb_delete_key(s, s->grey_dbi, &ck, "greylist", error_r);
}

