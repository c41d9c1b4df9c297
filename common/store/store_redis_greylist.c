/*
 * NAME
 *	store_redis_greylist - the greylisting operations of the Redis engine
 * SUMMARY
 *	store_redis_greylist_check/tally/tally_clear/peek, for redis_ops
 * DESCRIPTION
 *	Greylisting.  Every check is one call of the greylisting script
 *	(the same EVALSHA/NOSCRIPT machinery, its own SHA1), with the
 *	caller's clock.  A tuple is the hash "chapps:g:" + the caller's
 *	tuple key with fields f (first seen), p (last pass, -1 none) and e
 *	(the instant from which the rule would restart it anyway; the tuple
 *	is absent from then on); a client's pass tally is the hash
 *	"chapps:gt:" + the caller's client key with one field "h<hour>" per
 *	hour that saw passes (at most GREYLIST_TALLY_MAX live, as in the
 *	LMDB engine; the tally constants of greylist_record.h are passed to
 *	the script).  A write sets the key's TTL to its remaining life plus
 *	REDIS_EXPIRE_SLACK, so a tuple vanishes max(retry_window, lifetime)
 *	after its last change and a tally a day after its last pass; an
 *	early retry writes nothing.
 * DIAGNOSTICS
 *	Failures return STORE_ERROR with *error_r pointing to a thread-local
 *	buffer that names the server and the failing step, valid until the
 *	next call from the same thread (store_redis.c).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "store/greylist_record.h"
#include "store/store_redis-private.h"

#define GREY_ARGC 17

enum grey_op { GREY_CHECK, GREY_TALLY, GREY_CLEAR };

static const char *const grey_op_names[] = { "check", "tally", "clear" };

/*
 * grey_run - run the greylisting script for op; *verdict_r and *count_r
 * (may be NULL) get its answer
 */
static int grey_run(struct store *store, enum grey_op op, const void *tuple, size_t tuple_len,
		    const void *client, size_t client_len, const struct greylist_params *params,
		    int64_t now, int *verdict_r, uint32_t *count_r, const char **error_r)
{
	static const struct greylist_params no_params = { 0, 0, 0, 0, false };
	static const int verdicts[] = { GREYLIST_PASS, GREYLIST_PASS_WHITELISTED,
					GREYLIST_DEFER_NEW, GREYLIST_DEFER_EARLY };
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[GREY_ARGC];
	size_t lens[GREY_ARGC];
	char num[10][24], *ck, *tk = NULL;
	int i, argc, nkeys = op == GREY_CHECK ? 2 : 1, ret = STORE_OK;
	redisReply *reply;

	if (params == NULL)
		params = &no_params;
	snprintf(num[0], sizeof(num[0]), "%lld", (long long)now);
	snprintf(num[1], sizeof(num[1]), "%lld", (long long)(now / GREYLIST_TALLY_HOUR));
	snprintf(num[2], sizeof(num[2]), "%u", params->min_delay);
	snprintf(num[3], sizeof(num[3]), "%u", params->retry_window);
	snprintf(num[4], sizeof(num[4]), "%u", params->lifetime);
	snprintf(num[5], sizeof(num[5]), "%u", params->whitelist_threshold);
	snprintf(num[6], sizeof(num[6]), "%d", REDIS_EXPIRE_SLACK);
	snprintf(num[7], sizeof(num[7]), "%d", GREYLIST_TALLY_HOUR);
	snprintf(num[8], sizeof(num[8]), "%d", GREYLIST_TALLY_WINDOW);
	snprintf(num[9], sizeof(num[9]), "%d", GREYLIST_TALLY_MAX);

	argc = 0;
	argv[argc] = "EVALSHA";
	lens[argc++] = 7;
	argv[argc] = "";	/* the SHA1, filled in by redis_pool_exec */
	lens[argc++] = 0;
	argv[argc] = nkeys == 2 ? "2" : "1";
	lens[argc++] = 1;
	ck = store_redis_grey_key(store, REDIS_GREY_TALLY_PREFIX, client, client_len, &lens[argc]);
	argv[argc++] = ck;
	if (nkeys == 2) {
		tk = store_redis_grey_key(store, REDIS_GREY_TUPLE_PREFIX, tuple, tuple_len,
					  &lens[argc]);
		argv[argc++] = tk;
	}
	argv[argc] = grey_op_names[op];
	lens[argc] = strlen(argv[argc]);
	argc++;
	for (i = 0; i < 10; i++) {
		argv[argc] = num[i];
		lens[argc++] = strlen(num[i]);
	}
	argv[argc] = params->uncounted ? "1" : "0";	/* ARGV[12] */
	lens[argc++] = 1;

	reply = redis_pool_exec(pool, REDIS_SCRIPT_GREYLIST, argc, argv, lens, error_r);
	XFREE(ck);
	XFREE(tk);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER || reply->element[0]->integer < 0 ||
	    reply->element[0]->integer > 3 || reply->element[1]->integer < 0) {
		*error_r = redis_error("redis: greylist %s: malformed script reply",
				       grey_op_names[op]);
		ret = STORE_ERROR;
	} else {
		if (verdict_r != NULL)
			*verdict_r = verdicts[reply->element[0]->integer];
		if (count_r != NULL)
			*count_r = store_redis_sat32(reply->element[1]->integer);
	}
	freeReplyObject(reply);
	return ret;
}

