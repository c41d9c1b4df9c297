/*
 * NAME
 *	store_redis_limits - the limits operations of the Redis engine
 * SUMMARY
 *	store_redis_limits_reserve/commit/release/usage/reset/top, for
 *	redis_ops, and store_redis_scan
 * DESCRIPTION
 *	Limits (store_limits_*).  Each call is one call of redis/limits.lua
 *	with the limit's hash "chapps:l:<id>:" + owner and, for a distinct
 *	limit (and for every limit at reset), its address set
 *	"chapps:lh:<id>:" + owner (distinct recipients: a sorted set hash ->
 *	time of last use); id 0 is the quota hash of store_redis_quota.c,
 *	kept in quota.lua's format (its fast path included), so the single
 *	quota and id 0 are one state.  The script checks every limit before
 *	it writes any, keeps running aggregates (sum, oldest and newest
 *	bucket, reservations) so that a decision reads a few fields whatever
 *	the window holds, and gives every key a TTL longer than what it
 *	holds.  store_limits_top SCANs "chapps:l:<id>:*" (or "chapps:q:*")
 *	and asks the script for each key's usage.  Redis Cluster: a domain
 *	pool's keys and its users' share the domain's tag (store_redis.c).
 *	A limit travels as one argument (limit_arg, written without stdio):
 *	each argument costs hiredis a formatting step and the server a
 *	conversion, and with 13 a limit those were most of the milter's cost
 *	of a call (bench/limits-cost, three limits: 160,000 instructions a
 *	decision before, 47,000 after, as the single quota).  Its 12 numbers
 *	are little-endian doubles, read by the script with one struct.unpack:
 *	in decimal, a string.match and a tonumber (strtod) each were most of
 *	the script's cost of reading a limit.
 *
 *	store_redis_scan SCANs a prefix on every master, for limits top and
 *	the lock list (operator commands, never on the decision path).
 * DIAGNOSTICS
 *	Failures return STORE_ERROR with *error_r pointing to a thread-local
 *	buffer that names the server and the failing step, valid until the
 *	next call from the same thread (store_redis.c).
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/xalloc.h"
#include "store/limit_record.h"
#include "store/store_redis-private.h"

#define LIMITS_ARG_MAX 256	/* one limit's packed argument, at most (13 numbers) */
#define LIMITS_OWNER_BYTES 320	/* owners up to this many bytes: keys built in place */
#define LIMITS_KEY_MAX (40 + REDIS_TAG_MAX + 2 + LIMITS_OWNER_BYTES)
#define LIMITS_ARGC (3 + 2 * STORE_LIMITS_MAX + 6 + STORE_LIMITS_MAX)
#define LIMITS_TOO_MANY 2	/* script status: a new reservation over the cap */
#define LIMITS_TOO_MANY_RCPT 3	/* script status: too many hashes in a reservation */
#define LIMITS_SCAN_COUNT "1000"

enum limits_op { LIM_RESERVE, LIM_COMMIT, LIM_RELEASE, LIM_USAGE, LIM_RESET };

static const char *const limits_op_names[] = { "reserve", "commit", "release", "usage",
					       "reset" };

/*
 * limit_key - the limit's hash ("chapps:l:<id>:" + owner, or for id 0 the
 * quota hash "chapps:q:" + owner) or, with set, its address set
 * ("chapps:lh:<id>:" + owner); built by store_redis_key like every key
 */
static char *limit_key(const struct store_redis *rs, const struct store_limit *l, bool set,
		       size_t *len_r)
{
	char prefix[40];
	struct redis_tag t;

	store_redis_tag_owner(rs, l->owner, l->owner_len, &t);
	if (l->id == 0 && !set)
		return store_redis_tkey(REDIS_QUOTA_PREFIX, &t, l->owner, l->owner_len, len_r);
	snprintf(prefix, sizeof(prefix), "%s%" PRIu32 ":",
		 set ? REDIS_LIMITS_SET_PREFIX : REDIS_LIMITS_PREFIX, l->id);
	return store_redis_tkey(prefix, &t, l->owner, l->owner_len, len_r);
}

/* put_u64 - v in decimal at p, then sep unless it is '\0'; returns the end */
static char *put_u64(char *p, uint64_t v, char sep)
{
	char t[20];
	size_t n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = t[--n];
	if (sep != '\0')
		*p++ = sep;
	return p;
}

