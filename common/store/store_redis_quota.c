/*
 * NAME
 *	store_redis_quota - the quota operations of the Redis engine
 * SUMMARY
 *	store_redis_quota_reserve/commit/release/usage/reset, for redis_ops
 * DESCRIPTION
 *	Quota.  Each decision (reserve, commit, release, usage, reset) is one
 *	call of the quota script, so it runs atomically on the server and any
 *	number of milter hosts share exact counts.  A user's state is one hash,
 *	    "chapps:q:" + raw user bytes
 *	with fields "b<bucket>" -> count and "r<resid>" -> "<count> <expiry>",
 *	and one field "b" (no number) holding running aggregates over the
 *	items present: "S B O W R N E X" = sum and number of buckets, oldest
 *	and newest bucket, sum and number of reservations, a lower bound of
 *	their earliest expiry and an upper bound of their latest.  When these
 *	show that nothing can have died (O still lives, now < E) a call reads
 *	only "b", its reservation and the current bucket (one HMGET), so its
 *	cost does not grow with the live buckets; otherwise (something may have
 *	expired, a commit that may fold, the field absent or malformed: a key
 *	of the previous script version, whose reserve and commit delete "b" as
 *	a malformed bucket) it scans the hash, prunes, and rewrites "b".  Past
 *	32 items "b" is padded beyond Redis's hash-max-listpack-value (64 by
 *	default), which turns the hash into a real hash table: in a listpack
 *	every field lookup is a linear scan.
 *	The rule is the one of store.h and quota_record.c (same bucket life,
 *	same folding of the oldest buckets past interval/resolution + 2, same
 *	"too many open reservations" error past 1024), with the caller's
 *	clock (now), never Redis TIME.  Every write prunes dead buckets and
 *	expired reservations and sets the key's TTL to the remaining life of
 *	its longest-lived item (on the fast path a reservation deleted since
 *	the last scan may still count here, via X) plus REDIS_EXPIRE_SLACK
 *	seconds (clock skew between milter hosts), so an idle user vanishes.
 *	The cost of a call is bounded by the live state, whatever the number
 *	of messages ever sent, and is constant while nothing expires.
 * DIAGNOSTICS
 *	Failures return STORE_ERROR with *error_r pointing to a thread-local
 *	buffer that names the server and the failing step, valid until the
 *	next call from the same thread (store_redis.c).
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/xalloc.h"
#include "store/quota_record.h"
#include "store/store_redis-private.h"

/* floordiv - floor(a / b) for b > 0 */
static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

#define QUOTA_ARGC 17

enum quota_op { OP_RESERVE, OP_COMMIT, OP_RELEASE, OP_USAGE, OP_RESET };

static const char *const quota_op_names[] = { "reserve", "commit", "release", "usage", "reset" };

#define QUOTA_TOO_MANY 2	/* script status: a new reservation over the cap */

/* quota_parse - the script's reply into a status, *state and *dropped_r */
static int quota_parse(const redisReply *reply, struct store_quota_state *state,
		       uint32_t *dropped_r)
{
	long long v[5];
	size_t i;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5)
		return STORE_ERROR;
	for (i = 0; i < 5; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER ||
		    reply->element[i]->integer < 0)
			return STORE_ERROR;
		v[i] = reply->element[i]->integer;
	}
	if (v[0] > QUOTA_TOO_MANY)
		return STORE_ERROR;
	if (state != NULL) {
		state->committed = store_redis_sat32(v[1]);
		state->reserved = store_redis_sat32(v[2]);
		state->own = store_redis_sat32(v[3]);
		state->last_send = v[4];
	}
	if (dropped_r != NULL)
		*dropped_r = store_redis_sat32(v[1]);
	return v[0] == 0 ? STORE_OK : v[0] == 1 ? STORE_REFUSED : QUOTA_TOO_MANY;
}

/*
 * quota_run - run the quota script for op and parse its reply into
 * *status_r (STORE_OK or STORE_REFUSED) and state (may be NULL).
 */
