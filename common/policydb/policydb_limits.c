/*
 * NAME
 *	policydb_limits - a quota's extra limits, domain defaults and pools
 * SUMMARY
 *	policydb_limits_ddl, policydb_limit_parse, policydb_user_limits,
 *	policydb_quota_limits, policydb_domain_quota, policydb_limit_add,
 *	policydb_limit_del, policydb_domain_set_quota, policydb_domain_quotas,
 *	policydb_limit_overrides, policydb_limits_upgrade, policydb_size_limits
 * DESCRIPTION
 *	Issue 10's tables, next to CHAPPS's and never changing them:
 *	  quota_limits   (id, quota_id -> quotas, kind, span, max_count,
 *	                  action, warn_at, mode: NULL for the default)
 *	  domain_quotas  (domain_id -> domains, pool 0/1, quota_id -> quotas)
 *	created by policydb_setup on every database (the migration of a
 *	CHAPPS database or of an older chapps SQLite file is that same
 *	CREATE ... IF NOT EXISTS).  Kinds and spans are stored as text
 *	("messages", "3600", "calendar:day") so that an operator reading the
 *	table with sql tools understands it.  The look-ups take a missing
 *	table (ERROR_CONFIG from the backends) for "no limits", and a
 *	quota_limits without the overrides' columns (made before issue 11,
 *	until db-setup adds them) for limits with the defaults: every limit
 *	goes on holding.
 * DIAGNOSTICS
 *	enum policydb_status with a message in err.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "policydb/policydb-front.h"

static const char *const sqlite_limits_ddl[] = {
	"CREATE TABLE IF NOT EXISTS quota_limits ("
	" id INTEGER NOT NULL,"
	" quota_id INTEGER NOT NULL,"
	" kind VARCHAR(32) NOT NULL,"
	" span VARCHAR(32) NOT NULL,"
	" max_count BIGINT NOT NULL,"
	" action VARCHAR(16) NULL,"
	" warn_at INTEGER NULL,"
	" mode VARCHAR(16) NULL,"
	" CONSTRAINT pk_quota_limits PRIMARY KEY (id),"
	" CONSTRAINT fk_quota_limits_quota_id_quotas FOREIGN KEY (quota_id)"
	"  REFERENCES quotas (id) ON DELETE CASCADE ON UPDATE CASCADE)",
	"CREATE INDEX IF NOT EXISTS fk_quota_limits_quota_id_quotas ON quota_limits (quota_id)",
	"CREATE TABLE IF NOT EXISTS domain_quotas ("
	" domain_id INTEGER NOT NULL,"
	" pool INTEGER NOT NULL,"
	" quota_id INTEGER NOT NULL,"
	" CONSTRAINT pk_domain_quotas PRIMARY KEY (domain_id, pool),"
	" CONSTRAINT fk_domain_quotas_domain_id_domains FOREIGN KEY (domain_id)"
	"  REFERENCES domains (id) ON DELETE CASCADE ON UPDATE CASCADE,"
	" CONSTRAINT fk_domain_quotas_quota_id_quotas FOREIGN KEY (quota_id)"
	"  REFERENCES quotas (id) ON DELETE CASCADE ON UPDATE CASCADE)",
	NULL
};

static const char *const mariadb_limits_ddl[] = {
	"CREATE TABLE IF NOT EXISTS quota_limits ("
	" id INTEGER NOT NULL AUTO_INCREMENT,"
	" quota_id INTEGER NOT NULL,"
	" kind VARCHAR(32) NOT NULL,"
	" span VARCHAR(32) NOT NULL,"
	" max_count BIGINT NOT NULL,"
	" action VARCHAR(16) NULL,"
	" warn_at INTEGER NULL,"
	" mode VARCHAR(16) NULL,"
	" CONSTRAINT pk_quota_limits PRIMARY KEY (id),"
	" CONSTRAINT fk_quota_limits_quota_id_quotas FOREIGN KEY(quota_id)"
	"  REFERENCES quotas (id) ON DELETE CASCADE ON UPDATE CASCADE"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS domain_quotas ("
	" domain_id INTEGER NOT NULL,"
	" pool INTEGER NOT NULL,"
	" quota_id INTEGER NOT NULL,"
	" CONSTRAINT pk_domain_quotas PRIMARY KEY (domain_id, pool),"
	" CONSTRAINT fk_domain_quotas_domain_id_domains FOREIGN KEY(domain_id)"
	"  REFERENCES domains (id) ON DELETE CASCADE ON UPDATE CASCADE,"
	" CONSTRAINT fk_domain_quotas_quota_id_quotas FOREIGN KEY(quota_id)"
	"  REFERENCES quotas (id) ON DELETE CASCADE ON UPDATE CASCADE"
	") ENGINE=InnoDB",
	NULL
};

/* Issue 11's overrides on a quota_limits made before them (same SQL on both backends). */
const char *const policydb_limits_upgrade[] = {
	"ALTER TABLE quota_limits ADD COLUMN action VARCHAR(16) NULL",
	"ALTER TABLE quota_limits ADD COLUMN warn_at INTEGER NULL",
	"ALTER TABLE quota_limits ADD COLUMN mode VARCHAR(16) NULL",
	NULL
};