/* put_i64 - put_u64 for a signed v */
static char *put_i64(char *p, int64_t v, char sep)
{
	if (v >= 0)
		return put_u64(p, (uint64_t)v, sep);
	*p++ = '-';
	return put_u64(p, (uint64_t)0 - (uint64_t)v, sep);
}

/*
 * put_num - v as a little-endian IEEE double at p (Lua's struct.unpack
 * "<d": a copy, no conversion); returns the end.  Every number sent is
 * an integer below 2^53 (store.h: STORE_LIMIT_MAX), so exact.
 */
static char *put_num(char *p, double v)
{
	uint64_t u;
	int k;

	memcpy(&u, &v, sizeof(u));
	for (k = 0; k < 8; k++)
		*p++ = (char)(u >> (8 * k));
	return p;
}

/*
 * limit_arg - a limit's one script argument: 12 numbers as doubles
 * ("count window interval resolution period_start period_end id max margin
 * reservation_ttl amount final", final -1: none), the rcpt hash in 16 hex
 * digits, then the definition "count window interval resolution
 * period_start period_end" in decimal, as the script stores it in "d";
 * returns its length
 */
static size_t limit_arg(char *buf, const struct store_limit *l,
			const struct store_limit_ask *ask, const uint64_t *final)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = ask != NULL ? ask->rcpt_hash : 0;
	uint32_t res = l->resolution > 0 ? l->resolution : 1;
	char *p = buf;
	int k;

	p = put_num(p, (double)l->count);
	p = put_num(p, (double)l->window);
	p = put_num(p, (double)l->interval);
	p = put_num(p, (double)res);
	p = put_num(p, (double)l->period_start);
	p = put_num(p, (double)l->period_end);
	p = put_num(p, (double)l->id);
	p = put_num(p, (double)l->max);
	p = put_num(p, (double)l->margin);
	p = put_num(p, (double)l->reservation_ttl);
	p = put_num(p, (double)(ask != NULL ? ask->amount : 0));
	p = put_num(p, final != NULL && *final != UINT64_MAX ? (double)*final : -1.0);
	for (k = 15; k >= 0; k--)
		*p++ = hex[(h >> (4 * k)) & 0xf];
	p = put_u64(p, (uint64_t)l->count, ' ');
	p = put_u64(p, (uint64_t)l->window, ' ');
	p = put_u64(p, l->interval, ' ');
	p = put_u64(p, res, ' ');
	p = put_i64(p, l->period_start, ' ');
	p = put_i64(p, l->period_end, '\0');
	return (size_t)(p - buf);
}

/*
 * limits_head - the script's third argument: now, the expire slack, the
 * cap of reservations and of buckets, as doubles; returns its length
 */
static size_t limits_head(char *buf, int64_t now)
{
	char *p = buf;

	p = put_num(p, (double)now);
	p = put_num(p, REDIS_EXPIRE_SLACK);
	p = put_num(p, LIMIT_RECORD_RESV_MAX);
	p = put_num(p, LIMIT_RECORD_BUCKETS_MAX);
	return (size_t)(p - buf);
}

/*
 * limits_parse - the script's reply: status, refusing index and n states
 * (commit and release: the status and index only)
 */
static int limits_parse(const redisReply *reply, enum limits_op op, size_t n,
			size_t *refused_r, struct store_limit_state *states)
{
	long long v[2 + 4 * STORE_LIMITS_MAX];
	size_t i, want = op == LIM_COMMIT || op == LIM_RELEASE ? 2 : 2 + 4 * n;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != want)
		return STORE_ERROR;
	for (i = 0; i < want; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER ||
		    reply->element[i]->integer < 0)
			return STORE_ERROR;
		v[i] = reply->element[i]->integer;
	}
	if (v[0] > LIMITS_TOO_MANY_RCPT || (v[0] != 0 && (v[1] < 1 || (size_t)v[1] > n)))
		return STORE_ERROR;
	for (i = 0; states != NULL && want > 2 && i < n; i++) {
		states[i].committed = (uint64_t)v[2 + 4 * i];
		states[i].reserved = (uint64_t)v[3 + 4 * i];
		states[i].own = (uint64_t)v[4 + 4 * i];
		states[i].next_free = v[5 + 4 * i];
	}
	if (refused_r != NULL && v[0] != 0)
		*refused_r = (size_t)v[1] - 1;
	return v[0] == 0 ? STORE_OK : v[0] == 1 ? STORE_REFUSED : (int)v[0];
}

