/*
 * NAME
 *	callbacks - libmilter callbacks: request capture and verdict mapping
 * DESCRIPTION
 *	Contexts (STYLE rule 8): struct conn is created by the first callback
 *	of a connection (negotiate, or lazily by any later one) and destroyed
 *	by close, which may be the only callback.  It owns the request, a
 *	reference to the configuration snapshot and, from the first MAIL FROM
 *	on, the per-message policy state.  A new MAIL FROM first releases
 *	what the previous message left.
 *
 *	Negotiation asks the MTA for exactly the stages and macros the
 *	policies in force declare (policy_needs): no HELO or RCPT unless one
 *	needs it, no headers/EOH/body/unknown, and no reply at CONNECT/HELO;
 *	the listener macros at CONNECT only when a connection can be inbound
 *	(or the user key reads one); the queue id {i} at every stage from
 *	MAIL on, for the log line.  What to ask for is worked out once per
 *	configuration snapshot (struct snapshot), not per connection.
 *	CONNECT and HELO answer SMFIS_NOREPLY when the MTA agreed not to wait
 *	for a reply: any other answer makes libmilter log an error (to
 *	syslog) for every connection.
 *	A held message (quota's action quarantine, a locked user with
 *	lock.hold) is quarantined at EOM (smfi_quarantine: Postfix's hold
 *	queue); SMFIF_QUARANTINE is asked for whenever quota is in force
 *	(a limit's row in the policy database may say quarantine).
 *	Refusals that monitor mode let pass are logged before the stage's
 *	own line, as "would reject" / "would tempfail".
 *	xxfi_data is always registered: without it libmilter negotiates away
 *	DATA and Postfix's next small packet waits for a delayed ACK (about
 *	40 ms).
 *
 *	Headers and body are asked for only to count a message's real size,
 *	when the quota policy is in force and some quota in the policy
 *	database has a bytes limit or a max_message_bytes cap
 *	(backends_size_wanted, re-read every policy_db.cache_ttl): then with
 *	SMFIP_NR_HDR and SMFIP_NR_BODY when the MTA offers them, so that
 *	they cost no round trip.  The size (each header as "name: value" and
 *	CRLF, the blank line, the body as received) goes to the policies at
 *	EOM.
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
#include <time.h>

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
	.quarantine = smfi_quarantine,
};

const struct mta_ops *mta = &mta_libmilter;

/*
 * A configuration snapshot with what negotiation asks of the MTA under it,
 * computed once when the snapshot is installed.  Shared by the connections
 * that started under it; freed with the last reference.
 */
struct snapshot {
	struct config *config;		/* one reference */
	unsigned refs;			/* current + one per connection (atomic) */
	unsigned long actions;		/* SMFIF_* asked for besides SETSYMLIST */
	unsigned long protocol;		/* SMFIP_* asked for */
	bool connect_macros_used;	/* the CONNECT list is not empty */
	bool size_possible;		/* a policy may count the real size (quota) */
	char connect_macros[sizeof(((struct policy_needs *)0)->connect_macros)];
	char mail_macros[sizeof(((struct policy_needs *)0)->mail_macros) + 2];
};

struct conn {
	struct snapshot *snap;		/* one reference */
	struct config *config;		/* snap's, borrowed */
	struct request *req;
	struct policy_msg *msg;		/* created at the first MAIL FROM */
	unsigned long no_reply;		/* SMFIP_NR_CONN / _HELO / _HDR / _BODY negotiated */
	unsigned n_messages;
	bool count_size;		/* headers and body negotiated to count the size */
	uint64_t msg_bytes;		/* this message's headers and body so far */
};

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *current;
static struct backends *backends;
static struct alerts *alerts;

/* snapshot_create - config (its reference taken over) and its negotiation */
static struct snapshot *snapshot_create(struct config *config)
{
	struct snapshot *s = xcalloc(1, sizeof(*s));
	struct policy_needs needs;

	s->config = config;
	s->refs = 1;
	policy_needs(config, &needs);
	s->actions = (needs.headers ? SMFIF_ADDHDRS : 0) | (needs.hold ? SMFIF_QUARANTINE : 0);
	s->protocol = SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
		      SMFIP_NR_CONN | (needs.helo ? SMFIP_NR_HELO : SMFIP_NOHELO) |
		      (needs.rcpt ? 0 : SMFIP_NORCPT);
	s->size_possible = needs.size;
	memcpy(s->connect_macros, needs.connect_macros, sizeof(s->connect_macros));
	s->connect_macros_used = s->connect_macros[0] != '\0';
	/* the queue id for the log line at every stage from MAIL on */
	s->mail_macros[0] = 'i';
	s->mail_macros[1] = '\0';
	if (needs.mail_macros[0] != '\0') {
		s->mail_macros[1] = ' ';
		memcpy(s->mail_macros + 2, needs.mail_macros, sizeof(needs.mail_macros));
	}
	return s;
}

