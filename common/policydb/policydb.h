/*
 * policydb - the policy data: users, quotas, domains, addresses, links
 *
 * The CHAPPS schema (spec section 9.1: users, quotas, quota_user, domains,
 * domain_user, emails, email_user) on SQLite (the embedded default: one file,
 * created by `chapps-cli admin db-setup`) or MariaDB/MySQL (MariaDB
 * Connector/C), so a CHAPPS site can point chapps at its database unchanged.
 * Every statement is prepared with bound parameters; nothing from an SMTP
 * session is ever formatted into SQL.
 *
 * Look-ups compare names exactly as stored, except domain names, which are
 * compared case-insensitively (DNS names are): the caller lower-cases the
 * domain and the query lower-cases the column (LOWER(name) = ?), so a CHAPPS
 * database holding mixed-case domains still matches.  "Exactly" means under
 * the column's collation: byte-exact in SQLite, but MariaDB's usual
 * collations (utf8mb4_general_ci, latin1_swedish_ci) make user names and
 * e-mail addresses case-insensitive and blind to trailing spaces.
 *
 * Schema consequence kept from CHAPPS: quotas.quota is UNIQUE, so two quota
 * records cannot share a value (policydb_quota_add returns POLICYDB_EXISTS
 * for "50eph" = 1200 when "bulk" = 1200 exists).  Deleting a quota cascades
 * to quota_user: its users then have no quota (look-up POLICYDB_NOTFOUND).
 * Deleting a user, domain or e-mail cascades to its links.
 *
 * Thread safety: a struct policydb may be used by many threads at once; it
 * keeps a small pool of connections (one per concurrent caller, up to
 * pool size, 16) and never shares a connection between threads; a caller
 * finding all of them busy waits up to timeout_ms.  Each call blocks for at
 * most policy_db.timeout_ms per network round trip (MariaDB connect/read/
 * write timeouts, whole seconds rounded up; SQLite busy timeout).  A MariaDB
 * connection found dead (server gone away/restarted) is dropped and the
 * statement run once more on a new connection (not after a read timeout,
 * which would double the wait).
 *
 * Every function returns enum policydb_status (policydb_open: 0 or -1) and,
 * on anything but POLICYDB_OK, a message in err (errsize bytes, always
 * terminated; err may be NULL when errsize is 0).  Strings passed in are
 * borrowed for the call only.
 */
#ifndef CHAPPS_POLICYDB_H
#define CHAPPS_POLICYDB_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct policydb;

enum policydb_status {
	POLICYDB_OK = 0,
	POLICYDB_NOTFOUND = 1,	/* no such row / no link */
	POLICYDB_EXISTS = 2,	/* create: unique name already taken */
	POLICYDB_ERROR = -1,	/* backend failure; err says what */
};

/*
 * policydb_open - connect according to config->policydb_*.  For SQLite the
 * file must exist unless create is true (db-setup; then the file and its
 * directory, mode 0750, are created); one connection is opened at once, so a
 * missing or unreadable file fails here.  MariaDB connects on first use: a
 * server that is down makes the calls fail with POLICYDB_ERROR, not the
 * open (use policydb_check to test it).  The config is not kept (the
 * settings are copied).  Returns 0, or -1 with a message in err.
 */
int policydb_open(const struct config *config, bool create, struct policydb **db_r, char *err,
		  size_t errsize);

/*
 * policydb_close - close and free *db, set it to NULL; NULL is fine.  No
 * other call on db may be running.
 */
void policydb_close(struct policydb **db);

/*
 * policydb_setup - create the tables and indexes if missing (idempotent):
 * CHAPPS's Alembic schema, with alembic_version stamped at the head
 * revision when empty; a CHAPPS database at the first revision gets the
 * domain flag columns added.  Existing data rows are never touched.
 */
int policydb_setup(struct policydb *db, char *err, size_t errsize);