static int quota_run(struct store *store, enum quota_op op, const char *user, size_t user_len,
		     const char *resid, uint32_t n, const struct store_quota_params *params,
		     int64_t now, struct store_quota_state *state, uint32_t *dropped_r,
		     bool later, const char **error_r)
{
	static const struct store_quota_params no_params = { 0, 0, 0, 1, 0 };
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	char num[10][24], field[STORE_RESID_MAX + 2];
	const char *argv[QUOTA_ARGC];
	struct redis_tag tag;
	size_t lens[QUOTA_ARGC];
	redisReply *reply;
	uint32_t maxbuckets;
	char *key;
	int i, ret;

	if (params == NULL)
		params = &no_params;
	if (params->resolution == 0) {
		*error_r = "quota resolution must be at least 1 second";
		return STORE_ERROR;
	}
	maxbuckets = params->interval / params->resolution + 2;
	if (maxbuckets > QUOTA_RECORD_BUCKETS_MAX)
		maxbuckets = QUOTA_RECORD_BUCKETS_MAX;
	snprintf(num[0], sizeof(num[0]), "%lld", (long long)now);
	snprintf(num[1], sizeof(num[1]), "%u", params->interval);
	snprintf(num[2], sizeof(num[2]), "%u", params->resolution);
	snprintf(num[3], sizeof(num[3]), "%u", params->reservation_ttl);
	snprintf(num[4], sizeof(num[4]), "%u", params->limit);
	snprintf(num[5], sizeof(num[5]), "%u", params->margin);
	snprintf(num[6], sizeof(num[6]), "%u", n);
	snprintf(num[7], sizeof(num[7]), "%d", QUOTA_RECORD_RESV_MAX);
	snprintf(num[8], sizeof(num[8]), "%lld", (long long)floordiv(now, params->resolution));
	snprintf(num[9], sizeof(num[9]), "%u", maxbuckets);

	store_redis_tag_user((struct store_redis *)store, user, user_len, &tag);
	key = store_redis_tkey(REDIS_QUOTA_PREFIX, &tag, user, user_len, &lens[3]);
	argv[0] = "EVALSHA";
	argv[1] = "";	/* the SHA1, filled in by redis_pool_exec */
	argv[2] = "1";
	argv[3] = key;
	argv[4] = quota_op_names[op];
	for (i = 0; i < 6; i++)	/* now .. margin */
		argv[5 + i] = num[i];
	argv[11] = field;
	argv[12] = num[6];
	argv[13] = num[7];
	argv[14] = num[8];
	argv[15] = REDIS_STR(REDIS_EXPIRE_SLACK);
	argv[16] = num[9];
	for (i = 0; i < QUOTA_ARGC; i++) {
		if (i != 3 && i != 11)
			lens[i] = strlen(argv[i]);
	}
	lens[11] = store_redis_resid_field(field, resid);

	if (later) {
		/* no reply to read: STORE_OK once it is on its way (redis_pool_defer) */
		ret = redis_pool_defer(pool, REDIS_SCRIPT_QUOTA, QUOTA_ARGC, argv, lens, error_r);
		XFREE(key);
		return ret < 0 ? STORE_ERROR : STORE_OK;
	}
	reply = redis_pool_exec(pool, REDIS_SCRIPT_QUOTA, QUOTA_ARGC, argv, lens, error_r);
	XFREE(key);
	if (reply == NULL)
		return STORE_ERROR;
	ret = quota_parse(reply, state, dropped_r);
	if (ret == STORE_ERROR)
		*error_r = redis_error("redis: quota %s: malformed script reply",
				       quota_op_names[op]);
	else if (ret == QUOTA_TOO_MANY)
		*error_r = "too many open reservations";
	if (ret == QUOTA_TOO_MANY)
		ret = STORE_ERROR;
	freeReplyObject(reply);
	return ret;
}

/* store_redis_quota_reserve - store_quota_reserve */
int store_redis_quota_reserve(struct store *store, const char *user, size_t user_len,
			      const char *resid, uint32_t n,
			      const struct store_quota_params *params, int64_t now,
			      struct store_quota_state *state, const char **error_r)
{
	return quota_run(store, OP_RESERVE, user, user_len, resid, n, params, now, state, NULL,
			 false, error_r);
}

/* store_redis_quota_commit - store_quota_commit */
int store_redis_quota_commit(struct store *store, const char *user, size_t user_len,
			     const char *resid, const struct store_quota_params *params,
			     int64_t now, const char **error_r)
{
	int ret = quota_run(store, OP_COMMIT, user, user_len, resid, 0, params, now, NULL, NULL,
			    false, error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* store_redis_quota_commit_later - store_quota_commit_later: redis_pool_defer */
int store_redis_quota_commit_later(struct store *store, const char *user, size_t user_len,
				   const char *resid, const struct store_quota_params *params,
				   int64_t now, const char **error_r)
{
	return quota_run(store, OP_COMMIT, user, user_len, resid, 0, params, now, NULL, NULL,
			 true, error_r);
}

/* store_redis_quota_release - store_quota_release */
int store_redis_quota_release(struct store *store, const char *user, size_t user_len,
			      const char *resid, int64_t now, const char **error_r)
{
	int ret = quota_run(store, OP_RELEASE, user, user_len, resid, 0, NULL, now, NULL, NULL,
			    false, error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* store_redis_quota_usage - store_quota_usage */
int store_redis_quota_usage(struct store *store, const char *user, size_t user_len,
			    const struct store_quota_params *params, int64_t now,
			    struct store_quota_state *state, const char **error_r)
{
	int ret = quota_run(store, OP_USAGE, user, user_len, NULL, 0, params, now, state, NULL,
			    false, error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}

/* store_redis_quota_reset - store_quota_reset */
int store_redis_quota_reset(struct store *store, const char *user, size_t user_len,
			    uint32_t *dropped_r, const char **error_r)
{
	int ret = quota_run(store, OP_RESET, user, user_len, NULL, 0, NULL, 0, NULL, dropped_r,
			    false, error_r);

	return ret == STORE_REFUSED ? STORE_OK : ret;
}
