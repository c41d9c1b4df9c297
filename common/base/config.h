/*
 * config - the chapps configuration, loaded and validated once
 *
 * config_load reads a libconfig file, walks one static table of every
 * setting (path, type, bounds, default), rejects unknown keys, wrong types
 * and out-of-range values with "file:line: setting: problem", then checks
 * the rules that span several settings, compiles the user resolver and
 * parses every reply.  The result is an immutable snapshot: no field changes
 * after config_load returns, so any number of threads may read it.
 *
 * Reload builds a complete new snapshot and swaps a pointer; connections
 * keep the snapshot they started with through config_ref/config_unref.
 */
#ifndef CHAPPS_CONFIG_H
#define CHAPPS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/reply.h"
#include "request/request.h"

struct resolver;

#define CONFIG_LIST_MAX 16

/*
 * Defaults that have one home: the settings table uses them, and the Redis
 * engine falls back to them for a field left 0 (or NULL) in a config that
 * was not built by config_load (the store tests build such configs).
 */
#define CONFIG_REDIS_SERVER_DEFAULT "127.0.0.1"
#define CONFIG_REDIS_PORT_DEFAULT 6379
#define CONFIG_REDIS_TIMEOUT_MS_DEFAULT 500	/* connect and command timeouts */
#define CONFIG_REDIS_POOL_SIZE_DEFAULT 16

enum store_backend { STORE_BACKEND_LMDB, STORE_BACKEND_REDIS };
enum policydb_backend { POLICYDB_BACKEND_SQLITE, POLICYDB_BACKEND_MARIADB };
enum on_error_action { ON_ERROR_TEMPFAIL, ON_ERROR_ACCEPT, ON_ERROR_REJECT };
enum quota_commit { QUOTA_COMMIT_DATA, QUOTA_COMMIT_EOM };
enum outbound_policy { OUTBOUND_POLICY_SDA, OUTBOUND_POLICY_QUOTA };
enum unknown_user_action { UNKNOWN_USER_REJECT, UNKNOWN_USER_ACCEPT };
enum flow { FLOW_OUTBOUND, FLOW_INBOUND };
enum inbound_policy { INBOUND_POLICY_SPF, INBOUND_POLICY_GREYLISTING };
/* What a refusing quota limit does (quota.action). */
enum quota_action { QUOTA_ACTION_REJECT, QUOTA_ACTION_TEMPFAIL, QUOTA_ACTION_QUARANTINE,
		    QUOTA_ACTION_LOCK };
/* A policy's (or a limit's) mode: enforce its refusals, or only log them. */
enum config_mode { CONFIG_MODE_ENFORCE, CONFIG_MODE_MONITOR };

/* What to do with one SPF result. */
enum spf_action_kind {
	SPF_ACTION_PREPEND,	/* accept; the Received-SPF header is added */
	SPF_ACTION_GREYLIST,	/* greylist the recipient (forced) */
	SPF_ACTION_REPLY,	/* refuse with the reply template */
};

struct spf_action {
	enum spf_action_kind kind;
	struct reply reply;	/* SPF_ACTION_REPLY: text may hold "{reason}" */
};

/* The SPF results that have an action, in config order. */
enum spf_action_slot {
	SPF_SLOT_PASS, SPF_SLOT_FAIL, SPF_SLOT_SOFTFAIL, SPF_SLOT_NONE_NEUTRAL,
	SPF_SLOT_TEMPERROR, SPF_SLOT_PERMERROR, SPF_SLOT_COUNT
};

/*
 * margin as CHAPPS writes it: an integer is an absolute count; a float
 * 0 <= f < 1 a ratio of the limit; 1 < f < 100 a percentage.
 */
struct config_margin {
	bool absolute;
	long count;	/* when absolute */
	double ratio;	/* when not: 0 <= ratio < 1 */
};

struct config {
	char *file;			/* path loaded, "" for built-in defaults */

	/* milter */
	char *milter_socket;		/* libmilter syntax */
	char *milter_user;		/* "" = do not change user */
	char *milter_group;
	char *milter_pidfile;		/* "" = none */
	int milter_umask;		/* for the unix socket, from "0007" */
	bool milter_run_as_root;	/* allow running as root after start-up */
	int milter_timeout;		/* smfi_settimeout, seconds */
	int milter_backlog;		/* listen backlog */

	/* log */
	int log_facility;		/* syslog facility */
	int log_level;			/* enum log_level */
	bool log_accepts;		/* log a line for accepted messages too */

	/* limits */
	struct request_limits limits;
	struct reply limits_reply;	/* a value over its limit */
	struct reply rcpt_limit_reply;	/* more recipients than limits.recipients */

	/* identity */
	char *user_key;
	bool require_user_key;
	char *search_order[CONFIG_LIST_MAX];
	int n_search_order;
	struct reply no_user_key_reply;
	struct resolver *resolver;	/* compiled from the three above */
	int identity_mode;		/* enum config_mode */

