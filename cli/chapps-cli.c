/*
 * NAME
 *	chapps-cli - administer chapps's policy data and live state
 * SYNOPSIS
 *	chapps-cli [-c file] [--json] command [arguments]
 * DESCRIPTION
 *	The same configuration file as chapps-milter names the policy database
 *	(SQLite or MariaDB) and the state store (LMDB or Redis).  Commands keep
 *	CHAPPS's names (spec section 9.4) and add what CHAPPS left to its REST
 *	API.  Every change that affects a cached decision clears it at once:
 *	sender-domain decisions are cached in the store and deleted there;
 *	quota limits are cached inside the milter process, so a change signals
 *	the local milter (SIGUSR2 to the pid in milter.pidfile) to flush them.
 *	Other milter hosts of a farm pick a quota change up within
 *	policy_db.cache_ttl.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on a failed command (message on stderr), 2 on a
 *	usage error, 78 on a configuration error.
 */
#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "base/config.h"
#include "policy/greylist.h"
#include "policy/greylisting.h"
#include "policy/limits.h"
#include "policy/quota.h"
#include "policy/sender_domain_auth.h"
#include "policydb/policydb.h"
#include "store/store.h"
#include "base/xalloc.h"
#include "cli/api_token.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

struct cli {
	const char *config_path;
	struct config *cfg;
	struct policydb *db;
	struct store *store;
	bool store_tried;
	bool json;
	bool create;		/* --create */
	bool clear;		/* tally --clear */
	bool quota_flag;	/* show --quota */
	const char *quota_opt;	/* user add --quota Q */
	const char *enforce;	/* domain greylist/check-spf --enforce Y/N */
	const char *spread;	/* usage import --spread SECONDS */
	bool pool;		/* domain quota --pool */
	const char *top_limit;	/* top --limit N */
	const char *events_n;	/* events -n N */
	const char *action;	/* limit add --action A */
	const char *warn_at;	/* limit add --warn-at P */
	const char *mode;	/* limit add --mode M */
	char err[512];
};

/* ---- output ----------------------------------------------------------- */

/* fail - print a message and return 1 */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("chapps-cli: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* json_string - write s as a JSON string (NULL as null) */
static void json_string(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

struct table {
	int ncols;
	const char *const *names;
	char ***rows;
	size_t nrows;
};

/* table_row - policydb row callback: keep a copy */
static int table_row(void *ctx, int ncols, const char *const *cols)
{
	struct table *t = ctx;
	char **row = xcalloc((size_t)t->ncols, sizeof(*row));

	for (int i = 0; i < t->ncols && i < ncols; i++)
		row[i] = xstrdup(cols[i]);
	t->rows = xreallocarray(t->rows, t->nrows + 1, sizeof(*t->rows));
	t->rows[t->nrows++] = row;
	return 0;
}

/* table_free - free the copied rows */
static void table_free(struct table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
	}
	XFREE(t->rows);
	t->nrows = 0;
}

/* table_print - aligned columns for people, an array of objects for --json */
static void table_print(const struct cli *cli, const struct table *t)
{
	if (cli->json) {
		fputc('[', stdout);
		for (size_t r = 0; r < t->nrows; r++) {
			fputs(r ? ",{" : "{", stdout);
			for (int c = 0; c < t->ncols; c++) {
				if (c)
					fputc(',', stdout);
				json_string(stdout, t->names[c]);
				fputc(':', stdout);
				json_string(stdout, t->rows[r][c]);
			}
			fputc('}', stdout);
		}
		fputs("]\n", stdout);
		return;
	}
	size_t width[8] = { 0 };

	for (int c = 0; c < t->ncols; c++)
		width[c] = strlen(t->names[c]);
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			size_t n = t->rows[r][c] ? strlen(t->rows[r][c]) : 1;

			if (n > width[c])
				width[c] = n;
		}
	for (int c = 0; c < t->ncols; c++)
		printf("%-*s%s", c + 1 < t->ncols ? (int)width[c] : 0, t->names[c],
		       c + 1 < t->ncols ? "  " : "\n");
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++)
			printf("%-*s%s", c + 1 < t->ncols ? (int)width[c] : 0,
			       t->rows[r][c] ? t->rows[r][c] : "-", c + 1 < t->ncols ? "  " : "\n");
}

/* done - the success message of a change */
static int done(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int done(const struct cli *cli, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cli->json) {
		fputs("{\"ok\":true,\"message\":", stdout);
		json_string(stdout, msg);
		fputs("}\n", stdout);
	} else {
		puts(msg);
	}
	return 0;
}

/* ---- backends --------------------------------------------------------- */

/* db_status - turn a policydb status into an exit code with a message */
static int db_status(struct cli *cli, int st)
{
	if (st == POLICYDB_OK)
		return 0;
	return fail("%s", cli->err[0] ? cli->err : "policy database error");
}

/* open_db - the policy database (create for db-setup) */
static int open_db(struct cli *cli, bool create)
{
	if (cli->db != NULL)
		return 0;
	if (policydb_open(cli->cfg, create, &cli->db, cli->err, sizeof(cli->err)) < 0)
		return fail("%s", cli->err);
	return 0;
}

/* store_exists - is there any state yet (LMDB), or a server to ask (Redis)? */
static bool store_exists(const struct config *c)
{
	struct stat st;
	char *data;
	bool ok;

	if (c->store_backend != STORE_BACKEND_LMDB)
		return true;
	data = xasprintf("%s/data.mdb", c->store_path);
	ok = stat(data, &st) == 0;
	free(data);
	return ok;
}

/* get_store - the state store, or NULL when there is none (yet) */
static struct store *get_store(struct cli *cli, bool quiet)
{
	const char *err;

	if (cli->store_tried)
		return cli->store;
	cli->store_tried = true;
	if (!store_exists(cli->cfg))
		return NULL;
	if (store_open(cli->cfg, &cli->store, &err) < 0) {
		cli->store = NULL;
		if (!quiet)
			fprintf(stderr, "chapps-cli: warning: state store: %s\n", err);
	}
	return cli->store;
}

/* signal_milter - ask the local milter to flush its look-up caches */
static void signal_milter(struct cli *cli)
{
	FILE *f;
	long pid = 0;

	if (cli->cfg->milter_pidfile[0] == '\0')
		return;
	f = fopen(cli->cfg->milter_pidfile, "r");
	if (f == NULL)
		return;
	if (fscanf(f, "%ld", &pid) == 1 && pid > 1 && kill((pid_t)pid, SIGUSR2) < 0 &&
	    errno != ESRCH)
		fprintf(stderr, "chapps-cli: warning: cannot signal chapps-milter (pid %ld): %s\n",
			pid, strerror(errno));
	fclose(f);
}

/* sda_forget - delete the cached SDA decision of (user, kind, name) */
static void sda_forget(struct cli *cli, const char *user, char kind, const char *name)
{
	struct store *s = get_store(cli, true);
	char key[1024];
	const char *err;
	size_t klen;

	if (s == NULL)
		return;
	klen = sender_domain_auth_key(key, sizeof(key), user, kind, name);
	if (klen > 0 && store_cache_del(s, key, klen, &err) != STORE_OK)
		fprintf(stderr, "chapps-cli: warning: could not clear the cached decision: %s\n",
			err);
}

struct forget_ctx {
	struct cli *cli;
	char kind;
	const char *name;
};

/* forget_row - sda_forget for every user row */
static int forget_row(void *ctx, int ncols, const char *const *cols)
{
	struct forget_ctx *f = ctx;

	if (ncols > 0 && cols[0] != NULL)
		sda_forget(f->cli, cols[0], f->kind, f->name);
	return 0;
}

/* forget_everyone - clear (every user, kind, name) after name was deleted */
static void forget_everyone(struct cli *cli, char kind, const char *name)
{
	struct forget_ctx f = { cli, kind, name };

	(void)policydb_user_list(cli->db, forget_row, &f, cli->err, sizeof(cli->err));
}

