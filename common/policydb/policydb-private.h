/*
 * policydb-private.h - what the SQL backends share with the front
 *
 * store.c's shape: the front (policydb.c, policydb_admin.c, policydb_sql.c)
 * owns the SQL of every look-up and admin function, the connection pool
 * and the retry rule, and dispatches through the backend's struct
 * policydb_ops; a backend only connects, prepares, binds, steps and
 * classifies errors, and never calls back into the front.  A backend's
 * handle embeds struct policydb as its first member and its connections
 * embed struct policydb_conn as their first member.  The backend's open
 * fills ops, label (allocated, freed by the front) and timeout_ms; the
 * front sets up the rest.  Backends report errors with error_format_class
 * (base/error.h), choosing the class.
 */
#ifndef CHAPPS_POLICYDB_PRIVATE_H
#define CHAPPS_POLICYDB_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "policydb/policydb.h"

/* Internal status: the connection is dead, drop it and retry on a new one. */
#define POLICYDB_LOST (-2)

/* Connections kept per struct policydb (and most open at once). */
#define POLICYDB_POOL_MAX 16

/* Most result columns of any statement. */
#define POLICYDB_COLS_MAX 8

/* One statement: its index into a connection's statement cache and its text. */
struct policydb_stmt {
	int id;
	const char *sql;
};

/* Number of statements (size of a connection's statement cache). */
#define POLICYDB_STMT_MAX 112

/*
 * Statements defined outside policydb.c (policydb_ids.c, the id-based
 * functions of chapps-api) number theirs from here, below POLICYDB_STMT_MAX.
 */
#define POLICYDB_STMT_IDS_BASE 64

enum policydb_param_type { POLICYDB_PARAM_TEXT, POLICYDB_PARAM_INT };

/* One bound parameter: text (borrowed, NUL-terminated) or an integer. */
struct policydb_param {
	enum policydb_param_type type;
	const char *text;
	long long num;
};

struct policydb_conn {
	struct policydb_conn *next;	/* idle list */
};

struct policydb;

struct policydb_ops {
	const char *name;

	/* connect - open one connection (statement cache empty). */
	int (*connect)(struct policydb *db, struct policydb_conn **conn_r, char *err,
		       size_t errsize);

	/* disconnect - close a connection and its statements; NULLs *conn. */
	void (*disconnect)(struct policydb_conn **conn);

	/*
	 * exec - run stmt with params; call fn (when not NULL) for each row,
	 * columns as strings; a non-zero return from fn stops the calls (the
	 * remaining rows are read and dropped).  *changes_r (when not NULL)
	 * gets the rows inserted/updated/deleted (matched rows for UPDATE).
	 * Returns POLICYDB_OK, POLICYDB_EXISTS (unique or primary key clash),
	 * POLICYDB_LOST (connection dead) or POLICYDB_ERROR.
	 */
	int (*exec)(struct policydb_conn *conn, const struct policydb_stmt *stmt,
		    const struct policydb_param *params, size_t nparams, policydb_row_fn *fn,
		    void *ctx, long long *changes_r, char *err, size_t errsize);

	/*
	 * script - run the backend's schema script (no parameters, no rows):
	 * SQLite inside one IMMEDIATE transaction, MariaDB statement by
	 * statement (its DDL commits implicitly).
	 */
	int (*script)(struct policydb_conn *conn, const char *const *sql, char *err,
		      size_t errsize);

	/* ddl - the schema, CREATE ... IF NOT EXISTS, NULL-terminated. */
	const char *const *ddl;

	/* destroy - free the backend's part of db (after every connection). */
	void (*destroy)(struct policydb *db);
};

struct policydb {
	/* set by the backend's open */
	const struct policydb_ops *ops;
	char *label;			/* "sqlite PATH" / "mariadb user@host:port/name" */
	int timeout_ms;

	/* the front's: the pool */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct policydb_conn *idle;
	int nidle;
	int nopen;			/* idle + in use */
};

/* Appended to a backend's message when a table or column is missing. */
#define POLICYDB_SETUP_HINT " (create or upgrade the schema with `chapps-cli admin db-setup`)"

/*
 * policydb_exec - run a statement defined outside policydb_sql.c (the API's
 * look-ups by id, policydb_ids.c) on a pooled connection, with the same
 * lost-connection retry as the front's own statements.  Statement ids of
 * such statements start at POLICYDB_STMT_IDS_BASE (the connection's statement
 * cache is indexed by id).
 */
int policydb_exec(struct policydb *db, const struct policydb_stmt *stmt,
		  const struct policydb_param *params, size_t nparams, policydb_row_fn *fn,
		  void *ctx, long long *changes_r, char *err, size_t errsize);

/* The backends' constructors, called by policydb_open (0 or -1, class recorded). */
int policydb_sqlite_open(const struct config *config, bool create, struct policydb **db_r,
			 char *err, size_t errsize);
int policydb_mariadb_open(const struct config *config, struct policydb **db_r, char *err,
			  size_t errsize);

#endif
