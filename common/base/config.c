/*
 * NAME
 *	config - table-driven loading and validation of chapps.conf
 * SUMMARY
 *	config_load(path) -> immutable struct config, or every problem found
 * DESCRIPTION
 *	One table (config_settings[]) names every setting: its full
 *	libconfig path, type, place in struct config, default and bounds.
 *	Loading:
 *	  1. fill every setting from its default;
 *	  2. parse the file (libconfig; @include is relative to the file);
 *	  3. walk the file's tree: every group must be a known section and
 *	     every value a known setting of the right type and range;
 *	  4. check rules that span settings and compile the user resolver
 *	     (config_check.c).
 *	Every problem is collected, not just the first, so that `-n` prints
 *	them all.  Each is "file:line: setting: problem".
 *	Defaults are written as text in the table and go through the same
 *	parsers as configured values (config_value.c), so a default can never
 *	bypass a check.  config_dump.c writes the effective configuration.
 * DIAGNOSTICS
 *	config_load returns -1 and the collected text.
 */
#include "autoconf.h"

#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/config-private.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "request/resolver.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

static const char *const store_backends[] = { "lmdb", "redis", NULL };
static const char *const policydb_backends[] = { "sqlite", "mariadb", NULL };
static const char *const on_error_names[] = { "tempfail", "accept", "reject", NULL };
static const char *const commit_names[] = { "data", "eom", NULL };
static const char *const outbound_names[] = { "sender_domain_auth", "quota", NULL };
static const char *const unknown_user_names[] = { "reject", "accept", NULL };
static const char *const flow_names[] = { "outbound", "inbound", NULL };
static const char *const inbound_names[] = { "spf", "greylisting", NULL };
static const char *const quota_action_names[] = { "reject", "tempfail", "quarantine", "lock",
						  NULL };
static const char *const mode_names[] = { "enforce", "monitor", NULL };

#define OFF(f) offsetof(struct config, f)
#define TEXT2(x) #x
#define TEXT(x) TEXT2(x)	/* a default's text, macros expanded */
#define S(p, f, d) { p, T_STRING, OFF(f), 0, d, 0, 0, NULL }
#define I(p, f, d, lo, hi) { p, T_INT, OFF(f), 0, TEXT(d), lo, hi, NULL }
#define Z(p, f, d, lo, hi) { p, T_SIZE, OFF(f), 0, #d, lo, hi, NULL }
#define B(p, f, d) { p, T_BOOL, OFF(f), 0, #d, 0, 0, NULL }
#define R(p, f, d) { p, T_REPLY, OFF(f), 0, d, 0, 0, NULL }
#define E(p, f, d, n) { p, T_ENUM, OFF(f), 0, d, 0, 0, n }
#define SL(p, f, d) { p, T_STRLIST, OFF(f), OFF(n_##f), d, 0, 0, NULL }
#define EL(p, f, d, n) { p, T_ENUMLIST, OFF(f), OFF(n_##f), d, 0, 0, n }
#define SA(p, slot, d) { p, T_SPFACTION, OFF(spf_actions) + (slot) * sizeof(struct spf_action), \
			 0, d, 0, 0, NULL }