static const char *const action_names[] = { "default", "reject", "tempfail", "quarantine",
					    "lock", NULL };
static const char *const mode_names[] = { "default", "enforce", "monitor", NULL };

static const char *const kind_names[] = {
	"messages", "recipients", "distinct_recipients", "bytes",
	"max_recipients_per_message", "max_message_bytes", NULL
};

const char *const *policydb_limits_ddl(const struct policydb *db)
{
	return strcmp(db->ops->name, "mariadb") == 0 ? mariadb_limits_ddl : sqlite_limits_ddl;
}

const char *policydb_limit_kind_name(int kind)
{
	return kind >= 0 && kind <= POLICYDB_LIMIT_MAX_BYTES ? kind_names[kind] : "?";
}

void policydb_limit_span_text(long long span, char *buf, size_t size)
{
	if (span == POLICYDB_SPAN_DAY)
		snprintf(buf, size, "calendar:day");
	else if (span == POLICYDB_SPAN_MONTH)
		snprintf(buf, size, "calendar:month");
	else if (span == POLICYDB_SPAN_MESSAGE)
		snprintf(buf, size, "message");
	else
		snprintf(buf, size, "%lld", span);
}

const char *policydb_limit_action_name(int action)
{
	return action > 0 && action <= POLICYDB_ACTION_LOCK ? action_names[action] : NULL;
}

const char *policydb_limit_mode_name(int mode)
{
	return mode > 0 && mode <= POLICYDB_MODE_MONITOR ? mode_names[mode] : NULL;
}

/* name_index - index of s in names (NULL or "default": 0), -1 when unknown */
static int name_index(const char *const *names, const char *s)
{
	if (s == NULL)
		return 0;
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* parse_count - a whole number 0..LLONG_MAX with an optional unit (units: "smhd" factors) */
static bool parse_count(const char *s, bool units, long long *v)
{
	char *end;
	long long n, f = 1;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0)
		return false;
	if (units && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 's': f = 1; break;
		case 'm': f = 60; break;
		case 'h': f = 3600; break;
		case 'd': f = 86400; break;
		default: return false;
		}
		end++;
	}
	if (*end != '\0' || n > LLONG_MAX / f)
		return false;
	*v = n * f;
	return true;
}

int policydb_limit_parse(const char *kind, const char *span, const char *max,
			 struct policydb_limit *l, char *err, size_t errsize)
{
	int k;

	memset(l, 0, sizeof(*l));
	l->warn_at = POLICYDB_WARN_DEFAULT;
	for (k = 0; kind_names[k] != NULL; k++)
		if (kind != NULL && strcmp(kind, kind_names[k]) == 0)
			break;
	if (kind_names[k] == NULL) {
		error_format_class(ERROR_INPUT, err, errsize,
				   "unknown limit kind \"%s\" (messages, recipients, "
				   "distinct_recipients, bytes, max_recipients_per_message, "
				   "max_message_bytes)", kind ? kind : "");
		return -1;
	}
	l->kind = k;
	if (k >= POLICYDB_LIMIT_MAX_RCPT) {
		if (span != NULL && strcmp(span, "message") != 0) {
			error_format_class(ERROR_INPUT, err, errsize,
					   "%s is a per-message cap: its window is \"message\"",
					   kind);
			return -1;
		}
		l->span = POLICYDB_SPAN_MESSAGE;
	} else if (span != NULL && strcmp(span, "calendar:day") == 0) {
		l->span = POLICYDB_SPAN_DAY;
	} else if (span != NULL && strcmp(span, "calendar:month") == 0) {
		l->span = POLICYDB_SPAN_MONTH;
	} else if (!parse_count(span, true, &l->span) || l->span < 1 || l->span > 31536000) {
		error_format_class(ERROR_INPUT, err, errsize,
				   "window \"%s\" is not 1..31536000 seconds (3600, 1h, 30m, 1d), "
				   "calendar:day or calendar:month", span ? span : "");
		return -1;
	}
	if (!parse_count(max, false, &l->max)) {
		error_format_class(ERROR_INPUT, err, errsize,
				   "limit maximum must be a whole number, not \"%s\"", max ? max : "");
		return -1;
	}
	return 0;
}

