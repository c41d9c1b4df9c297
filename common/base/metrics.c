/*
 * NAME
 *	metrics - per-thread decision counters and their Prometheus text
 * SUMMARY
 *	metrics_decision() on the decision path; metrics_render() for a scrape
 * DESCRIPTION
 *	See metrics.h for the sharding.  Shards are never freed while the
 *	process runs (a scrape may be reading one); a thread's shard returns
 *	to the free list through a pthread key destructor.  Label values are
 *	fixed tables, so a scrape never formats anything that came from a
 *	client.
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

#include "base/metrics.h"
#include "base/xalloc.h"

static const char *const stages[] = { "CONNECT", "HELO", "MAIL", "RCPT", "DATA", "EOM", "other" };
#define N_STAGES (sizeof(stages) / sizeof(stages[0]))

static const char *const policies[] = { "none", "identity", "limits", "sender_domain_auth",
					"quota", "spf", "greylisting", "helo_whitelist", "other" };
#define N_POLICIES (sizeof(policies) / sizeof(policies[0]))

static const char *const results[METRICS_RESULTS] = { "continue", "accept", "reject",
						      "tempfail" };

struct shard {
	struct shard *next_all;		/* every shard, for the scrape */
	struct shard *next_free;
	uint64_t decisions[N_STAGES][N_POLICIES][METRICS_RESULTS];
	uint64_t refusals[2];		/* 4xx, 5xx */
	uint64_t incidents;
	uint64_t connections;
};

static pthread_mutex_t shards_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shard *all_shards;	/* grows only; read lock-free (published) */
static struct shard *free_shards;
static pthread_key_t shard_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static __thread struct shard *my_shard;

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

/* bump - add one to a counter this thread alone writes */
static inline void bump(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/* index_of - position of name in names (n entries; the last one is "other") */
static size_t index_of(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return n - 1;
}

void metrics_decision(const char *stage, enum metrics_result result, const char *policy,
		      const char *reply_code)
{
	struct shard *s = shard();
	size_t st = index_of(stages, N_STAGES, stage ? stage : "other");
	size_t po = policy == NULL ? 0 : index_of(policies, N_POLICIES, policy);

	if ((unsigned)result >= METRICS_RESULTS)
		return;
	bump(&s->decisions[st][po][result]);
	if (reply_code != NULL && (reply_code[0] == '4' || reply_code[0] == '5'))
		bump(&s->refusals[reply_code[0] - '4']);
}

void metrics_incident(void)
{
	bump(&shard()->incidents);
}

void metrics_connection(void)
{
	bump(&shard()->connections);
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

size_t metrics_render(char **text_r)
{
	static uint64_t dec[N_STAGES][N_POLICIES][METRICS_RESULTS];
	static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;
	uint64_t refusals[2] = { 0, 0 }, incidents = 0, connections = 0;
	struct buf b = { xmalloc(4096), 0, 4096 };

	pthread_mutex_lock(&render_lock);	/* one scrape at a time: dec is static */
	memset(dec, 0, sizeof(dec));
	for (struct shard *s = __atomic_load_n(&all_shards, __ATOMIC_ACQUIRE); s != NULL;
	     s = s->next_all) {
		for (size_t i = 0; i < N_STAGES; i++)
			for (size_t j = 0; j < N_POLICIES; j++)
				for (size_t k = 0; k < METRICS_RESULTS; k++)
					dec[i][j][k] += __atomic_load_n(&s->decisions[i][j][k],
									__ATOMIC_RELAXED);
		refusals[0] += __atomic_load_n(&s->refusals[0], __ATOMIC_RELAXED);
		refusals[1] += __atomic_load_n(&s->refusals[1], __ATOMIC_RELAXED);
		incidents += __atomic_load_n(&s->incidents, __ATOMIC_RELAXED);
		connections += __atomic_load_n(&s->connections, __ATOMIC_RELAXED);
	}
	put(&b, "# HELP chapps_build_info chapps version.\n# TYPE chapps_build_info gauge\n"
		"chapps_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	put(&b, "# HELP chapps_decisions_total Policy decisions by stage, policy and result.\n"
		"# TYPE chapps_decisions_total counter\n");
	for (size_t i = 0; i < N_STAGES; i++)
		for (size_t j = 0; j < N_POLICIES; j++)
			for (size_t k = 0; k < METRICS_RESULTS; k++)
				if (dec[i][j][k] != 0)
					put(&b,
					    "chapps_decisions_total{stage=\"%s\",policy=\"%s\","
					    "result=\"%s\"} %llu\n",
					    stages[i], policies[j], results[k],
					    (unsigned long long)dec[i][j][k]);
	pthread_mutex_unlock(&render_lock);
	put(&b, "# HELP chapps_refusals_total Refusals by reply class.\n"
		"# TYPE chapps_refusals_total counter\n"
		"chapps_refusals_total{class=\"4xx\"} %llu\nchapps_refusals_total{class=\"5xx\"} %llu\n",
	    (unsigned long long)refusals[0], (unsigned long long)refusals[1]);
	put(&b, "# HELP chapps_incidents_total Backend incidents (failures logged).\n"
		"# TYPE chapps_incidents_total counter\nchapps_incidents_total %llu\n",
	    (unsigned long long)incidents);
	put(&b, "# HELP chapps_connections_total Connections opened by the MTA.\n"
		"# TYPE chapps_connections_total counter\nchapps_connections_total %llu\n",
	    (unsigned long long)connections);
	*text_r = b.p;
	return b.len;
}