const struct setting config_settings[] = {
	S("milter.socket", milter_socket, "inet:10225@127.0.0.1"),
	S("milter.user", milter_user, "chapps"),
	S("milter.group", milter_group, "chapps"),
	S("milter.pidfile", milter_pidfile, RUNSTATEDIR "/chapps/chapps-milter.pid"),
	{ "milter.umask", T_OCTAL, OFF(milter_umask), 0, "0007", 0, 0777, NULL },
	B("milter.run_as_root", milter_run_as_root, false),
	I("milter.timeout", milter_timeout, 7210, 1, 86400),
	I("milter.backlog", milter_backlog, 128, 1, 65535),

	{ "log.facility", T_FACILITY, OFF(log_facility), 0, "mail", 0, 0, NULL },
	{ "log.level", T_LOGLEVEL, OFF(log_level), 0, "info", 0, 0, NULL },
	B("log.accepts", log_accepts, true),

	Z("limits.value_max", limits.value_max, 1024, 64, 65536),
	Z("limits.address_max", limits.addr_max, 512, 64, 4096),
	Z("limits.esmtp_max", limits.esmtp_max, 1024, 64, 65536),
	Z("limits.recipients", limits.rcpt_max, 1000, 1, 100000),
	R("limits.reply", limits_reply, "554 5.5.4 Rejected - SMTP parameter exceeds limits"),
	R("limits.recipients_reply", rcpt_limit_reply, "452 4.5.3 Too many recipients"),

	S("identity.user_key", user_key, "sasl_username"),
	B("identity.require_user_key", require_user_key, true),
	SL("identity.search_order", search_order,
	   "sasl_username,ccert_subject,sender,client_address"),
	R("identity.no_user_key_reply", no_user_key_reply,
	  "554 5.7.1 Rejected - Authentication failed"),
	E("identity.mode", identity_mode, "enforce", mode_names),

	EL("outbound.policies", outbound_policies, "sender_domain_auth,quota", outbound_names),

	I("quota.interval", quota_interval, 86400, 60, 31536000),
	I("quota.resolution", quota_resolution, 300, 1, 86400),
	B("quota.counting_recipients", quota_counting_recipients, true),
	{ "quota.margin", T_MARGIN, OFF(quota_margin), 0, "0.10", 0, 0, NULL },
	R("quota.reply", quota_reply, "554 5.7.1 Rejected - outbound quota fulfilled"),
	E("quota.unknown_user", quota_unknown_user, "reject", unknown_user_names),
	R("quota.unknown_user_reply", quota_unknown_user_reply,
	  "554 5.7.1 Rejected - no quota for this user"),
	E("quota.on_error", quota_on_error, "tempfail", on_error_names),
	I("quota.on_error_deadline_ms", quota_on_error_deadline_ms, 2000, 100, 25000),
	R("quota.tempfail_reply", quota_tempfail_reply,
	  "451 4.3.0 Policy service temporarily unavailable - try again later"),
	R("quota.error_reply", quota_error_reply, "554 5.3.0 Policy service unavailable"),
	E("quota.commit", quota_commit, "data", commit_names),
	I("quota.reservation_ttl", quota_reservation_ttl, 3600, 30, 86400),
	R("quota.limit_reply", quota_limit_reply,
	  "554 5.7.1 Rejected - outbound quota fulfilled ({reason})"),
	S("quota.timezone", quota_timezone, ""),
	B("quota.count_null_sender", quota_count_null_sender, false),
	SL("quota.exempt_users", quota_exempt_users, ""),
	SL("quota.exempt_senders", quota_exempt_senders, ""),
	SL("quota.uncounted_domains", quota_uncounted_domains, ""),
	E("quota.action", quota_action, "reject", quota_action_names),
	I("quota.warn_at", quota_warn_at, 0, 0, 99),
	E("quota.mode", quota_mode, "enforce", mode_names),

	I("lock.after", lock_after, 3, 1, 1000),
	I("lock.window", lock_window, 3600, 1, 31536000),
	R("lock.reply", lock_reply, "554 5.7.1 Rejected - account locked"),
	B("lock.hold", lock_hold, false),
	B("lock.check", lock_check, true),

	E("store.backend", store_backend, "lmdb", store_backends),
	S("store.path", store_path, LOCALSTATEDIR "/lib/chapps/state"),
	I("store.map_size_mb", store_map_size_mb, 256, 1, 1048576),
	S("store.redis.server", redis_server, CONFIG_REDIS_SERVER_DEFAULT),
	I("store.redis.port", redis_port, CONFIG_REDIS_PORT_DEFAULT, 1, 65535),
	S("store.redis.socket", redis_socket, ""),
	S("store.redis.username", redis_username, ""),
	S("store.redis.password", redis_password, ""),
	I("store.redis.db", redis_db, 0, 0, 65535),
	SL("store.redis.sentinel_servers", redis_sentinel_servers, ""),
	S("store.redis.sentinel_dataset", redis_sentinel_dataset, ""),
	SL("store.redis.cluster", redis_cluster, ""),
	I("store.redis.connect_timeout_ms", redis_connect_timeout_ms,
	  CONFIG_REDIS_TIMEOUT_MS_DEFAULT, 10, 25000),
	I("store.redis.command_timeout_ms", redis_command_timeout_ms,
	  CONFIG_REDIS_TIMEOUT_MS_DEFAULT, 10, 25000),
	I("store.redis.pool_size", redis_pool_size, CONFIG_REDIS_POOL_SIZE_DEFAULT, 1, 1024),
	I("store.redis.wait_replicas", redis_wait_replicas, 0, 0, 16),
	B("store.redis.defer_commit", redis_defer_commit, true),

	E("policy_db.backend", policydb_backend, "sqlite", policydb_backends),
	S("policy_db.path", policydb_path, LOCALSTATEDIR "/lib/chapps/policy.db"),
	S("policy_db.host", policydb_host, "localhost"),
	I("policy_db.port", policydb_port, 3306, 1, 65535),
	S("policy_db.name", policydb_name, "chapps"),
	S("policy_db.user", policydb_user, "chapps"),
	S("policy_db.password", policydb_password, ""),
	I("policy_db.cache_ttl", policydb_cache_ttl, 300, 0, 86400),
	I("policy_db.timeout_ms", policydb_timeout_ms, 1000, 100, 25000),

	B("sender_domain_auth.null_sender_ok", sda_null_sender_ok, false),
	B("sender_domain_auth.subdomains", sda_subdomains, false),
	B("sender_domain_auth.local_part_casefold", sda_local_part_casefold, false),
	I("sender_domain_auth.cache_ttl", sda_cache_ttl, 300, 0, 86400),
	R("sender_domain_auth.reply", sda_reply,
	  "554 5.7.1 Rejected - not allowed to send mail from this domain"),
	R("sender_domain_auth.malformed_reply", sda_malformed_reply,
	  "553 5.1.7 Rejected - malformed sender address"),
	E("sender_domain_auth.on_error", sda_on_error, "tempfail", on_error_names),
	E("sender_domain_auth.mode", sda_mode, "enforce", mode_names),

	SL("listeners.inbound", listeners_inbound, "smtpd"),
	SL("listeners.outbound", listeners_outbound, "submission,smtps"),
	E("listeners.default", listeners_default, "outbound", flow_names),

	EL("inbound.policies", inbound_policies, "spf,greylisting", inbound_names),
	S("inbound.helo_whitelist", inbound_helo_whitelist, ""),
	E("inbound.on_error", inbound_on_error, "tempfail", on_error_names),
	R("inbound.tempfail_reply", inbound_tempfail_reply,
	  "451 4.3.0 Policy service temporarily unavailable - try again later"),
	R("inbound.error_reply", inbound_error_reply, "554 5.3.0 Policy service unavailable"),

	I("greylisting.min_delay", grey_min_delay, 60, 0, 86400),
	I("greylisting.retry_window", grey_retry_window, 86400, 60, 2592000),
	I("greylisting.lifetime", grey_lifetime, 3110400, 3600, 31536000),
	I("greylisting.whitelist_threshold", grey_whitelist_threshold, 10, 0, 1000000),
	I("greylisting.client_prefix_v4", grey_prefix_v4, 32, 8, 32),
	I("greylisting.client_prefix_v6", grey_prefix_v6, 128, 16, 128),
	B("greylisting.strip_srs_verp", grey_strip_srs_verp, false),
	R("greylisting.reply", grey_reply, "450 4.7.1 Service temporarily unavailable - greylisted"),
	E("greylisting.mode", grey_mode, "enforce", mode_names),

	I("spf.time_budget", spf_time_budget, 10, 1, 25),
	B("spf.add_header", spf_add_header, true),
	S("spf.receiver", spf_receiver, ""),
	S("spf.test_zone", spf_test_zone, ""),
	SA("spf.actions.pass", SPF_SLOT_PASS, "prepend"),
	SA("spf.actions.fail", SPF_SLOT_FAIL, "550 5.7.1 SPF check failed: {reason}"),
	SA("spf.actions.softfail", SPF_SLOT_SOFTFAIL, "greylist"),
	SA("spf.actions.none_neutral", SPF_SLOT_NONE_NEUTRAL, "greylist"),
	SA("spf.actions.temperror", SPF_SLOT_TEMPERROR,
	   "451 4.4.3 SPF record(s) temporarily unavailable: {reason}"),
	SA("spf.actions.permerror", SPF_SLOT_PERMERROR,
	   "550 5.5.2 SPF record(s) are malformed: {reason}"),
	E("spf.mode", spf_mode, "enforce", mode_names),

	S("api.listen", api_listen, "127.0.0.1:8080"),
	S("api.tls_cert", api_tls_cert, ""),
	S("api.tls_key", api_tls_key, ""),
	B("api.allow_plain_remote", api_allow_plain_remote, false),
	S("api.tokens", api_tokens, SYSCONFDIR "/chapps/api-tokens"),
	I("api.body_max", api_body_max, 65536, 1024, 16777216),
	I("api.timeout", api_timeout, 30, 1, 3600),
	I("api.threads", api_threads, 4, 1, 64),
	I("api.auth_fail_max", api_auth_fail_max, 10, 1, 100000),

	S("metrics.listen", metrics_listen, ""),
	S("metrics.token", metrics_token, ""),

	S("alerts.webhook_url", alerts_webhook_url, ""),
	S("alerts.webhook_token", alerts_webhook_token, ""),
	S("alerts.webhook_secret", alerts_webhook_secret, ""),
	I("alerts.webhook_timeout_ms", alerts_webhook_timeout_ms, 5000, 100, 60000),
	I("alerts.retries", alerts_retries, 5, 0, 20),
	I("alerts.interval", alerts_interval, 3600, 0, 604800),
	I("alerts.queue_size", alerts_queue_size, 1024, 1, 65536),
	S("alerts.mail_to", alerts_mail_to, ""),
	S("alerts.sendmail", alerts_sendmail, "/usr/sbin/sendmail"),
	I("alerts.timeout_ms", alerts_timeout_ms, 2000, 0, 60000),
};

