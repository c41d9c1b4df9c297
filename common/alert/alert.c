/*
 * NAME
 *	alert - operator alerts: the log, a webhook and a mail, off the decision path
 * SUMMARY
 *	alerts_open, alerts_post, alerts_set_sink, alerts_close;
 *	alerts_set_clock_ms (tests)
 * DESCRIPTION
 *	alerts_post runs in a milter thread in the middle of a decision, so
 *	it does no I/O but one log line: under one mutex, held for a few
 *	hundred nanoseconds, it consults the dedupe table and copies the
 *	event into a preallocated ring (alerts.queue_size slots, each field
 *	cut to a fixed size and cleaned: invalid UTF-8 and control bytes
 *	become '?', so the texts are safe in a log line, a JSON string and a
 *	mail header alike).  Nothing is allocated there.
 *
 *	Dedupe: one event per (user, kind) per alerts.interval seconds, by
 *	the event's own time (a lock and an unlock always go out).  The table is fixed (DEDUPE_SETS sets of
 *	DEDUPE_WAYS entries of a keyed 64-bit SipHash and a time), so a
 *	flood of users cannot make it grow: a new key takes the oldest entry
 *	of its set.  A key pushed out that way may alert once more before
 *	its interval ends; that is the price of a bound.  An event dropped
 *	by a full queue is not recorded, so the next one may go out.
 *
 *	One sender thread, started only when a webhook, a mail address or a
 *	sink is configured, takes events from the ring in order.  For each
 *	it builds the JSON body once (jansson), hands it to the sink, POSTs
 *	it to the webhook (alert_webhook.c) and pipes a plain-text mail into
 *	sendmail (alert_mail.c).  A failed attempt goes to a small retry
 *	list with a due time (1 s, doubling, at most 60 s, at most
 *	alerts.retries times), and the ring keeps moving meanwhile: an
 *	unreachable receiver delays its own events, not the others.  Only
 *	what failed is tried again.
 *
 *	Counters: events dropped because the ring was full, events dropped
 *	by the dedupe, and events given up (retries spent, retry list full,
 *	or still queued at close).  They are logged as one line when they
 *	changed, at most once a minute, and always at close.
 *
 *	alerts_close tells the thread to stop, lets it deliver what is
 *	queued for at most alerts.timeout_ms (each attempt's timeout is cut
 *	to what is left; an attempt in flight runs through a curl multi
 *	handle that close wakes up, and is aborted when the time is up),
 *	joins it and frees everything.
 *
 *	Unlike the other common/ modules this one logs: reporting events is
 *	its purpose, and it runs where no caller could log for it.
 * DIAGNOSTICS
 *	alerts_open: -1 with a message in err for a webhook URL that is not
 *	http(s), or libcurl/libsodium that cannot start, or a thread that
 *	cannot be created.  Delivery failures are logged as warnings.
 */
#include "autoconf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "alert/alert-private.h"
#include "base/log.h"
#include "base/xalloc.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
#define REPORT_EVERY_MS 60000

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_status;
static int64_t (*test_clock_ms)(void);	/* alerts_set_clock_ms; NULL: the real clock */

/* global_init - libcurl's and libsodium's one-time set-up (before any thread uses them) */
static void global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		global_status = -1;
	else if (sodium_init() < 0)
		global_status = -2;
}

void alerts_set_clock_ms(int64_t (*now_ms)(void))
{
	test_clock_ms = now_ms;
}