/* snapshot_unref - drop one reference; the last frees it */
static void snapshot_unref(struct snapshot **sp)
{
	struct snapshot *s = *sp;

	*sp = NULL;
	if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		config_unref(&s->config);
		free(s);
	}
}

/* snapshot_get - a reference to the current snapshot, or NULL */
static struct snapshot *snapshot_get(void)
{
	struct snapshot *s;

	pthread_mutex_lock(&current_lock);
	s = current;
	if (s != NULL)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&current_lock);
	return s;
}

void callbacks_set_config(struct config *config)
{
	struct snapshot *old, *fresh = config ? snapshot_create(config) : NULL;

	pthread_mutex_lock(&current_lock);
	old = current;
	current = fresh;
	pthread_mutex_unlock(&current_lock);
	snapshot_unref(&old);
}

struct config *callbacks_get_config(void)
{
	struct config *c;

	pthread_mutex_lock(&current_lock);
	c = current ? config_ref(current->config) : NULL;
	pthread_mutex_unlock(&current_lock);
	return c;
}

void callbacks_set_backends(struct backends *b)
{
	backends = b;
}

void callbacks_set_alerts(struct alerts *a)
{
	alerts = a;
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
		metrics_connection_open();
		conn->snap = snapshot_get();
		conn->config = conn->snap->config;
		conn->req = request_create(&conn->config->limits,
					   resolver_macro_count(conn->config->resolver));
		mta->setpriv(ctx, conn);
	}
	return conn;
}

/* conn_msg - the per-message policy state, created at the first message */
static struct policy_msg *conn_msg(struct conn *conn)
{
	if (conn->msg == NULL)
		conn->msg = policy_msg_create();
	return conn->msg;
}

/* env_of - the policy environment of a connection */
static struct policy_env env_of(const struct conn *conn)
{
	struct policy_env env = { conn->config, backends, NULL, alerts };

	return env;
}

/* getmacro - a macro's value, or NULL */
static const char *getmacro(SMFICTX *ctx, const char *name)
{
	return mta->getsymval(ctx, (char *)name);
}

/*
 * capture_queue_id - remember {i} once the MTA has assigned it: the MTA
 * assigns a message one queue id, so once this message has it (MAIL
 * empties the field) the later stages do not ask for it again
 */
static void capture_queue_id(SMFICTX *ctx, struct conn *conn)
{
	const char *qid;

	if (request_get(conn->req, REQ_QUEUE_ID) != NULL)
		return;
	qid = getmacro(ctx, "i");
	if (qid != NULL && *qid != '\0')
		(void)request_set(conn->req, REQ_QUEUE_ID, qid);
}

