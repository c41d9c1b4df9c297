/*
 * greylist_record - the greylisting rule and its parameters, shared by both
 * store engines
 *
 * The rule, applied atomically by the store (store_greylist_check):
 *   - a client with at least whitelist_threshold passes in the last 24 h
 *     passes at once (auto-whitelist; 0 disables it);
 *   - a tuple that passed within `lifetime` passes (and its lifetime is
 *     renewed);
 *   - a new tuple (or one whose first attempt is older than retry_window)
 *     is deferred and its clock starts now;
 *   - a retry before min_delay is deferred again WITHOUT restarting the clock;
 *   - a retry between min_delay and retry_window passes and is remembered.
 * Every pass adds one to the client's tally, once per message (the
 * caller marks further recipients' checks uncounted), kept as hourly
 * counters: a pass counts for 24 to 25 hours.
 *
 * Pure data and functions, thread-safe.
 */
#ifndef CHAPPS_GREYLIST_RECORD_H
#define CHAPPS_GREYLIST_RECORD_H

#include <stdbool.h>
#include <stdint.h>

struct greylist_params {
	uint32_t min_delay;		/* seconds */
	uint32_t retry_window;		/* seconds */
	uint32_t lifetime;		/* seconds a passed tuple is remembered */
	uint32_t whitelist_threshold;	/* passes per 24 h; 0 = off */
	bool uncounted;			/* a pass here does not add to the tally (another
					 * recipient of the same message already did) */
};

enum greylist_verdict {
	GREYLIST_PASS = 0,		/* known tuple, retried in time */
	GREYLIST_PASS_WHITELISTED,	/* client auto-whitelisted */
	GREYLIST_DEFER_NEW,		/* first sight (or retry window missed) */
	GREYLIST_DEFER_EARLY,		/* retried before min_delay */
};

/* greylist_verdict_name - "pass", "whitelisted", "new", "early". */
const char *greylist_verdict_name(enum greylist_verdict verdict);

#endif
