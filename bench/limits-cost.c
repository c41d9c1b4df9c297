/*
 * NAME
 *	limits-cost - the store's cost per quota decision, one limit against several
 * SYNOPSIS
 *	limits-cost lmdb DIRECTORY [DECISIONS [SCENARIO]]
 *	limits-cost redis UNIX-SOCKET [DECISIONS [SCENARIO]]
 * DESCRIPTION
 *	A bounded loop, single-threaded, straight against store.h (no milter,
 *	no network but the Redis socket): for each scenario it fills a
 *	window with 10, 1440, 10,000 or 100,000 committed units spread over
 *	a day's buckets (10 units: 10 buckets; more: every minute of the
 *	day), then times DECISIONS (default 2000) decisions of one
 *	reservation and one commit each, and prints microseconds per
 *	decision and the ratio 100,000 / 1440; on Redis also the server's own
 *	time in EVALSHA per decision (INFO commandstats on a side
 *	connection), which round trips and a loaded host do not blur.
 *	Scenarios:
 *	  quota       store_quota_reserve/commit, today's single limit
 *	  limits-id0  store_limits_* with that single limit (id 0)
 *	  limits-1    store_limits_* with one limit (id 1, sliding 24 h)
 *	  limits-3    three limits at once: hourly and daily messages of the
 *	              user, and a domain pool's daily calendar count
 *	  distinct    one distinct-recipients limit (a new address each time),
 *	              filled with as many addresses (one decision each)
 *	  bench3      make bench's quota of three limits: the day's own number
 *	              (id 0, quota.lua's hash), messages per hour and distinct
 *	              recipients per day, a new address each time
 *	It also prints this process's CPU per decision (building the calls
 *	and reading the replies: the milter's share of the store's cost).
 *	The DIRECTORY or the Redis database is used as scratch: every key of
 *	the bench's owners is reset first.  Built on demand only:
 *	`make bench/limits-cost`.  Point it at a private Redis (e.g.
 *	redis-server --port 0 --unixsocket /tmp/x.sock), never a production one.
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "base/config.h"
#include "store/store.h"

#define NOW 1700006400		/* a day start, multiple of 60 */
#define DAY 86400

static struct store *st;
static redisContext *stats;	/* Redis: a side connection for INFO commandstats */
static double server_us;	/* Redis: server time per decision of the last run */
static double client_us;	/* this process's CPU per decision of the last run */

/* server_usec - Redis: the server's total microseconds in EVALSHA so far */
static double server_usec(void)
{
	redisReply *r;
	const char *p;
	double v = 0;

	if (stats == NULL)
		return 0;
	r = redisCommand(stats, "INFO commandstats");
	if (r != NULL && r->type == REDIS_REPLY_STRING &&
	    (p = strstr(r->str, "cmdstat_evalsha:")) != NULL && (p = strstr(p, "usec=")) != NULL)
		v = strtod(p + 5, NULL);
	if (r != NULL)
		freeReplyObject(r);
	return v;
}

/* die - print and exit */
static void die(const char *what, const char *error)
{
	fprintf(stderr, "limits-cost: %s: %s\n", what, error != NULL ? error : "?");
	exit(1);
}

/* usec - monotonic clock in microseconds */
static double usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* cpu_usec - this process's CPU time in microseconds */
static double cpu_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* mk - a limit of owner */
static struct store_limit mk(const char *owner, uint32_t id, enum store_count count,
			     uint32_t interval, uint64_t max)
{
	struct store_limit l;

	memset(&l, 0, sizeof(l));
	l.owner = owner;
	l.owner_len = strlen(owner);
	l.id = id;
	l.count = count;
	l.window = STORE_WINDOW_SLIDING;
	l.interval = interval;
	l.resolution = 60;
	l.max = max;
	l.reservation_ttl = 300;
	return l;
}

/* the scenarios' limits */
static struct store_limit lims[3];
static size_t nlims;
static int use_quota;

/* decide - one reservation and its commit at now; the amount of units committed */
static void decide(const char *resid, uint64_t units, uint64_t hash, int64_t now)
{
	struct store_limit_ask asks[3];
	const char *error = NULL;
	size_t i;
	int ret;

	if (use_quota) {
		struct store_quota_params p = { 4000000000u, 0, DAY, 60, 300 };

		ret = store_quota_reserve(st, "bench", 5, resid, (uint32_t)units, &p, now, NULL,
					  &error);
		if (ret != STORE_OK)
			die("quota reserve", ret == STORE_REFUSED ? "refused" : error);
		if (store_quota_commit(st, "bench", 5, resid, &p, now, &error) != STORE_OK)
			die("quota commit", error);
		return;
	}
	for (i = 0; i < nlims; i++) {
		asks[i].amount = units;
		asks[i].rcpt_hash = hash;
	}
	ret = store_limits_reserve(st, resid, lims, asks, nlims, now, NULL, NULL, &error);
	if (ret != STORE_OK)
		die("limits reserve", ret == STORE_REFUSED ? "refused" : error);
	if (store_limits_commit(st, resid, lims, NULL, nlims, now, &error) != STORE_OK)
		die("limits commit", error);
}