/* lower - ASCII lower-case copy */
static char *lower(const char *s)
{
	char *c = xstrdup(s);

	for (char *p = c; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return c;
}

/* email_norm - an address with its domain lower-cased, as the milter looks it up */
static char *email_norm(const char *s)
{
	char *c = xstrdup(s), *at = strrchr(c, '@');

	for (char *p = at ? at : c + strlen(c); *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return c;
}

/* chown_to_milter - hand a file the milter must write to its user */
static void chown_to_milter(const struct config *c, const char *path)
{
	struct passwd *pw;
	gid_t gid;

	if (getuid() != 0 || c->milter_user[0] == '\0' || (pw = getpwnam(c->milter_user)) == NULL)
		return;
	gid = pw->pw_gid;
	if (c->milter_group[0] != '\0') {
		struct group *gr = getgrnam(c->milter_group);

		if (gr != NULL)
			gid = gr->gr_gid;
	}
	if (chown(path, pw->pw_uid, gid) < 0 && errno != ENOENT)
		fprintf(stderr, "chapps-cli: warning: chown %s: %s\n", path, strerror(errno));
}

/* make_store - the store, created when there is none yet (LMDB: files given to milter.user) */
static struct store *make_store(struct cli *cli, const char **err)
{
	const struct config *c = cli->cfg;
	bool fresh = !store_exists(c);

	if (cli->store_tried && cli->store != NULL)
		return cli->store;
	cli->store_tried = true;
	if (store_open(c, &cli->store, err) < 0) {
		cli->store = NULL;
		return NULL;
	}
	for (int i = 0; fresh && i < 2; i++) {
		char *path = xasprintf("%s/%s", c->store_path, i ? "lock.mdb" : "data.mdb");

		chown_to_milter(c, path);	/* the milter must write it */
		free(path);
	}
	return cli->store;
}

/* ---- commands ----------------------------------------------------------- */

/* cmd_db_setup - create the schema (and the state directory) */
static int cmd_db_setup(struct cli *cli)
{
	const struct config *c = cli->cfg;

	if (open_db(cli, true) != 0)
		return 1;
	if (policydb_setup(cli->db, cli->err, sizeof(cli->err)) != POLICYDB_OK)
		return fail("%s", cli->err);
	if (c->policydb_backend == POLICYDB_BACKEND_SQLITE) {
		char *dir = xstrdup(c->policydb_path), *slash = strrchr(dir, '/');
		static const char *const suffix[] = { "", "-wal", "-shm" };

		if (slash != NULL && slash != dir) {
			*slash = '\0';
			chown_to_milter(c, dir);
		}
		free(dir);
		for (int i = 0; i < 3; i++) {
			char *p = xasprintf("%s%s", c->policydb_path, suffix[i]);

			chown_to_milter(c, p);
			free(p);
		}
	}
	if (c->store_backend == STORE_BACKEND_LMDB) {
		if (mkdir(c->store_path, 0750) < 0 && errno != EEXIST)
			return fail("cannot create %s: %s", c->store_path, strerror(errno));
		chown_to_milter(c, c->store_path);
	}
	return done(cli, "policy database ready (%s)",
		    c->policydb_backend == POLICYDB_BACKEND_SQLITE ? c->policydb_path
								    : c->policydb_name);
}

/* parse_long - a non-negative integer argument */
static int parse_long(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return (errno != 0 || end == s || *end != '\0' || *v < 0) ? -1 : 0;
}

static int cmd_quota(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "name", "quota" };
	struct table t = { 2, names, NULL, 0 };
	long v;
	int st;

	if (argc >= 1 && strcmp(argv[0], "list") == 0 && argc == 1) {
		st = policydb_quota_list(cli->db, table_row, &t, cli->err, sizeof(cli->err));
		if (st == POLICYDB_OK)
			table_print(cli, &t);
		table_free(&t);
		return db_status(cli, st);
	}
	if (argc == 3 && strcmp(argv[0], "add") == 0) {
		if (parse_long(argv[2], &v) < 0 || v > 2147483647)
			return fail("quota limit must be a whole number 0..2147483647, not \"%s\"",
				    argv[2]);
		st = policydb_quota_add(cli->db, argv[1], v, cli->err, sizeof(cli->err));
		return db_status(cli, st) ? 1 : done(cli, "quota %s added: %ld", argv[1], v);
	}
	if (argc == 2 && strcmp(argv[0], "del") == 0) {
		st = policydb_quota_del(cli->db, argv[1], cli->err, sizeof(cli->err));
		if (db_status(cli, st))
			return 1;
		signal_milter(cli);
		return done(cli, "quota %s deleted (its users can no longer send)", argv[1]);
	}
	return fail("usage: quota add NAME LIMIT | quota list | quota del NAME") + 1;
}

struct name_list {
	char **names;
	size_t n;
};

/* list_row - collect the first column */
static int list_row(void *ctx, int ncols, const char *const *cols)
{
	struct name_list *l = ctx;

	if (ncols < 1 || cols[0] == NULL)
		return 0;
	l->names = xreallocarray(l->names, l->n + 1, sizeof(*l->names));
	l->names[l->n++] = xstrdup(cols[0]);
	return 0;
}

/* list_free - free collected names */
static void list_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	XFREE(l->names);
	l->n = 0;
}

static int cmd_user(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "name", "quota", "limit" };
	struct table t = { 3, names, NULL, 0 };
	int st;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		st = policydb_user_list(cli->db, table_row, &t, cli->err, sizeof(cli->err));
		if (st == POLICYDB_OK)
			table_print(cli, &t);
		table_free(&t);
		return db_status(cli, st);
	}
	if (argc == 2 && strcmp(argv[0], "add") == 0) {
		st = policydb_user_add(cli->db, argv[1], cli->err, sizeof(cli->err));
		if (db_status(cli, st))
			return 1;
		if (cli->quota_opt != NULL) {
			st = policydb_user_set_quota(cli->db, argv[1], cli->quota_opt, cli->err,
						     sizeof(cli->err));
			if (db_status(cli, st))
				return 1;
		}
		signal_milter(cli);
		return done(cli, "user %s added%s%s", argv[1], cli->quota_opt ? " with quota " : "",
			    cli->quota_opt ? cli->quota_opt : "");
	}
	if (argc == 2 && strcmp(argv[0], "del") == 0) {
		struct store *s;
		const char *err;

		struct name_list domains = { 0 }, emails = { 0 };

		/* the user's cached sender-domain decisions go with the user */
		(void)policydb_user_domains(cli->db, argv[1], list_row, &domains, cli->err,
					    sizeof(cli->err));
		(void)policydb_user_emails(cli->db, argv[1], list_row, &emails, cli->err,
					   sizeof(cli->err));
		st = policydb_user_del(cli->db, argv[1], cli->err, sizeof(cli->err));
		if (st == POLICYDB_OK) {
			for (size_t i = 0; i < domains.n; i++)
				sda_forget(cli, argv[1], SDA_KIND_DOMAIN, domains.names[i]);
			for (size_t i = 0; i < emails.n; i++)
				sda_forget(cli, argv[1], SDA_KIND_EMAIL, emails.names[i]);
		}
		list_free(&domains);
		list_free(&emails);
		if (db_status(cli, st))
			return 1;
		if ((s = get_store(cli, false)) != NULL)
			(void)store_quota_reset(s, argv[1], strlen(argv[1]), NULL, &err);
		signal_milter(cli);
		return done(cli, "user %s deleted", argv[1]);
	}
	return fail("usage: user add NAME [--quota QUOTA] | user del NAME | user list") + 1;
}

static int cmd_set_quota(struct cli *cli, int argc, char **argv)
{
	int st;

	if (argc != 2)
		return fail("usage: set-quota USER QUOTA") + 1;
	st = policydb_user_set_quota(cli->db, argv[0], argv[1], cli->err, sizeof(cli->err));
	if (db_status(cli, st))
		return 1;
	signal_milter(cli);
	return done(cli, "user %s now has quota %s", argv[0], argv[1]);
}

static void show_limits(struct cli *cli, const char *user);

/* print_list - a JSON array of strings */
static void print_list(const struct name_list *l)
{
	fputc('[', stdout);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fputc(',', stdout);
		json_string(stdout, l->names[i]);
	}
	fputc(']', stdout);
}

