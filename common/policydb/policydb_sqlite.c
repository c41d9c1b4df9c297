/*
 * NAME
 *	policydb_sqlite - the policy database on an SQLite file
 * SUMMARY
 *	policydb_sqlite_open(config, create) -> struct policydb
 * DESCRIPTION
 *	Each pooled connection is its own sqlite3 handle opened NOMUTEX (the
 *	pool never lets two threads use one; Debian's libsqlite3 is built
 *	THREADSAFE=1), with foreign_keys ON (the CHAPPS cascades),
 *	journal_mode WAL (readers never wait for the writer), synchronous
 *	NORMAL (in WAL mode a power failure may lose the last commits but
 *	never corrupts the file) and a busy timeout of policy_db.timeout_ms:
 *	a writer waits that long for another process's write to finish.
 *	Prepared statements are cached per connection, indexed by statement.
 *
 *	The schema is CHAPPS's (spec 9.1) in SQLite syntax: INTEGER ids that
 *	alias the rowid, the same unique indexes, primary keys and ON DELETE
 *	/ ON UPDATE actions; plus an index on each link table's second column
 *	(named like the one InnoDB creates for the foreign key) so a delete
 *	of a domain, e-mail or quota does not scan the link table.
 * DIAGNOSTICS
 *	A unique or primary-key violation is POLICYDB_EXISTS; anything else
 *	POLICYDB_ERROR with "sqlite PATH: message".  A missing table or
 *	column adds a hint to run `chapps-cli admin db-setup`.
 */
#include "autoconf.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/config.h"
#include "policydb/policydb-private.h"
#include "base/xalloc.h"


struct sqlite_db {
	struct policydb base;
	char *path;
	bool create;
};

struct sqlite_conn {
	struct policydb_conn base;
	struct sqlite_db *db;
	sqlite3 *h;
	sqlite3_stmt *st[POLICYDB_STMT_MAX];
};

static const char *const sqlite_ddl[] = {
	"CREATE TABLE IF NOT EXISTS domains ("
	" id INTEGER NOT NULL,"
	" name VARCHAR(64) NOT NULL,"
	" greylist BOOLEAN NOT NULL DEFAULT 0,"
	" check_spf BOOLEAN NOT NULL DEFAULT 0,"
	" CONSTRAINT pk_domains PRIMARY KEY (id))",
	"CREATE UNIQUE INDEX IF NOT EXISTS ix_domains_name ON domains (name)",
	"CREATE TABLE IF NOT EXISTS emails ("
	" id INTEGER NOT NULL,"
	" name VARCHAR(128) NOT NULL,"
	" CONSTRAINT pk_emails PRIMARY KEY (id))",
	"CREATE UNIQUE INDEX IF NOT EXISTS ix_emails_name ON emails (name)",
	"CREATE TABLE IF NOT EXISTS quotas ("
	" id INTEGER NOT NULL,"
	" name VARCHAR(32) NOT NULL,"
	" quota INTEGER NOT NULL,"
	" CONSTRAINT pk_quotas PRIMARY KEY (id))",
	"CREATE UNIQUE INDEX IF NOT EXISTS ix_quotas_name ON quotas (name)",
	"CREATE UNIQUE INDEX IF NOT EXISTS ix_quotas_quota ON quotas (quota)",
	"CREATE TABLE IF NOT EXISTS users ("
	" id INTEGER NOT NULL,"
	" name VARCHAR(128) NOT NULL,"
	" CONSTRAINT pk_users PRIMARY KEY (id))",
	"CREATE UNIQUE INDEX IF NOT EXISTS ix_users_name ON users (name)",
	"CREATE TABLE IF NOT EXISTS domain_user ("
	" user_id INTEGER NOT NULL,"
	" domain_id INTEGER NOT NULL,"
	" CONSTRAINT pk_domain_user PRIMARY KEY (user_id, domain_id),"
	" CONSTRAINT fk_domain_user_domain_id_domains FOREIGN KEY (domain_id)"
	"  REFERENCES domains (id) ON DELETE CASCADE ON UPDATE CASCADE,"
	" CONSTRAINT fk_domain_user_user_id_users FOREIGN KEY (user_id)"
	"  REFERENCES users (id) ON DELETE CASCADE ON UPDATE RESTRICT)",
	"CREATE INDEX IF NOT EXISTS fk_domain_user_domain_id_domains ON domain_user (domain_id)",
	"CREATE TABLE IF NOT EXISTS email_user ("
	" user_id INTEGER NOT NULL,"
	" email_id INTEGER NOT NULL,"
	" CONSTRAINT pk_email_user PRIMARY KEY (user_id, email_id),"
	" CONSTRAINT fk_email_user_email_id_emails FOREIGN KEY (email_id)"
	"  REFERENCES emails (id) ON DELETE CASCADE ON UPDATE CASCADE,"
	" CONSTRAINT fk_email_user_user_id_users FOREIGN KEY (user_id)"
	"  REFERENCES users (id) ON DELETE CASCADE ON UPDATE RESTRICT)",
	"CREATE INDEX IF NOT EXISTS fk_email_user_email_id_emails ON email_user (email_id)",
	"CREATE TABLE IF NOT EXISTS quota_user ("
	" user_id INTEGER NOT NULL,"
	" quota_id INTEGER NOT NULL,"
	" CONSTRAINT pk_quota_user PRIMARY KEY (user_id),"
	" CONSTRAINT fk_quota_user_quota_id_quotas FOREIGN KEY (quota_id)"
	"  REFERENCES quotas (id) ON DELETE CASCADE ON UPDATE CASCADE,"
	" CONSTRAINT fk_quota_user_user_id_users FOREIGN KEY (user_id)"
	"  REFERENCES users (id) ON DELETE CASCADE ON UPDATE RESTRICT)",
	"CREATE INDEX IF NOT EXISTS fk_quota_user_quota_id_quotas ON quota_user (quota_id)",
	"CREATE TABLE IF NOT EXISTS alembic_version ("
	" version_num VARCHAR(32) NOT NULL,"
	" CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
	NULL
};

