/*
 * NAME
 *	metrics - per-thread counters and their Prometheus text
 * SUMMARY
 *	metrics_decision(), metrics_latency() ... on the decision path;
 *	metrics_render() for a scrape
 * DESCRIPTION
 *	See metrics.h for the sharding.  Shards are never freed while the
 *	process runs (a scrape may be reading one); a thread's shard returns
 *	to the free list through a pthread key destructor.  Label values are
 *	fixed tables, so a scrape never formats anything that came from a
 *	client.
 *
 *	Latency histograms: 14 buckets from 50 us to 1 s (le, cumulative at
 *	render time; a shard keeps one count per bucket, the last one past
 *	1 s) and the sum in nanoseconds.  A stage finds its bucket with at
 *	most 14 comparisons; the clock is CLOCK_MONOTONIC (vDSO, no system
 *	call).
 * DIAGNOSTICS
 *	None; out of memory is fatal through xalloc.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/metrics.h"
#include "base/xalloc.h"

static const char *const stages[] = { "CONNECT", "HELO", "MAIL", "RCPT", "DATA", "EOM", "other" };
#define N_STAGES (sizeof(stages) / sizeof(stages[0]))

static const char *const policies[] = { "none", "identity", "limits", "sender_domain_auth",
					"quota", "spf", "greylisting", "helo_whitelist", "other" };
#define N_POLICIES (sizeof(policies) / sizeof(policies[0]))

static const char *const results[METRICS_RESULTS] = { "continue", "accept", "reject",
						      "tempfail" };

static const char *const cache_names[METRICS_CACHES] = { "sda", "quota", "domain", "limits" };
static const char *const backend_names[METRICS_BACKENDS] = { "store", "policy_db" };

/* the histogram's upper bounds: nanoseconds and their "le" labels */
static const uint64_t bound_ns[] = { 50000, 100000, 250000, 500000, 1000000, 2500000,
				     5000000, 10000000, 25000000, 50000000, 100000000,
				     250000000, 500000000, 1000000000 };
static const char *const bound_le[] = { "5e-05", "0.0001", "0.00025", "0.0005", "0.001",
					"0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
					"0.25", "0.5", "1" };
#define N_BOUNDS (sizeof(bound_ns) / sizeof(bound_ns[0]))

struct shard {
	struct shard *next_all;		/* every shard, for the scrape */
	struct shard *next_free;
	uint64_t decisions[N_STAGES][N_POLICIES][METRICS_RESULTS];
	uint64_t refusals[2];		/* 4xx, 5xx */
	uint64_t incidents;
	uint64_t connections;
	uint64_t conn_opened, conn_closed;
	uint64_t latency[METRICS_STAGES][N_BOUNDS + 1];	/* the last: over 1 s */
	uint64_t latency_ns[METRICS_STAGES];
	uint64_t cache[METRICS_CACHES][2];		/* misses, hits */
	uint64_t backend[METRICS_BACKENDS][METRICS_BACKEND_EVENTS];
	uint64_t reserved, settled;
};

static pthread_mutex_t shards_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shard *all_shards;	/* grows only; read lock-free (published) */
static struct shard *free_shards;
static pthread_key_t shard_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static __thread struct shard *my_shard;
static bool enabled;
static uint64_t config_generation, reload_failures;	/* atomics, rare */

/* give_back - the key destructor: a thread's shard returns to the free list */
static void give_back(void *p)
{
	struct shard *s = p;

	pthread_mutex_lock(&shards_lock);
	s->next_free = free_shards;
	free_shards = s;
	pthread_mutex_unlock(&shards_lock);
}

/* make_key - once per process */
static void make_key(void)
{
	(void)pthread_key_create(&shard_key, give_back);
}

/* shard - this thread's shard (taken or made at its first call) */
static struct shard *shard(void)
{
	struct shard *s = my_shard;