static int cmd_show(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "name", "quota", "limit" };
	struct table t = { 3, names, NULL, 0 };
	struct name_list domains = { 0 }, emails = { 0 };
	struct store_quota_state qs = { 0 };
	struct policydb_limit unused[POLICYDB_LIMITS_MAX];
	const char *at = strrchr(argv[0], '@');
	char dq_name[160], dq_err[256];
	bool have_usage = false, from_domain = false;
	long limit = -1;
	size_t n_unused;
	int st;

	if (argc != 1)
		return fail("usage: show USER [--quota]") + 1;
	st = policydb_user_get(cli->db, argv[0], table_row, &t, cli->err, sizeof(cli->err));
	/* no quota of the user's own: the domain's default, if any, is what the milter applies */
	if ((st == POLICYDB_NOTFOUND ||
	     (st == POLICYDB_OK && (t.nrows == 0 || t.rows[0][2] == NULL))) &&
	    at != NULL && at[1] != '\0' &&
	    policydb_domain_quota(cli->db, at + 1, false, dq_name, sizeof(dq_name), &limit, unused,
				  POLICYDB_LIMITS_MAX, &n_unused, dq_err,
				  sizeof(dq_err)) == POLICYDB_OK)
		from_domain = true;
	else
		limit = -1;
	if (st != POLICYDB_OK && !from_domain) {
		table_free(&t);
		return db_status(cli, st);
	}
	if (t.nrows == 1 && t.rows[0][2] != NULL)
		limit = atol(t.rows[0][2]);
	(void)policydb_user_domains(cli->db, argv[0], list_row, &domains, cli->err,
				    sizeof(cli->err));
	(void)policydb_user_emails(cli->db, argv[0], list_row, &emails, cli->err,
				   sizeof(cli->err));
	if (cli->quota_flag) {
		struct store *s = get_store(cli, false);
		struct store_quota_params p;
		const char *err;

		quota_store_params(cli->cfg, limit, &p);
		if (s != NULL && store_quota_usage(s, argv[0], strlen(argv[0]), &p,
						   (int64_t)time(NULL), &qs, &err) == STORE_OK)
			have_usage = true;
		else if (s != NULL)
			fprintf(stderr, "chapps-cli: warning: state store: %s\n", err);
		else
			have_usage = true;	/* no state yet: nothing used */
	}
	long remaining = limit >= 0 ? limit - (long)qs.committed - (long)qs.reserved : 0;
	char last[64] = "never";

	if (qs.last_send > 0) {
		time_t ls = (time_t)qs.last_send;
		struct tm tm;

		strftime(last, sizeof(last), "%d %b %Y %H:%M:%S %z", gmtime_r(&ls, &tm));
	}
	if (cli->json) {
		printf("{\"user\":");
		json_string(stdout, argv[0]);
		printf(",\"quota\":");
		json_string(stdout, from_domain ? dq_name : t.nrows ? t.rows[0][1] : NULL);
		if (from_domain) {
			printf(",\"default_of\":");
			json_string(stdout, at + 1);
		}
		printf(",\"limit\":");
		if (limit >= 0)
			printf("%ld", limit);
		else
			fputs("null", stdout);
		printf(",\"domains\":");
		print_list(&domains);
		printf(",\"emails\":");
		print_list(&emails);
		if (cli->quota_flag && have_usage)
			printf(",\"used\":%u,\"reserved\":%u,\"remaining\":%ld,\"last_send\":%lld",
			       qs.committed, qs.reserved, remaining, (long long)qs.last_send);
		/* show_limits adds ",\"limits\":[...]" and the closing brace */
		if (!cli->quota_flag)
			printf("}\n");
	} else {
		printf("user:     %s%s\n", argv[0],
		       st != POLICYDB_OK ? " (not in the policy database)" : "");
		if (from_domain)
			printf("quota:    %s (%ld per %d s), the default quota of %s\n", dq_name,
			       limit, cli->cfg->quota_interval, at + 1);
		else if (limit >= 0)
			printf("quota:    %s (%ld per %d s)\n", t.rows[0][1], limit,
			       cli->cfg->quota_interval);
		else
			printf("quota:    none (this user cannot send while quota is enforced)\n");
		printf("domains: ");
		for (size_t i = 0; i < domains.n; i++)
			printf(" %s", domains.names[i]);
		printf("%s\nemails:  ", domains.n ? "" : " none");
		for (size_t i = 0; i < emails.n; i++)
			printf(" %s", emails.names[i]);
		printf("%s\n", emails.n ? "" : " none");
		if (domains.n == 0 && emails.n == 0)
			printf("warning:  no domains or emails: sender_domain_auth refuses every "
			       "sender of this user\n");
		if (cli->quota_flag && have_usage) {
			printf("used:     %u (+%u reserved by messages in progress)\n", qs.committed,
			       qs.reserved);
			if (limit >= 0)
				printf("remaining: %ld\n", remaining);
			printf("last send: %s\n", last);
		}
	}
	if (cli->quota_flag)
		show_limits(cli, argv[0]);
	table_free(&t);
	list_free(&domains);
	list_free(&emails);
	return 0;
}

/* reset_limits - forget the usage of user's own extra limits (id 0 is store_quota_reset's) */
static int reset_limits(struct cli *cli, struct store *s, const char *user, const char **err)
{
	struct backends_limits l;
	struct store_limit limits[STORE_LIMITS_MAX];
	size_t n = 0, k = 0;

	if (backends_read_limits(cli->db, user, &l, cli->err, sizeof(cli->err)) != POLICYDB_OK)
		return STORE_OK;
	l.pool = false;		/* the pool is the domain's, not the user's */
	n = limits_build(cli->cfg, &l, user, NULL, (int64_t)time(NULL), limits, NULL);
	for (size_t i = 0; i < n; i++)
		if (limits[i].id != 0)
			limits[k++] = limits[i];
	return k > 0 ? store_limits_reset(s, limits, k, err) : STORE_OK;
}

static int cmd_reset(struct cli *cli, int argc, char **argv)
{
	struct store *s;
	const char *err;
	uint32_t dropped = 0;

	if (argc != 1)
		return fail("usage: reset USER") + 1;
	s = get_store(cli, false);
	if (s != NULL && store_quota_reset(s, argv[0], strlen(argv[0]), &dropped, &err) != STORE_OK)
		return fail("state store: %s", err);
	if (s != NULL && reset_limits(cli, s, argv[0], &err) != STORE_OK)
		return fail("state store: %s", err);
	signal_milter(cli);
	if (dropped == 0)
		return done(cli, "No attempts to reset for %s: 0 xmits dropped", argv[0]);
	return done(cli, "Attempts (quota) reset for %s: %u xmits dropped", argv[0], dropped);
}

static int cmd_refresh(struct cli *cli, int argc, char **argv)
{
	if (argc != 1)
		return fail("usage: refresh USER") + 1;
	signal_milter(cli);
	return done(cli, "quota of %s will be read from the database at the next message "
			 "(local milter signalled; other hosts within %d s)",
		    argv[0], cli->cfg->policydb_cache_ttl);
}

/* allow_one - link user and a domain or an address; create it with --create */
static int allow_one(struct cli *cli, const char *user, const char *what, bool link)
{
	bool email = strchr(what, '@') != NULL;
	char *name = email ? email_norm(what) : lower(what);
	int st;

	st = email ? policydb_link_email(cli->db, user, name, link, cli->err, sizeof(cli->err))
		   : policydb_link_domain(cli->db, user, name, link, cli->err, sizeof(cli->err));
	if (st == POLICYDB_NOTFOUND && link && cli->create) {
		st = email ? policydb_email_add(cli->db, name, cli->err, sizeof(cli->err))
			   : policydb_domain_add(cli->db, name, cli->err, sizeof(cli->err));
		if (st == POLICYDB_EXISTS)
			st = POLICYDB_OK;
		if (st == POLICYDB_OK)
			st = policydb_user_add(cli->db, user, cli->err, sizeof(cli->err));
		if (st == POLICYDB_EXISTS)
			st = POLICYDB_OK;
		if (st == POLICYDB_OK)
			st = email ? policydb_link_email(cli->db, user, name, true, cli->err,
							 sizeof(cli->err))
				   : policydb_link_domain(cli->db, user, name, true, cli->err,
							  sizeof(cli->err));
	}
	if (st == POLICYDB_OK)
		sda_forget(cli, user, email ? SDA_KIND_EMAIL : SDA_KIND_DOMAIN, name);
	free(name);
	return st;
}

