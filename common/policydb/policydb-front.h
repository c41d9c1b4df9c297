/*
 * policydb-front.h - the front's own parts, shared by policydb.c (pool,
 * open/setup, look-ups), policydb_admin.c (administration) and
 * policydb_sql.c (the statements); the backends do not include it.
 */
#ifndef CHAPPS_POLICYDB_FRONT_H
#define CHAPPS_POLICYDB_FRONT_H

#include <stdbool.h>
#include <stddef.h>

#include "policydb/policydb-private.h"

/* Longest names, in characters, as in the schema's VARCHAR columns. */
#define NAME_MAX_USER 128
#define NAME_MAX_QUOTA 32
#define NAME_MAX_DOMAIN 64
#define NAME_MAX_EMAIL 128

/* A domain argument longer than this (bytes) cannot be in the table. */
#define DOMAIN_BUF 512

#define ALEMBIC_BASE "ce81767cec26"
#define ALEMBIC_HEAD "0b5ef72836bd"

/* The statements, by index into policydb_stmts (policydb_sql.c). */
enum stmt_id {
	ST_USER_QUOTA,
	ST_USER_DOMAIN,
	ST_USER_EMAIL,
	ST_DOMAIN_FLAGS_EXACT,
	ST_DOMAIN_FLAGS_LOWER,
	ST_QUOTA_ADD,
	ST_QUOTA_BY_NAME,
	ST_QUOTA_BY_VALUE,
	ST_QUOTA_DEL,
	ST_QUOTA_LIST,
	ST_USER_ADD,
	ST_USER_DEL,
	ST_USER_LIST,
	ST_USER_GET,
	ST_USER_EXISTS,
	ST_USER_SET_QUOTA,
	ST_DOMAIN_ADD,
	ST_DOMAIN_DEL,
	ST_DOMAIN_LIST,
	ST_DOMAIN_EXISTS,
	ST_DOMAIN_SET_GREYLIST,
	ST_DOMAIN_SET_CHECK_SPF,
	ST_EMAIL_ADD,
	ST_EMAIL_DEL,
	ST_EMAIL_LIST,
	ST_EMAIL_EXISTS,
	ST_LINK_DOMAIN,
	ST_UNLINK_DOMAIN,
	ST_LINK_EMAIL,
	ST_UNLINK_EMAIL,
	ST_USER_DOMAINS,
	ST_USER_EMAILS,
	ST_DOMAIN_USERS,
	ST_CHECK,
	ST_ALEMBIC_GET,
	ST_ALEMBIC_STAMP,
	/* limits (policydb_limits.c) */
	ST_USER_LIMITS,
	ST_QUOTA_LIMITS,
	ST_QUOTA_NUMBER,
	ST_DOMAIN_QUOTA,
	ST_LIMIT_ADD,
	ST_LIMIT_DEL,
	ST_DOMAIN_SET_QUOTA,
	ST_DOMAIN_UNSET_QUOTA,
	ST_DOMAIN_QUOTAS,
	/* a database set up before the overrides (issue 11): without them */
	ST_USER_LIMITS_OLD,
	ST_QUOTA_LIMITS_OLD,
	ST_LIMIT_ADD_OLD,
	ST_LIMIT_COLUMNS,
	ST_SIZE_LIMITS,
	ST_COUNT
};

/* Every statement's text, with `?` placeholders (policydb_sql.c). */
extern const struct policydb_stmt policydb_stmts[ST_COUNT];

/* Migration 0b5ef72836bd: the two domain flags, NULL-terminated. */
extern const char *const policydb_upgrade_flags[];

/*
 * policydb_limits_ddl - the limits tables (quota_limits, domain_quotas) in
 * db's backend's SQL, CREATE ... IF NOT EXISTS, NULL-terminated: the
 * migration db-setup runs on every database (policydb_limits.c).
 */
const char *const *policydb_limits_ddl(const struct policydb *db);

/*
 * policydb_limits_upgrade - the overrides' columns (action, warn_at, mode)
 * added to a quota_limits made before them, NULL-terminated; db-setup runs
 * it when ST_LIMIT_COLUMNS fails (policydb_limits.c).
 */
extern const char *const policydb_limits_upgrade[];

/* The first row of a result, for look-ups (short values only). */
struct first_row {
	bool found;
	bool null[POLICYDB_COLS_MAX];
	char col[POLICYDB_COLS_MAX][64];
};

/* text - a text parameter */
static inline struct policydb_param text(const char *s)
{
	struct policydb_param p = { POLICYDB_PARAM_TEXT, s, 0 };

	return p;
}

/* num - an integer parameter */
static inline struct policydb_param num(long long n)
{
	struct policydb_param p = { POLICYDB_PARAM_INT, NULL, n };

	return p;
}

/*
 * policydb_run - execute statement id on a pooled connection (fn, ctx and
 * changes_r as for policydb_ops.exec), with the retry rule of policydb.c.
 * POLICYDB_OK, POLICYDB_EXISTS or POLICYDB_ERROR (class recorded).
 */
int policydb_run(struct policydb *db, enum stmt_id id, const struct policydb_param *params,
		 size_t nparams, policydb_row_fn *fn, void *ctx, long long *changes_r, char *err,
		 size_t errsize);

/* policydb_lookup - policydb_run keeping the first row in *row */
int policydb_lookup(struct policydb *db, enum stmt_id id, const struct policydb_param *params,
		    size_t nparams, struct first_row *row, char *err, size_t errsize);

/* policydb_exists - does the one-parameter statement id return a row?  -1 on error */
int policydb_exists(struct policydb *db, enum stmt_id id, const char *name, char *err,
		    size_t errsize);

/* policydb_lower_domain - ASCII lower-case copy of domain into buf; false if too long */
bool policydb_lower_domain(const char *domain, char *buf, size_t size);

#endif