int policydb_limit_overrides(const char *action, const char *warn_at, const char *mode,
			     struct policydb_limit *l, char *err, size_t errsize)
{
	int a = name_index(action_names, action), m = name_index(mode_names, mode);
	long long w = POLICYDB_WARN_DEFAULT;

	if (a < 0) {
		error_format_class(ERROR_INPUT, err, errsize,
				   "unknown action \"%s\" (reject, tempfail, quarantine, lock)",
				   action);
		return -1;
	}
	if (m < 0) {
		error_format_class(ERROR_INPUT, err, errsize,
				   "unknown mode \"%s\" (enforce, monitor)", mode);
		return -1;
	}
	if (warn_at != NULL && strcmp(warn_at, "default") != 0 &&
	    (!parse_count(warn_at, false, &w) || w > 99)) {
		error_format_class(ERROR_INPUT, err, errsize,
				   "warn-at must be a percent 0..99 (0: no warning), not \"%s\"",
				   warn_at);
		return -1;
	}
	l->action = a;
	l->mode = m;
	l->warn_at = (int)w;
	return 0;
}

struct limit_rows {
	struct policydb_limit *out;
	size_t max, n;
};

/*
 * limit_row - one quota_limits row (id, kind, span, max_count[, action,
 * warn_at, mode]); bad rows are skipped, but an override that is not
 * understood (written by other tools) leaves the default: the limit
 * itself still holds
 */
static int limit_row(void *ctx, int ncols, const char *const *cols)
{
	struct limit_rows *lr = ctx;
	struct policydb_limit l;
	long long id;
	char err[160];

	if (ncols < 4 || lr->n >= lr->max || cols[0] == NULL || cols[1] == NULL ||
	    cols[2] == NULL || cols[3] == NULL)
		return 0;
	if (!parse_count(cols[0], false, &id) ||
	    policydb_limit_parse(cols[1], cols[2], cols[3], &l, err, sizeof(err)) < 0)
		return 0;
	l.id = (long)id;
	if (ncols >= 7) {
		struct policydb_limit o = l;

		if (policydb_limit_overrides(cols[4], NULL, NULL, &o, err, sizeof(err)) == 0)
			l.action = o.action;
		if (policydb_limit_overrides(NULL, cols[5], NULL, &o, err, sizeof(err)) == 0)
			l.warn_at = o.warn_at;
		if (policydb_limit_overrides(NULL, NULL, cols[6], &o, err, sizeof(err)) == 0)
			l.mode = o.mode;
	}
	lr->out[lr->n++] = l;
	return 0;
}

/* run_limits - one limits statement with a text parameter; missing tables are no rows */
static int run_limits(struct policydb *db, enum stmt_id id, const char *name,
		      struct policydb_limit *out, size_t max, size_t *n_r, char *err,
		      size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	struct limit_rows lr = { out, max, 0 };
	int rc;

	*n_r = 0;
	rc = policydb_run(db, id, p, 1, limit_row, &lr, NULL, err, errsize);
	if (rc == POLICYDB_ERROR && error_class_last() == ERROR_CONFIG) {
		/* quota_limits without the overrides' columns: the defaults */
		lr.n = 0;
		rc = policydb_run(db, id == ST_USER_LIMITS ? ST_USER_LIMITS_OLD
							   : ST_QUOTA_LIMITS_OLD,
				  p, 1, limit_row, &lr, NULL, err, errsize);
	}
	if (rc == POLICYDB_ERROR && error_class_last() == ERROR_CONFIG)
		return POLICYDB_OK;	/* not set up again yet: CHAPPS's limit alone */
	if (rc == POLICYDB_OK)
		*n_r = lr.n;
	return rc;
}

int policydb_user_limits(struct policydb *db, const char *user, struct policydb_limit *out,
			 size_t max, size_t *n_r, char *err, size_t errsize)
{
	return run_limits(db, ST_USER_LIMITS, user, out, max, n_r, err, errsize);
}

int policydb_quota_limits(struct policydb *db, const char *quota, long *number_r,
			  struct policydb_limit *out, size_t max, size_t *n_r, char *err,
			  size_t errsize)
{
	struct policydb_param p[1] = { text(quota) };
	struct first_row row;
	int rc;

	*n_r = 0;
	rc = policydb_lookup(db, ST_QUOTA_NUMBER, p, 1, &row, err, errsize);
	if (rc != POLICYDB_OK)
		return rc;
	if (!row.found) {
		error_format(err, errsize, "no quota named %s", quota);
		return POLICYDB_NOTFOUND;
	}
	*number_r = atol(row.col[0]);
	return run_limits(db, ST_QUOTA_LIMITS, quota, out, max, n_r, err, errsize);
}

