/*
 * NAME
 *	callbacks - libmilter callbacks: request capture and verdict mapping
 * DESCRIPTION
 *	Contexts (STYLE rule 8): struct conn is created by the first callback
 *	of a connection (negotiate, or lazily by any later one) and destroyed
 *	by close, which may be the only callback.  It owns the request, the
 *	per-message policy state and a reference to the config snapshot.
 *	A new MAIL FROM first releases what the previous message left.
 *
 *	Negotiation asks the MTA for exactly the stages and macros the
 *	policies in force declare (policy_needs): no HELO or RCPT unless one
 *	needs it, no headers/EOH/body/unknown, and no reply at CONNECT/HELO;
 *	the queue id {i} at every stage from MAIL on, for the log line.
 *	xxfi_data is always registered: without it libmilter negotiates away
 *	DATA and Postfix's next small packet waits for a delayed ACK (about
 *	40 ms).
 * DIAGNOSTICS
 *	One log line per decision (log_decision); incidents of the backends
 *	once each.  Out of memory aborts (xalloc).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "callbacks.h"
#include "base/config.h"
#include "base/log.h"
#include "base/metrics.h"
#include "mta.h"
#include "policy/policy.h"
#include "request/request.h"
#include "request/resolver.h"
#include "base/xalloc.h"

const struct mta_ops mta_libmilter = {
	.getpriv = smfi_getpriv,
	.setpriv = smfi_setpriv,
	.getsymval = smfi_getsymval,
	.setreply = smfi_setreply,
	.setsymlist = smfi_setsymlist,
	.insheader = smfi_insheader,
};

const struct mta_ops *mta = &mta_libmilter;

struct conn {
	struct config *config;		/* snapshot, one reference */
	struct request *req;
	struct policy_msg *msg;
	unsigned n_messages;
};

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *current;
static struct backends *backends;

void callbacks_set_config(struct config *config)
{
	struct config *old;

	pthread_mutex_lock(&current_lock);
	old = current;
	current = config;
	pthread_mutex_unlock(&current_lock);
	config_unref(&old);
}

struct config *callbacks_get_config(void)
{
	struct config *c;

	pthread_mutex_lock(&current_lock);
	c = current ? config_ref(current) : NULL;
	pthread_mutex_unlock(&current_lock);
	return c;
}

void callbacks_set_backends(struct backends *b)
{
	backends = b;
}

void callbacks_shutdown(void)
{
	callbacks_set_config(NULL);
}

/* conn_get - the connection context, created on first use */
static struct conn *conn_get(SMFICTX *ctx)
{
	struct conn *conn = mta->getpriv(ctx);

	if (conn == NULL) {
		conn = xcalloc(1, sizeof(*conn));
		conn->config = callbacks_get_config();
		conn->req = request_create(&conn->config->limits,
					   resolver_macro_count(conn->config->resolver));
		conn->msg = policy_msg_create();
		mta->setpriv(ctx, conn);
	}
	return conn;
}

/* env_of - the policy environment of a connection */
static struct policy_env env_of(const struct conn *conn)
{
	struct policy_env env = { conn->config, backends, NULL };

	return env;
}

/* getmacro - a macro's value, or NULL */
static const char *getmacro(SMFICTX *ctx, const char *name)
{
	return mta->getsymval(ctx, (char *)name);
}

/* capture_queue_id - remember {i} once the MTA has assigned it */
static void capture_queue_id(SMFICTX *ctx, struct conn *conn)
{
	const char *qid = getmacro(ctx, "i");

	if (qid != NULL && *qid != '\0')
		(void)request_set(conn->req, REQ_QUEUE_ID, qid);
}

/* log_result - the one log line of a decision */
static void log_result(const struct conn *conn, const char *stage, const char *action,
		       const char *rcpt, const struct policy_result *r)
{
	const struct request *req = conn->req;
	char reply[1024];
	struct log_decision d = {
		.queue_id = request_get(req, REQ_QUEUE_ID),
		.action = action,
		.stage = stage,
		.client_name = request_get(req, REQ_CLIENT_NAME),
		.client_addr = request_get(req, REQ_CLIENT_ADDR),
		.reply = r->reply ? reply_format(r->reply, reply, sizeof(reply)) : NULL,
		.user = policy_msg_user(conn->msg),
		.key = policy_msg_key(conn->msg),
		.sender = request_get(req, REQ_SENDER),
		.rcpt = rcpt,
		.policy = r->policy,
		.extra = r->detail[0] ? r->detail : NULL,
	};

	if (d.client_name == NULL)
		d.client_name = "unknown";
	if (d.client_addr == NULL)
		d.client_addr = "unknown";
	log_decision(&d);
}