/* alert_now_ms - a monotonic clock in milliseconds */
int64_t alert_now_ms(void)
{
	struct timespec ts;

	if (test_clock_ms != NULL)
		return test_clock_ms();

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* alert_kind_name - "refusal", "warn", "lock", "unlock" */
const char *alert_kind_name(enum alert_kind kind)
{
	switch (kind) {
	case ALERT_REFUSAL:
		return "refusal";
	case ALERT_WARN:
		return "warn";
	case ALERT_LOCK:
		return "lock";
	case ALERT_UNLOCK:
		return "unlock";
	}
	return "unknown";
}

/* utf8_len - the length of the valid UTF-8 sequence at s (n bytes left), or 0 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * clean_copy - copy src into dst (size dstsize, always terminated): valid
 * UTF-8 kept, never cut inside a sequence; invalid bytes and control
 * characters written as '?'.
 */
static void clean_copy(char *dst, size_t dstsize, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = strlen(src), o = 0;

	while (n > 0) {
		size_t len = utf8_len(s, n);

		if (len == 0 || (len == 1 && (s[0] < 0x20 || s[0] == 0x7f))) {
			if (o + 1 >= dstsize)
				break;
			dst[o++] = '?';
			s++;
			n--;
			continue;
		}
		if (o + len >= dstsize)
			break;
		memcpy(dst + o, s, len);
		o += len;
		s += len;
		n -= len;
	}
	dst[o] = '\0';
}

/* dedupe_key - the keyed hash of (user, kind); never 0 */
static uint64_t dedupe_key(const struct alerts *a, const char *user, enum alert_kind kind)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t key;

	crypto_shorthash(out, (const unsigned char *)user, strlen(user), a->hash_key);
	memcpy(&key, out, sizeof(key));
	/* the kind spreads over every bit; a wrong match needs a SipHash collision */
	key ^= ((uint64_t)kind + 1) * UINT64_C(0x9e3779b97f4a7c15);
	return key == 0 ? 1 : key;
}

/*
 * dedupe_slot - under the mutex: the entry to record an event of key at
 * time t in, or NULL when one went out less than interval ago (or interval
 * is 0: &dedupe_none).  Nothing is written: the caller records the event
 * once it is taken, so an event dropped by a full queue does not silence
 * the next one.
 */
static struct dedupe_entry dedupe_none;

static struct dedupe_entry *dedupe_slot(struct alerts *a, uint64_t key, int64_t t)
{
	struct dedupe_entry *set = a->dedupe[key % DEDUPE_SETS], *victim = &set[0];

	if (a->interval == 0)
		return &dedupe_none;
	for (int i = 0; i < DEDUPE_WAYS; i++) {
		if (set[i].key == key) {
			int64_t d = t >= set[i].time ? t - set[i].time : set[i].time - t;

			return d < a->interval ? NULL : &set[i];
		}
		if (set[i].key == 0) {
			if (victim->key != 0)
				victim = &set[i];
		} else if (victim->key != 0 && set[i].time < victim->time) {
			victim = &set[i];	/* the oldest goes when the set is full */
		}
	}
	return victim;
}

/*
 * take_report - under the mutex: when the counters changed since the last
 * report, write the line into buf and remember them; false when nothing to say.
 */
static bool take_report(struct alerts *a, bool always, char *buf, size_t size)
{
	/* the next look is a period away, said or not (else the sender loop would spin) */
	a->last_report_ms = alert_now_ms();
	if (!always && a->dropped_full == a->reported_full &&
	    a->dropped_dedupe == a->reported_dedupe && a->given_up == a->reported_given_up)
		return false;
	snprintf(buf, size, "alert: dropped queue_full=%llu dedupe=%llu given_up=%llu",
		 (unsigned long long)a->dropped_full, (unsigned long long)a->dropped_dedupe,
		 (unsigned long long)a->given_up);
	a->reported_full = a->dropped_full;
	a->reported_dedupe = a->dropped_dedupe;
	a->reported_given_up = a->given_up;
	return true;
}

/* alert_rfc3339 - t as "2026-12-04T21:40:00Z" into buf (21 bytes at least) */
void alert_rfc3339(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "1970-01-01T00:00:00Z");
}

/* opt_string - a JSON string, or null for "" when absent */
static json_t *opt_string(bool present, const char *s)
{
	json_t *j = present ? json_string(s) : NULL;

	return j != NULL ? j : json_null();
}

