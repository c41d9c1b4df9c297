/*
 * NAME
 *	policydb - the policy data (CHAPPS schema) on SQLite or MariaDB
 * SUMMARY
 *	policydb_open(config) -> struct policydb; look-ups and admin functions
 * DESCRIPTION
 *	Every statement is written once, here, with `?` placeholders, in the
 *	SQL both SQLite and MariaDB/MySQL accept; the backends
 *	(policydb_sqlite.c, policydb_mariadb.c) only connect, prepare, bind,
 *	step and classify errors through struct policydb_ops.  Nothing a
 *	caller passes is ever formatted into SQL: names are bound parameters,
 *	and the two domain flags have one fixed statement each.
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
 *	at revision ce81767cec26.
 * DIAGNOSTICS
 *	Functions return enum policydb_status and put a message in the
 *	caller's err buffer; nothing here logs.  POLICYDB_EXISTS is a unique
 *	clash, POLICYDB_NOTFOUND a missing object; POLICYDB_ERROR anything
 *	else (the backend's own message, prefixed with its label).
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "policydb/policydb-private.h"
#include "base/xalloc.h"

/* Longest names, in characters, as in the schema's VARCHAR columns. */
#define NAME_MAX_USER 128
#define NAME_MAX_QUOTA 32
#define NAME_MAX_DOMAIN 64
#define NAME_MAX_EMAIL 128

/* A domain argument longer than this (bytes) cannot be in the table. */
#define DOMAIN_BUF 512

#define ALEMBIC_BASE "ce81767cec26"
#define ALEMBIC_HEAD "0b5ef72836bd"

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
	ST_COUNT
};