/* finish - log the decision and map it to an SMFIS_* code */
static sfsistat finish(SMFICTX *ctx, struct conn *conn, const char *stage, const char *rcpt,
		       const struct policy_result *r)
{
	metrics_decision(stage, (enum metrics_result)r->action, r->policy,
			 r->action >= POLICY_REJECT && r->reply ? r->reply->code : NULL);
	switch (r->incident_kind) {
	case POLICY_INCIDENT_NONE:
		break;
	case POLICY_INCIDENT_FAILED:
		metrics_incident();
		log_error("%s", r->incident);
		break;
	case POLICY_INCIDENT_RECOVERED:
		log_info("%s", r->incident);
		break;
	}
	switch (r->action) {
	case POLICY_CONTINUE:
		if (r->policy != NULL && log_enabled(LOG_LEVEL_DEBUG))
			log_result(conn, stage, "continue", rcpt, r);
		return SMFIS_CONTINUE;
	case POLICY_ACCEPT:
		if (r->header_name != NULL &&
		    mta->insheader(ctx, 0, (char *)r->header_name, (char *)r->header_value) !=
			    MI_SUCCESS)
			log_warn("could not insert the %s header", r->header_name);
		if (conn->config->log_accepts)
			log_result(conn, stage, "accept", rcpt, r);
		return SMFIS_ACCEPT;
	case POLICY_REJECT:
	case POLICY_TEMPFAIL:
		if (r->reply != NULL &&
		    mta->setreply(ctx, (char *)r->reply->code,
				  r->reply->xcode[0] ? (char *)r->reply->xcode : NULL,
				  r->reply->milter_text) != MI_SUCCESS)
			log_warn("could not set reply %s %s", r->reply->code, r->reply->text);
		log_result(conn, stage, r->action == POLICY_REJECT ? "reject" : "tempfail", rcpt,
			   r);
		return r->action == POLICY_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
	}
	return SMFIS_TEMPFAIL;
}

/* mlfi_negotiate - ask for only the stages and macros the policies in force use */
static sfsistat mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			       unsigned long f2, unsigned long f3, unsigned long *pf0,
			       unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct conn *conn = conn_get(ctx);
	unsigned long want = SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
			     SMFIP_NR_CONN;
	struct policy_needs needs;
	char mail_macros[sizeof(needs.mail_macros) + 8];

	(void)f2;
	(void)f3;
	policy_needs(conn->config, &needs);
	want |= needs.helo ? SMFIP_NR_HELO : SMFIP_NOHELO;
	if (!needs.rcpt)
		want |= SMFIP_NORCPT;
	*pf0 = f0 & (SMFIF_SETSYMLIST | (needs.headers ? SMFIF_ADDHDRS : 0));
	*pf1 = f1 & want;
	*pf2 = 0;
	*pf3 = 0;
	if (*pf0 & SMFIF_SETSYMLIST) {
		/* the queue id for the log line at every stage from MAIL on */
		snprintf(mail_macros, sizeof(mail_macros), "i%s%s", needs.mail_macros[0] ? " " : "",
			 needs.mail_macros);
		mta->setsymlist(ctx, SMFIM_CONNECT, needs.connect_macros);
		mta->setsymlist(ctx, SMFIM_ENVFROM, mail_macros);
		mta->setsymlist(ctx, SMFIM_ENVRCPT, (char *)"i");
		mta->setsymlist(ctx, SMFIM_DATA, (char *)"i");
		mta->setsymlist(ctx, SMFIM_EOM, (char *)"i");
	}
	return SMFIS_CONTINUE;
}

/* mlfi_connect - the client's address and the listener */
static sfsistat mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct conn *conn = conn_get(ctx);
	struct request *req = conn->req;
	char addr[INET6_ADDRSTRLEN], port[8];

	metrics_connection();
	(void)request_set(req, REQ_CLIENT_NAME, hostname);
	if (hostaddr != NULL && hostaddr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(void *)hostaddr;

		if (inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr)) != NULL)
			(void)request_set(req, REQ_CLIENT_ADDR, addr);
		snprintf(port, sizeof(port), "%u", ntohs(sin->sin_port));
		(void)request_set(req, REQ_CLIENT_PORT, port);
	} else if (hostaddr != NULL && hostaddr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(void *)hostaddr;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr)) != NULL)
			(void)request_set(req, REQ_CLIENT_ADDR, addr);
		snprintf(port, sizeof(port), "%u", ntohs(sin6->sin6_port));
		(void)request_set(req, REQ_CLIENT_PORT, port);
	}
	(void)request_set(req, REQ_DAEMON_NAME, getmacro(ctx, "{daemon_name}"));
	(void)request_set(req, REQ_DAEMON_ADDR, getmacro(ctx, "{daemon_addr}"));
	(void)request_set(req, REQ_DAEMON_PORT, getmacro(ctx, "{daemon_port}"));
	return SMFIS_CONTINUE;
}