/* event_json - the event's JSON object as compact text (malloc'd), or NULL */
static char *event_json(const struct alerts *a, const struct alert_item *it)
{
	char when[32];
	json_t *o = json_object();
	char *text;

	alert_rfc3339(it->time, when, sizeof(when));
	json_object_set_new(o, "kind", json_string(alert_kind_name(it->kind)));
	json_object_set_new(o, "user", opt_string(true, it->user));
	json_object_set_new(o, "limit", opt_string(it->has_limit, it->limit));
	/* JSON integers are signed 64-bit here: clamp, never wrap */
	json_object_set_new(o, "used",
			    json_integer((json_int_t)(it->used > INT64_MAX ? INT64_MAX : it->used)));
	json_object_set_new(o, "max",
			    json_integer((json_int_t)(it->max > INT64_MAX ? INT64_MAX : it->max)));
	json_object_set_new(o, "client_address", opt_string(it->has_client, it->client));
	json_object_set_new(o, "queue_id", opt_string(it->has_queue_id, it->queue_id));
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "host", json_string(a->host));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return text;
}

/* attempt_timeout - an attempt's time: webhook_timeout_ms, cut to what close leaves; 0 = none */
static long attempt_timeout(struct alerts *a)
{
	int64_t left;
	bool stopping;

	pthread_mutex_lock(&a->mutex);
	stopping = a->stopping;
	left = a->stop_deadline_ms - alert_now_ms();
	pthread_mutex_unlock(&a->mutex);
	if (!stopping || left >= a->webhook_timeout_ms)
		return a->webhook_timeout_ms;
	return left > 0 ? (long)left : 0;
}

/* deliver - one attempt at what the event still needs; clears the bits that succeeded */
static void deliver(struct alerts *a, struct alert_item *it)
{
	char *json = NULL, user[ALERT_USER_MAX];
	const char *err;
	long timeout;

	log_sanitize(user, sizeof(user), it->user);
	it->attempts++;
	if (it->need & (NEED_SINK | NEED_WEBHOOK)) {
		json = event_json(a, it);
		if (json == NULL) {
			log_warn("alert: cannot build the JSON of kind=%s user=<%s>: dropped",
				 alert_kind_name(it->kind), user);
			it->need &= ~(unsigned)(NEED_SINK | NEED_WEBHOOK);
		}
	}
	if ((it->need & NEED_SINK) && json != NULL) {
		a->sink(a->sink_ctx, json, strlen(json), it->time);
		it->need &= ~(unsigned)NEED_SINK;
	}
	if ((it->need & NEED_WEBHOOK) && json != NULL && (timeout = attempt_timeout(a)) > 0) {
		if (alert_webhook_post(a, json, strlen(json), timeout, &err) == 0)
			it->need &= ~(unsigned)NEED_WEBHOOK;
		else
			log_warn("alert: webhook attempt %d for kind=%s user=<%s> failed: %s",
				 it->attempts, alert_kind_name(it->kind), user, err);
	}
	if ((it->need & NEED_MAIL) && (timeout = attempt_timeout(a)) > 0) {
		if (alert_mail_send(a, it, timeout, &err) == 0)
			it->need &= ~(unsigned)NEED_MAIL;
		else
			log_warn("alert: mail attempt %d for kind=%s user=<%s> failed: %s",
				 it->attempts, alert_kind_name(it->kind), user, err);
	}
	free(json);
}

