/*
 * metrics - counters for Prometheus, per thread, no lock on the decision path
 *
 * Each thread that records gets a shard of counters of its own (found through
 * a thread-local pointer; the first call of a thread takes one from a free
 * list or allocates it, under a mutex, once).  A shard has one writer, its
 * thread, which adds with a relaxed atomic store of value + n: no lock and no
 * read-modify-write on the decision path.  A thread that ends gives its shard
 * back to the free list (its counts stay in the totals), so the number of
 * shards is bounded by the number of threads alive at once, not by the
 * number of connections libmilter ever served.  metrics_render sums every
 * shard with relaxed loads: a scrape sees each counter at a value it had,
 * never a torn one.
 *
 * Counters: decisions by stage, policy and result; refusals by reply class
 * (4xx, 5xx); latency histograms per stage; cache hits and misses; backend
 * errors, timeouts, reconnects and incidents; connections opened and open;
 * reservations in flight; configuration generation and reload failures.
 * Gauges made of two counters (open = opened - closed, in flight = reserved
 * - settled) are summed the same way: the two ends of one object may be
 * counted by different threads.
 *
 * Recording is off (each call returns at once, metrics_clock reads no
 * clock) until metrics_enable(true): chapps-milter turns it on when
 * metrics.listen is set.  The two configuration counters, bumped once per
 * load, are kept either way.  Thread-safe.
 */
#ifndef CHAPPS_METRICS_H
#define CHAPPS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* metrics_result: the same order as enum policy_action (policy.h) */
enum metrics_result {
	METRICS_CONTINUE, METRICS_ACCEPT, METRICS_REJECT, METRICS_TEMPFAIL, METRICS_RESULTS
};

/* metrics_stage: the milter stages whose duration is measured */
enum metrics_stage {
	METRICS_STAGE_CONNECT, METRICS_STAGE_HELO, METRICS_STAGE_MAIL, METRICS_STAGE_RCPT,
	METRICS_STAGE_DATA, METRICS_STAGE_EOM, METRICS_STAGES
};

/* metrics_cache: the look-up caches (label cache="sda", "quota", "domain", "limits") */
enum metrics_cache {
	METRICS_CACHE_SDA,		/* sender-domain decisions in the state store */
	METRICS_CACHE_QUOTA,		/* in-process user -> limit */
	METRICS_CACHE_DOMAIN,		/* in-process domain -> option flags */
	METRICS_CACHE_LIMITS,		/* in-process user -> several limits */
	METRICS_CACHES
};

/* metrics_backend: the same order as enum backends_which (policy/backends.h) */
enum metrics_backend { METRICS_BACKEND_STORE, METRICS_BACKEND_POLICYDB, METRICS_BACKENDS };

enum metrics_backend_event {
	METRICS_BACKEND_ERROR,		/* a policy's call failed (each time) */
	METRICS_BACKEND_TIMEOUT,	/* the engine gave up waiting for the server */
	METRICS_BACKEND_RECONNECT,	/* the engine connected again after losing the server */
	METRICS_BACKEND_EVENTS
};

/* metrics_enable - turn recording on or off (off at start). */
void metrics_enable(bool on);

/* metrics_enabled - is recording on? */
bool metrics_enabled(void);

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

/* metrics_connection_open / _close - a connection context made / freed (the open gauge). */
void metrics_connection_open(void);
void metrics_connection_close(void);

/*
 * metrics_clock - the monotonic clock in nanoseconds, the start of a stage
 * for metrics_latency; 0 (no clock read) while recording is off.
 */
uint64_t metrics_clock(void);

/*
 * metrics_latency - count one stage that started at start (metrics_clock)
 * into its histogram; nothing when start is 0.
 */
void metrics_latency(enum metrics_stage stage, uint64_t start);

/* metrics_cache - count one look-up of a cache: a hit or a miss. */
void metrics_cache(enum metrics_cache cache, bool hit);

/* metrics_backend - count one event of a backend. */
void metrics_backend(enum metrics_backend backend, enum metrics_backend_event event);

/*
 * metrics_reservation - a message's first quota reservation was granted
 * (held true), or its reservations were committed or released (false).
 */
void metrics_reservation(bool held);

/* metrics_config_loaded - a configuration was installed (start, or a reload). */
void metrics_config_loaded(void);

/* metrics_config_reload_failed - a reload was refused; the old configuration stays. */
void metrics_config_reload_failed(void);

/*
 * metrics_render - the Prometheus text exposition (format 0.0.4) of every
 * counter, summed over the shards, plus chapps_build_info{version}.  A new
 * string in *text_r (caller frees); returns its length.
 */
size_t metrics_render(char **text_r);

#endif