/* mlfi_helo - the HELO/EHLO name (only negotiated when a key needs it) */
static sfsistat mlfi_helo(SMFICTX *ctx, char *helohost)
{
	(void)request_set(conn_get(ctx)->req, REQ_HELO, helohost);
	return SMFIS_CONTINUE;
}

/* mlfi_envfrom - capture the message's identity and run the MAIL policies */
static sfsistat mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	static const struct {
		enum request_field field;
		const char *macro;
	} macros[] = {
		{ REQ_AUTH_AUTHEN, "{auth_authen}" },	{ REQ_AUTH_TYPE, "{auth_type}" },
		{ REQ_AUTH_AUTHOR, "{auth_author}" },	{ REQ_CERT_SUBJECT, "{cert_subject}" },
		{ REQ_CERT_ISSUER, "{cert_issuer}" },
	};
	struct conn *conn = conn_get(ctx);
	struct request *req = conn->req;
	struct policy_env env = env_of(conn);
	struct policy_result r;

	policy_abort(&env, conn->msg);
	request_message_reset(req);
	conn->n_messages++;
	(void)request_set_sender(req, argv != NULL ? argv[0] : NULL);
	(void)request_set_esmtp(req, argv != NULL && argv[0] != NULL ? argv + 1 : NULL);
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
		(void)request_set(req, macros[i].field, getmacro(ctx, macros[i].macro));
	for (size_t i = 0; i < resolver_macro_count(conn->config->resolver); i++)
		(void)request_set_macro(req, i,
					getmacro(ctx, resolver_macro_name(conn->config->resolver, i)));
	capture_queue_id(ctx, conn);
	policy_mail(&env, req, conn->msg, &r);
	return finish(ctx, conn, "MAIL", NULL, &r);
}

/* mlfi_envrcpt - keep the recipient and reserve its quota */
static sfsistat mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	struct conn *conn = conn_get(ctx);
	struct policy_env env = env_of(conn);
	const char *rcpt = argv != NULL ? argv[0] : NULL;
	struct policy_result r;

	capture_queue_id(ctx, conn);
	policy_rcpt(&env, conn->req, conn->msg, rcpt, &r);
	return finish(ctx, conn, "RCPT", rcpt, &r);
}

/* mlfi_data - commit at DATA (quota.commit = "data") and leave */
static sfsistat mlfi_data(SMFICTX *ctx)
{
	struct conn *conn = conn_get(ctx);
	struct policy_env env = env_of(conn);
	struct policy_result r;

	capture_queue_id(ctx, conn);
	policy_data(&env, conn->req, conn->msg, &r);
	return finish(ctx, conn, "DATA", NULL, &r);
}

/* mlfi_eom - commit at end of message (quota.commit = "eom") */
static sfsistat mlfi_eom(SMFICTX *ctx)
{
	struct conn *conn = conn_get(ctx);
	struct policy_env env = env_of(conn);
	struct policy_result r;

	capture_queue_id(ctx, conn);
	policy_eom(&env, conn->req, conn->msg, &r);
	return finish(ctx, conn, "EOM", NULL, &r);
}

/* mlfi_abort - the message is gone: release its reservation */
static sfsistat mlfi_abort(SMFICTX *ctx)
{
	struct conn *conn = mta->getpriv(ctx);
	struct policy_env env;

	if (conn != NULL) {
		env = env_of(conn);
		policy_abort(&env, conn->msg);
		request_message_reset(conn->req);
	}
	return SMFIS_CONTINUE;
}

/* mlfi_close - the connection is gone; may be the only callback */
static sfsistat mlfi_close(SMFICTX *ctx)
{
	struct conn *conn = mta->getpriv(ctx);
	struct policy_env env;

	if (conn == NULL)
		return SMFIS_CONTINUE;
	env = env_of(conn);
	policy_abort(&env, conn->msg);
	policy_msg_destroy(&conn->msg);
	request_destroy(&conn->req);
	config_unref(&conn->config);
	free(conn);
	mta->setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = (char *)"chapps",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_SETSYMLIST,
	.xxfi_connect = mlfi_connect,
	.xxfi_helo = mlfi_helo,
	.xxfi_envfrom = mlfi_envfrom,
	.xxfi_envrcpt = mlfi_envrcpt,
	.xxfi_header = NULL,
	.xxfi_eoh = NULL,
	.xxfi_body = NULL,
	.xxfi_eom = mlfi_eom,
	.xxfi_abort = mlfi_abort,
	.xxfi_close = mlfi_close,
	.xxfi_unknown = NULL,
	.xxfi_data = mlfi_data,
	.xxfi_negotiate = mlfi_negotiate,
};

struct smfiDesc *callbacks_desc(void)
{
	return &desc;
}
