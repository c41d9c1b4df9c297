/*
 * NAME
 *	policydb - the policy data (CHAPPS schema) on SQLite or MariaDB
 * SUMMARY
 *	policydb_open(config) -> struct policydb; look-ups and admin functions
 * DESCRIPTION
 *	The front of the policy database, in store.c's shape: the public
 *	functions dispatch through the backend's struct policydb_ops
 *	(policydb-private.h); the backends (policydb_sqlite.c,
 *	policydb_mariadb.c) only connect, prepare, bind, step and classify
 *	errors, and never call back into the front: their open fills the
 *	ops, label and timeout of the struct policydb they embed, and
 *	policydb_open sets up the rest (the pool).  Every statement is
 *	written once, in policydb_sql.c; the administration functions are in
 *	policydb_admin.c; this file has the pool, the retry rule, open,
 *	close, setup and the look-ups the milter makes.
 *
 *	Connections live in a small pool (POLICYDB_POOL_MAX): a caller takes
 *	an idle connection or opens a new one, and waits (at most timeout_ms)
 *	when the pool is full, so a connection and its cached prepared
 *	statements are only ever used by one thread at a time.  When a
 *	backend reports the connection lost (MariaDB server gone away or
 *	restarted), the connection and every idle one (opened before the
 *	failure, so probably dead too) are closed and the statement is run
 *	once more on a new connection, unless the loss took half the
 *	timeout or more (a read timeout: retrying would double the wait).
 *	The retry counts as a policy_db reconnect, the slow loss as a
 *	policy_db timeout (metrics.h).
 *
 *	Domain names are stored lower-case by the admin functions and
 *	compared as LOWER(name) = lower-cased argument, so a CHAPPS database
 *	holding mixed-case rows still matches.  For the domain flags the
 *	exact (indexed) comparison is tried first and the LOWER() scan only
 *	on a miss.  User names and e-mail addresses are compared with `=`,
 *	that is under the column's collation: exact in SQLite, but usually
 *	case- and trailing-space-insensitive in MariaDB (utf8mb4_general_ci,
 *	latin1_swedish_ci...).
 *
 *	policydb_setup creates the schema of CHAPPS's Alembic migrations
 *	(ce81767cec26 + 0b5ef72836bd), stamps alembic_version with the head
 *	revision when it is empty (so CHAPPS's own tools see an up-to-date
 *	database), and adds the two domain flag columns to a database still
 *	at revision ce81767cec26; then the limits tables and, to a
 *	quota_limits made before them, the overrides' columns
 *	(policydb_limits.c).
 * DIAGNOSTICS
 *	Functions return enum policydb_status and put a message in the
 *	caller's err buffer; nothing here logs.  Every POLICYDB_ERROR (and
 *	-1 from policydb_open) records its class for error_class_last()
 *	(base/error.h): ERROR_TEMPORARY for a busy pool, a lost or refused
 *	connection, a locked database; ERROR_CONFIG for a bad setting, a
 *	missing file or schema, rows that are not what the schema says;
 *	ERROR_INPUT for an argument an admin function refuses.  POLICYDB_EXISTS is a unique
 *	clash, POLICYDB_NOTFOUND a missing object; POLICYDB_ERROR anything
 *	else (the backend's own message, prefixed with its label).
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "base/error.h"
#include "base/metrics.h"
#include "policydb/policydb-front.h"
#include "base/xalloc.h"

/* pool_init - the front's part of a backend's fresh handle: the empty pool */
static void pool_init(struct policydb *db)
{
	pthread_condattr_t attr;

	if (db->timeout_ms <= 0)
		db->timeout_ms = 1000;
	pthread_mutex_init(&db->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&db->cond, &attr);
	pthread_condattr_destroy(&attr);
	db->idle = NULL;
	db->nidle = 0;
	db->nopen = 0;
}

