/*
 * NAME
 *	cmd_policy - chapps-cli's commands over the policy database
 * SUMMARY
 *	admin db-setup, quota, user, set-quota, show, allow, deny, domain,
 *	email, import-file
 * DESCRIPTION
 *	Users, quotas, domains and e-mail addresses and the links between
 *	them, under CHAPPS's command names (spec section 9.4).  Each change
 *	clears the cached decisions it affects (cli_sda_forget) or signals
 *	the milter (cli_signal_milter) when quotas or domain flags change.
 *	show also reads the state store for the user's usage in the window.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on a failed command (message on stderr), 2 on a
 *	usage error.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "base/config.h"
#include "base/xalloc.h"
#include "policy/quota.h"
#include "policy/sender_domain_auth.h"
#include "policydb/policydb.h"
#include "store/store.h"
#include "cli/cli.h"

/* cli_cmd_db_setup - create the schema (and the state directory) */
int cli_cmd_db_setup(struct cli *cli)
{
	const struct config *c = cli->cfg;

	if (cli_open_db(cli, true) != 0)
		return 1;
	if (policydb_setup(cli->db, cli->err, sizeof(cli->err)) != POLICYDB_OK)
		return cli_fail("%s", cli->err);
	if (c->policydb_backend == POLICYDB_BACKEND_SQLITE) {
		char *dir = xstrdup(c->policydb_path), *slash = strrchr(dir, '/');
		static const char *const suffix[] = { "", "-wal", "-shm" };

		if (slash != NULL && slash != dir) {
			*slash = '\0';
			cli_chown_to_milter(c, dir);
		}
		free(dir);
		for (int i = 0; i < 3; i++) {
			char *p = xasprintf("%s%s", c->policydb_path, suffix[i]);

			cli_chown_to_milter(c, p);
			free(p);
		}
	}
	if (c->store_backend == STORE_BACKEND_LMDB) {
		if (mkdir(c->store_path, 0750) < 0 && errno != EEXIST)
			return cli_fail("cannot create %s: %s", c->store_path, strerror(errno));
		cli_chown_to_milter(c, c->store_path);
	}
	return cli_done(cli, "policy database ready (%s)",
			c->policydb_backend == POLICYDB_BACKEND_SQLITE ? c->policydb_path
								       : c->policydb_name);
}

int cli_cmd_quota(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "name", "quota" };
	struct cli_table t = { 2, names, NULL, 0 };
	long v;
	int st;

	if (argc >= 1 && strcmp(argv[0], "list") == 0 && argc == 1) {
		st = policydb_quota_list(cli->db, cli_table_row, &t, cli->err, sizeof(cli->err));
		if (st == POLICYDB_OK)
			cli_table_print(cli, &t);
		cli_table_free(&t);
		return cli_db_status(cli, st);
	}
	if (argc == 3 && strcmp(argv[0], "add") == 0) {
		if (cli_parse_long(argv[2], &v) < 0 || v > 2147483647)
			return cli_fail(
				"quota limit must be a whole number 0..2147483647, not \"%s\"",
				argv[2]);
		st = policydb_quota_add(cli->db, argv[1], v, cli->err, sizeof(cli->err));
		return cli_db_status(cli, st) ? 1
					      : cli_done(cli, "quota %s added: %ld", argv[1], v);
	}
	if (argc == 2 && strcmp(argv[0], "del") == 0) {
		st = policydb_quota_del(cli->db, argv[1], cli->err, sizeof(cli->err));
		if (cli_db_status(cli, st))
			return 1;
		cli_signal_milter(cli);
		return cli_done(cli, "quota %s deleted (its users can no longer send)", argv[1]);
	}
	return cli_fail("usage: quota add NAME LIMIT | quota list | quota del NAME") + 1;
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