	if (s != NULL)
		return s;
	pthread_once(&key_once, make_key);
	pthread_mutex_lock(&shards_lock);
	s = free_shards;
	if (s != NULL) {
		free_shards = s->next_free;
	} else {
		s = xcalloc(1, sizeof(*s));
		s->next_all = all_shards;
		__atomic_store_n(&all_shards, s, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&shards_lock);
	(void)pthread_setspecific(shard_key, s);
	my_shard = s;
	return s;
}

/* on - is recording on? */
static inline bool on(void)
{
	return __atomic_load_n(&enabled, __ATOMIC_RELAXED);
}

/* add - add n to a counter this thread alone writes */
static inline void add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* bump - add one to a counter this thread alone writes */
static inline void bump(uint64_t *c)
{
	add(c, 1);
}

/* index_of - position of name in names (n entries; the last one is "other") */
static size_t index_of(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return n - 1;
}

void metrics_enable(bool yes)
{
	__atomic_store_n(&enabled, yes, __ATOMIC_RELAXED);
}

bool metrics_enabled(void)
{
	return on();
}

void metrics_decision(const char *stage, enum metrics_result result, const char *policy,
		      const char *reply_code)
{
	struct shard *s;
	size_t st, po;

	if (!on() || (unsigned)result >= METRICS_RESULTS)
		return;
	s = shard();
	st = index_of(stages, N_STAGES, stage ? stage : "other");
	po = policy == NULL ? 0 : index_of(policies, N_POLICIES, policy);
	bump(&s->decisions[st][po][result]);
	if (reply_code != NULL && (reply_code[0] == '4' || reply_code[0] == '5'))
		bump(&s->refusals[reply_code[0] - '4']);
}

void metrics_incident(void)
{
	if (on())
		bump(&shard()->incidents);
}

void metrics_connection(void)
{
	if (on())
		bump(&shard()->connections);
}

void metrics_connection_open(void)
{
	if (on())
		bump(&shard()->conn_opened);
}

void metrics_connection_close(void)
{
	if (on())
		bump(&shard()->conn_closed);
}

uint64_t metrics_clock(void)
{
	struct timespec ts;

	if (!on())
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + 1;	/* never 0 */
}

void metrics_latency(enum metrics_stage stage, uint64_t start)
{
	struct shard *s;
	uint64_t now, d;
	size_t b = 0;

	if (start == 0 || (unsigned)stage >= METRICS_STAGES)
		return;
	now = metrics_clock();
	d = now > start ? now - start : 0;
	while (b < N_BOUNDS && d > bound_ns[b])
		b++;
	s = shard();
	bump(&s->latency[stage][b]);
	add(&s->latency_ns[stage], d);
}

void metrics_cache(enum metrics_cache cache, bool hit)
{
	if (on() && (unsigned)cache < METRICS_CACHES)
		bump(&shard()->cache[cache][hit ? 1 : 0]);
}

void metrics_backend(enum metrics_backend backend, enum metrics_backend_event event)
{
	if (on() && (unsigned)backend < METRICS_BACKENDS &&
	    (unsigned)event < METRICS_BACKEND_EVENTS)
		bump(&shard()->backend[backend][event]);
}

void metrics_reservation(bool held)
{
	if (on())
		bump(held ? &shard()->reserved : &shard()->settled);
}

void metrics_config_loaded(void)
{
	__atomic_add_fetch(&config_generation, 1, __ATOMIC_RELAXED);
}

void metrics_config_reload_failed(void)
{
	__atomic_add_fetch(&reload_failures, 1, __ATOMIC_RELAXED);
}

struct buf {
	char *p;
	size_t len, size;
};

/* put - append formatted text */
static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->size - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->size = b->size * 2 + (size_t)(n > 0 ? n : 0);
		b->p = xrealloc(b->p, b->size);
	}
}

/* sum_into - add every counter of every shard into *t (relaxed loads) */
static void sum_into(struct shard *t)
{
	/* the counters are the uint64_t fields after the two links */
	const size_t first = offsetof(struct shard, decisions);
	const size_t n = (sizeof(struct shard) - first) / sizeof(uint64_t);
	uint64_t *to = (uint64_t *)(void *)((char *)t + first);

	for (struct shard *s = __atomic_load_n(&all_shards, __ATOMIC_ACQUIRE); s != NULL;
	     s = s->next_all) {
		uint64_t *from = (uint64_t *)(void *)((char *)s + first);

		for (size_t i = 0; i < n; i++)
			to[i] += __atomic_load_n(&from[i], __ATOMIC_RELAXED);
	}
}

/* gauge - a - b, never below 0 (the two may be read from shards at different instants) */
static unsigned long long gauge(uint64_t a, uint64_t b)
{
	return a > b ? (unsigned long long)(a - b) : 0;
}

/* render_histograms - the stage latency histograms */
static void render_histograms(struct buf *b, const struct shard *t)
{
	put(b, "# HELP chapps_stage_duration_seconds Time spent in a milter stage, from the "
	       "callback's start to its reply.\n# TYPE chapps_stage_duration_seconds histogram\n");
	for (size_t i = 0; i < METRICS_STAGES; i++) {
		uint64_t cum = 0;

		for (size_t k = 0; k <= N_BOUNDS; k++) {
			cum += t->latency[i][k];
			put(b, "chapps_stage_duration_seconds_bucket{stage=\"%s\",le=\"%s\"} %llu\n",
			    stages[i], k < N_BOUNDS ? bound_le[k] : "+Inf",
			    (unsigned long long)cum);
		}
		put(b, "chapps_stage_duration_seconds_sum{stage=\"%s\"} %llu.%09llu\n", stages[i],
		    (unsigned long long)(t->latency_ns[i] / 1000000000u),
		    (unsigned long long)(t->latency_ns[i] % 1000000000u));
		put(b, "chapps_stage_duration_seconds_count{stage=\"%s\"} %llu\n", stages[i],
		    (unsigned long long)cum);
	}
}

