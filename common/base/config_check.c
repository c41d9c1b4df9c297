/*
 * NAME
 *	config_check - the configuration rules that span several settings
 * SUMMARY
 *	config_check(ld, c) after the table walk; config_socket_problem(s)
 * DESCRIPTION
 *	What one row's bounds cannot say: replies that must be 4xx or 5xx,
 *	quota.resolution against quota.interval, the store's and the policy
 *	database's settings for the backend chosen (Sentinel entries are
 *	split by hostport_parse, the one parser the Redis engine uses too),
 *	timeouts against quota.on_error_deadline_ms, listeners named twice,
 *	the alerts' webhook URL (http or https only) and mail address,
 *	and the user resolver, compiled here.  Every problem is reported at
 *	the line of the setting it names (config_problem_at).
 * DIAGNOSTICS
 *	Problems are collected in the loader; nothing is fatal.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/config-private.h"
#include "base/hostport.h"
#include "request/resolver.h"

const char *config_socket_problem(const char *s)
{
	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0)
		return s[s[0] == 'u' ? 5 : 6] == '/' ? NULL
						     : "a unix socket needs an absolute path";
	if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0) {
		const char *p = s + (s[4] == ':' ? 5 : 6);
		char *end;
		long port = strtol(p, &end, 10);

		if (end == p || port < 1 || port > 65535 || (*end != '\0' && *end != '@'))
			return "expected inet:PORT@HOST or inet6:PORT@HOST";
		if (*end == '@' && end[1] == '\0')
			return "expected a host after '@'";
		return NULL;
	}
	return "expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST";
}

const char *config_url_problem(const char *s)
{
	size_t skip;

	if (strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else
		return "must be an http:// or https:// URL";
	if (s[skip] == '\0' || s[skip] == '/')
		return "must name a host after the scheme";
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "must not hold spaces or control characters";
	return NULL;
}

/* check_alerts - the alerts section: the webhook URL, the mail address and sendmail */
static void check_alerts(struct config_loader *ld, const struct config *c)
{
	const char *err;

	if (c->alerts_webhook_url[0] != '\0' &&
	    (err = config_url_problem(c->alerts_webhook_url)) != NULL)
		config_problem_at(ld, "alerts.webhook_url", "%s", err);
	for (int i = 0; i < 2; i++)
		for (const char *p = i ? c->alerts_webhook_secret : c->alerts_webhook_token; *p; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f) {
				config_problem_at(ld, i ? "alerts.webhook_secret"
							: "alerts.webhook_token",
						  "must not hold control characters");
				break;
			}
	if (c->alerts_mail_to[0] == '-')
		config_problem_at(ld, "alerts.mail_to", "must not start with '-'");
	for (const char *p = c->alerts_mail_to; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ',') {
			config_problem_at(ld, "alerts.mail_to",
					  "must be one address (no spaces, commas or control "
					  "characters)");
			break;
		}
	if (c->alerts_mail_to[0] != '\0' && c->alerts_sendmail[0] != '/')
		config_problem_at(ld, "alerts.sendmail", "must be an absolute path");
}

