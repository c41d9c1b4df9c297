/*
 * NAME
 *	cmd_locks - chapps-cli's commands over user locks and the event journal
 * SUMMARY
 *	lock, unlock, locked, events
 * DESCRIPTION
 *	The user locks of the state store and the store's journal of events.
 *	These commands need the state store only, never the policy database.
 *	Each lock or unlock is also an event in the journal and, when alerts
 *	are configured, an alert.
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

#include "alert/alert.h"
#include "base/config.h"
#include "base/xalloc.h"
#include "store/store.h"
#include "cli/cli.h"

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
	cli_json_string(f, user);
	fputs(",\"by\":\"chapps-cli\"", f);
	if (reason != NULL) {
		fputs(",\"reason\":", f);
		cli_json_string(f, reason);
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

/* cli_cmd_lock - lock USER [REASON]: refuse (or hold) every message of USER until unlock */
int cli_cmd_lock(struct cli *cli, int argc, char **argv)
{
	int64_t now = (int64_t)time(NULL);
	struct store_lock_info info;
	const char *err, *reason;
	struct store *s;
	char since[32];
	int st;

	if (argc != 1 && argc != 2)
		return cli_fail("usage: lock USER [REASON]") + 1;
	if (argv[0][0] == '\0')
		return cli_fail("the user name is empty");
	reason = argc == 2 ? argv[1] : CLI_LOCK_REASON;
	if ((s = cli_make_store(cli, &err)) == NULL)
		return cli_fail("state store: %s", err);
	/* set first, then read the lock that won if another locked it first */
	st = store_lock_set(s, argv[0], strlen(argv[0]), reason, now, &err);
	if (st == STORE_REFUSED) {
		st = store_lock_get(s, argv[0], strlen(argv[0]), &info, &err);
		if (st == STORE_MISS)
			return cli_fail("user %s was unlocked meanwhile: try again", argv[0]);
		if (st != STORE_OK)
			return cli_fail("state store: %s", err);
		return cli_done(cli, "user %s was already locked since %s UTC: %s", argv[0],
				utc(info.since, since, sizeof(since)), info.reason);
	}
	if (st != STORE_OK)
		return cli_fail("state store: %s", err);
	lock_event(s, "lock", argv[0], reason, now);
	lock_alert(cli, ALERT_LOCK, argv[0], reason, now);
	return cli_done(cli, "user %s locked: %s", argv[0], reason);
}

/* cli_cmd_unlock - unlock USER: its mail passes again, its strikes are forgotten */
int cli_cmd_unlock(struct cli *cli, int argc, char **argv)
{
	const char *err = "";
	struct store *s;
	int st;

	if (argc != 1)
		return cli_fail("usage: unlock USER") + 1;
	if (argv[0][0] == '\0')
		return cli_fail("the user name is empty");
	s = cli_get_store(cli, false);
	if (s == NULL)
		return cli->cfg->store_backend == STORE_BACKEND_LMDB && !cli_store_exists(cli->cfg)
			? cli_done(cli, "user %s was not locked", argv[0])
			: cli_fail("state store: cannot open it");
	st = store_lock_clear(s, argv[0], strlen(argv[0]), &err);
	if (st == STORE_MISS)
		return cli_done(cli, "user %s was not locked", argv[0]);
	if (st != STORE_OK)
		return cli_fail("state store: %s", err);
	lock_event(s, "unlock", argv[0], NULL, (int64_t)time(NULL));
	lock_alert(cli, ALERT_UNLOCK, argv[0], NULL, (int64_t)time(NULL));
	return cli_done(cli, "user %s unlocked", argv[0]);
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

/* cli_cmd_locked - every locked user: user, since (UTC), reason; sorted by user */
int cli_cmd_locked(struct cli *cli, int argc, char **argv)
{
	struct lock_rows l = { NULL, 0 };
	const char *err = "";
	struct store *s;
	char since[32];
	int st = STORE_OK;

	(void)argv;
	if (argc != 0)
		return cli_fail("usage: locked") + 1;
	s = cli_get_store(cli, false);
	if (s == NULL && !(cli->cfg->store_backend == STORE_BACKEND_LMDB &&
			   !cli_store_exists(cli->cfg)))
		return cli_fail("state store: cannot open it");
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
				cli_json_string(stdout, l.r[i].reason);
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
	return st == STORE_OK ? 0 : cli_fail("state store: %s", err);
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

/* cli_cmd_events - events [-n N]: the newest N events of the store's journal, newest first */
int cli_cmd_events(struct cli *cli, int argc, char **argv)
{
	struct event_out o = { cli, 0 };
	const char *err = "";
	struct store *s;
	long n = CLI_EVENTS_DEFAULT;
	int st = STORE_OK;

	(void)argv;
	if (argc != 0)
		return cli_fail("usage: events [-n N]") + 1;
	if (cli->events_n != NULL && (cli_parse_long(cli->events_n, &n) < 0 || n < 1 ||
				      n > STORE_EVENTS_KEEP))
		return cli_fail("-n must be a whole number 1..%d, not \"%s\"", STORE_EVENTS_KEEP,
				cli->events_n);
	s = cli_get_store(cli, false);
	if (s == NULL && !(cli->cfg->store_backend == STORE_BACKEND_LMDB &&
			   !cli_store_exists(cli->cfg)))
		return cli_fail("state store: cannot open it");
	if (cli->json)
		fputc('[', stdout);
	if (s != NULL)
		st = store_events_list(s, (size_t)n, event_row, &o, &err);
	if (cli->json)
		fputs("]\n", stdout);
	return st == STORE_OK ? 0 : cli_fail("state store: %s", err);
}
