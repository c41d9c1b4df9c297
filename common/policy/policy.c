/*
 * NAME
 *	policy - outbound decision chain: limits, identity, SDA, quota
 * DESCRIPTION
 *	Every decision reads the connection's config snapshot and the shared
 *	backends; nothing here keeps global mutable state except the backends'
 *	lazily opened handles (under a mutex) and their incident flags
 *	(atomics).
 *
 *	Quota life cycle of one message:
 *	  MAIL   look the user's limit up (in-process cache, negative entries
 *	         for unknown users, then the policy database);
 *	  RCPT   store_quota_reserve(1) per recipient (per message without
 *	         counting_recipients) under a reservation id unique to the
 *	         message; a refusal refuses the recipient;
 *	  DATA or EOM (quota.commit)  store_quota_commit;
 *	  abort, next MAIL, close     store_quota_release (a crashed milter's
 *	         reservation expires in the store after reservation_ttl).
 *	So only accepted mail counts, and two connections of one user can
 *	never both pass the limit: the reserve is one atomic store operation.
 *
 *	Backend failures: the configured on_error action (tempfail, accept,
 *	reject) with its reply.  The first failure of an incident and the
 *	recovery are reported through result->incident so that the caller
 *	logs one line per incident, not one per message.
 * DIAGNOSTICS
 *	None: results only.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/cache.h"
#include "base/config.h"
#include "policy/greylist.h"
#include "policy/helo_whitelist.h"
#include "policy/policy.h"
#include "policydb/policydb.h"
#include "request/request.h"
#include "request/resolver.h"
#include "spf/spf.h"
#include "store/store.h"
#include "base/xalloc.h"

#define QUOTA_CACHE_MAX 100000
#define DOMAIN_CACHE_MAX 100000
#define DOMAIN_GREYLIST 1	/* bits of a cached domain entry */
#define DOMAIN_CHECK_SPF 2
#define RETRY_INTERVAL 1	/* seconds between attempts to open a backend */

struct policy_msg {
	char *user;
	const char *key;		/* borrowed from the config's resolver */
	long limit;			/* quota limit looked up at MAIL, -1 = none */
	uint32_t reserved;		/* units reserved in the store */
	bool committed;
	bool release_anyway;		/* a reserve failed: it may still have run late */
	bool uncounted;			/* on_error = accept let the message through */
	char resid[STORE_RESID_MAX + 1];

	/* inbound */
	int flow;			/* enum flow, decided at MAIL */
	bool whitelisted;		/* HELO whitelist matched */
	bool spf_done;
	bool header;			/* insert Received-SPF at EOM */
	bool grey_counted;		/* a greylisting pass was tallied for this message */
	struct spf_outcome spf;
	struct reply spf_reply;		/* a formatted SPF or greylisting reply */
};

struct backend_slot {
	bool incident;			/* failing since the last success */
	int64_t retry_at;
};

struct backends {
	struct config *config;		/* the start-up snapshot: backend settings */
	pthread_mutex_t lock;
	struct store *store;
	struct policydb *db;
	struct backend_slot store_slot, db_slot;
	struct cache *quota_cache;	/* user -> limit, negative = no quota */
	struct cache *domain_cache;	/* domain -> DOMAIN_* bits, negative = unknown */
	struct spf_checker *spf;	/* made at first use */
};

/* now - the env's clock */
static int64_t now(const struct policy_env *env)
{
	return env->clock ? env->clock() : (int64_t)time(NULL);
}

/* ---- per-message state ------------------------------------------------ */

struct policy_msg *policy_msg_create(void)
{
	struct policy_msg *msg = xcalloc(1, sizeof(*msg));

	msg->limit = -1;
	return msg;
}

void policy_msg_destroy(struct policy_msg **msgp)
{
	if (*msgp == NULL)
		return;
	XFREE((*msgp)->user);
	reply_clear(&(*msgp)->spf_reply);
	XFREE(*msgp);
}

const char *policy_msg_user(const struct policy_msg *msg)
{
	return msg->user;
}

const char *policy_msg_key(const struct policy_msg *msg)
{
	return msg->key;
}

bool policy_needs_rcpt(const struct config *config)
{
	return config_has_outbound_policy(config, OUTBOUND_POLICY_QUOTA) ||
	       config_inbound_possible(config);
}

bool policy_needs_eom(const struct config *config)
{
	return (policy_needs_rcpt(config) && config->quota_commit == QUOTA_COMMIT_EOM) ||
	       config_inbound_possible(config);
}

bool policy_needs_helo(const struct config *config)
{
	return config_inbound_possible(config);
}

bool policy_needs_headers(const struct config *config)
{
	return config_inbound_possible(config) &&
	       config_has_inbound_policy(config, INBOUND_POLICY_SPF);
}