/*
 * limits_key_into - limit_key into buf (LIMITS_KEY_MAX bytes, an owner up
 * to LIMITS_OWNER_BYTES; a longer one takes limit_key's heap copy, set in
 * *heap_r); returns the key
 */
static const char *limits_key_into(const struct store_redis *rs, char *buf,
				   const struct store_limit *l, bool set, size_t *len_r,
				   char **heap_r)
{
	struct redis_tag t;
	const char *prefix = l->id == 0 && !set ? REDIS_QUOTA_PREFIX
			   : set ? REDIS_LIMITS_SET_PREFIX : REDIS_LIMITS_PREFIX;
	size_t plen = strlen(prefix);
	char *p;

	*heap_r = NULL;
	if (l->owner_len > LIMITS_OWNER_BYTES)
		return *heap_r = limit_key(rs, l, set, len_r);
	memcpy(buf, prefix, plen);
	p = buf + plen;
	if (l->id != 0 || set)
		p = put_u64(p, l->id, ':');
	store_redis_tag_owner(rs, l->owner, l->owner_len, &t);
	if (t.len > 0) {
		*p++ = '{';
		memcpy(p, t.buf, t.len);
		p += t.len;
		*p++ = '}';
	}
	memcpy(p, l->owner, l->owner_len);
	*len_r = (size_t)(p - buf) + l->owner_len;
	return buf;
}

/*
 * limits_run - one call of the limits script over the n limits: the
 * limit's hash, and its address set only where the script may touch it
 * (distinct; every limit for reset, which drops a set left by a former
 * distinct definition): each key costs the server a conversion
 */
static int limits_run_one(struct store *store, enum limits_op op, const char *resid,
		      const struct store_limit *limits, const struct store_limit_ask *asks,
		      const uint64_t *final, size_t n, int64_t now, size_t *refused_r,
		      struct store_limit_state *states, const char **error_r)
{
	const struct store_redis *rs = (const struct store_redis *)store;
	struct redis_pool *pool = rs->pool;
	char field[STORE_RESID_MAX + 2], nkeys[24], head[32];
	char (*kb)[LIMITS_KEY_MAX], (*ab)[LIMITS_ARG_MAX];
	const char *argv[LIMITS_ARGC];
	size_t lens[LIMITS_ARGC];
	char *heap[2 * STORE_LIMITS_MAX];
	redisReply *reply;
	size_t i, argc = 0, keys = 0;
	int ret;

	/* one block for the keys and the arguments: no formatting through stdio */
	kb = xmalloc(n * (2 * sizeof(*kb) + sizeof(*ab)));
	ab = (char (*)[LIMITS_ARG_MAX])(kb + 2 * n);
	argv[argc] = "EVALSHA";
	lens[argc++] = 7;
	argv[argc] = "";	/* the SHA1, filled in by redis_pool_exec */
	lens[argc++] = 0;
	argv[argc] = nkeys;	/* the number of keys, set below */
	argc++;
	for (i = 0; i < n; i++) {
		heap[2 * i + 1] = NULL;
		argv[argc] = limits_key_into(rs, kb[2 * i], &limits[i], false, &lens[argc],
					     &heap[2 * i]);
		argc++;
		if (limits[i].count == STORE_COUNT_DISTINCT || op == LIM_RESET) {
			argv[argc] = limits_key_into(rs, kb[2 * i + 1], &limits[i], true, &lens[argc],
						     &heap[2 * i + 1]);
			argc++;
		}
	}
	keys = argc - 3;
	lens[2] = (size_t)(put_u64(nkeys, keys, '\0') - nkeys);
	argv[argc] = limits_op_names[op];
	lens[argc] = strlen(argv[argc]);
	argc++;
	lens[argc] = store_redis_resid_field(field, resid);
	argv[argc++] = field;
	argv[argc] = head;
	lens[argc++] = limits_head(head, now);
	for (i = 0; i < n; i++) {
		lens[argc] = limit_arg(ab[i], &limits[i], asks != NULL ? &asks[i] : NULL,
				       final != NULL ? &final[i] : NULL);
		argv[argc++] = ab[i];
	}

