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
 * greylist_record_decide is the rule itself: the LMDB engine calls it
 * inside its write transaction, and the Redis engine's script (redis/greylist.lua)
 * is its transcription, given the tally constants below as arguments.
 * The tally model (hourly counters) is here too, for the LMDB engine.
 *
 * Pure data and functions, thread-safe.
 */
#ifndef CHAPPS_GREYLIST_RECORD_H
#define CHAPPS_GREYLIST_RECORD_H

#include <stdbool.h>
#include <stdint.h>

/* The client tally: hourly counters, each counted until its end + one day. */
#define GREYLIST_TALLY_HOUR 3600	/* width of one counter, seconds */
#define GREYLIST_TALLY_WINDOW 86400	/* how long a pass counts after its hour */
#define GREYLIST_TALLY_MAX 25		/* live counters kept: the window's hours + 1 */

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

/* What a store keeps per tuple. */
struct greylist_record_tuple {
	int64_t first;		/* start of the current greylisting attempt */
	int64_t last_pass;	/* -1: has not passed */
};

/* A client's pass tally: counters for distinct hours, oldest first. */
struct greylist_record_tally {
	unsigned int n;
	int64_t hour[GREYLIST_TALLY_MAX + 1];	/* floor(t / GREYLIST_TALLY_HOUR), rising */
	uint32_t count[GREYLIST_TALLY_MAX + 1];
};

/* greylist_verdict_name - "pass", "whitelisted", "new", "early". */
const char *greylist_verdict_name(enum greylist_verdict verdict);

/*
 * greylist_record_decide - the rule above for a tuple (*present: whether the
 * store has a live record of it, then in *t) and the client's tally (its
 * passes counted at now).  Updates *t and *present to what the store must
 * write, except for GREYLIST_DEFER_EARLY, which changes nothing and must
 * write nothing.  A clock going back never shortens a pass.
 */
enum greylist_verdict greylist_record_decide(const struct greylist_params *params,
					     uint32_t tally, int64_t now, bool *present,
					     struct greylist_record_tuple *t);

/*
 * greylist_record_tuple_expiry - the first instant at which the rule no
 * longer needs t (past first + max(retry_window, min_delay) a retry restarts,
 * past last_pass + lifetime the pass is forgotten), plus one: a record
 * treated as absent from then on never changes a verdict.
 */
int64_t greylist_record_tuple_expiry(const struct greylist_params *params,
				     const struct greylist_record_tuple *t);

/* greylist_record_tally_live - does the counter of hour still count at now? */
bool greylist_record_tally_live(int64_t hour, int64_t now);

/* greylist_record_tally_sum - the passes counted at now (saturated) */
uint32_t greylist_record_tally_sum(const struct greylist_record_tally *tally, int64_t now);

/*
 * greylist_record_tally_add - drop dead counters and add one pass at now;
 * past GREYLIST_TALLY_MAX counters (a clock that jumps) the oldest is folded
 * into the next newer, which lives longer: never under-counted.
 */
void greylist_record_tally_add(struct greylist_record_tally *tally, int64_t now);

/* greylist_record_tally_expiry - when its newest counter stops counting (n > 0) */
int64_t greylist_record_tally_expiry(const struct greylist_record_tally *tally);

#endif