/* pool_get - take an idle connection, open one, or wait for one (timeout_ms) */
static int pool_get(struct policydb *db, struct policydb_conn **conn_r, char *err,
		    size_t errsize)
{
	struct timespec deadline;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += db->timeout_ms / 1000;
	deadline.tv_nsec += (long)(db->timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&db->lock);
	for (;;) {
		if (db->idle != NULL) {
			*conn_r = db->idle;
			db->idle = (*conn_r)->next;
			(*conn_r)->next = NULL;
			db->nidle--;
			pthread_mutex_unlock(&db->lock);
			return POLICYDB_OK;
		}
		if (db->nopen < POLICYDB_POOL_MAX)
			break;
		rc = pthread_cond_timedwait(&db->cond, &db->lock, &deadline);
		if (rc == ETIMEDOUT && db->idle == NULL && db->nopen >= POLICYDB_POOL_MAX) {
			pthread_mutex_unlock(&db->lock);
			error_format_class(ERROR_TEMPORARY, err, errsize,
					   "%s: all %d connections busy for %d ms", db->label,
					   POLICYDB_POOL_MAX, db->timeout_ms);
			return POLICYDB_ERROR;
		}
	}
	db->nopen++;
	pthread_mutex_unlock(&db->lock);

	/* connect outside the lock: it may take up to timeout_ms */
	if (db->ops->connect(db, conn_r, err, errsize) != POLICYDB_OK) {
		pthread_mutex_lock(&db->lock);
		db->nopen--;
		pthread_cond_signal(&db->cond);
		pthread_mutex_unlock(&db->lock);
		*conn_r = NULL;
		return POLICYDB_ERROR;
	}
	(*conn_r)->next = NULL;
	return POLICYDB_OK;
}

/* pool_put - give a connection back; a broken one is closed */
static void pool_put(struct policydb *db, struct policydb_conn **conn, bool broken)
{
	if (*conn == NULL)
		return;
	if (broken) {
		db->ops->disconnect(conn);
		pthread_mutex_lock(&db->lock);
		db->nopen--;
	} else {
		pthread_mutex_lock(&db->lock);
		(*conn)->next = db->idle;
		db->idle = *conn;
		db->nidle++;
		*conn = NULL;
	}
	pthread_cond_signal(&db->cond);
	pthread_mutex_unlock(&db->lock);
}

/* pool_drop_idle - close every idle connection (after one was found dead) */
static void pool_drop_idle(struct policydb *db)
{
	struct policydb_conn *list, *conn;

	pthread_mutex_lock(&db->lock);
	list = db->idle;
	db->nopen -= db->nidle;
	db->idle = NULL;
	db->nidle = 0;
	pthread_cond_broadcast(&db->cond);
	pthread_mutex_unlock(&db->lock);
	while (list != NULL) {
		conn = list;
		list = list->next;
		db->ops->disconnect(&conn);
	}
}

/* now_ms - a monotonic clock in milliseconds */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * policydb_run - execute one statement on a pooled connection.  On a lost connection
 * drop it (and the idle ones) and run it once more on a new connection, but
 * only when the loss was quick: a stale connection fails at once, while a
 * loss after half the timeout is the read timeout (a hung or locked server),
 * and retrying it would double the time the caller waits.
 */
int policydb_exec(struct policydb *db, const struct policydb_stmt *stmt,
		  const struct policydb_param *params, size_t nparams, policydb_row_fn *fn,
		  void *ctx, long long *changes_r, char *err, size_t errsize)
{
	struct policydb_conn *conn;
	int attempt, rc = POLICYDB_ERROR;
	long long t0;

	if (changes_r != NULL)
		*changes_r = 0;
	for (attempt = 0; attempt < 2; attempt++) {
		if (pool_get(db, &conn, err, errsize) != POLICYDB_OK)
			return POLICYDB_ERROR;
		t0 = now_ms();
		rc = db->ops->exec(conn, stmt, params, nparams, fn, ctx, changes_r, err, errsize);
		if (rc != POLICYDB_LOST) {
			pool_put(db, &conn, false);
			return rc;
		}
		pool_put(db, &conn, true);
		pool_drop_idle(db);
		if (now_ms() - t0 >= db->timeout_ms / 2) {
			metrics_backend(METRICS_BACKEND_POLICYDB, METRICS_BACKEND_TIMEOUT);
			break;
		}
		if (attempt == 0)	/* once more, on a new connection */
			metrics_backend(METRICS_BACKEND_POLICYDB, METRICS_BACKEND_RECONNECT);
	}
	error_class_set(ERROR_TEMPORARY);	/* the connection was lost */
	return POLICYDB_ERROR;
}

int policydb_run(struct policydb *db, enum stmt_id id, const struct policydb_param *params,
		 size_t nparams, policydb_row_fn *fn, void *ctx, long long *changes_r, char *err,
		 size_t errsize)
{
	return policydb_exec(db, &policydb_stmts[id], params, nparams, fn, ctx, changes_r, err,
			     errsize);
}