	reply = redis_pool_exec(pool, REDIS_SCRIPT_LIMITS, (int)argc, argv, lens, error_r);
	for (i = 0; i < 2 * n; i++)
		if (heap[i] != NULL)
			XFREE(heap[i]);
	XFREE(kb);
	if (reply == NULL)
		return STORE_ERROR;
	ret = limits_parse(reply, op, n, refused_r, states);
	freeReplyObject(reply);
	if (ret == STORE_ERROR)
		*error_r = redis_error("redis: limits %s: malformed script reply",
				       limits_op_names[op]);
	else if (ret == LIMITS_TOO_MANY)
		*error_r = "too many open reservations";
	else if (ret == LIMITS_TOO_MANY_RCPT)
		*error_r = "too many recipients in one reservation";
	if (ret == LIMITS_TOO_MANY || ret == LIMITS_TOO_MANY_RCPT)
		ret = STORE_ERROR;
	return ret;
}

/*
 * limits_run - limits_run_one, or in cluster mode, when the limits' tags
 * differ (owners of different domains: never a call of the policy, whose
 * user and pool share the domain's tag, but the store's contract allows
 * it), one call per tag in the order of the limits: a reserve that a
 * later group refuses (or fails) releases the earlier groups' reservation,
 * so no limit ever counts more than it grants (a message racing with it
 * may be refused by the short-lived reservation: never over-admitted);
 * the other operations are per limit anyway
 */
static int limits_run(struct store *store, enum limits_op op, const char *resid,
		      const struct store_limit *limits, const struct store_limit_ask *asks,
		      const uint64_t *final, size_t n, int64_t now, size_t *refused_r,
		      struct store_limit_state *states, const char **error_r)
{
	const struct store_redis *rs = (const struct store_redis *)store;
	struct redis_tag tags[STORE_LIMITS_MAX], t0;
	struct store_limit sl[STORE_LIMITS_MAX];
	struct store_limit_ask sa[STORE_LIMITS_MAX];
	struct store_limit_state ss[STORE_LIMITS_MAX];
	uint64_t sf[STORE_LIMITS_MAX];
	size_t idx[STORE_LIMITS_MAX], i, j, k, m, refused = 0;
	bool same = true, grouped[STORE_LIMITS_MAX] = { false };
	bool granted[STORE_LIMITS_MAX] = { false };
	int ret = STORE_OK;

	if (!rs->cluster || n < 2 || n > STORE_LIMITS_MAX)
		return limits_run_one(store, op, resid, limits, asks, final, n, now, refused_r,
				      states, error_r);
	for (i = 0; i < n; i++) {
		store_redis_tag_owner(rs, limits[i].owner, limits[i].owner_len, &tags[i]);
		if (tags[i].len != tags[0].len ||
		    memcmp(tags[i].buf, tags[0].buf, tags[0].len) != 0)
			same = false;
	}
	if (same)
		return limits_run_one(store, op, resid, limits, asks, final, n, now, refused_r,
				      states, error_r);
	for (i = 0; i < n && ret == STORE_OK; i++) {
		if (grouped[i])
			continue;
		t0 = tags[i];
		for (m = 0, j = i; j < n; j++) {
			if (grouped[j] || tags[j].len != t0.len ||
			    memcmp(tags[j].buf, t0.buf, t0.len) != 0)
				continue;
			grouped[j] = true;
			idx[m] = j;
			sl[m] = limits[j];
			if (asks != NULL)
				sa[m] = asks[j];
			if (final != NULL)
				sf[m] = final[j];
			m++;
		}
		ret = limits_run_one(store, op, resid, sl, asks != NULL ? sa : NULL,
				     final != NULL ? sf : NULL, m, now, &refused,
				     states != NULL ? ss : NULL, error_r);
		for (k = 0; states != NULL && ret != STORE_ERROR && k < m; k++)
			states[idx[k]] = ss[k];
		for (k = 0; ret == STORE_OK && k < m; k++)
			granted[idx[k]] = true;
		if (ret == STORE_REFUSED && refused_r != NULL)
			*refused_r = idx[refused < m ? refused : 0];
	}
	if (ret != STORE_OK && op == LIM_RESERVE) {
		/* undo the groups that granted, one release per group */
		char saved[REDIS_ERROR_COPY];

		snprintf(saved, sizeof(saved), "%s", ret == STORE_ERROR ? *error_r : "");
		for (i = 0; i < n; i++) {
			const char *ignored;

			if (!granted[i])
				continue;
			for (m = 0, j = i; j < n; j++)
				if (granted[j] && tags[j].len == tags[i].len &&
				    memcmp(tags[j].buf, tags[i].buf, tags[i].len) == 0) {
					granted[j] = false;
					sl[m++] = limits[j];
				}
			limits_run_one(store, LIM_RELEASE, resid, sl, NULL, NULL, m, now, NULL,
				       NULL, &ignored);
		}
		if (ret == STORE_ERROR)
			*error_r = redis_error("%s", saved);
	}
	return ret;
}