/* log_result - the one log line of a decision */
static void log_result(const struct conn *conn, const char *stage, const char *action,
		       const char *rcpt, const struct policy_result *r)
{
	const struct request *req = conn->req;
	char reply[1024], detail[sizeof(r->detail)];
	struct log_decision d = {
		.queue_id = request_get(req, REQ_QUEUE_ID),
		.action = action,
		.stage = stage,
		.client_name = request_get(req, REQ_CLIENT_NAME),
		.client_addr = request_get(req, REQ_CLIENT_ADDR),
		.reply = r->reply ? reply_format(r->reply, reply, sizeof(reply)) : NULL,
		.user = conn->msg ? policy_msg_user(conn->msg) : NULL,
		.key = conn->msg ? policy_msg_key(conn->msg) : NULL,
		.sender = request_get(req, REQ_SENDER),
		.rcpt = rcpt,
		.policy = r->policy,
		.extra = policy_result_detail(r, detail, sizeof(detail)),
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
	const struct policy_result *w;

	/* refusals that monitor mode let pass: logged as they would have been */
	for (size_t i = 0; (w = policy_msg_monitored(conn->msg, i)) != NULL; i++)
		log_result(conn, stage, w->action == POLICY_REJECT ? "would reject"
								   : "would tempfail", rcpt, w);
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
		if (r->hold != NULL) {
			/* into the MTA's hold queue; refused temporarily if it cannot be */
			if (mta->quarantine(ctx, (char *)r->hold) != MI_SUCCESS) {
				log_warn("could not quarantine the message (%s): tempfail", r->hold);
				log_result(conn, stage, "tempfail", rcpt, r);
				return SMFIS_TEMPFAIL;
			}
			log_result(conn, stage, "hold", rcpt, r);
			return SMFIS_ACCEPT;
		}
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
	const struct snapshot *s = conn->snap;
	unsigned long protocol = s->protocol;

	(void)f2;
	(void)f3;
	if (s->size_possible && backends != NULL &&
	    backends_size_wanted(backends, (int64_t)time(NULL),
				 (uint32_t)conn->config->policydb_cache_ttl))
		protocol = (protocol & ~(SMFIP_NOHDRS | SMFIP_NOBODY)) | SMFIP_NR_HDR |
			   SMFIP_NR_BODY;
	*pf0 = f0 & (SMFIF_SETSYMLIST | s->actions);
	*pf1 = f1 & protocol;
	*pf2 = 0;
	*pf3 = 0;
	conn->no_reply = *pf1 & (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_HDR | SMFIP_NR_BODY);
	conn->count_size = (protocol & SMFIP_NOBODY) == 0 && (*pf1 & SMFIP_NOBODY) == 0;
	if (*pf0 & SMFIF_SETSYMLIST) {
		/* an empty CONNECT list replaces the MTA's default one: no macros */
		mta->setsymlist(ctx, SMFIM_CONNECT, (char *)s->connect_macros);
		mta->setsymlist(ctx, SMFIM_ENVFROM, (char *)s->mail_macros);
		mta->setsymlist(ctx, SMFIM_ENVRCPT, (char *)"i");
		mta->setsymlist(ctx, SMFIM_DATA, (char *)"i");
		mta->setsymlist(ctx, SMFIM_EOM, (char *)"i");
	}
	return SMFIS_CONTINUE;
}

/* no_reply - what a stage without a reply returns: NOREPLY only if negotiated */
static sfsistat no_reply(const struct conn *conn, unsigned long bit)
{
	return (conn->no_reply & bit) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* port_text - a port number in decimal into buf (8 bytes); returns buf */
static char *port_text(unsigned port, char *buf)
{
	char digits[8];
	size_t n = 0, o = 0;

	do
		digits[n++] = (char)('0' + port % 10);
	while ((port /= 10) != 0 && n < 5);
	while (n > 0)
		buf[o++] = digits[--n];
	buf[o] = '\0';
	return buf;
}

/* ipv4_text - a.b.c.d of the address at p (network order) into buf (16 bytes), as inet_ntop */
static char *ipv4_text(const unsigned char *p, char *buf)
{
	size_t o = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = p[i];

		if (i > 0)
			buf[o++] = '.';
		if (v >= 100)
			buf[o++] = (char)('0' + v / 100);
		if (v >= 10)
			buf[o++] = (char)('0' + v / 10 % 10);
		buf[o++] = (char)('0' + v % 10);
	}
	buf[o] = '\0';
	return buf;
}

/* mlfi_connect - the client's address and the listener */
static sfsistat mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	uint64_t t0 = metrics_clock();
	struct conn *conn = conn_get(ctx);
	struct request *req = conn->req;
	char addr[INET6_ADDRSTRLEN], port[8];

	metrics_connection();
	(void)request_set(req, REQ_CLIENT_NAME, hostname);
	if (hostaddr != NULL && hostaddr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(void *)hostaddr;

		(void)request_set(req, REQ_CLIENT_ADDR,
				  ipv4_text((const unsigned char *)&sin->sin_addr, addr));
		(void)request_set(req, REQ_CLIENT_PORT, port_text(ntohs(sin->sin_port), port));
	} else if (hostaddr != NULL && hostaddr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(void *)hostaddr;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr)) != NULL)
			(void)request_set(req, REQ_CLIENT_ADDR, addr);
		(void)request_set(req, REQ_CLIENT_PORT, port_text(ntohs(sin6->sin6_port), port));
	}
	if (conn->snap->connect_macros_used) {
		(void)request_set(req, REQ_DAEMON_NAME, getmacro(ctx, "{daemon_name}"));
		(void)request_set(req, REQ_DAEMON_ADDR, getmacro(ctx, "{daemon_addr}"));
		(void)request_set(req, REQ_DAEMON_PORT, getmacro(ctx, "{daemon_port}"));
	}
	metrics_latency(METRICS_STAGE_CONNECT, t0);
	return no_reply(conn, SMFIP_NR_CONN);
}