static int cmd_allow(struct cli *cli, int argc, char **argv, bool link)
{
	int st;

	if (argc != 2)
		return fail(link ? "usage: allow USER DOMAIN_OR_EMAIL [--create]"
				 : "usage: deny USER DOMAIN_OR_EMAIL") + 1;
	st = allow_one(cli, argv[0], argv[1], link);
	if (db_status(cli, st))
		return 1;
	return done(cli, "%s %s %s", argv[0], link ? "may now send as" : "may no longer send as",
		    argv[1]);
}

static int cmd_domain_inbound(struct cli *cli, const char *verb, const char *arg);
static int cmd_domain_quota(struct cli *cli, int argc, char **argv);

/* cmd_names - domain/email add|del|list */
static int cmd_names(struct cli *cli, int argc, char **argv, bool email)
{
	static const char *const dnames[] = { "name", "greylist", "check_spf" };
	static const char *const enames[] = { "name" };
	struct table t = { email ? 1 : 3, email ? enames : dnames, NULL, 0 };
	const char *what = email ? "email" : "domain";
	int st;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		st = email ? policydb_email_list(cli->db, table_row, &t, cli->err, sizeof(cli->err))
			   : policydb_domain_list(cli->db, table_row, &t, cli->err,
						  sizeof(cli->err));
		if (st == POLICYDB_OK)
			table_print(cli, &t);
		table_free(&t);
		return db_status(cli, st);
	}
	if (argc == 2 && (strcmp(argv[0], "add") == 0 || strcmp(argv[0], "del") == 0)) {
		bool add = argv[0][0] == 'a';
		char *name = email ? email_norm(argv[1]) : lower(argv[1]);

		if (email && strchr(name, '@') == NULL) {
			free(name);
			return fail("\"%s\" is not an email address", argv[1]);
		}
		if (add)
			st = email ? policydb_email_add(cli->db, name, cli->err, sizeof(cli->err))
				   : policydb_domain_add(cli->db, name, cli->err, sizeof(cli->err));
		else
			st = email ? policydb_email_del(cli->db, name, cli->err, sizeof(cli->err))
				   : policydb_domain_del(cli->db, name, cli->err, sizeof(cli->err));
		if (st == POLICYDB_OK && !add) {
			forget_everyone(cli, email ? SDA_KIND_EMAIL : SDA_KIND_DOMAIN, name);
			if (!email)
				signal_milter(cli);	/* the domain's cached opt-in flags */
		}
		free(name);
		if (db_status(cli, st))
			return 1;
		return done(cli, "%s %s %s", what, argv[1], add ? "added" : "deleted");
	}
	if (!email && argc >= 1 && strcmp(argv[0], "quota") == 0)
		return cmd_domain_quota(cli, argc - 1, argv + 1);
	if (!email && argc == 2 &&
	    (strcmp(argv[0], "show") == 0 || strcmp(argv[0], "greylist") == 0 ||
	     strcmp(argv[0], "check-spf") == 0 || strcmp(argv[0], "flush") == 0))
		return cmd_domain_inbound(cli, argv[0], argv[1]);
	if (!email)
		return fail("usage: domain add|del|show|flush NAME | domain greylist|check-spf NAME "
			    "[--enforce yes|no] | domain list") + 1;
	return fail("usage: %s add NAME | %s del NAME | %s list", what, what, what) + 1;
}

/* domain_row - find one domain's row in the list */
struct domain_find {
	const char *name;
	char greylist[8], check_spf[8];
	bool found;
};

static int domain_row(void *ctx, int ncols, const char *const *cols)
{
	struct domain_find *f = ctx;

	if (ncols >= 3 && cols[0] != NULL && strcasecmp(cols[0], f->name) == 0) {
		snprintf(f->greylist, sizeof(f->greylist), "%s", cols[1] ? cols[1] : "0");
		snprintf(f->check_spf, sizeof(f->check_spf), "%s", cols[2] ? cols[2] : "0");
		f->found = true;
		return 1;
	}
	return 0;
}

/* cmd_domain_inbound - domain show|greylist|check-spf|flush DOMAIN */
static int cmd_domain_inbound(struct cli *cli, const char *verb, const char *arg)
{
	char *name = lower(arg);
	struct domain_find f = { .name = name };
	int st = POLICYDB_OK;

	if (strcmp(verb, "flush") == 0) {
		signal_milter(cli);
		free(name);
		return done(cli, "cached options of %s flushed (local milter signalled)", arg);
	}
	if (strcmp(verb, "greylist") == 0 || strcmp(verb, "check-spf") == 0) {
		bool on = true;

		if (cli->enforce != NULL) {
			if (strchr("yYtT1", cli->enforce[0]) != NULL)
				on = true;
			else if (strchr("nNfF0", cli->enforce[0]) != NULL)
				on = false;
			else {
				free(name);
				return fail("--enforce takes yes or no, not \"%s\"", cli->enforce);
			}
		}
		st = policydb_domain_set_flag(cli->db, name,
					      verb[0] == 'g' ? "greylist" : "check_spf", on,
					      cli->err, sizeof(cli->err));
		if (st == POLICYDB_OK)
			signal_milter(cli);
		free(name);
		return db_status(cli, st) ? 1
					  : done(cli, "%s: %s %s", arg, verb,
						 on ? "enforced" : "not enforced");
	}
	st = policydb_domain_list(cli->db, domain_row, &f, cli->err, sizeof(cli->err));
	free(name);
	if (db_status(cli, st))
		return 1;
	if (!f.found)
		return fail("no such domain: %s", arg);
	if (cli->json) {
		printf("{\"domain\":");
		json_string(stdout, arg);
		printf(",\"greylist\":%s,\"check_spf\":%s}\n",
		       strcmp(f.greylist, "0") ? "true" : "false",
		       strcmp(f.check_spf, "0") ? "true" : "false");
	} else {
		printf("domain:    %s\ngreylist:  %s\ncheck_spf: %s\n", arg,
		       strcmp(f.greylist, "0") ? "yes" : "no", strcmp(f.check_spf, "0") ? "yes" : "no");
	}
	return 0;
}

/* cmd_tally - tally IP [--clear]: greylisting passes of a client */
static int cmd_tally(struct cli *cli, int argc, char **argv)
{
	struct store *s;
	char client[64], key[128];
	const char *err;
	uint32_t count = 0;
	size_t klen;

	if (argc != 1)
		return fail("usage: tally IP [--clear]") + 1;
	if (greylist_client_key(argv[0], (unsigned)cli->cfg->grey_prefix_v4,
				(unsigned)cli->cfg->grey_prefix_v6, client, sizeof(client)) < 0)
		return fail("\"%s\" is not an IP address", argv[0]);
	klen = greylisting_tally_key(key, sizeof(key), client);
	s = get_store(cli, false);
	if (s != NULL && cli->clear) {
		if (store_greylist_tally_clear(s, key, klen, &err) != STORE_OK)
			return fail("state store: %s", err);
	}
	if (cli->clear)
		return done(cli, "tally of %s cleared", client);
	if (s != NULL &&
	    store_greylist_tally(s, key, klen, (int64_t)time(NULL), &count, &err) != STORE_OK)
		return fail("state store: %s", err);
	if (cli->json) {
		printf("{\"client\":");
		json_string(stdout, client);
		printf(",\"passes\":%u,\"threshold\":%d}\n", count,
		       cli->cfg->grey_whitelist_threshold);
		return 0;
	}
	printf("%s: %u passes in the last 24 h (auto-whitelist at %d)\n", client, count,
	       cli->cfg->grey_whitelist_threshold);
	return 0;
}