/* backoff_ms - the wait after attempt n (1, 2, ...): 1 s doubling, at most 60 s */
static int64_t backoff_ms(int n)
{
	int64_t d = BACKOFF_FIRST_MS;

	for (int i = 1; i < n && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

/* next_retry - the index of the retry due first, or -1 when there is none */
static int next_retry(const struct alerts *a)
{
	int best = -1;

	for (size_t i = 0; i < a->n_retry; i++)
		if (best < 0 || a->retry[i].due_ms < a->retry[best].due_ms)
			best = (int)i;
	return best;
}

/* wait_until - under the mutex: wait for a signal or the monotonic time t (ms) */
static void wait_until(struct alerts *a, int64_t t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(t / 1000);
	ts.tv_nsec = (long)(t % 1000) * 1000000;
	pthread_cond_timedwait(&a->cond, &a->mutex, &ts);
}

/* sender_main - the sender thread: the ring in order, retries when due, reports */
static void *sender_main(void *arg)
{
	struct alerts *a = arg;
	struct alert_item it;
	char report[160];

	pthread_mutex_lock(&a->mutex);
	for (;;) {
		int64_t now = alert_now_ms(), wake;
		int r = next_retry(a);
		bool have = false, say;

		if (a->stopping && (now >= a->stop_deadline_ms ||
				    (a->ring_count == 0 &&
				     (r < 0 || a->retry[r].due_ms >= a->stop_deadline_ms))))
			break;
		say = now - a->last_report_ms >= REPORT_EVERY_MS &&
		      take_report(a, false, report, sizeof(report));
		if (say) {
			pthread_mutex_unlock(&a->mutex);
			log_info("%s", report);
			pthread_mutex_lock(&a->mutex);
			continue;
		}
		if (r >= 0 && a->retry[r].due_ms <= now) {
			it = a->retry[r];
			a->retry[r] = a->retry[--a->n_retry];
			have = true;
		} else if (a->ring_count > 0) {
			it = a->ring[a->ring_head];
			a->ring_head = (a->ring_head + 1) % a->ring_size;
			a->ring_count--;
			have = true;
		}
		if (!have) {
			wake = a->last_report_ms + REPORT_EVERY_MS;
			if (r >= 0 && a->retry[r].due_ms < wake)
				wake = a->retry[r].due_ms;
			if (a->stopping && a->stop_deadline_ms < wake)
				wake = a->stop_deadline_ms;
			wait_until(a, wake);
			continue;
		}
		pthread_mutex_unlock(&a->mutex);
		deliver(a, &it);
		pthread_mutex_lock(&a->mutex);
		if (it.need == 0)
			continue;
		if (it.attempts <= a->retries && a->n_retry < RETRY_SLOTS) {
			it.due_ms = alert_now_ms() + backoff_ms(it.attempts);
			a->retry[a->n_retry++] = it;
		} else {
			char user[ALERT_USER_MAX];

			a->given_up++;
			pthread_mutex_unlock(&a->mutex);
			log_warn("alert: gave up on kind=%s user=<%s> attempts=%d%s",
				 alert_kind_name(it.kind),
				 log_sanitize(user, sizeof(user), it.user), it.attempts,
				 it.attempts <= a->retries ? " (retry list full)" : "");
			pthread_mutex_lock(&a->mutex);
		}
	}
	/* what is left when close's time is up */
	a->given_up += a->ring_count + a->n_retry;
	a->ring_count = 0;
	a->n_retry = 0;
	pthread_mutex_unlock(&a->mutex);
	if (a->curl != NULL)
		curl_easy_cleanup(a->curl);
	a->curl = NULL;
	return NULL;
}

/* start_thread - under no lock: start the sender thread with every signal blocked in it */
static int start_thread(struct alerts *a)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&a->thread, NULL, sender_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	a->thread_started = true;
	return 0;
}

/* has_control - does s hold a control character (a header could be forged with one)? */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int alerts_open(const struct config *config, struct alerts **alerts_r, char *err, size_t errsize)
{
	struct alerts *a;
	const char *url = config->alerts_webhook_url ? config->alerts_webhook_url : "";
	const char *why;
	pthread_condattr_t attr;

	*alerts_r = NULL;
	if (url[0] != '\0' && (why = config_url_problem(url)) != NULL) {
		/* the URL itself is not repeated: it may hold credentials */
		snprintf(err, errsize, "alerts.webhook_url: %s", why);
		return -1;
	}
	if ((config->alerts_webhook_token && has_control(config->alerts_webhook_token)) ||
	    (config->alerts_webhook_secret && has_control(config->alerts_webhook_secret))) {
		snprintf(err, errsize, "alerts.webhook_token and webhook_secret must not hold "
				       "control characters");
		return -1;
	}
	if (config->alerts_mail_to &&
	    (has_control(config->alerts_mail_to) || config->alerts_mail_to[0] == '-')) {
		snprintf(err, errsize, "alerts.mail_to must be one address");
		return -1;
	}
	pthread_once(&global_once, global_init);
	if (global_status != 0) {
		snprintf(err, errsize, "alerts: %s cannot be initialised",
			 global_status == -1 ? "libcurl" : "libsodium");
		return -1;
	}

	a = xcalloc(1, sizeof(*a));
	a->webhook_url = xstrdup(url);
	a->webhook_token = xstrdup(config->alerts_webhook_token ? config->alerts_webhook_token
								: "");
	a->webhook_secret = xstrdup(config->alerts_webhook_secret ? config->alerts_webhook_secret
								  : "");
	a->mail_to = xstrdup(config->alerts_mail_to ? config->alerts_mail_to : "");
	a->sendmail = xstrdup(config->alerts_sendmail && config->alerts_sendmail[0]
				      ? config->alerts_sendmail
				      : "/usr/sbin/sendmail");
	a->webhook_timeout_ms = config->alerts_webhook_timeout_ms > 0
					? config->alerts_webhook_timeout_ms
					: 5000;
	a->retries = config->alerts_retries >= 0 ? config->alerts_retries : 0;
	a->interval = config->alerts_interval >= 0 ? config->alerts_interval : 0;
	a->timeout_ms = config->alerts_timeout_ms >= 0 ? config->alerts_timeout_ms : 0;
	a->ring_size = config->alerts_queue_size > 0 ? (size_t)config->alerts_queue_size : 1024;
	{
		char name[sizeof(a->host)] = "";

		if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0')
			snprintf(name, sizeof(name), "localhost");
		clean_copy(a->host, sizeof(a->host), name);
	}
	crypto_shorthash_keygen(a->hash_key);
	a->last_report_ms = alert_now_ms();

	pthread_mutex_init(&a->mutex, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &attr);
	pthread_condattr_destroy(&attr);

	a->multi = curl_multi_init();	/* NULL: every POST fails, and says so */

	if (a->webhook_url[0] != '\0' || a->mail_to[0] != '\0') {
		a->ring = xcalloc(a->ring_size, sizeof(*a->ring));
		if (start_thread(a) < 0) {
			snprintf(err, errsize, "alerts: cannot start the sender thread");
			alerts_close(&a);
			return -1;
		}
	}
	*alerts_r = a;
	return 0;
}

void alerts_set_sink(struct alerts *alerts,
		     void (*sink)(void *ctx, const char *json, size_t len, int64_t time), void *ctx)
{
	if (alerts == NULL)
		return;
	pthread_mutex_lock(&alerts->mutex);
	alerts->sink = sink;
	alerts->sink_ctx = ctx;
	pthread_mutex_unlock(&alerts->mutex);
	if (sink != NULL && !alerts->thread_started) {
		alerts->ring = xcalloc(alerts->ring_size, sizeof(*alerts->ring));
		if (start_thread(alerts) < 0)
			log_error("alert: cannot start the sender thread: events go to the log only");
	}
}

/* fill_item - the queued copy of ev at time t: every text cut to size and cleaned */
static void fill_item(struct alert_item *it, const struct alert_event *ev, int64_t t)
{
	it->kind = ev->kind;
	clean_copy(it->user, sizeof(it->user), ev->user);
	it->has_limit = ev->limit != NULL;
	clean_copy(it->limit, sizeof(it->limit), ev->limit ? ev->limit : "");
	it->has_client = ev->client_addr != NULL && ev->client_addr[0] != '\0';
	clean_copy(it->client, sizeof(it->client), ev->client_addr ? ev->client_addr : "");
	it->has_queue_id = ev->queue_id != NULL && ev->queue_id[0] != '\0';
	clean_copy(it->queue_id, sizeof(it->queue_id), ev->queue_id ? ev->queue_id : "");
	it->used = ev->used;
	it->max = ev->max;
	it->time = t;
	it->attempts = 0;
	it->due_ms = 0;
}

bool alerts_post(struct alerts *alerts, const struct alert_event *ev)
{
	struct alert_item item;
	struct dedupe_entry *slot;
	char user[ALERT_USER_MAX], limit[ALERT_LIMIT_MAX], client[ALERT_ADDR_MAX],
		qid[ALERT_QID_MAX], report[160];
	uint64_t key;
	int64_t t;
	bool threaded, queued = false, full = false, say = false;

	if (alerts == NULL || ev == NULL || ev->user == NULL)
		return false;
	t = ev->time != 0 ? ev->time : (int64_t)time(NULL);
	key = dedupe_key(alerts, ev->user, ev->kind);
	fill_item(&item, ev, t);

	pthread_mutex_lock(&alerts->mutex);
	/* a lock or an unlock is rare and always news: never deduped */
	slot = ev->kind == ALERT_LOCK || ev->kind == ALERT_UNLOCK ? &dedupe_none
								  : dedupe_slot(alerts, key, t);
	if (slot == NULL) {
		alerts->dropped_dedupe++;
		pthread_mutex_unlock(&alerts->mutex);
		return false;
	}
	threaded = alerts->thread_started;
	if (threaded) {
		item.need = (alerts->sink ? NEED_SINK : 0) |
			    (alerts->webhook_url[0] ? NEED_WEBHOOK : 0) |
			    (alerts->mail_to[0] ? NEED_MAIL : 0);
		if (alerts->ring_count == alerts->ring_size || alerts->stopping) {
			alerts->dropped_full++;
			full = true;
		} else {
			alerts->ring[(alerts->ring_head + alerts->ring_count) % alerts->ring_size] =
				item;
			if (slot != &dedupe_none) {
				slot->key = key;
				slot->time = t;
			}
			alerts->ring_count++;
			queued = true;
			pthread_cond_signal(&alerts->cond);
		}
	} else {
		if (slot != &dedupe_none) {
			slot->key = key;
			slot->time = t;
		}
		/* no thread to report the dedupe counter: the posts do it */
		if (alert_now_ms() - alerts->last_report_ms >= REPORT_EVERY_MS)
			say = take_report(alerts, false, report, sizeof(report));
	}
	pthread_mutex_unlock(&alerts->mutex);

	log_info("alert: kind=%s user=<%s> limit=\"%s\" used=%llu max=%llu client=%s "
		 "queue_id=%s%s",
		 alert_kind_name(ev->kind), log_sanitize(user, sizeof(user), ev->user),
		 log_sanitize(limit, sizeof(limit), ev->limit),
		 (unsigned long long)ev->used, (unsigned long long)ev->max,
		 item.has_client ? log_sanitize(client, sizeof(client), ev->client_addr) : "-",
		 item.has_queue_id ? log_sanitize(qid, sizeof(qid), ev->queue_id) : "NOQUEUE",
		 full ? "; not sent: queue full" : "");
	if (say)
		log_info("%s", report);
	return queued || !threaded;
}

void alerts_close(struct alerts **alerts)
{
	struct alerts *a;
	char report[160];
	bool say;

	if (alerts == NULL || *alerts == NULL)
		return;
	a = *alerts;
	*alerts = NULL;
	if (a->thread_started) {
		pthread_mutex_lock(&a->mutex);
		a->stopping = true;
		a->stop_deadline_ms = alert_now_ms() + a->timeout_ms;
		pthread_cond_broadcast(&a->cond);
		pthread_mutex_unlock(&a->mutex);
		if (a->multi != NULL)
			curl_multi_wakeup(a->multi);	/* a POST in flight rechecks its time */
		pthread_join(a->thread, NULL);
	}
	pthread_mutex_lock(&a->mutex);
	/* always when something is sent out; otherwise only when something was dropped */
	say = take_report(a, a->webhook_url[0] != '\0' || a->mail_to[0] != '\0', report,
			  sizeof(report));
	pthread_mutex_unlock(&a->mutex);
	if (say)
		log_info("%s", report);
	if (a->multi != NULL)
		curl_multi_cleanup(a->multi);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mutex);
	sodium_memzero(a->webhook_token, strlen(a->webhook_token));
	sodium_memzero(a->webhook_secret, strlen(a->webhook_secret));
	free(a->webhook_url);
	free(a->webhook_token);
	free(a->webhook_secret);
	free(a->mail_to);
	free(a->sendmail);
	free(a->ring);
	free(a);
}
