/*
 * quota - the outbound quota: how many messages (or recipients) a user may
 * send in a sliding window
 *
 * The policy (quota.c, in outbound.policies as "quota") and chapps-cli
 * (show --quota, usage import) hand the store the same window parameters,
 * built here from the config and the user's limit.
 */
#ifndef CHAPPS_QUOTA_H
#define CHAPPS_QUOTA_H

#include "store/store.h"

struct config;

/*
 * quota_store_params - the store parameters for a user whose limit is
 * limit (negative: none, taken as 0): quota.interval, quota.resolution,
 * quota.reservation_ttl, and quota.margin as an absolute count (a ratio is
 * applied to limit).  Fills *params.  Thread-safe.
 */
void quota_store_params(const struct config *config, long limit,
			struct store_quota_params *params);

/* The largest count quota_import_usage takes in one call. */
#define QUOTA_IMPORT_MAX 100000000

/*
 * quota_import_usage - record count units as sent by user during the
 * spread seconds before now (0: all at now): count is split as evenly as
 * possible over min(count, spread / quota.resolution, at least 1)
 * buckets ending at now, oldest first, each one reserve + commit at its
 * bucket's time, whatever the user's limit (operators importing usage
 * from CHAPPS, the benchmark filling a window).  count is at most
 * QUOTA_IMPORT_MAX, spread at most quota.interval.  Returns 0 with
 * *buckets_r set, or -1 with *error_r (the store's or a static text).
 */
int quota_import_usage(const struct config *config, struct store *store, const char *user,
		       uint32_t count, uint32_t spread, int64_t now, uint32_t *buckets_r,
		       const char **error_r);

#endif