#define N_SETTINGS (sizeof(config_settings) / sizeof(config_settings[0]))

const size_t config_n_settings = N_SETTINGS;

/* ---- error collection ------------------------------------------------- */

struct config_loader {
	struct config *cfg;
	const char *file;	/* for messages */
	int line[N_SETTINGS];	/* source line of each configured setting, 0 = default */
	const char *src[N_SETTINGS];	/* and its file (libconfig's, valid until checked) */
	char *errors;
	size_t errlen;
	int nerrors;
};

/* problem - record one "file:line: setting: text" line */
static void problem(struct config_loader *ld, const char *file, int line, const char *path,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void problem(struct config_loader *ld, const char *file, int line, const char *path,
		    const char *fmt, ...)
{
	char msg[1024], head[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(head, sizeof(head), "%s:%d: ", file ? file : ld->file, line);
	else
		snprintf(head, sizeof(head), "%s: ", file ? file : ld->file);
	char *l = xasprintf("%s%s%s%s\n", head, path ? path : "", path ? ": " : "", msg);
	size_t n = strlen(l);

	ld->errors = xrealloc(ld->errors, ld->errlen + n + 1);
	memcpy(ld->errors + ld->errlen, l, n + 1);
	ld->errlen += n;
	ld->nerrors++;
	free(l);
}

/* type_name - libconfig type for messages */
static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	default: return "something else";
	}
}

