/*
 * cli - what the parts of chapps-cli share (internal)
 *
 * chapps-cli.c parses the options into struct cli and dispatches the
 * command to its family: cmd_policy.c (the policy database: db-setup,
 * quota, user, set-quota, show, allow/deny, domain, email, import-file),
 * cmd_live.c (the live state: reset, refresh, tally, usage import),
 * cmd_limits.c (limit, domain quota, top), cmd_locks.c (lock, unlock,
 * locked, events) and api_token.c (api token).  cli_util.c has what they
 * share: output, the backends, cache invalidation.  Single-threaded; all
 * of it prints on stdout and stderr.
 */
#ifndef CHAPPS_CLI_CLI_H
#define CHAPPS_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct config;
struct policydb;
struct store;

/* The run: the configuration, the backends once opened, and the options. */
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

/* ---- cli_util.c: output ----------------------------------------------------- */

/* cli_fail - print "chapps-cli: message" on stderr and return 1 */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_json_string - write s as a JSON string (NULL as null) */
void cli_json_string(FILE *out, const char *s);

/* Rows copied from the policy database, with their column names (borrowed). */
struct cli_table {
	int ncols;
	const char *const *names;
	char ***rows;
	size_t nrows;
};

/* cli_table_row - policydb row callback: keep a copy (ctx: struct cli_table) */
int cli_table_row(void *ctx, int ncols, const char *const *cols);

/* cli_table_free - free the copied rows */
void cli_table_free(struct cli_table *t);

/* cli_table_print - aligned columns for people, an array of objects for --json */
void cli_table_print(const struct cli *cli, const struct cli_table *t);

/* cli_done - print the success message of a change (JSON with --json); returns 0 */
int cli_done(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- cli_util.c: backends ---------------------------------------------------- */

/* cli_db_status - turn a policydb status into an exit code (0 or 1) with a message */
int cli_db_status(struct cli *cli, int st);

/* cli_open_db - open the policy database into cli->db (create for db-setup); 0 or 1 */
int cli_open_db(struct cli *cli, bool create);

/* cli_store_exists - is there any state yet (LMDB), or a server to ask (Redis)? */
bool cli_store_exists(const struct config *c);

/* cli_get_store - the state store (owned by cli), or NULL when there is none (yet) */
struct store *cli_get_store(struct cli *cli, bool quiet);

/* cli_signal_milter - ask the local milter to flush its look-up caches (SIGUSR2) */
void cli_signal_milter(struct cli *cli);

/* cli_sda_forget - delete the cached SDA decision of (user, kind, name) */
void cli_sda_forget(struct cli *cli, const char *user, char kind, const char *name);

/* cli_forget_everyone - clear (every user, kind, name) after name was deleted */
void cli_forget_everyone(struct cli *cli, char kind, const char *name);

/* cli_lower - ASCII lower-case copy (the caller frees) */
char *cli_lower(const char *s);

/*
 * cli_email_norm - an address with its domain lower-cased, as the milter
 * looks it up (the caller frees)
 */
char *cli_email_norm(const char *s);

/* cli_chown_to_milter - hand a file the milter must write to its user */
void cli_chown_to_milter(const struct config *c, const char *path);

/*
 * cli_make_store - the store (owned by cli), created when there is none
 * yet (LMDB: files given to milter.user); NULL with *err otherwise
 */
struct store *cli_make_store(struct cli *cli, const char **err);

/* cli_parse_long - a non-negative integer argument into *v; 0, or -1 when it is not one */
int cli_parse_long(const char *s, long *v);

/*
 * ---- the commands --------------------------------------------------------------
 *
 * Each takes the arguments after the command name and returns the exit
 * status: 0, 1 (failed, message on stderr) or 2 (usage).
 */

/* cmd_policy.c */
int cli_cmd_db_setup(struct cli *cli);				/* admin db-setup */
int cli_cmd_quota(struct cli *cli, int argc, char **argv);	/* quota add|list|del */
int cli_cmd_user(struct cli *cli, int argc, char **argv);	/* user add|del|list */
int cli_cmd_set_quota(struct cli *cli, int argc, char **argv);	/* set-quota USER QUOTA */
int cli_cmd_show(struct cli *cli, int argc, char **argv);	/* show USER [--quota] */
int cli_cmd_allow(struct cli *cli, int argc, char **argv, bool link);	/* allow, deny (!link) */
int cli_cmd_names(struct cli *cli, int argc, char **argv, bool email);	/* domain, email */
int cli_cmd_import(struct cli *cli, int argc, char **argv);	/* import-file FILE */

/* cmd_live.c */
int cli_cmd_reset(struct cli *cli, int argc, char **argv);	/* reset USER */
int cli_cmd_refresh(struct cli *cli, int argc, char **argv);	/* refresh USER */
int cli_cmd_tally(struct cli *cli, int argc, char **argv);	/* tally IP [--clear] */
int cli_cmd_usage(struct cli *cli, int argc, char **argv);	/* usage import USER COUNT */

/* cmd_limits.c */
int cli_cmd_limit(struct cli *cli, int argc, char **argv);	/* limit add|del|list */
int cli_cmd_domain_quota(struct cli *cli, int argc, char **argv); /* domain quota (cli_cmd_names) */
int cli_cmd_top(struct cli *cli, int argc, char **argv);	/* top [--limit N] */

/*
 * cli_show_limits - for show --quota: every limit of a user whose quota is
 * more than the CHAPPS single limit, with use, room and next_free (JSON:
 * the "limits" member and the object's closing brace)
 */
void cli_show_limits(struct cli *cli, const char *user);

/* cmd_locks.c */
int cli_cmd_lock(struct cli *cli, int argc, char **argv);	/* lock USER [REASON] */
int cli_cmd_unlock(struct cli *cli, int argc, char **argv);	/* unlock USER */
int cli_cmd_locked(struct cli *cli, int argc, char **argv);	/* locked */
int cli_cmd_events(struct cli *cli, int argc, char **argv);	/* events [-n N] */

#endif