static char resid_host[24];
static long resid_pid;
static pthread_once_t resid_once = PTHREAD_ONCE_INIT;

/* init_host - the short host name used in reservation ids */
static void init_host(void)
{
	char buf[256] = "";

	if (gethostname(buf, sizeof(buf) - 1) < 0 || buf[0] == '\0')
		snprintf(buf, sizeof(buf), "host");
	buf[sizeof(buf) - 1] = '\0';
	snprintf(resid_host, sizeof(resid_host), "%.23s", buf);
	resid_pid = (long)getpid();	/* the first message comes after any detach */
}

/* new_resid - an id unique to this message across processes and hosts */
static void new_resid(struct policy_msg *msg)
{
	static unsigned long counter;
	unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	struct timespec ts;

	pthread_once(&resid_once, init_host);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(msg->resid, sizeof(msg->resid), "%s.%ld.%lx.%lx.%lx", resid_host, resid_pid, n,
		 (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec);
}

/* ---- results ---------------------------------------------------------- */

/* result_set - fill a result */
static void result_set(struct policy_result *r, enum policy_action action,
		       const struct reply *reply, const char *policy)
{
	r->action = action;
	r->reply = reply;
	r->policy = policy;
}

/* reply_action - REJECT or TEMPFAIL, by the reply's class */
static enum policy_action reply_action(const struct reply *reply)
{
	return reply->temporary ? POLICY_TEMPFAIL : POLICY_REJECT;
}

/*
 * on_error - apply an on_error setting after a backend failure, with the
 * outbound or the inbound replies; true when the message may go on
 */
static bool on_error(const struct policy_env *env, int action, bool inbound, const char *policy,
		     struct policy_result *r)
{
	const struct config *c = env->config;

	switch (action) {
	case ON_ERROR_ACCEPT:
		result_set(r, POLICY_CONTINUE, NULL, policy);
		break;
	case ON_ERROR_REJECT:
		result_set(r, POLICY_REJECT,
			   inbound ? &c->inbound_error_reply : &c->quota_error_reply, policy);
		break;
	default:
		result_set(r, POLICY_TEMPFAIL,
			   inbound ? &c->inbound_tempfail_reply : &c->quota_tempfail_reply, policy);
		break;
	}
	snprintf(r->detail, sizeof(r->detail), "on_error=%s",
		 config_on_error_name((enum on_error_action)action));
	return r->action == POLICY_CONTINUE;
}

/* ---- backends --------------------------------------------------------- */

struct backends *backends_create(const struct config *config)
{
	struct backends *b = xcalloc(1, sizeof(*b));

	b->config = config_ref((struct config *)config);
	pthread_mutex_init(&b->lock, NULL);
	b->quota_cache = cache_create(QUOTA_CACHE_MAX);
	b->domain_cache = cache_create(DOMAIN_CACHE_MAX);
	return b;
}

void backends_destroy(struct backends **bp)
{
	struct backends *b = *bp;

	if (b == NULL)
		return;
	store_close(&b->store);
	policydb_close(&b->db);
	cache_destroy(&b->quota_cache);
	cache_destroy(&b->domain_cache);
	spf_checker_destroy(&b->spf);
	pthread_mutex_destroy(&b->lock);
	config_unref(&b->config);
	free(b);
	*bp = NULL;
}

void backends_flush_caches(struct backends *b)
{
	if (b != NULL) {
		cache_flush(b->quota_cache);
		cache_flush(b->domain_cache);
	}
}

/* incident - note a failure; true (with text in r->incident) for the first */
static void incident(struct backend_slot *slot, const char *what, const char *err,
		     struct policy_result *r)
{
	if (!__atomic_exchange_n(&slot->incident, true, __ATOMIC_ACQ_REL))
		snprintf(r->incident, sizeof(r->incident), "%s unavailable: %.200s", what,
			 err ? err : "unknown error");
}

/* recovered - note a success; reports the end of an incident once */
static void recovered(struct backend_slot *slot, const char *what, struct policy_result *r)
{
	if (__atomic_load_n(&slot->incident, __ATOMIC_ACQUIRE) &&
	    __atomic_exchange_n(&slot->incident, false, __ATOMIC_ACQ_REL))
		snprintf(r->incident, sizeof(r->incident), "%s available again", what);
}

/* get_store - the store, opened on first use; NULL with *err on failure */
static struct store *get_store(struct backends *b, int64_t t, const char **err)
{
	struct store *s;

	pthread_mutex_lock(&b->lock);
	if (b->store == NULL) {
		if (t < b->store_slot.retry_at) {
			*err = "not connected (retrying)";
		} else if (store_open(b->config, &b->store, err) < 0) {
			b->store = NULL;
			b->store_slot.retry_at = t + RETRY_INTERVAL;
		}
	}
	s = b->store;
	pthread_mutex_unlock(&b->lock);
	return s;
}

/* get_db - the policy database, opened on first use */
static struct policydb *get_db(struct backends *b, int64_t t, char *err, size_t errsize)
{
	struct policydb *db;

	pthread_mutex_lock(&b->lock);
	if (b->db == NULL) {
		if (t < b->db_slot.retry_at) {
			snprintf(err, errsize, "not connected (retrying)");
		} else if (policydb_open(b->config, false, &b->db, err, errsize) < 0) {
			b->db = NULL;
			b->db_slot.retry_at = t + RETRY_INTERVAL;
		}
	}
	db = b->db;
	pthread_mutex_unlock(&b->lock);
	return db;
}

int backends_check(struct backends *b, bool *warn_r, char *err, size_t errsize)
{
	const struct config *c = b->config;
	/*
	 * Outbound policies cannot work without their backends: a missing
	 * SQLite file or an unusable LMDB directory stops start-up.  The
	 * inbound flow only runs for listeners the MTA labels inbound, so
	 * there the same problems are warnings (on_error applies per message).
	 */
	bool out = config_has_outbound_policy(c, OUTBOUND_POLICY_QUOTA) ||
		   config_has_outbound_policy(c, OUTBOUND_POLICY_SDA);
	bool in = config_inbound_possible(c);
	const char *serr = NULL;
	size_t len;

	*warn_r = false;
	err[0] = '\0';
	if (!out && !in)
		return 0;
	if (get_db(b, 0, err, errsize) == NULL) {
		if (out && c->policydb_backend == POLICYDB_BACKEND_SQLITE)
			return -1;
		*warn_r = true;
	}
	if (get_store(b, 0, &serr) == NULL) {
		if (out && c->store_backend == STORE_BACKEND_LMDB) {
			snprintf(err, errsize, "store: %s", serr);
			return -1;
		}
		len = strlen(err);
		snprintf(err + len, errsize - len, "%sstore: %s", len ? "; " : "", serr);
		*warn_r = true;
	}
	return 0;
}

/* ---- identity ----------------------------------------------------------- */

/* check_identity - resolve the user; false when refused */
static bool check_identity(const struct policy_env *env, struct request *req,
			   struct policy_msg *msg, struct policy_result *r)
{
	const struct config *c = env->config;
	const char *key = NULL;
	const char *user = resolver_resolve(c->resolver, req, &key);

	if (user == NULL) {
		result_set(r, reply_action(&c->no_user_key_reply), &c->no_user_key_reply,
			   "identity");
		return false;
	}
	msg->user = xstrdup(user);
	msg->key = key;
	return true;
}

/* ---- sender-domain authorization -------------------------------------- */

/* sda_linked - is name (a domain, "*.parent" or a whole address) linked? */
static int sda_linked(const struct policy_env *env, struct policy_msg *msg, char kind,
		      const char *name, bool *linked, struct policy_result *r)
{
	const struct config *c = env->config;
	struct backends *b = env->backends;
	int64_t t = now(env);
	char key[1024], val[8], err[256];
	char tag[2] = { kind, '\0' };
	size_t klen = store_key(key, sizeof(key), "sda", msg->user, tag, name, (char *)NULL);
	size_t vlen = sizeof(val);
	const char *serr;
	struct store *store = get_store(b, t, &serr);
	struct policydb *db;
	int st;

	if (store != NULL && klen > 0 && c->sda_cache_ttl > 0 &&
	    store_cache_get(store, key, klen, val, &vlen, t, &serr) == STORE_OK && vlen == 1) {
		*linked = val[0] == '1';
		return 0;
	}
	db = get_db(b, t, err, sizeof(err));
	if (db == NULL) {
		incident(&b->db_slot, "policy database", err, r);
		return -1;
	}
	st = kind == 'e' ? policydb_user_email(db, msg->user, name, linked, err, sizeof(err))
			 : policydb_user_domain(db, msg->user, name, linked, err, sizeof(err));
	if (st == POLICYDB_ERROR) {
		incident(&b->db_slot, "policy database", err, r);
		return -1;
	}
	if (st == POLICYDB_NOTFOUND)
		*linked = false;
	recovered(&b->db_slot, "policy database", r);
	if (store != NULL && klen > 0 && c->sda_cache_ttl > 0)
		(void)store_cache_set(store, key, klen, *linked ? "1" : "0", 1,
				      (uint32_t)c->sda_cache_ttl, t, &serr);
	return 0;
}

/* check_sda - sender-domain authorization at MAIL FROM; false when refused */
static bool check_sda(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		      struct policy_result *r)
{
	const struct config *c = env->config;
	const char *sender = request_get(req, REQ_SENDER);
	struct addr_parts parts;
	enum addr_status st = addr_parse(sender, &parts);
	bool linked = false;

	if (st == ADDR_NULL) {
		if (c->sda_null_sender_ok)
			return true;
		result_set(r, reply_action(&c->sda_reply), &c->sda_reply, "sender_domain_auth");
		snprintf(r->detail, sizeof(r->detail), "null sender");
		return false;
	}
	if (st != ADDR_OK) {
		result_set(r, reply_action(&c->sda_malformed_reply), &c->sda_malformed_reply,
			   "sender_domain_auth");
		snprintf(r->detail, sizeof(r->detail), "%s", addr_status_text(st));
		return false;
	}
	/* the whole domain, then (subdomains on) "*.d" for it and each parent */
	if (sda_linked(env, msg, 'd', parts.domain, &linked, r) < 0)
		goto error;
	if (!linked && c->sda_subdomains && !parts.ip_literal) {
		char wild[ADDR_DOMAIN_MAX + 3];

		for (const char *d = parts.domain; d != NULL && !linked;) {
			snprintf(wild, sizeof(wild), "*.%s", d);
			if (sda_linked(env, msg, 'd', wild, &linked, r) < 0)
				goto error;
			d = strchr(d, '.');
			if (d != NULL)
				d++;
		}
	}
	if (!linked) {
		char email[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2];

		snprintf(email, sizeof(email), "%.*s@%s", (int)parts.local_len, parts.local,
			 parts.domain);
		if (c->sda_local_part_casefold)
			for (char *p = email; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
		if (sda_linked(env, msg, 'e', email, &linked, r) < 0)
			goto error;
	}
	if (linked)
		return true;
	result_set(r, reply_action(&c->sda_reply), &c->sda_reply, "sender_domain_auth");
	snprintf(r->detail, sizeof(r->detail), "domain=%.150s", parts.domain);
	return false;
error:
	return on_error(env, c->sda_on_error, false, "sender_domain_auth", r);
}

/* ---- quota -------------------------------------------------------------- */

/* quota_params - the store parameters for msg's limit */
static void quota_params(const struct config *c, long limit, struct store_quota_params *p)
{
	const struct config_margin *m = &c->quota_margin;
	double margin = m->absolute ? (double)m->count : m->ratio * (double)limit;

	p->limit = limit > 0 ? (uint32_t)limit : 0;
	p->margin = (uint32_t)margin;
	p->interval = (uint32_t)c->quota_interval;
	p->resolution = (uint32_t)c->quota_resolution;
	p->reservation_ttl = (uint32_t)c->quota_reservation_ttl;
}

/* check_quota_user - find the user's limit at MAIL; false when refused */
static bool check_quota_user(const struct policy_env *env, struct policy_msg *msg,
			     struct policy_result *r)
{
	const struct config *c = env->config;
	struct backends *b = env->backends;
	int64_t t = now(env);
	size_t ulen = strlen(msg->user);
	enum cache_status cs = cache_get(b->quota_cache, msg->user, ulen, t, &msg->limit);
	char err[256];

	if (cs == CACHE_MISS) {
		struct policydb *db = get_db(b, t, err, sizeof(err));
		int st = db ? policydb_user_quota(db, msg->user, &msg->limit, err, sizeof(err))
			    : POLICYDB_ERROR;

		if (st == POLICYDB_ERROR) {
			incident(&b->db_slot, "policy database", err, r);
			msg->limit = -1;
			msg->uncounted = on_error(env, c->quota_on_error, false, "quota", r);
			return msg->uncounted;
		}
		recovered(&b->db_slot, "policy database", r);
		/* a quota of 0 is a limit (nothing may be sent), not "no quota" */
		if (st == POLICYDB_NOTFOUND || msg->limit < 0) {
			cache_put(b->quota_cache, msg->user, ulen, true, 0, t,
				  (uint32_t)c->policydb_cache_ttl);
			cs = CACHE_HIT_NEGATIVE;
		} else {
			cache_put(b->quota_cache, msg->user, ulen, false, msg->limit, t,
				  (uint32_t)c->policydb_cache_ttl);
		}
	}
	if (cs == CACHE_HIT_NEGATIVE) {
		msg->limit = -1;
		if (c->quota_unknown_user == UNKNOWN_USER_ACCEPT)
			return true;
		result_set(r, reply_action(&c->quota_unknown_user_reply),
			   &c->quota_unknown_user_reply, "quota");
		snprintf(r->detail, sizeof(r->detail), "no quota");
		return false;
	}
	return true;
}

/* ---- inbound: SPF and greylisting ------------------------------------- */

/*
 * spf_checker_from_zone_file - a checker answering DNS from a file of
 * "name TYPE data" lines (spf.test_zone): the end-to-end tests run SPF
 * without sending a single query off the machine.
 */
static int spf_checker_from_zone_file(const char *receiver, const char *path,
				      struct spf_checker **checker_r, const char **err)
{
	FILE *f = fopen(path, "r");
	char line[1024], **records = NULL;
	size_t n = 0;
	int ret;

	if (f == NULL) {
		*err = "spf.test_zone: cannot open the file";
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		records = xreallocarray(records, n + 1, sizeof(*records));
		records[n++] = xstrdup(line);
	}
	fclose(f);
	ret = spf_checker_create_zone(receiver, (const char *const *)records, n, checker_r, err);
	for (size_t i = 0; i < n; i++)
		free(records[i]);
	free(records);
	return ret;
}

/* get_spf - the SPF checker, made on first use */
static struct spf_checker *get_spf(struct backends *b, const char **err)
{
	struct spf_checker *spf;

	pthread_mutex_lock(&b->lock);
	if (b->spf == NULL) {
		char host[256] = "";
		const char *receiver = b->config->spf_receiver;

		if (receiver[0] == '\0') {
			if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
				snprintf(host, sizeof(host), "localhost");
			receiver = host;
		}
		if (b->config->spf_test_zone[0] != '\0') {
			if (spf_checker_from_zone_file(receiver, b->config->spf_test_zone, &b->spf,
						       err) < 0)
				b->spf = NULL;
		} else if (spf_checker_create(receiver, &b->spf, err) < 0) {
			b->spf = NULL;
		}
	}
	spf = b->spf;
	pthread_mutex_unlock(&b->lock);
	return spf;
}

/* domain_flags - the opt-in bits of domain; -1 on a database failure */
static int domain_flags(const struct policy_env *env, const char *domain, long *bits,
			struct policy_result *r)
{
	struct backends *b = env->backends;
	int64_t t = now(env);
	size_t len = strlen(domain);
	char err[256];
	bool grey = false, spf = false;
	struct policydb *db;
	int st;

	switch (cache_get(b->domain_cache, domain, len, t, bits)) {
	case CACHE_HIT:
		return 0;
	case CACHE_HIT_NEGATIVE:
		*bits = 0;
		return 0;
	case CACHE_MISS:
		break;
	}
	db = get_db(b, t, err, sizeof(err));
	st = db ? policydb_domain_flags(db, domain, &grey, &spf, err, sizeof(err)) : POLICYDB_ERROR;
	if (st == POLICYDB_ERROR) {
		incident(&b->db_slot, "policy database", err, r);
		return -1;
	}
	recovered(&b->db_slot, "policy database", r);
	*bits = (grey ? DOMAIN_GREYLIST : 0) | (spf ? DOMAIN_CHECK_SPF : 0);
	cache_put(b->domain_cache, domain, len, st == POLICYDB_NOTFOUND, *bits, t,
		  (uint32_t)env->config->policydb_cache_ttl);
	return 0;
}

/* spf_slot - the action slot of a result */
static enum spf_action_slot spf_slot(enum spf_result result)
{
	switch (result) {
	case SPF_RESULT_PASS: return SPF_SLOT_PASS;
	case SPF_RESULT_FAIL: return SPF_SLOT_FAIL;
	case SPF_RESULT_SOFTFAIL: return SPF_SLOT_SOFTFAIL;
	case SPF_RESULT_TEMPERROR: return SPF_SLOT_TEMPERROR;
	case SPF_RESULT_PERMERROR: return SPF_SLOT_PERMERROR;
	default: return SPF_SLOT_NONE_NEUTRAL;
	}
}

/*
 * format_reply - msg->spf_reply = tmpl with "{reason}" replaced by reason
 * (printable ASCII only, cut to fit), then extra appended after a space.
 */
static const struct reply *format_reply(struct policy_msg *msg, const struct reply *tmpl,
					const char *reason, const char *extra)
{
	char text[REPLY_TEXT_MAX + 1], clean[REPLY_TEXT_MAX + 1], line[REPLY_TEXT_MAX + 32];
	const char *p = tmpl->text, *mark;
	size_t o = 0, ci = 0;
	const char *why;

	for (const char *q = reason ? reason : ""; *q && ci < sizeof(clean) - 1; q++)
		clean[ci++] = (*q >= 0x20 && *q < 0x7f) ? *q : ' ';
	clean[ci] = '\0';
	while ((mark = strstr(p, "{reason}")) != NULL && o < sizeof(text) - 1) {
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%.*s%s", (int)(mark - p), p, clean);
		p = mark + 8;
	}
	if (o < sizeof(text) - 1)
		snprintf(text + o, sizeof(text) - o, "%s", p);
	if (extra != NULL && *extra != '\0') {
		o = strlen(text);
		snprintf(text + o, sizeof(text) - o, " %s", extra);
	}
	text[REPLY_TEXT_MAX - 16] = '\0';
	snprintf(line, sizeof(line), "%s%s%s %s", tmpl->code, tmpl->xcode[0] ? " " : "",
		 tmpl->xcode, text[0] ? text : "-");
	reply_clear(&msg->spf_reply);
	if (reply_parse(line, &msg->spf_reply, &why) < 0)
		return tmpl;	/* cannot happen: parts come from a valid reply */
	return &msg->spf_reply;
}

/* greylist - run the tuple through the store; false with r set when deferred */
static bool greylist(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		     const char *rcpt, bool forced, struct policy_result *r)
{
	const struct config *c = env->config;
	struct backends *b = env->backends;
	struct greylist_params gp = {
		(uint32_t)c->grey_min_delay, (uint32_t)c->grey_retry_window,
		(uint32_t)c->grey_lifetime, (uint32_t)c->grey_whitelist_threshold,
		msg->grey_counted,	/* the tally counts messages, not recipients */
	};
	char client[64], sender[600], rcpt_lc[600], tuple[1500], ckey[128];
	const char *err = NULL;
	int64_t t = now(env);
	size_t tlen, clen;
	int verdict = 0;
	struct store *store;

	greylist_client_key(request_get(req, REQ_CLIENT_ADDR), (unsigned)c->grey_prefix_v4,
			    (unsigned)c->grey_prefix_v6, client, sizeof(client));
	if (c->grey_strip_srs_verp)
		greylist_strip_sender(request_get(req, REQ_SENDER), sender, sizeof(sender));
	else
		snprintf(sender, sizeof(sender), "%s", request_get(req, REQ_SENDER) ?: "");
	snprintf(rcpt_lc, sizeof(rcpt_lc), "%s", rcpt ? rcpt : "");
	for (char *p = rcpt_lc; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	tlen = store_key(tuple, sizeof(tuple), "grey", client, sender, rcpt_lc, (char *)NULL);
	clen = store_key(ckey, sizeof(ckey), "greyc", client, (char *)NULL);
	store = get_store(b, t, &err);
	if (store == NULL || tlen == 0 || clen == 0 ||
	    store_greylist_check(store, tuple, tlen, ckey, clen, &gp, t, &verdict, &err) !=
		    STORE_OK) {
		incident(&b->store_slot, "state store", err ? err : "key too long", r);
		return on_error(env, c->inbound_on_error, true, "greylisting", r);
	}
	recovered(&b->store_slot, "state store", r);
	if (verdict == GREYLIST_PASS || verdict == GREYLIST_PASS_WHITELISTED) {
		msg->grey_counted = true;
		return true;
	}
	const char *reason = forced ? (msg->spf.reason[0] ? msg->spf.reason
							  : "due to SPF enforcement policy")
				    : NULL;
	const struct reply *reply = format_reply(msg, &c->grey_reply, NULL, reason);

	result_set(r, POLICY_TEMPFAIL, reply, "greylisting");
	snprintf(r->detail, sizeof(r->detail), "greylist=%s%s%s",
		 greylist_verdict_name((enum greylist_verdict)verdict), forced ? " spf=" : "",
		 forced ? spf_result_name(msg->spf.result) : "");
	return false;
}

/* inbound_rcpt - SPF and greylisting for one recipient of inbound mail */
static void inbound_rcpt(const struct policy_env *env, struct request *req,
			 struct policy_msg *msg, const char *rcpt, struct policy_result *r)
{
	const struct config *c = env->config;
	bool use_spf = config_has_inbound_policy(c, INBOUND_POLICY_SPF);
	bool use_grey = config_has_inbound_policy(c, INBOUND_POLICY_GREYLISTING);
	const char *at = rcpt ? strrchr(rcpt, '@') : NULL;
	char domain[256];
	long bits = 0;
	bool forced = false;

	if (msg->whitelisted)
		return;
	snprintf(domain, sizeof(domain), "%s", at ? at + 1 : "");
	for (char *p = domain; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (domain_flags(env, domain, &bits, r) < 0) {
		on_error(env, c->inbound_on_error, true, "inbound", r);
		return;
	}
	bool enforce = use_spf && (bits & DOMAIN_CHECK_SPF);

	/* no DNS work unless a domain enforces SPF or the header is wanted */
	if (use_spf && (enforce || c->spf_add_header) && !msg->spf_done) {
		const char *err = NULL;
		struct spf_checker *spf = get_spf(env->backends, &err);

		if (spf == NULL) {
			msg->spf.result = SPF_RESULT_TEMPERROR;
			snprintf(msg->spf.reason, sizeof(msg->spf.reason), "SPF Temporary Error: %s",
				 err ? err : "no checker");
			msg->spf.header[0] = '\0';
		} else {
			spf_check(spf, request_get(req, REQ_CLIENT_ADDR), request_get(req, REQ_HELO),
				  request_get(req, REQ_SENDER), (unsigned)c->spf_time_budget * 1000,
				  &msg->spf);
		}
		msg->spf_done = true;
	}
	if (msg->spf_done && msg->spf.header[0] != '\0' && (enforce || c->spf_add_header))
		msg->header = true;
	if (enforce) {
		const struct spf_action *a = &c->spf_actions[spf_slot(msg->spf.result)];

		if (a->kind == SPF_ACTION_REPLY) {
			const struct reply *reply = format_reply(msg, &a->reply, msg->spf.reason, NULL);

			result_set(r, reply_action(reply), reply, "spf");
			snprintf(r->detail, sizeof(r->detail), "spf=%s",
				 spf_result_name(msg->spf.result));
			return;
		}
		forced = a->kind == SPF_ACTION_GREYLIST;
	}
	/* SPF's "greylist" action greylists even where greylisting is not listed */
	if (((use_grey && (bits & DOMAIN_GREYLIST)) || forced) &&
	    !greylist(env, req, msg, rcpt, forced, r))
		return;
	if (msg->spf_done) {
		r->policy = enforce ? "spf" : NULL;
		snprintf(r->detail, sizeof(r->detail), "spf=%s", spf_result_name(msg->spf.result));
	}
}

void policy_rcpt(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		 const char *rcpt, struct policy_result *r)
{
	const struct config *c = env->config;
	struct backends *b = env->backends;
	struct store_quota_params params;
	struct store_quota_state state;
	const char *err = NULL;
	struct store *store;
	uint32_t n;
	int st;

	memset(r, 0, sizeof(*r));
	result_set(r, POLICY_CONTINUE, NULL, NULL);
	switch (request_add_rcpt(req, rcpt)) {
	case REQUEST_RCPT_OK:
		break;
	case REQUEST_RCPT_TOO_MANY:
		result_set(r, reply_action(&c->rcpt_limit_reply), &c->rcpt_limit_reply, "limits");
		snprintf(r->detail, sizeof(r->detail), "more than %zu recipients",
			 c->limits.rcpt_max);
		return;
	case REQUEST_RCPT_TOO_LONG:
		result_set(r, reply_action(&c->limits_reply), &c->limits_reply, "limits");
		snprintf(r->detail, sizeof(r->detail), "recipient exceeds its limit");
		return;
	}
	if (msg->flow == FLOW_INBOUND) {
		inbound_rcpt(env, req, msg, request_rcpt(req, request_rcpt_count(req) - 1), r);
		if (r->action == POLICY_REJECT || r->action == POLICY_TEMPFAIL)
			request_remove_last_rcpt(req);
		return;
	}
	if (!config_has_outbound_policy(c, OUTBOUND_POLICY_QUOTA) || msg->user == NULL ||
	    msg->limit < 0)
		return;
	n = c->quota_counting_recipients || msg->reserved == 0 ? 1 : 0;
	if (n == 0)
		return;
	if (msg->resid[0] == '\0')
		new_resid(msg);
	quota_params(c, msg->limit, &params);
	int64_t t = now(env);

	store = get_store(b, t, &err);
	st = store ? store_quota_reserve(store, msg->user, strlen(msg->user), msg->resid, n,
					 &params, t, &state, &err)
		   : STORE_ERROR;
	if (st == STORE_ERROR) {
		incident(&b->store_slot, "state store", err, r);
		/* a timed-out script may still run on the server: release it at the end */
		msg->release_anyway = true;
		if (!on_error(env, c->quota_on_error, false, "quota", r))
			request_remove_last_rcpt(req);
		else
			msg->uncounted = true;
		return;
	}
	recovered(&b->store_slot, "state store", r);
	snprintf(r->detail, sizeof(r->detail), "used=%u reserved=%u limit=%u margin=%u",
		 state.committed, state.reserved, params.limit, params.margin);
	if (st == STORE_REFUSED) {
		result_set(r, reply_action(&c->quota_reply), &c->quota_reply, "quota");
		request_remove_last_rcpt(req);
		return;
	}
	msg->reserved += n;
	r->policy = "quota";
}

/* commit - turn the reservation into usage; false when on_error refuses */
static bool commit(const struct policy_env *env, struct policy_msg *msg, struct policy_result *r)
{
	const struct config *c = env->config;
	struct backends *b = env->backends;
	struct store_quota_params params;
	const char *err = NULL;
	int64_t t = now(env);
	struct store *store;

	if (msg->reserved == 0 || msg->committed)
		return true;
	quota_params(c, msg->limit, &params);
	store = get_store(b, t, &err);
	if (store == NULL || store_quota_commit(store, msg->user, strlen(msg->user), msg->resid,
						&params, t, &err) != STORE_OK) {
		incident(&b->store_slot, "state store", err, r);
		return on_error(env, c->quota_on_error, false, "quota", r);
	}
	recovered(&b->store_slot, "state store", r);
	msg->committed = true;
	snprintf(r->detail, sizeof(r->detail), "counted=%u", msg->reserved);
	return true;
}

void policy_mail(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		 struct policy_result *r)
{
	const struct config *c = env->config;
	const char *overflow = request_overflow(req);

	memset(r, 0, sizeof(*r));
	if (overflow != NULL) {
		result_set(r, reply_action(&c->limits_reply), &c->limits_reply, "limits");
		snprintf(r->detail, sizeof(r->detail), "%s exceeds its limit", overflow);
		return;
	}
	msg->flow = config_flow(c, request_get(req, REQ_DAEMON_NAME),
				request_get(req, REQ_DAEMON_PORT));
	if (msg->flow == FLOW_INBOUND) {
		msg->whitelisted = helo_whitelist_match(c->helo_whitelist, request_get(req, REQ_HELO),
							request_get(req, REQ_CLIENT_NAME),
							request_get(req, REQ_CLIENT_ADDR));
		result_set(r, msg->whitelisted || c->n_inbound_policies == 0 ? POLICY_ACCEPT
									      : POLICY_CONTINUE,
			   NULL, msg->whitelisted ? "helo_whitelist" : NULL);
		return;
	}
	if (!check_identity(env, req, msg, r))
		return;
	for (int i = 0; i < c->n_outbound_policies; i++) {
		switch (c->outbound_policies[i]) {
		case OUTBOUND_POLICY_SDA:
			if (!check_sda(env, req, msg, r))
				return;
			break;
		case OUTBOUND_POLICY_QUOTA:
			if (!check_quota_user(env, msg, r))
				return;
			break;
		}
	}
	/* nothing decided later: accept now and leave the transaction */
	result_set(r, config_has_outbound_policy(c, OUTBOUND_POLICY_QUOTA) && msg->limit >= 0
			      ? POLICY_CONTINUE
			      : POLICY_ACCEPT,
		   NULL, NULL);
}

void policy_data(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		 struct policy_result *r)
{
	(void)req;
	memset(r, 0, sizeof(*r));
	result_set(r, POLICY_CONTINUE, NULL, NULL);
	if (msg->flow == FLOW_INBOUND || env->config->quota_commit != QUOTA_COMMIT_DATA ||
	    msg->user == NULL)
		return;
	if (commit(env, msg, r)) {
		result_set(r, POLICY_ACCEPT, NULL, "quota");
		if (msg->uncounted)
			snprintf(r->detail, sizeof(r->detail), "uncounted (on_error=accept)");
	}
}

void policy_eom(const struct policy_env *env, struct request *req, struct policy_msg *msg,
		struct policy_result *r)
{
	(void)req;
	memset(r, 0, sizeof(*r));
	result_set(r, POLICY_ACCEPT, NULL, NULL);
	if (msg->flow == FLOW_INBOUND) {
		if (msg->spf_done && msg->header) {
			r->header_name = "Received-SPF";
			r->header_value = msg->spf.header;
			r->policy = "spf";
			snprintf(r->detail, sizeof(r->detail), "spf=%s",
				 spf_result_name(msg->spf.result));
		}
		return;
	}
	if (msg->user != NULL && commit(env, msg, r)) {
		result_set(r, POLICY_ACCEPT, NULL, "quota");
		if (msg->uncounted)
			snprintf(r->detail, sizeof(r->detail), "uncounted (on_error=accept)");
	}
}

void policy_abort(const struct policy_env *env, struct policy_msg *msg)
{
	if (msg == NULL)
		return;
	if ((msg->reserved > 0 || msg->release_anyway) && !msg->committed && env != NULL &&
	    env->backends != NULL) {
		const char *err;
		struct store *store = get_store(env->backends, now(env), &err);

		/* a failed release is harmless: the reservation expires by itself */
		if (store != NULL)
			(void)store_quota_release(store, msg->user, strlen(msg->user), msg->resid,
						  now(env), &err);
	}
	XFREE(msg->user);
	reply_clear(&msg->spf_reply);
	msg->flow = FLOW_OUTBOUND;
	msg->whitelisted = false;
	msg->spf_done = false;
	msg->header = false;
	msg->grey_counted = false;
	msg->key = NULL;
	msg->limit = -1;
	msg->reserved = 0;
	msg->committed = false;
	msg->release_anyway = false;
	msg->uncounted = false;
	msg->resid[0] = '\0';
}
