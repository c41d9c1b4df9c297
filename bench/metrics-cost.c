/*
 * NAME
 *	metrics-cost - what common/base/metrics costs chapps-milter per message
 * SYNOPSIS
 *	metrics-cost [MESSAGES]
 * DESCRIPTION
 *	A bounded single-threaded loop over the calls chapps-milter makes for
 *	one message of gate + SDA + quota on its own connection (the worst
 *	case: the connection's calls are not shared by other messages):
 *	connection open and counted, the CONNECT, MAIL, RCPT and DATA stages
 *	timed into their histograms, three decisions, two cache look-ups
 *	counted, one reservation held and settled, connection closed.  It
 *	runs MESSAGES times (default 2,000,000) with recording on, then the
 *	same with it off, and prints nanoseconds per message for each, then
 *	renders the exposition once (the cost of a scrape, microseconds).
 *	Unlike a throughput ratio on a shared machine, this does not move with
 *	the load much; bench/run.sh (section M) sets it next to the milter's
 *	CPU time per message.  Built by `make bench`; not installed.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/metrics.h"

/* now_ns - the monotonic clock */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* one_message - the metrics calls of one message on its own connection */
static void one_message(void)
{
	uint64_t t;

	metrics_connection_open();
	t = metrics_clock();
	metrics_connection();
	metrics_latency(METRICS_STAGE_CONNECT, t);
	t = metrics_clock();
	metrics_cache(METRICS_CACHE_SDA, true);
	metrics_cache(METRICS_CACHE_QUOTA, true);
	metrics_decision("MAIL", METRICS_CONTINUE, "quota", NULL);
	metrics_latency(METRICS_STAGE_MAIL, t);
	t = metrics_clock();
	metrics_reservation(true);
	metrics_decision("RCPT", METRICS_CONTINUE, "quota", NULL);
	metrics_latency(METRICS_STAGE_RCPT, t);
	t = metrics_clock();
	metrics_reservation(false);
	metrics_decision("DATA", METRICS_ACCEPT, "quota", NULL);
	metrics_latency(METRICS_STAGE_DATA, t);
	metrics_connection_close();
}

/* run - ns per message for n messages */
static double run(long n)
{
	uint64_t t0 = now_ns();

	for (long i = 0; i < n; i++)
		one_message();
	return (double)(now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	double on, off, render;
	char *text;
	uint64_t t0;

	if (n < 1 || n > 100000000) {
		fprintf(stderr, "usage: metrics-cost [MESSAGES (1..100000000)]\n");
		return 2;
	}
	metrics_enable(true);
	(void)run(n / 10 + 1);		/* warm up: the shard, the caches */
	on = run(n);
	metrics_enable(false);
	off = run(n);
	metrics_enable(true);
	t0 = now_ns();
	metrics_render(&text);
	render = (double)(now_ns() - t0) / 1000.0;
	free(text);
	printf("on_ns=%.1f off_ns=%.1f cost_ns=%.1f scrape_us=%.1f messages=%ld\n", on, off,
	       on - off, render, n);
	return 0;
}
