/*
 * NAME
 *	cli_util - what chapps-cli's commands share
 * SUMMARY
 *	output (cli_fail, cli_done, cli_table_*), the backends (cli_open_db,
 *	cli_get_store, cli_make_store), cache invalidation (cli_sda_forget,
 *	cli_signal_milter), names (cli_lower, cli_email_norm)
 * DESCRIPTION
 *	Every change that affects a cached decision clears it at once:
 *	sender-domain decisions are cached in the store and deleted there
 *	(cli_sda_forget, cli_forget_everyone); quota limits are cached inside
 *	the milter process, so a change signals the local milter (SIGUSR2 to
 *	the pid in milter.pidfile, cli_signal_milter) to flush them.  Other
 *	milter hosts of a farm pick a quota change up within
 *	policy_db.cache_ttl.
 *
 *	The state store is opened once, at the first command that needs it;
 *	an LMDB store that does not exist yet is not created by a reading
 *	command (cli_get_store), only by one that must write (cli_make_store,
 *	which gives the files to milter.user).
 * DIAGNOSTICS
 *	Failures are printed on stderr ("chapps-cli: ...") and turned into
 *	exit status 1 by the caller.
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "base/pidfile.h"
#include "base/xalloc.h"
#include "policy/sender_domain_auth.h"
#include "policydb/policydb.h"
#include "store/store.h"
#include "cli/cli.h"

/* ---- output ----------------------------------------------------------- */

/* cli_fail - print a message and return 1 */
int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("chapps-cli: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* cli_json_string - write s as a JSON string (NULL as null) */
void cli_json_string(FILE *out, const char *s)
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

/* cli_table_row - policydb row callback: keep a copy */
int cli_table_row(void *ctx, int ncols, const char *const *cols)
{
	struct cli_table *t = ctx;
	char **row = xcalloc((size_t)t->ncols, sizeof(*row));

	for (int i = 0; i < t->ncols && i < ncols; i++)
		row[i] = xstrdup(cols[i]);
	t->rows = xreallocarray(t->rows, t->nrows + 1, sizeof(*t->rows));
	t->rows[t->nrows++] = row;
	return 0;
}

/* cli_table_free - free the copied rows */
void cli_table_free(struct cli_table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
	}
	XFREE(t->rows);
	t->nrows = 0;
}

/* cli_table_print - aligned columns for people, an array of objects for --json */
void cli_table_print(const struct cli *cli, const struct cli_table *t)
{
	if (cli->json) {
		fputc('[', stdout);
		for (size_t r = 0; r < t->nrows; r++) {
			fputs(r ? ",{" : "{", stdout);
			for (int c = 0; c < t->ncols; c++) {
				if (c)
					fputc(',', stdout);
				cli_json_string(stdout, t->names[c]);
				fputc(':', stdout);
				cli_json_string(stdout, t->rows[r][c]);
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

/* cli_done - the success message of a change */
int cli_done(const struct cli *cli, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cli->json) {
		fputs("{\"ok\":true,\"message\":", stdout);
		cli_json_string(stdout, msg);
		fputs("}\n", stdout);
	} else {
		puts(msg);
	}
	return 0;
}

/* ---- backends --------------------------------------------------------- */

/* cli_db_status - turn a policydb status into an exit code with a message */
int cli_db_status(struct cli *cli, int st)
{
	if (st == POLICYDB_OK)
		return 0;
	return cli_fail("%s", cli->err[0] ? cli->err : "policy database error");
}

/* cli_open_db - the policy database (create for db-setup) */
int cli_open_db(struct cli *cli, bool create)
{
	if (cli->db != NULL)
		return 0;
	if (policydb_open(cli->cfg, create, &cli->db, cli->err, sizeof(cli->err)) < 0)
		return cli_fail("%s", cli->err);
	return 0;
}

/* cli_store_exists - is there any state yet (LMDB), or a server to ask (Redis)? */
bool cli_store_exists(const struct config *c)
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

/* cli_get_store - the state store, or NULL when there is none (yet) */
struct store *cli_get_store(struct cli *cli, bool quiet)
{
	const char *err;

	if (cli->store_tried)
		return cli->store;
	cli->store_tried = true;
	if (!cli_store_exists(cli->cfg))
		return NULL;
	if (store_open(cli->cfg, &cli->store, &err) < 0) {
		cli->store = NULL;
		if (!quiet)
			fprintf(stderr, "chapps-cli: warning: state store: %s\n", err);
	}
	return cli->store;
}

/* cli_signal_milter - ask the local milter to flush its look-up caches */
void cli_signal_milter(struct cli *cli)
{
	long pid;

	if (pidfile_signal(cli->cfg->milter_pidfile, SIGUSR2, "chapps-milter", &pid) < 0)
		fprintf(stderr, "chapps-cli: warning: cannot signal chapps-milter (pid %ld): %s\n",
			pid, strerror(errno));
}

/* cli_sda_forget - delete the cached SDA decision of (user, kind, name) */
void cli_sda_forget(struct cli *cli, const char *user, char kind, const char *name)
{
	struct store *s = cli_get_store(cli, true);
	const char *err;

	if (s != NULL && sender_domain_auth_forget(s, user, kind, name, &err) != STORE_OK)
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
		cli_sda_forget(f->cli, cols[0], f->kind, f->name);
	return 0;
}

/* cli_forget_everyone - clear (every user, kind, name) after name was deleted */
void cli_forget_everyone(struct cli *cli, char kind, const char *name)
{
	struct forget_ctx f = { cli, kind, name };

	(void)policydb_user_list(cli->db, forget_row, &f, cli->err, sizeof(cli->err));
}

/* cli_lower - ASCII lower-case copy */
char *cli_lower(const char *s)
{
	char *c = xstrdup(s);

	for (char *p = c; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return c;
}

/* cli_email_norm - an address with its domain lower-cased, as the milter looks it up */
char *cli_email_norm(const char *s)
{
	char *c = xstrdup(s), *at = strrchr(c, '@');

	for (char *p = at ? at : c + strlen(c); *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return c;
}

/* cli_chown_to_milter - hand a file the milter must write to its user */
void cli_chown_to_milter(const struct config *c, const char *path)
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

/* cli_make_store - the store, created when there is none yet (LMDB: files given to milter.user) */
struct store *cli_make_store(struct cli *cli, const char **err)
{
	const struct config *c = cli->cfg;
	bool fresh = !cli_store_exists(c);

	if (cli->store_tried && cli->store != NULL)
		return cli->store;
	cli->store_tried = true;
	if (store_open(c, &cli->store, err) < 0) {
		cli->store = NULL;
		return NULL;
	}
	for (int i = 0; fresh && i < 2; i++) {
		char *path = xasprintf("%s/%s", c->store_path, i ? "lock.mdb" : "data.mdb");

		cli_chown_to_milter(c, path);	/* the milter must write it */
		free(path);
	}
	return cli->store;
}

/* ---- arguments --------------------------------------------------------- */

/* cli_parse_long - a non-negative integer argument */
int cli_parse_long(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return (errno != 0 || end == s || *end != '\0' || *v < 0) ? -1 : 0;
}

