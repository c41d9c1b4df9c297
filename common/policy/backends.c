/*
 * NAME
 *	backends - lazily opened store, policy database and SPF checker,
 *	their incidents, and the cached policy-database look-ups
 * DESCRIPTION
 *	One struct backends per process, shared by every connection.  The
 *	handles are opened on first use under one mutex; a failed open is
 *	retried at most once per RETRY_INTERVAL (the SPF checker at every
 *	use until it exists).  Nothing else here is mutable except the
 *	incident flags (atomics) and the caches (locked per shard).
 *
 *	Incidents: a slot's flag is set by the first failure and cleared by
 *	the next success; only the call that flips it writes the text into
 *	the result, so an outage is one error line and one "available again"
 *	line, whatever the traffic.
 *
 *	Caches: user -> quota limit and domain -> opt-in bits, each with
 *	negative entries (unknown user or domain) for policy_db.cache_ttl,
 *	so that an unknown name costs one query per lifetime.  Every look-up
 *	counts as a hit or a miss of its cache (metrics.h), every failure
 *	reported by backends_failed as an error of its backend.
 * DIAGNOSTICS
 *	Results and texts only; nothing is logged here.
 */
#include "autoconf.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cache.h"
#include "base/config.h"
#include "base/metrics.h"
#include "base/xalloc.h"
#include "policy/backends.h"
#include "policy/policy.h"
#include "policydb/policydb.h"
#include "spf/spf.h"
#include "store/store.h"

#define QUOTA_CACHE_MAX 100000
#define DOMAIN_CACHE_MAX 100000
#define RETRY_INTERVAL 1	/* seconds between attempts to open a backend */

struct backend_slot {
	bool incident;			/* failing since the last success */
	int64_t retry_at;
};

struct backends {
	struct config *config;		/* the start-up snapshot: backend settings */
	pthread_mutex_t lock;
	struct store *store;
	struct policydb *db;
	struct backend_slot slots[2];	/* by enum backends_which */
	struct cache *quota_cache;	/* user -> limit, negative = no quota */
	struct cache *domain_cache;	/* domain -> BACKENDS_DOMAIN_* bits, negative = unknown */
	struct spf_checker *spf;	/* made at first use */
	struct limits_cache *limits_cache;	/* user -> struct backends_limits */
	/* backends_size_wanted: the answer and until when it holds (atomics) */
	bool size_wanted;
	int64_t size_until;
};

static const char *const slot_names[] = { "state store", "policy database" };

/*
 * ---- the limits cache: 4-way set-associative, entries copied in and out ----
 * A key goes to one set of LIMITS_CACHE_WAYS slots (FNV-1a); a new entry
 * takes the key's own slot, else an empty or expired one, else the one that
 * expires first.  (Direct-mapped, a quarter of 1,000 users collided with
 * another and went to the database at every message.)
 */

#define LIMITS_CACHE_SLOTS 4096
#define LIMITS_CACHE_WAYS 4
#define LIMITS_KEY_MAX 256		/* longer user names are looked up every time */

struct limits_entry {
	size_t key_len;			/* 0: empty */
	char key[LIMITS_KEY_MAX];
	int64_t expires;
	int found;
	struct backends_limits limits;
};

struct limits_cache {
	pthread_mutex_t lock;
	struct limits_entry *slots;	/* LIMITS_CACHE_SLOTS */
};

/* limits_set - the first slot of key's set (FNV-1a) */
static size_t limits_set(const char *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
	return (size_t)(h % (LIMITS_CACHE_SLOTS / LIMITS_CACHE_WAYS)) * LIMITS_CACHE_WAYS;
}

/* limits_same - does slot e hold key? */
static bool limits_same(const struct limits_entry *e, const char *key, size_t len)
{
	return e->key_len == len && memcmp(e->key, key, len) == 0;
}

/* limits_cache_create - an empty cache */
static struct limits_cache *limits_cache_create(void)
{
	struct limits_cache *lc = xcalloc(1, sizeof(*lc));

	pthread_mutex_init(&lc->lock, NULL);
	lc->slots = xcalloc(LIMITS_CACHE_SLOTS, sizeof(*lc->slots));
	return lc;
}

/* limits_cache_destroy - free *lc */
static void limits_cache_destroy(struct limits_cache **lc)
{
	if (*lc == NULL)
		return;
	pthread_mutex_destroy(&(*lc)->lock);
	free((*lc)->slots);
	free(*lc);
	*lc = NULL;
}

