/*
 * limits - the pieces of issue 10's limits the quota policy and chapps-cli
 * share: store limits built from the policy database's rows, calendar
 * periods in quota.timezone, the text that names a limit, the recipient
 * hash of distinct_recipients, the exemptions.
 */
#ifndef CHAPPS_LIMITS_H
#define CHAPPS_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/backends.h"
#include "store/store.h"

struct config;

/*
 * limits_set_timezone - set the process's time zone to quota.timezone
 * (when not empty) and tzset(); once, at start-up, before any thread uses
 * the clock.  Returns 0, or -1 with a message in err for a zone that does
 * not exist (no file under /usr/share/zoneinfo).
 */
int limits_set_timezone(const struct config *config, char *err, size_t errsize);

/*
 * limits_period - the calendar period (span POLICYDB_SPAN_DAY or _MONTH)
 * holding now, in the process's time zone: [*start_r, *end_r).  DST days
 * are 23 or 25 hours long.
 */
void limits_period(long long span, int64_t now, int64_t *start_r, int64_t *end_r);

/* The owner key prefix of a domain pool ("\0pool:" + domain, binary). */
#define LIMITS_POOL_PREFIX "\0pool:"
#define LIMITS_POOL_PREFIX_LEN 6
#define LIMITS_OWNER_MAX 300

/* What one store limit of a message is, for replies and chapps-cli. */
struct limits_entry {
	bool pool;			/* the domain pool's */
	bool base;			/* the quota's own number (CHAPPS limit) */
	struct policydb_limit row;	/* kind, span, max (base: messages/recipients, interval) */
};

/*
 * limits_build - the store limits of l at now for user (owner pointers:
 * user, or pool_owner, a buffer of LIMITS_OWNER_MAX bytes the caller
 * keeps): the user's base limit first (id 0, exactly store_quota's), then
 * its extra limits, then the pool's; caps are left out; at most
 * STORE_LIMITS_MAX.  entries (may be NULL) gets what each one is.
 * Returns the number built.
 */
size_t limits_build(const struct config *config, const struct backends_limits *l,
		    const char *user, char *pool_owner, int64_t now, struct store_limit *out,
		    struct limits_entry *entries);

/* limits_counts_size - has l a bytes limit (its own or the pool's) or max_message_bytes? */
bool limits_counts_size(const struct backends_limits *l);

/*
 * limits_cap_row - the row of the cap of kind (POLICYDB_LIMIT_MAX_*) in l
 * (the smallest when there are several; with its overrides), or NULL.
 */
const struct policydb_limit *limits_cap_row(const struct backends_limits *l, int kind);
/*
 * What a limit does when it refuses and near its maximum (issue 11):
 * action (enum quota_action), warn_at (percent, 0 = off), monitor (only
 * log its refusals).
 */
struct limits_policy {
	int action;
	int warn_at;
	bool monitor;
};

/*
 * limits_entry_policy - the effective action, warn_at and mode of limit e
 * (the quota's own number, an extra limit, a cap or a pool's): its row's
 * own action, warn_at and mode (quota_limits columns) where set, else the
 * config's quota.action, quota.warn_at and quota.mode; e may be NULL (the
 * config's).  The only place the two are combined.  Fills *p.
 */
void limits_entry_policy(const struct config *config, const struct limits_entry *e,
			 struct limits_policy *p);

/* limits_cap - the cap of kind (POLICYDB_LIMIT_MAX_*) in l, or -1 when none. */
long long limits_cap(const struct backends_limits *l, int kind);

/*
 * limits_describe - "100 messages per hour", "5 recipients per 20 seconds",
 * "500 bytes per calendar day", "50 recipients per message", with
 * " (pool of DOMAIN)" for a pool's limit.  Into buf, always terminated.
 */
void limits_describe(const struct config *config, const struct limits_entry *e,
		     const char *domain, char *buf, size_t size);

/* limits_rcpt_hash - FNV-1a 64 of the lower-cased address without <> (distinct_recipients). */
uint64_t limits_rcpt_hash(const char *addr);

/*
 * limits_exempt - is the message exempt from every limit: a user in
 * quota.exempt_users, a sender in quota.exempt_senders, or the null sender
 * without quota.count_null_sender.  *why_r gets a short reason.
 */
bool limits_exempt(const struct config *config, const char *user, const char *sender,
		   const char **why_r);

/* limits_uncounted_rcpt - is rcpt's domain in quota.uncounted_domains? */
bool limits_uncounted_rcpt(const struct config *config, const char *rcpt);

/* limits_declared_size - SIZE= of the MAIL FROM ESMTP arguments, or 0. */
uint64_t limits_declared_size(const char *esmtp_args);

#endif
