/*
 * policy_ops - the interface every policy implements
 *
 * A policy is one file under common/policy/ that defines one
 * `const struct policy_ops`, and one entry in registry.c that ties it to
 * its name in outbound.policies or inbound.policies.  The chain runner
 * (chain.c) calls its hooks; it never names a policy.
 *
 * Declarations (read by the runner, never changed):
 *   name      the name in the config list, and what the log line names;
 *   flow      FLOW_OUTBOUND or FLOW_INBOUND: whose chain it belongs to;
 *   order     within a flow, policies run by ascending order, ties in the
 *             order of the config list;
 *   stages    POLICY_STAGE_* bits: what the MTA must send (HELO, RCPT),
 *             whether it inserts headers, and whether it needs the
 *             recipient domain's opt-ins (domains.greylist / check_spf),
 *             which the runner looks up once per recipient for all;
 *   mail_macros  the macros it reads at MAIL ("{auth_authen} ..."), or NULL;
 *   needs     optional: what the config adds (a resolver key's macros);
 *   uses      BACKENDS_USES_* bits: the backends it talks to (start-up check);
 *   state_size  bytes of per-message state, zeroed for every message: a
 *             policy's state must mean "nothing done" when all zero;
 *   state_reset  optional: only the first state_reset bytes are zeroed
 *             between messages (0: all state_size), for a state whose tail
 *             (arrays sized by counts kept in the head) is always written
 *             before it is read;
 *   monitored optional: is the policy in monitor mode under config (its
 *             <policy>.mode)?  Then a hook's refusal (REJECT or TEMPFAIL)
 *             is only recorded for the log (policy_msg_monitored) and the
 *             message goes on as if the hook had passed: the policy keeps
 *             following while it has hooks of later stages.  A policy
 *             with a mode per item (quota: per limit) leaves this NULL and
 *             records its would-be refusals itself (policy_msg_would).
 *
 * Hooks (each optional).  mail, rcpt, data and eom return a step:
 *   POLICY_STEP_STOP  a decision: result holds a refusal (or an ACCEPT at
 *                     DATA/EOM), the later policies of the stage do not run;
 *   POLICY_STEP_NEXT  passed; the policy follows the message on;
 *   POLICY_STEP_DONE  passed; the policy needs nothing more of this
 *                     message (its later hooks are not called).
 * A policy without a mail hook follows every message of its flow.  abort
 * releases what the message holds (called for every message, decided or
 * not, with env NULL when the message is only being freed); then the
 * runner zeroes the state.  check is called once at start-up.
 *
 * The result passed to the hooks is the stage's one result: a hook that
 * passes may leave an on_error text in it (detail) and incident lines.
 */
#ifndef CHAPPS_POLICY_OPS_H
#define CHAPPS_POLICY_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "policy/policy.h"

/* What a policy needs from the MTA and the runner. */
enum policy_stage {
	POLICY_STAGE_MAIL = 1 << 0,
	POLICY_STAGE_RCPT = 1 << 1,
	POLICY_STAGE_DATA = 1 << 2,
	POLICY_STAGE_EOM = 1 << 3,
	POLICY_STAGE_HELO = 1 << 4,		/* the HELO name (REQ_HELO) */
	POLICY_STAGE_HEADERS = 1 << 5,		/* inserts a header at EOM */
	POLICY_STAGE_DOMAIN_OPTINS = 1 << 6,	/* call->domain_bits (BACKENDS_DOMAIN_*) at RCPT */
};

enum policy_step {
	POLICY_STEP_STOP,
	POLICY_STEP_NEXT,
	POLICY_STEP_DONE,
};

/* One call of a hook: what it may read and its own per-message state. */
struct policy_call {
	const struct policy_env *env;	/* never NULL, except for abort */
	struct request *req;		/* NULL for abort */
	struct policy_msg *msg;
	void *state;			/* this policy's state_size bytes */
	const char *rcpt;		/* rcpt: the recipient as kept in the request */
	unsigned rcpt_seq;		/* rcpt: 1, 2, ... for each RCPT of the message */
	long domain_bits;		/* rcpt, with POLICY_STAGE_DOMAIN_OPTINS */
	/*
	 * rcpt: a passing policy may describe its verdict for the log line
	 * here; the last note is the result's policy and detail when every
	 * policy passed (over any on_error text a later one left).
	 */
	bool noted;
	const char *note_policy;
	char note[192];
};

struct policy_ops {
	const char *name;
	enum flow flow;
	int order;
	unsigned stages;
	const char *mail_macros;
	void (*needs)(const struct config *config, struct policy_needs *needs);
	unsigned uses;
	size_t state_size;
	size_t state_reset;
	int (*check)(const struct config *config, char *err, size_t errsize);
	bool (*monitored)(const struct config *config);

	enum policy_step (*mail)(struct policy_call *call, struct policy_result *r);
	enum policy_step (*rcpt)(struct policy_call *call, struct policy_result *r);
	enum policy_step (*data)(struct policy_call *call, struct policy_result *r);
	enum policy_step (*eom)(struct policy_call *call, struct policy_result *r);
	void (*abort)(struct policy_call *call);
};

/* ---- the registry (registry.c) ------------------------------------------ */