/* cmd_usage - usage import USER COUNT [--spread SECONDS]: usage sent elsewhere */
static int cmd_usage(struct cli *cli, int argc, char **argv)
{
	const struct config *c = cli->cfg;
	struct store_quota_params p;
	struct store_quota_state qs;
	const char *err = NULL;
	int64_t now = (int64_t)time(NULL);
	uint32_t buckets = 0;
	long count, spread = 0;

	if (argc != 3 || strcmp(argv[0], "import") != 0)
		return fail("usage: usage import USER COUNT [--spread SECONDS]") + 1;
	if (parse_long(argv[2], &count) < 0 || count > QUOTA_IMPORT_MAX)
		return fail("count must be a whole number 0..%d, not \"%s\"", QUOTA_IMPORT_MAX,
			    argv[2]);
	if (cli->spread != NULL && (parse_long(cli->spread, &spread) < 0 ||
				    spread > c->quota_interval))
		return fail("--spread must be a whole number of seconds 0..%d (quota.interval), "
			    "not \"%s\"",
			    c->quota_interval, cli->spread);
	/* unlike most commands, this one makes the LMDB store if there is none yet */
	if (make_store(cli, &err) == NULL)
		return fail("state store: %s", err);
	if (quota_import_usage(c, cli->store, argv[1], (uint32_t)count, (uint32_t)spread, now,
			       &buckets, &err) < 0)
		return fail("state store: %s", err);
	quota_store_params(c, 0, &p);
	if (store_quota_usage(cli->store, argv[1], strlen(argv[1]), &p, now, &qs, &err) != STORE_OK)
		return fail("state store: %s", err);
	return done(cli, "%ld unit(s) of usage imported for %s over %u bucket(s); used now %u",
		    count, argv[1], buckets, qs.committed);
}

static int cmd_import(struct cli *cli, int argc, char **argv)
{
	FILE *f;
	char line[2048];
	unsigned lineno = 0, ok = 0, bad = 0;

	if (argc != 1)
		return fail("usage: import-file FILE [--create]") + 1;
	f = strcmp(argv[0], "-") == 0 ? stdin : fopen(argv[0], "r");
	if (f == NULL)
		return fail("cannot open %s: %s", argv[0], strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *verb, *user, *res, *save = NULL;
		int st;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		verb = strtok_r(line, ":", &save);
		user = strtok_r(NULL, ":", &save);
		res = strtok_r(NULL, "", &save);
		if (verb == NULL || user == NULL || res == NULL || *res == '\0') {
			fprintf(stderr, "%s:%u: expected allow|deny|quota:USER:RESOURCE\n", argv[0],
				lineno);
			bad++;
			continue;
		}
		cli->err[0] = '\0';
		if (strcmp(verb, "allow") == 0)
			st = allow_one(cli, user, res, true);
		else if (strcmp(verb, "deny") == 0)
			st = allow_one(cli, user, res, false);
		else if (strcmp(verb, "quota") == 0)
			st = policydb_user_set_quota(cli->db, user, res, cli->err, sizeof(cli->err));
		else {
			snprintf(cli->err, sizeof(cli->err), "unknown verb \"%s\"", verb);
			st = POLICYDB_ERROR;
		}
		if (st != POLICYDB_OK) {
			fprintf(stderr, "%s:%u: %s\n", argv[0], lineno, cli->err);
			bad++;
		} else {
			ok++;
		}
	}
	if (f != stdin)
		fclose(f);
	signal_milter(cli);
	if (bad > 0)
		return fail("%u line(s) applied, %u failed", ok, bad);
	return done(cli, "%u line(s) applied", ok);
}

/* ---- limits (issue 10) ------------------------------------------------------ */

/* time_text - a UTC time, or "-" for 0 */
static void time_text(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0)
		snprintf(buf, size, "-");
	else
		strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&tt, &tm));
}

/* json_overrides - ,"action":...,"warn_at":...,"mode":... of a limit (null: the default) */
static void json_overrides(const struct policydb_limit *l)
{
	printf(",\"action\":");
	json_string(stdout, policydb_limit_action_name(l->action));
	if (l->warn_at >= 0)
		printf(",\"warn_at\":%d,\"mode\":", l->warn_at);
	else
		printf(",\"warn_at\":null,\"mode\":");
	json_string(stdout, policydb_limit_mode_name(l->mode));
}

/* overrides_text - " [action lock, warn at 80%, monitor]", or "" for a limit without overrides */
static void overrides_text(const struct policydb_limit *l, char *buf, size_t size)
{
	const char *a = policydb_limit_action_name(l->action);
	const char *m = policydb_limit_mode_name(l->mode);
	size_t len = 0;

	buf[0] = '\0';
	if (a != NULL)
		len += (size_t)snprintf(buf + len, size - len, "%saction %s", len ? ", " : " [", a);
	if (l->warn_at >= 0 && len < size)
		len += (size_t)snprintf(buf + len, size - len, "%swarn at %d%%", len ? ", " : " [",
					l->warn_at);
	if (m != NULL && len < size)
		len += (size_t)snprintf(buf + len, size - len, "%smode %s", len ? ", " : " [", m);
	if (len > 0 && len < size)
		snprintf(buf + len, size - len, "]");
}

/*
 * show_limits - show --quota: every limit of a user whose quota is more
 * than the CHAPPS single limit, with use, room and next_free (JSON: the
 * "limits" member and the object's closing brace)
 */
static void show_limits(struct cli *cli, const char *user)
{
	struct backends_limits l;
	struct store_limit limits[STORE_LIMITS_MAX];
	struct limits_entry entries[STORE_LIMITS_MAX];
	struct store_limit_state states[STORE_LIMITS_MAX];
	char pool_owner[LIMITS_OWNER_MAX], why[160], tz_err[160], nf[64], ov[80];
	const char *at = strrchr(user, '@'), *err = "";
	int64_t now = (int64_t)time(NULL);
	bool usage = false;
	size_t n = 0;

	memset(states, 0, sizeof(states));
	(void)limits_set_timezone(cli->cfg, tz_err, sizeof(tz_err));
	if (backends_read_limits(cli->db, user, &l, cli->err, sizeof(cli->err)) == POLICYDB_OK &&
	    (l.n > 0 || l.pool || l.from_domain))
		n = limits_build(cli->cfg, &l, user, pool_owner, now, limits, entries);
	if (n > 0) {
		struct store *s = get_store(cli, true);

		if (s == NULL)
			usage = true;	/* no state yet: nothing used */
		else if (store_limits_usage(s, limits, n, now, states, &err) == STORE_OK)
			usage = true;
		else
			fprintf(stderr, "chapps-cli: warning: state store: %s\n", err);
	}
	if (cli->json)
		printf(",\"limits\":[");
	else if (n > 0)
		printf("limits:%s\n", l.from_domain ? "   (the default quota of the domain)" : "");
	for (size_t i = 0; i < n; i++) {
		const struct limits_entry *e = &entries[i];
		long long room = (long long)limits[i].max - (long long)states[i].committed -
				 (long long)states[i].reserved;
		char span[32];

		limits_describe(cli->cfg, e, at ? at + 1 : NULL, why, sizeof(why));
		time_text(states[i].next_free, nf, sizeof(nf));
		policydb_limit_span_text(e->row.span, span, sizeof(span));
		if (cli->json) {
			printf("%s{\"id\":%ld,\"pool\":%s,\"kind\":", i ? "," : "",
			       e->base ? 0L : e->row.id, e->pool ? "true" : "false");
			json_string(stdout, policydb_limit_kind_name(e->row.kind));
			printf(",\"window\":");
			json_string(stdout, span);
			printf(",\"max\":%lld,\"text\":", e->row.max);
			json_string(stdout, why);
			json_overrides(&e->row);
			if (usage)
				printf(",\"use\":%llu,\"reserved\":%llu,\"room\":%lld,"
				       "\"next_free\":%lld",
				       (unsigned long long)states[i].committed,
				       (unsigned long long)states[i].reserved, room,
				       (long long)states[i].next_free);
			printf("}");
		} else if (usage) {
			overrides_text(&e->row, ov, sizeof(ov));
			printf("  %-40s used %llu (+%llu reserved), room %lld, next free %s%s\n",
			       why, (unsigned long long)states[i].committed,
			       (unsigned long long)states[i].reserved, room, nf, ov);
		} else {
			overrides_text(&e->row, ov, sizeof(ov));
			printf("  %s%s\n", why, ov);
		}
	}
	for (size_t i = 0; n > 0 && i < l.n; i++) {
		struct limits_entry e = { .row = l.l[i] };

		if (l.l[i].kind < POLICYDB_LIMIT_MAX_RCPT)
			continue;
		limits_describe(cli->cfg, &e, NULL, why, sizeof(why));
		if (cli->json) {
			printf(",{\"id\":%ld,\"pool\":false,\"kind\":", l.l[i].id);
			json_string(stdout, policydb_limit_kind_name(l.l[i].kind));
			printf(",\"window\":\"message\",\"max\":%lld,\"text\":", l.l[i].max);
			json_string(stdout, why);
			json_overrides(&l.l[i]);
			printf("}");
		} else {
			overrides_text(&l.l[i], ov, sizeof(ov));
			printf("  %s (a cap)%s\n", why, ov);
		}
	}
	if (cli->json)
		printf("]}\n");
}

