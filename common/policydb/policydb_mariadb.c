/*
 * NAME
 *	policydb_mariadb - the policy database on MariaDB/MySQL
 * SUMMARY
 *	policydb_mariadb_open(config) -> struct policydb
 * DESCRIPTION
 *	MariaDB Connector/C.  mysql_library_init runs once (pthread_once)
 *	before the first handle.  Each pooled connection is one MYSQL handle,
 *	used by one thread at a time, with:
 *	  - connect, read and write timeouts of policy_db.timeout_ms in whole
 *	    seconds, rounded up, at least 1 (the library's unit);
 *	  - character set utf8mb4;
 *	  - CLIENT_FOUND_ROWS, so an UPDATE reports the rows it matched (a
 *	    flag set to its current value still "finds" the domain);
 *	  - no automatic reconnect: a lost connection (CR_SERVER_GONE_ERROR,
 *	    CR_SERVER_LOST, a killed connection or a server shutdown) is
 *	    reported as POLICYDB_LOST and policydb.c retries once on a new
 *	    connection.
 *	Statements go through the mysql_stmt_* API with bound parameters and
 *	results (every column fetched as a string), prepared once per
 *	connection.  host "localhost" means the server's Unix socket (the
 *	library's rule); an empty host is 127.0.0.1 and port 0 is 3306, as in
 *	CHAPPS.
 *
 *	The schema is exactly what CHAPPS's Alembic migrations create
 *	(ce81767cec26 + 0b5ef72836bd): same types, primary keys, unique
 *	indexes ix_<table>_name and ix_quotas_quota, foreign keys
 *	fk_<table>_<col>_<reftable> with their ON DELETE/ON UPDATE actions,
 *	InnoDB, default character set of the database.
 * DIAGNOSTICS
 *	ER_DUP_ENTRY is POLICYDB_EXISTS; a lost connection POLICYDB_LOST;
 *	anything else POLICYDB_ERROR with "mariadb user@host:port/db: what:
 *	server message" (never the password).  A missing table or column
 *	adds a hint to run `chapps-cli admin db-setup`.
 */
#include "autoconf.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "policydb/policydb-private.h"
#include "base/xalloc.h"


/* MySQL 8.0.24+: the server closed an idle connection (wait_timeout). */
#define ER_CLIENT_INTERACTION_TIMEOUT_ 4031

/* Longest column value fetched (VARCHAR(128) in utf8mb4 is 512 bytes). */
#define COL_BUF 1024

struct mariadb_db {
	struct policydb base;
	char *host;
	char *user;
	char *password;
	char *name;
	unsigned int port;
	unsigned int timeout_s;
};

struct mariadb_conn {
	struct policydb_conn base;
	struct mariadb_db *db;
	MYSQL *my;
	MYSQL_STMT *st[POLICYDB_STMT_MAX];
};