/* store_redis_limits_reserve - store_limits_reserve */
int store_redis_limits_reserve(struct store *store, const char *resid,
			       const struct store_limit *limits, const struct store_limit_ask *asks,
			       size_t n, int64_t now, size_t *refused_r,
			       struct store_limit_state *states, const char **error_r)
{
	return limits_run(store, LIM_RESERVE, resid, limits, asks, NULL, n, now, refused_r,
			  states, error_r);
}

/* store_redis_limits_commit - store_limits_commit */
int store_redis_limits_commit(struct store *store, const char *resid,
			      const struct store_limit *limits, const uint64_t *final, size_t n,
			      int64_t now, const char **error_r)
{
	return limits_run(store, LIM_COMMIT, resid, limits, NULL, final, n, now, NULL, NULL,
			  error_r);
}

/* store_redis_limits_release - store_limits_release */
int store_redis_limits_release(struct store *store, const char *resid,
			       const struct store_limit *limits, size_t n, int64_t now,
			       const char **error_r)
{
	return limits_run(store, LIM_RELEASE, resid, limits, NULL, NULL, n, now, NULL, NULL,
			  error_r);
}

/* store_redis_limits_usage - store_limits_usage */
int store_redis_limits_usage(struct store *store, const struct store_limit *limits, size_t n,
			     int64_t now, struct store_limit_state *states, const char **error_r)
{
	return limits_run(store, LIM_USAGE, NULL, limits, NULL, NULL, n, now, NULL, states,
			  error_r);
}

/* store_redis_limits_reset - store_limits_reset */
int store_redis_limits_reset(struct store *store, const struct store_limit *limits, size_t n,
			     const char **error_r)
{
	return limits_run(store, LIM_RESET, NULL, limits, NULL, NULL, n, 0, NULL, NULL, error_r);
}

/* limits_top_one - the committed usage of the limit whose hash is key */
static int limits_top_one(struct redis_pool *pool, uint32_t id, const char *key, size_t key_len,
			  size_t prefix_len, int64_t now, uint64_t *committed_r,
			  const char **error_r)
{
	const char *argv[8];
	size_t lens[8];
	char head[32], *set = NULL;
	redisReply *reply;
	int i, ret = STORE_OK;

	argv[0] = "EVALSHA";
	argv[1] = "";
	argv[2] = "2";
	argv[3] = key;
	lens[3] = key_len;
	if (id == 0) {
		argv[4] = key;
		lens[4] = key_len;
	} else {
		/* the address set: the same owner under the set prefix */
		char prefix[40];

		snprintf(prefix, sizeof(prefix), "%s%" PRIu32 ":", REDIS_LIMITS_SET_PREFIX, id);
		set = store_redis_key(prefix, key + prefix_len, key_len - prefix_len, &lens[4]);
		argv[4] = set;
	}
	argv[5] = id == 0 ? "qtop" : "top";
	argv[6] = "r";
	argv[7] = head;
	lens[7] = limits_head(head, now);
	for (i = 0; i < 7; i++)
		if (i != 3 && i != 4)
			lens[i] = strlen(argv[i]);
	reply = redis_pool_exec(pool, REDIS_SCRIPT_LIMITS, 8, argv, lens, error_r);
	XFREE(set);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[0]->integer < 0) {
		*error_r = redis_error("redis: limits top: malformed script reply");
		ret = STORE_ERROR;
	} else {
		*committed_r = (uint64_t)reply->element[0]->integer;
	}
	freeReplyObject(reply);
	return ret;
}

