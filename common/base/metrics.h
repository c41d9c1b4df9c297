/*
 * metrics - decision counters for Prometheus, per thread, no lock on the decision path
 *
 * Each thread that records gets a shard of counters of its own (found through
 * a thread-local pointer; the first call of a thread takes one from a free
 * list or allocates it, under a mutex, once).  A shard has one writer, its
 * thread, which adds with a relaxed atomic store of value + 1: no lock and no
 * read-modify-write on the decision path.  A thread that ends gives its shard
 * back to the free list (its counts stay in the totals), so the number of
 * shards is bounded by the number of threads alive at once, not by the
 * number of connections libmilter ever served.  metrics_render sums every
 * shard with relaxed loads: a scrape sees each counter at a value it had,
 * never a torn one.
 *
 * Counters: decisions by stage, policy and result; refusals by reply class
 * (4xx, 5xx); backend incidents; connections opened.
 */
#ifndef CHAPPS_METRICS_H
#define CHAPPS_METRICS_H

#include <stddef.h>

/* metrics_result: the same order as enum policy_action (policy.h) */
enum metrics_result {
	METRICS_CONTINUE, METRICS_ACCEPT, METRICS_REJECT, METRICS_TEMPFAIL, METRICS_RESULTS
};

/*
 * metrics_decision - count one decision: stage ("MAIL", "RCPT", ...),
 * result, policy (NULL: none; an unknown name counts as "other") and the
 * reply code set (NULL: none; its first digit gives the refusal class).
 */
void metrics_decision(const char *stage, enum metrics_result result, const char *policy,
		      const char *reply_code);

/* metrics_incident - count one backend incident (a failure logged once). */
void metrics_incident(void);

/* metrics_connection - count one connection opened by the MTA. */
void metrics_connection(void);

/*
 * metrics_render - the Prometheus text exposition (format 0.0.4) of every
 * counter, summed over the shards, plus chapps_build_info{version}.  A new
 * string in *text_r (caller frees); returns its length.
 */
size_t metrics_render(char **text_r);

#endif
