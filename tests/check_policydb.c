/*
 * check_policydb - the policydb contract, run against one backend
 *
 * This file is built twice: check_policydb_sqlite (a file in a temporary
 * directory) and check_policydb_mariadb (POLICYDB_TEST_MARIADB=1: a private
 * mariadbd started by tests/mariadb-helper.sh on 127.0.0.1, a port in
 * 16500-16599; the program exits 77 when mariadbd is not installed).  Every
 * test gets a fresh, empty database, so tests are independent in Check's
 * fork mode and with CK_FORK=no.
 *
 * The contract is the same for both backends except where the MariaDB
 * column collation (utf8mb4_general_ci, as a CHAPPS database usually has)
 * makes user and e-mail comparison case-insensitive; those rows carry one
 * expectation per backend.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <mysql.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "base/error.h"
#include "policydb/policydb.h"
#include "test_util.h"

#ifndef POLICYDB_TEST_MARIADB
#define POLICYDB_TEST_MARIADB 0
#endif
#ifndef SRCDIR
#define SRCDIR "."
#endif

#define PORT_FIRST 16510
#define PORT_LAST 16589
#define TIMEOUT_MS 1000
#define ERRSZ 512
#define NAME_LONG 129		/* one more than the longest user or e-mail */

static const bool mariadb = POLICYDB_TEST_MARIADB;
static char tmpdir[256];
static int server_port;		/* mariadbd's port */
static pid_t main_pid;
static bool server_started;
static int db_counter;

/* the database of the running test */
static struct config cfg;
static char db_path[512];
static char db_name[64];

/* ---- helpers ---------------------------------------------------------- */

