/*
 * alert - operator alerts: refusals, warnings, locks and unlocks
 *
 * An event posted here is logged as one line and queued for a sender
 * thread that delivers it to an HTTP webhook (JSON body, bearer token
 * and/or HMAC-SHA256 signature header, libcurl) and optionally as a mail
 * through the local sendmail binary, with retries and back-off.  Posting
 * never blocks on the network: the queue is bounded, a full queue drops
 * the event and counts it; at most one event per (user, kind) is
 * accepted per alerts.interval seconds (no storms).
 */
#ifndef CHAPPS_ALERT_H
#define CHAPPS_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

enum alert_kind { ALERT_REFUSAL, ALERT_WARN, ALERT_LOCK, ALERT_UNLOCK };

struct alert_event {
	enum alert_kind kind;
	const char *user;		/* never NULL */
	const char *limit;		/* "100 messages per hour", a policy name, or NULL */
	uint64_t used, max;		/* counts, 0 when not applicable */
	const char *client_addr;	/* or NULL */
	const char *queue_id;		/* or NULL */
	int64_t time;			/* seconds */
};

struct alerts;

/* alerts_open - from config's alerts section; starts the sender thread when anything is configured
 * beyond the log.  Returns 0, or -1 with a message in err (bad URL scheme: only http/https). */
int alerts_open(const struct config *config, struct alerts **alerts_r, char *err, size_t errsize);

/* alerts_close - stop the sender thread (delivering what is queued for at most alerts.timeout_ms). */
void alerts_close(struct alerts **alerts);

/*
 * alerts_post - never blocks on the network: at most one event per (user, kind) per
 * alerts.interval seconds (later ones are dropped silently, counted); the accepted event is
 * logged as one line and queued (a full queue drops it and counts it).  Returns true when
 * accepted.  Thread-safe; alerts may be NULL (nothing happens, returns false).
 */
bool alerts_post(struct alerts *alerts, const struct alert_event *ev);

/* alerts_set_sink - also hand every accepted event, as its JSON text, to sink from the sender
 * thread (the milter passes one that calls store_event_add).  Before any post. */
void alerts_set_sink(struct alerts *alerts,
		     void (*sink)(void *ctx, const char *json, size_t len, int64_t time), void *ctx);

/* alerts_set_clock_ms - tests only: the monotonic clock (milliseconds) that paces the line
 * of dropped counters, NULL for the real one.  Process-wide; only for alerts that log and
 * nothing else (no webhook, mail or sink: no sender thread, whose waits read the real
 * clock).  Before alerts_open. */
void alerts_set_clock_ms(int64_t (*now_ms)(void));

#endif