/* expected_name - what row wants, for messages */
static const char *expected_name(const struct setting *row)
{
	switch (row->type) {
	case T_INT: case T_SIZE: return "an integer";
	case T_BOOL: return "a boolean (true or false)";
	case T_MARGIN: return "an integer or a float";
	case T_STRLIST: case T_ENUMLIST: return "an array of strings, such as [ \"a\", \"b\" ]";
	default: return "a string";
	}
}

/* apply_setting - validate and store one setting from the file */
static void apply_setting(struct config_loader *ld, const struct setting *row, config_setting_t *s)
{
	int t = config_setting_type(s);
	const char *file = config_setting_source_file(s);
	int line = (int)config_setting_source_line(s);
	const char *err = NULL;
	bool type_ok = true;

	ld->line[row - config_settings] = line;
	ld->src[row - config_settings] = file;
	switch (row->type) {
	case T_INT:
	case T_SIZE:
		if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
			err = config_value_set_int(ld->cfg, row, config_setting_get_int64(s));
		else
			type_ok = false;
		break;
	case T_BOOL:
		if (t == CONFIG_TYPE_BOOL)
			*FIELD(ld->cfg, row, bool) = config_setting_get_bool(s) != 0;
		else
			type_ok = false;
		break;
	case T_MARGIN:
		if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
			err = config_value_set_margin_int(ld->cfg, row,
							  config_setting_get_int64(s));
		else if (t == CONFIG_TYPE_FLOAT)
			err = config_value_set_margin_float(ld->cfg, row,
							    config_setting_get_float(s));
		else
			type_ok = false;
		break;
	case T_STRLIST:
	case T_ENUMLIST:
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
			type_ok = false;
			break;
		}
		config_value_list_clear(ld->cfg, row);
		for (int i = 0; i < config_setting_length(s) && err == NULL; i++) {
			const char *item = config_setting_get_string_elem(s, i);

			if (item == NULL)
				err = "every entry must be a string";
			else if (*item == '\0')
				err = "entries must not be empty";
			else
				err = config_value_list_add(ld->cfg, row, item);
		}
		break;
	default:
		if (t == CONFIG_TYPE_STRING)
			err = config_value_set_string(ld->cfg, row, config_setting_get_string(s));
		else
			type_ok = false;
		break;
	}
	if (!type_ok)
		problem(ld, file, line, row->path, "must be %s, not %s", expected_name(row),
			type_name(t));
	else if (err != NULL)
		problem(ld, file, line, row->path, "%s", err);
}