/* elapsed_ms - milliseconds since t0 */
static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000L + (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* port_free - can 127.0.0.1:port be bound right now? */
static bool port_free(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
	bool ok;

	/* as mariadbd does: old TIME_WAIT connections do not make a port busy */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* bound_socket - a socket bound to a free port in our range; listening if asked */
static int bound_socket(bool listening, int *port_r)
{
	struct sockaddr_in sa;
	int port, fd;

	for (port = PORT_LAST; port >= PORT_FIRST; port--) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((unsigned short)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    (!listening || listen(fd, 16) == 0)) {
			*port_r = port;
			return fd;
		}
		close(fd);
	}
	ck_abort_msg("no free port in %d-%d", PORT_FIRST, PORT_LAST);
	return -1;
}

/* helper - run tests/mariadb-helper.sh with arguments; its exit status */
static int helper(const char *cmd, const char *dir, const char *port)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execl("/bin/sh", "sh", SRCDIR "/tests/mariadb-helper.sh", cmd, dir, port,
		      (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* cleanup - stop the server and remove the temporary directory (main process only) */
static void cleanup(void)
{
	char dir[300];

	if (getpid() != main_pid)
		return;
	if (server_started) {
		snprintf(dir, sizeof(dir), "%s/mariadb", tmpdir);
		helper("stop", dir, NULL);
		server_started = false;
	}
	test_rmtree(tmpdir);
	tmpdir[0] = '\0';
}

/* on_signal - clean up on SIGINT/SIGTERM */
static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* admin_connect - a plain Connector/C connection as the test user (db may be NULL) */
static MYSQL *admin_connect(const char *db)
{
	MYSQL *my = mysql_init(NULL);
	unsigned int t = 5;

	ck_assert_ptr_nonnull(my);
	mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	if (mysql_real_connect(my, "127.0.0.1", "chapps", "chapps", db,
			       (unsigned int)server_port, NULL, 0) == NULL)
		ck_abort_msg("admin connect: %s", mysql_error(my));
	return my;
}

/* raw_sql - run SQL directly on the test database (no policydb) */
static void raw_sql(const char *sql)
{
	if (mariadb) {
		MYSQL *my = admin_connect(db_name);

		if (mysql_query(my, sql) != 0)
			ck_abort_msg("%s: %s", sql, mysql_error(my));
		mysql_close(my);
	} else {
		sqlite3 *h;
		char *msg = NULL;

		ck_assert_int_eq(sqlite3_open(db_path, &h), SQLITE_OK);
		if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
			ck_abort_msg("%s: %s", sql, msg);
		sqlite3_close(h);
	}
}

/* raw_count - the integer the query (one row, one column) returns, bypassing policydb */
static long raw_count(const char *sql)
{
	long n = -1;

	if (mariadb) {
		MYSQL *my = admin_connect(db_name);
		MYSQL_RES *res;
		MYSQL_ROW row;

		if (mysql_query(my, sql) != 0)
			ck_abort_msg("%s: %s", sql, mysql_error(my));
		res = mysql_store_result(my);
		ck_assert_ptr_nonnull(res);
		row = mysql_fetch_row(res);
		ck_assert_ptr_nonnull(row);
		n = strtol(row[0], NULL, 10);
		mysql_free_result(res);
		mysql_close(my);
	} else {
		sqlite3 *h;
		sqlite3_stmt *st;

		ck_assert_int_eq(sqlite3_open(db_path, &h), SQLITE_OK);
		if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
			ck_abort_msg("%s: %s", sql, sqlite3_errmsg(h));
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(h);
	}
	return n;
}

/* fresh_config - point cfg at a new, empty database (created for MariaDB) */
static void fresh_config(void)
{
	memset(&cfg, 0, sizeof(cfg));
	db_counter++;
	cfg.policydb_timeout_ms = TIMEOUT_MS;
	cfg.policydb_cache_ttl = 0;
	if (mariadb) {
		char sql[128];
		MYSQL *my = admin_connect(NULL);

		snprintf(db_name, sizeof(db_name), "chapps_%ld_%d", (long)getpid(), db_counter);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db_name);
		if (mysql_query(my, sql) != 0)
			ck_abort_msg("%s: %s", sql, mysql_error(my));
		mysql_close(my);
		cfg.policydb_backend = POLICYDB_BACKEND_MARIADB;
		cfg.policydb_host = (char *)"127.0.0.1";
		cfg.policydb_port = server_port;
		cfg.policydb_name = db_name;
		cfg.policydb_user = (char *)"chapps";
		cfg.policydb_password = (char *)"chapps";
	} else {
		snprintf(db_path, sizeof(db_path), "%s/db-%ld-%d/policy.db", tmpdir,
			 (long)getpid(), db_counter);
		cfg.policydb_backend = POLICYDB_BACKEND_SQLITE;
		cfg.policydb_path = db_path;
	}
}

/* fresh - a new database with the schema, opened */
static struct policydb *fresh(void)
{
	struct policydb *db = NULL;
	char err[ERRSZ] = "";

	fresh_config();
	if (policydb_open(&cfg, true, &db, err, sizeof(err)) != 0)
		ck_abort_msg("open: %s", err);
	ck_assert_ptr_nonnull(db);
	if (policydb_setup(db, err, sizeof(err)) != POLICYDB_OK)
		ck_abort_msg("setup: %s", err);
	return db;
}

/* Rows collected by collect_fn, "a|b|c" per row, joined with ";". */
struct rows {
	char text[4096];
	int n;
};

/* collect_fn - append a row to struct rows */
static int collect_fn(void *ctx, int ncols, const char *const *cols)
{
	struct rows *r = ctx;
	size_t len = strlen(r->text);
	int i;

	if (r->n > 0)
		len += (size_t)snprintf(r->text + len, sizeof(r->text) - len, ";");
	for (i = 0; i < ncols && len < sizeof(r->text); i++)
		len += (size_t)snprintf(r->text + len, sizeof(r->text) - len, "%s%s",
					i > 0 ? "|" : "", cols[i] ? cols[i] : "NULL");
	r->n++;
	return 0;
}

/* expect - assert a status, showing the error message */
#define EXPECT(call, want)                                                             \
	do {                                                                           \
		char err_[ERRSZ] = "";                                                 \
		int got_ = (call);                                                     \
		ck_assert_msg(got_ == (want), "%s: got %d, want %d (%s)", #call, got_, \
			      (int)(want), err_);                                      \
	} while (0)
/* the calls in EXPECT use err_ as their buffer */
#define E err_, sizeof(err_)

/* list - the rows of a list function as one string */
#define LIST(call_with_fn)                                                     \
	({                                                                     \
		static struct rows r_;                                         \
		char err_[ERRSZ] = "";                                         \
		int rc_;                                                       \
		memset(&r_, 0, sizeof(r_));                                    \
		rc_ = call_with_fn;                                            \
		ck_assert_msg(rc_ == POLICYDB_OK, "%s: got %d, want 0 (%s)", \
			      #call_with_fn, rc_, err_);                       \
		r_.text;                                                       \
	})
#define ROWS collect_fn, &r_, err_, sizeof(err_)

#define ck_assert_rows(got, want) \
	ck_assert_msg(strcmp((got), (want)) == 0, "got \"%s\", want \"%s\"", (got), (want))

/* quota_of - user's quota, or -1 for NOTFOUND (any error fails) */
static long quota_of(struct policydb *db, const char *user)
{
	char err[ERRSZ] = "";
	long q = -2;
	int rc = policydb_user_quota(db, user, &q, err, sizeof(err));

	if (rc == POLICYDB_NOTFOUND)
		return -1;
	ck_assert_msg(rc == POLICYDB_OK, "user_quota(%s): got %d (%s)", user, rc, err);
	return q;
}

/* has_link - a user_domain/user_email look-up as a bool (errors fail) */
static bool has_link(int (*look_up)(struct policydb *, const char *, const char *, bool *, char *,
				    size_t),
		     const char *what, struct policydb *db, const char *user, const char *name)
{
	char err[ERRSZ] = "";
	bool linked = true;
	int rc = look_up(db, user, name, &linked, err, sizeof(err));

	ck_assert_msg(rc == POLICYDB_OK, "%s(%s, %s): got %d (%s)", what, user, name, rc, err);
	return linked;
}

/* has_domain, has_email - policydb_user_domain, policydb_user_email as a bool */
#define has_domain(db, user, domain) has_link(policydb_user_domain, "user_domain", db, user, domain)
#define has_email(db, user, email) has_link(policydb_user_email, "user_email", db, user, email)

/* ---- setup and open ------------------------------------------------------ */

START_TEST(test_setup_idempotent)
{
	struct policydb *db = fresh();

	EXPECT(policydb_setup(db, E), POLICYDB_OK);
	EXPECT(policydb_user_add(db, "alice", E), POLICYDB_OK);
	EXPECT(policydb_setup(db, E), POLICYDB_OK);
	EXPECT(policydb_check(db, E), POLICYDB_OK);
	ck_assert_rows(LIST(policydb_user_list(db, ROWS)), "alice|NULL|NULL");
	policydb_close(&db);
	ck_assert_ptr_null(db);
	policydb_close(&db);	/* NULL is fine */

	/* reopen without create: the data is there */
	{
		char err[ERRSZ] = "";

		ck_assert_int_eq(policydb_open(&cfg, false, &db, err, sizeof(err)), 0);
		EXPECT(policydb_setup(db, E), POLICYDB_OK);
		ck_assert_rows(LIST(policydb_user_list(db, ROWS)), "alice|NULL|NULL");
		policydb_close(&db);
	}
}
END_TEST

START_TEST(test_check_without_schema)
{
	struct policydb *db = NULL;
	char err[ERRSZ] = "";

	fresh_config();
	ck_assert_int_eq(policydb_open(&cfg, true, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_check(db, err, sizeof(err)), POLICYDB_ERROR);
	ck_assert_msg(strstr(err, "db-setup") != NULL, "got \"%s\", want a db-setup hint", err);
	EXPECT(policydb_user_quota(db, "alice", &(long){ 0 }, E), POLICYDB_ERROR);
	policydb_close(&db);
}
END_TEST

START_TEST(test_open_missing_file)
{
	struct policydb *db = NULL;
	char err[ERRSZ] = "";
	char path[600];
	struct stat sb;
	mode_t mask;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(path, sizeof(path), "%s/missing-%ld/sub/policy.db", tmpdir, (long)getpid());
	cfg.policydb_backend = POLICYDB_BACKEND_SQLITE;
	cfg.policydb_path = path;
	cfg.policydb_timeout_ms = TIMEOUT_MS;

	ck_assert_int_eq(policydb_open(&cfg, false, &db, err, sizeof(err)), -1);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, path) != NULL, "got \"%s\", want the path", err);
	ck_assert_msg(strstr(err, "chapps-cli admin db-setup") != NULL,
		      "got \"%s\", want the db-setup hint", err);

	/* create=true makes the directories (0750) and the file */
	ck_assert_int_eq(policydb_open(&cfg, true, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	*strrchr(path, '/') = '\0';
	ck_assert_int_eq(stat(path, &sb), 0);
	mask = umask(0);
	umask(mask);
	ck_assert_msg((sb.st_mode & 07777) == (0750 & ~mask),
		      "directory mode got %o, want %o (0750 less the umask)",
		      (unsigned)(sb.st_mode & 07777), (unsigned)(0750 & ~mask));
	policydb_close(&db);

	/* a file that is not a database fails at open, naming the file */
	snprintf(path, sizeof(path), "%s/garbage-%ld.db", tmpdir, (long)getpid());
	{
		FILE *f = fopen(path, "w");

		ck_assert_ptr_nonnull(f);
		fputs("this is not an SQLite database, not even close; 0123456789abcdef\n", f);
		fclose(f);
	}
	ck_assert_int_eq(policydb_open(&cfg, false, &db, err, sizeof(err)), -1);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, path) != NULL && strstr(err, "not a database") != NULL,
		      "got \"%s\", want the path and \"not a database\"", err);
}
END_TEST

/* the class (base/error.h) a failing call recorded for error_class_last() */
#define ck_assert_class(want)                                                          \
	ck_assert_msg(error_class_last() == (want), "class got %s, want %s",           \
		      error_class_name(error_class_last()), error_class_name(want))

/* every kind of failure carries its class: configuration, bad input */
START_TEST(test_error_classes)
{
	struct policydb *db = NULL;
	char err[ERRSZ] = "", longname[NAME_LONG + 1];

	fresh_config();
	ck_assert_int_eq(policydb_open(&cfg, true, &db, err, sizeof(err)), 0);
	/* no schema yet: the database cannot work as configured */
	error_class_set(ERROR_NONE);
	EXPECT(policydb_check(db, E), POLICYDB_ERROR);
	ck_assert_class(ERROR_CONFIG);
	error_class_set(ERROR_NONE);
	EXPECT(policydb_user_quota(db, "alice", &(long){ 0 }, E), POLICYDB_ERROR);
	ck_assert_class(ERROR_CONFIG);
	EXPECT(policydb_setup(db, E), POLICYDB_OK);

	/* arguments the admin functions refuse */
	error_class_set(ERROR_NONE);
	EXPECT(policydb_quota_add(db, "neg", -1, E), POLICYDB_ERROR);
	ck_assert_class(ERROR_INPUT);
	error_class_set(ERROR_NONE);
	EXPECT(policydb_user_add(db, "", E), POLICYDB_ERROR);
	ck_assert_class(ERROR_INPUT);
	memset(longname, 'x', NAME_LONG);
	longname[NAME_LONG] = '\0';
	error_class_set(ERROR_NONE);
	EXPECT(policydb_email_add(db, longname, E), POLICYDB_ERROR);
	ck_assert_class(ERROR_INPUT);
	error_class_set(ERROR_NONE);
	EXPECT(policydb_domain_set_flag(db, "a.example", "nope", true, E), POLICYDB_ERROR);
	ck_assert_class(ERROR_INPUT);
	policydb_close(&db);

	/* a backend that does not exist */
	cfg.policydb_backend = 99;
	error_class_set(ERROR_NONE);
	ck_assert_int_eq(policydb_open(&cfg, false, &db, err, sizeof(err)), -1);
	ck_assert_class(ERROR_CONFIG);
}
END_TEST

/* ---- quotas, users, domains, e-mails -------------------------------------- */

START_TEST(test_quotas)
{
	struct policydb *db = fresh();
	char longname[40];

	EXPECT(policydb_quota_add(db, "10eph", 240, E), POLICYDB_OK);
	EXPECT(policydb_quota_add(db, "50eph", 1200, E), POLICYDB_OK);
	EXPECT(policydb_quota_add(db, "10eph", 999, E), POLICYDB_EXISTS);
	/* CHAPPS: quotas.quota is unique */
	EXPECT(policydb_quota_add(db, "bulk", 1200, E), POLICYDB_EXISTS);
	{
		char err[ERRSZ] = "";

		policydb_quota_add(db, "bulk", 1200, err, sizeof(err));
		ck_assert_msg(strstr(err, "50eph") != NULL, "got \"%s\", want it to name 50eph",
			      err);
	}
	EXPECT(policydb_quota_add(db, "neg", -1, E), POLICYDB_ERROR);
	EXPECT(policydb_quota_add(db, "", 5, E), POLICYDB_ERROR);
	memset(longname, 'q', 33);
	longname[33] = '\0';
	EXPECT(policydb_quota_add(db, longname, 5, E), POLICYDB_ERROR);
	longname[32] = '\0';
	EXPECT(policydb_quota_add(db, longname, 5, E), POLICYDB_OK);
	EXPECT(policydb_quota_del(db, longname, E), POLICYDB_OK);

	ck_assert_rows(LIST(policydb_quota_list(db, ROWS)), "10eph|240;50eph|1200");
	EXPECT(policydb_quota_del(db, "10eph", E), POLICYDB_OK);
	EXPECT(policydb_quota_del(db, "10eph", E), POLICYDB_NOTFOUND);
	ck_assert_rows(LIST(policydb_quota_list(db, ROWS)), "50eph|1200");
	/* the value is free again */
	EXPECT(policydb_quota_add(db, "again", 240, E), POLICYDB_OK);
	policydb_close(&db);
}
END_TEST

START_TEST(test_users)
{
	struct policydb *db = fresh();

	EXPECT(policydb_user_add(db, "bob", E), POLICYDB_OK);
	EXPECT(policydb_user_add(db, "alice", E), POLICYDB_OK);
	EXPECT(policydb_user_add(db, "alice", E), POLICYDB_EXISTS);
	EXPECT(policydb_user_add(db, "", E), POLICYDB_ERROR);
	ck_assert_rows(LIST(policydb_user_list(db, ROWS)), "alice|NULL|NULL;bob|NULL|NULL");
	ck_assert_rows(LIST(policydb_user_get(db, "bob", ROWS)), "bob|NULL|NULL");
	EXPECT(policydb_user_get(db, "carol", NULL, NULL, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_user_del(db, "bob", E), POLICYDB_OK);
	EXPECT(policydb_user_del(db, "bob", E), POLICYDB_NOTFOUND);
	ck_assert_rows(LIST(policydb_user_list(db, ROWS)), "alice|NULL|NULL");
	policydb_close(&db);
}
END_TEST

START_TEST(test_set_quota_replaces)
{
	struct policydb *db = fresh();

	EXPECT(policydb_quota_add(db, "small", 10, E), POLICYDB_OK);
	EXPECT(policydb_quota_add(db, "big", 1000, E), POLICYDB_OK);
	EXPECT(policydb_user_add(db, "bob", E), POLICYDB_OK);
	ck_assert_int_eq(quota_of(db, "bob"), -1);	/* no quota yet */
	EXPECT(policydb_user_set_quota(db, "bob", "small", E), POLICYDB_OK);
	ck_assert_int_eq(quota_of(db, "bob"), 10);
	EXPECT(policydb_user_set_quota(db, "bob", "big", E), POLICYDB_OK);
	ck_assert_int_eq(quota_of(db, "bob"), 1000);
	EXPECT(policydb_user_set_quota(db, "bob", "big", E), POLICYDB_OK);
	ck_assert_rows(LIST(policydb_user_list(db, ROWS)), "bob|big|1000");
	EXPECT(policydb_user_set_quota(db, "nobody", "big", E), POLICYDB_NOTFOUND);
	EXPECT(policydb_user_set_quota(db, "bob", "huge", E), POLICYDB_NOTFOUND);
	{
		char err[ERRSZ] = "";

		policydb_user_set_quota(db, "bob", "huge", err, sizeof(err));
		ck_assert_msg(strstr(err, "huge") != NULL, "got \"%s\", want it to name huge",
			      err);
		policydb_user_set_quota(db, "nobody", "big", err, sizeof(err));
		ck_assert_msg(strstr(err, "nobody") != NULL,
			      "got \"%s\", want it to name nobody", err);
	}
	ck_assert_int_eq(quota_of(db, "bob"), 1000);
	policydb_close(&db);
}
END_TEST

START_TEST(test_domains)
{
	struct policydb *db = fresh();
	bool grey = true, spf = true;

	EXPECT(policydb_domain_add(db, "Example.COM", E), POLICYDB_OK);
	EXPECT(policydb_domain_add(db, "example.com", E), POLICYDB_EXISTS);
	EXPECT(policydb_domain_add(db, "b.example", E), POLICYDB_OK);
	ck_assert_rows(LIST(policydb_domain_list(db, ROWS)), "b.example|0|0;example.com|0|0");

	EXPECT(policydb_domain_flags(db, "example.com", &grey, &spf, E), POLICYDB_OK);
	ck_assert(!grey && !spf);
	EXPECT(policydb_domain_set_flag(db, "EXAMPLE.com", "greylist", true, E), POLICYDB_OK);
	EXPECT(policydb_domain_set_flag(db, "example.com", "greylist", true, E), POLICYDB_OK);
	EXPECT(policydb_domain_flags(db, "example.com", &grey, &spf, E), POLICYDB_OK);
	ck_assert_msg(grey && !spf, "got greylist=%d check_spf=%d, want 1 0", grey, spf);
	EXPECT(policydb_domain_set_flag(db, "example.com", "check_spf", true, E), POLICYDB_OK);
	EXPECT(policydb_domain_set_flag(db, "example.com", "greylist", false, E), POLICYDB_OK);
	EXPECT(policydb_domain_flags(db, "example.com", &grey, &spf, E), POLICYDB_OK);
	ck_assert_msg(!grey && spf, "got greylist=%d check_spf=%d, want 0 1", grey, spf);
	ck_assert_rows(LIST(policydb_domain_list(db, ROWS)), "b.example|0|0;example.com|0|1");

	EXPECT(policydb_domain_set_flag(db, "example.com", "greylist; DROP TABLE domains", true,
					E),
	       POLICYDB_ERROR);
	EXPECT(policydb_domain_set_flag(db, "nowhere.example", "greylist", true, E),
	       POLICYDB_NOTFOUND);
	EXPECT(policydb_domain_flags(db, "nowhere.example", &grey, &spf, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_domain_del(db, "EXAMPLE.COM", E), POLICYDB_OK);
	EXPECT(policydb_domain_del(db, "example.com", E), POLICYDB_NOTFOUND);
	ck_assert_rows(LIST(policydb_domain_list(db, ROWS)), "b.example|0|0");
	policydb_close(&db);
}
END_TEST

START_TEST(test_emails)
{
	struct policydb *db = fresh();

	EXPECT(policydb_email_add(db, "bob@example.com", E), POLICYDB_OK);
	EXPECT(policydb_email_add(db, "bob@example.com", E), POLICYDB_EXISTS);
	EXPECT(policydb_email_add(db, "alice@example.com", E), POLICYDB_OK);
	ck_assert_rows(LIST(policydb_email_list(db, ROWS)), "alice@example.com;bob@example.com");
	EXPECT(policydb_email_del(db, "bob@example.com", E), POLICYDB_OK);
	EXPECT(policydb_email_del(db, "bob@example.com", E), POLICYDB_NOTFOUND);
	ck_assert_rows(LIST(policydb_email_list(db, ROWS)), "alice@example.com");
	policydb_close(&db);
}
END_TEST

/* ---- links and look-ups --------------------------------------------------- */

/* populate - bob (quota 50), alice (no quota), links */
static struct policydb *populate(void)
{
	struct policydb *db = fresh();

	EXPECT(policydb_quota_add(db, "50eph", 50, E), POLICYDB_OK);
	EXPECT(policydb_user_add(db, "bob", E), POLICYDB_OK);
	EXPECT(policydb_user_add(db, "alice", E), POLICYDB_OK);
	EXPECT(policydb_user_set_quota(db, "bob", "50eph", E), POLICYDB_OK);
	EXPECT(policydb_domain_add(db, "example.com", E), POLICYDB_OK);
	EXPECT(policydb_domain_add(db, "other.example", E), POLICYDB_OK);
	EXPECT(policydb_email_add(db, "bob@other.example", E), POLICYDB_OK);
	EXPECT(policydb_link_domain(db, "bob", "example.com", true, E), POLICYDB_OK);
	EXPECT(policydb_link_email(db, "bob", "bob@other.example", true, E), POLICYDB_OK);
	return db;
}

START_TEST(test_links)
{
	struct policydb *db = populate();

	/* linking twice is fine */
	EXPECT(policydb_link_domain(db, "bob", "EXAMPLE.COM", true, E), POLICYDB_OK);
	EXPECT(policydb_link_email(db, "bob", "bob@other.example", true, E), POLICYDB_OK);
	ck_assert_rows(LIST(policydb_user_domains(db, "bob", ROWS)), "example.com");
	ck_assert_rows(LIST(policydb_user_emails(db, "bob", ROWS)), "bob@other.example");
	ck_assert_rows(LIST(policydb_user_domains(db, "alice", ROWS)), "");
	ck_assert_rows(LIST(policydb_domain_users(db, "Example.Com", ROWS)), "bob");
	EXPECT(policydb_user_domains(db, "carol", NULL, NULL, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_user_emails(db, "carol", NULL, NULL, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_domain_users(db, "nowhere.example", NULL, NULL, E), POLICYDB_NOTFOUND);

	/* missing objects */
	EXPECT(policydb_link_domain(db, "carol", "example.com", true, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_link_domain(db, "bob", "nowhere.example", true, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_link_email(db, "carol", "bob@other.example", true, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_link_email(db, "bob", "x@other.example", true, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_link_domain(db, "carol", "example.com", false, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_link_email(db, "bob", "x@other.example", false, E), POLICYDB_NOTFOUND);

	/* unlink, twice */
	EXPECT(policydb_link_domain(db, "bob", "example.com", false, E), POLICYDB_OK);
	EXPECT(policydb_link_domain(db, "bob", "example.com", false, E), POLICYDB_OK);
	ck_assert(!has_domain(db, "bob", "example.com"));
	EXPECT(policydb_link_email(db, "bob", "bob@other.example", false, E), POLICYDB_OK);
	ck_assert(!has_email(db, "bob", "bob@other.example"));
	ck_assert_rows(LIST(policydb_user_domains(db, "bob", ROWS)), "");
	policydb_close(&db);
}
END_TEST

/* A look-up and its answer; mariadb_want differs where the collation does. */
static const struct lookup_case {
	const char *name;
	enum { L_QUOTA, L_DOMAIN, L_EMAIL } kind;
	const char *user;
	const char *arg;
	long want;		/* quota (-1 NOTFOUND) or bool */
	long mariadb_want;
} lookup_cases[] = {
	{ "quota of bob", L_QUOTA, "bob", NULL, 50, 50 },
	{ "unknown user has no quota", L_QUOTA, "carol", NULL, -1, -1 },
	{ "user without quota", L_QUOTA, "alice", NULL, -1, -1 },
	{ "user name is not a pattern", L_QUOTA, "b%", NULL, -1, -1 },
	{ "user name case (collation)", L_QUOTA, "BOB", NULL, -1, 50 },
	{ "domain linked", L_DOMAIN, "bob", "example.com", 1, 1 },
	{ "domain case-insensitive", L_DOMAIN, "bob", "EXAMPLE.Com", 1, 1 },
	{ "domain not linked", L_DOMAIN, "bob", "other.example", 0, 0 },
	{ "domain of other user", L_DOMAIN, "alice", "example.com", 0, 0 },
	{ "domain unknown", L_DOMAIN, "bob", "nowhere.example", 0, 0 },
	{ "domain of unknown user", L_DOMAIN, "carol", "example.com", 0, 0 },
	{ "subdomain is not the domain", L_DOMAIN, "bob", "sub.example.com", 0, 0 },
	{ "email linked", L_EMAIL, "bob", "bob@other.example", 1, 1 },
	{ "email exact (collation)", L_EMAIL, "bob", "BOB@other.example", 0, 1 },
	{ "email not linked", L_EMAIL, "alice", "bob@other.example", 0, 0 },
	{ "email unknown", L_EMAIL, "bob", "bob@example.com", 0, 0 },
	{ "email is not a pattern", L_EMAIL, "bob", "%@other.example", 0, 0 },
};

START_TEST(test_lookups)
{
	const struct lookup_case *c = &lookup_cases[_i];
	struct policydb *db = populate();
	long want = mariadb ? c->mariadb_want : c->want, got = 0;

	switch (c->kind) {
	case L_QUOTA:
		got = quota_of(db, c->user);
		break;
	case L_DOMAIN:
		got = has_domain(db, c->user, c->arg);
		break;
	case L_EMAIL:
		got = has_email(db, c->user, c->arg);
		break;
	}
	ck_assert_msg(got == want, "%s: got %ld, want %ld", c->name, got, want);
	policydb_close(&db);
}
END_TEST

START_TEST(test_mixed_case_rows)
{
	/* a CHAPPS database may hold mixed-case domain names */
	struct policydb *db = populate();
	bool grey = false, spf = false;

	raw_sql("INSERT INTO domains (name, greylist, check_spf) VALUES ('mIxEd.Example', 1, 0)");
	EXPECT(policydb_domain_flags(db, "mixed.example", &grey, &spf, E), POLICYDB_OK);
	ck_assert_msg(grey && !spf, "got greylist=%d check_spf=%d, want 1 0", grey, spf);
	EXPECT(policydb_link_domain(db, "bob", "mixed.example", true, E), POLICYDB_OK);
	ck_assert(has_domain(db, "bob", "mixed.example"));
	ck_assert_rows(LIST(policydb_user_domains(db, "bob", ROWS)), "example.com;mIxEd.Example");
	EXPECT(policydb_domain_set_flag(db, "mixed.example", "check_spf", true, E), POLICYDB_OK);
	EXPECT(policydb_domain_flags(db, "MIXED.example", &grey, &spf, E), POLICYDB_OK);
	ck_assert(grey && spf);
	EXPECT(policydb_domain_del(db, "mixed.example", E), POLICYDB_OK);
	ck_assert(!has_domain(db, "bob", "mixed.example"));
	policydb_close(&db);
}
END_TEST

START_TEST(test_cascades)
{
	struct policydb *db = populate();

	/* deleting a quota cascades to quota_user: bob keeps existing, quota-less */
	ck_assert_int_eq(quota_of(db, "bob"), 50);
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM quota_user"), 1);
	EXPECT(policydb_quota_del(db, "50eph", E), POLICYDB_OK);
	ck_assert_int_eq(quota_of(db, "bob"), -1);
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM quota_user"), 0);
	ck_assert_rows(LIST(policydb_user_get(db, "bob", ROWS)), "bob|NULL|NULL");

	/* deleting a domain or e-mail removes its links */
	EXPECT(policydb_domain_del(db, "example.com", E), POLICYDB_OK);
	ck_assert(!has_domain(db, "bob", "example.com"));
	EXPECT(policydb_domain_add(db, "example.com", E), POLICYDB_OK);
	ck_assert(!has_domain(db, "bob", "example.com"));
	EXPECT(policydb_link_domain(db, "bob", "example.com", true, E), POLICYDB_OK);

	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM domain_user"), 1);

	/* deleting a user removes every link */
	EXPECT(policydb_quota_add(db, "again", 7, E), POLICYDB_OK);
	EXPECT(policydb_user_set_quota(db, "bob", "again", E), POLICYDB_OK);
	EXPECT(policydb_user_del(db, "bob", E), POLICYDB_OK);
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM domain_user"), 0);
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM email_user"), 0);
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM quota_user"), 0);
	ck_assert_rows(LIST(policydb_domain_users(db, "example.com", ROWS)), "");
	EXPECT(policydb_user_add(db, "bob", E), POLICYDB_OK);
	ck_assert(!has_domain(db, "bob", "example.com"));
	ck_assert(!has_email(db, "bob", "bob@other.example"));
	ck_assert_int_eq(quota_of(db, "bob"), -1);
	EXPECT(policydb_link_email(db, "bob", "bob@other.example", true, E), POLICYDB_OK);
	EXPECT(policydb_email_del(db, "bob@other.example", E), POLICYDB_OK);
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM email_user"), 0);
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM users"), 2);
	policydb_close(&db);
}
END_TEST

/* ---- SQL-shaped input is data ------------------------------------------- */

static const char *const evil_names[] = {
	"x' OR '1'='1",
	"a;DROP TABLE users",
	"'; DELETE FROM users; --",
	"\\' OR 1=1 -- ",
	"\" OR \"\"=\"",
	"bob' -- ",
};

START_TEST(test_injection)
{
	struct policydb *db = populate();
	const char *evil = evil_names[_i];
	char want[512];
	bool grey, spf;

	/* look-ups with the name find nothing (an injection would find bob) */
	ck_assert_int_eq(quota_of(db, evil), -1);
	ck_assert(!has_domain(db, evil, "example.com"));
	ck_assert(!has_domain(db, "bob", evil));
	ck_assert(!has_email(db, evil, "bob@other.example"));
	ck_assert(!has_email(db, "bob", evil));
	EXPECT(policydb_domain_flags(db, evil, &grey, &spf, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_user_del(db, evil, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_quota_del(db, evil, E), POLICYDB_NOTFOUND);

	/* stored and listed as given */
	EXPECT(policydb_user_add(db, evil, E), POLICYDB_OK);
	EXPECT(policydb_user_set_quota(db, evil, "50eph", E), POLICYDB_OK);
	ck_assert_int_eq(quota_of(db, evil), 50);
	snprintf(want, sizeof(want), "%s|50eph|50", evil);
	ck_assert_rows(LIST(policydb_user_get(db, evil, ROWS)), want);
	EXPECT(policydb_email_add(db, evil, E), POLICYDB_OK);
	EXPECT(policydb_link_email(db, evil, evil, true, E), POLICYDB_OK);
	ck_assert(has_email(db, evil, evil));
	ck_assert(!has_email(db, "bob", evil));

	/* every table and every other row is intact */
	EXPECT(policydb_check(db, E), POLICYDB_OK);
	ck_assert_int_eq(quota_of(db, "bob"), 50);
	ck_assert(has_domain(db, "bob", "example.com"));
	EXPECT(policydb_user_del(db, evil, E), POLICYDB_OK);
	ck_assert_rows(LIST(policydb_user_list(db, ROWS)), "alice|NULL|NULL;bob|50eph|50");
	policydb_close(&db);
}
END_TEST

/* ---- concurrency ----------------------------------------------------------- */

#define THREADS 8
#define ROUNDS 150

struct worker {
	struct policydb *db;
	int index;
	int errors;
	char first[ERRSZ];
};

/* worker_fail - record a wrong answer (threads do not call ck_assert) */
static void worker_fail(struct worker *w, const char *what, const char *err)
{
	if (w->errors++ == 0)
		snprintf(w->first, sizeof(w->first), "thread %d: %s: %s", w->index, what, err);
}

/* worker_main - look-ups with known answers, in a loop */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char user[32], other[32], domain[64], email[64], err[ERRSZ];
	long quota;
	bool yes, grey, spf;
	int round;

	snprintf(user, sizeof(user), "user%d", w->index);
	snprintf(other, sizeof(other), "user%d", (w->index + 1) % THREADS);
	snprintf(domain, sizeof(domain), "d%d.example", w->index);
	snprintf(email, sizeof(email), "u%d@mail.example", w->index);
	for (round = 0; round < ROUNDS; round++) {
		err[0] = '\0';
		if (policydb_user_quota(w->db, user, &quota, err, sizeof(err)) != POLICYDB_OK ||
		    quota != 100 + w->index)
			worker_fail(w, "user_quota", err);
		if (policydb_user_domain(w->db, user, domain, &yes, err, sizeof(err)) !=
			    POLICYDB_OK ||
		    !yes)
			worker_fail(w, "user_domain", err);
		if (policydb_user_domain(w->db, other, domain, &yes, err, sizeof(err)) !=
			    POLICYDB_OK ||
		    yes)
			worker_fail(w, "user_domain other", err);
		if (policydb_user_email(w->db, user, email, &yes, err, sizeof(err)) !=
			    POLICYDB_OK ||
		    !yes)
			worker_fail(w, "user_email", err);
		if (policydb_domain_flags(w->db, domain, &grey, &spf, err, sizeof(err)) !=
			    POLICYDB_OK ||
		    grey != (w->index % 2 == 0) || spf)
			worker_fail(w, "domain_flags", err);
	}
	return NULL;
}

/* writer_main - add and remove a scratch user while the readers run */
static void *writer_main(void *arg)
{
	struct worker *w = arg;
	char err[ERRSZ];
	int round;

	for (round = 0; round < ROUNDS / 3; round++) {
		err[0] = '\0';
		if (policydb_user_add(w->db, "scratch", err, sizeof(err)) != POLICYDB_OK)
			worker_fail(w, "user_add", err);
		if (policydb_user_del(w->db, "scratch", err, sizeof(err)) != POLICYDB_OK)
			worker_fail(w, "user_del", err);
	}
	return NULL;
}

START_TEST(test_concurrency)
{
	struct policydb *db = fresh();
	struct worker w[THREADS + 1];
	pthread_t t[THREADS + 1];
	char name[64], quota[32];
	int i;

	for (i = 0; i < THREADS; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		snprintf(quota, sizeof(quota), "q%d", i);
		EXPECT(policydb_user_add(db, name, E), POLICYDB_OK);
		EXPECT(policydb_quota_add(db, quota, 100 + i, E), POLICYDB_OK);
		EXPECT(policydb_user_set_quota(db, name, quota, E), POLICYDB_OK);
		snprintf(quota, sizeof(quota), "d%d.example", i);
		EXPECT(policydb_domain_add(db, quota, E), POLICYDB_OK);
		EXPECT(policydb_link_domain(db, name, quota, true, E), POLICYDB_OK);
		if (i % 2 == 0)
			EXPECT(policydb_domain_set_flag(db, quota, "greylist", true, E),
			       POLICYDB_OK);
		snprintf(quota, sizeof(quota), "u%d@mail.example", i);
		EXPECT(policydb_email_add(db, quota, E), POLICYDB_OK);
		EXPECT(policydb_link_email(db, name, quota, true, E), POLICYDB_OK);
	}
	for (i = 0; i <= THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].db = db;
		w[i].index = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, i < THREADS ? worker_main : writer_main,
						&w[i]),
				 0);
	}
	for (i = 0; i <= THREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i <= THREADS; i++)
		ck_assert_msg(w[i].errors == 0, "got %d wrong answers, want 0; first: %s",
			      w[i].errors, w[i].first);
	policydb_close(&db);
}
END_TEST

/* The pool: POLICYDB_POOL_MAX (16, see policydb.h) callers at once, no more. */
#define POOL_SIZE 16

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static int pool_entered;
static bool pool_release;

/* block_fn - row callback that holds its connection until released */
static int block_fn(void *ctx, int ncols, const char *const *cols)
{
	(void)ctx;
	(void)ncols;
	(void)cols;
	pthread_mutex_lock(&pool_lock);
	pool_entered++;
	pthread_cond_broadcast(&pool_cond);
	while (!pool_release)
		pthread_cond_wait(&pool_cond, &pool_lock);
	pthread_mutex_unlock(&pool_lock);
	return 1;
}

/* holder_main - list users through block_fn */
static void *holder_main(void *arg)
{
	struct worker *w = arg;
	char err[ERRSZ] = "";

	if (policydb_user_list(w->db, block_fn, NULL, err, sizeof(err)) != POLICYDB_OK)
		worker_fail(w, "user_list", err);
	return NULL;
}

START_TEST(test_pool_limit)
{
	struct policydb *db = populate();
	struct worker w[POOL_SIZE];
	pthread_t t[POOL_SIZE];
	struct timespec t0, deadline;
	char err[ERRSZ] = "";
	long ms, q;
	int i;

	pool_entered = 0;
	pool_release = false;
	for (i = 0; i < POOL_SIZE; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].db = db;
		w[i].index = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, holder_main, &w[i]), 0);
	}
	/* wait (bounded) until every holder sits on a connection */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	pthread_mutex_lock(&pool_lock);
	while (pool_entered < POOL_SIZE)
		if (pthread_cond_timedwait(&pool_cond, &pool_lock, &deadline) != 0)
			break;
	i = pool_entered;
	pthread_mutex_unlock(&pool_lock);
	ck_assert_msg(i == POOL_SIZE, "got %d holders, want %d", i, POOL_SIZE);

	/* one more caller waits timeout_ms for a connection, then fails */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(policydb_user_quota(db, "bob", &q, err, sizeof(err)), POLICYDB_ERROR);
	ms = elapsed_ms(&t0);
	ck_assert_msg(strstr(err, "busy") != NULL, "got \"%s\", want \"busy\"", err);
	ck_assert_class(ERROR_TEMPORARY);
	ck_assert_msg(ms >= TIMEOUT_MS - 100 && ms < TIMEOUT_MS + 1000,
		      "got %ld ms, want about %d", ms, TIMEOUT_MS);

	pthread_mutex_lock(&pool_lock);
	pool_release = true;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	for (i = 0; i < POOL_SIZE; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(w[i].errors == 0, "%s", w[i].first);
	}
	ck_assert_int_eq(quota_of(db, "bob"), 50);
	policydb_close(&db);
}
END_TEST

/* ---- backend-specific ------------------------------------------------------ */

START_TEST(test_sqlite_busy_timeout)
{
	struct policydb *db = populate();
	struct timespec t0;
	sqlite3 *h;
	long ms, q;

	/* another process-like connection holds the write lock */
	ck_assert_int_eq(sqlite3_open(db_path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

	/* readers go on (WAL) */
	EXPECT(policydb_user_quota(db, "bob", &q, E), POLICYDB_OK);
	ck_assert_int_eq(q, 50);

	/* a writer waits busy_timeout, then fails */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT(policydb_user_add(db, "carol", E), POLICYDB_ERROR);
	ms = elapsed_ms(&t0);
	ck_assert_msg(ms >= TIMEOUT_MS - 100 && ms < TIMEOUT_MS + 1000,
		      "got %ld ms, want about %d", ms, TIMEOUT_MS);

	ck_assert_int_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	EXPECT(policydb_user_add(db, "carol", E), POLICYDB_OK);
	policydb_close(&db);
}
END_TEST

START_TEST(test_sqlite_upgrade_first_revision)
{
	/* a CHAPPS database at Alembic revision ce81767cec26 (no domain flags) */
	struct policydb *db = NULL;
	char err[ERRSZ] = "";
	bool grey = true, spf = true;

	fresh_config();
	ck_assert_int_eq(policydb_open(&cfg, true, &db, err, sizeof(err)), 0);
	raw_sql("CREATE TABLE domains (id INTEGER NOT NULL, name VARCHAR(64) NOT NULL,"
		" CONSTRAINT pk_domains PRIMARY KEY (id));"
		"CREATE UNIQUE INDEX ix_domains_name ON domains (name);"
		"CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
		" CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));"
		"INSERT INTO alembic_version VALUES ('ce81767cec26');"
		"INSERT INTO domains (name) VALUES ('Old.Example')");
	EXPECT(policydb_domain_flags(db, "old.example", &grey, &spf, E), POLICYDB_ERROR);
	EXPECT(policydb_setup(db, E), POLICYDB_OK);
	EXPECT(policydb_domain_flags(db, "old.example", &grey, &spf, E), POLICYDB_OK);
	ck_assert(!grey && !spf);
	EXPECT(policydb_setup(db, E), POLICYDB_OK);
	policydb_close(&db);
}
END_TEST

START_TEST(test_mariadb_unreachable)
{
	struct policydb *db = NULL;
	char err[ERRSZ] = "";
	struct timespec t0;
	int port, fd;
	long ms, q;

	/* _i == 0: a closed port (bound, not listening); 1: a listener that never answers */
	fd = bound_socket(_i == 1, &port);
	memset(&cfg, 0, sizeof(cfg));
	cfg.policydb_backend = POLICYDB_BACKEND_MARIADB;
	cfg.policydb_host = (char *)"127.0.0.1";
	cfg.policydb_port = port;
	cfg.policydb_name = (char *)"chapps";
	cfg.policydb_user = (char *)"chapps";
	cfg.policydb_password = (char *)"s3cret-pw";
	cfg.policydb_timeout_ms = TIMEOUT_MS;
	ck_assert_int_eq(policydb_open(&cfg, false, &db, err, sizeof(err)), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT(policydb_user_quota(db, "bob", &q, E), POLICYDB_ERROR);
	ms = elapsed_ms(&t0);
	ck_assert_msg(ms < TIMEOUT_MS + 1000, "got %ld ms, want < %d", ms, TIMEOUT_MS + 1000);
	ck_assert_class(ERROR_TEMPORARY);	/* the server cannot be reached */
	EXPECT(policydb_check(db, E), POLICYDB_ERROR);
	policydb_user_quota(db, "bob", &q, err, sizeof(err));
	ck_assert_msg(strstr(err, "127.0.0.1") != NULL && strstr(err, "chapps@") != NULL,
		      "got \"%s\", want the server named", err);
	ck_assert_msg(strstr(err, "s3cret") == NULL, "got \"%s\", want no password", err);
	policydb_close(&db);
	close(fd);
}
END_TEST

START_TEST(test_mariadb_reconnect)
{
	struct policydb *db = populate();
	MYSQL *my;
	MYSQL_RES *res;
	MYSQL_ROW row;
	char sql[256];
	int killed = 0;

	ck_assert_int_eq(quota_of(db, "bob"), 50);	/* a pooled connection now exists */
	my = admin_connect(NULL);
	snprintf(sql, sizeof(sql),
		 "SELECT id FROM information_schema.processlist WHERE db = '%s'"
		 " AND id <> CONNECTION_ID()", db_name);
	ck_assert_int_eq(mysql_query(my, sql), 0);
	res = mysql_store_result(my);
	ck_assert_ptr_nonnull(res);
	while ((row = mysql_fetch_row(res)) != NULL) {
		snprintf(sql, sizeof(sql), "KILL CONNECTION %s", row[0]);
		ck_assert_msg(mysql_query(my, sql) == 0, "%s: %s", sql, mysql_error(my));
		killed++;
	}
	mysql_free_result(res);
	mysql_close(my);
	ck_assert_int_ge(killed, 1);

	/* the dead connection is dropped and the look-up retried on a new one */
	ck_assert_int_eq(quota_of(db, "bob"), 50);
	ck_assert(has_domain(db, "bob", "example.com"));
	policydb_close(&db);
}
END_TEST

START_TEST(test_mariadb_read_timeout)
{
	/* a query that blocks (table locked by another session) fails within the timeout */
	struct policydb *db = populate();
	struct timespec t0;
	MYSQL *my = admin_connect(db_name);
	long ms, q;

	ck_assert_int_eq(quota_of(db, "bob"), 50);
	ck_assert_msg(mysql_query(my, "LOCK TABLES users WRITE") == 0, "lock: %s",
		      mysql_error(my));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT(policydb_user_quota(db, "bob", &q, E), POLICYDB_ERROR);
	ms = elapsed_ms(&t0);
	ck_assert_msg(ms >= TIMEOUT_MS - 100 && ms < TIMEOUT_MS + 1000,
		      "got %ld ms, want about %d", ms, TIMEOUT_MS);
	mysql_close(my);	/* unlocks */
	ck_assert_int_eq(quota_of(db, "bob"), 50);
	policydb_close(&db);
}
END_TEST

/* ---- limits (issue 10): their tables, the migration, the look-ups ---------- */

/* limits_text - "id:kind:span:max,..." of n limits (ids as given) */
static const char *limits_text(const struct policydb_limit *l, size_t n)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char span[32];

		policydb_limit_span_text(l[i].span, span, sizeof(span));
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s:%s:%lld", i ? "," : "",
					policydb_limit_kind_name(l[i].kind), span, l[i].max);
	}
	return buf;
}

START_TEST(test_limits_migration)
{
	/* a CHAPPS database (or today's SQLite file): CHAPPS's tables only */
	struct policydb *db = fresh();
	struct policydb_limit l[POLICYDB_LIMITS_MAX], one;
	char name[64], err[ERRSZ] = "";
	size_t n = 99;
	long number = 0;

	EXPECT(policydb_quota_add(db, "cust", 500, E), POLICYDB_OK);
	EXPECT(policydb_user_add(db, "alice@c.example", E), POLICYDB_OK);
	EXPECT(policydb_user_set_quota(db, "alice@c.example", "cust", E), POLICYDB_OK);
	EXPECT(policydb_domain_add(db, "c.example", E), POLICYDB_OK);
	policydb_close(&db);
	raw_sql("DROP TABLE quota_limits");
	raw_sql("DROP TABLE domain_quotas");
	ck_assert_int_eq(policydb_open(&cfg, false, &db, err, sizeof(err)), 0);
	/* before the migration: CHAPPS's single limit, no extra limits, no error */
	ck_assert_int_eq(quota_of(db, "alice@c.example"), 500);
	EXPECT(policydb_user_limits(db, "alice@c.example", l, POLICYDB_LIMITS_MAX, &n, E),
	       POLICYDB_OK);
	ck_assert_uint_eq(n, 0);
	EXPECT(policydb_domain_quota(db, "c.example", true, name, sizeof(name), &number, l,
				     POLICYDB_LIMITS_MAX, &n, E), POLICYDB_NOTFOUND);
	/* db-setup adds the tables, leaves the rows alone, and may run again */
	EXPECT(policydb_setup(db, E), POLICYDB_OK);
	EXPECT(policydb_setup(db, E), POLICYDB_OK);
	ck_assert_int_eq(quota_of(db, "alice@c.example"), 500);
	ck_assert_rows(LIST(policydb_user_list(db, ROWS)), "alice@c.example|cust|500");
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM quota_limits"), 0);

	/* limits: add, list, delete */
	ck_assert_int_eq(policydb_limit_parse("messages", "1h", "100", &one, err, sizeof(err)), 0);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_OK);
	ck_assert_int_eq(policydb_limit_parse("distinct_recipients", "calendar:day", "40", &one,
					      err, sizeof(err)), 0);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_OK);
	ck_assert_int_eq(policydb_limit_parse("max_message_bytes", NULL, "10000000", &one, err,
					      sizeof(err)), 0);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_OK);
	EXPECT(policydb_limit_add(db, "nosuch", &one, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_user_limits(db, "alice@c.example", l, POLICYDB_LIMITS_MAX, &n, E),
	       POLICYDB_OK);
	ck_assert_str_eq(limits_text(l, n), "messages:3600:100,distinct_recipients:calendar:day:40,"
					    "max_message_bytes:message:10000000");
	EXPECT(policydb_limit_del(db, "cust", l[1].id, E), POLICYDB_OK);
	EXPECT(policydb_limit_del(db, "cust", l[1].id, E), POLICYDB_NOTFOUND);
	EXPECT(policydb_quota_limits(db, "cust", &number, l, POLICYDB_LIMITS_MAX, &n, E),
	       POLICYDB_OK);
	ck_assert_int_eq(number, 500);
	ck_assert_str_eq(limits_text(l, n), "messages:3600:100,max_message_bytes:message:10000000");

	/* domain default and pool */
	EXPECT(policydb_quota_add(db, "pool10k", 10000, E), POLICYDB_OK);
	EXPECT(policydb_domain_set_quota(db, "C.Example", "pool10k", true, E), POLICYDB_OK);
	EXPECT(policydb_domain_set_quota(db, "c.example", "cust", false, E), POLICYDB_OK);
	EXPECT(policydb_domain_set_quota(db, "nosuch.example", "cust", false, E),
	       POLICYDB_NOTFOUND);
	EXPECT(policydb_domain_quota(db, "c.example", true, name, sizeof(name), &number, l,
				     POLICYDB_LIMITS_MAX, &n, E), POLICYDB_OK);
	ck_assert_str_eq(name, "pool10k");
	ck_assert_int_eq(number, 10000);
	ck_assert_uint_eq(n, 0);
	EXPECT(policydb_domain_quota(db, "c.example", false, name, sizeof(name), &number, l,
				     POLICYDB_LIMITS_MAX, &n, E), POLICYDB_OK);
	ck_assert_str_eq(name, "cust");
	ck_assert_uint_eq(n, 2);
	ck_assert_rows(LIST(policydb_domain_quotas(db, ROWS)),
		       "c.example|0|cust;c.example|1|pool10k");
	EXPECT(policydb_domain_set_quota(db, "c.example", NULL, true, E), POLICYDB_OK);
	ck_assert_rows(LIST(policydb_domain_quotas(db, ROWS)), "c.example|0|cust");

	/* deleting the quota cascades to its limits and to the domain's default */
	EXPECT(policydb_quota_del(db, "cust", E), POLICYDB_OK);
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM quota_limits"), 0);
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM domain_quotas"), 0);
	policydb_close(&db);
}
END_TEST

/* overrides_text - "action/warn_at/mode" of each limit, "," between */
static const char *overrides_text(const struct policydb_limit *l, size_t n)
{
	static char buf[256];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *a = policydb_limit_action_name(l[i].action);
		const char *m = policydb_limit_mode_name(l[i].mode);

		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s/%d/%s", i ? "," : "",
					a ? a : "-", l[i].warn_at, m ? m : "-");
	}
	return buf;
}

START_TEST(test_limit_overrides)
{
	/* issue 11: action, warn_at, mode per limit; a quota_limits without them keeps working */
	struct policydb *db = fresh();
	struct policydb_limit l[POLICYDB_LIMITS_MAX], one;
	char err[ERRSZ] = "";
	size_t n = 99;
	long number = 0;

	EXPECT(policydb_quota_add(db, "cust", 500, E), POLICYDB_OK);
	EXPECT(policydb_user_add(db, "alice@c.example", E), POLICYDB_OK);
	EXPECT(policydb_user_set_quota(db, "alice@c.example", "cust", E), POLICYDB_OK);
	ck_assert_int_eq(policydb_limit_parse("messages", "1h", "100", &one, err, sizeof(err)), 0);
	ck_assert_int_eq(one.action, POLICYDB_ACTION_DEFAULT);
	ck_assert_int_eq(one.warn_at, POLICYDB_WARN_DEFAULT);
	ck_assert_int_eq(one.mode, POLICYDB_MODE_DEFAULT);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_OK);
	ck_assert_int_eq(policydb_limit_overrides("lock", "80", "monitor", &one, err, sizeof(err)),
			 0);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_OK);
	ck_assert_int_eq(policydb_limit_overrides("quarantine", "0", "enforce", &one, err,
						  sizeof(err)), 0);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_OK);
	ck_assert_int_eq(policydb_limit_overrides("tempfail", "default", NULL, &one, err,
						  sizeof(err)), 0);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_OK);
	EXPECT(policydb_user_limits(db, "alice@c.example", l, POLICYDB_LIMITS_MAX, &n, E),
	       POLICYDB_OK);
	ck_assert_str_eq(overrides_text(l, n),
			 "-/-1/-,lock/80/monitor,quarantine/0/enforce,tempfail/-1/-");
	EXPECT(policydb_quota_limits(db, "cust", &number, l, POLICYDB_LIMITS_MAX, &n, E),
	       POLICYDB_OK);
	ck_assert_str_eq(overrides_text(l, n),
			 "-/-1/-,lock/80/monitor,quarantine/0/enforce,tempfail/-1/-");
	ck_assert_int_eq(raw_count("SELECT COUNT(*) FROM quota_limits WHERE action IS NULL"
				   " AND warn_at IS NULL AND mode IS NULL"), 1);
	/* an override another tool wrote that is not understood: the default, the limit holds */
	raw_sql("UPDATE quota_limits SET action = 'explode', mode = 'loud' WHERE action = 'lock'");
	EXPECT(policydb_user_limits(db, "alice@c.example", l, POLICYDB_LIMITS_MAX, &n, E),
	       POLICYDB_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(overrides_text(l, n),
			 "-/-1/-,-/80/-,quarantine/0/enforce,tempfail/-1/-");

	/* the bad texts */
	ck_assert_int_eq(policydb_limit_overrides("hold", NULL, NULL, &one, err, sizeof(err)), -1);
	ck_assert_int_eq(policydb_limit_overrides(NULL, "100", NULL, &one, err, sizeof(err)), -1);
	ck_assert_int_eq(policydb_limit_overrides(NULL, "-1", NULL, &one, err, sizeof(err)), -1);
	ck_assert_int_eq(policydb_limit_overrides(NULL, "8x", NULL, &one, err, sizeof(err)), -1);
	ck_assert_int_eq(policydb_limit_overrides(NULL, NULL, "test", &one, err, sizeof(err)), -1);

	/* a quota_limits of issue 10 (no override columns): every limit, the defaults */
	policydb_close(&db);
	raw_sql("ALTER TABLE quota_limits DROP COLUMN action");
	raw_sql("ALTER TABLE quota_limits DROP COLUMN warn_at");
	raw_sql("ALTER TABLE quota_limits DROP COLUMN mode");
	ck_assert_int_eq(policydb_open(&cfg, false, &db, err, sizeof(err)), 0);
	EXPECT(policydb_user_limits(db, "alice@c.example", l, POLICYDB_LIMITS_MAX, &n, E),
	       POLICYDB_OK);
	ck_assert_str_eq(limits_text(l, n), "messages:3600:100,messages:3600:100,"
					    "messages:3600:100,messages:3600:100");
	ck_assert_str_eq(overrides_text(l, n), "-/-1/-,-/-1/-,-/-1/-,-/-1/-");
	EXPECT(policydb_quota_limits(db, "cust", &number, l, POLICYDB_LIMITS_MAX, &n, E),
	       POLICYDB_OK);
	ck_assert_uint_eq(n, 4);
	/* a limit without overrides can be added; one with them needs db-setup first */
	ck_assert_int_eq(policydb_limit_parse("bytes", "1d", "5000", &one, err, sizeof(err)), 0);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_OK);
	ck_assert_int_eq(policydb_limit_overrides(NULL, "50", NULL, &one, err, sizeof(err)), 0);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_ERROR);
	ck_assert_int_eq(error_class_last(), ERROR_CONFIG);
	/* db-setup adds the columns (NULL: the defaults) and may run again */
	EXPECT(policydb_setup(db, E), POLICYDB_OK);
	EXPECT(policydb_setup(db, E), POLICYDB_OK);
	EXPECT(policydb_limit_add(db, "cust", &one, E), POLICYDB_OK);
	EXPECT(policydb_quota_limits(db, "cust", &number, l, POLICYDB_LIMITS_MAX, &n, E),
	       POLICYDB_OK);
	ck_assert_str_eq(overrides_text(l, n), "-/-1/-,-/-1/-,-/-1/-,-/-1/-,-/-1/-,-/50/-");
	policydb_close(&db);
}
END_TEST