/* first_row_fn - row callback keeping the first row in a struct first_row */
static int first_row_fn(void *ctx, int ncols, const char *const *cols)
{
	struct first_row *row = ctx;
	int i;

	if (row->found)
		return 1;
	row->found = true;
	for (i = 0; i < ncols && i < POLICYDB_COLS_MAX; i++) {
		row->null[i] = cols[i] == NULL;
		snprintf(row->col[i], sizeof(row->col[i]), "%s", cols[i] ? cols[i] : "");
	}
	return 1;
}

int policydb_lookup(struct policydb *db, enum stmt_id id, const struct policydb_param *params,
		    size_t nparams, struct first_row *row, char *err, size_t errsize)
{
	memset(row, 0, sizeof(*row));
	return policydb_run(db, id, params, nparams, first_row_fn, row, NULL, err, errsize);
}

int policydb_exists(struct policydb *db, enum stmt_id id, const char *name, char *err,
		    size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	struct first_row row;

	if (policydb_lookup(db, id, p, 1, &row, err, errsize) != POLICYDB_OK)
		return -1;
	return row.found;
}

/* parse_long - a numeric column; false when it is not a number */
static bool parse_long(const char *s, long *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || errno != 0 || n < LONG_MIN || n > LONG_MAX)
		return false;
	*v = (long)n;
	return true;
}

bool policydb_lower_domain(const char *domain, char *buf, size_t size)
{
	size_t i;

	if (domain == NULL)
		return false;
	for (i = 0; domain[i] != '\0'; i++) {
		if (i + 1 >= size)
			return false;
		buf[i] = (domain[i] >= 'A' && domain[i] <= 'Z') ? (char)(domain[i] - 'A' + 'a')
								: domain[i];
	}
	buf[i] = '\0';
	return true;
}

/* ---- open, close, setup --------------------------------------------- */

int policydb_open(const struct config *config, bool create, struct policydb **db_r, char *err,
		  size_t errsize)
{
	struct policydb_conn *conn;
	int rc;

	*db_r = NULL;
	switch (config->policydb_backend) {
	case POLICYDB_BACKEND_SQLITE:
		rc = policydb_sqlite_open(config, create, db_r, err, errsize);
		if (rc != 0)
			return -1;
		pool_init(*db_r);
		/* open one connection now: a bad file is a start-up error */
		if (pool_get(*db_r, &conn, err, errsize) != POLICYDB_OK) {
			policydb_close(db_r);
			return -1;
		}
		pool_put(*db_r, &conn, false);
		return 0;
	case POLICYDB_BACKEND_MARIADB:
		/* connections are opened on first use: a server that is down now
		 * makes look-ups fail (POLICYDB_ERROR), not the start-up */
		if (policydb_mariadb_open(config, db_r, err, errsize) != 0)
			return -1;
		pool_init(*db_r);
		return 0;
	default:
		error_format_class(ERROR_CONFIG, err, errsize, "unknown policy_db backend %d",
				   config->policydb_backend);
		return -1;
	}
}

void policydb_close(struct policydb **db)
{
	struct policydb *p = *db;

	if (p == NULL)
		return;
	pool_drop_idle(p);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	XFREE(p->label);
	p->ops->destroy(p);
	*db = NULL;
}