/* sqlite_err - report the handle's last error, with the db-setup hint if it fits */
static int sqlite_err(struct sqlite_conn *c, const char *what, char *err, size_t errsize)
{
	const char *msg = sqlite3_errmsg(c->h);
	int code = sqlite3_extended_errcode(c->h);
	bool schema;

	if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) {
		error_format(err, errsize, "%s: %s", c->db->base.label, msg);
		return POLICYDB_EXISTS;
	}
	/* an INSERT naming a column the table lacks: "table T has no column named C" */
	schema = strncmp(msg, "no such table", 13) == 0 ||
		 strncmp(msg, "no such column", 14) == 0 ||
		 strstr(msg, " has no column named ") != NULL;
	error_format_class(schema ? ERROR_CONFIG : ERROR_TEMPORARY, err, errsize, "%s: %s: %s%s",
			   c->db->base.label, what, msg, schema ? POLICYDB_SETUP_HINT : "");
	return POLICYDB_ERROR;
}

/* sqlite_disconnect - finalize the cached statements and close the handle */
static void sqlite_disconnect(struct policydb_conn **conn)
{
	struct sqlite_conn *c = (struct sqlite_conn *)*conn;
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < POLICYDB_STMT_MAX; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->h);
	free(c);
	*conn = NULL;
}

/* sqlite_connect - open a handle and set its pragmas */
static int sqlite_connect(struct policydb *pdb, struct policydb_conn **conn_r, char *err,
			  size_t errsize)
{
	struct sqlite_db *db = (struct sqlite_db *)pdb;
	struct sqlite_conn *c = xcalloc(1, sizeof(*c));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int rc;

	if (db->create)
		flags |= SQLITE_OPEN_CREATE;
	c->db = db;
	rc = sqlite3_open_v2(db->path, &c->h, flags, NULL);
	if (rc != SQLITE_OK) {
		error_format_class(ERROR_CONFIG, err, errsize, "%s: cannot open: %s", pdb->label,
				c->h != NULL ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc));
		sqlite3_close(c->h);
		free(c);
		return POLICYDB_ERROR;
	}
	sqlite3_extended_result_codes(c->h, 1);
	sqlite3_busy_timeout(c->h, pdb->timeout_ms);
	if (sqlite3_exec(c->h,
			 "PRAGMA foreign_keys = ON;"
			 " PRAGMA journal_mode = WAL;"
			 " PRAGMA synchronous = NORMAL",
			 NULL, NULL, NULL) != SQLITE_OK) {
		sqlite_err(c, "cannot set up the connection", err, errsize);
		*conn_r = &c->base;
		sqlite_disconnect(conn_r);
		return POLICYDB_ERROR;
	}
	*conn_r = &c->base;
	return POLICYDB_OK;
}