	/* outbound */
	int outbound_policies[CONFIG_LIST_MAX];	/* enum outbound_policy */
	int n_outbound_policies;

	/* quota */
	int quota_interval;		/* seconds, sliding window */
	int quota_resolution;		/* seconds per window bucket */
	bool quota_counting_recipients;
	struct config_margin quota_margin;
	struct reply quota_reply;
	struct reply quota_unknown_user_reply;
	int quota_unknown_user;		/* enum unknown_user_action */
	int quota_on_error;		/* enum on_error_action */
	int quota_on_error_deadline_ms;
	struct reply quota_tempfail_reply;	/* on_error = tempfail */
	struct reply quota_error_reply;		/* on_error = reject */
	int quota_commit;		/* enum quota_commit */
	int quota_reservation_ttl;	/* seconds a reservation lives */
	/* quota: several limits (issue 10) */
	struct reply quota_limit_reply;	/* a limit other than the CHAPPS one refused; {reason} */
	char *quota_timezone;		/* calendar windows; "" = the system's */
	bool quota_count_null_sender;	/* count mail from <> */
	char *quota_exempt_users[CONFIG_LIST_MAX];
	int n_quota_exempt_users;
	char *quota_exempt_senders[CONFIG_LIST_MAX];
	int n_quota_exempt_senders;
	char *quota_uncounted_domains[CONFIG_LIST_MAX];	/* recipient domains */
	int n_quota_uncounted_domains;
	/* quota: what a limit does when it refuses (issue 11) */
	int quota_action;		/* enum quota_action, every limit without its own */
	int quota_warn_at;		/* percent of a limit that posts ALERT_WARN; 0 = off */
	int quota_mode;			/* enum config_mode, every limit without its own */

	/* lock (issue 11): users locked after repeated refusals */
	int lock_after;			/* refusals (one per message) in lock_window that lock */
	int lock_window;		/* seconds */
	struct reply lock_reply;	/* a locked user's message */
	bool lock_hold;			/* hold (quarantine) a locked user's mail instead */
	bool lock_check;		/* look the lock up at MAIL FROM */

	/* store */
	int store_backend;		/* enum store_backend */
	char *store_path;		/* LMDB directory */
	int store_map_size_mb;		/* LMDB map size */
	char *redis_server;
	int redis_port;
	char *redis_socket;
	char *redis_username;		/* Redis 6 ACL user; "": AUTH password alone */
	char *redis_password;
	int redis_db;
	char *redis_sentinel_servers[CONFIG_LIST_MAX];	/* "host:port" */
	int n_redis_sentinel_servers;
	char *redis_sentinel_dataset;
	char *redis_cluster[CONFIG_LIST_MAX];	/* "host:port" seed nodes of a Redis Cluster */
	int n_redis_cluster;
	int redis_connect_timeout_ms;
	int redis_command_timeout_ms;
	int redis_wait_replicas;		/* > 0: WAIT for so many replicas after each script */
	bool redis_defer_commit;		/* the quota's commit sent with the next command */
	int redis_defer_ms;		/* not a setting (tests): the deferral's wait, 0: 10 ms */
	int redis_pool_size;

	/* policy_db */
	int policydb_backend;		/* enum policydb_backend */
	char *policydb_path;		/* SQLite file */
	char *policydb_host;
	int policydb_port;
	char *policydb_name;
	char *policydb_user;
	char *policydb_password;
	int policydb_cache_ttl;		/* seconds */
	int policydb_timeout_ms;	/* connect/read/write timeouts */

	/* sender_domain_auth */
	bool sda_null_sender_ok;
	bool sda_subdomains;
	bool sda_local_part_casefold;
	int sda_cache_ttl;
	struct reply sda_reply;
	struct reply sda_malformed_reply;
	int sda_on_error;		/* enum on_error_action */
	int sda_mode;			/* enum config_mode */

	/* listeners: which flow a connection belongs to */
	char *listeners_inbound[CONFIG_LIST_MAX];	/* {daemon_name} or {daemon_port} */
	int n_listeners_inbound;
	char *listeners_outbound[CONFIG_LIST_MAX];
	int n_listeners_outbound;
	int listeners_default;		/* enum flow */

	/* inbound */
	int inbound_policies[CONFIG_LIST_MAX];	/* enum inbound_policy */
	int n_inbound_policies;
	char *inbound_helo_whitelist;	/* "name[:ip][;name[:ip]...]" */
	int inbound_on_error;		/* enum on_error_action */
	struct reply inbound_tempfail_reply;
	struct reply inbound_error_reply;
	void *helo_whitelist;		/* struct helo_whitelist, built by the milter */

	/* greylisting */
	int grey_min_delay;
	int grey_retry_window;
	int grey_lifetime;
	int grey_whitelist_threshold;
	int grey_prefix_v4;
	int grey_prefix_v6;
	bool grey_strip_srs_verp;
	struct reply grey_reply;
	int grey_mode;			/* enum config_mode */