/*
 * policydb_check - connect (if needed) and check that every table and
 * column the look-ups use exists.  POLICYDB_OK or POLICYDB_ERROR; for a
 * start-up check and `chapps-cli`.
 */
int policydb_check(struct policydb *db, char *err, size_t errsize);

/* ---- look-ups used by the milter ------------------------------------- */

/*
 * policydb_user_quota - the quota (messages per interval) of user, through
 * quota_user.  POLICYDB_NOTFOUND when the user is unknown or has no quota.
 */
int policydb_user_quota(struct policydb *db, const char *user, long *quota_r, char *err,
			size_t errsize);

/* policydb_user_domain - is domain (lower-case) linked to user? */
int policydb_user_domain(struct policydb *db, const char *user, const char *domain,
			 bool *linked_r, char *err, size_t errsize);

/* policydb_user_email - is the whole address linked to user? */
int policydb_user_email(struct policydb *db, const char *user, const char *email,
			bool *linked_r, char *err, size_t errsize);

/*
 * policydb_domain_flags - domains.greylist and domains.check_spf of domain.
 * POLICYDB_NOTFOUND for an unknown domain.
 */
int policydb_domain_flags(struct policydb *db, const char *domain, bool *greylist_r,
			  bool *check_spf_r, char *err, size_t errsize);

/* ---- administration, used by chapps-cli ------------------------------ */

/*
 * Row callback for the list functions: called once per row with the
 * columns as strings (NULL for SQL NULL), borrowed for the call; returns 0
 * to go on, non-zero to stop early (the list function still returns
 * POLICYDB_OK).  Rows come sorted by name.
 *
 * Admin functions: names must be non-empty and fit their column (users
 * and e-mails 128 characters, quotas 32, domains 64) or POLICYDB_ERROR;
 * a clash on a unique name is POLICYDB_EXISTS, a missing object (delete,
 * set, link) POLICYDB_NOTFOUND, each with a message naming the object.
 */
typedef int policydb_row_fn(void *ctx, int ncols, const char *const *cols);

/* quota 0..INT_MAX; EXISTS for a taken name or a taken value (see above) */
int policydb_quota_add(struct policydb *db, const char *name, long quota, char *err,
		       size_t errsize);
int policydb_quota_del(struct policydb *db, const char *name, char *err, size_t errsize);
/* rows: name, quota */
int policydb_quota_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			size_t errsize);

int policydb_user_add(struct policydb *db, const char *name, char *err, size_t errsize);
int policydb_user_del(struct policydb *db, const char *name, char *err, size_t errsize);
/* rows: name, quota name (NULL when none), quota value (NULL when none) */
int policydb_user_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
		       size_t errsize);
/*
 * policydb_user_get - one row (name, quota name, quota value; NULLs when
 * the user has no quota) for user, or POLICYDB_NOTFOUND.
 */
int policydb_user_get(struct policydb *db, const char *name, policydb_row_fn *fn, void *ctx,
		      char *err, size_t errsize);
/* set the user's quota to the quota named quota_name (replaces any). */
int policydb_user_set_quota(struct policydb *db, const char *user, const char *quota_name,
			    char *err, size_t errsize);

/*
 * domains: name stored lower-case (ASCII); del, set_flag, link and the
 * look-ups match it case-insensitively
 */
int policydb_domain_add(struct policydb *db, const char *name, char *err, size_t errsize);
int policydb_domain_del(struct policydb *db, const char *name, char *err, size_t errsize);
/* rows: name, greylist (0/1), check_spf (0/1) */
int policydb_domain_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			 size_t errsize);
int policydb_domain_set_flag(struct policydb *db, const char *name, const char *flag /* "greylist"|"check_spf" */,
			     bool value, char *err, size_t errsize);

int policydb_email_add(struct policydb *db, const char *name, char *err, size_t errsize);
int policydb_email_del(struct policydb *db, const char *name, char *err, size_t errsize);
/* rows: name */
int policydb_email_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			size_t errsize);