/* limit_row_text - one limit as a row of limit list (7 columns; NULL: the default) */
static char **limit_row_text(const struct policydb_limit *l)
{
	char **row = xcalloc(7, sizeof(*row));
	const char *a = policydb_limit_action_name(l->action);
	const char *m = policydb_limit_mode_name(l->mode);
	char buf[64];

	snprintf(buf, sizeof(buf), "%ld", l->id);
	row[0] = xstrdup(buf);
	row[1] = xstrdup(policydb_limit_kind_name(l->kind));
	policydb_limit_span_text(l->span, buf, sizeof(buf));
	row[2] = xstrdup(buf);
	snprintf(buf, sizeof(buf), "%lld", l->max);
	row[3] = xstrdup(buf);
	row[4] = a != NULL ? xstrdup(a) : NULL;
	snprintf(buf, sizeof(buf), "%d", l->warn_at);
	row[5] = l->warn_at >= 0 ? xstrdup(buf) : NULL;
	row[6] = m != NULL ? xstrdup(m) : NULL;
	return row;
}

/*
 * cmd_limit - limit add QUOTA KIND WINDOW MAX [--action A] [--warn-at P]
 * [--mode M] | limit del QUOTA ID | limit list QUOTA
 */
static int cmd_limit(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "id",	"kind",	   "window", "max",
					     "action", "warn_at", "mode" };
	struct policydb_limit rows[POLICYDB_LIMITS_MAX], l;
	struct table t = { 7, names, NULL, 0 };
	size_t n = 0;
	long number, id;
	char ov[80];
	int st;

	if ((cli->action != NULL || cli->warn_at != NULL || cli->mode != NULL) &&
	    !(argc == 5 && strcmp(argv[0], "add") == 0))
		return fail("--action, --warn-at and --mode go with limit add") + 1;
	if (argc == 5 && strcmp(argv[0], "add") == 0) {
		if (policydb_limit_parse(argv[2], argv[3], argv[4], &l, cli->err,
					 sizeof(cli->err)) < 0 ||
		    policydb_limit_overrides(cli->action, cli->warn_at, cli->mode, &l, cli->err,
					     sizeof(cli->err)) < 0)
			return fail("%s", cli->err) + 1;
		st = policydb_limit_add(cli->db, argv[1], &l, cli->err, sizeof(cli->err));
		if (db_status(cli, st))
			return 1;
		signal_milter(cli);
		overrides_text(&l, ov, sizeof(ov));
		return done(cli, "quota %s: limit %s %s %s added%s", argv[1], argv[2], argv[3],
			    argv[4], ov);
	}
	if (argc == 3 && strcmp(argv[0], "del") == 0) {
		if (parse_long(argv[2], &id) < 0 || id <= 0)
			return fail("limit id must be a whole number above 0, not \"%s\"", argv[2]);
		st = policydb_limit_del(cli->db, argv[1], id, cli->err, sizeof(cli->err));
		if (db_status(cli, st))
			return 1;
		signal_milter(cli);
		return done(cli, "quota %s: limit %ld deleted", argv[1], id);
	}
	if (argc == 2 && strcmp(argv[0], "list") == 0) {
		st = policydb_quota_limits(cli->db, argv[1], &number, rows, POLICYDB_LIMITS_MAX, &n,
					   cli->err, sizeof(cli->err));
		if (db_status(cli, st))
			return 1;
		/* the quota's own number: the CHAPPS limit, id 0, the defaults */
		struct policydb_limit base = {
			.id = 0,
			.kind = cli->cfg->quota_counting_recipients ? POLICYDB_LIMIT_RECIPIENTS
								     : POLICYDB_LIMIT_MESSAGES,
			.span = cli->cfg->quota_interval,
			.max = number,
			.warn_at = POLICYDB_WARN_DEFAULT,
		};

		t.rows = xreallocarray(t.rows, 1, sizeof(*t.rows));
		t.rows[t.nrows++] = limit_row_text(&base);
		for (size_t i = 0; i < n; i++) {
			t.rows = xreallocarray(t.rows, t.nrows + 1, sizeof(*t.rows));
			t.rows[t.nrows++] = limit_row_text(&rows[i]);
		}
		table_print(cli, &t);
		table_free(&t);
		return 0;
	}
	return fail("usage: limit add QUOTA KIND WINDOW MAX [--action A] [--warn-at P] "
		    "[--mode M] | limit del QUOTA ID | limit list QUOTA") + 1;
}

/* cmd_domain_quota - domain quota DOMAIN QUOTA|none [--pool] */
static int cmd_domain_quota(struct cli *cli, int argc, char **argv)
{
	const char *quota = argc == 2 && strcmp(argv[1], "none") != 0 ? argv[1] : NULL;
	const char *what = cli->pool ? "pool" : "default quota";
	char *name;
	int st;

	if (argc != 2)
		return fail("usage: domain quota DOMAIN QUOTA|none [--pool]") + 1;
	name = lower(argv[0]);
	st = policydb_domain_set_quota(cli->db, name, quota, cli->pool, cli->err,
				       sizeof(cli->err));
	free(name);
	if (db_status(cli, st))
		return 1;
	signal_milter(cli);
	if (quota == NULL)
		return done(cli, "domain %s has no %s now", argv[0], what);
	return done(cli, "domain %s: %s %s", argv[0], what, quota);
}

struct top_out {
	const struct cli *cli;
	size_t n;
};

/* top_row - one owner of store_limits_top */
static void top_row(void *ctx, const char *owner, size_t len, uint64_t committed)
{
	struct top_out *o = ctx;
	char name[LIMITS_OWNER_MAX + 8];

	if (len >= LIMITS_POOL_PREFIX_LEN && memcmp(owner, LIMITS_POOL_PREFIX,
						    LIMITS_POOL_PREFIX_LEN) == 0)
		snprintf(name, sizeof(name), "pool:%.*s", (int)(len - LIMITS_POOL_PREFIX_LEN),
			 owner + LIMITS_POOL_PREFIX_LEN);
	else
		snprintf(name, sizeof(name), "%.*s", (int)len, owner);
	if (o->cli->json) {
		fputs(o->n ? ",{\"owner\":" : "{\"owner\":", stdout);
		json_string(stdout, name);
		printf(",\"committed\":%llu}", (unsigned long long)committed);
	} else {
		printf("%-40s %llu\n", name, (unsigned long long)committed);
	}
	o->n++;
}

/* cmd_top - top [--limit N]: the heaviest senders of the window (the quota's own limit) */
static int cmd_top(struct cli *cli, int argc, char **argv)
{
	struct top_out o = { cli, 0 };
	struct store *s;
	const char *err = "";
	long max = 10;

	(void)argv;
	if (argc != 0)
		return fail("usage: top [--limit N]") + 1;
	if (cli->top_limit != NULL && (parse_long(cli->top_limit, &max) < 0 || max < 1 ||
				       max > 100000))
		return fail("--limit must be a whole number 1..100000, not \"%s\"", cli->top_limit);
	s = get_store(cli, true);
	if (cli->json)
		fputc('[', stdout);
	else
		printf("%-40s %s\n", "owner", "used");
	if (s != NULL && store_limits_top(s, 0, (size_t)max, top_row, &o, (int64_t)time(NULL),
					  &err) != STORE_OK) {
		if (cli->json)
			fputs("]\n", stdout);
		return fail("state store: %s", err);
	}
	if (cli->json)
		fputs("]\n", stdout);
	return 0;
}

/* ---- locks and events ----------------------------------------------------- */

#define CLI_EVENTS_DEFAULT 20
#define CLI_LOCK_REASON "locked by chapps-cli"

/* json_bytes - len bytes as a JSON string (control bytes and NUL escaped) */
static void json_bytes(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

/* text_bytes - len bytes for people: control bytes and NUL as \xHH */
static void text_bytes(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\x%02x", ch);
		else
			fputc(ch, out);
	}
}

/* utc - t as "YYYY-MM-DD HH:MM:SS" UTC into buf */
static const char *utc(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
	return buf;
}