static const char *const mariadb_ddl[] = {
	"CREATE TABLE IF NOT EXISTS domains ("
	" id INTEGER NOT NULL AUTO_INCREMENT,"
	" name VARCHAR(64) NOT NULL,"
	" greylist BOOL NOT NULL DEFAULT '0',"
	" check_spf BOOL NOT NULL DEFAULT '0',"
	" CONSTRAINT pk_domains PRIMARY KEY (id),"
	" UNIQUE INDEX ix_domains_name (name)"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS emails ("
	" id INTEGER NOT NULL AUTO_INCREMENT,"
	" name VARCHAR(128) NOT NULL,"
	" CONSTRAINT pk_emails PRIMARY KEY (id),"
	" UNIQUE INDEX ix_emails_name (name)"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS quotas ("
	" id INTEGER NOT NULL AUTO_INCREMENT,"
	" name VARCHAR(32) NOT NULL,"
	" quota INTEGER NOT NULL,"
	" CONSTRAINT pk_quotas PRIMARY KEY (id),"
	" UNIQUE INDEX ix_quotas_name (name),"
	" UNIQUE INDEX ix_quotas_quota (quota)"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS users ("
	" id INTEGER NOT NULL AUTO_INCREMENT,"
	" name VARCHAR(128) NOT NULL,"
	" CONSTRAINT pk_users PRIMARY KEY (id),"
	" UNIQUE INDEX ix_users_name (name)"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS domain_user ("
	" user_id INTEGER NOT NULL,"
	" domain_id INTEGER NOT NULL,"
	" CONSTRAINT pk_domain_user PRIMARY KEY (user_id, domain_id),"
	" CONSTRAINT fk_domain_user_domain_id_domains FOREIGN KEY(domain_id)"
	"  REFERENCES domains (id) ON DELETE CASCADE ON UPDATE CASCADE,"
	" CONSTRAINT fk_domain_user_user_id_users FOREIGN KEY(user_id)"
	"  REFERENCES users (id) ON DELETE CASCADE ON UPDATE RESTRICT"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS email_user ("
	" user_id INTEGER NOT NULL,"
	" email_id INTEGER NOT NULL,"
	" CONSTRAINT pk_email_user PRIMARY KEY (user_id, email_id),"
	" CONSTRAINT fk_email_user_email_id_emails FOREIGN KEY(email_id)"
	"  REFERENCES emails (id) ON DELETE CASCADE ON UPDATE CASCADE,"
	" CONSTRAINT fk_email_user_user_id_users FOREIGN KEY(user_id)"
	"  REFERENCES users (id) ON DELETE CASCADE ON UPDATE RESTRICT"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS quota_user ("
	" user_id INTEGER NOT NULL,"
	" quota_id INTEGER NOT NULL,"
	" CONSTRAINT pk_quota_user PRIMARY KEY (user_id),"
	" CONSTRAINT fk_quota_user_quota_id_quotas FOREIGN KEY(quota_id)"
	"  REFERENCES quotas (id) ON DELETE CASCADE ON UPDATE CASCADE,"
	" CONSTRAINT fk_quota_user_user_id_users FOREIGN KEY(user_id)"
	"  REFERENCES users (id) ON DELETE CASCADE ON UPDATE RESTRICT"
	") ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS alembic_version ("
	" version_num VARCHAR(32) NOT NULL,"
	" CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)"
	") ENGINE=InnoDB",
	NULL
};

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_rc;

/* library_init - mysql_library_init, once per process */
static void library_init(void)
{
	library_rc = mysql_library_init(0, NULL, NULL);
}

/*
 * connect_class - the class of a failed connect: the server refused the
 * configured account or database (ERROR_CONFIG), or could not be reached
 * (ERROR_TEMPORARY)
 */
static enum error_class connect_class(unsigned int code)
{
	switch (code) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_BAD_DB_ERROR:
		return ERROR_CONFIG;
	default:
		return ERROR_TEMPORARY;
	}
}

/* classify - turn a Connector/C error into a status and a message */
static int classify(struct mariadb_conn *c, unsigned int code, const char *msg,
		    const char *what, char *err, size_t errsize)
{
	const char *hint = "";

	switch (code) {
	case ER_DUP_ENTRY:
	case ER_DUP_ENTRY_WITH_KEY_NAME:
		error_format(err, errsize, "%s: %s", c->db->base.label, msg);
		return POLICYDB_EXISTS;
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
	case ER_CLIENT_INTERACTION_TIMEOUT_:
		error_format_class(ERROR_TEMPORARY, err, errsize, "%s: %s: connection lost: %s",
				   c->db->base.label, what, msg);
		return POLICYDB_LOST;
	case ER_NO_SUCH_TABLE:
	case ER_BAD_FIELD_ERROR:
		hint = POLICYDB_SETUP_HINT;
		break;
	}
	error_format_class(hint[0] != '\0' ? ERROR_CONFIG : ERROR_TEMPORARY, err, errsize,
			   "%s: %s: %s%s", c->db->base.label, what, msg, hint);
	return POLICYDB_ERROR;
}

/* stmt_err - classify a statement handle's error */
static int stmt_err(struct mariadb_conn *c, MYSQL_STMT *st, const char *what, char *err,
		    size_t errsize)
{
	return classify(c, mysql_stmt_errno(st), mysql_stmt_error(st), what, err, errsize);
}

/* conn_err - classify the connection's error */
static int conn_err(struct mariadb_conn *c, const char *what, char *err, size_t errsize)
{
	return classify(c, mysql_errno(c->my), mysql_error(c->my), what, err, errsize);
}

/* mdb_disconnect - close the statements and the connection */
static void mdb_disconnect(struct policydb_conn **conn)
{
	struct mariadb_conn *c = (struct mariadb_conn *)*conn;
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < POLICYDB_STMT_MAX; i++)
		if (c->st[i] != NULL)
			mysql_stmt_close(c->st[i]);
	mysql_close(c->my);
	free(c);
	*conn = NULL;
}

/* mdb_connect - open one connection with the timeouts and utf8mb4 */
static int mdb_connect(struct policydb *pdb, struct policydb_conn **conn_r, char *err,
			   size_t errsize)
{
	struct mariadb_db *db = (struct mariadb_db *)pdb;
	struct mariadb_conn *c;
	unsigned int t = db->timeout_s;
	my_bool off = 0;

	c = xcalloc(1, sizeof(*c));
	c->db = db;
	c->my = mysql_init(NULL);
	if (c->my == NULL) {
		error_format_class(ERROR_TEMPORARY, err, errsize, "%s: mysql_init failed", pdb->label);
		free(c);
		return POLICYDB_ERROR;
	}
	mysql_options(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	mysql_options(c->my, MYSQL_OPT_READ_TIMEOUT, &t);
	mysql_options(c->my, MYSQL_OPT_WRITE_TIMEOUT, &t);
	mysql_options(c->my, MYSQL_OPT_RECONNECT, &off);
	mysql_options(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(c->my, db->host, db->user, db->password, db->name, db->port,
			       NULL, CLIENT_FOUND_ROWS) == NULL) {
		error_format_class(connect_class(mysql_errno(c->my)), err, errsize, "%s: cannot connect: %s", pdb->label,
				mysql_error(c->my));
		mysql_close(c->my);
		free(c);
		return POLICYDB_ERROR;
	}
	*conn_r = &c->base;
	return POLICYDB_OK;
}

/* prepare - the connection's handle for stmt, prepared on first use */
static int prepare(struct mariadb_conn *c, const struct policydb_stmt *stmt,
		   MYSQL_STMT **st_r, char *err, size_t errsize)
{
	MYSQL_STMT *st = c->st[stmt->id];
	int rc;

	if (st != NULL) {
		*st_r = st;
		return POLICYDB_OK;
	}
	st = mysql_stmt_init(c->my);
	if (st == NULL)
		return conn_err(c, "prepare", err, errsize);
	if (mysql_stmt_prepare(st, stmt->sql, strlen(stmt->sql)) != 0) {
		rc = stmt_err(c, st, "prepare", err, errsize);
		mysql_stmt_close(st);
		return rc == POLICYDB_EXISTS ? POLICYDB_ERROR : rc;
	}
	c->st[stmt->id] = st;
	*st_r = st;
	return POLICYDB_OK;
}

/* mdb_exec - bind, execute, fetch every row as strings */
static int mdb_exec(struct policydb_conn *conn, const struct policydb_stmt *stmt,
			const struct policydb_param *params, size_t nparams, policydb_row_fn *fn,
			void *ctx, long long *changes_r, char *err, size_t errsize)
{
	struct mariadb_conn *c = (struct mariadb_conn *)conn;
	MYSQL_BIND pb[POLICYDB_COLS_MAX], rb[POLICYDB_COLS_MAX];
	unsigned long plen[POLICYDB_COLS_MAX], rlen[POLICYDB_COLS_MAX];
	my_bool rnull[POLICYDB_COLS_MAX], rerr[POLICYDB_COLS_MAX];
	char buf[POLICYDB_COLS_MAX][COL_BUF];
	const char *cols[POLICYDB_COLS_MAX];
	MYSQL_STMT *st = NULL;
	unsigned int ncols, i;
	bool stop = false;
	int rc;
	size_t j;

	rc = prepare(c, stmt, &st, err, errsize);
	if (rc != POLICYDB_OK)
		return rc;
	if (nparams > POLICYDB_COLS_MAX || mysql_stmt_param_count(st) != nparams) {
		error_format_class(ERROR_CONFIG, err, errsize, "%s: statement %d: %lu parameters, %zu given",
				c->db->base.label, stmt->id, mysql_stmt_param_count(st), nparams);
		return POLICYDB_ERROR;
	}
	memset(pb, 0, sizeof(pb));
	for (j = 0; j < nparams; j++) {
		if (params[j].type == POLICYDB_PARAM_INT) {
			pb[j].buffer_type = MYSQL_TYPE_LONGLONG;
			pb[j].buffer = (void *)&params[j].num;
		} else if (params[j].text == NULL) {
			pb[j].buffer_type = MYSQL_TYPE_NULL;
		} else {
			plen[j] = strlen(params[j].text);
			pb[j].buffer_type = MYSQL_TYPE_STRING;
			pb[j].buffer = (void *)params[j].text;
			pb[j].buffer_length = plen[j];
			pb[j].length = &plen[j];
		}
	}
	if (nparams > 0 && mysql_stmt_bind_param(st, pb) != 0)
		return stmt_err(c, st, "bind", err, errsize);
	if (mysql_stmt_execute(st) != 0)
		return stmt_err(c, st, "execute", err, errsize);

	ncols = mysql_stmt_field_count(st);
	if (ncols == 0) {
		if (changes_r != NULL)
			*changes_r = (long long)mysql_stmt_affected_rows(st);
		return POLICYDB_OK;
	}
	if (ncols > POLICYDB_COLS_MAX) {
		mysql_stmt_free_result(st);
		error_format_class(ERROR_CONFIG, err, errsize, "%s: statement %d: too many columns",
				c->db->base.label, stmt->id);
		return POLICYDB_ERROR;
	}
	memset(rb, 0, sizeof(rb));
	for (i = 0; i < ncols; i++) {
		rb[i].buffer_type = MYSQL_TYPE_STRING;
		rb[i].buffer = buf[i];
		rb[i].buffer_length = COL_BUF - 1;
		rb[i].length = &rlen[i];
		rb[i].is_null = &rnull[i];
		rb[i].error = &rerr[i];
	}
	if (mysql_stmt_bind_result(st, rb) != 0) {
		rc = stmt_err(c, st, "bind result", err, errsize);
		mysql_stmt_free_result(st);
		return rc;
	}
	for (;;) {
		int f = mysql_stmt_fetch(st);

		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1) {
			rc = stmt_err(c, st, "fetch", err, errsize);
			mysql_stmt_free_result(st);
			return rc;
		}
		if (f == MYSQL_DATA_TRUNCATED) {
			error_format_class(ERROR_CONFIG, err, errsize, "%s: a value is longer than %d bytes",
					c->db->base.label, COL_BUF - 1);
			rc = POLICYDB_ERROR;
			stop = true;
			continue;
		}
		if (fn == NULL || stop)
			continue;
		for (i = 0; i < ncols; i++) {
			if (rnull[i]) {
				cols[i] = NULL;
				continue;
			}
			buf[i][rlen[i] < COL_BUF ? rlen[i] : COL_BUF - 1] = '\0';
			cols[i] = buf[i];
		}
		stop = fn(ctx, (int)ncols, cols) != 0;
	}
	mysql_stmt_free_result(st);
	return rc;
}

/* mdb_script - run each statement as a plain query (DDL commits itself) */
static int mdb_script(struct policydb_conn *conn, const char *const *sql, char *err,
			  size_t errsize)
{
	struct mariadb_conn *c = (struct mariadb_conn *)conn;
	MYSQL_RES *res;
	int rc;

	for (; *sql != NULL; sql++) {
		if (mysql_real_query(c->my, *sql, strlen(*sql)) != 0) {
			rc = conn_err(c, "schema", err, errsize);
			return rc == POLICYDB_EXISTS ? POLICYDB_ERROR : rc;
		}
		res = mysql_store_result(c->my);
		if (res != NULL)
			mysql_free_result(res);
	}
	return POLICYDB_OK;
}

/* mdb_destroy - free the backend part, wiping the password */
static void mdb_destroy(struct policydb *pdb)
{
	struct mariadb_db *db = (struct mariadb_db *)pdb;

	if (db->password != NULL)
		explicit_bzero(db->password, strlen(db->password));
	XFREE(db->host);
	XFREE(db->user);
	XFREE(db->password);
	XFREE(db->name);
	free(db);
}

static const struct policydb_ops mariadb_ops = {
	.name = "mariadb",
	.connect = mdb_connect,
	.disconnect = mdb_disconnect,
	.exec = mdb_exec,
	.script = mdb_script,
	.ddl = mariadb_ddl,
	.destroy = mdb_destroy,
};

int policydb_mariadb_open(const struct config *config, struct policydb **db_r, char *err,
			  size_t errsize)
{
	struct mariadb_db *db;
	char *label;
	int ms = config->policydb_timeout_ms;

	*db_r = NULL;
	pthread_once(&library_once, library_init);
	if (library_rc != 0) {
		error_format_class(ERROR_TEMPORARY, err, errsize, "mysql_library_init failed");
		return -1;
	}
	db = xcalloc(1, sizeof(*db));
	db->host = xstrdup(config->policydb_host != NULL && config->policydb_host[0] != '\0'
				   ? config->policydb_host
				   : "127.0.0.1");
	db->user = xstrdup(config->policydb_user != NULL ? config->policydb_user : "");
	db->password = xstrdup(config->policydb_password != NULL ? config->policydb_password
								 : "");
	db->name = xstrdup(config->policydb_name != NULL ? config->policydb_name : "");
	db->port = config->policydb_port > 0 ? (unsigned int)config->policydb_port : 3306;
	db->timeout_s = ms > 0 ? (unsigned int)((ms + 999) / 1000) : 1;
	label = xasprintf("mariadb %s@%s:%u/%s", db->user, db->host, db->port, db->name);
	db->base.ops = &mariadb_ops;
	db->base.label = label;	/* freed by policydb_close */
	db->base.timeout_ms = ms;
	*db_r = &db->base;
	return 0;
}
