/*
 * NAME
 *	chapps-cli - administer chapps's policy data and live state
 * SYNOPSIS
 *	chapps-cli [-c file] [--json] command [arguments]
 * DESCRIPTION
 *	The same configuration file as chapps-milter names the policy database
 *	(SQLite or MariaDB) and the state store (LMDB or Redis).  Commands keep
 *	CHAPPS's names (spec section 9.4) and add what CHAPPS left to its REST
 *	API.  Every change that affects a cached decision clears it at once
 *	(cli_util.c).
 *
 *	This file parses the options and dispatches the command to its
 *	family: cmd_policy.c (the policy database), cmd_live.c (the live
 *	state), cmd_limits.c (limits and top), cmd_locks.c (locks and
 *	events), api_token.c (chapps-api's tokens).  Lock, unlock, locked and
 *	events need the state store only, so they run before the policy
 *	database is opened.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on a failed command (message on stderr), 2 on a
 *	usage error, 78 on a configuration error.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "base/config.h"
#include "policydb/policydb.h"
#include "store/store.h"
#include "cli/api_token.h"
#include "cli/cli.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

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
		status = cli_cmd_db_setup(&cli);
	} else if (nargs >= 2 && strcmp(args[0], "api") == 0 && strcmp(args[1], "token") == 0) {
		status = cli_api_token(cli.cfg, cli.json, api_role, nargs - 2, args + 2);
	} else if (strcmp(args[0], "lock") == 0) {	/* the store only: no policy database */
		status = cli_cmd_lock(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "unlock") == 0) {
		status = cli_cmd_unlock(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "locked") == 0) {
		status = cli_cmd_locked(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "events") == 0) {
		status = cli_cmd_events(&cli, nargs - 1, args + 1);
	} else if (cli_open_db(&cli, false) != 0) {
		status = 1;
	} else if (strcmp(args[0], "quota") == 0) {
		status = cli_cmd_quota(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "user") == 0) {
		status = cli_cmd_user(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "set-quota") == 0) {
		status = cli_cmd_set_quota(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "show") == 0) {
		status = cli_cmd_show(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "reset") == 0) {
		status = cli_cmd_reset(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "refresh") == 0) {
		status = cli_cmd_refresh(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "allow") == 0) {
		status = cli_cmd_allow(&cli, nargs - 1, args + 1, true);
	} else if (strcmp(args[0], "deny") == 0) {
		status = cli_cmd_allow(&cli, nargs - 1, args + 1, false);
	} else if (strcmp(args[0], "domain") == 0) {
		status = cli_cmd_names(&cli, nargs - 1, args + 1, false);
	} else if (strcmp(args[0], "email") == 0) {
		status = cli_cmd_names(&cli, nargs - 1, args + 1, true);
	} else if (strcmp(args[0], "limit") == 0) {
		status = cli_cmd_limit(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "top") == 0) {
		status = cli_cmd_top(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "tally") == 0) {
		status = cli_cmd_tally(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "usage") == 0) {
		status = cli_cmd_usage(&cli, nargs - 1, args + 1);
	} else if (strcmp(args[0], "import-file") == 0) {
		status = cli_cmd_import(&cli, nargs - 1, args + 1);
	} else {
		fprintf(stderr, "chapps-cli: unknown command \"%s\"\n", args[0]);
		status = usage(stderr, 2);
	}
	store_close(&cli.store);
	policydb_close(&cli.db);
	config_unref(&cli.cfg);
	return status;
}