void config_check(struct config_loader *ld, struct config *c)
{
	const char *err;
	int bad;

	if ((err = config_socket_problem(c->milter_socket)) != NULL)
		config_problem_at(ld, "milter.socket", "%s", err);

	if (resolver_create(c->user_key, c->require_user_key, (const char *const *)c->search_order,
			    (size_t)c->n_search_order, &c->resolver, &err, &bad) < 0) {
		const char *path = bad == -2 ? "identity.search_order" : "identity.user_key";

		if (bad >= 0)
			config_problem_at(ld, "identity.search_order", "entry %d (\"%s\"): %s",
					  bad + 1, c->search_order[bad], err);
		else
			config_problem_at(ld, path, "%s", err);
	} else if (c->require_user_key) {
		/* search_order is not used then, but a wrong name in it is still wrong */
		struct resolver *r;

		if (resolver_create(NULL, false, (const char *const *)c->search_order,
				    (size_t)c->n_search_order, &r, &err, &bad) == 0)
			resolver_destroy(&r);
		else if (bad >= 0)
			config_problem_at(ld, "identity.search_order", "entry %d (\"%s\"): %s",
					  bad + 1, c->search_order[bad], err);
	}

	if (!c->quota_tempfail_reply.temporary)
		config_problem_at(ld, "quota.tempfail_reply", "must be a 4xx reply");
	if (c->quota_error_reply.code[0] != '\0' && c->quota_error_reply.temporary)
		config_problem_at(ld, "quota.error_reply", "must be a 5xx reply");
	if (c->quota_resolution > c->quota_interval)
		config_problem_at(ld, "quota.resolution",
				  "must not be longer than quota.interval (%d)", c->quota_interval);
	else if (c->quota_interval / c->quota_resolution > 4096)
		config_problem_at(ld, "quota.resolution",
				  "quota.interval / quota.resolution must be at most 4096 buckets "
				  "(%d / %d = %d)",
				  c->quota_interval, c->quota_resolution,
				  c->quota_interval / c->quota_resolution);

	if (c->store_backend == STORE_BACKEND_LMDB && c->store_path[0] != '/')
		config_problem_at(ld, "store.path", "must be an absolute path");
	if (c->store_backend == STORE_BACKEND_REDIS) {
		if (c->n_redis_sentinel_servers > 0 && c->redis_sentinel_dataset[0] == '\0')
			config_problem_at(ld, "store.redis.sentinel_dataset",
					  "must name the master when sentinel_servers is set");
		if (c->redis_username[0] != '\0' && c->redis_password[0] == '\0')
			config_problem_at(ld, "store.redis.username",
					  "needs store.redis.password (AUTH user password)");
		if (c->n_redis_sentinel_servers == 0 && c->redis_socket[0] == '\0' &&
		    c->redis_server[0] == '\0')
			config_problem_at(ld, "store.redis.server",
					  "set server, socket or sentinel_servers");
		for (int i = 0; i < c->n_redis_sentinel_servers; i++) {
			struct hostport hp;

			if (hostport_parse(c->redis_sentinel_servers[i], &hp, &err) < 0)
				config_problem_at(ld, "store.redis.sentinel_servers",
						  "entry \"%s\" must be host:port",
						  c->redis_sentinel_servers[i]);
		}
		for (int i = 0; i < c->n_redis_cluster; i++) {
			struct hostport hp;

			if (hostport_parse(c->redis_cluster[i], &hp, &err) < 0)
				config_problem_at(ld, "store.redis.cluster",
						  "entry \"%s\" must be host:port",
						  c->redis_cluster[i]);
		}
		if (c->n_redis_cluster > 0) {
			/* the seeds replace every other way of naming the server */
			if (c->n_redis_sentinel_servers > 0)
				config_problem_at(ld, "store.redis.cluster",
						  "cannot be used with store.redis.sentinel_servers");
			if (c->redis_socket[0] != '\0')
				config_problem_at(ld, "store.redis.cluster",
						  "cannot be used with store.redis.socket");
			if (strcmp(c->redis_server, CONFIG_REDIS_SERVER_DEFAULT) != 0 ||
			    c->redis_port != CONFIG_REDIS_PORT_DEFAULT)
				config_problem_at(ld, "store.redis.cluster",
						  "cannot be used with store.redis.server or port");
			if (c->redis_db != 0)
				config_problem_at(ld, "store.redis.db",
						  "must be 0 with store.redis.cluster (a cluster has "
						  "one database)");
		}
		if (c->redis_connect_timeout_ms + c->redis_command_timeout_ms >
		    c->quota_on_error_deadline_ms)
			config_problem_at(ld, "store.redis.command_timeout_ms",
					  "connect_timeout_ms + command_timeout_ms must not exceed "
					  "quota.on_error_deadline_ms (%d)",
					  c->quota_on_error_deadline_ms);
	}
	for (const char *p = c->spf_receiver; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ';' || *p == '"' || *p == 0x7f) {
			config_problem_at(ld, "spf.receiver",
					  "must be a host name (no spaces, quotes or ';')");
			break;
		}
	for (int i = 0; i < c->n_listeners_inbound; i++)
		for (int j = 0; j < c->n_listeners_outbound; j++)
			if (strcmp(c->listeners_inbound[i], c->listeners_outbound[j]) == 0)
				config_problem_at(ld, "listeners.inbound",
						  "\"%s\" is also an outbound listener",
						  c->listeners_inbound[i]);
	if (!c->inbound_tempfail_reply.temporary)
		config_problem_at(ld, "inbound.tempfail_reply", "must be a 4xx reply");
	if (c->inbound_error_reply.temporary)
		config_problem_at(ld, "inbound.error_reply", "must be a 5xx reply");
	if (!c->grey_reply.temporary)
		config_problem_at(ld, "greylisting.reply",
				  "must be a 4xx reply: a greylisted sender must retry");
	if (c->grey_min_delay >= c->grey_retry_window)
		config_problem_at(ld, "greylisting.min_delay",
				  "must be shorter than greylisting.retry_window (%d)",
				  c->grey_retry_window);
	/* a look-up is a connect and a read, each bounded by timeout_ms */
	if (c->policydb_timeout_ms * 2 > c->quota_on_error_deadline_ms)
		config_problem_at(ld, "policy_db.timeout_ms",
				  "twice this (connect + read) must not exceed "
				  "quota.on_error_deadline_ms (%d)",
				  c->quota_on_error_deadline_ms);
	if (c->policydb_backend == POLICYDB_BACKEND_SQLITE && c->policydb_path[0] != '/')
		config_problem_at(ld, "policy_db.path", "must be an absolute path");
	if (c->policydb_backend == POLICYDB_BACKEND_MARIADB && c->policydb_name[0] == '\0')
		config_problem_at(ld, "policy_db.name", "must name the database");
	check_alerts(ld, c);
}

