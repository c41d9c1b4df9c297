/*
 * NAME
 *	check_config - unit tests of common/config (table-driven loader)
 * DESCRIPTION
 *	Good files (none, empty, comments only, every setting, @include) and
 *	a table of bad files, each with the exact "file:line: setting:
 *	problem" text config_load must give.  Bad files are written from the
 *	table into a mkdtemp directory; the other files are in
 *	tests/data/config (found through SRCDIR, so VPATH builds work).
 *	config_dump is checked against golden files (tests/data/defaults.dump
 *	with the configured state directories replaced by @localstatedir@ and
 *	@runstatedir@, and tests/data/config/full.dump) and by round trips
 *	through config_load.
 */
#include "autoconf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "request/resolver.h"

#include "check_main.h"
#include "test_util.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif
#define DATA SRCDIR "/tests/data"

/* ---- helpers ------------------------------------------------------------ */

static char tmpdir[256];

/* setup - a private directory for the files a test writes */
static void setup(void)
{
	ck_assert_msg(test_mkdtemp(tmpdir, sizeof(tmpdir), NULL, "check_config.XXXXXX") != NULL,
		      "mkdtemp: %s", strerror(errno));
}

/* teardown - remove the directory and what the test wrote in it */
static void teardown(void)
{
	test_rmtree(tmpdir);
}