#define S(id, text) [id] = { id, text }
static const struct policydb_stmt stmts[ST_COUNT] = {
	/* look-ups */
	S(ST_USER_QUOTA, "SELECT q.quota FROM users u"
			 " JOIN quota_user qu ON qu.user_id = u.id"
			 " JOIN quotas q ON q.id = qu.quota_id WHERE u.name = ?"),
	S(ST_USER_DOMAIN, "SELECT 1 FROM users u"
			  " JOIN domain_user du ON du.user_id = u.id"
			  " JOIN domains d ON d.id = du.domain_id"
			  " WHERE u.name = ? AND LOWER(d.name) = ? LIMIT 1"),
	S(ST_USER_EMAIL, "SELECT 1 FROM users u"
			 " JOIN email_user eu ON eu.user_id = u.id"
			 " JOIN emails e ON e.id = eu.email_id"
			 " WHERE u.name = ? AND e.name = ? LIMIT 1"),
	S(ST_DOMAIN_FLAGS_EXACT, "SELECT greylist, check_spf FROM domains WHERE name = ?"),
	S(ST_DOMAIN_FLAGS_LOWER, "SELECT greylist, check_spf FROM domains"
				 " WHERE LOWER(name) = ? ORDER BY id LIMIT 1"),
	/* quotas */
	S(ST_QUOTA_ADD, "INSERT INTO quotas (name, quota) VALUES (?, ?)"),
	S(ST_QUOTA_BY_NAME, "SELECT name FROM quotas WHERE name = ?"),
	S(ST_QUOTA_BY_VALUE, "SELECT name FROM quotas WHERE quota = ?"),
	S(ST_QUOTA_DEL, "DELETE FROM quotas WHERE name = ?"),
	S(ST_QUOTA_LIST, "SELECT name, quota FROM quotas ORDER BY name"),
	/* users */
	S(ST_USER_ADD, "INSERT INTO users (name) VALUES (?)"),
	S(ST_USER_DEL, "DELETE FROM users WHERE name = ?"),
	S(ST_USER_LIST, "SELECT u.name, q.name, q.quota FROM users u"
			" LEFT JOIN quota_user qu ON qu.user_id = u.id"
			" LEFT JOIN quotas q ON q.id = qu.quota_id ORDER BY u.name"),
	S(ST_USER_GET, "SELECT u.name, q.name, q.quota FROM users u"
		       " LEFT JOIN quota_user qu ON qu.user_id = u.id"
		       " LEFT JOIN quotas q ON q.id = qu.quota_id WHERE u.name = ?"),
	S(ST_USER_EXISTS, "SELECT 1 FROM users WHERE name = ?"),
	S(ST_USER_SET_QUOTA, "REPLACE INTO quota_user (user_id, quota_id)"
			     " SELECT u.id, q.id FROM users u, quotas q"
			     " WHERE u.name = ? AND q.name = ?"),
	/* domains */
	S(ST_DOMAIN_ADD, "INSERT INTO domains (name, greylist, check_spf) VALUES (?, 0, 0)"),
	S(ST_DOMAIN_DEL, "DELETE FROM domains WHERE LOWER(name) = ?"),
	S(ST_DOMAIN_LIST, "SELECT name, CASE WHEN greylist <> 0 THEN 1 ELSE 0 END,"
			  " CASE WHEN check_spf <> 0 THEN 1 ELSE 0 END"
			  " FROM domains ORDER BY name"),
	S(ST_DOMAIN_EXISTS, "SELECT 1 FROM domains WHERE LOWER(name) = ?"),
	S(ST_DOMAIN_SET_GREYLIST, "UPDATE domains SET greylist = ? WHERE LOWER(name) = ?"),
	S(ST_DOMAIN_SET_CHECK_SPF, "UPDATE domains SET check_spf = ? WHERE LOWER(name) = ?"),
	/* e-mail addresses */
	S(ST_EMAIL_ADD, "INSERT INTO emails (name) VALUES (?)"),
	S(ST_EMAIL_DEL, "DELETE FROM emails WHERE name = ?"),
	S(ST_EMAIL_LIST, "SELECT name FROM emails ORDER BY name"),
	S(ST_EMAIL_EXISTS, "SELECT 1 FROM emails WHERE name = ?"),
	/* links */
	S(ST_LINK_DOMAIN, "INSERT INTO domain_user (user_id, domain_id)"
			  " SELECT u.id, d.id FROM users u, domains d"
			  " WHERE u.name = ? AND LOWER(d.name) = ?"),
	S(ST_UNLINK_DOMAIN, "DELETE FROM domain_user"
			    " WHERE user_id IN (SELECT id FROM users WHERE name = ?)"
			    " AND domain_id IN (SELECT id FROM domains WHERE LOWER(name) = ?)"),
	S(ST_LINK_EMAIL, "INSERT INTO email_user (user_id, email_id)"
			 " SELECT u.id, e.id FROM users u, emails e"
			 " WHERE u.name = ? AND e.name = ?"),
	S(ST_UNLINK_EMAIL, "DELETE FROM email_user"
			   " WHERE user_id IN (SELECT id FROM users WHERE name = ?)"
			   " AND email_id IN (SELECT id FROM emails WHERE name = ?)"),
	S(ST_USER_DOMAINS, "SELECT d.name FROM users u"
			   " JOIN domain_user du ON du.user_id = u.id"
			   " JOIN domains d ON d.id = du.domain_id"
			   " WHERE u.name = ? ORDER BY d.name"),
	S(ST_USER_EMAILS, "SELECT e.name FROM users u"
			  " JOIN email_user eu ON eu.user_id = u.id"
			  " JOIN emails e ON e.id = eu.email_id"
			  " WHERE u.name = ? ORDER BY e.name"),
	S(ST_DOMAIN_USERS, "SELECT u.name FROM domains d"
			   " JOIN domain_user du ON du.domain_id = d.id"
			   " JOIN users u ON u.id = du.user_id"
			   " WHERE LOWER(d.name) = ? ORDER BY u.name"),
	/* schema */
	S(ST_CHECK, "SELECT u.name, q.name, d.name, e.name FROM users u, quotas q, domains d,"
		    " emails e, quota_user qu, domain_user du, email_user eu"
		    " WHERE 1 = 0 AND q.quota = d.greylist AND d.check_spf = qu.quota_id"
		    " AND du.domain_id = eu.email_id AND u.id = e.id"),
	S(ST_ALEMBIC_GET, "SELECT version_num FROM alembic_version"),
	S(ST_ALEMBIC_STAMP, "INSERT INTO alembic_version (version_num) VALUES (?)"),
};
#undef S