/* render_backends - caches and backend events */
static void render_backends(struct buf *b, const struct shard *t)
{
	static const char *const ev_name[METRICS_BACKEND_EVENTS] = { "errors", "timeouts",
								     "reconnects" };
	static const char *const ev_help[METRICS_BACKEND_EVENTS] = {
		"Failed backend calls seen by the policies.",
		"Backend calls the engine gave up waiting for.",
		"Connections made again after the backend was lost.",
	};

	for (int h = 1; h >= 0; h--) {
		put(b, "# HELP chapps_cache_%s_total Look-ups answered %s the cache.\n"
		       "# TYPE chapps_cache_%s_total counter\n",
		    h ? "hits" : "misses", h ? "from" : "without", h ? "hits" : "misses");
		for (size_t i = 0; i < METRICS_CACHES; i++)
			put(b, "chapps_cache_%s_total{cache=\"%s\"} %llu\n", h ? "hits" : "misses",
			    cache_names[i], (unsigned long long)t->cache[i][h]);
	}
	for (size_t e = 0; e < METRICS_BACKEND_EVENTS; e++) {
		put(b, "# HELP chapps_backend_%s_total %s\n# TYPE chapps_backend_%s_total counter\n",
		    ev_name[e], ev_help[e], ev_name[e]);
		for (size_t i = 0; i < METRICS_BACKENDS; i++)
			put(b, "chapps_backend_%s_total{backend=\"%s\"} %llu\n", ev_name[e],
			    backend_names[i], (unsigned long long)t->backend[i][e]);
	}
}

size_t metrics_render(char **text_r)
{
	struct shard *t = xcalloc(1, sizeof(*t));
	struct buf b = { xmalloc(16384), 0, 16384 };

	sum_into(t);
	put(&b, "# HELP chapps_build_info chapps version.\n# TYPE chapps_build_info gauge\n"
		"chapps_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	put(&b, "# HELP chapps_decisions_total Policy decisions by stage, policy and result.\n"
		"# TYPE chapps_decisions_total counter\n");
	for (size_t i = 0; i < N_STAGES; i++)
		for (size_t j = 0; j < N_POLICIES; j++)
			for (size_t k = 0; k < METRICS_RESULTS; k++)
				if (t->decisions[i][j][k] != 0)
					put(&b,
					    "chapps_decisions_total{stage=\"%s\",policy=\"%s\","
					    "result=\"%s\"} %llu\n",
					    stages[i], policies[j], results[k],
					    (unsigned long long)t->decisions[i][j][k]);
	put(&b, "# HELP chapps_refusals_total Refusals by reply class.\n"
		"# TYPE chapps_refusals_total counter\n"
		"chapps_refusals_total{class=\"4xx\"} %llu\nchapps_refusals_total{class=\"5xx\"} %llu\n",
	    (unsigned long long)t->refusals[0], (unsigned long long)t->refusals[1]);
	put(&b, "# HELP chapps_incidents_total Backend incidents (failures logged).\n"
		"# TYPE chapps_incidents_total counter\nchapps_incidents_total %llu\n",
	    (unsigned long long)t->incidents);
	put(&b, "# HELP chapps_connections_total Connections opened by the MTA.\n"
		"# TYPE chapps_connections_total counter\nchapps_connections_total %llu\n",
	    (unsigned long long)t->connections);
	put(&b, "# HELP chapps_connections_open Connections from the MTA open now.\n"
		"# TYPE chapps_connections_open gauge\nchapps_connections_open %llu\n",
	    gauge(t->conn_opened, t->conn_closed));
	render_histograms(&b, t);
	render_backends(&b, t);
	put(&b, "# HELP chapps_reservations_in_flight Messages holding a quota reservation not "
		"yet committed or released.\n# TYPE chapps_reservations_in_flight gauge\n"
		"chapps_reservations_in_flight %llu\n",
	    gauge(t->reserved, t->settled));
	put(&b, "# HELP chapps_config_generation Configurations installed: 1 at start, one "
		"more per successful reload.\n# TYPE chapps_config_generation gauge\n"
		"chapps_config_generation %llu\n",
	    (unsigned long long)__atomic_load_n(&config_generation, __ATOMIC_RELAXED));
	put(&b, "# HELP chapps_config_reload_failures_total Reloads refused (the running "
		"configuration stayed).\n# TYPE chapps_config_reload_failures_total counter\n"
		"chapps_config_reload_failures_total %llu\n",
	    (unsigned long long)__atomic_load_n(&reload_failures, __ATOMIC_RELAXED));
	free(t);
	*text_r = b.p;
	return b.len;
}