/*
 * policy_registry_count / policy_registry_ops - every policy there is, in
 * table order; index i is also the policy's slot in a message's state.
 */
size_t policy_registry_count(void);
const struct policy_ops *policy_registry_ops(size_t i);

/*
 * policy_registry_in_force - is entry i in force under config: always for
 * a policy without a config name (the identity gate), else when the
 * config lists it for its flow.  *rank_r gets its place in the config
 * list (-1 for an always policy).
 */
bool policy_registry_in_force(const struct config *config, size_t i, int *rank_r);

/* ---- what the runner offers the policies (chain.c) ------------------------ */

/* policy_now - the env's clock, in seconds. */
int64_t policy_now(const struct policy_env *env);

/* policy_msg_set_user - the user and key the identity gate resolved (copied / borrowed). */
void policy_msg_set_user(struct policy_msg *msg, const char *user, const char *key);

/*
 * policy_msg_hold - hold msg: accepted, checked and counted by no policy
 * any more, quarantined at EOM with reason (copied, cut to 255 bytes; the
 * first hold's reason stays) in the name of policy (static).  The policy
 * that holds releases what it reserved itself.
 */
void policy_msg_hold(struct policy_msg *msg, const char *policy, const char *reason);

/* policy_msg_held - is msg held? */
bool policy_msg_held(const struct policy_msg *msg);

/*
 * policy_msg_set_lock - the user's lock as an earlier policy read it at
 * this MAIL along with its own look-up (store_mail_lookup): st is the
 * store's STORE_OK (locked, info), STORE_MISS, or STORE_ERROR (the read
 * failed: err says why; copied).  policy_msg_take_lock hands it over once
 * (STORE_OK with *info_r filled, STORE_MISS, STORE_ERROR with *err_r
 * pointing into msg), or POLICY_LOCK_UNREAD when nothing was read, so
 * that a store that just failed is not asked again within the same
 * stage; the next message starts with nothing read.
 */
#define POLICY_LOCK_UNREAD 3
struct store_lock_info;
void policy_msg_set_lock(struct policy_msg *msg, int st, const struct store_lock_info *info,
			 const char *err);
int policy_msg_take_lock(struct policy_msg *msg, struct store_lock_info *info_r,
			 const char **err_r);

/*
 * policy_msg_would - record r (a REJECT or TEMPFAIL) as a refusal that
 * monitor mode turned into a pass, for the stage's log (at most
 * POLICY_WOULD_MAX per stage; more are dropped).  r's reply is copied.
 */
#define POLICY_WOULD_MAX 8
void policy_msg_would(struct policy_msg *msg, const struct policy_result *r);

/*
 * policy_msg_reply_temporary - reply made temporary: code 451 and the
 * enhanced code of class 4 ("554 5.7.1 text" -> "451 4.7.1 text"), into
 * msg's formatted reply (reply may be that one); a 4xx reply is returned
 * as it is.  Valid as policy_msg_reply_format's.
 */
const struct reply *policy_msg_reply_temporary(struct policy_msg *msg, const struct reply *reply);

/* policy_msg_state - the state of policy ops in msg (any registered policy). */
void *policy_msg_state(struct policy_msg *msg, const struct policy_ops *ops);

/*
 * policy_needs_add_macros - add the "{name}" words of list (space-separated)
 * to needs' MAIL macros, each once (for a needs hook).
 */
void policy_needs_add_macros(struct policy_needs *needs, const char *list);

/* policy_result_set - fill a result's action, reply and policy. */
void policy_result_set(struct policy_result *r, enum policy_action action,
		       const struct reply *reply, const char *policy);

/*
 * policy_result_detail_nums - r's detail becomes the n (at most 4) pairs
 * names[i]=nums[i], formatted only if the result is logged; names must be
 * static.  Replaces any detail text.
 */
void policy_result_detail_nums(struct policy_result *r, const char *const *names,
			       const unsigned *nums, unsigned n);

/* policy_reply_action - REJECT or TEMPFAIL, by the reply's class. */
enum policy_action policy_reply_action(const struct reply *reply);

/*
 * policy_refuse - r refuses with reply (REJECT or TEMPFAIL by its class)
 * in the name of policy; returns POLICY_STEP_STOP.
 */
enum policy_step policy_refuse(struct policy_result *r, const struct reply *reply,
			       const char *policy);

/*
 * policy_on_error - apply an on_error setting (enum on_error_action) after
 * a backend failure, with the outbound (quota.*_reply) or inbound
 * (inbound.*_reply) replies; detail gets "on_error=NAME".  Returns true
 * when the message may go on (on_error = accept).
 */
bool policy_on_error(const struct policy_env *env, int action, bool inbound, const char *policy,
		     struct policy_result *r);

/*
 * policy_msg_reply_format - tmpl with "{reason}" replaced by reason
 * (printable ASCII only, cut to fit), then extra appended after a space,
 * as a reply owned by msg: valid until the next call or the end of the
 * message.  Returns it, or tmpl should it not parse (it cannot).
 */
const struct reply *policy_msg_reply_format(struct policy_msg *msg, const struct reply *tmpl,
					    const char *reason, const char *extra);

#endif
