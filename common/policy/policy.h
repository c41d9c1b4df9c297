/*
 * policy - the outbound decision chain for one message
 *
 * The milter callbacks hand a fully populated request to these functions
 * and map the result to an SMFIS_* code; no policy is decided anywhere
 * else.  Stages:
 *
 *   policy_mail  (MAIL FROM)  limits -> identity gate -> outbound policies
 *                             in configured order (sender_domain_auth,
 *                             quota's limit look-up).  With no policy
 *                             needing later stages the message is accepted
 *                             here and the milter leaves the transaction.
 *   policy_rcpt  (RCPT TO)    keep the recipient (limits.recipients), then
 *                             quota: reserve one unit for this recipient
 *                             (or one per message without
 *                             counting_recipients); over quota refuses the
 *                             recipient.
 *   policy_data  (DATA)       quota.commit = "data": commit and accept.
 *   policy_eom   (end of msg) quota.commit = "eom": commit.
 *   policy_abort (abort, new MAIL, close)  release what was reserved.
 *
 * Inbound connections (listeners, config_flow) take another path: nothing
 * at MAIL; per recipient, the domain's opt-in flags (domains.check_spf,
 * domains.greylist), one SPF evaluation per message, the SPF action map
 * and greylisting; at end of message the Received-SPF header.  A client on
 * the HELO whitelist skips all of it.
 *
 * The environment (struct policy_env) holds the configuration snapshot,
 * the shared backends and the clock; it is read-only here.  struct
 * policy_msg is the per-message state (user, reservation) and belongs to
 * the connection: one thread at a time.
 */
#ifndef CHAPPS_POLICY_H
#define CHAPPS_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/reply.h"

struct request;
struct backends;
struct policy_msg;

struct policy_env {
	const struct config *config;
	struct backends *backends;	/* store, policy db, caches (may be NULL if unused) */
	int64_t (*clock)(void);		/* seconds; NULL = time(NULL) */
};

enum policy_action {
	POLICY_CONTINUE,	/* go on to the next stage */
	POLICY_ACCEPT,		/* accept the message, no further stages */
	POLICY_REJECT,		/* refuse (the message at MAIL, the recipient at RCPT) */
	POLICY_TEMPFAIL,	/* refuse temporarily */
};

struct policy_result {
	enum policy_action action;
	const struct reply *reply;	/* reply to set; NULL = the MTA's default */
	const char *policy;		/* who decided: "identity", "quota", ... */
	char detail[192];		/* for the log line ("used=3/10") */
	char incident[256];		/* non-empty: a backend failed or recovered; log once */
	const char *header_name;	/* EOM: insert this header first, or NULL */
	const char *header_value;	/* borrowed from the message state */
};

/* policy_msg_create / policy_msg_destroy - per-message state. */
struct policy_msg *policy_msg_create(void);
void policy_msg_destroy(struct policy_msg **msg);

/*
 * policy_needs_helo / policy_needs_headers - the inbound flow needs the
 * HELO name and inserts Received-SPF at end of message.
 */
bool policy_needs_helo(const struct config *config);
bool policy_needs_headers(const struct config *config);

/* policy_msg_user / policy_msg_key - the resolved user and key, or NULL. */
const char *policy_msg_user(const struct policy_msg *msg);
const char *policy_msg_key(const struct policy_msg *msg);

/* policy_needs_rcpt / policy_needs_eom - which stages the config uses. */
bool policy_needs_rcpt(const struct config *config);
bool policy_needs_eom(const struct config *config);

void policy_mail(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		 struct policy_result *result);
void policy_rcpt(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		 const char *rcpt, struct policy_result *result);
void policy_data(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		 struct policy_result *result);
void policy_eom(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		struct policy_result *result);

/*
 * policy_abort - release an uncommitted reservation and forget the message
 * (user included).  Safe to call at any time, any number of times.
 */
void policy_abort(const struct policy_env *env, struct policy_msg *msg);

/* ---- shared backends ------------------------------------------------- */

/*
 * backends_create - the store, policy database and caches the configured
 * policies need.  Nothing is connected yet: each backend is opened on first
 * use and reopened after a failure (at most once per second), so a milter
 * starts while Redis or MariaDB is down and recovers without a restart.
 * A configuration that cannot work at all (LMDB path not writable, SQLite
 * file missing) is reported by backends_check.
 */
struct backends *backends_create(const struct config *config);
void backends_destroy(struct backends **backends);

/*
 * backends_check - open what the config needs now, to report problems at
 * start-up.  Returns 0, or -1 with a message in err.  A network backend
 * that does not answer is not an error here (only a warning in err with
 * return 0 and *warn_r set): on_error covers it per message.
 */
int backends_check(struct backends *backends, bool *warn_r, char *err, size_t errsize);

/* backends_flush_caches - forget every cached look-up (SIGUSR2, cli). */
void backends_flush_caches(struct backends *backends);

#endif