int policydb_domain_quota(struct policydb *db, const char *domain, bool pool, char *name,
			  size_t namesize, long *number_r, struct policydb_limit *out, size_t max,
			  size_t *n_r, char *err, size_t errsize)
{
	char ldomain[DOMAIN_BUF];
	struct policydb_param p[2] = { text(ldomain), num(pool ? 1 : 0) };
	struct first_row row;
	char qname[NAME_MAX_QUOTA * 4 + 1];
	int rc;

	*n_r = 0;
	if (!policydb_lower_domain(domain, ldomain, sizeof(ldomain)))
		return POLICYDB_NOTFOUND;
	rc = policydb_lookup(db, ST_DOMAIN_QUOTA, p, 2, &row, err, errsize);
	if (rc == POLICYDB_ERROR && error_class_last() == ERROR_CONFIG)
		rc = POLICYDB_OK;	/* no domain_quotas table yet */
	if (rc != POLICYDB_OK)
		return rc;
	if (!row.found) {
		error_format(err, errsize, "domain %s has no %s quota", domain,
			     pool ? "pool" : "default");
		return POLICYDB_NOTFOUND;
	}
	snprintf(qname, sizeof(qname), "%s", row.col[0]);
	if (name != NULL)
		snprintf(name, namesize, "%s", qname);
	return policydb_quota_limits(db, qname, number_r, out, max, n_r, err, errsize);
}

int policydb_size_limits(struct policydb *db, bool *any_r, char *err, size_t errsize)
{
	struct first_row row;
	int rc;

	*any_r = false;
	rc = policydb_lookup(db, ST_SIZE_LIMITS, NULL, 0, &row, err, errsize);
	if (rc == POLICYDB_ERROR && error_class_last() == ERROR_CONFIG)
		return POLICYDB_OK;	/* no limits table yet */
	*any_r = rc == POLICYDB_OK && row.found;
	return rc;
}

int policydb_limit_add(struct policydb *db, const char *quota, const struct policydb_limit *l,
		       char *err, size_t errsize)
{
	char span[32], warn[16];
	struct policydb_param p[7] = { text(policydb_limit_kind_name(l->kind)), text(span),
				       num(l->max), text(policydb_limit_action_name(l->action)),
				       text(l->warn_at >= 0 ? warn : NULL),
				       text(policydb_limit_mode_name(l->mode)), text(quota) };
	struct policydb_param old[4] = { p[0], p[1], p[2], p[6] };
	bool defaults = l->action == POLICYDB_ACTION_DEFAULT && l->warn_at < 0 &&
			l->mode == POLICYDB_MODE_DEFAULT;
	long long changes = 0;
	int rc;

	policydb_limit_span_text(l->span, span, sizeof(span));
	snprintf(warn, sizeof(warn), "%d", l->warn_at);
	rc = policydb_run(db, ST_LIMIT_ADD, p, 7, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_ERROR && error_class_last() == ERROR_CONFIG && defaults)
		/* a quota_limits without the overrides' columns takes a limit without them */
		rc = policydb_run(db, ST_LIMIT_ADD_OLD, old, 4, NULL, NULL, &changes, err,
				  errsize);
	if (rc == POLICYDB_OK && changes == 0) {
		error_format(err, errsize, "no quota named %s", quota);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

int policydb_limit_del(struct policydb *db, const char *quota, long id, char *err,
		       size_t errsize)
{
	struct policydb_param p[2] = { num(id), text(quota) };
	long long changes = 0;
	int rc;

	rc = policydb_run(db, ST_LIMIT_DEL, p, 2, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_OK && changes == 0) {
		error_format(err, errsize, "quota %s has no limit %ld", quota, id);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

int policydb_domain_set_quota(struct policydb *db, const char *domain, const char *quota,
			      bool pool, char *err, size_t errsize)
{
	char ldomain[DOMAIN_BUF];
	struct policydb_param p[3] = { num(pool ? 1 : 0), text(ldomain), text(quota) };
	long long changes = 0;
	int rc;

	if (!policydb_lower_domain(domain, ldomain, sizeof(ldomain))) {
		error_format_class(ERROR_INPUT, err, errsize, "domain name too long");
		return POLICYDB_ERROR;
	}
	if (quota == NULL)
		return policydb_run(db, ST_DOMAIN_UNSET_QUOTA, p, 2, NULL, NULL, NULL, err,
				    errsize);
	rc = policydb_run(db, ST_DOMAIN_SET_QUOTA, p, 3, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_OK && changes == 0) {
		error_format(err, errsize, "no domain %s or no quota %s", domain, quota);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

int policydb_domain_quotas(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			   size_t errsize)
{
	return policydb_run(db, ST_DOMAIN_QUOTAS, NULL, 0, fn, ctx, NULL, err, errsize);
}