/* write_file - write text to tmpdir/name; returns the path (static) */
static const char *write_file(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* read_all - the whole file, allocated */
static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t size = 0;
	FILE *m;
	int c;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	m = open_memstream(&buf, &size);
	while ((c = getc(f)) != EOF)
		putc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

/* replace - a new string: s with every from replaced by to */
static char *replace(const char *s, const char *from, const char *to)
{
	size_t flen = strlen(from);
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	const char *p;

	while (flen > 0 && (p = strstr(s, from)) != NULL) {
		fwrite(s, 1, (size_t)(p - s), m);
		fputs(to, m);
		s = p + flen;
	}
	fputs(s, m);
	fclose(m);
	return buf;
}

/* dump - config_dump into a new string */
static char *dump(const struct config *c)
{
	FILE *f = tmpfile();
	char *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	config_dump(c, f);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* body - the dump without its first (comment) line */
static const char *body(const char *d)
{
	const char *nl = strchr(d, '\n');

	return nl ? nl + 1 : d;
}

/* load_ok - config_load that must succeed */
static struct config *load_ok(const char *path)
{
	struct config *c = NULL;
	char *errors = NULL;

	ck_assert_msg(config_load(path, &c, &errors) == 0, "%s: got errors:\n%s, want none",
		      path ? path : "(defaults)", errors);
	ck_assert_ptr_null(errors);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* load_errors - config_load that must fail; returns the text (caller frees) */
static char *load_errors(const char *name, const char *path)
{
	struct config *c = NULL;
	char *errors = NULL;

	ck_assert_msg(config_load(path, &c, &errors) == -1, "%s: %s loaded, want errors", name,
		      path);
	ck_assert_ptr_nonnull(errors);
	return errors;
}

/* count_lines - number of '\n' in s */
static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- defaults and good files ----------------------------------------------- */

/* config_load(NULL): every setting has its documented default */
START_TEST(test_defaults)
{
	struct config *c = load_ok(NULL);
	char buf[256];

	ck_assert_str_eq(c->file, "");
	ck_assert_str_eq(c->milter_socket, "inet:10225@127.0.0.1");
	ck_assert_str_eq(c->milter_user, "chapps");
	ck_assert_str_eq(c->milter_pidfile, RUNSTATEDIR "/chapps/chapps-milter.pid");
	ck_assert_int_eq(c->milter_umask, 07);
	ck_assert(!c->milter_run_as_root);
	ck_assert_int_eq(c->milter_timeout, 7210);
	ck_assert_int_eq(c->log_facility, LOG_MAIL);
	ck_assert_int_eq(c->log_level, LOG_LEVEL_INFO);
	ck_assert(c->log_accepts);
	ck_assert_uint_eq(c->limits.value_max, REQUEST_VALUE_MAX_DEFAULT);
	ck_assert_uint_eq(c->limits.addr_max, REQUEST_ADDR_MAX_DEFAULT);
	ck_assert_uint_eq(c->limits.rcpt_max, REQUEST_RCPT_MAX_DEFAULT);
	ck_assert_uint_eq(c->limits.esmtp_max, REQUEST_ESMTP_MAX_DEFAULT);
	ck_assert_str_eq(reply_format(&c->rcpt_limit_reply, buf, sizeof(buf)),
			 "452 4.5.3 Too many recipients");
	ck_assert_str_eq(c->user_key, "sasl_username");
	ck_assert(c->require_user_key);
	ck_assert_int_eq(c->n_search_order, 4);
	ck_assert_str_eq(c->search_order[0], "sasl_username");
	ck_assert_str_eq(c->search_order[3], "client_address");
	ck_assert_ptr_nonnull(c->resolver);
	ck_assert_uint_eq(resolver_key_count(c->resolver), 1);
	ck_assert_str_eq(resolver_key_name(c->resolver, 0), "sasl_username");
	ck_assert_str_eq(reply_format(&c->no_user_key_reply, buf, sizeof(buf)),
			 "554 5.7.1 Rejected - Authentication failed");
	ck_assert(config_has_outbound_policy(c, OUTBOUND_POLICY_SDA));
	ck_assert(config_has_outbound_policy(c, OUTBOUND_POLICY_QUOTA));
	ck_assert_int_eq(c->quota_interval, 86400);
	ck_assert_int_eq(c->quota_resolution, 300);
	ck_assert(c->quota_counting_recipients);
	ck_assert(!c->quota_margin.absolute);
	ck_assert_msg(fabs(c->quota_margin.ratio - 0.1) < 1e-12, "margin ratio got %g, want 0.1",
		      c->quota_margin.ratio);
	ck_assert_str_eq(reply_format(&c->quota_reply, buf, sizeof(buf)),
			 "554 5.7.1 Rejected - outbound quota fulfilled");
	ck_assert_int_eq(c->quota_unknown_user, UNKNOWN_USER_REJECT);
	ck_assert_int_eq(c->quota_on_error, ON_ERROR_TEMPFAIL);
	ck_assert(c->quota_tempfail_reply.temporary);
	ck_assert(!c->quota_error_reply.temporary);
	ck_assert_int_eq(c->quota_commit, QUOTA_COMMIT_DATA);
	ck_assert_int_eq(c->store_backend, STORE_BACKEND_LMDB);
	ck_assert_str_eq(c->store_path, LOCALSTATEDIR "/lib/chapps/state");
	ck_assert_str_eq(c->redis_server, "127.0.0.1");
	ck_assert_int_eq(c->redis_port, 6379);
	ck_assert_int_eq(c->n_redis_sentinel_servers, 0);
	ck_assert_int_eq(c->policydb_backend, POLICYDB_BACKEND_SQLITE);
	ck_assert_str_eq(c->policydb_path, LOCALSTATEDIR "/lib/chapps/policy.db");
	ck_assert_int_eq(c->policydb_port, 3306);
	ck_assert(!c->sda_null_sender_ok);
	ck_assert(!c->sda_subdomains);
	ck_assert_int_eq(c->sda_on_error, ON_ERROR_TEMPFAIL);
	ck_assert_str_eq(reply_format(&c->sda_reply, buf, sizeof(buf)),
			 "554 5.7.1 Rejected - not allowed to send mail from this domain");
	ck_assert_int_eq(c->n_listeners_inbound, 1);
	ck_assert_str_eq(c->listeners_inbound[0], "smtpd");
	ck_assert_int_eq(c->n_listeners_outbound, 2);
	ck_assert_int_eq(c->listeners_default, FLOW_OUTBOUND);
	ck_assert(config_has_inbound_policy(c, INBOUND_POLICY_SPF));
	ck_assert(config_has_inbound_policy(c, INBOUND_POLICY_GREYLISTING));
	ck_assert(config_inbound_possible(c));
	ck_assert_int_eq(c->grey_min_delay, 60);
	ck_assert_int_eq(c->grey_retry_window, 86400);
	ck_assert(c->grey_reply.temporary);
	ck_assert_int_eq(c->spf_time_budget, 10);
	ck_assert_int_eq(c->spf_actions[SPF_SLOT_PASS].kind, SPF_ACTION_PREPEND);
	ck_assert_int_eq(c->spf_actions[SPF_SLOT_SOFTFAIL].kind, SPF_ACTION_GREYLIST);
	ck_assert_int_eq(c->spf_actions[SPF_SLOT_FAIL].kind, SPF_ACTION_REPLY);
	ck_assert_str_eq(c->spf_actions[SPF_SLOT_FAIL].reply.text, "SPF check failed: {reason}");
	ck_assert(c->spf_actions[SPF_SLOT_TEMPERROR].reply.temporary);
	config_unref(&c);
	ck_assert_ptr_null(c);
}
END_TEST

static const char *const neutral[] = { "empty.conf", "comments.conf" };

/* an empty file and a file of comments give exactly the defaults */
START_TEST(test_neutral_files)
{
	char path[512];
	struct config *d = load_ok(NULL), *c;
	char *dd, *dc;

	snprintf(path, sizeof(path), "%s/config/%s", DATA, neutral[_i]);
	c = load_ok(path);
	ck_assert_str_eq(c->file, path);
	dd = dump(d);
	dc = dump(c);
	ck_assert_msg(strcmp(body(dd), body(dc)) == 0, "%s: dump differs from the defaults",
		      neutral[_i]);
	free(dd);
	free(dc);
	config_unref(&d);
	config_unref(&c);
}
END_TEST

/* full.conf sets every setting: values as written, no line equal to a default */
START_TEST(test_full)
{
	struct config *d = load_ok(NULL), *c = load_ok(DATA "/config/full.conf");
	char *dd = dump(d), *dc = dump(c), *sd, *sc;
	char buf[256];
	int lines = 0;

	ck_assert_str_eq(c->milter_socket, "unix:/run/chapps/milter.sock");
	ck_assert_int_eq(c->milter_umask, 027);
	ck_assert_int_eq(c->log_facility, LOG_LOCAL3);
	ck_assert_int_eq(c->log_level, LOG_LEVEL_DEBUG);
	ck_assert_uint_eq(c->limits.rcpt_max, 500);
	ck_assert(!c->require_user_key);
	ck_assert_uint_eq(resolver_key_count(c->resolver), 4);
	ck_assert_str_eq(resolver_key_name(c->resolver, 0), "ccert_subject");
	ck_assert_uint_eq(resolver_macro_count(c->resolver), 1);
	ck_assert_str_eq(resolver_macro_name(c->resolver, 0), "{x_user}");
	ck_assert(!config_has_outbound_policy(c, OUTBOUND_POLICY_SDA));
	ck_assert(config_has_outbound_policy(c, OUTBOUND_POLICY_QUOTA));
	ck_assert(c->quota_margin.absolute);
	ck_assert_int_eq(c->quota_margin.count, 5);
	ck_assert_str_eq(c->quota_reply.milter_text, "Quota exceeded (100%% used)");
	ck_assert_int_eq(c->quota_on_error, ON_ERROR_REJECT);
	ck_assert_int_eq(c->quota_commit, QUOTA_COMMIT_EOM);
	ck_assert_int_eq(c->store_backend, STORE_BACKEND_REDIS);
	ck_assert_str_eq(c->redis_username, "chapps");
	ck_assert_int_eq(c->redis_wait_replicas, 1);
	ck_assert_str_eq(c->redis_password, "s3cret \"quoted\" \\ back");
	ck_assert_int_eq(c->n_redis_sentinel_servers, 2);
	ck_assert_str_eq(c->redis_sentinel_servers[1], "[2001:db8::1]:26380");
	ck_assert_int_eq(c->policydb_backend, POLICYDB_BACKEND_MARIADB);
	ck_assert_int_eq(c->sda_cache_ttl, 0);
	ck_assert_int_eq(c->sda_on_error, ON_ERROR_ACCEPT);
	ck_assert_str_eq(reply_format(&c->sda_malformed_reply, buf, sizeof(buf)),
			 "501 5.1.7 Bad sender");
	ck_assert_int_eq(c->listeners_default, FLOW_INBOUND);
	ck_assert(!config_has_inbound_policy(c, INBOUND_POLICY_SPF));
	ck_assert(config_has_inbound_policy(c, INBOUND_POLICY_GREYLISTING));
	ck_assert_int_eq(c->grey_prefix_v6, 64);
	ck_assert(c->grey_strip_srs_verp);
	ck_assert_str_eq(c->spf_receiver, "mx.example.com");
	ck_assert_int_eq(c->spf_actions[SPF_SLOT_PASS].kind, SPF_ACTION_GREYLIST);
	ck_assert_int_eq(c->spf_actions[SPF_SLOT_SOFTFAIL].kind, SPF_ACTION_PREPEND);
	ck_assert_int_eq(c->spf_actions[SPF_SLOT_PERMERROR].kind, SPF_ACTION_GREYLIST);
	ck_assert_int_eq(c->spf_actions[SPF_SLOT_TEMPERROR].kind, SPF_ACTION_REPLY);
	ck_assert_str_eq(reply_format(&c->spf_actions[SPF_SLOT_TEMPERROR].reply, buf, sizeof(buf)),
			 "450 4.4.3 SPF later: {reason}");

	/* compare the two dumps setting by setting */
	sd = dd;
	sc = dc;
	for (;;) {
		char *ed = strchr(sd, '\n'), *ec = strchr(sc, '\n');

		if (ed == NULL || ec == NULL) {
			ck_assert_msg(ed == NULL && ec == NULL, "dumps differ in length");
			break;
		}
		*ed = *ec = '\0';
		/* store.redis.cluster excludes the server and sentinels full.conf sets */
		if (strstr(sd, " = ") != NULL && strcmp(sd, "    cluster = [ ];") != 0) {
			lines++;
			ck_assert_msg(strcmp(sd, sc) != 0,
				      "full.conf leaves a setting at its default: \"%s\"", sd);
		}
		sd = ed + 1;
		sc = ec + 1;
	}
	ck_assert_msg(lines > 0, "no setting line in the dump");
	free(dd);
	free(dc);
	config_unref(&d);
	config_unref(&c);
}
END_TEST

/* @include is relative to the including file */
START_TEST(test_include)
{
	struct config *c = load_ok(DATA "/config/include.conf");

	ck_assert_int_eq(c->quota_interval, 7200);	/* before the include */
	ck_assert_int_eq(c->store_map_size_mb, 128);	/* in the included file */
	ck_assert_int_eq(c->log_level, LOG_LEVEL_WARNING);	/* after it */
	config_unref(&c);
}
END_TEST

/* ---- bad files ------------------------------------------------------------- */

#define UNKNOWN_KEY                                                                          \
	"unknown user key (expected sasl_username, sasl_method, sasl_sender, ccert_subject, " \
	"ccert_issuer, sender, client_address, client_name, helo_name or {macro})"
#define MARGIN_FLOAT "a float margin must be a ratio 0 <= m < 1 or a percentage 1 < m < 100"
#define MARGIN_INT "an integer margin is an absolute count and must be 0..1000000"

static const struct {
	const char *name;
	const char *text;	/* the file */
	/*
	 * every error, "FILE" standing for the path; without a final newline
	 * only the beginning of the one line (libconfig's own syntax text)
	 */
	const char *want;
} bad[] = {
	{ "unknown key", "quota:\n{\n  limt = 5;\n};\n", "FILE:3: quota.limt: unknown setting\n" },
	{ "unknown key in a subsection", "store: { redis: { hots = \"x\"; }; };\n",
	  "FILE:1: store.redis.hots: unknown setting\n" },
	{ "unknown section", "# c\nquotas:\n{\n  interval = 60;\n};\n",
	  "FILE:2: quotas: unknown section\n" },
	{ "unknown subsection", "store: {\n  redix: { port = 1; };\n};\n",
	  "FILE:2: store.redix: unknown section\n" },
	{ "unknown top-level setting", "verbose = true;\n", "FILE:1: verbose: unknown setting\n" },
	{ "string for an int", "quota: {\n  interval = \"86400\";\n};\n",
	  "FILE:2: quota.interval: must be an integer, not a string\n" },
	{ "float for an int", "milter: { timeout = 10.5; };\n",
	  "FILE:1: milter.timeout: must be an integer, not a float\n" },
	{ "int for a bool", "milter: { run_as_root = 1; };\n",
	  "FILE:1: milter.run_as_root: must be a boolean (true or false), not an integer\n" },
	{ "string for a bool", "log: { accepts = \"yes\"; };\n",
	  "FILE:1: log.accepts: must be a boolean (true or false), not a string\n" },
	{ "int for a string", "milter: { user = 0; };\n",
	  "FILE:1: milter.user: must be a string, not an integer\n" },
	{ "scalar for a group", "quota = 5;\n",
	  "FILE:1: quota: must be a group { ... }, not an integer\n" },
	{ "scalar for a subsection", "store: { redis = \"localhost\"; };\n",
	  "FILE:1: store.redis: must be a group { ... }, not a string\n" },
	{ "group for a scalar", "quota: { margin: { x = 1; }; };\n",
	  "FILE:1: quota.margin: must be an integer or a float, not a group\n" },
	{ "string for a list", "identity: { search_order = \"sender\"; };\n",
	  "FILE:1: identity.search_order: must be an array of strings, such as [ \"a\", \"b\" ], "
	  "not a string\n" },
	{ "number in a list", "identity: { search_order = ( \"sender\", 1 ); };\n",
	  "FILE:1: identity.search_order: every entry must be a string\n" },
	{ "empty list entry", "identity: { search_order = [ \"\" ]; };\n",
	  "FILE:1: identity.search_order: entries must not be empty\n" },
	{ "17 list entries",
	  "store: { redis: { sentinel_servers = [ \"a:1\", \"a:2\", \"a:3\", \"a:4\", \"a:5\", "
	  "\"a:6\", \"a:7\", \"a:8\", \"a:9\", \"a:10\", \"a:11\", \"a:12\", \"a:13\", \"a:14\", "
	  "\"a:15\", \"a:16\", \"a:17\" ]; }; };\n",
	  "FILE:1: store.redis.sentinel_servers: too many entries (at most 16)\n" },
	{ "below the minimum", "quota: { interval = 59; };\n",
	  "FILE:1: quota.interval: value 59 is out of range (60..31536000)\n" },
	{ "above the maximum", "limits:\n{\n  recipients = 100001;\n};\n",
	  "FILE:3: limits.recipients: value 100001 is out of range (1..100000)\n" },
	{ "negative size", "limits: { value_max = -1; };\n",
	  "FILE:1: limits.value_max: value -1 is out of range (64..65536)\n" },
	{ "64-bit value", "quota: { interval = 9999999999L; };\n",
	  "FILE:1: quota.interval: value 9999999999 is out of range (60..31536000)\n" },
	{ "quota.action unknown", "quota:\n{\n  action = \"hold\";\n};\n",
	  "FILE:3: quota.action: unknown value \"hold\" (expected one of \"reject\", "
	  "\"tempfail\", \"quarantine\", \"lock\")\n" },
	{ "quota.warn_at 100", "quota: { warn_at = 100; };\n",
	  "FILE:1: quota.warn_at: value 100 is out of range (0..99)\n" },
	{ "a mode that is not one", "quota: { mode = \"dry-run\"; };\nspf:\n{ mode = \"Monitor\"; };\n",
	  "FILE:1: quota.mode: unknown value \"dry-run\" (expected one of \"enforce\", "
	  "\"monitor\")\nFILE:3: spf.mode: unknown value \"Monitor\" (expected one of "
	  "\"enforce\", \"monitor\")\n" },
	{ "lock.after 0", "lock: { after = 0; window = 0; };\n",
	  "FILE:1: lock.after: value 0 is out of range (1..1000)\n"
	  "FILE:1: lock.window: value 0 is out of range (1..31536000)\n" },
	{ "lock.reply not a refusal", "lock: {\n reply = \"250 ok\"; };\n",
	  "FILE:2: lock.reply: reply must start with a 4xx or 5xx code\n" },
	{ "a setting under both its names", "lock: { after = 2; };\nquota: { lock_after = 5; };\n",
	  "FILE:2: quota.lock_after: set twice, as lock.after and under its other name (line 1)\n" },
	{ "an alias checked as its setting", "quota: { locked_reply = \"250 ok\"; };\n",
	  "FILE:1: lock.reply: reply must start with a 4xx or 5xx code\n" },
	{ "bad enum", "store: { backend = \"postgres\"; };\n",
	  "FILE:1: store.backend: unknown value \"postgres\" (expected one of \"lmdb\", "
	  "\"redis\")\n" },
	{ "enum is case-sensitive", "quota: { on_error = \"TEMPFAIL\"; };\n",
	  "FILE:1: quota.on_error: unknown value \"TEMPFAIL\" (expected one of \"tempfail\", "
	  "\"accept\", \"reject\")\n" },
	{ "bad enum list entry", "outbound: { policies = [ \"quota\", \"spf\" ]; };\n",
	  "FILE:1: outbound.policies: unknown entry \"spf\" (expected \"sender_domain_auth\", "
	  "\"quota\")\n" },
	{ "enum list entry twice", "outbound: { policies = [ \"quota\", \"quota\" ]; };\n",
	  "FILE:1: outbound.policies: entry \"quota\" appears twice\n" },
	{ "bad octal", "milter: { umask = \"0008\"; };\n",
	  "FILE:1: milter.umask: must be octal digits, such as \"0007\"\n" },
	{ "octal too big", "milter: { umask = \"01000\"; };\n",
	  "FILE:1: milter.umask: must be between 0000 and 0777\n" },
	{ "octal as an int", "milter: { umask = 7; };\n",
	  "FILE:1: milter.umask: must be a string, not an integer\n" },
	{ "bad facility", "log: { facility = \"kern\"; };\n",
	  "FILE:1: log.facility: unknown syslog facility (expected mail, daemon, user or "
	  "local0..local7)\n" },
	{ "bad level", "log: { level = \"loud\"; };\n",
	  "FILE:1: log.level: unknown level (expected error, warning, info or debug)\n" },
	{ "2xx reply", "quota: { reply = \"250 2.0.0 Ok\"; };\n",
	  "FILE:1: quota.reply: reply must start with a 4xx or 5xx code\n" },
	{ "reply class mismatch", "sender_domain_auth: { reply = \"554 4.7.1 No\"; };\n",
	  "FILE:1: sender_domain_auth.reply: enhanced status code class does not match the reply "
	  "code\n" },
	{ "reply without text", "limits: { reply = \"554 5.5.4\"; };\n",
	  "FILE:1: limits.reply: reply has no text\n" },
	{ "tempfail reply 5xx", "quota:\n{\n  tempfail_reply = \"554 5.3.0 No\";\n};\n",
	  "FILE:3: quota.tempfail_reply: must be a 4xx reply\n" },
	{ "error reply 4xx", "quota: { error_reply = \"451 4.3.0 Later\"; };\n",
	  "FILE:1: quota.error_reply: must be a 5xx reply\n" },
	{ "margin 1.0", "quota: { margin = 1.0; };\n",
	  "FILE:1: quota.margin: " MARGIN_FLOAT "\n" },
	{ "margin 100.0", "quota: { margin = 100.0; };\n",
	  "FILE:1: quota.margin: " MARGIN_FLOAT "\n" },
	{ "margin -0.5", "quota: { margin = -0.5; };\n",
	  "FILE:1: quota.margin: " MARGIN_FLOAT "\n" },
	{ "margin -1", "quota: { margin = -1; };\n", "FILE:1: quota.margin: " MARGIN_INT "\n" },
	{ "margin as a string", "quota: { margin = \"10%\"; };\n",
	  "FILE:1: quota.margin: must be an integer or a float, not a string\n" },
	{ "socket syntax", "milter: { socket = \"inet:abc@localhost\"; };\n",
	  "FILE:1: milter.socket: expected inet:PORT@HOST or inet6:PORT@HOST\n" },
	{ "socket scheme", "milter:\n{\n  socket = \"tcp:10025\";\n};\n",
	  "FILE:3: milter.socket: expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST\n" },
	{ "socket relative path", "milter: { socket = \"unix:chapps.sock\"; };\n",
	  "FILE:1: milter.socket: a unix socket needs an absolute path\n" },
	{ "require_user_key with user_key \"\"", "identity:\n{\n  user_key = \"\";\n};\n",
	  "FILE:3: identity.user_key: user_key must be set when require_user_key is true\n" },
	{ "unknown user_key", "identity: { user_key = \"sasl_user\"; };\n",
	  "FILE:1: identity.user_key: " UNKNOWN_KEY "\n" },
	{ "unknown search_order key",
	  "identity:\n{\n  require_user_key = false;\n  search_order = [ \"sasl_username\", "
	  "\"bogus\" ];\n};\n",
	  "FILE:4: identity.search_order: entry 2 (\"bogus\"): " UNKNOWN_KEY "\n" },
	/* a typo is a typo even while require_user_key makes the order unused */
	{ "unknown search_order key with require_user_key",
	  "identity:\n{\n  search_order = [ \"sasl_username\", \"bogus\" ];\n};\n",
	  "FILE:3: identity.search_order: entry 2 (\"bogus\"): " UNKNOWN_KEY "\n" },
	{ "nothing to search",
	  "identity: {\n  user_key = \"\";\n  require_user_key = false;\n"
	  "  search_order = [];\n};\n",
	  "FILE:4: identity.search_order: the search order is empty and no user_key is set\n" },
	{ "redis sentinel without dataset",
	  "store:\n{\n  backend = \"redis\";\n"
	  "  redis: { sentinel_servers = [ \"127.0.0.1:26379\" ]; };\n};\n",
	  "FILE: store.redis.sentinel_dataset: must name the master when sentinel_servers is "
	  "set\n" },
	{ "redis sentinel not host:port",
	  "store: {\n  backend = \"redis\";\n  redis: {\n"
	  "    sentinel_servers = [ \"localhost\" ];\n    sentinel_dataset = \"m\";\n  };\n};\n",
	  "FILE:4: store.redis.sentinel_servers: entry \"localhost\" must be host:port\n" },
	{ "redis cluster not host:port",
	  "store: {\n  backend = \"redis\";\n  redis: {\n"
	  "    cluster = [ \"127.0.0.1:7000\", \"node\" ];\n  };\n};\n",
	  "FILE:4: store.redis.cluster: entry \"node\" must be host:port\n" },
	{ "redis cluster and sentinels",
	  "store: {\n  backend = \"redis\";\n  redis: {\n"
	  "    sentinel_servers = [ \"127.0.0.1:26379\" ];\n    sentinel_dataset = \"m\";\n"
	  "    cluster = [ \"127.0.0.1:7000\" ];\n  };\n};\n",
	  "FILE:6: store.redis.cluster: cannot be used with store.redis.sentinel_servers\n" },
	{ "redis cluster and a server",
	  "store: {\n  backend = \"redis\";\n  redis: {\n    server = \"192.0.2.1\";\n"
	  "    cluster = [ \"127.0.0.1:7000\" ];\n  };\n};\n",
	  "FILE:5: store.redis.cluster: cannot be used with store.redis.server or port\n" },
	{ "redis cluster and a socket",
	  "store: {\n  backend = \"redis\";\n  redis: {\n    socket = \"/run/redis.sock\";\n"
	  "    cluster = [ \"127.0.0.1:7000\" ];\n  };\n};\n",
	  "FILE:5: store.redis.cluster: cannot be used with store.redis.socket\n" },
	{ "redis cluster and a db",
	  "store: {\n  backend = \"redis\";\n  redis: {\n    db = 2;\n"
	  "    cluster = [ \"127.0.0.1:7000\" ];\n  };\n};\n",
	  "FILE:4: store.redis.db: must be 0 with store.redis.cluster (a cluster has one "
	  "database)\n" },
	{ "redis timeout beyond the deadline",
	  "store: { backend = \"redis\"; redis: { command_timeout_ms = 1501; }; };\n",
	  "FILE:1: store.redis.command_timeout_ms: connect_timeout_ms + command_timeout_ms must "
	  "not exceed quota.on_error_deadline_ms (2000)\n" },
	{ "redis user name without a password",
	  "store: { backend = \"redis\"; redis: { username = \"chapps\"; }; };\n",
	  "FILE:1: store.redis.username: needs store.redis.password (AUTH user password)\n" },
	{ "redis without a server",
	  "store: { backend = \"redis\"; redis: { server = \"\"; }; };\n",
	  "FILE:1: store.redis.server: set server, socket or sentinel_servers\n" },
	{ "resolution above interval", "quota: {\n  interval = 3600;\n  resolution = 7200;\n};\n",
	  "FILE:3: quota.resolution: must not be longer than quota.interval (3600)\n" },
	{ "too many buckets", "quota: { resolution = 1; };\n",
	  "FILE:1: quota.resolution: quota.interval / quota.resolution must be at most 4096 "
	  "buckets (86400 / 1 = 86400)\n" },
	{ "relative lmdb path", "store: { path = \"state\"; };\n",
	  "FILE:1: store.path: must be an absolute path\n" },
	{ "relative sqlite path", "policy_db: { path = \"policy.db\"; };\n",
	  "FILE:1: policy_db.path: must be an absolute path\n" },
	{ "mariadb without a name", "policy_db: { backend = \"mariadb\"; name = \"\"; };\n",
	  "FILE:1: policy_db.name: must name the database\n" },
	{ "bad listeners.default", "listeners: { default = \"both\"; };\n",
	  "FILE:1: listeners.default: unknown value \"both\" (expected one of \"outbound\", "
	  "\"inbound\")\n" },
	{ "inbound policy twice", "inbound: { policies = [ \"spf\", \"spf\" ]; };\n",
	  "FILE:1: inbound.policies: entry \"spf\" appears twice\n" },
	{ "inbound tempfail reply 5xx", "inbound: { tempfail_reply = \"554 5.3.0 No\"; };\n",
	  "FILE:1: inbound.tempfail_reply: must be a 4xx reply\n" },
	{ "inbound error reply 4xx", "inbound: { error_reply = \"451 4.3.0 Later\"; };\n",
	  "FILE:1: inbound.error_reply: must be a 5xx reply\n" },
	{ "greylisting reply 5xx", "greylisting:\n{\n  reply = \"550 5.7.1 Go away\";\n};\n",
	  "FILE:3: greylisting.reply: must be a 4xx reply: a greylisted sender must retry\n" },
	{ "greylisting delay not below the window",
	  "greylisting: { min_delay = 3600; retry_window = 3600; };\n",
	  "FILE:1: greylisting.min_delay: must be shorter than greylisting.retry_window "
	  "(3600)\n" },
	{ "greylisting prefix out of range", "greylisting: { client_prefix_v4 = 33; };\n",
	  "FILE:1: greylisting.client_prefix_v4: value 33 is out of range (8..32)\n" },
	{ "policy_db timeout beyond the deadline", "policy_db: { timeout_ms = 1001; };\n",
	  "FILE:1: policy_db.timeout_ms: twice this (connect + read) must not exceed "
	  "quota.on_error_deadline_ms (2000)\n" },
	{ "bad spf action", "spf: { actions: { fail = \"reject\"; }; };\n",
	  "FILE:1: spf.actions.fail: expected \"prepend\", \"greylist\" or a reply such as "
	  "\"550 5.7.1 SPF check failed: {reason}\" (reply must start with a 4xx or 5xx code)\n" },
	{ "unknown spf action key", "spf: { actions: { error = \"greylist\"; }; };\n",
	  "FILE:1: spf.actions.error: unknown setting\n" },
	{ "syntax error", "quota:\n{\n  margin = 0.1;\n  x = ;\n};\n", "FILE:4: syntax error: " },
	{ "duplicate setting", "quota: {\n  interval = 60;\n  interval = 120;\n};\n",
	  "FILE:3: syntax error: " },
	{ "missing include", "# c\n@include \"nowhere.conf\"\n",
	  "FILE:2: @include \"nowhere.conf\": not a readable file\n" },
	{ "empty include (libconfig would exit)", "@include \"\"\n",
	  "FILE:1: @include \"\": not a readable file\n" },
	{ "include of a directory (libconfig would exit)", "@include \".\"\n",
	  "FILE:1: @include \".\": not a readable file\n" },
	{ "several problems, all reported",
	  "milter: {\n  timeout = \"x\";\n  bogus = 1;\n};\nquota: {\n  interval = 1;\n"
	  "  on_error = \"retry\";\n};\nlog: { level = 3; };\n",
	  "FILE:2: milter.timeout: must be an integer, not a string\n"
	  "FILE:3: milter.bogus: unknown setting\n"
	  "FILE:6: quota.interval: value 1 is out of range (60..31536000)\n"
	  "FILE:7: quota.on_error: unknown value \"retry\" (expected one of \"tempfail\", "
	  "\"accept\", \"reject\")\n"
	  "FILE:9: log.level: must be a string, not an integer\n" },
	/* header: "every problem found"; a setting problem must not hide a check */
	{ "setting and cross-setting problems, all reported",
	  "quota: {\n  limt = 5;\n};\nmilter: {\n  socket = \"bogus\";\n};\n",
	  "FILE:2: quota.limt: unknown setting\n"
	  "FILE:5: milter.socket: expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST\n" },
};

/* each bad file gives exactly the expected "file:line: setting: problem" lines */
START_TEST(test_bad)
{
	const char *path = write_file("bad.conf", bad[_i].text);
	char *errors = load_errors(bad[_i].name, path);
	char *want = replace(bad[_i].want, "FILE", path);
	size_t wlen = strlen(want);

	if (wlen > 0 && want[wlen - 1] != '\n')
		ck_assert_msg(strncmp(errors, want, wlen) == 0 &&
				      count_lines(errors) == 1,
			      "%s:\n got \"%s\"\nwant \"%s...\" (one line)", bad[_i].name, errors,
			      want);
	else
		ck_assert_msg(strcmp(errors, want) == 0, "%s:\n got \"%s\"\nwant \"%s\"",
			      bad[_i].name, errors, want);
	free(want);
	free(errors);
}
END_TEST

/* a file that does not exist */
START_TEST(test_missing_file)
{
	char path[512], *errors, *want;

	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	errors = load_errors("missing file", path);
	want = replace("FILE: cannot read the file: No such file or directory\n", "FILE", path);
	ck_assert_msg(strcmp(errors, want) == 0, "got \"%s\", want \"%s\"", errors, want);
	free(want);
	free(errors);
}
END_TEST

/* a problem inside an included file names that file and its line */
START_TEST(test_include_bad_key)
{
	char *errors = load_errors("include bad key", DATA "/config/include-bad-key.conf");
	const char *want = "include.d/bad-key.conf:4: quota.limt: unknown setting\n";

	ck_assert_msg(strstr(errors, want) != NULL && count_lines(errors) == 1,
		      "got \"%s\", want \"...%s\"", errors, want);
	free(errors);
}
END_TEST

/* so does a cross-setting check of a value that comes from an included file */
START_TEST(test_include_bad_socket)
{
	char *errors = load_errors("include bad socket",
				    DATA "/config/include-bad-socket.conf");
	const char *want = "include.d/bad-socket.conf:4: milter.socket: expected inet:PORT@HOST "
			   "or inet6:PORT@HOST\n";

	ck_assert_msg(strstr(errors, want) != NULL && count_lines(errors) == 1,
		      "got \"%s\", want \"...%s\"", errors, want);
	free(errors);
}
END_TEST

/* ---- margin, socket --------------------------------------------------------- */

static const struct {
	const char *value;
	bool absolute;
	long count;
	double ratio;
} margins[] = {
	{ "5", true, 5, 0 },
	{ "0", true, 0, 0 },
	{ "1000000", true, 1000000, 0 },
	{ "0.1", false, 0, 0.1 },
	{ "0.0", false, 0, 0 },
	{ "0.99", false, 0, 0.99 },
	{ "50.0", false, 0, 0.5 },
	{ "1.5", false, 0, 0.015 },
	{ "99.5", false, 0, 0.995 },
};

/* CHAPPS's margin grammar: int = count, float < 1 = ratio, 1 < float < 100 = percent */
START_TEST(test_margin)
{
	char text[128];
	struct config *c;

	snprintf(text, sizeof(text), "quota: { margin = %s; };\n", margins[_i].value);
	c = load_ok(write_file("margin.conf", text));
	ck_assert_msg(c->quota_margin.absolute == margins[_i].absolute,
		      "margin %s: absolute got %d, want %d", margins[_i].value,
		      c->quota_margin.absolute, margins[_i].absolute);
	ck_assert_msg(c->quota_margin.count == margins[_i].count,
		      "margin %s: count got %ld, want %ld", margins[_i].value,
		      c->quota_margin.count, margins[_i].count);
	ck_assert_msg(fabs(c->quota_margin.ratio - margins[_i].ratio) < 1e-12,
		      "margin %s: ratio got %.17g, want %.17g", margins[_i].value,
		      c->quota_margin.ratio, margins[_i].ratio);
	config_unref(&c);
}
END_TEST

static const struct {
	const char *socket;
	bool ok;
} sockets[] = {
	{ "unix:/run/chapps/milter.sock", true },
	{ "local:/var/run/m.sock", true },
	{ "inet:10025", true },
	{ "inet:10025@127.0.0.1", true },
	{ "inet:10025@localhost", true },
	{ "inet6:10025@::1", true },
	{ "inet:65535@127.0.0.1", true },
	{ "unix:relative.sock", false },
	{ "unix:", false },
	{ "inet:", false },
	{ "inet:0@127.0.0.1", false },
	{ "inet:65536@127.0.0.1", false },
	{ "inet:port@127.0.0.1", false },
	{ "inet:10025@", false },
	{ "inet:10025x", false },
	{ "inet6:@::1", false },
	{ "tcp:10025", false },
	{ "/run/chapps.sock", false },
	{ "", false },
};

/* issue 11's names (quota.lock_after, ...) set the grouped settings */
START_TEST(test_aliases)
{
	struct config *c = load_ok(write_file("alias.conf",
		"quota: { lock_after = 5; lock_window = 600; locked_reply = \"550 5.7.1 locked\"; };\n"
		"alerts: { alert_interval = 60; };\n"));
	char buf[128];

	ck_assert_int_eq(c->lock_after, 5);
	ck_assert_int_eq(c->lock_window, 600);
	ck_assert_str_eq(reply_format(&c->lock_reply, buf, sizeof(buf)), "550 5.7.1 locked");
	ck_assert_int_eq(c->alerts_interval, 60);
	config_unref(&c);
}
END_TEST

/* config_socket_problem accepts libmilter's socket syntax and nothing else */
START_TEST(test_socket)
{
	const char *p = config_socket_problem(sockets[_i].socket);

	if (sockets[_i].ok)
		ck_assert_msg(p == NULL, "\"%s\": got \"%s\", want valid", sockets[_i].socket, p);
	else
		ck_assert_msg(p != NULL, "\"%s\": got valid, want a problem", sockets[_i].socket);
}
END_TEST

/* ---- dump ---------------------------------------------------------------------- */

/* normalize_dirs - the defaults' dump with the configured directories replaced */
static char *normalize_dirs(const char *d)
{
	/* RUNSTATEDIR first: it usually begins with LOCALSTATEDIR */
	char *a = replace(d, RUNSTATEDIR, "@runstatedir@");
	char *b = replace(a, LOCALSTATEDIR, "@localstatedir@");
	char *c = replace(b, SYSCONFDIR "/", "@sysconfdir@/");	/* api.tokens */

	free(a);
	free(b);
	return c;
}

/* the defaults' dump equals tests/data/defaults.dump */
START_TEST(test_golden_defaults)
{
	struct config *c = load_ok(NULL);
	char *d = dump(c), *got = normalize_dirs(d), *want = read_all(DATA "/defaults.dump");

	ck_assert_msg(strcmp(got, want) == 0,
		      "dump of the defaults differs from tests/data/defaults.dump:\n%s", got);
	free(d);
	free(got);
	free(want);
	config_unref(&c);
}
END_TEST

/* full.conf's dump equals tests/data/config/full.dump */
START_TEST(test_golden_full)
{
	struct config *c = load_ok(DATA "/config/full.conf");
	char *d = dump(c), *got = replace(d, SRCDIR, "@srcdir@");
	char *want = read_all(DATA "/config/full.dump");

	ck_assert_msg(strcmp(got, want) == 0,
		      "dump of full.conf differs from tests/data/config/full.dump:\n%s", got);
	free(d);
	free(got);
	free(want);
	config_unref(&c);
}
END_TEST

static const char *const round_trip[] = { NULL, "config/full.conf", "config/include.conf" };

/* a dump loads back, and dumping that gives the same text */
START_TEST(test_round_trip)
{
	char path[512];
	struct config *c, *back;
	char *d1, *d2;

	if (round_trip[_i] != NULL)
		snprintf(path, sizeof(path), "%s/%s", DATA, round_trip[_i]);
	c = load_ok(round_trip[_i] ? path : NULL);
	d1 = dump(c);
	back = load_ok(write_file("dump.conf", d1));
	d2 = dump(back);
	ck_assert_msg(strcmp(body(d1), body(d2)) == 0, "%s: round trip changed the dump:\n%s\n%s",
		      round_trip[_i] ? round_trip[_i] : "defaults", d1, d2);
	free(d1);
	free(d2);
	config_unref(&c);
	config_unref(&back);
}
END_TEST

/* a dumped float margin loads back to the same ratio */
START_TEST(test_margin_dump_exact)
{
	struct config *c = load_ok(write_file("m.conf", "quota: { margin = 0.123456789; };\n"));
	char *d = dump(c);
	struct config *back = load_ok(write_file("m2.conf", d));

	ck_assert_msg(back->quota_margin.ratio == c->quota_margin.ratio,
		      "margin 0.123456789: dumped and loaded back as %.17g, want %.17g",
		      back->quota_margin.ratio, c->quota_margin.ratio);
	free(d);
	config_unref(&c);
	config_unref(&back);
}
END_TEST

/* quotes and backslashes are escaped in the dump */
START_TEST(test_dump_escapes)
{
	struct config *c =
		load_ok(write_file("e.conf", "milter: { user = \"a\\\"b\\\\c\"; };\n"));
	char *d = dump(c);
	struct config *back;

	ck_assert_str_eq(c->milter_user, "a\"b\\c");
	ck_assert_msg(strstr(d, "  user = \"a\\\"b\\\\c\";\n") != NULL,
		      "dump lacks the escaped user:\n%s", d);
	back = load_ok(write_file("e2.conf", d));
	ck_assert_str_eq(back->milter_user, "a\"b\\c");
	free(d);
	config_unref(&c);
	config_unref(&back);
}
END_TEST

/* config_setting_names: every setting of the dump, in order, each once */
START_TEST(test_setting_names)
{
	const char *const *names = config_setting_names();
	struct config *c = load_ok(NULL);
	char *d = dump(c), *line = d;
	size_t n = 0;

	for (; names[n] != NULL; n++) {
		const char *leaf = strrchr(names[n], '.');
		char want[128];
		char *eq;

		ck_assert_msg(leaf != NULL, "\"%s\" is not in a section", names[n]);
		for (size_t m = 0; m < n; m++)
			ck_assert_msg(strcmp(names[m], names[n]) != 0, "\"%s\" is listed twice",
				      names[n]);
		/* the next setting line of the dump names this leaf */
		while ((eq = strstr(line, " = ")) != NULL && strchr(line, '\n') < eq)
			line = strchr(line, '\n') + 1;
		ck_assert_msg(eq != NULL, "dump has no line for \"%s\"", names[n]);
		snprintf(want, sizeof(want), "%s = ", leaf + 1);
		ck_assert_msg(strncmp(eq - strlen(leaf + 1), want, strlen(want)) == 0,
			      "setting %zu: dump line does not name \"%s\"", n, names[n]);
		line = strchr(eq, '\n') + 1;
	}
	ck_assert_msg(strstr(line, " = ") == NULL, "the dump has more settings than the %zu names",
		      n);
	ck_assert_msg(n >= 60, "got %zu setting names, want every setting (60 or more)", n);
	free(d);
	config_unref(&c);
}
END_TEST

static const struct {
	const char *name;
	bool full;		/* full.conf, else the defaults */
	const char *daemon_name, *daemon_port;
	enum flow want;
} flows[] = {
	{ "default inbound listener", false, "smtpd", "25", FLOW_INBOUND },
	{ "default outbound listener", false, "submission", "587", FLOW_OUTBOUND },
	{ "default smtps", false, "smtps", NULL, FLOW_OUTBOUND },
	{ "default unknown listener", false, "other", "2525", FLOW_OUTBOUND },
	{ "default no macros", false, NULL, NULL, FLOW_OUTBOUND },
	{ "listener by port", true, NULL, "25", FLOW_INBOUND },
	{ "listener by name", true, "mx", NULL, FLOW_INBOUND },
	{ "outbound by name", true, "submission", "587", FLOW_OUTBOUND },
	{ "full unknown listener", true, "other", "2525", FLOW_INBOUND },
};

/* config_flow: the listener lists, then listeners.default */
START_TEST(test_flow)
{
	struct config *c = load_ok(flows[_i].full ? DATA "/config/full.conf" : NULL);
	enum flow got = config_flow(c, flows[_i].daemon_name, flows[_i].daemon_port);

	ck_assert_msg(got == flows[_i].want, "%s: got %d, want %d", flows[_i].name, got,
		      flows[_i].want);
	config_unref(&c);
}
END_TEST

static const struct {
	const char *text;
	bool want;
} inbound_possible[] = {
	{ "", true },
	{ "inbound: { policies = []; };\n", false },
	{ "listeners: { inbound = []; };\n", false },
	{ "listeners: { inbound = []; default = \"inbound\"; };\n", true },
	{ "listeners: { inbound = []; default = \"inbound\"; };\n"
	  "inbound: { policies = []; };\n", false },
};

/* config_inbound_possible: an inbound listener or default, and a policy */
START_TEST(test_inbound_possible)
{
	struct config *c = load_ok(write_file("in.conf", inbound_possible[_i].text));

	ck_assert_msg(config_inbound_possible(c) == inbound_possible[_i].want,
		      "\"%s\": got %d, want %d", inbound_possible[_i].text,
		      config_inbound_possible(c), inbound_possible[_i].want);
	config_unref(&c);
}
END_TEST

static int whitelist_frees;

/* free_whitelist - count and free a fake HELO whitelist */
static void free_whitelist(void *p)
{
	whitelist_frees++;
	free(p);
}

/* config_set_helo_whitelist: replaced and final whitelists are freed once */
START_TEST(test_helo_whitelist)
{
	struct config *c = load_ok(NULL);

	whitelist_frees = 0;
	config_set_helo_whitelist(c, malloc(16), free_whitelist);
	config_set_helo_whitelist(c, malloc(16), free_whitelist);
	ck_assert_int_eq(whitelist_frees, 1);
	config_unref(&c);
	ck_assert_int_eq(whitelist_frees, 2);
}
END_TEST

/* ---- references, helpers ----------------------------------------------------- */

/* config_ref/config_unref: the last unref frees (valgrind checks the rest) */
START_TEST(test_refcount)
{
	struct config *c = load_ok(NULL), *r1, *r2, *none = NULL;

	r1 = config_ref(c);
	ck_assert_ptr_eq(r1, c);
	r2 = config_ref(c);
	ck_assert_int_eq(c->refcount, 3);
	config_unref(&c);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(r1->refcount, 2);
	ck_assert_str_eq(r1->milter_socket, "inet:10225@127.0.0.1");
	config_unref(&r1);
	ck_assert_ptr_null(r1);
	ck_assert_str_eq(r2->user_key, "sasl_username");
	config_unref(&r2);
	ck_assert_ptr_null(r2);
	config_unref(&none);
}
END_TEST

/* config_set_socket, the name helpers */
START_TEST(test_helpers)
{
	struct config *c = load_ok(NULL);

	config_set_socket(c, "unix:/tmp/x.sock");
	ck_assert_str_eq(c->milter_socket, "unix:/tmp/x.sock");
	ck_assert_str_eq(config_policy_name(OUTBOUND_POLICY_SDA), "sender_domain_auth");
	ck_assert_str_eq(config_policy_name(OUTBOUND_POLICY_QUOTA), "quota");
	ck_assert_str_eq(config_policy_name((enum outbound_policy)7), "?");
	ck_assert_str_eq(config_on_error_name(ON_ERROR_TEMPFAIL), "tempfail");
	ck_assert_str_eq(config_on_error_name(ON_ERROR_ACCEPT), "accept");
	ck_assert_str_eq(config_on_error_name(ON_ERROR_REJECT), "reject");
	ck_assert_str_eq(config_on_error_name((enum on_error_action)7), "?");
	config_unref(&c);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("good");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_neutral_files, 0, sizeof(neutral) / sizeof(neutral[0]));
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_include);
	tcase_add_loop_test(tc, test_margin, 0, sizeof(margins) / sizeof(margins[0]));
	tcase_add_loop_test(tc, test_socket, 0, sizeof(sockets) / sizeof(sockets[0]));
	tcase_add_loop_test(tc, test_flow, 0, sizeof(flows) / sizeof(flows[0]));
	tcase_add_loop_test(tc, test_inbound_possible, 0,
			    sizeof(inbound_possible) / sizeof(inbound_possible[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("bad");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_include_bad_key);
	tcase_add_test(tc, test_include_bad_socket);
	suite_add_tcase(s, tc);

	tc = tcase_create("dump");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_golden_defaults);
	tcase_add_test(tc, test_golden_full);
	tcase_add_loop_test(tc, test_round_trip, 0, sizeof(round_trip) / sizeof(round_trip[0]));
	tcase_add_test(tc, test_margin_dump_exact);
	tcase_add_test(tc, test_dump_escapes);
	tcase_add_test(tc, test_setting_names);
	tcase_add_test(tc, test_aliases);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_test(tc, test_refcount);
	tcase_add_test(tc, test_helpers);
	tcase_add_test(tc, test_helo_whitelist);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