int policydb_setup(struct policydb *db, char *err, size_t errsize)
{
	struct policydb_conn *conn;
	struct policydb_param p[1] = { text(ALEMBIC_HEAD) };
	struct first_row row;
	int rc;

	memset(&row, 0, sizeof(row));
	if (pool_get(db, &conn, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	rc = db->ops->script(conn, db->ops->ddl, err, errsize);
	if (rc == POLICYDB_OK)
		rc = db->ops->script(conn, policydb_limits_ddl(db), err, errsize);
	if (rc == POLICYDB_OK &&
	    db->ops->exec(conn, &policydb_stmts[ST_LIMIT_COLUMNS], NULL, 0, NULL, NULL, NULL, err,
			  errsize) != POLICYDB_OK)
		rc = db->ops->script(conn, policydb_limits_upgrade, err, errsize);
	if (rc == POLICYDB_OK) {
		rc = db->ops->exec(conn, &policydb_stmts[ST_ALEMBIC_GET], NULL, 0, first_row_fn, &row,
				   NULL, err, errsize);
	}
	if (rc == POLICYDB_OK && !row.found)
		rc = db->ops->exec(conn, &policydb_stmts[ST_ALEMBIC_STAMP], p, 1, NULL, NULL, NULL, err,
				   errsize);
	else if (rc == POLICYDB_OK && strcmp(row.col[0], ALEMBIC_BASE) == 0)
		rc = db->ops->script(conn, policydb_upgrade_flags, err, errsize);
	if (rc == POLICYDB_OK)
		rc = db->ops->exec(conn, &policydb_stmts[ST_CHECK], NULL, 0, NULL, NULL, NULL, err,
				   errsize);
	pool_put(db, &conn, rc == POLICYDB_LOST);
	return rc == POLICYDB_OK ? POLICYDB_OK : POLICYDB_ERROR;
}

int policydb_check(struct policydb *db, char *err, size_t errsize)
{
	return policydb_run(db, ST_CHECK, NULL, 0, NULL, NULL, NULL, err, errsize);
}

/* ---- look-ups --------------------------------------------------------- */

int policydb_user_quota(struct policydb *db, const char *user, long *quota_r, char *err,
			size_t errsize)
{
	struct policydb_param p[1] = { text(user) };
	struct first_row row;
	int rc;

	rc = policydb_lookup(db, ST_USER_QUOTA, p, 1, &row, err, errsize);
	if (rc != POLICYDB_OK)
		return rc;
	if (!row.found || row.null[0]) {
		error_format(err, errsize, "user %s is unknown or has no quota", user);
		return POLICYDB_NOTFOUND;
	}
	if (!parse_long(row.col[0], quota_r)) {
		error_format_class(ERROR_CONFIG, err, errsize,
				   "%s: quota of user %s is not a number: %s", db->label, user,
				   row.col[0]);
		return POLICYDB_ERROR;
	}
	return POLICYDB_OK;
}

int policydb_user_domain(struct policydb *db, const char *user, const char *domain,
			 bool *linked_r, char *err, size_t errsize)
{
	char ldomain[DOMAIN_BUF];
	struct policydb_param p[2] = { text(user), text(ldomain) };
	struct first_row row;
	int rc;

	*linked_r = false;
	if (!policydb_lower_domain(domain, ldomain, sizeof(ldomain)))
		return POLICYDB_OK;
	rc = policydb_lookup(db, ST_USER_DOMAIN, p, 2, &row, err, errsize);
	if (rc == POLICYDB_OK)
		*linked_r = row.found;
	return rc;
}

int policydb_user_email(struct policydb *db, const char *user, const char *email,
			bool *linked_r, char *err, size_t errsize)
{
	struct policydb_param p[2] = { text(user), text(email) };
	struct first_row row;
	int rc;

	*linked_r = false;
	rc = policydb_lookup(db, ST_USER_EMAIL, p, 2, &row, err, errsize);
	if (rc == POLICYDB_OK)
		*linked_r = row.found;
	return rc;
}

int policydb_domain_flags(struct policydb *db, const char *domain, bool *greylist_r,
			  bool *check_spf_r, char *err, size_t errsize)
{
	char ldomain[DOMAIN_BUF];
	struct policydb_param p[1] = { text(ldomain) };
	struct first_row row;
	long greylist, check_spf;
	int rc;

	*greylist_r = *check_spf_r = false;
	memset(&row, 0, sizeof(row));
	if (policydb_lower_domain(domain, ldomain, sizeof(ldomain))) {
		rc = policydb_lookup(db, ST_DOMAIN_FLAGS_EXACT, p, 1, &row, err, errsize);
		if (rc == POLICYDB_OK && !row.found)
			rc = policydb_lookup(db, ST_DOMAIN_FLAGS_LOWER, p, 1, &row, err, errsize);
		if (rc != POLICYDB_OK)
			return rc;
	}
	if (!row.found) {
		error_format(err, errsize, "domain %s is unknown", domain);
		return POLICYDB_NOTFOUND;
	}
	if (!parse_long(row.col[0], &greylist) || !parse_long(row.col[1], &check_spf)) {
		error_format_class(ERROR_CONFIG, err, errsize,
				   "%s: flags of domain %s are not numbers", db->label, domain);
		return POLICYDB_ERROR;
	}
	*greylist_r = greylist != 0;
	*check_spf_r = check_spf != 0;
	return POLICYDB_OK;
}