/*
 * lock_event - store {"kind":kind,"user":user,"by":"chapps-cli","reason":reason,
 * "time":now} in the store's journal (reason NULL: none); a failure is a warning
 */
static void lock_event(struct store *s, const char *kind, const char *user, const char *reason,
		       int64_t now)
{
	char *text = NULL;
	size_t len = 0;
	const char *err;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return;
	fprintf(f, "{\"kind\":\"%s\",\"user\":", kind);
	json_string(f, user);
	fputs(",\"by\":\"chapps-cli\"", f);
	if (reason != NULL) {
		fputs(",\"reason\":", f);
		json_string(f, reason);
	}
	fprintf(f, ",\"time\":%lld}", (long long)now);
	if (fclose(f) == 0 && store_event_add(s, text, len, now, &err) != STORE_OK)
		fprintf(stderr, "chapps-cli: warning: the %s event was not recorded: %s\n", kind,
			err);
	free(text);
}

/*
 * lock_alert - a lock or unlock by hand goes to the operator's webhook and
 * mail too (alerts section), like the milter's; delivered before the
 * command returns (at most alerts.timeout_ms); a failure is a warning
 */
static void lock_alert(struct cli *cli, enum alert_kind kind, const char *user,
		       const char *reason, int64_t now)
{
	struct alert_event ev = { .kind = kind, .user = user, .limit = reason, .time = now };
	struct alerts *alerts = NULL;
	char err[256];

	if (cli->cfg->alerts_webhook_url[0] == '\0' && cli->cfg->alerts_mail_to[0] == '\0')
		return;
	if (alerts_open(cli->cfg, &alerts, err, sizeof(err)) < 0) {
		fprintf(stderr, "chapps-cli: warning: no alert sent: %s\n", err);
		return;
	}
	alerts_post(alerts, &ev);
	alerts_close(&alerts);
}

/* cmd_lock - lock USER [REASON]: refuse (or hold) every message of USER until unlock */
static int cmd_lock(struct cli *cli, int argc, char **argv)
{
	int64_t now = (int64_t)time(NULL);
	struct store_lock_info info;
	const char *err, *reason;
	struct store *s;
	char since[32];
	int st;

	if (argc != 1 && argc != 2)
		return fail("usage: lock USER [REASON]") + 1;
	if (argv[0][0] == '\0')
		return fail("the user name is empty");
	reason = argc == 2 ? argv[1] : CLI_LOCK_REASON;
	if ((s = make_store(cli, &err)) == NULL)
		return fail("state store: %s", err);
	/* set first, then read the lock that won if another locked it first */
	st = store_lock_set(s, argv[0], strlen(argv[0]), reason, now, &err);
	if (st == STORE_REFUSED) {
		st = store_lock_get(s, argv[0], strlen(argv[0]), &info, &err);
		if (st == STORE_MISS)
			return fail("user %s was unlocked meanwhile: try again", argv[0]);
		if (st != STORE_OK)
			return fail("state store: %s", err);
		return done(cli, "user %s was already locked since %s UTC: %s", argv[0],
			    utc(info.since, since, sizeof(since)), info.reason);
	}
	if (st != STORE_OK)
		return fail("state store: %s", err);
	lock_event(s, "lock", argv[0], reason, now);
	lock_alert(cli, ALERT_LOCK, argv[0], reason, now);
	return done(cli, "user %s locked: %s", argv[0], reason);
}

/* cmd_unlock - unlock USER: its mail passes again, its strikes are forgotten */
static int cmd_unlock(struct cli *cli, int argc, char **argv)
{
	const char *err = "";
	struct store *s;
	int st;

	if (argc != 1)
		return fail("usage: unlock USER") + 1;
	if (argv[0][0] == '\0')
		return fail("the user name is empty");
	s = get_store(cli, false);
	if (s == NULL)
		return cli->cfg->store_backend == STORE_BACKEND_LMDB && !store_exists(cli->cfg)
			? done(cli, "user %s was not locked", argv[0])
			: fail("state store: cannot open it");
	st = store_lock_clear(s, argv[0], strlen(argv[0]), &err);
	if (st == STORE_MISS)
		return done(cli, "user %s was not locked", argv[0]);
	if (st != STORE_OK)
		return fail("state store: %s", err);
	lock_event(s, "unlock", argv[0], NULL, (int64_t)time(NULL));
	lock_alert(cli, ALERT_UNLOCK, argv[0], NULL, (int64_t)time(NULL));
	return done(cli, "user %s unlocked", argv[0]);
}

struct lock_row {
	char *user;
	size_t user_len;
	int64_t since;
	char *reason;
};

struct lock_rows {
	struct lock_row *r;
	size_t n;
};

/* lock_collect - store_locks_list's callback: keep a copy */
static void lock_collect(void *ctx, const char *user, size_t user_len, int64_t since,
			 const char *reason)
{
	struct lock_rows *l = ctx;
	struct lock_row *r;

	l->r = xreallocarray(l->r, l->n + 1, sizeof(*l->r));
	r = &l->r[l->n++];
	r->user = xmalloc(user_len + 1);
	memcpy(r->user, user, user_len);
	r->user[user_len] = '\0';
	r->user_len = user_len;
	r->since = since;
	r->reason = xstrdup(reason);
}

/* lock_row_cmp - by user name, byte for byte */
static int lock_row_cmp(const void *a, const void *b)
{
	const struct lock_row *x = a, *y = b;
	size_t n = x->user_len < y->user_len ? x->user_len : y->user_len;
	int c = memcmp(x->user, y->user, n);

	return c != 0 ? c : (x->user_len > y->user_len) - (x->user_len < y->user_len);
}

/* cmd_locked - every locked user: user, since (UTC), reason; sorted by user */
static int cmd_locked(struct cli *cli, int argc, char **argv)
{
	struct lock_rows l = { NULL, 0 };
	const char *err = "";
	struct store *s;
	char since[32];
	int st = STORE_OK;

	(void)argv;
	if (argc != 0)
		return fail("usage: locked") + 1;
	s = get_store(cli, false);
	if (s == NULL && !(cli->cfg->store_backend == STORE_BACKEND_LMDB &&
			   !store_exists(cli->cfg)))
		return fail("state store: cannot open it");
	if (s != NULL)
		st = store_locks_list(s, lock_collect, &l, &err);
	if (st == STORE_OK) {
		if (l.n > 1)
			qsort(l.r, l.n, sizeof(*l.r), lock_row_cmp);
		if (!cli->json)
			printf("%-30s  %-19s  %s\n", "user", "since (UTC)", "reason");
		else
			fputc('[', stdout);
		for (size_t i = 0; i < l.n; i++) {
			if (cli->json) {
				fputs(i ? ",{\"user\":" : "{\"user\":", stdout);
				json_bytes(stdout, l.r[i].user, l.r[i].user_len);
				printf(",\"since\":%lld,\"reason\":", (long long)l.r[i].since);
				json_string(stdout, l.r[i].reason);
				fputc('}', stdout);
			} else {
				int w = (int)l.r[i].user_len;

				text_bytes(stdout, l.r[i].user, l.r[i].user_len);
				printf("%*s  %-19s  %s\n", w < 30 ? 30 - w : 0, "",
				       utc(l.r[i].since, since, sizeof(since)),
				       l.r[i].reason[0] ? l.r[i].reason : "-");
			}
		}
		if (cli->json)
			fputs("]\n", stdout);
	}
	for (size_t i = 0; i < l.n; i++) {
		free(l.r[i].user);
		free(l.r[i].reason);
	}
	free(l.r);
	return st == STORE_OK ? 0 : fail("state store: %s", err);
}

struct event_out {
	const struct cli *cli;
	size_t n;
};

/* event_row - store_events_list's callback: print one event */
static void event_row(void *ctx, int64_t time, const char *text, size_t len)
{
	struct event_out *o = ctx;
	char when[32];

	if (o->cli->json) {
		printf("%s{\"time\":%lld,\"event\":", o->n ? "," : "", (long long)time);
		/* the store's events are JSON objects: as they are, else as a string */
		if (len >= 2 && text[0] == '{' && text[len - 1] == '}' &&
		    memchr(text, '\0', len) == NULL && memchr(text, '\n', len) == NULL)
			fwrite(text, 1, len, stdout);
		else
			json_bytes(stdout, text, len);
		fputc('}', stdout);
	} else {
		printf("%s  ", utc(time, when, sizeof(when)));
		text_bytes(stdout, text, len);
		fputc('\n', stdout);
	}
	o->n++;
}