int cli_cmd_user(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "name", "quota", "limit" };
	struct cli_table t = { 3, names, NULL, 0 };
	int st;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		st = policydb_user_list(cli->db, cli_table_row, &t, cli->err, sizeof(cli->err));
		if (st == POLICYDB_OK)
			cli_table_print(cli, &t);
		cli_table_free(&t);
		return cli_db_status(cli, st);
	}
	if (argc == 2 && strcmp(argv[0], "add") == 0) {
		st = policydb_user_add(cli->db, argv[1], cli->err, sizeof(cli->err));
		if (cli_db_status(cli, st))
			return 1;
		if (cli->quota_opt != NULL) {
			st = policydb_user_set_quota(cli->db, argv[1], cli->quota_opt, cli->err,
						     sizeof(cli->err));
			if (cli_db_status(cli, st))
				return 1;
		}
		cli_signal_milter(cli);
		return cli_done(cli, "user %s added%s%s", argv[1],
				cli->quota_opt ? " with quota " : "",
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
				cli_sda_forget(cli, argv[1], SDA_KIND_DOMAIN, domains.names[i]);
			for (size_t i = 0; i < emails.n; i++)
				cli_sda_forget(cli, argv[1], SDA_KIND_EMAIL, emails.names[i]);
		}
		list_free(&domains);
		list_free(&emails);
		if (cli_db_status(cli, st))
			return 1;
		if ((s = cli_get_store(cli, false)) != NULL)
			(void)store_quota_reset(s, argv[1], strlen(argv[1]), NULL, &err);
		cli_signal_milter(cli);
		return cli_done(cli, "user %s deleted", argv[1]);
	}
	return cli_fail("usage: user add NAME [--quota QUOTA] | user del NAME | user list") + 1;
}

int cli_cmd_set_quota(struct cli *cli, int argc, char **argv)
{
	int st;

	if (argc != 2)
		return cli_fail("usage: set-quota USER QUOTA") + 1;
	st = policydb_user_set_quota(cli->db, argv[0], argv[1], cli->err, sizeof(cli->err));
	if (cli_db_status(cli, st))
		return 1;
	cli_signal_milter(cli);
	return cli_done(cli, "user %s now has quota %s", argv[0], argv[1]);
}

/* print_list - a JSON array of strings */
static void print_list(const struct name_list *l)
{
	fputc('[', stdout);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fputc(',', stdout);
		cli_json_string(stdout, l->names[i]);
	}
	fputc(']', stdout);
}