/* limits_cache_flush - forget every entry */
static void limits_cache_flush(struct limits_cache *lc)
{
	pthread_mutex_lock(&lc->lock);
	for (size_t i = 0; i < LIMITS_CACHE_SLOTS; i++)
		lc->slots[i].key_len = 0;
	pthread_mutex_unlock(&lc->lock);
}

/* limits_cache_get - copy a live entry out: its found value, or -1 for a miss */
static int limits_cache_get(struct limits_cache *lc, const char *key, size_t len, int64_t t,
			    struct backends_limits *out)
{
	struct limits_entry *e;
	int found = -1;

	if (len == 0 || len >= LIMITS_KEY_MAX)
		return -1;
	e = &lc->slots[limits_set(key, len)];
	pthread_mutex_lock(&lc->lock);
	for (size_t w = 0; w < LIMITS_CACHE_WAYS; w++, e++)
		if (limits_same(e, key, len)) {
			if (t < e->expires) {
				*out = e->limits;
				found = e->found;
			}
			break;
		}
	pthread_mutex_unlock(&lc->lock);
	return found;
}

/* limits_cache_put - copy an entry in until t + ttl */
static void limits_cache_put(struct limits_cache *lc, const char *key, size_t len, int found,
			     const struct backends_limits *l, int64_t t, uint32_t ttl)
{
	struct limits_entry *set, *e;
	size_t w;

	if (len == 0 || len >= LIMITS_KEY_MAX || ttl == 0)
		return;
	set = &lc->slots[limits_set(key, len)];
	pthread_mutex_lock(&lc->lock);
	for (w = 0; w < LIMITS_CACHE_WAYS && !limits_same(&set[w], key, len); w++)
		;
	if (w == LIMITS_CACHE_WAYS)	/* not there: an empty or expired slot, or the oldest */
		for (w = 0; w < LIMITS_CACHE_WAYS; w++)
			if (set[w].key_len == 0 || t >= set[w].expires)
				break;
	e = w < LIMITS_CACHE_WAYS ? &set[w] : NULL;
	if (e == NULL) {
		e = set;
		for (w = 1; w < LIMITS_CACHE_WAYS; w++)
			if (set[w].expires < e->expires)
				e = &set[w];
	}
	memcpy(e->key, key, len);
	e->key_len = len;
	e->expires = t + ttl;
	e->found = found;
	e->limits = *l;
	pthread_mutex_unlock(&lc->lock);
}

struct backends *backends_create(const struct config *config)
{
	struct backends *b = xcalloc(1, sizeof(*b));

	b->config = config_ref((struct config *)config);
	pthread_mutex_init(&b->lock, NULL);
	b->quota_cache = cache_create(QUOTA_CACHE_MAX);
	b->domain_cache = cache_create(DOMAIN_CACHE_MAX);
	b->limits_cache = limits_cache_create();
	b->size_wanted = true;	/* until the database says otherwise: count */
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
	limits_cache_destroy(&b->limits_cache);
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
		limits_cache_flush(b->limits_cache);
		__atomic_store_n(&b->size_until, 0, __ATOMIC_RELEASE);
	}
}

