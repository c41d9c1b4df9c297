/*
 * NAME
 *	quota-fill - give a user a quota window that already holds N messages
 * SYNOPSIS
 *	quota-fill -c CONFIG -u USER -n N [-l LIMIT]
 * DESCRIPTION
 *	Opens the store of a chapps configuration (store.backend with its
 *	settings, exactly as chapps-milter does) and commits N units to
 *	USER's window, spread as evenly as possible over min(N, interval /
 *	resolution) buckets that end at the current time, oldest first.  This
 *	is the worst case for the cost of a decision: every bucket the window
 *	can hold is live (sending N messages through the milter in a few
 *	seconds would put them all in one or two buckets).  Each bucket is one
 *	store_quota_reserve + store_quota_commit pair at that bucket's time,
 *	so filling 100,000 messages takes a few hundred store calls.
 *
 *	The usage afterwards is printed ("USER: committed=C") so that the
 *	caller can check it.  LIMIT (default 100000000) is the limit used for
 *	the reservations; it must be at least N.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on a store error or a refused reservation,
 *	2 on a usage or configuration error.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "store/store.h"

/* usage - the synopsis, exit 2 */
static void usage(void)
{
	fprintf(stderr, "usage: quota-fill -c CONFIG -u USER -n N [-l LIMIT]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *path = NULL, *user = NULL, *err = NULL;
	long n = -1, limit = 100000000;
	struct store_quota_params params;
	struct store_quota_state state;
	struct config *cfg;
	struct store *store;
	char *errors = NULL;
	int64_t now = (int64_t)time(NULL);
	long buckets, k;
	int o;

	while ((o = getopt(argc, argv, "c:u:n:l:")) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case 'u': user = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'l': limit = atol(optarg); break;
		default: usage();
		}
	}
	if (path == NULL || user == NULL || n < 0 || limit < n || limit > UINT32_MAX)
		usage();
	if (config_load(path, &cfg, &errors) < 0) {
		fprintf(stderr, "%s", errors);
		free(errors);
		return 2;
	}
	if (store_open(cfg, &store, &err) < 0) {
		fprintf(stderr, "quota-fill: store: %s\n", err);
		config_unref(&cfg);
		return 1;
	}
	params.limit = (uint32_t)limit;
	params.margin = 0;
	params.interval = (uint32_t)cfg->quota_interval;
	params.resolution = (uint32_t)cfg->quota_resolution;
	params.reservation_ttl = (uint32_t)cfg->quota_reservation_ttl;
	buckets = cfg->quota_interval / cfg->quota_resolution;
	if (buckets > n)
		buckets = n;
	for (k = buckets - 1; k >= 0; k--) {
		/* bucket k back from now gets n / buckets units, the newest the rest */
		uint32_t units = (uint32_t)(n / buckets + (k < n % buckets ? 1 : 0));
		int64_t t = now - (int64_t)k * cfg->quota_resolution;
		char resid[STORE_RESID_MAX];

		snprintf(resid, sizeof(resid), "fill.%ld.%ld", (long)getpid(), k);
		if (store_quota_reserve(store, user, strlen(user), resid, units, &params, t, &state,
					&err) != STORE_OK ||
		    store_quota_commit(store, user, strlen(user), resid, &params, t, &err) !=
			    STORE_OK) {
			fprintf(stderr, "quota-fill: %s: bucket %ld: %s\n", user, k,
				err ? err : "refused");
			store_close(&store);
			config_unref(&cfg);
			return 1;
		}
	}
	if (store_quota_usage(store, user, strlen(user), &params, now, &state, &err) != STORE_OK) {
		fprintf(stderr, "quota-fill: %s: usage: %s\n", user, err);
		store_close(&store);
		config_unref(&cfg);
		return 1;
	}
	printf("%s: committed=%u buckets=%ld\n", user, state.committed, buckets);
	store_close(&store);
	config_unref(&cfg);
	return 0;
}