/* store_redis_greylist_check - store_greylist_check */
int store_redis_greylist_check(struct store *store, const void *tuple, size_t tuple_len,
			       const void *client, size_t client_len,
			       const struct greylist_params *params, int64_t now, int *verdict_r,
			       const char **error_r)
{
	return grey_run(store, GREY_CHECK, tuple, tuple_len, client, client_len, params, now,
			verdict_r, NULL, error_r);
}

/* store_redis_greylist_tally - store_greylist_tally */
int store_redis_greylist_tally(struct store *store, const void *client, size_t client_len,
			       int64_t now, uint32_t *count_r, const char **error_r)
{
	*count_r = 0;
	return grey_run(store, GREY_TALLY, NULL, 0, client, client_len, NULL, now, NULL, count_r,
			error_r);
}

/* store_redis_greylist_tally_clear - store_greylist_tally_clear */
int store_redis_greylist_tally_clear(struct store *store, const void *client, size_t client_len,
				     const char **error_r)
{
	return grey_run(store, GREY_CLEAR, NULL, 0, client, client_len, NULL, 0, NULL, NULL,
			error_r);
}

/* store_redis_greylist_peek - store_greylist_peek: HMGET of the tuple's hash, nothing written */
int store_redis_greylist_peek(struct store *store, const void *tuple, size_t tuple_len, int64_t now,
			      bool *present_r, struct greylist_record_tuple *tuple_r,
			      const char **error_r)
{
	struct redis_pool *pool = ((struct store_redis *)store)->pool;
	const char *argv[5] = { "HMGET", NULL, "f", "p", "e" };
	size_t lens[5] = { 5, 0, 1, 1, 1 };
	long long f[3];
	redisReply *reply;
	char *tk;
	int ret = STORE_OK;

	tk = store_redis_grey_key(store, REDIS_GREY_TUPLE_PREFIX, tuple, tuple_len, &lens[1]);
	argv[1] = tk;
	reply = redis_pool_exec(pool, REDIS_SCRIPT_NONE, 5, argv, lens, error_r);
	XFREE(tk);
	if (reply == NULL)
		return STORE_ERROR;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
		*error_r = redis_error("redis: greylist HMGET: unexpected reply");
		ret = STORE_ERROR;
	} else {
		/* as greylist.lua reads it: all three numbers, and now before e */
		bool ok = true;

		for (size_t i = 0; i < 3 && ok; i++) {
			const redisReply *e = reply->element[i];
			char *end;

			ok = e->type == REDIS_REPLY_STRING && e->len > 0 && e->len < 24;
			if (ok) {
				f[i] = strtoll(e->str, &end, 10);
				ok = *end == '\0';
			}
		}
		if (ok && now < f[2] && f[0] >= 0 && f[1] >= -1) {
			tuple_r->first = f[0];
			tuple_r->last_pass = f[1];
			*present_r = true;
		}
	}
	freeReplyObject(reply);
	return ret;
}