bool backends_size_wanted(struct backends *b, int64_t t, uint32_t ttl)
{
	int64_t until = __atomic_load_n(&b->size_until, __ATOMIC_ACQUIRE);
	struct policydb *db;
	char err[256];
	bool any;

	/* one caller asks the database; the others take the last answer meanwhile */
	if (t < until || !__atomic_compare_exchange_n(&b->size_until, &until, t + (int64_t)ttl,
						      false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return __atomic_load_n(&b->size_wanted, __ATOMIC_ACQUIRE);
	db = backends_db(b, t, err, sizeof(err));
	if (db != NULL && policydb_size_limits(db, &any, err, sizeof(err)) == POLICYDB_OK)
		__atomic_store_n(&b->size_wanted, any, __ATOMIC_RELEASE);
	/* a failed database keeps the last answer (at first: count) */
	return __atomic_load_n(&b->size_wanted, __ATOMIC_ACQUIRE);
}

void backends_failed(struct backends *b, enum backends_which which, const char *err,
		     struct policy_result *r)
{
	metrics_backend(which == BACKENDS_STORE ? METRICS_BACKEND_STORE : METRICS_BACKEND_POLICYDB,
			METRICS_BACKEND_ERROR);
	if (!__atomic_exchange_n(&b->slots[which].incident, true, __ATOMIC_ACQ_REL)) {
		snprintf(r->incident, sizeof(r->incident), "%s unavailable: %.200s",
			 slot_names[which], err ? err : "unknown error");
		r->incident_kind = POLICY_INCIDENT_FAILED;
	}
}

void backends_ok(struct backends *b, enum backends_which which, struct policy_result *r)
{
	struct backend_slot *slot = &b->slots[which];

	if (__atomic_load_n(&slot->incident, __ATOMIC_ACQUIRE) &&
	    __atomic_exchange_n(&slot->incident, false, __ATOMIC_ACQ_REL)) {
		snprintf(r->incident, sizeof(r->incident), "%s available again", slot_names[which]);
		r->incident_kind = POLICY_INCIDENT_RECOVERED;
	}
}

struct store *backends_store(struct backends *b, int64_t t, const char **err)
{
	struct backend_slot *slot = &b->slots[BACKENDS_STORE];
	struct store *s;

	pthread_mutex_lock(&b->lock);
	if (b->store == NULL) {
		if (t < slot->retry_at) {
			*err = "not connected (retrying)";
		} else if (store_open(b->config, &b->store, err) < 0) {
			b->store = NULL;
			slot->retry_at = t + RETRY_INTERVAL;
		}
	}
	s = b->store;
	pthread_mutex_unlock(&b->lock);
	return s;
}

struct policydb *backends_db(struct backends *b, int64_t t, char *err, size_t errsize)
{
	struct backend_slot *slot = &b->slots[BACKENDS_DB];
	struct policydb *db;

	pthread_mutex_lock(&b->lock);
	if (b->db == NULL) {
		if (t < slot->retry_at) {
			snprintf(err, errsize, "not connected (retrying)");
		} else if (policydb_open(b->config, false, &b->db, err, errsize) < 0) {
			b->db = NULL;
			slot->retry_at = t + RETRY_INTERVAL;
		}
	}
	db = b->db;
	pthread_mutex_unlock(&b->lock);
	return db;
}

int backends_check(struct backends *b, unsigned fatal_uses, unsigned warn_uses, bool *warn_r,
		   char *err, size_t errsize)
{
	const struct config *c = b->config;
	unsigned uses = fatal_uses | warn_uses;
	const char *serr = NULL;
	size_t len;

	*warn_r = false;
	err[0] = '\0';
	if (uses == 0)
		return 0;
	if (backends_db(b, 0, err, errsize) == NULL) {
		if ((fatal_uses & BACKENDS_USES_DB) && c->policydb_backend == POLICYDB_BACKEND_SQLITE)
			return -1;
		*warn_r = true;
	}
	if (backends_store(b, 0, &serr) == NULL) {
		if ((fatal_uses & BACKENDS_USES_STORE) && c->store_backend == STORE_BACKEND_LMDB) {
			snprintf(err, errsize, "store: %s", serr);
			return -1;
		}
		len = strlen(err);
		snprintf(err + len, errsize - len, "%sstore: %s", len ? "; " : "", serr);
		*warn_r = true;
	}
	return 0;
}

/* ---- SPF checker ---------------------------------------------------------- */

struct spf_checker *backends_spf(struct backends *b, const char **err)
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
			if (spf_checker_create_zone_file(receiver, b->config->spf_test_zone,
							 &b->spf, err) < 0)
				b->spf = NULL;
		} else if (spf_checker_create(receiver, &b->spf, err) < 0) {
			b->spf = NULL;
		}
	}
	spf = b->spf;
	pthread_mutex_unlock(&b->lock);
	return spf;
}

/* ---- cached look-ups ------------------------------------------------------ */

/* cached - 1: a live entry (*value set), 0: a negative one, -1: a miss; counted as which */
static int cached(struct cache *cache, enum metrics_cache which, const char *key, size_t len,
		  int64_t t, long *value)
{
	switch (cache_get(cache, key, len, t, value)) {
	case CACHE_HIT:
		metrics_cache(which, true);
		return 1;
	case CACHE_HIT_NEGATIVE:
		metrics_cache(which, true);
		return 0;
	case CACHE_MISS:
		break;
	}
	metrics_cache(which, false);
	return -1;
}

/* db_noted - note a database answer (st) as a failure or a success; -1 for a failure */
static int db_noted(struct backends *b, int st, const char *err, struct policy_result *r)
{
	if (st == POLICYDB_ERROR) {
		backends_failed(b, BACKENDS_DB, err, r);
		return -1;
	}
	backends_ok(b, BACKENDS_DB, r);
	return 0;
}

int backends_user_limit(struct backends *b, const char *user, int64_t t, uint32_t ttl,
			long *limit, struct policy_result *r)
{
	struct backends_limits l;
	int st = backends_user_limits(b, user, t, ttl, &l, r);

	if (st == 1)
		*limit = l.base;
	return st;
}