/* mlfi_helo - the HELO/EHLO name (only negotiated when a key needs it) */
static sfsistat mlfi_helo(SMFICTX *ctx, char *helohost)
{
	uint64_t t0 = metrics_clock();
	struct conn *conn = conn_get(ctx);

	(void)request_set(conn->req, REQ_HELO, helohost);
	metrics_latency(METRICS_STAGE_HELO, t0);
	return no_reply(conn, SMFIP_NR_HELO);
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
	uint64_t t0 = metrics_clock();
	struct conn *conn = conn_get(ctx);
	struct request *req = conn->req;
	struct policy_env env = env_of(conn);
	struct policy_result r;
	sfsistat rc;

	policy_abort(&env, conn->msg);
	request_message_reset(req);
	conn->n_messages++;
	conn->msg_bytes = 0;
	(void)request_set_sender(req, argv != NULL ? argv[0] : NULL);
	(void)request_set_esmtp(req, argv != NULL && argv[0] != NULL ? argv + 1 : NULL);
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
		(void)request_set(req, macros[i].field, getmacro(ctx, macros[i].macro));
	for (size_t i = 0; i < resolver_macro_count(conn->config->resolver); i++)
		(void)request_set_macro(req, i,
					getmacro(ctx, resolver_macro_name(conn->config->resolver, i)));
	capture_queue_id(ctx, conn);
	policy_mail(&env, req, conn_msg(conn), &r);
	rc = finish(ctx, conn, "MAIL", NULL, &r);
	metrics_latency(METRICS_STAGE_MAIL, t0);
	return rc;
}

/* mlfi_envrcpt - keep the recipient and reserve its quota */
static sfsistat mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	uint64_t t0 = metrics_clock();
	struct conn *conn = conn_get(ctx);
	struct policy_env env = env_of(conn);
	const char *rcpt = argv != NULL ? argv[0] : NULL;
	struct policy_result r;
	sfsistat rc;

	capture_queue_id(ctx, conn);
	policy_rcpt(&env, conn->req, conn_msg(conn), rcpt, &r);
	rc = finish(ctx, conn, "RCPT", rcpt, &r);
	metrics_latency(METRICS_STAGE_RCPT, t0);
	return rc;
}

/* mlfi_data - commit at DATA (quota.commit = "data") and leave */
static sfsistat mlfi_data(SMFICTX *ctx)
{
	uint64_t t0 = metrics_clock();
	struct conn *conn = conn_get(ctx);
	struct policy_env env = env_of(conn);
	struct policy_result r;
	sfsistat rc;

	capture_queue_id(ctx, conn);
	policy_data(&env, conn->req, conn_msg(conn), &r);
	rc = finish(ctx, conn, "DATA", NULL, &r);
	metrics_latency(METRICS_STAGE_DATA, t0);
	return rc;
}

/* mlfi_header - count one header's size (only negotiated to count it) */
static sfsistat mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	struct conn *conn = conn_get(ctx);

	/* "name: value" CRLF */
	conn->msg_bytes += (name ? strlen(name) : 0) + (value ? strlen(value) : 0) + 4;
	return no_reply(conn, SMFIP_NR_HDR);
}

/* mlfi_body - count one body chunk (only negotiated to count the size) */
static sfsistat mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct conn *conn = conn_get(ctx);

	(void)chunk;
	conn->msg_bytes += len;
	return no_reply(conn, SMFIP_NR_BODY);
}

/* mlfi_eom - commit at end of message (quota.commit = "eom") */
static sfsistat mlfi_eom(SMFICTX *ctx)
{
	uint64_t t0 = metrics_clock();
	struct conn *conn = conn_get(ctx);
	struct policy_env env = env_of(conn);
	struct policy_result r;
	sfsistat rc;

	capture_queue_id(ctx, conn);
	if (conn->count_size)
		/* the headers, the blank line after them, the body */
		policy_msg_set_size(conn_msg(conn), conn->msg_bytes + 2);
	policy_eom(&env, conn->req, conn_msg(conn), &r);
	rc = finish(ctx, conn, "EOM", NULL, &r);
	metrics_latency(METRICS_STAGE_EOM, t0);
	return rc;
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
	snapshot_unref(&conn->snap);
	free(conn);
	metrics_connection_close();
	mta->setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = (char *)"chapps",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_SETSYMLIST | SMFIF_QUARANTINE,
	.xxfi_connect = mlfi_connect,
	.xxfi_helo = mlfi_helo,
	.xxfi_envfrom = mlfi_envfrom,
	.xxfi_envrcpt = mlfi_envrcpt,
	.xxfi_header = mlfi_header,
	.xxfi_eoh = NULL,
	.xxfi_body = mlfi_body,
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