/* run - fill the window with units, then time decisions; us per decision */
static double run(long units, int decisions, int distinct)
{
	const char *error = NULL;
	char resid[32];
	long spread = distinct ? units : (units < 1440 ? units : 1440), i;
	double t0;
	uint64_t h = 0;

	store_quota_reset(st, "bench", 5, NULL, &error);
	if (!use_quota && store_limits_reset(st, lims, nlims, &error) != STORE_OK)
		die("reset", error);
	/* the window's contents: spread units over the day before NOW */
	for (i = 0; i < spread; i++) {
		uint64_t u = distinct ? 1 : (uint64_t)(units / spread + (i < units % spread));
		int64_t t = NOW - DAY + 60 + (int64_t)i * (DAY - 120) / spread;

		snprintf(resid, sizeof(resid), "fill%ld", i);
		decide(resid, u, ++h * 0x9e3779b97f4a7c15ull, t);
	}
	server_us = server_usec();
	client_us = cpu_usec();
	t0 = usec();
	for (i = 0; i < decisions; i++) {
		snprintf(resid, sizeof(resid), "d%ld", i);
		decide(resid, 1, ++h * 0x9e3779b97f4a7c15ull, NOW + i / 100);
	}
	t0 = (usec() - t0) / decisions;
	client_us = (cpu_usec() - client_us) / decisions;
	server_us = (server_usec() - server_us) / decisions;
	return t0;
}

int main(int argc, char **argv)
{
	struct config config;
	const char *error = NULL;
	int decisions = argc > 3 ? atoi(argv[3]) : 2000, s;
	static const char *names[] = { "quota", "limits-id0", "limits-1", "limits-3",
				       "distinct", "bench3" };

	if (argc < 3 || decisions < 1 || decisions > 1000000) {
		fprintf(stderr, "usage: limits-cost lmdb DIR | redis SOCKET [DECISIONS [SCENARIO]]\n");
		return 2;
	}
	memset(&config, 0, sizeof(config));
	if (strcmp(argv[1], "lmdb") == 0) {
		config.store_backend = STORE_BACKEND_LMDB;
		config.store_path = argv[2];
		config.store_map_size_mb = 256;
	} else {
		config.store_backend = STORE_BACKEND_REDIS;
		config.redis_socket = argv[2];
		/* long: the server may run under valgrind (callgrind counts its instructions) */
		config.redis_connect_timeout_ms = 30000;
		config.redis_command_timeout_ms = 30000;
		stats = redisConnectUnix(argv[2]);
		if (stats == NULL || stats->err)
			die("connect", stats != NULL ? stats->errstr : "no memory");
	}
	if (store_open(&config, &st, &error) < 0)
		die("open", error);
	printf("%-11s %10s %10s %10s %10s %7s  (us per decision, %s, %d decisions)\n", "scenario",
	       "10 units", "1440", "10000", "100000", "ratio", argv[1], decisions);
	for (s = 0; s < 6; s++) {
		static const long sizes[4] = { 10, 1440, 10000, 100000 };
		double t[4], sv[4], cv[4];
		int k;

		if (argc > 4 && strcmp(argv[4], names[s]) != 0)
			continue;

		use_quota = s == 0;
		nlims = 1;
		if (s == 1)
			lims[0] = mk("bench", 0, STORE_COUNT_MESSAGES, DAY, 4000000000u);
		if (s == 2)
			lims[0] = mk("bench", 1, STORE_COUNT_MESSAGES, DAY, 4000000000u);
		if (s == 3) {
			lims[0] = mk("bench", 1, STORE_COUNT_MESSAGES, DAY, 4000000000u);
			lims[1] = mk("bench", 2, STORE_COUNT_MESSAGES, 3600, 4000000000u);
			lims[2] = mk("\001pool", 3, STORE_COUNT_MESSAGES, DAY, 4000000000u);
			lims[2].window = STORE_WINDOW_CALENDAR;
			lims[2].period_start = NOW - DAY + 60;
			lims[2].period_end = NOW + DAY;
			nlims = 3;
		}
		if (s == 4)
			lims[0] = mk("bench", 4, STORE_COUNT_DISTINCT, DAY, 4000000000u);
		if (s == 5) {
			lims[0] = mk("bench", 0, STORE_COUNT_MESSAGES, DAY, 4000000000u);
			lims[1] = mk("bench", 5, STORE_COUNT_MESSAGES, 3600, 4000000000u);
			lims[2] = mk("bench", 6, STORE_COUNT_DISTINCT, DAY, 4000000000u);
			nlims = 3;
		}
		for (k = 0; k < 4; k++) {
			t[k] = run(sizes[k], decisions, s == 4);
			sv[k] = server_us;
			cv[k] = client_us;
		}
		printf("%-11s %10.1f %10.1f %10.1f %10.1f %7.2f\n", names[s], t[0], t[1], t[2], t[3],
		       t[3] / t[1]);
		printf("%-11s %10.1f %10.1f %10.1f %10.1f %7.2f  (this process's CPU us)\n",
		       "  client", cv[0], cv[1], cv[2], cv[3], cv[3] / cv[1]);
		if (stats != NULL)
			printf("%-11s %10.1f %10.1f %10.1f %10.1f %7.2f  (Redis server us in EVALSHA)\n",
			       "  server", sv[0], sv[1], sv[2], sv[3], sv[3] / sv[1]);
		fflush(stdout);
	}
	store_close(&st);
	if (stats != NULL)
		redisFree(stats);
	return 0;
}