/* find_row - the table row for a full path, or NULL */
static const struct setting *find_row(const char *path)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcmp(config_settings[i].path, path) == 0)
			return &config_settings[i];
	return NULL;
}

/*
 * The names issue 11 gave the lock and alert settings, accepted as the
 * same settings as their grouped form (chapps.conf(5) documents both).
 */
static const struct {
	const char *alias, *path;
} config_aliases[] = {
	{ "quota.lock_after", "lock.after" },
	{ "quota.lock_window", "lock.window" },
	{ "quota.locked_reply", "lock.reply" },
	{ "alerts.alert_interval", "alerts.interval" },
};

/* alias_row - the row path is another name of, or NULL */
static const struct setting *alias_row(const char *path)
{
	for (size_t i = 0; i < sizeof(config_aliases) / sizeof(config_aliases[0]); i++)
		if (strcmp(config_aliases[i].alias, path) == 0)
			return find_row(config_aliases[i].path);
	return NULL;
}

/* is_section - is path a group that holds settings? */
static bool is_section(const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strncmp(config_settings[i].path, path, n) == 0 &&
		    config_settings[i].path[n] == '.')
			return true;
	return false;
}

/* walk - check every setting under group s (whose path is prefix) */
static void walk(struct config_loader *ld, config_setting_t *group, const char *prefix)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		char path[256];
		const struct setting *row;

		if (name == NULL)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
		if ((row = find_row(path)) == NULL)
			row = alias_row(path);
		/* libconfig refuses a name twice in a group: only an alias can set a row again */
		if (row != NULL && ld->src[row - config_settings] != NULL) {
			problem(ld, config_setting_source_file(s),
				(int)config_setting_source_line(s), path,
				"set twice, as %s and under its other name (line %d)", row->path,
				ld->line[row - config_settings]);
			continue;
		}
		if (row != NULL) {
			apply_setting(ld, row, s);
		} else if (is_section(path)) {
			if (config_setting_type(s) != CONFIG_TYPE_GROUP)
				problem(ld, config_setting_source_file(s),
					(int)config_setting_source_line(s), path,
					"must be a group { ... }, not %s",
					type_name(config_setting_type(s)));
			else
				walk(ld, s, path);
		} else {
			problem(ld, config_setting_source_file(s),
				(int)config_setting_source_line(s), path,
				config_setting_type(s) == CONFIG_TYPE_GROUP ? "unknown section"
									    : "unknown setting");
		}
	}
}