int backends_domain_optins(struct backends *b, const char *domain, int64_t t, uint32_t ttl,
			   long *bits, struct policy_result *r)
{
	size_t len = strlen(domain);
	int hit = cached(b->domain_cache, METRICS_CACHE_DOMAIN, domain, len, t, bits);
	char err[256];
	bool grey = false, spf = false;
	struct policydb *db;
	int st;

	if (hit >= 0) {
		if (hit == 0)
			*bits = 0;
		return 0;
	}
	db = backends_db(b, t, err, sizeof(err));
	st = db ? policydb_domain_flags(db, domain, &grey, &spf, err, sizeof(err)) : POLICYDB_ERROR;
	if (db_noted(b, st, err, r) < 0)
		return -1;
	*bits = (grey ? BACKENDS_DOMAIN_GREYLIST : 0) | (spf ? BACKENDS_DOMAIN_CHECK_SPF : 0);
	cache_put(b->domain_cache, domain, len, st == POLICYDB_NOTFOUND, *bits, t, ttl);
	return 0;
}

int backends_read_limits(struct policydb *db, const char *user, struct backends_limits *l,
			 char *err, size_t errsize)
{
	const char *at = strrchr(user, '@');
	int st;

	memset(l, 0, sizeof(*l));
	l->base = -1;
	st = policydb_user_quota(db, user, &l->base, err, errsize);
	if (st == POLICYDB_OK && l->base >= 0)
		st = policydb_user_limits(db, user, l->l, POLICYDB_LIMITS_MAX, &l->n, err, errsize);
	else if (st == POLICYDB_NOTFOUND || st == POLICYDB_OK) {
		l->base = -1;
		st = POLICYDB_NOTFOUND;
		if (at != NULL && at[1] != '\0') {
			st = policydb_domain_quota(db, at + 1, false, NULL, 0, &l->base, l->l,
						   POLICYDB_LIMITS_MAX, &l->n, err, errsize);
			if (st == POLICYDB_OK)
				l->from_domain = true;
			else
				l->base = -1;
		}
	}
	if (st == POLICYDB_ERROR)
		return st;
	if (l->base < 0)
		return POLICYDB_NOTFOUND;
	if (at != NULL && at[1] != '\0') {
		st = policydb_domain_quota(db, at + 1, true, NULL, 0, &l->pool_base, l->pool_l,
					   POLICYDB_LIMITS_MAX, &l->n_pool, err, errsize);
		if (st == POLICYDB_ERROR)
			return st;
		l->pool = st == POLICYDB_OK;
	}
	return POLICYDB_OK;
}

/*
 * A user whose set is the CHAPPS single limit (the common case) is cached
 * in quota_cache as its number, as before issue 10; a user with more
 * (extra limits, a domain default or pool) as LIMITS_COMPLEX there, the
 * set itself in the smaller limits cache.
 */
#define LIMITS_COMPLEX LONG_MIN

int backends_user_limits(struct backends *b, const char *user, int64_t t, uint32_t ttl,
			 struct backends_limits *out, struct policy_result *r)
{
	size_t ulen = strlen(user);
	long v = 0;
	int hit = cached(b->quota_cache, METRICS_CACHE_QUOTA, user, ulen, t, &v);
	char err[256];
	struct policydb *db;
	bool simple;
	int st;

	if (hit >= 0 && v != LIMITS_COMPLEX) {
		memset(out, 0, offsetof(struct backends_limits, l));
		out->base = hit ? v : -1;
		out->pool = false;
		return hit;
	}
	if (hit == 1) {
		bool found = limits_cache_get(b->limits_cache, user, ulen, t, out) == 1;

		metrics_cache(METRICS_CACHE_LIMITS, found);
		if (found)
			return 1;
	}
	db = backends_db(b, t, err, sizeof(err));
	st = db ? backends_read_limits(db, user, out, err, sizeof(err)) : POLICYDB_ERROR;
	if (db_noted(b, st, err, r) < 0)
		return -1;
	if (st != POLICYDB_OK) {
		cache_put(b->quota_cache, user, ulen, true, 0, t, ttl);
		return 0;
	}
	simple = out->n == 0 && !out->pool && !out->from_domain;
	cache_put(b->quota_cache, user, ulen, false, simple ? out->base : LIMITS_COMPLEX, t, ttl);
	if (!simple)
		limits_cache_put(b->limits_cache, user, ulen, 1, out, t, ttl);
	return 1;
}
