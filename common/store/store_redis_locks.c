/*
 * NAME
 *	store_redis_locks - locks, strikes and events of the Redis engine
 * SUMMARY
 *	store_redis_lock_get/set/clear/strike, store_redis_mail_lookup,
 *	store_redis_locks_list, store_redis_event_add/events_list, for redis_ops
 * DESCRIPTION
 *	Locks, strikes and events.  A user's lock and strikes are one hash,
 *	"chapps:k:" + the user name's bytes, with fields s (locked since), r
 *	(reason) and t (the strike times in the window); a lock has no TTL,
 *	a strikes-only hash expires when its newest strike leaves the window
 *	(plus REDIS_EXPIRE_SLACK).  set, clear and strike are calls of
 *	redis/lock.lua, so a strike and the lock it causes are one atomic
 *	step: of racing strikes exactly one sees no lock and sets it.
 *	store_lock_get is one plain HMGET (no script); store_mail_lookup
 *	sends the cache GET and that HMGET pipelined, in one round trip.  store_locks_list
 *	SCANs "chapps:k:*" and reads each hash (an operator command).  The
 *	events are one list, "chapps:events", of "<time> <text>" newest
 *	first: LPUSH and LTRIM to STORE_EVENTS_KEEP in one script call;
 *	store_events_list is one LRANGE.
 * DIAGNOSTICS
 *	Failures return STORE_ERROR with *error_r pointing to a thread-local
 *	buffer that names the server and the failing step, valid until the
 *	next call from the same thread (store_redis.c).
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "store/store_redis-private.h"

#define LOCK_ARGC 10	/* EVALSHA sha 1 key op now + at most 4 arguments */

/*
 * lock_run - one call of the lock script on key (len bytes) with op and
 * the n_args arguments after op and now; the reply's integers go to
 * out[0..n_out) (NULL: not wanted).  Returns STORE_OK or STORE_ERROR.
 */
static int lock_run(struct store *store, const char *key, size_t key_len, const char *op,
		    int64_t now, const char *const *args, const size_t *arg_lens, int n_args,
		    long long *out, size_t n_out, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[LOCK_ARGC];
	size_t lens[LOCK_ARGC], i;
	redisReply *reply;
	char nowbuf[24];
	int argc = 0, j, ret = STORE_OK;

	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now);
	argv[argc] = "EVALSHA";
	lens[argc++] = 7;
	argv[argc] = "";	/* the SHA1, filled in by redis_pool_exec */
	lens[argc++] = 0;
	argv[argc] = "1";
	lens[argc++] = 1;
	argv[argc] = key;
	lens[argc++] = key_len;
	argv[argc] = op;
	lens[argc++] = strlen(op);
	argv[argc] = nowbuf;
	lens[argc++] = strlen(nowbuf);
	for (j = 0; j < n_args && argc < LOCK_ARGC; j++) {
		argv[argc] = args[j];
		lens[argc++] = arg_lens[j];
	}
	reply = redis_pool_exec(pool, REDIS_SCRIPT_LOCK, argc, argv, lens, error_r);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n_out) {
		ret = STORE_ERROR;
	} else {
		for (i = 0; i < n_out; i++) {
			if (reply->element[i]->type != REDIS_REPLY_INTEGER ||
			    reply->element[i]->integer < 0) {
				ret = STORE_ERROR;
				break;
			}
			out[i] = reply->element[i]->integer;
		}
	}
	if (ret == STORE_ERROR)
		*error_r = redis_error("redis: lock %s: malformed script reply", op);
	freeReplyObject(reply);
	return ret;
}