/*
 * store_redis_scan - SCAN every key matching pattern (a prefix of plen bytes and
 * "*"), calling each(ctx, key, len) for each key longer than the prefix,
 * until it returns other than STORE_OK (returned) or the scan ends.  what
 * names the caller in errors.  In cluster mode every master is scanned in
 * turn (a key lives on one master).  An operator command, never on the
 * decision path.
 */
int store_redis_scan(struct redis_pool *pool, const char *pattern, size_t plen,
		     int (*each)(void *ctx, const char *key, size_t len), void *ctx,
		     const char *what, const char **error_r)
{
	char cursor[32];
	const char *argv[6] = { "SCAN", cursor, "MATCH", pattern, "COUNT", LIMITS_SCAN_COUNT };
	size_t lens[6], i, m, masters;
	redisReply *reply;
	int k, ret = STORE_OK;

	masters = redis_pool_masters(pool, error_r);
	if (masters == 0)
		return STORE_ERROR;
	for (m = 0; m < masters && ret == STORE_OK; m++) {
		strcpy(cursor, "0");
		do {
			for (k = 0; k < 6; k++)
				lens[k] = strlen(argv[k]);
			reply = redis_pool_exec_master(pool, m, 6, argv, lens, error_r);
			if (reply == NULL)
				return STORE_ERROR;
			if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
			    reply->element[0]->type != REDIS_REPLY_STRING ||
			    reply->element[0]->len >= sizeof(cursor) ||
			    reply->element[1]->type != REDIS_REPLY_ARRAY) {
				freeReplyObject(reply);
				*error_r = redis_error("redis: %s: malformed SCAN reply", what);
				return STORE_ERROR;
			}
			memcpy(cursor, reply->element[0]->str, reply->element[0]->len);
			cursor[reply->element[0]->len] = '\0';
			for (i = 0; i < reply->element[1]->elements && ret == STORE_OK; i++) {
				const redisReply *e = reply->element[1]->element[i];

				if (e->type == REDIS_REPLY_STRING && e->len > plen)
					ret = each(ctx, e->str, e->len);
			}
			freeReplyObject(reply);
		} while (ret == STORE_OK && strcmp(cursor, "0") != 0);
	}
	return ret;
}

struct top_scan {
	const struct store_redis *rs;
	struct redis_pool *pool;
	uint32_t id;
	size_t plen;
	int64_t now;
	void (*emit)(void *ctx, const char *owner, size_t owner_len, uint64_t committed);
	void *ctx;
	const char **error_r;
};

/* top_each - store_redis_scan's callback for limits top: the key's committed count */
static int top_each(void *ctx, const char *key, size_t len)
{
	struct top_scan *t = ctx;
	uint64_t committed;
	int ret = limits_top_one(t->pool, t->id, key, len, t->plen, t->now, &committed,
				 t->error_r);
	const char *owner;
	size_t owner_len;

	owner = store_redis_untag(t->rs, key, len, t->plen, &owner_len);
	if (ret == STORE_OK && committed > 0)
		t->emit(t->ctx, owner, owner_len, committed);
	return ret;
}

/* store_redis_limits_top - store_limits_top: SCAN the id's keys, one script call each */
int store_redis_limits_top(struct store *store, uint32_t id,
			   void (*emit)(void *ctx, const char *owner, size_t owner_len,
					uint64_t committed),
			   void *ctx, int64_t now, const char **error_r)
{
	struct top_scan t = { (struct store_redis *)store, ((struct store_redis *)store)->pool,
			      id, 0, now, emit, ctx, error_r };
	char prefix[40], pattern[48];

	if (id == 0)
		snprintf(prefix, sizeof(prefix), "%s", REDIS_QUOTA_PREFIX);
	else
		snprintf(prefix, sizeof(prefix), "%s%" PRIu32 ":", REDIS_LIMITS_PREFIX, id);
	t.plen = strlen(prefix);
	snprintf(pattern, sizeof(pattern), "%s*", prefix);
	return store_redis_scan(t.pool, pattern, t.plen, top_each, &t, "limits top", error_r);
}
