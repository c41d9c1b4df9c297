/*
 * NAME
 *	redis_later - the Redis pool's deferred calls: redis_pool_defer and its flusher
 * DESCRIPTION
 *	redis_pool_defer() appends a script call to a pooled connection's
 *	output unsent; the next pipeline on that connection sends it
 *	(redis_conn.c); redis_pool_flush_idle(), from the pool's flusher
 *	thread (flusher_main, started at the first deferral) and at close,
 *	sends what idle connections have held for later_ms and resends what
 *	failed.  The whole design is in redis_pool.c's DESCRIPTION
 *	("Deferred calls"); the pool's list operations (take, give, drop,
 *	later_keep, later_collect) stay there.
 * DIAGNOSTICS
 *	Calls given up are counted and logged (redis_pool_lost_log);
 *	redis_pool_defer returns -1 with *error_r as redis_pool_exec does.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "base/log.h"
#include "store/redis_conn.h"
#include "store/redis_conn-private.h"

/* redis_pool_lost_log - say how many deferred calls were given up since the last time */
void redis_pool_lost_log(struct redis_pool *rp, const char *why)
{
	unsigned long n;

	pthread_mutex_lock(&rp->lock);
	n = rp->n_lost;
	rp->n_lost = 0;
	pthread_mutex_unlock(&rp->lock);
	if (n > 0)
		log_warn("redis: %lu deferred quota commit%s given up (%s): those messages "
			 "were accepted and not counted", n, n == 1 ? "" : "s", why);
}

/*
 * redo_one - send a deferred call again (its command is taken), on a
 * connection of the pool, its script loaded first after NOSCRIPT; false
 * when no connection could be had (l kept for later)
 */
static bool redo_one(struct redis_pool *rp, struct redis_later *l)
{
	struct redis_call call;
	struct redis_conn *conn;
	const char *err = NULL;
	char sha[41];

	redis_conn_call_init(&call, rp);
	conn = redis_pool_take(rp, &call, &err);
	if (conn != NULL && l->noscript && redis_pool_script_load(rp, conn, &call, l->script, sha, &err) == -1)
		redis_pool_drop(rp, &conn);
	if (conn != NULL && conn->n_redo > 0) {
		/* SCRIPT LOAD took the connection's own deferred calls along: keep those first */
		pthread_mutex_lock(&rp->lock);
		redis_pool_later_collect(rp, conn, false);
		pthread_mutex_unlock(&rp->lock);
	}
	if (conn == NULL || redis_conn_defer(conn, l->cmd, l->len, l->script, l->since) < 0) {
		pthread_mutex_lock(&rp->lock);
		redis_pool_later_keep(rp, l);
		pthread_mutex_unlock(&rp->lock);
		if (conn != NULL)
			redis_pool_give(rp, &conn);
		else
			redis_pool_lose(rp);
		return conn != NULL;
	}
	l->cmd = NULL;
	if (redis_conn_pipeline(conn, &call, 0, NULL, NULL, NULL, NULL, &err) < 0) {
		redis_pool_drop(rp, &conn);	/* keeps it for another try */
		redis_pool_lose(rp);
		return false;
	}
	redis_pool_give(rp, &conn);		/* an error reply: kept for another try */
	return true;
}

/*
 * redis_pool_flush_idle - send the deferred calls of idle connections that have
 * waited rp->later_ms (all of them when all), then the calls to send
 * again; while the server cannot be reached, back off (100 ms doubling to
 * 2 s) and keep the rest
 */
void redis_pool_flush_idle(struct redis_pool *rp, bool all)
{
	struct redis_conn *due = NULL, **pp, *conn;
	struct redis_later *redo;
	size_t n_redo, i;
	int64_t now = redis_mono_ms();
	bool reached = true;

	pthread_mutex_lock(&rp->lock);
	for (pp = &rp->idle; (conn = *pp) != NULL;) {
		if (conn->n_later > 0 && (all || conn->later_since + rp->later_ms <= now)) {
			*pp = conn->next;
			rp->n_idle--;
			conn->next = due;
			due = conn;
			continue;
		}
		pp = &conn->next;
	}
	redo = NULL;
	n_redo = 0;
	if (all || rp->redo_after <= now) {
		redo = rp->redo;
		n_redo = rp->n_redo;
		rp->redo = NULL;
		rp->n_redo = rp->redo_size = 0;
	}
	pthread_mutex_unlock(&rp->lock);

	while ((conn = due) != NULL) {
		struct redis_call call;
		const char *err;

		due = conn->next;
		conn->next = NULL;
		redis_conn_call_init(&call, rp);
		if (redis_conn_pipeline(conn, &call, 0, NULL, NULL, NULL, NULL, &err) < 0) {
			redis_pool_drop(rp, &conn);
			redis_pool_lose(rp);
		} else {
			redis_pool_give(rp, &conn);
		}
	}
	for (i = 0; i < n_redo; i++) {
		if (reached) {
			reached = redo_one(rp, &redo[i]);
		} else {
			pthread_mutex_lock(&rp->lock);
			redis_pool_later_keep(rp, &redo[i]);
			pthread_mutex_unlock(&rp->lock);
		}
	}
	free(redo);
	pthread_mutex_lock(&rp->lock);
	if (n_redo > 0 && rp->n_redo > 0) {
		/* some came back (no server, an error reply): do not spin on them */
		rp->redo_backoff_ms = rp->redo_backoff_ms == 0 ? 100
				      : rp->redo_backoff_ms >= 1000 ? 2000 : rp->redo_backoff_ms * 2;
		rp->redo_after = redis_mono_ms() + rp->redo_backoff_ms;
	} else if (n_redo > 0) {
		rp->redo_backoff_ms = 0;
	}
	pthread_mutex_unlock(&rp->lock);
	redis_pool_lost_log(rp, "the store could not run them within a minute");
}