/*
 * link/unlink user and domain or email (NOTFOUND when either is missing).
 * Linking a linked pair and unlinking an unlinked pair return POLICYDB_OK.
 */
int policydb_link_domain(struct policydb *db, const char *user, const char *domain, bool link,
			 char *err, size_t errsize);
int policydb_link_email(struct policydb *db, const char *user, const char *email, bool link,
			char *err, size_t errsize);
/* rows: name (domains, then emails, of user) */
int policydb_user_domains(struct policydb *db, const char *user, policydb_row_fn *fn,
			  void *ctx, char *err, size_t errsize);
int policydb_user_emails(struct policydb *db, const char *user, policydb_row_fn *fn, void *ctx,
			 char *err, size_t errsize);
/* ... user_domains/user_emails return NOTFOUND for an unknown user. */

/* rows: name of each user linked to domain; NOTFOUND for an unknown domain */
int policydb_domain_users(struct policydb *db, const char *domain, policydb_row_fn *fn,
			  void *ctx, char *err, size_t errsize);

/* ---- limits (issue 10): quota_limits and domain_quotas ------------------- */

/*
 * A quota's extra limits live in quota_limits (id, quota_id, kind, span,
 * max_count, and the nullable overrides action, warn_at, mode), a domain's
 * default quota and pool in domain_quotas
 * (domain_id, pool 0/1, quota_id); both are added to any database, CHAPPS's
 * included, by policydb_setup, and deleting a quota or a domain cascades
 * to them.  The look-ups treat missing tables (a database not yet set up
 * again) as "no limits": CHAPPS's single limit goes on working.
 *
 * kind: "messages", "recipients", "distinct_recipients", "bytes" (counted
 * over span), or the per-message caps "max_recipients_per_message",
 * "max_message_bytes" (span "message").  span: seconds of a sliding
 * window as a decimal number, "calendar:day" or "calendar:month".
 */
enum policydb_limit_kind {
	POLICYDB_LIMIT_MESSAGES = 0,
	POLICYDB_LIMIT_RECIPIENTS,
	POLICYDB_LIMIT_DISTINCT,
	POLICYDB_LIMIT_BYTES,
	POLICYDB_LIMIT_MAX_RCPT,	/* max_recipients_per_message */
	POLICYDB_LIMIT_MAX_BYTES,	/* max_message_bytes */
};

#define POLICYDB_SPAN_MESSAGE 0		/* the per-message caps */
#define POLICYDB_SPAN_DAY (-1)		/* calendar:day */
#define POLICYDB_SPAN_MONTH (-2)	/* calendar:month */

/*
 * Per-limit overrides (issue 11): quota_limits' nullable columns action,
 * warn_at and mode; NULL (or a database without the columns) is the
 * default, quota.action / quota.warn_at / quota.mode.
 */
enum policydb_action {
	POLICYDB_ACTION_DEFAULT = 0,	/* quota.action */
	POLICYDB_ACTION_REJECT,
	POLICYDB_ACTION_TEMPFAIL,
	POLICYDB_ACTION_QUARANTINE,
	POLICYDB_ACTION_LOCK,
};

enum policydb_mode {
	POLICYDB_MODE_DEFAULT = 0,	/* quota.mode */
	POLICYDB_MODE_ENFORCE,
	POLICYDB_MODE_MONITOR,
};

#define POLICYDB_WARN_DEFAULT (-1)	/* warn_at: quota.warn_at */

struct policydb_limit {
	long id;			/* quota_limits.id */
	int kind;			/* enum policydb_limit_kind */
	long long span;			/* seconds > 0, or POLICYDB_SPAN_* */
	long long max;
	int action;	/* POLICYDB_ACTION_DEFAULT (0: quota.action), _REJECT, _TEMPFAIL, _QUARANTINE, _LOCK */
	int warn_at;	/* -1: quota.warn_at; 0: off; 1..99 percent */
	int mode;	/* POLICYDB_MODE_DEFAULT (0: quota.mode), _ENFORCE, _MONITOR */
};

