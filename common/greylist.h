/*
 * greylist - greylisting decisions: tuple keys and the timing rule
 *
 * A tuple is (client, sender, recipient): client is the client address,
 * optionally reduced to its /client_prefix_v4 or /client_prefix_v6
 * network; sender optionally stripped of SRS and VERP tags; recipient as
 * given (domain lower-cased).  greylist_tuple_key builds the binary-safe
 * store key.
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
 * Pure functions, thread-safe.
 */
#ifndef CHAPPS_GREYLIST_H
#define CHAPPS_GREYLIST_H

#include <stdbool.h>
#include <stddef.h>
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

/*
 * greylist_client_key - the client part of a tuple: the address itself, or
 * its network with prefix_v4/prefix_v6 bits ("192.0.2.0/24").  Returns 0,
 * or -1 when addr is not an IP address (then the text is used as is).
 */
int greylist_client_key(const char *addr, unsigned prefix_v4, unsigned prefix_v6, char *buf,
			size_t size);

/*
 * greylist_strip_sender - remove SRS (SRS0=hash=tt=domain=local@fwd,
 * SRS1=...), BATV (prvs=tag=local@domain) and VERP/sub-address tags
 * (local+tag@domain) so that every message of one mailing list or
 * forwarder maps to one sender.  Writes into buf; returns buf.
 */
char *greylist_strip_sender(const char *sender, char *buf, size_t size);

/* greylist_verdict_name - "pass", "whitelisted", "new", "early". */
const char *greylist_verdict_name(enum greylist_verdict verdict);

#endif