/* lock_parse - an HMGET s r reply into STORE_OK (*info filled) or STORE_MISS */
static int lock_parse(const redisReply *reply, struct store_lock_info *info)
{
	const redisReply *s, *r;
	char buf[24];
	size_t len;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
		return STORE_ERROR;
	s = reply->element[0];
	r = reply->element[1];
	if (s->type == REDIS_REPLY_NIL)
		return STORE_MISS;
	if (s->type != REDIS_REPLY_STRING || s->len >= sizeof(buf) ||
	    (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return STORE_ERROR;
	memcpy(buf, s->str, s->len);
	buf[s->len] = '\0';
	info->since = strtoll(buf, NULL, 10);
	len = r->type == REDIS_REPLY_STRING ? r->len : 0;
	if (len > sizeof(info->reason) - 1)
		len = sizeof(info->reason) - 1;
	if (len > 0)
		memcpy(info->reason, r->str, len);
	info->reason[len] = '\0';
	return STORE_OK;
}

/* store_redis_lock_get - store_lock_get: one HMGET */
int store_redis_lock_get(struct store *store, const char *user, size_t user_len,
			 struct store_lock_info *info_r, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[4] = { "HMGET", NULL, "s", "r" };
	size_t lens[4] = { 5, 0, 1, 1 };
	redisReply *reply;
	char *k;
	int ret;

	k = store_redis_lock_key(store, user, user_len, &lens[1]);
	argv[1] = k;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 4, argv, lens, error_r);
	XFREE(k);
	if (reply == NULL)
		return STORE_ERROR;
	ret = lock_parse(reply, info_r);
	freeReplyObject(reply);
	if (ret == STORE_ERROR)
		*error_r = redis_error("redis: lock HMGET: unexpected reply");
	return ret;
}

/* store_redis_mail_lookup - store_mail_lookup: GET and HMGET pipelined, one round trip */
int store_redis_mail_lookup(struct store *store, const void *key, size_t key_len, void *val,
			    size_t *val_len, const char *user, size_t user_len, int64_t now,
			    int *lock_r, struct store_lock_info *info_r, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *get[2] = { "GET" };
	size_t get_lens[2] = { 3 };
	const char *hmget[4] = { "HMGET", NULL, "s", "r" };
	size_t hmget_lens[4] = { 5, 0, 1, 1 };
	const int argcs[2] = { 2, 4 };
	const char *const *argvs[2] = { get, hmget };
	const size_t *lenss[2] = { get_lens, hmget_lens };
	redisReply *replies[2];
	char *ck, *lk;
	int ret, lock;

	ck = store_redis_cache_key(store, key, key_len, &get_lens[1]);
	get[1] = ck;
	lk = store_redis_lock_key(store, user, user_len, &hmget_lens[1]);
	hmget[1] = lk;
	ret = redis_pool_pipeline(pool, 2, argcs, argvs, lenss, replies, error_r);
	XFREE(ck);
	XFREE(lk);
	if (ret < 0)
		return STORE_ERROR;
	ret = store_redis_cache_parse(replies[0], val, val_len, now, error_r);
	lock = lock_parse(replies[1], info_r);
	if (lock == STORE_ERROR && ret != STORE_ERROR) {
		*error_r = redis_error("redis: lock HMGET: unexpected reply");
		ret = STORE_ERROR;
	}
	freeReplyObject(replies[0]);
	freeReplyObject(replies[1]);
	*lock_r = lock;
	return ret;
}

/* store_redis_lock_set - store_lock_set */
int store_redis_lock_set(struct store *store, const char *user, size_t user_len, const char *reason,
			 int64_t now, const char **error_r)
{
	const char *args[1] = { reason };
	size_t arg_lens[1] = { strlen(reason) };
	long long out[1];
	size_t len;
	char *k;
	int ret;

	k = store_redis_lock_key(store, user, user_len, &len);
	ret = lock_run(store, k, len, "set", now, args, arg_lens, 1, out, 1, error_r);
	XFREE(k);
	if (ret == STORE_OK && out[0] == 0)
		ret = STORE_REFUSED;	/* already locked: kept as it was */
	return ret;
}

/* store_redis_lock_clear - store_lock_clear */
int store_redis_lock_clear(struct store *store, const char *user, size_t user_len,
			   const char **error_r)
{
	long long out[1];
	size_t len;
	char *k;
	int ret;

	k = store_redis_lock_key(store, user, user_len, &len);
	ret = lock_run(store, k, len, "clear", 0, NULL, NULL, 0, out, 1, error_r);
	XFREE(k);
	if (ret == STORE_OK && out[0] == 0)
		ret = STORE_MISS;
	return ret;
}

/* store_redis_lock_strike - store_lock_strike: one script call, strike and lock */
int store_redis_lock_strike(struct store *store, const char *user, size_t user_len, uint32_t after,
			    uint32_t window, const char *reason, int64_t now, uint32_t *strikes_r,
			    int *locked_r, const char **error_r)
{
	char num[2][16];
	const char *args[4] = { reason, num[0], num[1], REDIS_STR(REDIS_EXPIRE_SLACK) };
	size_t arg_lens[4];
	long long out[2];
	size_t len;
	char *k;
	int ret, i;

	snprintf(num[0], sizeof(num[0]), "%" PRIu32, after);
	snprintf(num[1], sizeof(num[1]), "%" PRIu32, window);
	for (i = 0; i < 4; i++)
		arg_lens[i] = strlen(args[i]);
	k = store_redis_lock_key(store, user, user_len, &len);
	ret = lock_run(store, k, len, "strike", now, args, arg_lens, 4, out, 2, error_r);
	XFREE(k);
	if (ret == STORE_OK) {
		*strikes_r = store_redis_sat32(out[0]);
		*locked_r = out[1] != 0;
	}
	return ret;
}

struct locks_scan {
	const struct store_redis *rs;
	struct redis_pool *pool;
	void (*emit)(void *ctx, const char *user, size_t user_len, int64_t since,
		     const char *reason);
	void *ctx;
	const char **error_r;
};

/* locks_each - store_redis_scan's callback for the lock list: one HMGET of the key */
static int locks_each(void *ctx, const char *key, size_t len)
{
	struct locks_scan *l = ctx;
	const char *hargv[4] = { "HMGET", key, "s", "r" };
	size_t hlens[4] = { 5, len, 1, 1 }, plen = strlen(REDIS_LOCK_PREFIX);
	struct store_lock_info info;
	redisReply *h = redis_pool_exec(l->pool, REDIS_SCRIPT_NONE, 4, hargv, hlens, l->error_r);
	int st;

	if (h == NULL)
		return STORE_ERROR;
	memset(&info, 0, sizeof(info));
	st = lock_parse(h, &info);
	freeReplyObject(h);
	if (st == STORE_OK) {
		size_t ulen;
		const char *user = store_redis_untag(l->rs, key, len, plen, &ulen);

		l->emit(l->ctx, user, ulen, info.since, info.reason);
	}
	/* STORE_MISS: strikes only; STORE_ERROR: not ours, skipped */
	return STORE_OK;
}

/* store_redis_locks_list - store_locks_list: SCAN "chapps:k:*", one HMGET per key */
int store_redis_locks_list(struct store *store,
			   void (*emit)(void *ctx, const char *user, size_t user_len, int64_t since,
					const char *reason),
			   void *ctx, const char **error_r)
{
	struct locks_scan l = { (struct store_redis *)store, ((struct store_redis *)store)->pool,
				emit, ctx, error_r };

	return store_redis_scan(l.pool, REDIS_LOCK_PREFIX "*", strlen(REDIS_LOCK_PREFIX),
				locks_each, &l, "locks", error_r);
}

/* store_redis_event_add - store_event_add: LPUSH and LTRIM in one script call */
int store_redis_event_add(struct store *store, const char *text, size_t len, int64_t now,
			  const char **error_r)
{
	char keep[16];
	const char *args[2] = { text, keep };
	size_t arg_lens[2] = { len, 0 };
	long long out[1];

	arg_lens[1] = (size_t)snprintf(keep, sizeof(keep), "%d", STORE_EVENTS_KEEP);
	return lock_run(store, REDIS_EVENTS_KEY, strlen(REDIS_EVENTS_KEY), "event", now, args,
			arg_lens, 2, out, 1, error_r);
}

/* store_redis_events_list - store_events_list: one LRANGE, newest first */
int store_redis_events_list(struct store *store, size_t max,
			    void (*emit)(void *ctx, int64_t time, const char *text, size_t len),
			    void *ctx, const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	char stop[24];
	const char *argv[4] = { "LRANGE", REDIS_EVENTS_KEY, "0", stop };
	size_t lens[4], i;
	redisReply *reply;
	int k;

	snprintf(stop, sizeof(stop), "%zu", max - 1);
	for (k = 0; k < 4; k++)
		lens[k] = strlen(argv[k]);
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 4, argv, lens, error_r);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(reply);
		*error_r = redis_error("redis: events LRANGE: unexpected reply");
		return STORE_ERROR;
	}
	for (i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		const char *sp;
		char buf[24];
		size_t tlen;

		if (e->type != REDIS_REPLY_STRING ||
		    (sp = memchr(e->str, ' ', e->len)) == NULL ||
		    (tlen = (size_t)(sp - e->str)) == 0 || tlen >= sizeof(buf))
			continue;	/* not ours: skipped */
		memcpy(buf, e->str, tlen);
		buf[tlen] = '\0';
		emit(ctx, strtoll(buf, NULL, 10), sp + 1, e->len - tlen - 1);
	}
	freeReplyObject(reply);
	return STORE_OK;
}
