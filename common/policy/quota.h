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

#endif
