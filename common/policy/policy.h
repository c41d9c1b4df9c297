/*
 * policy - the decision chain for one message, as the milter sees it
 *
 * The milter callbacks hand a fully populated request to these functions
 * and map the result to an SMFIS_* code; no policy is decided anywhere
 * else.  The chain runner (chain.c) knows no policy by name: it selects
 * the flow of the connection, applies the limits and the HELO whitelist,
 * and runs the policies in force (policy_ops.h, one file each, listed in
 * registry.c) stage by stage:
 *
 *   policy_mail  (MAIL FROM)  limits, flow, then every policy of the flow
 *                             in order.  A policy that has nothing left to
 *                             do for the message drops out; when none is
 *                             left the message is accepted here and the
 *                             milter leaves the transaction.
 *   policy_rcpt  (RCPT TO)    keep the recipient (limits.recipients), then
 *                             the remaining policies (quota reserves one
 *                             unit; SPF and greylisting decide inbound).
 *                             A refused recipient is forgotten again.
 *   policy_data  (DATA)       the remaining policies; accepted when none
 *                             needs the end of the message.
 *   policy_eom   (end of msg) the remaining policies; accepted, possibly
 *                             with a header to insert first.
 *   policy_abort (abort, new MAIL, close)  every policy releases what it
 *                             holds (quota's reservation).
 *
 * Monitor mode (issue 11): a refusal by a policy in monitor mode is not
 * the stage's result; it is kept in the message (policy_msg_monitored) for
 * the milter to log as "would reject" / "would tempfail", and the message
 * goes on as if the policy had passed.  A held message (quota's action
 * quarantine, a locked user with lock.hold) is checked by no policy any
 * more, counts nothing, and is accepted at EOM with result.hold set: the
 * milter quarantines it there.
 *
 * The environment (struct policy_env) holds the configuration snapshot,
 * the shared backends and the clock; it is read-only here.  struct
 * policy_msg is the per-message state (user, each policy's state) and
 * belongs to the connection: one thread at a time.
 */
#ifndef CHAPPS_POLICY_H
#define CHAPPS_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/reply.h"
#include "policy/backends.h"

struct request;
struct policy_msg;

struct policy_env {
	const struct config *config;
	struct backends *backends;	/* store, policy db, caches (may be NULL if unused) */
	int64_t (*clock)(void);		/* seconds; NULL = time(NULL) */
	struct alerts *alerts;		/* alert events (may be NULL) */
};

enum policy_action {
	POLICY_CONTINUE,	/* go on to the next stage */
	POLICY_ACCEPT,		/* accept the message, no further stages */
	POLICY_REJECT,		/* refuse (the message at MAIL, the recipient at RCPT) */
	POLICY_TEMPFAIL,	/* refuse temporarily */
};

/* What the incident text of a result reports. */
enum policy_incident {
	POLICY_INCIDENT_NONE,		/* nothing to log */
	POLICY_INCIDENT_FAILED,		/* a backend failed (first failure of an incident) */
	POLICY_INCIDENT_RECOVERED,	/* a backend that had failed answers again */
};

struct policy_result {
	enum policy_action action;
	const struct reply *reply;	/* reply to set; NULL = the MTA's default */
	const char *policy;		/* who decided: "identity", "quota", ... */
	char detail[192];		/* for the log line ("used=3/10") */
	/*
	 * Or, when detail is empty, "name=N ..." pairs formatted only when
	 * the line is written (policy_result_detail): a detail that only a
	 * debug line would show costs nothing at the info level.
	 */
	const char *const *detail_names;	/* static strings */
	unsigned detail_nums[4];
	unsigned n_detail_nums;
	enum policy_incident incident_kind;
	char incident[256];		/* with incident_kind != NONE: the line to log once */
	const char *header_name;	/* EOM: insert this header first, or NULL */
	const char *header_value;	/* borrowed from the message state */
	const char *hold;		/* EOM accept: quarantine with this reason (message's) */
};

/*
 * What the policies in force need from the MTA: the stages beyond MAIL,
 * DATA and EOM (which the milter always takes) and the macros per stage
 * (the queue id "i", which the milter itself logs, is not included).
 */
struct policy_needs {
	bool helo;			/* the HELO/EHLO name */
	bool rcpt;			/* the RCPT stage */
	bool headers;			/* a header may be inserted at EOM */
	bool size;			/* the real size of a message may count (quota) */
	bool hold;			/* a message may be quarantined at EOM */
	char connect_macros[256];	/* space-separated "{name}" list */
	char mail_macros[1024];
};

/*
 * policy_needs - what config's policies need (every policy of the outbound
 * flow; the inbound ones when a connection can be inbound).  Fills *needs.
 */
void policy_needs(const struct config *config, struct policy_needs *needs);

/*
 * policy_names - the names of the policies in force for flow, in registry
 * order, into buf (always terminated), for the start-up line: outbound
 * "identity, sender_domain_auth, quota"; inbound "spf greylisting", or
 * "off" when no connection can be inbound.  Returns buf.
 */
char *policy_names(const struct config *config, enum flow flow, char *buf, size_t size);

/*
 * policy_result_detail - the detail of r for the log line: its text, or its
 * numbers formatted into buf ("used=3 reserved=0 ..."), or NULL when r has
 * none.  Returns r's text or buf.
 */
const char *policy_result_detail(const struct policy_result *r, char *buf, size_t size);

/* policy_msg_create / policy_msg_destroy - per-message state. */
struct policy_msg *policy_msg_create(void);
void policy_msg_destroy(struct policy_msg **msg);

/*
 * policy_msg_set_size - the message's real size (headers and body, as the
 * milter received them), at EOM, before policy_eom; forgotten by
 * policy_abort.  policy_msg_size - true and *size_r when it was set.
 */
void policy_msg_set_size(struct policy_msg *msg, uint64_t size);
bool policy_msg_size(const struct policy_msg *msg, uint64_t *size_r);

/*
 * policy_msg_monitored - the i-th (0, 1, ...) refusal of the last stage
 * that monitor mode turned into a pass, or NULL past the last: its
 * action (REJECT or TEMPFAIL), reply, policy and detail are what the
 * decision would have been.  Valid until the next stage of msg.
 */
const struct policy_result *policy_msg_monitored(const struct policy_msg *msg, size_t i);

/* policy_msg_user / policy_msg_key - the resolved user and key, or NULL. */
const char *policy_msg_user(const struct policy_msg *msg);
const char *policy_msg_key(const struct policy_msg *msg);

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
 * (user included).  Safe to call at any time, any number of times; env
 * may be NULL (then nothing is released in the backends).
 */
void policy_abort(const struct policy_env *env, struct policy_msg *msg);

/*
 * policy_check - check at start-up what the policies in force need: their
 * own config checks, then the backends they use (backends_check).  Returns
 * 0, or -1 with a message in err.  A network backend that does not answer
 * is not an error (only a warning in err with return 0 and *warn_r set):
 * on_error covers it per message.
 */
int policy_check(const struct config *config, struct backends *backends, bool *warn_r, char *err,
		 size_t errsize);

#endif