void config_problem_at(struct config_loader *ld, const char *path, const char *fmt, ...)
{
	const struct setting *row = find_row(path);
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	problem(ld, row ? ld->src[row - config_settings] : NULL,
		row ? ld->line[row - config_settings] : 0, path, "%s", msg);
}

/*
 * includes_ok - check every @include of file (and of the files it
 * includes) names a regular file before libconfig sees it: libconfig 1.5's
 * scanner calls exit(2) on an empty name or a directory, which would take a
 * running milter down on reload.
 */
static bool includes_ok(struct config_loader *ld, const char *file, const char *dir, int depth)
{
	FILE *f = fopen(file, "r");
	char line[4096];
	int lineno = 0, c;
	bool ok = true;

	if (f == NULL)
		return true;	/* config_read_file reports it */
	/* a configuration file is text: a NUL byte confuses libconfig's scanner */
	while ((c = getc(f)) != EOF)
		if (c == '\0') {
			problem(ld, file, 0, NULL, "the file contains a NUL byte");
			fclose(f);
			return false;
		}
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *end, path[4096];
		struct stat st;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "@include", 8) != 0)
			continue;
		p += 8;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '"' || (end = strchr(p + 1, '"')) == NULL)
			continue;	/* a syntax error: libconfig reports it */
		*end = '\0';
		p++;
		if (*p == '/')
			snprintf(path, sizeof(path), "%s", p);
		else
			snprintf(path, sizeof(path), "%s/%s", dir, p);
		if (*p == '\0' || stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			problem(ld, file, lineno, NULL, "@include \"%s\": not a readable file", p);
			ok = false;
		} else if (depth >= 10) {
			problem(ld, file, lineno, NULL, "@include nested too deeply");
			ok = false;
		} else if (!includes_ok(ld, path, dir, depth + 1)) {
			ok = false;
		}
	}
	fclose(f);
	return ok;
}

/* config_free - free every owned field */
static void config_free(struct config *c)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *row = &config_settings[i];

		if (row->type == T_STRING)
			XFREE(*FIELD(c, row, char *));
		else if (row->type == T_REPLY)
			reply_clear(FIELD(c, row, struct reply));
		else if (row->type == T_STRLIST)
			config_value_list_clear(c, row);
		else if (row->type == T_SPFACTION)
			reply_clear(&FIELD(c, row, struct spf_action)->reply);
	}
	if (c->helo_whitelist != NULL && c->helo_whitelist_free != NULL)
		c->helo_whitelist_free(c->helo_whitelist);
	resolver_destroy(&c->resolver);
	free(c->file);
	free(c);
}