START_TEST(test_limit_parse)
{
	struct policydb_limit l;
	char err[ERRSZ];

	ck_assert_int_eq(policydb_limit_parse("bytes", "30m", "5", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.span, 1800);
	ck_assert_int_eq(policydb_limit_parse("recipients", "2d", "5", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.span, 172800);
	ck_assert_int_eq(policydb_limit_parse("messages", "calendar:month", "5", &l, err,
					      sizeof(err)), 0);
	ck_assert_int_eq(l.span, POLICYDB_SPAN_MONTH);
	ck_assert_int_eq(policydb_limit_parse("parcels", "1h", "5", &l, err, sizeof(err)), -1);
	ck_assert_int_eq(policydb_limit_parse("messages", "0", "5", &l, err, sizeof(err)), -1);
	ck_assert_int_eq(policydb_limit_parse("messages", "1w", "5", &l, err, sizeof(err)), -1);
	ck_assert_int_eq(policydb_limit_parse("messages", "1h", "-5", &l, err, sizeof(err)), -1);
	ck_assert_int_eq(policydb_limit_parse("max_recipients_per_message", "1h", "5", &l, err,
					      sizeof(err)), -1);
}
END_TEST

/* ---- suite ------------------------------------------------------------------ */

/* tcase - a test case with a timeout fit for valgrind */
static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *make_suite(void)
{
	Suite *s = suite_create(mariadb ? "policydb-mariadb" : "policydb-sqlite");

	tcase_add_test(tcase(s, "setup"), test_setup_idempotent);
	tcase_add_test(tcase(s, "check"), test_check_without_schema);
	tcase_add_test(tcase(s, "error_classes"), test_error_classes);
	tcase_add_test(tcase(s, "quotas"), test_quotas);
	tcase_add_test(tcase(s, "users"), test_users);
	tcase_add_test(tcase(s, "set_quota"), test_set_quota_replaces);
	tcase_add_test(tcase(s, "domains"), test_domains);
	tcase_add_test(tcase(s, "emails"), test_emails);
	tcase_add_test(tcase(s, "links"), test_links);
	tcase_add_loop_test(tcase(s, "lookups"), test_lookups, 0,
			    (int)(sizeof(lookup_cases) / sizeof(lookup_cases[0])));
	tcase_add_test(tcase(s, "mixed_case"), test_mixed_case_rows);
	tcase_add_test(tcase(s, "cascades"), test_cascades);
	tcase_add_loop_test(tcase(s, "injection"), test_injection, 0,
			    (int)(sizeof(evil_names) / sizeof(evil_names[0])));
	tcase_add_test(tcase(s, "concurrency"), test_concurrency);
	tcase_add_test(tcase(s, "pool"), test_pool_limit);
	tcase_add_test(tcase(s, "limits_migration"), test_limits_migration);
	tcase_add_test(tcase(s, "limit_parse"), test_limit_parse);
	tcase_add_test(tcase(s, "limit_overrides"), test_limit_overrides);
	if (mariadb) {
		tcase_add_loop_test(tcase(s, "unreachable"), test_mariadb_unreachable, 0, 2);
		tcase_add_test(tcase(s, "reconnect"), test_mariadb_reconnect);
		tcase_add_test(tcase(s, "read_timeout"), test_mariadb_read_timeout);
	} else {
		tcase_add_test(tcase(s, "open_missing"), test_open_missing_file);
		tcase_add_test(tcase(s, "busy_timeout"), test_sqlite_busy_timeout);
		tcase_add_test(tcase(s, "upgrade"), test_sqlite_upgrade_first_revision);
	}
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed, rc, port, attempts = 0;
	char dir[300], portstr[16];

	main_pid = getpid();
	if (test_mkdtemp(tmpdir, sizeof(tmpdir), NULL, "check_policydb.XXXXXX") == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (mariadb) {
		/* a free port; if another program takes it first, the next one */
		snprintf(dir, sizeof(dir), "%s/mariadb", tmpdir);
		rc = -1;
		for (port = PORT_FIRST; port <= PORT_LAST && rc != 0; port++) {
			if (!port_free(port))
				continue;
			snprintf(portstr, sizeof(portstr), "%d", port);
			test_rmtree(dir);
			server_started = true;	/* stop even a half-started server */
			rc = helper("start", dir, portstr);
			if (rc == 77) {
				fprintf(stderr, "SKIP: mariadbd is not installed\n");
				return 77;
			}
			if (rc == 0)
				server_port = port;
			else
				fprintf(stderr, "cannot start mariadbd on port %d (helper exit %d)\n",
					port, rc);
			if (rc != 0 && ++attempts == 3)
				break;	/* not a port clash: give up */
		}
		if (rc != 0) {
			fprintf(stderr, "cannot start mariadbd in %d-%d\n", PORT_FIRST, PORT_LAST);
			return EXIT_FAILURE;
		}
		if (mysql_library_init(0, NULL, NULL) != 0)
			return EXIT_FAILURE;
	}

	sr = srunner_create(make_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (mariadb)
		mysql_library_end();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
