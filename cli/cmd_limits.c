/*
 * NAME
 *	cmd_limits - chapps-cli's commands over a quota's limits (issue 10)
 * SUMMARY
 *	limit add|del|list, domain quota, top; show --quota's limits
 * DESCRIPTION
 *	A quota's extra limits with their overrides (issue 11) in the policy
 *	database, a domain's default quota (or its pool), the heaviest
 *	senders of the window, and for show --quota every limit of a user
 *	with its use, room and next_free from the state store.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on a failed command (message on stderr), 2 on a
 *	usage error.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "base/xalloc.h"
#include "policy/limits.h"
#include "policydb/policydb.h"
#include "store/store.h"
#include "cli/cli.h"

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
	cli_json_string(stdout, policydb_limit_action_name(l->action));
	if (l->warn_at >= 0)
		printf(",\"warn_at\":%d,\"mode\":", l->warn_at);
	else
		printf(",\"warn_at\":null,\"mode\":");
	cli_json_string(stdout, policydb_limit_mode_name(l->mode));
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
 * cli_show_limits - show --quota: every limit of a user whose quota is more
 * than the CHAPPS single limit, with use, room and next_free (JSON: the
 * "limits" member and the object's closing brace)
 */
void cli_show_limits(struct cli *cli, const char *user)
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
		struct store *s = cli_get_store(cli, true);

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
			cli_json_string(stdout, policydb_limit_kind_name(e->row.kind));
			printf(",\"window\":");
			cli_json_string(stdout, span);
			printf(",\"max\":%lld,\"text\":", e->row.max);
			cli_json_string(stdout, why);
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
			cli_json_string(stdout, policydb_limit_kind_name(l.l[i].kind));
			printf(",\"window\":\"message\",\"max\":%lld,\"text\":", l.l[i].max);
			cli_json_string(stdout, why);
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
 * cli_cmd_limit - limit add QUOTA KIND WINDOW MAX [--action A] [--warn-at P]
 * [--mode M] | limit del QUOTA ID | limit list QUOTA
 */
int cli_cmd_limit(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "id",	"kind",	   "window", "max",
					     "action", "warn_at", "mode" };
	struct policydb_limit rows[POLICYDB_LIMITS_MAX], l;
	struct cli_table t = { 7, names, NULL, 0 };
	size_t n = 0;
	long number, id;
	char ov[80];
	int st;

	if ((cli->action != NULL || cli->warn_at != NULL || cli->mode != NULL) &&
	    !(argc == 5 && strcmp(argv[0], "add") == 0))
		return cli_fail("--action, --warn-at and --mode go with limit add") + 1;
	if (argc == 5 && strcmp(argv[0], "add") == 0) {
		if (policydb_limit_parse(argv[2], argv[3], argv[4], &l, cli->err,
					 sizeof(cli->err)) < 0 ||
		    policydb_limit_overrides(cli->action, cli->warn_at, cli->mode, &l, cli->err,
					     sizeof(cli->err)) < 0)
			return cli_fail("%s", cli->err) + 1;
		st = policydb_limit_add(cli->db, argv[1], &l, cli->err, sizeof(cli->err));
		if (cli_db_status(cli, st))
			return 1;
		cli_signal_milter(cli);
		overrides_text(&l, ov, sizeof(ov));
		return cli_done(cli, "quota %s: limit %s %s %s added%s", argv[1], argv[2], argv[3],
				argv[4], ov);
	}
	if (argc == 3 && strcmp(argv[0], "del") == 0) {
		if (cli_parse_long(argv[2], &id) < 0 || id <= 0)
			return cli_fail("limit id must be a whole number above 0, not \"%s\"",
					argv[2]);
		st = policydb_limit_del(cli->db, argv[1], id, cli->err, sizeof(cli->err));
		if (cli_db_status(cli, st))
			return 1;
		cli_signal_milter(cli);
		return cli_done(cli, "quota %s: limit %ld deleted", argv[1], id);
	}
	if (argc == 2 && strcmp(argv[0], "list") == 0) {
		st = policydb_quota_limits(cli->db, argv[1], &number, rows, POLICYDB_LIMITS_MAX, &n,
					   cli->err, sizeof(cli->err));
		if (cli_db_status(cli, st))
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
		cli_table_print(cli, &t);
		cli_table_free(&t);
		return 0;
	}
	return cli_fail("usage: limit add QUOTA KIND WINDOW MAX [--action A] [--warn-at P] "
			"[--mode M] | limit del QUOTA ID | limit list QUOTA") + 1;
}

/* cli_cmd_domain_quota - domain quota DOMAIN QUOTA|none [--pool] */
int cli_cmd_domain_quota(struct cli *cli, int argc, char **argv)
{
	const char *quota = argc == 2 && strcmp(argv[1], "none") != 0 ? argv[1] : NULL;
	const char *what = cli->pool ? "pool" : "default quota";
	char *name;
	int st;

	if (argc != 2)
		return cli_fail("usage: domain quota DOMAIN QUOTA|none [--pool]") + 1;
	name = cli_lower(argv[0]);
	st = policydb_domain_set_quota(cli->db, name, quota, cli->pool, cli->err,
				       sizeof(cli->err));
	free(name);
	if (cli_db_status(cli, st))
		return 1;
	cli_signal_milter(cli);
	if (quota == NULL)
		return cli_done(cli, "domain %s has no %s now", argv[0], what);
	return cli_done(cli, "domain %s: %s %s", argv[0], what, quota);
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
		cli_json_string(stdout, name);
		printf(",\"committed\":%llu}", (unsigned long long)committed);
	} else {
		printf("%-40s %llu\n", name, (unsigned long long)committed);
	}
	o->n++;
}

/* cli_cmd_top - top [--limit N]: the heaviest senders of the window (the quota's own limit) */
int cli_cmd_top(struct cli *cli, int argc, char **argv)
{
	struct top_out o = { cli, 0 };
	struct store *s;
	const char *err = "";
	long max = 10;

	(void)argv;
	if (argc != 0)
		return cli_fail("usage: top [--limit N]") + 1;
	if (cli->top_limit != NULL && (cli_parse_long(cli->top_limit, &max) < 0 || max < 1 ||
				       max > 100000))
		return cli_fail("--limit must be a whole number 1..100000, not \"%s\"",
				cli->top_limit);
	s = cli_get_store(cli, true);
	if (cli->json)
		fputc('[', stdout);
	else
		printf("%-40s %s\n", "owner", "used");
	if (s != NULL && store_limits_top(s, 0, (size_t)max, top_row, &o, (int64_t)time(NULL),
					  &err) != STORE_OK) {
		if (cli->json)
			fputs("]\n", stdout);
		return cli_fail("state store: %s", err);
	}
	if (cli->json)
		fputs("]\n", stdout);
	return 0;
}