/* The most extra limits a quota may have (more rows are ignored). */
#define POLICYDB_LIMITS_MAX 12

/*
 * policydb_limit_parse - kind and span texts (span: seconds, or with a
 * unit s/m/h/d such as "1h", or "calendar:day", "calendar:month", or
 * "message" for the caps; a cap's span may be omitted as NULL) and max
 * into *limit (id 0).  Returns 0, or -1 with a message in err.
 */
int policydb_limit_parse(const char *kind, const char *span, const char *max,
			 struct policydb_limit *limit, char *err, size_t errsize);

/*
 * policydb_limit_overrides - the texts of a limit's overrides into *limit:
 * action "reject", "tempfail", "quarantine" or "lock"; warn_at a percent
 * 0..99 (0: no warning); mode "enforce" or "monitor"; NULL or "default"
 * leaves the default (quota.action, quota.warn_at, quota.mode).  Returns
 * 0, or -1 with a message in err.
 */
int policydb_limit_overrides(const char *action, const char *warn_at, const char *mode,
			     struct policydb_limit *limit, char *err, size_t errsize);

/* policydb_limit_action_name / _mode_name - the stored texts; NULL for the default. */
const char *policydb_limit_action_name(int action);
const char *policydb_limit_mode_name(int mode);

/* policydb_limit_kind_name / policydb_limit_span_text - the stored texts. */
const char *policydb_limit_kind_name(int kind);
void policydb_limit_span_text(long long span, char *buf, size_t size);

/*
 * policydb_user_limits - the extra limits of user's quota (up to max into
 * out, *n_r of them; 0 when the user, the quota or the limits are
 * missing).  POLICYDB_OK or POLICYDB_ERROR.
 */
int policydb_user_limits(struct policydb *db, const char *user, struct policydb_limit *out,
			 size_t max, size_t *n_r, char *err, size_t errsize);

/* policydb_quota_limits - the same for the quota named quota (NOTFOUND: no such quota). */
int policydb_quota_limits(struct policydb *db, const char *quota, long *number_r,
			  struct policydb_limit *out, size_t max, size_t *n_r, char *err,
			  size_t errsize);

/*
 * policydb_domain_quota - domain's default quota (pool false) or pool
 * (true): its name (into name, namesize bytes), number and extra limits.
 * POLICYDB_NOTFOUND when none is set.
 */
int policydb_domain_quota(struct policydb *db, const char *domain, bool pool, char *name,
			  size_t namesize, long *number_r, struct policydb_limit *out, size_t max,
			  size_t *n_r, char *err, size_t errsize);

/*
 * policydb_size_limits - *any_r: does any quota have a bytes limit or a
 * max_message_bytes cap (then the milter counts the real size of
 * messages)?  No limits table: false.  POLICYDB_OK or POLICYDB_ERROR.
 */
int policydb_size_limits(struct policydb *db, bool *any_r, char *err, size_t errsize);

/* policydb_limit_add - add *limit to quota (NOTFOUND: no such quota). */
int policydb_limit_add(struct policydb *db, const char *quota, const struct policydb_limit *limit,
		       char *err, size_t errsize);
/* policydb_limit_del - delete quota's limit id (NOTFOUND when quota has no such limit). */
int policydb_limit_del(struct policydb *db, const char *quota, long id, char *err,
		       size_t errsize);

/*
 * policydb_domain_set_quota - make quota (NULL: none) domain's default or
 * pool.  NOTFOUND when the domain or the quota is missing.
 */
int policydb_domain_set_quota(struct policydb *db, const char *domain, const char *quota,
			      bool pool, char *err, size_t errsize);
/* rows: domain, pool (0/1), quota name */
int policydb_domain_quotas(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			   size_t errsize);

#endif