int cli_cmd_show(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "name", "quota", "limit" };
	struct cli_table t = { 3, names, NULL, 0 };
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
		return cli_fail("usage: show USER [--quota]") + 1;
	st = policydb_user_get(cli->db, argv[0], cli_table_row, &t, cli->err, sizeof(cli->err));
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
		cli_table_free(&t);
		return cli_db_status(cli, st);
	}
	if (t.nrows == 1 && t.rows[0][2] != NULL)
		limit = atol(t.rows[0][2]);
	(void)policydb_user_domains(cli->db, argv[0], list_row, &domains, cli->err,
				    sizeof(cli->err));
	(void)policydb_user_emails(cli->db, argv[0], list_row, &emails, cli->err,
				   sizeof(cli->err));
	if (cli->quota_flag) {
		struct store *s = cli_get_store(cli, false);
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
		cli_json_string(stdout, argv[0]);
		printf(",\"quota\":");
		cli_json_string(stdout, from_domain ? dq_name : t.nrows ? t.rows[0][1] : NULL);
		if (from_domain) {
			printf(",\"default_of\":");
			cli_json_string(stdout, at + 1);
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
		cli_show_limits(cli, argv[0]);
	cli_table_free(&t);
	list_free(&domains);
	list_free(&emails);
	return 0;
}

/* allow_one - link user and a domain or an address; create it with --create */
static int allow_one(struct cli *cli, const char *user, const char *what, bool link)
{
	bool email = strchr(what, '@') != NULL;
	char *name = email ? cli_email_norm(what) : cli_lower(what);
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
		cli_sda_forget(cli, user, email ? SDA_KIND_EMAIL : SDA_KIND_DOMAIN, name);
	free(name);
	return st;
}

int cli_cmd_allow(struct cli *cli, int argc, char **argv, bool link)
{
	int st;

	if (argc != 2)
		return cli_fail(link ? "usage: allow USER DOMAIN_OR_EMAIL [--create]"
				     : "usage: deny USER DOMAIN_OR_EMAIL") + 1;
	st = allow_one(cli, argv[0], argv[1], link);
	if (cli_db_status(cli, st))
		return 1;
	return cli_done(cli, "%s %s %s", argv[0],
			link ? "may now send as" : "may no longer send as", argv[1]);
}

static int cmd_domain_inbound(struct cli *cli, const char *verb, const char *arg);

/* cli_cmd_names - domain/email add|del|list */
int cli_cmd_names(struct cli *cli, int argc, char **argv, bool email)
{
	static const char *const dnames[] = { "name", "greylist", "check_spf" };
	static const char *const enames[] = { "name" };
	struct cli_table t = { email ? 1 : 3, email ? enames : dnames, NULL, 0 };
	const char *what = email ? "email" : "domain";
	int st;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		st = email ? policydb_email_list(cli->db, cli_table_row, &t, cli->err,
						 sizeof(cli->err))
			   : policydb_domain_list(cli->db, cli_table_row, &t, cli->err,
						  sizeof(cli->err));
		if (st == POLICYDB_OK)
			cli_table_print(cli, &t);
		cli_table_free(&t);
		return cli_db_status(cli, st);
	}
	if (argc == 2 && (strcmp(argv[0], "add") == 0 || strcmp(argv[0], "del") == 0)) {
		bool add = argv[0][0] == 'a';
		char *name = email ? cli_email_norm(argv[1]) : cli_lower(argv[1]);

		if (email && strchr(name, '@') == NULL) {
			free(name);
			return cli_fail("\"%s\" is not an email address", argv[1]);
		}
		if (add)
			st = email ? policydb_email_add(cli->db, name, cli->err, sizeof(cli->err))
				   : policydb_domain_add(cli->db, name, cli->err, sizeof(cli->err));
		else
			st = email ? policydb_email_del(cli->db, name, cli->err, sizeof(cli->err))
				   : policydb_domain_del(cli->db, name, cli->err, sizeof(cli->err));
		if (st == POLICYDB_OK && !add) {
			cli_forget_everyone(cli, email ? SDA_KIND_EMAIL : SDA_KIND_DOMAIN, name);
			if (!email)
				cli_signal_milter(cli);	/* the domain's cached opt-in flags */
		}
		free(name);
		if (cli_db_status(cli, st))
			return 1;
		return cli_done(cli, "%s %s %s", what, argv[1], add ? "added" : "deleted");
	}
	if (!email && argc >= 1 && strcmp(argv[0], "quota") == 0)
		return cli_cmd_domain_quota(cli, argc - 1, argv + 1);
	if (!email && argc == 2 &&
	    (strcmp(argv[0], "show") == 0 || strcmp(argv[0], "greylist") == 0 ||
	     strcmp(argv[0], "check-spf") == 0 || strcmp(argv[0], "flush") == 0))
		return cmd_domain_inbound(cli, argv[0], argv[1]);
	if (!email)
		return cli_fail("usage: domain add|del|show|flush NAME | "
				"domain greylist|check-spf NAME [--enforce yes|no] | "
				"domain list") + 1;
	return cli_fail("usage: %s add NAME | %s del NAME | %s list", what, what, what) + 1;
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
	char *name = cli_lower(arg);
	struct domain_find f = { .name = name };
	int st = POLICYDB_OK;

	if (strcmp(verb, "flush") == 0) {
		cli_signal_milter(cli);
		free(name);
		return cli_done(cli, "cached options of %s flushed (local milter signalled)", arg);
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
				return cli_fail("--enforce takes yes or no, not \"%s\"",
						cli->enforce);
			}
		}
		st = policydb_domain_set_flag(cli->db, name,
					      verb[0] == 'g' ? "greylist" : "check_spf", on,
					      cli->err, sizeof(cli->err));
		if (st == POLICYDB_OK)
			cli_signal_milter(cli);
		free(name);
		return cli_db_status(cli, st) ? 1
					      : cli_done(cli, "%s: %s %s", arg, verb,
							 on ? "enforced" : "not enforced");
	}
	st = policydb_domain_list(cli->db, domain_row, &f, cli->err, sizeof(cli->err));
	free(name);
	if (cli_db_status(cli, st))
		return 1;
	if (!f.found)
		return cli_fail("no such domain: %s", arg);
	if (cli->json) {
		printf("{\"domain\":");
		cli_json_string(stdout, arg);
		printf(",\"greylist\":%s,\"check_spf\":%s}\n",
		       strcmp(f.greylist, "0") ? "true" : "false",
		       strcmp(f.check_spf, "0") ? "true" : "false");
	} else {
		printf("domain:    %s\ngreylist:  %s\ncheck_spf: %s\n", arg,
		       strcmp(f.greylist, "0") ? "yes" : "no", strcmp(f.check_spf, "0") ? "yes" : "no");
	}
	return 0;
}

int cli_cmd_import(struct cli *cli, int argc, char **argv)
{
	FILE *f;
	char line[2048];
	unsigned lineno = 0, ok = 0, bad = 0;

	if (argc != 1)
		return cli_fail("usage: import-file FILE [--create]") + 1;
	f = strcmp(argv[0], "-") == 0 ? stdin : fopen(argv[0], "r");
	if (f == NULL)
		return cli_fail("cannot open %s: %s", argv[0], strerror(errno));
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
	cli_signal_milter(cli);
	if (bad > 0)
		return cli_fail("%u line(s) applied, %u failed", ok, bad);
	return cli_done(cli, "%u line(s) applied", ok);
}