/* sqlite_exec - prepare (once per connection), bind, step, report rows */
static int sqlite_exec(struct policydb_conn *conn, const struct policydb_stmt *stmt,
		       const struct policydb_param *params, size_t nparams, policydb_row_fn *fn,
		       void *ctx, long long *changes_r, char *err, size_t errsize)
{
	struct sqlite_conn *c = (struct sqlite_conn *)conn;
	const char *cols[POLICYDB_COLS_MAX];
	sqlite3_stmt *st = c->st[stmt->id];
	bool stop = false;
	int rc, i, ncols;
	size_t j;

	if (st == NULL) {
		if (sqlite3_prepare_v2(c->h, stmt->sql, -1, &st, NULL) != SQLITE_OK)
			return sqlite_err(c, "prepare", err, errsize);
		c->st[stmt->id] = st;
	}
	for (j = 0; j < nparams; j++) {
		if (params[j].type == POLICYDB_PARAM_INT)
			rc = sqlite3_bind_int64(st, (int)j + 1, params[j].num);
		else if (params[j].text == NULL)
			rc = sqlite3_bind_null(st, (int)j + 1);
		else
			rc = sqlite3_bind_text(st, (int)j + 1, params[j].text, -1, SQLITE_STATIC);
		if (rc != SQLITE_OK) {
			rc = sqlite_err(c, "bind", err, errsize);
			sqlite3_clear_bindings(st);
			return rc;
		}
	}
	ncols = sqlite3_column_count(st);
	if (ncols > POLICYDB_COLS_MAX) {
		sqlite3_clear_bindings(st);
		error_format_class(ERROR_CONFIG, err, errsize, "%s: statement %d: too many columns",
				c->db->base.label, stmt->id);
		return POLICYDB_ERROR;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn == NULL || stop)
			continue;
		for (i = 0; i < ncols; i++)
			cols[i] = sqlite3_column_type(st, i) == SQLITE_NULL
					  ? NULL
					  : (const char *)sqlite3_column_text(st, i);
		stop = fn(ctx, ncols, cols) != 0;
	}
	if (rc != SQLITE_DONE)
		rc = sqlite_err(c, "query", err, errsize);
	else {
		rc = POLICYDB_OK;
		if (changes_r != NULL)
			*changes_r = sqlite3_changes(c->h);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* sqlite_script - run statements in one IMMEDIATE transaction */
static int sqlite_script(struct policydb_conn *conn, const char *const *sql, char *err,
			 size_t errsize)
{
	struct sqlite_conn *c = (struct sqlite_conn *)conn;
	int rc = POLICYDB_OK;

	if (sqlite3_exec(c->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return sqlite_err(c, "begin", err, errsize);
	for (; *sql != NULL; sql++) {
		if (sqlite3_exec(c->h, *sql, NULL, NULL, NULL) != SQLITE_OK) {
			rc = sqlite_err(c, "schema", err, errsize);
			sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
			return rc == POLICYDB_EXISTS ? POLICYDB_ERROR : rc;
		}
	}
	if (sqlite3_exec(c->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = sqlite_err(c, "commit", err, errsize);
		sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
		return POLICYDB_ERROR;
	}
	return POLICYDB_OK;
}

/* sqlite_destroy - free the backend part */
static void sqlite_destroy(struct policydb *pdb)
{
	struct sqlite_db *db = (struct sqlite_db *)pdb;

	XFREE(db->path);
	free(db);
}

static const struct policydb_ops sqlite_ops = {
	.name = "sqlite",
	.connect = sqlite_connect,
	.disconnect = sqlite_disconnect,
	.exec = sqlite_exec,
	.script = sqlite_script,
	.ddl = sqlite_ddl,
	.destroy = sqlite_destroy,
};

/* make_parent - create the directories above path (mode 0750) */
static int make_parent(const char *path, char *err, size_t errsize)
{
	char *dir = xstrdup(path), *p;
	char c;
	int rc = 0;

	p = strrchr(dir, '/');
	if (p == NULL || p == dir) {
		free(dir);
		return 0;
	}
	*p = '\0';
	for (p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
			error_format_class(ERROR_CONFIG, err, errsize, "cannot create directory %s: %s", dir,
					strerror(errno));
			rc = -1;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(dir);
	return rc;
}

int policydb_sqlite_open(const struct config *config, bool create, struct policydb **db_r,
			 char *err, size_t errsize)
{
	const char *path = config->policydb_path;
	struct sqlite_db *db;
	struct stat sb;
	char *label;

	*db_r = NULL;
	if (path == NULL || path[0] == '\0') {
		error_format_class(ERROR_CONFIG, err, errsize, "policy_db.path is empty");
		return -1;
	}
	if (!sqlite3_threadsafe()) {
		error_format_class(ERROR_CONFIG, err, errsize, "libsqlite3 is built without thread support");
		return -1;
	}
	if (create) {
		if (make_parent(path, err, errsize) != 0)
			return -1;
	} else if (stat(path, &sb) != 0) {
		if (errno == ENOENT)
			error_format_class(ERROR_CONFIG, err, errsize,
					"policy database %s does not exist (create it with "
					"`chapps-cli admin db-setup`)",
					path);
		else
			error_format_class(ERROR_CONFIG, err, errsize, "policy database %s: %s", path,
					strerror(errno));
		return -1;
	}
	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	db->create = create;
	label = xasprintf("sqlite %s", path);
	db->base.ops = &sqlite_ops;
	db->base.label = label;	/* freed by policydb_close */
	db->base.timeout_ms = config->policydb_timeout_ms;
	*db_r = &db->base;
	return 0;
}