int config_load(const char *path, struct config **config_r, char **errors_r)
{
	struct config_loader ld;
	config_t lc;

	memset(&ld, 0, sizeof(ld));
	ld.cfg = xcalloc(1, sizeof(*ld.cfg));
	ld.cfg->file = xstrdup(path ? path : "");
	ld.file = path ? path : "(defaults)";
	ld.cfg->refcount = 1;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const char *err = config_value_set_default(ld.cfg, &config_settings[i]);

		if (err != NULL)
			log_panic("default of %s is invalid: %s", config_settings[i].path, err);
	}
	if (path != NULL) {
		char *dir = xstrdup(path), *slash = strrchr(dir, '/');

		config_init(&lc);
		if (slash != NULL) {
			*slash = '\0';
			config_set_include_dir(&lc, *dir ? dir : "/");
		}
		if (!includes_ok(&ld, path, slash != NULL ? (*dir ? dir : "/") : ".", 0)) {
			/* reported */
		} else if (config_read_file(&lc, path) != CONFIG_TRUE) {
			if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
				problem(&ld, NULL, 0, NULL, "cannot read the file: %s",
					strerror(errno ? errno : ENOENT));
			else
				problem(&ld, config_error_file(&lc), config_error_line(&lc), NULL,
					"syntax error: %s", config_error_text(&lc));
		} else {
			walk(&ld, config_root_setting(&lc), "");
			/* settings that failed keep their defaults: the checks still mean something */
			config_check(&ld, ld.cfg);
		}
		config_destroy(&lc);
		free(dir);
	} else {
		config_check(&ld, ld.cfg);
	}
	if (ld.nerrors > 0) {
		config_free(ld.cfg);
		*errors_r = ld.errors;
		return -1;
	}
	*config_r = ld.cfg;
	*errors_r = NULL;
	return 0;
}

struct config *config_ref(struct config *config)
{
	__atomic_add_fetch(&config->refcount, 1, __ATOMIC_ACQ_REL);
	return config;
}

void config_unref(struct config **config)
{
	struct config *c = *config;

	if (c == NULL)
		return;
	*config = NULL;
	if (__atomic_sub_fetch(&c->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(c);
}

const char *const *config_setting_names(void)
{
	static const char *names[N_SETTINGS + 1];

	for (size_t i = 0; i < N_SETTINGS; i++)
		names[i] = config_settings[i].path;
	names[N_SETTINGS] = NULL;
	return names;
}

void config_set_socket(struct config *config, const char *socket)
{
	XFREE(config->milter_socket);
	config->milter_socket = xstrdup(socket);
}

bool config_has_outbound_policy(const struct config *config, enum outbound_policy policy)
{
	for (int i = 0; i < config->n_outbound_policies; i++)
		if (config->outbound_policies[i] == (int)policy)
			return true;
	return false;
}

const char *config_policy_name(enum outbound_policy policy)
{
	return (unsigned)policy < 2 ? outbound_names[policy] : "?";
}

const char *config_quota_action_name(enum quota_action action)
{
	return (unsigned)action < 4 ? quota_action_names[action] : "?";
}

const char *config_on_error_name(enum on_error_action action)
{
	return (unsigned)action < 3 ? on_error_names[action] : "?";
}

bool config_has_inbound_policy(const struct config *config, enum inbound_policy policy)
{
	for (int i = 0; i < config->n_inbound_policies; i++)
		if (config->inbound_policies[i] == (int)policy)
			return true;
	return false;
}

bool config_inbound_possible(const struct config *config)
{
	return config->n_inbound_policies > 0 &&
	       (config->n_listeners_inbound > 0 || config->listeners_default == FLOW_INBOUND);
}

/* in_list - does name or port equal an entry of list? */
static bool in_list(char *const *list, int n, const char *name, const char *port)
{
	for (int i = 0; i < n; i++)
		if ((name != NULL && strcmp(list[i], name) == 0) ||
		    (port != NULL && strcmp(list[i], port) == 0))
			return true;
	return false;
}

enum flow config_flow(const struct config *c, const char *daemon_name, const char *daemon_port)
{
	if (in_list(c->listeners_outbound, c->n_listeners_outbound, daemon_name, daemon_port))
		return FLOW_OUTBOUND;
	if (in_list(c->listeners_inbound, c->n_listeners_inbound, daemon_name, daemon_port))
		return FLOW_INBOUND;
	return (enum flow)c->listeners_default;
}

void config_set_helo_whitelist(struct config *config, void *whitelist, void (*free_fn)(void *))
{
	if (config->helo_whitelist != NULL && config->helo_whitelist_free != NULL)
		config->helo_whitelist_free(config->helo_whitelist);
	config->helo_whitelist = whitelist;
	config->helo_whitelist_free = free_fn;
}