/* cmd_events - events [-n N]: the newest N events of the store's journal, newest first */
static int cmd_events(struct cli *cli, int argc, char **argv)
{
	struct event_out o = { cli, 0 };
	const char *err = "";
	struct store *s;
	long n = CLI_EVENTS_DEFAULT;
	int st = STORE_OK;

	(void)argv;
	if (argc != 0)
		return fail("usage: events [-n N]") + 1;
	if (cli->events_n != NULL && (parse_long(cli->events_n, &n) < 0 || n < 1 ||
				      n > STORE_EVENTS_KEEP))
		return fail("-n must be a whole number 1..%d, not \"%s\"", STORE_EVENTS_KEEP,
			    cli->events_n);
	s = get_store(cli, false);
	if (s == NULL && !(cli->cfg->store_backend == STORE_BACKEND_LMDB &&
			   !store_exists(cli->cfg)))
		return fail("state store: cannot open it");
	if (cli->json)
		fputc('[', stdout);
	if (s != NULL)
		st = store_events_list(s, (size_t)n, event_row, &o, &err);
	if (cli->json)
		fputs("]\n", stdout);
	return st == STORE_OK ? 0 : fail("state store: %s", err);
}

/* usage - the command summary */
static int usage(FILE *out, int status)
{
	fprintf(out,
		"usage: chapps-cli [-c file] [--json] command ...\n"
		"  admin db-setup                     create the policy database and state dir\n"
		"  quota add NAME LIMIT | quota list | quota del NAME\n"
		"  user add NAME [--quota QUOTA] | user del NAME | user list\n"
		"  set-quota USER QUOTA               give USER the quota named QUOTA\n"
		"  show USER [--quota]                user, quota, domains, emails (and usage)\n"
		"  reset USER                         forget USER's usage in the window\n"
		"  refresh USER                       re-read USER's quota from the database\n"
		"  allow USER DOMAIN_OR_EMAIL [--create]\n"
		"  deny USER DOMAIN_OR_EMAIL\n"
		"  domain add|del|show|flush NAME | domain list\n"
		"  domain greylist|check-spf NAME [--enforce yes|no]\n"
		"  domain quota DOMAIN QUOTA|none [--pool]\n"
		"                                     the domain's default quota (or its pool)\n"
		"  limit add QUOTA KIND WINDOW MAX [--action reject|tempfail|quarantine|lock]\n"
		"            [--warn-at PERCENT] [--mode enforce|monitor]\n"
		"  limit del QUOTA ID | limit list QUOTA\n"
		"  top [--limit N]                    the heaviest senders of the window\n"
		"  lock USER [REASON] | unlock USER   refuse (or hold) all of USER's mail, or not\n"
		"  locked                             the locked users\n"
		"  events [-n N]                      the newest events (locks, alerts)\n"
		"  tally IP [--clear]                 greylisting passes of a client (24 h)\n"
		"  usage import USER COUNT [--spread SECONDS]\n"
		"                                     record COUNT units USER sent (migration)\n"
		"  email add|del ADDRESS | email list\n"
		"  import-file FILE [--create]        lines allow:USER:RES deny:USER:RES quota:USER:Q\n"
		"  api token add|list|revoke [NAME] [--role read|admin]  chapps-api bearer tokens\n"
		"  version\n"
		"default configuration: %s/chapps/chapps.conf\n",
		SYSCONFDIR);
	return status;
}

int main(int argc, char **argv)
{
	struct cli cli = { .config_path = SYSCONFDIR "/chapps/chapps.conf" };
	char *args[argc + 1];
	const char *api_role = NULL;	/* api token add --role */
	int nargs = 0, status;
	char *errors;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i == argc)
				return usage(stderr, 2);
			cli.config_path = argv[i];
		} else if (strcmp(a, "--json") == 0) {
			cli.json = true;
		} else if (strcmp(a, "--create") == 0) {
			cli.create = true;
		} else if (strcmp(a, "--clear") == 0) {
			cli.clear = true;
		} else if (strcmp(a, "--enforce") == 0) {
			if (++i == argc)
				return usage(stderr, 2);
			cli.enforce = argv[i];
		} else if (strcmp(a, "--spread") == 0) {
			if (++i == argc)
				return usage(stderr, 2);
			cli.spread = argv[i];
		} else if (strcmp(a, "--pool") == 0) {
			cli.pool = true;
		} else if (strcmp(a, "-n") == 0) {
			if (++i == argc)
				return usage(stderr, 2);
			cli.events_n = argv[i];
		} else if (strcmp(a, "--limit") == 0) {
			if (++i == argc)
				return usage(stderr, 2);
			cli.top_limit = argv[i];
		} else if (strcmp(a, "--action") == 0) {
			if (++i == argc)
				return usage(stderr, 2);
			cli.action = argv[i];
		} else if (strcmp(a, "--warn-at") == 0) {
			if (++i == argc)
				return usage(stderr, 2);
			cli.warn_at = argv[i];
		} else if (strcmp(a, "--mode") == 0) {
			if (++i == argc)
				return usage(stderr, 2);
			cli.mode = argv[i];
		} else if (strcmp(a, "--quota") == 0) {
			/* show USER --quota is a flag; user add NAME --quota Q takes a value */
			if (i + 1 < argc && argv[i + 1][0] != '-' && nargs >= 1 &&
			    strcmp(args[0], "user") == 0)
				cli.quota_opt = argv[++i];
			else
				cli.quota_flag = true;
		} else if (strcmp(a, "--role") == 0) {
			if (++i == argc)
				return usage(stderr, 2);
			api_role = argv[i];
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			return usage(stdout, 0);
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "chapps-cli: unknown option %s\n", a);
			return usage(stderr, 2);
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (nargs == 0)
		return usage(stderr, 2);
	if (strcmp(args[0], "version") == 0) {
		printf("This is chapps version %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (config_load(cli.config_path, &cli.cfg, &errors) < 0) {
		fputs(errors, stderr);
		free(errors);
		return EX_CONFIG;
	}
	if (nargs == 2 && strcmp(args[0], "admin") == 0 && strcmp(args[1], "db-setup") == 0) {
		status = cmd_db_setup(&cli);
	} else if (nargs >= 2 && strcmp(args[0], "api") == 0 && strcmp(args[1], "token") == 0) {
		status = cli_api_token(cli.cfg, cli.json, api_role, nargs - 2, args + 2);
	} else if (strcmp(args[0], "lock") == 0) {	/* the store only: no policy database */
		status = cmd_lock(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "unlock") == 0) {
		status = cmd_unlock(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "locked") == 0) {
		status = cmd_locked(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "events") == 0) {
		status = cmd_events(&cli, nargs - 1, args + 1);
	} else if (open_db(&cli, false) != 0) {
		status = 1;
	} else if (strcmp(args[0], "quota") == 0) {
		status = cmd_quota(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "user") == 0) {
		status = cmd_user(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "set-quota") == 0) {
		status = cmd_set_quota(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "show") == 0) {
		status = cmd_show(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "reset") == 0) {
		status = cmd_reset(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "refresh") == 0) {
		status = cmd_refresh(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "allow") == 0) {
		status = cmd_allow(&cli, nargs - 1, args + 1, true);
	} else if (strcmp(args[0], "deny") == 0) {
		status = cmd_allow(&cli, nargs - 1, args + 1, false);
	} else if (strcmp(args[0], "domain") == 0) {
		status = cmd_names(&cli, nargs - 1, args + 1, false);
	} else if (strcmp(args[0], "email") == 0) {
		status = cmd_names(&cli, nargs - 1, args + 1, true);
	} else if (strcmp(args[0], "limit") == 0) {
		status = cmd_limit(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "top") == 0) {
		status = cmd_top(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "tally") == 0) {
		status = cmd_tally(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "usage") == 0) {
		status = cmd_usage(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "import-file") == 0) {
		status = cmd_import(&cli, nargs - 1, args + 1);
	} else {
		fprintf(stderr, "chapps-cli: unknown command \"%s\"\n", args[0]);
		status = usage(stderr, 2);
	}
	store_close(&cli.store);
	policydb_close(&cli.db);
	config_unref(&cli.cfg);
	return status;
}