	/* spf */
	int spf_time_budget;		/* seconds */
	bool spf_add_header;
	char *spf_receiver;		/* "" = the host name */
	char *spf_test_zone;		/* tests: DNS answers from this file, no resolver */
	struct spf_action spf_actions[SPF_SLOT_COUNT];
	int spf_mode;			/* enum config_mode */

	/* api (chapps-api) */
	char *api_listen;		/* "host:port", "[v6]:port" or "unix:/path" */
	char *api_tls_cert;		/* PEM files; both set = HTTPS */
	char *api_tls_key;
	bool api_allow_plain_remote;	/* plain HTTP on a non-loopback address */
	char *api_tokens;		/* token file (chapps-cli api token) */
	int api_body_max;		/* bytes */
	int api_timeout;		/* seconds a connection may idle */
	int api_threads;
	int api_auth_fail_max;		/* failed attempts per client per minute */

	/* metrics (chapps-milter's Prometheus endpoint) */
	char *metrics_listen;		/* loopback "HOST:PORT"; "" = off */
	char *metrics_token;		/* bearer token required; "" = none */

	/* alerts (common/alert: the log, a webhook, a mail) */
	char *alerts_webhook_url;	/* http:// or https://; "" = no webhook */
	char *alerts_webhook_token;	/* Authorization: Bearer; "" = none (secret) */
	char *alerts_webhook_secret;	/* HMAC-SHA256 key of X-Chapps-Signature; "" = none */
	int alerts_webhook_timeout_ms;	/* one attempt */
	int alerts_retries;		/* attempts after the first, with back-off */
	int alerts_interval;		/* seconds: one event per user and kind; 0 = all */
	int alerts_queue_size;		/* events waiting for the sender thread */
	char *alerts_mail_to;		/* "" = no mail */
	char *alerts_sendmail;		/* absolute path of sendmail(1) */
	int alerts_timeout_ms;		/* at close, for what is still queued */

	void (*helo_whitelist_free)(void *);
	int refcount;			/* config_ref/config_unref */
};

/*
 * config_load - read path (NULL: built-in defaults only) into a new
 * snapshot.  Returns 0 with *config_r set, or -1 with *errors_r set to a
 * newly allocated text holding every problem found, one per line, each
 * "file:line: setting: problem" (caller frees).
 */
int config_load(const char *path, struct config **config_r, char **errors_r);

/* config_ref - take a reference; returns config. Thread-safe. */
struct config *config_ref(struct config *config);

/* config_unref - drop a reference, freeing on the last; sets *config NULL. */
void config_unref(struct config **config);

/*
 * config_dump - write the effective configuration, every setting with its
 * value (defaults filled in), in libconfig syntax that config_load accepts.
 */
void config_dump(const struct config *config, FILE *out);

/*
 * config_setting_names - the full path of every setting ("quota.margin"),
 * NULL-terminated; static.  Used by the test that checks the man page and
 * the sample config name every setting.
 */
const char *const *config_setting_names(void);

/*
 * config_url_problem - NULL when s is an http:// or https:// URL with a
 * host (and no space or control character), else why.
 */
const char *config_url_problem(const char *s);

/*
 * config_socket_problem - NULL when s is a valid libmilter socket
 * (unix:/path, local:/path, inet:PORT[@HOST], inet6:PORT[@HOST]), else why.
 */
const char *config_socket_problem(const char *s);

/*
 * config_set_socket - replace the socket of a snapshot that is not yet
 * shared (the -p option at start-up and at each reload).
 */
void config_set_socket(struct config *config, const char *socket);

/* config_has_outbound_policy - is policy in outbound.policies? */
bool config_has_outbound_policy(const struct config *config, enum outbound_policy policy);

/* config_policy_name - "sender_domain_auth", "quota". */
const char *config_policy_name(enum outbound_policy policy);

/* config_has_inbound_policy - is policy in inbound.policies? */
bool config_has_inbound_policy(const struct config *config, enum inbound_policy policy);

/*
 * config_inbound_possible - can any connection be inbound (a listener is
 * named inbound, or the default is inbound) with a policy to run?
 */
bool config_inbound_possible(const struct config *config);

/*
 * config_flow - the flow of a connection, from its {daemon_name} and
 * {daemon_port} (either may be NULL).
 */
enum flow config_flow(const struct config *config, const char *daemon_name,
		      const char *daemon_port);

/* config_set_helo_whitelist - attach the built whitelist (freed with the config). */
void config_set_helo_whitelist(struct config *config, void *whitelist, void (*free_fn)(void *));

/* config_quota_action_name - "reject", "tempfail", "quarantine", "lock". */
const char *config_quota_action_name(enum quota_action action);

/* config_on_error_name - "tempfail", "accept", "reject". */
const char *config_on_error_name(enum on_error_action action);

#endif