/* Migration 0b5ef72836bd: the two domain flags (same SQL on both backends). */
static const char *const upgrade_flags[] = {
	"ALTER TABLE domains ADD COLUMN greylist BOOLEAN NOT NULL DEFAULT 0",
	"ALTER TABLE domains ADD COLUMN check_spf BOOLEAN NOT NULL DEFAULT 0",
	"UPDATE alembic_version SET version_num = '" ALEMBIC_HEAD "'",
	NULL
};

_Static_assert(ST_COUNT <= POLICYDB_STMT_MAX, "raise POLICYDB_STMT_MAX");

/* The first row of a result, for look-ups (short values only). */
struct first_row {
	bool found;
	bool null[POLICYDB_COLS_MAX];
	char col[POLICYDB_COLS_MAX][64];
};

void policydb_seterr(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsize == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

void policydb_init(struct policydb *db, const struct policydb_ops *ops, const char *label,
		   int timeout_ms)
{
	pthread_condattr_t attr;

	db->ops = ops;
	db->label = xstrdup(label);
	db->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
	pthread_mutex_init(&db->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&db->cond, &attr);
	pthread_condattr_destroy(&attr);
	db->idle = NULL;
	db->nidle = 0;
	db->nopen = 0;
}

/* text - a text parameter */
static struct policydb_param text(const char *s)
{
	struct policydb_param p = { POLICYDB_PARAM_TEXT, s, 0 };

	return p;
}

/* num - an integer parameter */
static struct policydb_param num(long long n)
{
	struct policydb_param p = { POLICYDB_PARAM_INT, NULL, n };

	return p;
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
			policydb_seterr(err, errsize, "%s: all %d connections busy for %d ms",
					db->label, POLICYDB_POOL_MAX, db->timeout_ms);
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
 * run - execute one statement on a pooled connection.  On a lost connection
 * drop it (and the idle ones) and run it once more on a new connection, but
 * only when the loss was quick: a stale connection fails at once, while a
 * loss after half the timeout is the read timeout (a hung or locked server),
 * and retrying it would double the time the caller waits.
 */
static int run(struct policydb *db, enum stmt_id id, const struct policydb_param *params,
	       size_t nparams, policydb_row_fn *fn, void *ctx, long long *changes_r, char *err,
	       size_t errsize)
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
		rc = db->ops->exec(conn, &stmts[id], params, nparams, fn, ctx, changes_r, err,
				   errsize);
		if (rc != POLICYDB_LOST) {
			pool_put(db, &conn, false);
			return rc;
		}
		pool_put(db, &conn, true);
		pool_drop_idle(db);
		if (now_ms() - t0 >= db->timeout_ms / 2)
			break;
	}
	return POLICYDB_ERROR;
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

/* lookup - run a statement and keep its first row */
static int lookup(struct policydb *db, enum stmt_id id, const struct policydb_param *params,
		  size_t nparams, struct first_row *row, char *err, size_t errsize)
{
	memset(row, 0, sizeof(*row));
	return run(db, id, params, nparams, first_row_fn, row, NULL, err, errsize);
}

/* exists - does the one-parameter statement id return a row? -1 on error */
static int exists(struct policydb *db, enum stmt_id id, const char *name, char *err,
		  size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	struct first_row row;

	if (lookup(db, id, p, 1, &row, err, errsize) != POLICYDB_OK)
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

/* utf8_chars - characters in a UTF-8 string (bytes that do not continue one) */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* check_name - an admin argument: not empty and within the column's length */
static int check_name(const char *what, const char *name, size_t max, char *err,
		      size_t errsize)
{
	if (name == NULL || name[0] == '\0') {
		policydb_seterr(err, errsize, "%s name is empty", what);
		return POLICYDB_ERROR;
	}
	if (utf8_chars(name) > max) {
		policydb_seterr(err, errsize, "%s name is longer than %zu characters", what, max);
		return POLICYDB_ERROR;
	}
	return POLICYDB_OK;
}

/* lower_domain - ASCII lower-case copy of domain into buf; false if too long */
static bool lower_domain(const char *domain, char *buf, size_t size)
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
		return policydb_mariadb_open(config, db_r, err, errsize) == 0 ? 0 : -1;
	default:
		policydb_seterr(err, errsize, "unknown policy_db backend %d",
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
	if (rc == POLICYDB_OK) {
		rc = db->ops->exec(conn, &stmts[ST_ALEMBIC_GET], NULL, 0, first_row_fn, &row,
				   NULL, err, errsize);
	}
	if (rc == POLICYDB_OK && !row.found)
		rc = db->ops->exec(conn, &stmts[ST_ALEMBIC_STAMP], p, 1, NULL, NULL, NULL, err,
				   errsize);
	else if (rc == POLICYDB_OK && strcmp(row.col[0], ALEMBIC_BASE) == 0)
		rc = db->ops->script(conn, upgrade_flags, err, errsize);
	if (rc == POLICYDB_OK)
		rc = db->ops->exec(conn, &stmts[ST_CHECK], NULL, 0, NULL, NULL, NULL, err,
				   errsize);
	pool_put(db, &conn, rc == POLICYDB_LOST);
	return rc == POLICYDB_OK ? POLICYDB_OK : POLICYDB_ERROR;
}

int policydb_check(struct policydb *db, char *err, size_t errsize)
{
	return run(db, ST_CHECK, NULL, 0, NULL, NULL, NULL, err, errsize);
}

/* ---- look-ups --------------------------------------------------------- */

int policydb_user_quota(struct policydb *db, const char *user, long *quota_r, char *err,
			size_t errsize)
{
	struct policydb_param p[1] = { text(user) };
	struct first_row row;
	int rc;

	rc = lookup(db, ST_USER_QUOTA, p, 1, &row, err, errsize);
	if (rc != POLICYDB_OK)
		return rc;
	if (!row.found || row.null[0]) {
		policydb_seterr(err, errsize, "user %s is unknown or has no quota", user);
		return POLICYDB_NOTFOUND;
	}
	if (!parse_long(row.col[0], quota_r)) {
		policydb_seterr(err, errsize, "%s: quota of user %s is not a number: %s",
				db->label, user, row.col[0]);
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
	if (!lower_domain(domain, ldomain, sizeof(ldomain)))
		return POLICYDB_OK;
	rc = lookup(db, ST_USER_DOMAIN, p, 2, &row, err, errsize);
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
	rc = lookup(db, ST_USER_EMAIL, p, 2, &row, err, errsize);
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
	if (lower_domain(domain, ldomain, sizeof(ldomain))) {
		rc = lookup(db, ST_DOMAIN_FLAGS_EXACT, p, 1, &row, err, errsize);
		if (rc == POLICYDB_OK && !row.found)
			rc = lookup(db, ST_DOMAIN_FLAGS_LOWER, p, 1, &row, err, errsize);
		if (rc != POLICYDB_OK)
			return rc;
	}
	if (!row.found) {
		policydb_seterr(err, errsize, "domain %s is unknown", domain);
		return POLICYDB_NOTFOUND;
	}
	if (!parse_long(row.col[0], &greylist) || !parse_long(row.col[1], &check_spf)) {
		policydb_seterr(err, errsize, "%s: flags of domain %s are not numbers", db->label,
				domain);
		return POLICYDB_ERROR;
	}
	*greylist_r = greylist != 0;
	*check_spf_r = check_spf != 0;
	return POLICYDB_OK;
}

/* ---- administration --------------------------------------------------- */

/* remove_named - run a one-parameter DELETE; NOTFOUND when nothing was deleted */
static int remove_named(struct policydb *db, enum stmt_id id, const char *what,
			const char *name, char *err, size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	long long changes;
	int rc;

	rc = run(db, id, p, 1, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_OK && changes == 0) {
		policydb_seterr(err, errsize, "no %s named %s", what, name);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

/* add_named - run a one-parameter INSERT; EXISTS on a clash */
static int add_named(struct policydb *db, enum stmt_id id, const char *what, const char *name,
		     char *err, size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	int rc;

	rc = run(db, id, p, 1, NULL, NULL, NULL, err, errsize);
	if (rc == POLICYDB_EXISTS)
		policydb_seterr(err, errsize, "%s %s already exists", what, name);
	return rc;
}

int policydb_quota_add(struct policydb *db, const char *name, long quota, char *err,
		       size_t errsize)
{
	struct policydb_param p[2] = { text(name), num(quota) };
	struct policydb_param pv[1] = { num(quota) };
	struct first_row row;
	int rc;

	if (check_name("quota", name, NAME_MAX_QUOTA, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	if (quota < 0 || quota > INT_MAX) {
		policydb_seterr(err, errsize, "quota %ld is out of range (0..%d)", quota, INT_MAX);
		return POLICYDB_ERROR;
	}
	rc = run(db, ST_QUOTA_ADD, p, 2, NULL, NULL, NULL, err, errsize);
	if (rc != POLICYDB_EXISTS)
		return rc;
	switch (exists(db, ST_QUOTA_BY_NAME, name, err, errsize)) {
	case 1:
		policydb_seterr(err, errsize, "quota %s already exists", name);
		return POLICYDB_EXISTS;
	case -1:
		return POLICYDB_ERROR;
	}
	if (lookup(db, ST_QUOTA_BY_VALUE, pv, 1, &row, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	policydb_seterr(err, errsize,
			"quota %s %s the value %ld (quota values are unique in the CHAPPS schema)",
			row.found ? row.col[0] : "?", row.found ? "already has" : "clashes on",
			quota);
	return POLICYDB_EXISTS;
}

int policydb_quota_del(struct policydb *db, const char *name, char *err, size_t errsize)
{
	return remove_named(db, ST_QUOTA_DEL, "quota", name, err, errsize);
}

int policydb_quota_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			size_t errsize)
{
	return run(db, ST_QUOTA_LIST, NULL, 0, fn, ctx, NULL, err, errsize);
}

int policydb_user_add(struct policydb *db, const char *name, char *err, size_t errsize)
{
	if (check_name("user", name, NAME_MAX_USER, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	return add_named(db, ST_USER_ADD, "user", name, err, errsize);
}

int policydb_user_del(struct policydb *db, const char *name, char *err, size_t errsize)
{
	return remove_named(db, ST_USER_DEL, "user", name, err, errsize);
}

int policydb_user_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
		       size_t errsize)
{
	return run(db, ST_USER_LIST, NULL, 0, fn, ctx, NULL, err, errsize);
}

/* Counting wrapper around a caller's row callback. */
struct counted {
	policydb_row_fn *fn;
	void *ctx;
	long rows;
};

/* counted_fn - count a row and pass it on */
static int counted_fn(void *ctx, int ncols, const char *const *cols)
{
	struct counted *c = ctx;

	c->rows++;
	return c->fn != NULL ? c->fn(c->ctx, ncols, cols) : 0;
}

int policydb_user_get(struct policydb *db, const char *name, policydb_row_fn *fn, void *ctx,
		      char *err, size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	struct counted c = { fn, ctx, 0 };
	int rc;

	rc = run(db, ST_USER_GET, p, 1, counted_fn, &c, NULL, err, errsize);
	if (rc == POLICYDB_OK && c.rows == 0) {
		policydb_seterr(err, errsize, "no user named %s", name);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

int policydb_user_set_quota(struct policydb *db, const char *user, const char *quota_name,
			    char *err, size_t errsize)
{
	struct policydb_param p[2] = { text(user), text(quota_name) };
	long long changes;
	int rc;

	rc = run(db, ST_USER_SET_QUOTA, p, 2, NULL, NULL, &changes, err, errsize);
	if (rc != POLICYDB_OK || changes > 0)
		return rc;
	switch (exists(db, ST_USER_EXISTS, user, err, errsize)) {
	case 0:
		policydb_seterr(err, errsize, "no user named %s", user);
		return POLICYDB_NOTFOUND;
	case -1:
		return POLICYDB_ERROR;
	}
	policydb_seterr(err, errsize, "no quota named %s", quota_name);
	return POLICYDB_NOTFOUND;
}

int policydb_domain_add(struct policydb *db, const char *name, char *err, size_t errsize)
{
	char lname[DOMAIN_BUF];

	if (check_name("domain", name, NAME_MAX_DOMAIN, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	if (!lower_domain(name, lname, sizeof(lname))) {
		policydb_seterr(err, errsize, "domain name is too long");
		return POLICYDB_ERROR;
	}
	return add_named(db, ST_DOMAIN_ADD, "domain", lname, err, errsize);
}

int policydb_domain_del(struct policydb *db, const char *name, char *err, size_t errsize)
{
	char lname[DOMAIN_BUF];

	if (!lower_domain(name, lname, sizeof(lname))) {
		policydb_seterr(err, errsize, "no domain named %s", name);
		return POLICYDB_NOTFOUND;
	}
	return remove_named(db, ST_DOMAIN_DEL, "domain", lname, err, errsize);
}

int policydb_domain_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			 size_t errsize)
{
	return run(db, ST_DOMAIN_LIST, NULL, 0, fn, ctx, NULL, err, errsize);
}

int policydb_domain_set_flag(struct policydb *db, const char *name, const char *flag,
			     bool value, char *err, size_t errsize)
{
	char lname[DOMAIN_BUF];
	struct policydb_param p[2] = { num(value ? 1 : 0), text(lname) };
	enum stmt_id id;
	long long changes;
	int rc;

	if (flag != NULL && strcmp(flag, "greylist") == 0)
		id = ST_DOMAIN_SET_GREYLIST;
	else if (flag != NULL && strcmp(flag, "check_spf") == 0)
		id = ST_DOMAIN_SET_CHECK_SPF;
	else {
		policydb_seterr(err, errsize, "unknown domain flag %s (greylist or check_spf)",
				flag ? flag : "(null)");
		return POLICYDB_ERROR;
	}
	if (!lower_domain(name, lname, sizeof(lname))) {
		policydb_seterr(err, errsize, "no domain named %s", name);
		return POLICYDB_NOTFOUND;
	}
	rc = run(db, id, p, 2, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_OK && changes == 0) {
		policydb_seterr(err, errsize, "no domain named %s", lname);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

int policydb_email_add(struct policydb *db, const char *name, char *err, size_t errsize)
{
	if (check_name("e-mail", name, NAME_MAX_EMAIL, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	return add_named(db, ST_EMAIL_ADD, "e-mail", name, err, errsize);
}

int policydb_email_del(struct policydb *db, const char *name, char *err, size_t errsize)
{
	return remove_named(db, ST_EMAIL_DEL, "e-mail", name, err, errsize);
}

int policydb_email_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			size_t errsize)
{
	return run(db, ST_EMAIL_LIST, NULL, 0, fn, ctx, NULL, err, errsize);
}

/*
 * link_object - link or unlink user and a domain/e-mail.  Linking twice and
 * unlinking what is not linked are not errors; a missing user or object is
 * POLICYDB_NOTFOUND.
 */
static int link_object(struct policydb *db, enum stmt_id link_id, enum stmt_id unlink_id,
		       enum stmt_id exists_id, const char *what, const char *user,
		       const char *name, bool link, char *err, size_t errsize)
{
	struct policydb_param p[2] = { text(user), text(name) };
	long long changes;
	int rc;

	rc = run(db, link ? link_id : unlink_id, p, 2, NULL, NULL, &changes, err, errsize);
	if (link && rc == POLICYDB_EXISTS)
		return POLICYDB_OK;	/* already linked */
	if (rc != POLICYDB_OK || changes > 0)
		return rc;
	switch (exists(db, ST_USER_EXISTS, user, err, errsize)) {
	case 0:
		policydb_seterr(err, errsize, "no user named %s", user);
		return POLICYDB_NOTFOUND;
	case -1:
		return POLICYDB_ERROR;
	}
	switch (exists(db, exists_id, name, err, errsize)) {
	case 0:
		policydb_seterr(err, errsize, "no %s named %s", what, name);
		return POLICYDB_NOTFOUND;
	case -1:
		return POLICYDB_ERROR;
	}
	return POLICYDB_OK;	/* unlink of a pair that was not linked */
}

int policydb_link_domain(struct policydb *db, const char *user, const char *domain, bool link,
			 char *err, size_t errsize)
{
	char ldomain[DOMAIN_BUF];

	if (!lower_domain(domain, ldomain, sizeof(ldomain))) {
		policydb_seterr(err, errsize, "no domain named %s", domain);
		return POLICYDB_NOTFOUND;
	}
	return link_object(db, ST_LINK_DOMAIN, ST_UNLINK_DOMAIN, ST_DOMAIN_EXISTS, "domain",
			   user, ldomain, link, err, errsize);
}

int policydb_link_email(struct policydb *db, const char *user, const char *email, bool link,
			char *err, size_t errsize)
{
	return link_object(db, ST_LINK_EMAIL, ST_UNLINK_EMAIL, ST_EMAIL_EXISTS, "e-mail", user,
			   email, link, err, errsize);
}

/* list_of - rows of a one-parameter listing; NOTFOUND when its owner is missing */
static int list_of(struct policydb *db, enum stmt_id id, enum stmt_id exists_id,
		   const char *what, const char *name, policydb_row_fn *fn, void *ctx, char *err,
		   size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	struct counted c = { fn, ctx, 0 };
	int rc;

	rc = run(db, id, p, 1, counted_fn, &c, NULL, err, errsize);
	if (rc != POLICYDB_OK || c.rows > 0)
		return rc;
	switch (exists(db, exists_id, name, err, errsize)) {
	case 0:
		policydb_seterr(err, errsize, "no %s named %s", what, name);
		return POLICYDB_NOTFOUND;
	case -1:
		return POLICYDB_ERROR;
	}
	return POLICYDB_OK;
}

int policydb_user_domains(struct policydb *db, const char *user, policydb_row_fn *fn,
			  void *ctx, char *err, size_t errsize)
{
	return list_of(db, ST_USER_DOMAINS, ST_USER_EXISTS, "user", user, fn, ctx, err,
		       errsize);
}

int policydb_user_emails(struct policydb *db, const char *user, policydb_row_fn *fn, void *ctx,
			 char *err, size_t errsize)
{
	return list_of(db, ST_USER_EMAILS, ST_USER_EXISTS, "user", user, fn, ctx, err, errsize);
}

int policydb_domain_users(struct policydb *db, const char *domain, policydb_row_fn *fn,
			  void *ctx, char *err, size_t errsize)
{
	char ldomain[DOMAIN_BUF];

	if (!lower_domain(domain, ldomain, sizeof(ldomain))) {
		policydb_seterr(err, errsize, "no domain named %s", domain);
		return POLICYDB_NOTFOUND;
	}
	return list_of(db, ST_DOMAIN_USERS, ST_DOMAIN_EXISTS, "domain", ldomain, fn, ctx, err,
		       errsize);
}

/* ---- statements of other files (policydb_ids.c) ------------------------- */

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
		if (now_ms() - t0 >= db->timeout_ms / 2)
			break;
	}
	return POLICYDB_ERROR;
}