/* flusher_main - the pool's flusher thread: redis_pool_flush_idle whenever something is due */
static void *flusher_main(void *arg)
{
	struct redis_pool *rp = arg;

	pthread_mutex_lock(&rp->lock);
	while (!rp->stopping) {
		int64_t due = rp->n_redo > 0 ? rp->redo_after : INT64_MAX;

		for (struct redis_conn *c = rp->idle; c != NULL; c = c->next)
			if (c->n_later > 0 && c->later_since + rp->later_ms < due)
				due = c->later_since + rp->later_ms;
		rp->flusher_due = due;
		if (due == INT64_MAX) {
			/* nothing waits: sleep until redis_pool_give or redis_pool_later_keep signals */
			pthread_cond_wait(&rp->wake, &rp->lock);
			continue;
		}
		if (redis_mono_ms() < due) {
			struct timespec ts = { (time_t)(due / 1000), (long)(due % 1000) * 1000000 };

			pthread_cond_timedwait(&rp->wake, &rp->lock, &ts);
			continue;
		}
		rp->flusher_due = 0;	/* flushing: redis_pool_give need not signal */
		pthread_mutex_unlock(&rp->lock);
		redis_pool_flush_idle(rp, false);
		pthread_mutex_lock(&rp->lock);
	}
	pthread_mutex_unlock(&rp->lock);
	return NULL;
}

int redis_pool_defer(struct redis_pool *rp, int script, int argc, const char **argv,
		     size_t *lens, const char **error_r)
{
	struct redis_call call;
	struct redis_conn *conn;
	redisReply *reply;
	char *cmd = NULL, sha[41] = "";
	int len;
	bool start = false;

	if (rp->defer && rp->cluster == NULL && script >= 0 && script < rp->n_scripts) {
		pthread_mutex_lock(&rp->lock);
		memcpy(sha, rp->sha[script], sizeof(sha));
		pthread_mutex_unlock(&rp->lock);
	}
	if (sha[0] == '\0') {
		/* not deferred: no deferral wanted, a cluster, or the script not loaded yet */
		reply = redis_pool_exec(rp, script, argc, argv, lens, error_r);
		if (reply == NULL)
			return -1;
		freeReplyObject(reply);
		return 0;
	}
	argv[1] = sha;
	lens[1] = 40;
	len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (len < 0) {
		*error_r = "redis: out of memory formatting a command";
		return -1;
	}
	redis_conn_call_init(&call, rp);
	conn = redis_pool_take(rp, &call, error_r);
	if (conn == NULL) {
		free(cmd);
		redis_pool_lose(rp);
		return -1;
	}
	if (redis_conn_defer(conn, cmd, (size_t)len, script, 0) < 0) {
		/* full: send what it carries now, then this one after it */
		int sent = redis_conn_pipeline(conn, &call, 0, NULL, NULL, NULL, NULL, error_r);

		pthread_mutex_lock(&rp->lock);
		redis_pool_later_collect(rp, conn, false);	/* what failed: resent by the flusher */
		pthread_mutex_unlock(&rp->lock);
		if (sent < 0 || redis_conn_defer(conn, cmd, (size_t)len, script, 0) < 0) {
			free(cmd);
			redis_pool_drop(rp, &conn);
			redis_pool_lose(rp);
			return -1;
		}
	}
	pthread_mutex_lock(&rp->lock);
	if (!rp->flusher_started && !rp->stopping) {
		rp->flusher_started = true;
		start = true;
	}
	pthread_mutex_unlock(&rp->lock);
	if (start && pthread_create(&rp->flusher, NULL, flusher_main, rp) != 0) {
		pthread_mutex_lock(&rp->lock);
		rp->flusher_started = false;
		pthread_mutex_unlock(&rp->lock);
		/* no flusher: send it now rather than leave it waiting for the next call */
		if (redis_conn_pipeline(conn, &call, 0, NULL, NULL, NULL, NULL, error_r) < 0) {
			redis_pool_drop(rp, &conn);
			redis_pool_lose(rp);
			return 0;	/* kept for another try by the next call */
		}
	}
	redis_pool_give(rp, &conn);
	return 0;
}

