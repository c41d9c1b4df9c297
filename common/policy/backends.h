/*
 * backends - the store, policy database, SPF checker and look-up caches
 * the policies share
 *
 * Nothing is connected at creation: each backend is opened on first use
 * and reopened after a failure (at most once per second), so a milter
 * starts while Redis or MariaDB is down and recovers without a restart.
 * A configuration that cannot work at all (LMDB path not writable, SQLite
 * file missing) is reported by backends_check.
 *
 * Incidents: the first failure of a backend after a success, and its
 * recovery, are reported once each in a policy result (incident_kind and
 * the text "state store unavailable: ..." / "policy database available
 * again"), so that the caller logs one line per incident, not one per
 * message.
 *
 * Thread-safe: handles are opened under a mutex, incident flags are
 * atomics, the caches lock themselves.
 */
#ifndef CHAPPS_BACKENDS_H
#define CHAPPS_BACKENDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policydb/policydb.h"

struct config;
struct backends;
struct store;
struct policydb;
struct spf_checker;
struct policy_result;

/* Which backend an incident is about. */
enum backends_which { BACKENDS_STORE, BACKENDS_DB };

/* What a check requires (bits). */
#define BACKENDS_USES_STORE 1
#define BACKENDS_USES_DB 2

/* A domain's opt-ins (backends_domain_optins). */
#define BACKENDS_DOMAIN_GREYLIST 1
#define BACKENDS_DOMAIN_CHECK_SPF 2

/*
 * backends_create - the shared backends of config (a reference is taken:
 * its backend settings are the ones used for the process's life).
 */
struct backends *backends_create(const struct config *config);
void backends_destroy(struct backends **backends);

/*
 * backends_check - open now what is used, to report problems at start-up.
 * A failure of what fatal_uses names is an error when it cannot heal by
 * itself (SQLite, LMDB): returns -1 with a message in err.  Any other
 * failure of fatal_uses | warn_uses is a warning (return 0, *warn_r set,
 * the text in err).
 */
int backends_check(struct backends *backends, unsigned fatal_uses, unsigned warn_uses,
		   bool *warn_r, char *err, size_t errsize);

/* backends_flush_caches - forget every cached look-up (SIGUSR2, cli). */
void backends_flush_caches(struct backends *backends);

/*
 * backends_store / backends_db / backends_spf - the handle, opened on first
 * use (at time now; the SPF checker once, never retried); NULL with the
 * reason in *error_r or err on failure.  The handle stays valid until
 * backends_destroy.
 */
struct store *backends_store(struct backends *backends, int64_t now, const char **error_r);
struct policydb *backends_db(struct backends *backends, int64_t now, char *err, size_t errsize);
struct spf_checker *backends_spf(struct backends *backends, const char **error_r);

/*
 * backends_failed - note a failure of which; the first of an incident
 * sets r's incident ("state store unavailable: err").
 * backends_ok - note a success; the end of an incident sets r's incident
 * ("state store available again").
 */
void backends_failed(struct backends *backends, enum backends_which which, const char *err,
		     struct policy_result *r);
void backends_ok(struct backends *backends, enum backends_which which, struct policy_result *r);

/*
 * backends_user_limit - user's quota limit, from the cache or the policy
 * database (then cached for ttl seconds, unknown users too).  Returns 1
 * with *limit_r set, 0 when the user is unknown or has no quota, -1 when
 * the database failed (incident noted in r).
 */
int backends_user_limit(struct backends *backends, const char *user, int64_t now, uint32_t ttl,
			long *limit_r, struct policy_result *r);

/*
 * backends_domain_optins - the BACKENDS_DOMAIN_* bits of domain, cached
 * like backends_user_limit (an unknown domain has none).  Returns 0, or
 * -1 when the database failed (incident noted in r).
 */
int backends_domain_optins(struct backends *backends, const char *domain, int64_t now,
			   uint32_t ttl, long *bits_r, struct policy_result *r);

/*
 * The limits of one user (issue 10): the quota's own number (base, the
 * CHAPPS limit; -1 when the user has none of their own and the domain has
 * no default) and its extra limits, and the domain pool's, if any.
 */
struct backends_limits {
	long base;
	bool from_domain;		/* the domain's default quota, not the user's own */
	size_t n;
	bool pool;			/* the domain has a pool */
	long pool_base;
	size_t n_pool;
	/* the rows: only the first n (n_pool) are meaningful (quota.c zeroes the head alone) */
	struct policydb_limit l[POLICYDB_LIMITS_MAX];
	struct policydb_limit pool_l[POLICYDB_LIMITS_MAX];
};

/*
 * backends_user_limits - user's limits (*out), from the cache or the policy
 * database (then cached for ttl seconds, unknown users too): the user's
 * quota, else the default quota of the domain part of user (after the
 * last '@'), plus the domain's pool.  Returns 1 when the user has a quota
 * (own or default), 0 when not (out->base -1; no pool applies), -1 when
 * the database failed (incident noted in r).
 */
int backends_user_limits(struct backends *backends, const char *user, int64_t now, uint32_t ttl,
			 struct backends_limits *out, struct policy_result *r);

/*
 * backends_size_wanted - should the milter count the real size of
 * messages: does any quota in the policy database have a bytes limit or a
 * max_message_bytes cap?  Asked of the database at most once per ttl
 * seconds (and again after backends_flush_caches), so a new such limit
 * takes effect within policy_db.cache_ttl like any change of limits; a
 * database that fails keeps the last answer (true before any).
 * Thread-safe.
 */
bool backends_size_wanted(struct backends *backends, int64_t now, uint32_t ttl);

/*
 * backends_read_limits - the same from db, uncached (chapps-cli): a
 * policydb status, POLICYDB_NOTFOUND when the user has no quota.
 */
int backends_read_limits(struct policydb *db, const char *user, struct backends_limits *out,
			 char *err, size_t errsize);

#endif
