/*
 * check_alert - unit tests of common/alert through alert.h
 *
 * A tiny HTTP receiver runs in a thread of the test on 127.0.0.1 (an
 * ephemeral port): it reads one request per connection, records its
 * headers and body, and answers 200.  It can refuse its first N
 * connections (accept and close at once: the sender sees no reply) and
 * can hold its answer until the test releases it (a slow receiver).  The
 * test waits for what it expects on a condition variable, never by
 * sleeping; alerts_close, which joins the sender thread after it has
 * delivered what was queued, is the other synchronisation point.
 *
 * Covered: the JSON body and its fields (escaping included), the bearer
 * header, the HMAC signature, one event per (user, kind) per interval
 * (and a flood of users), retry after refused connections, a slow
 * receiver that does not slow alerts_post (measured), a full queue that
 * drops and counts, URLs that alerts_open and config_load refuse, mail
 * through a fake sendmail that saves its arguments and standard input,
 * the sink (and the longest event kept by the LMDB store, as the milter's
 * sink does), the log lines and the config dump that hides the secrets.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "base/config.h"
#include "base/log.h"
#include "check_main.h"
#include "store/store.h"
#include "test_util.h"

#define MAX_REQUESTS 64
#define WAIT_MS 10000	/* a safety net only: every wait ends on a signal */

struct request_seen {
	char auth[256];
	char signature[256];
	char content_type[128];
	char *body;
};

struct receiver {
	int fd;
	int port;
	pthread_t thread;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	int refuse_first;		/* connections to close unanswered */
	int fail_first;			/* then requests to answer 503 */
	int failed;			/* answered 503 so far */
	int connections;		/* accepted so far */
	bool hold;			/* answer only once released */
	bool holding;			/* a request is being held now */
	struct request_seen req[MAX_REQUESTS];
	int n_req;
};

static struct receiver rx;

/* deadline_in - CLOCK_REALTIME now + ms, for pthread_cond_timedwait */
static struct timespec deadline_in(long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* mono_us - a monotonic clock in microseconds */
static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* header_value - copy the value of header name (case-insensitive) from head into out */
static void header_value(const char *head, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *p = head; p != NULL && *p; p = strstr(p, "\r\n"), p = p ? p + 2 : p) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			snprintf(out, size, "%.*s", (int)(e ? e - v : (ptrdiff_t)strlen(v)), v);
			return;
		}
	}
}

/* serve_one - read one request from c, record it, answer 200 (after the hold) */
static void serve_one(int c)
{
	char buf[16384], *end;
	size_t got = 0;
	long clen;
	struct request_seen r;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	static const char busy[] = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	bool fail;

	memset(&r, 0, sizeof(r));
	for (;;) {
		ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			return;
		got += (size_t)n;
		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (got == sizeof(buf) - 1)
			return;
	}
	*end = '\0';
	{
		char v[32];

		header_value(buf, "Content-Length", v, sizeof(v));
		clen = strtol(v, NULL, 10);
	}
	header_value(buf, "Authorization", r.auth, sizeof(r.auth));
	header_value(buf, "X-Chapps-Signature", r.signature, sizeof(r.signature));
	header_value(buf, "Content-Type", r.content_type, sizeof(r.content_type));
	{
		size_t have = got - (size_t)(end + 4 - buf);

		r.body = calloc(1, (size_t)clen + 1);
		memcpy(r.body, end + 4, have < (size_t)clen ? have : (size_t)clen);
		while ((long)have < clen) {
			ssize_t n = read(c, r.body + have, (size_t)clen - have);

			if (n <= 0)
				break;
			have += (size_t)n;
		}
	}
	pthread_mutex_lock(&rx.mutex);
	fail = rx.failed < rx.fail_first;
	if (fail) {
		rx.failed++;
		pthread_cond_broadcast(&rx.cond);
		pthread_mutex_unlock(&rx.mutex);
		free(r.body);
		if (write(c, busy, sizeof(busy) - 1) < 0)
			return;
		return;
	}
	if (rx.hold) {
		rx.holding = true;
		pthread_cond_broadcast(&rx.cond);
		while (rx.hold)
			pthread_cond_wait(&rx.cond, &rx.mutex);
		rx.holding = false;
	}
	if (rx.n_req < MAX_REQUESTS)
		rx.req[rx.n_req] = r;	/* the first ones are kept, every one counted */
	else
		free(r.body);
	rx.n_req++;
	pthread_cond_broadcast(&rx.cond);
	pthread_mutex_unlock(&rx.mutex);
	if (write(c, ok, sizeof(ok) - 1) < 0)
		return;
}

/* receiver_main - accept until the listening socket is shut down */
static void *receiver_main(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(rx.fd, NULL, NULL);
		bool refuse;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		pthread_mutex_lock(&rx.mutex);
		refuse = rx.connections++ < rx.refuse_first;
		pthread_cond_broadcast(&rx.cond);
		pthread_mutex_unlock(&rx.mutex);
		if (!refuse)
			serve_one(c);
		close(c);
	}
}

/* receiver_start - listen on 127.0.0.1, an ephemeral port */
static void receiver_start(int refuse_first, bool hold)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int one = 1;

	memset(&rx, 0, sizeof(rx));
	pthread_mutex_init(&rx.mutex, NULL);
	pthread_cond_init(&rx.cond, NULL);
	rx.refuse_first = refuse_first;
	rx.hold = hold;
	rx.fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(rx.fd, 0);
	setsockopt(rx.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(rx.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(rx.fd, 64), 0);
	ck_assert_int_eq(getsockname(rx.fd, (struct sockaddr *)&sin, &len), 0);
	rx.port = ntohs(sin.sin_port);
	ck_assert_int_eq(pthread_create(&rx.thread, NULL, receiver_main, NULL), 0);
}

/* receiver_release - let held requests be answered */
static void receiver_release(void)
{
	pthread_mutex_lock(&rx.mutex);
	rx.hold = false;
	pthread_cond_broadcast(&rx.cond);
	pthread_mutex_unlock(&rx.mutex);
}

/* receiver_stop - stop accepting and join the thread */
static void receiver_stop(void)
{
	receiver_release();
	shutdown(rx.fd, SHUT_RDWR);
	pthread_join(rx.thread, NULL);
	close(rx.fd);
	for (int i = 0; i < rx.n_req && i < MAX_REQUESTS; i++)
		free(rx.req[i].body);
}

/* receiver_wait - wait until n requests were recorded (or WAIT_MS); the count */
static int receiver_wait(int n)
{
	struct timespec dl = deadline_in(WAIT_MS);
	int got;

	pthread_mutex_lock(&rx.mutex);
	while (rx.n_req < n && pthread_cond_timedwait(&rx.cond, &rx.mutex, &dl) == 0)
		;
	got = rx.n_req;
	pthread_mutex_unlock(&rx.mutex);
	return got;
}

/* receiver_wait_holding - wait until a request is being held (or WAIT_MS) */
static bool receiver_wait_holding(void)
{
	struct timespec dl = deadline_in(WAIT_MS);
	bool h;

	pthread_mutex_lock(&rx.mutex);
	while (!rx.holding && pthread_cond_timedwait(&rx.cond, &rx.mutex, &dl) == 0)
		;
	h = rx.holding;
	pthread_mutex_unlock(&rx.mutex);
	return h;
}

/* rx_read - a counter of the receiver, read under its lock */
static int rx_read(const int *field)
{
	int v;

	pthread_mutex_lock(&rx.mutex);
	v = *field;
	pthread_mutex_unlock(&rx.mutex);
	return v;
}

static char url[128];

/* base_config - a config with the alerts section only (what alerts_open reads) */
static void base_config(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", rx.port);
	c->alerts_webhook_url = url;
	c->alerts_webhook_token = (char *)"";
	c->alerts_webhook_secret = (char *)"";
	c->alerts_webhook_timeout_ms = 5000;
	c->alerts_retries = 5;
	c->alerts_interval = 3600;
	c->alerts_queue_size = 1024;
	c->alerts_mail_to = (char *)"";
	c->alerts_sendmail = (char *)"/usr/sbin/sendmail";
	c->alerts_timeout_ms = 5000;
}

/* event - a refusal of user at t */
static struct alert_event event(const char *user, enum alert_kind kind, int64_t t)
{
	struct alert_event ev = { kind, user, "100 messages per hour", 101, 100, "192.0.2.7",
				  "4AbCdE", t };

	return ev;
}

/* open_ok - alerts_open that must succeed */
static struct alerts *open_ok(const struct config *c)
{
	struct alerts *a = NULL;
	char err[256];

	ck_assert_msg(alerts_open(c, &a, err, sizeof(err)) == 0, "alerts_open: %s", err);
	ck_assert_ptr_nonnull(a);
	return a;
}

/* count_of - occurrences of needle in hay */
static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* ---- the body, the bearer header, the signature ---------------------------------- */

START_TEST(test_body_and_headers)
{
	struct config c;
	struct alerts *a;
	struct alert_event ev = event("Jo \"the\" B\xc3\xa9r\\@example.com", ALERT_REFUSAL,
				      1764884400);	/* 2025-12-04T21:40:00Z */
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char hex[2 * sizeof(mac) + 1], want[16 + sizeof(hex)], host[256] = "";
	json_t *o;
	json_error_t jerr;

	receiver_start(0, false);
	base_config(&c);
	c.alerts_webhook_token = (char *)"tok-123";
	c.alerts_webhook_secret = (char *)"s3cret key";
	ev.limit = "limit \"daily\"\n";
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	ck_assert(alerts_post(a, &ev));
	ck_assert_int_eq(receiver_wait(1), 1);
	alerts_close(&a);

	ck_assert_str_eq(rx.req[0].auth, "Bearer tok-123");
	ck_assert_str_eq(rx.req[0].content_type, "application/json");
	/* the signature: HMAC-SHA256 of the exact body with the secret */
	ck_assert_int_eq(sodium_init() >= 0, 1);
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)"s3cret key", 10);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)rx.req[0].body,
				      strlen(rx.req[0].body));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	snprintf(want, sizeof(want), "sha256=%s", hex);
	ck_assert_str_eq(rx.req[0].signature, want);

	o = json_loads(rx.req[0].body, 0, &jerr);
	ck_assert_msg(o != NULL, "body is not JSON: %s: %s", jerr.text, rx.req[0].body);
	ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "refusal");
	ck_assert_str_eq(json_string_value(json_object_get(o, "user")),
			 "Jo \"the\" B\xc3\xa9r\\@example.com");
	/* a control character is cleaned to '?' */
	ck_assert_str_eq(json_string_value(json_object_get(o, "limit")), "limit \"daily\"?");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "used")), 101);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "max")), 100);
	ck_assert_str_eq(json_string_value(json_object_get(o, "client_address")), "192.0.2.7");
	ck_assert_str_eq(json_string_value(json_object_get(o, "queue_id")), "4AbCdE");
	ck_assert_str_eq(json_string_value(json_object_get(o, "time")), "2025-12-04T21:40:00Z");
	gethostname(host, sizeof(host) - 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "host")), host);
	json_decref(o);

	/* the log: one line for the event, and the counters at close */
	const char *log = log_capture_text();

	ck_assert_msg(count_of(log, "alert: kind=refusal user=<Jo \"the\" B\\xc3\\xa9r\\@example.com> "
				    "limit=\"limit \"daily\"\\x0a\" used=101 max=100 "
				    "client=192.0.2.7 queue_id=4AbCdE\n") == 1,
		      "got log:\n%s", log);
	ck_assert_msg(strstr(log, "alert: dropped queue_full=0 dedupe=0 given_up=0") != NULL,
		      "got log:\n%s", log);
	ck_assert_msg(strstr(log, "tok-123") == NULL && strstr(log, "s3cret") == NULL,
		      "a secret in the log:\n%s", log);
	log_capture_stop();
	receiver_stop();
}
END_TEST

/* absent texts are JSON null; no token, no secret: no such header */
START_TEST(test_body_nulls)
{
	struct config c;
	struct alerts *a;
	struct alert_event ev = { ALERT_LOCK, "u@example.com", NULL, 0, 0, NULL, NULL, 1 };
	json_t *o;

	receiver_start(0, false);
	base_config(&c);
	a = open_ok(&c);
	ck_assert(alerts_post(a, &ev));
	ck_assert_int_eq(receiver_wait(1), 1);
	alerts_close(&a);
	ck_assert_str_eq(rx.req[0].auth, "");
	ck_assert_str_eq(rx.req[0].signature, "");
	o = json_loads(rx.req[0].body, 0, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "lock");
	ck_assert(json_is_null(json_object_get(o, "limit")));
	ck_assert(json_is_null(json_object_get(o, "client_address")));
	ck_assert(json_is_null(json_object_get(o, "queue_id")));
	ck_assert_int_eq(json_integer_value(json_object_get(o, "used")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(o, "time")), "1970-01-01T00:00:01Z");
	json_decref(o);
	receiver_stop();
}
END_TEST

/* ---- one event per (user, kind) per interval -------------------------------------- */

START_TEST(test_dedupe)
{
	struct config c;
	struct alerts *a;
	const int64_t t = 1764884400;
	struct alert_event e;

	receiver_start(0, false);
	base_config(&c);
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	e = event("a@example.com", ALERT_REFUSAL, t);
	ck_assert(alerts_post(a, &e));
	e.time = t + 10;
	ck_assert(!alerts_post(a, &e));		/* same user and kind within the hour */
	e.time = t + 3599;
	ck_assert(!alerts_post(a, &e));
	e = event("a@example.com", ALERT_WARN, t + 10);
	ck_assert(alerts_post(a, &e));		/* another kind */
	e = event("b@example.com", ALERT_REFUSAL, t + 10);
	ck_assert(alerts_post(a, &e));		/* another user */
	e = event("a@example.com", ALERT_REFUSAL, t + 3600);
	ck_assert(alerts_post(a, &e));		/* the next interval */
	ck_assert_int_eq(receiver_wait(4), 4);
	alerts_close(&a);
	/* close delivered everything queued: exactly four, no more */
	ck_assert_int_eq(rx_read(&rx.n_req), 4);
	const char *log = log_capture_text();

	ck_assert_msg(count_of(log, "alert: kind=") == 4, "got log:\n%s", log);
	ck_assert_msg(strstr(log, "alert: dropped queue_full=0 dedupe=2 given_up=0") != NULL,
		      "got log:\n%s", log);
	log_capture_stop();
	receiver_stop();
}
END_TEST

/* interval 0: every event goes out */
START_TEST(test_dedupe_off)
{
	struct config c;
	struct alerts *a;
	struct alert_event e = event("a@example.com", ALERT_REFUSAL, 5);

	memset(&c, 0, sizeof(c));
	c.alerts_interval = 0;
	a = open_ok(&c);
	for (int i = 0; i < 3; i++)
		ck_assert(alerts_post(a, &e));
	alerts_close(&a);
}
END_TEST

/*
 * a flood of distinct users: all accepted, the table stays fixed, and a user
 * seen just now is still deduped (log only: nothing to deliver)
 */
START_TEST(test_dedupe_flood)
{
	struct config c;
	struct alerts *a;
	char user[64];
	struct alert_event e;
	int accepted = 0;

	memset(&c, 0, sizeof(c));
	c.alerts_interval = 3600;
	log_capture_start(LOG_LEVEL_ERROR);	/* the info lines are not kept */
	a = open_ok(&c);
	for (int i = 0; i < 100000; i++) {
		snprintf(user, sizeof(user), "user%d@example.com", i);
		e = event(user, ALERT_REFUSAL, 1000 + i / 100);
		accepted += alerts_post(a, &e);
	}
	ck_assert_int_eq(accepted, 100000);
	ck_assert(!alerts_post(a, &e));		/* the last one, again */
	alerts_close(&a);
	log_capture_stop();
}
END_TEST

/* ---- retries ----------------------------------------------------------------------- */

/* the receiver closes its first two connections unanswered, then takes the event */
START_TEST(test_retry)
{
	struct config c;
	struct alerts *a;
	struct alert_event e = event("r@example.com", ALERT_REFUSAL, 77);

	receiver_start(2, false);
	base_config(&c);
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	ck_assert(alerts_post(a, &e));
	ck_assert_int_eq(receiver_wait(1), 1);
	alerts_close(&a);
	ck_assert_int_eq(rx_read(&rx.connections), 3);
	ck_assert_int_eq(rx_read(&rx.n_req), 1);
	ck_assert(strstr(rx.req[0].body, "\"user\":\"r@example.com\"") != NULL);
	const char *log = log_capture_text();

	ck_assert_msg(count_of(log, "alert: webhook attempt ") == 2, "got log:\n%s", log);
	ck_assert_msg(strstr(log, "given_up=0") != NULL, "got log:\n%s", log);
	log_capture_stop();
	receiver_stop();
}
END_TEST

/* a 503 is a failure, retried; only a 2xx ends it */
START_TEST(test_retry_status)
{
	struct config c;
	struct alerts *a;
	struct alert_event e = event("s5@example.com", ALERT_WARN, 77);

	receiver_start(0, false);
	pthread_mutex_lock(&rx.mutex);
	rx.fail_first = 1;
	pthread_mutex_unlock(&rx.mutex);
	base_config(&c);
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	ck_assert(alerts_post(a, &e));
	ck_assert_int_eq(receiver_wait(1), 1);
	alerts_close(&a);
	ck_assert_int_eq(rx_read(&rx.failed), 1);
	ck_assert_int_eq(rx_read(&rx.n_req), 1);
	const char *log = log_capture_text();

	ck_assert_msg(count_of(log, "alert: webhook attempt 1 for kind=warn user=<s5@example.com> "
				    "failed: HTTP status 503\n") == 1,
		      "got log:\n%s", log);
	ck_assert_msg(count_of(log, "alert: webhook attempt ") == 1, "got log:\n%s", log);
	log_capture_stop();
	receiver_stop();
}
END_TEST

/* retries 0 and a receiver that never answers: given up after one attempt, counted */
START_TEST(test_give_up)
{
	struct config c;
	struct alerts *a;
	struct alert_event e = event("g@example.com", ALERT_REFUSAL, 77);

	receiver_start(1000, false);
	base_config(&c);
	c.alerts_retries = 0;
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	ck_assert(alerts_post(a, &e));
	alerts_close(&a);	/* waits for the one attempt (well within timeout_ms) */
	ck_assert_int_eq(rx_read(&rx.connections), 1);
	ck_assert_int_eq(rx_read(&rx.n_req), 0);
	const char *log = log_capture_text();

	ck_assert_msg(strstr(log, "alert: gave up on kind=refusal user=<g@example.com> attempts=1\n") != NULL,
		      "got log:\n%s", log);
	ck_assert_msg(strstr(log, "alert: dropped queue_full=0 dedupe=0 given_up=1") != NULL,
		      "got log:\n%s", log);
	log_capture_stop();
	receiver_stop();
}
END_TEST

/* ---- a slow receiver does not slow alerts_post ------------------------------------- */

START_TEST(test_slow_receiver)
{
	struct config c;
	struct alerts *a;
	char user[64];
	struct alert_event e;
	int64_t worst = 0, total = 0, held_since, held_for;
	const int n = 200;

	receiver_start(0, true);
	base_config(&c);
	log_capture_start(LOG_LEVEL_ERROR);
	a = open_ok(&c);
	e = event("first@example.com", ALERT_REFUSAL, 1);
	ck_assert(alerts_post(a, &e));
	ck_assert(receiver_wait_holding());	/* the sender is stuck in its first POST */
	held_since = mono_us();
	for (int i = 0; i < n; i++) {
		int64_t t0;

		snprintf(user, sizeof(user), "slow%d@example.com", i);
		e = event(user, ALERT_REFUSAL, 1);
		t0 = mono_us();
		ck_assert(alerts_post(a, &e));
		t0 = mono_us() - t0;
		total += t0;
		if (t0 > worst)
			worst = t0;
	}
	/* the receiver is still holding: every post above ran while it was */
	pthread_mutex_lock(&rx.mutex);
	ck_assert(rx.holding);
	pthread_mutex_unlock(&rx.mutex);
	held_for = mono_us() - held_since;
	printf("check_alert: alerts_post with a stuck receiver: %d posts, mean %.2f us, "
	       "worst %lld us (receiver held for %lld us)\n",
	       n, (double)total / n, (long long)worst, (long long)held_for);
	/*
	 * The receiver delays its answer for as long as the posts run (and
	 * the webhook timeout is 5 s): a post is a lock, a hash and a copy.
	 * The worst-case bound leaves room for a loaded machine's scheduler.
	 */
	ck_assert_msg(worst < 250000, "worst alerts_post took %lld us", (long long)worst);
	ck_assert_msg(total / n < 1000, "mean alerts_post took %lld us", (long long)(total / n));
	receiver_release();
	ck_assert_int_eq(receiver_wait(n + 1), n + 1);
	alerts_close(&a);
	log_capture_stop();
	receiver_stop();
}
END_TEST

/*
 * a receiver that never answers: alerts_close returns after about
 * alerts.timeout_ms (the attempt in flight is cut to it), giving up the rest
 */
START_TEST(test_close_bounded)
{
	struct config c;
	struct alerts *a;
	char user[64];
	struct alert_event e;
	int64_t t0, took;

	receiver_start(0, true);
	base_config(&c);
	c.alerts_timeout_ms = 300;
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	for (int i = 0; i < 3; i++) {
		snprintf(user, sizeof(user), "c%d@example.com", i);
		e = event(user, ALERT_REFUSAL, 1);
		ck_assert(alerts_post(a, &e));
	}
	ck_assert(receiver_wait_holding());
	t0 = mono_us();
	alerts_close(&a);
	took = mono_us() - t0;
	printf("check_alert: alerts_close with a stuck receiver and timeout_ms 300: %lld us\n",
	       (long long)took);
	/* the in-flight POST (webhook_timeout_ms 5000) was cut to what close left */
	ck_assert_msg(took < 1000000, "alerts_close took %lld us", (long long)took);
	const char *log = log_capture_text();

	ck_assert_msg(strstr(log, "alert: dropped queue_full=0 dedupe=0 given_up=3") != NULL,
		      "got log:\n%s", log);
	ck_assert_msg(strstr(log, "failed: aborted: the time to close is up\n") != NULL,
		      "got log:\n%s", log);
	log_capture_stop();
	receiver_stop();
}
END_TEST

/* ---- a full queue drops and counts ------------------------------------------------- */

START_TEST(test_queue_full)
{
	struct config c;
	struct alerts *a;
	char user[64];
	struct alert_event e;

	receiver_start(0, true);
	base_config(&c);
	c.alerts_queue_size = 2;
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	e = event("q0@example.com", ALERT_REFUSAL, 1);
	ck_assert(alerts_post(a, &e));
	ck_assert(receiver_wait_holding());	/* taken off the queue, in flight */
	for (int i = 1; i <= 4; i++) {
		snprintf(user, sizeof(user), "q%d@example.com", i);
		e = event(user, ALERT_REFUSAL, 1);
		/* two fit, two do not */
		ck_assert_msg(alerts_post(a, &e) == (i <= 2), "post %d", i);
	}
	/* a dropped event does not count for the dedupe: q3 may try again */
	e = event("q3@example.com", ALERT_REFUSAL, 2);
	ck_assert(!alerts_post(a, &e));		/* still full */
	receiver_release();
	ck_assert_int_eq(receiver_wait(3), 3);
	alerts_close(&a);
	ck_assert_int_eq(rx_read(&rx.n_req), 3);
	const char *log = log_capture_text();

	ck_assert_msg(count_of(log, "; not sent: queue full\n") == 3, "got log:\n%s", log);
	ck_assert_msg(strstr(log, "alert: dropped queue_full=3 dedupe=0 given_up=0") != NULL,
		      "got log:\n%s", log);
	log_capture_stop();
	receiver_stop();
}
END_TEST

/* ---- URLs ------------------------------------------------------------------------- */

static const struct {
	const char *name, *url;
	bool ok;
} url_rows[] = {
	{ "http", "http://127.0.0.1:8080/hook", true },
	{ "https", "https://hooks.example.com/x?y=1", true },
	{ "upper case scheme", "HTTPS://hooks.example.com/", true },
	{ "file", "file:///etc/passwd", false },
	{ "ftp", "ftp://example.com/", false },
	{ "no scheme", "example.com/hook", false },
	{ "no host", "http://", false },
	{ "no host, a path", "https:///path", false },
	{ "a space", "http://example.com/a b", false },
	{ "gopher", "gopher://example.com/", false },
};

START_TEST(test_url_open)
{
	struct config c;
	struct alerts *a = NULL;
	char err[256] = "";
	int rc;

	memset(&c, 0, sizeof(c));
	c.alerts_webhook_url = (char *)url_rows[_i].url;
	c.alerts_queue_size = 4;
	rc = alerts_open(&c, &a, err, sizeof(err));
	ck_assert_msg((rc == 0) == url_rows[_i].ok, "%s: got %d (%s), want %s", url_rows[_i].name,
		      rc, err, url_rows[_i].ok ? "0" : "-1");
	if (rc == 0) {
		ck_assert_ptr_nonnull(a);
		alerts_close(&a);
	} else {
		ck_assert_ptr_null(a);
		ck_assert_msg(strstr(err, "alerts.webhook_url") != NULL, "%s: got \"%s\"",
			      url_rows[_i].name, err);
	}
}
END_TEST

/* write_file - dir/name with text; the path (static) */
static const char *write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

/* read_text - a file's text (malloc'd), or NULL */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 65536);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* config_load refuses a bad URL at its file and line; the dump hides the secrets */
START_TEST(test_url_config)
{
	char dir[] = "/tmp/check_alert.XXXXXX", *errors = NULL, *text = NULL;
	struct config *c = NULL;
	const char *path;
	char want[600];
	size_t len = 0;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = write_file(dir, "bad.conf", "# line 1\nalerts:\n{\n  webhook_url = \"file:///etc/passwd\";\n};\n", 0644);
	ck_assert_int_eq(config_load(path, &c, &errors), -1);
	snprintf(want, sizeof(want), "%s:4: alerts.webhook_url: must be an http:// or https:// URL",
		 path);
	ck_assert_msg(strstr(errors, want) != NULL, "got \"%s\", want \"%s\"", errors, want);
	free(errors);
	errors = NULL;
	unlink(path);

	/* a header could be forged with a line break in the token */
	path = write_file(dir, "bad-token.conf",
			  "alerts:\n{\n  webhook_token = \"a\\r\\nX-Evil: 1\";\n};\n", 0644);
	ck_assert_int_eq(config_load(path, &c, &errors), -1);
	snprintf(want, sizeof(want), "%s:3: alerts.webhook_token: must not hold control characters",
		 path);
	ck_assert_msg(strstr(errors, want) != NULL, "got \"%s\", want \"%s\"", errors, want);
	free(errors);
	errors = NULL;
	unlink(path);

	path = write_file(dir, "good.conf",
			  "alerts:\n{\n  webhook_url = \"https://hooks.example.com/chapps\";\n"
			  "  webhook_token = \"tok-SECRET-1\";\n  webhook_secret = \"hmac-SECRET-2\";\n"
			  "  retries = 3;\n  interval = 60;\n  queue_size = 16;\n"
			  "  mail_to = \"ops@example.com\";\n};\n",
			  0644);
	ck_assert_msg(config_load(path, &c, &errors) == 0, "%s", errors ? errors : "");
	ck_assert_str_eq(c->alerts_webhook_token, "tok-SECRET-1");
	ck_assert_int_eq(c->alerts_retries, 3);
	ck_assert_int_eq(c->alerts_webhook_timeout_ms, 5000);
	ck_assert_int_eq(c->alerts_timeout_ms, 2000);
	ck_assert_str_eq(c->alerts_sendmail, "/usr/sbin/sendmail");
	f = open_memstream(&text, &len);
	config_dump(c, f);
	fclose(f);
	ck_assert_msg(strstr(text, "SECRET") == NULL, "a secret in the dump:\n%s", text);
	ck_assert(strstr(text, "webhook_token = \"********\";") != NULL);
	ck_assert(strstr(text, "webhook_secret = \"********\";") != NULL);
	ck_assert(strstr(text, "webhook_url = \"https://hooks.example.com/chapps\";") != NULL);
	free(text);
	config_unref(&c);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ---- mail through sendmail --------------------------------------------------------- */

START_TEST(test_sendmail)
{
	char dir[] = "/tmp/check_alert.XXXXXX", script[4096], sendmail[600], args_path[600],
	     stdin_path[600], sigblk_path[600];
	struct config c;
	struct alerts *a;
	struct alert_event e = event("m@example.com", ALERT_WARN, 1764884400);
	char *args, *msg, *sigblk;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(args_path, sizeof(args_path), "%s/args", dir);
	snprintf(stdin_path, sizeof(stdin_path), "%s/stdin", dir);
	snprintf(sigblk_path, sizeof(sigblk_path), "%s/sigblk", dir);
	snprintf(script, sizeof(script),
		 "#!/bin/sh\nprintf '%%s\\n' \"$@\" > '%s'\ngrep SigBlk /proc/$$/status > '%s'\n"
		 "cat > '%s'\n",
		 args_path, sigblk_path, stdin_path);
	snprintf(sendmail, sizeof(sendmail), "%s", write_file(dir, "sendmail", script, 0755));

	memset(&c, 0, sizeof(c));
	c.alerts_mail_to = (char *)"ops@example.com";
	c.alerts_sendmail = sendmail;
	c.alerts_interval = 3600;
	c.alerts_queue_size = 8;
	c.alerts_webhook_timeout_ms = 5000;
	c.alerts_timeout_ms = 5000;
	a = open_ok(&c);
	ck_assert(alerts_post(a, &e));
	alerts_close(&a);	/* delivered before it returns */

	args = read_text(args_path);
	msg = read_text(stdin_path);
	sigblk = read_text(sigblk_path);
	/* sendmail does not inherit the sender thread's blocked signals */
	ck_assert_ptr_nonnull(sigblk);
	ck_assert_str_eq(sigblk, "SigBlk:\t0000000000000000\n");
	free(sigblk);
	unlink(sigblk_path);
	ck_assert_ptr_nonnull(args);
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(args, "-oi\n--\nops@example.com\n");
	ck_assert_msg(strstr(msg, "To: ops@example.com\n") == msg, "got:\n%s", msg);
	ck_assert_msg(strstr(msg, "\nSubject: chapps alert: warn of m@example.com\n") != NULL,
		      "got:\n%s", msg);
	ck_assert_msg(strstr(msg, "\n\n") != NULL, "no body:\n%s", msg);
	ck_assert_msg(strstr(msg, "limit:          100 messages per hour\n") != NULL, "got:\n%s",
		      msg);
	ck_assert_msg(strstr(msg, "used:           101\n") != NULL, "got:\n%s", msg);
	ck_assert_msg(strstr(msg, "time:           2025-12-04T21:40:00Z\n") != NULL, "got:\n%s",
		      msg);
	free(args);
	free(msg);
	unlink(args_path);
	unlink(stdin_path);
	unlink(sendmail);
	rmdir(dir);
}
END_TEST

/* a sendmail that fails is logged with its status */
START_TEST(test_sendmail_fails)
{
	char dir[] = "/tmp/check_alert.XXXXXX", sendmail[600];
	struct config c;
	struct alerts *a;
	struct alert_event e = event("m@example.com", ALERT_WARN, 1);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sendmail, sizeof(sendmail), "%s",
		 write_file(dir, "sendmail", "#!/bin/sh\ncat >/dev/null\nexit 75\n", 0755));
	memset(&c, 0, sizeof(c));
	c.alerts_mail_to = (char *)"ops@example.com";
	c.alerts_sendmail = sendmail;
	c.alerts_queue_size = 8;
	c.alerts_webhook_timeout_ms = 5000;
	c.alerts_timeout_ms = 5000;
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	ck_assert(alerts_post(a, &e));
	alerts_close(&a);
	const char *log = log_capture_text();

	ck_assert_msg(strstr(log, "alert: mail attempt 1 for kind=warn user=<m@example.com> failed: ") != NULL &&
			      strstr(log, "exited with status 75") != NULL,
		      "got log:\n%s", log);
	ck_assert_msg(strstr(log, "given_up=1") != NULL, "got log:\n%s", log);
	log_capture_stop();
	unlink(sendmail);
	rmdir(dir);
}
END_TEST

/* ---- the sink, the log-only mode, NULL ---------------------------------------------- */

struct sink_seen {
	int calls;
	char json[4096];
	int64_t time;
};

/* sink - record what the sender thread hands over */
static void sink(void *ctx, const char *json, size_t len, int64_t t)
{
	struct sink_seen *s = ctx;

	s->calls++;
	snprintf(s->json, sizeof(s->json), "%.*s", (int)len, json);
	s->time = t;
}

START_TEST(test_sink)
{
	struct config c;
	struct alerts *a;
	struct sink_seen seen = { 0, "", 0 };
	struct alert_event e = event("s@example.com", ALERT_UNLOCK, 1234);
	json_t *o;

	memset(&c, 0, sizeof(c));	/* no webhook, no mail: the sink starts the thread */
	c.alerts_interval = 3600;
	c.alerts_queue_size = 8;
	c.alerts_timeout_ms = 5000;
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	alerts_set_sink(a, sink, &seen);
	ck_assert(alerts_post(a, &e));
	ck_assert(alerts_post(a, &e));		/* an unlock is never deduped */
	e.kind = ALERT_WARN;
	ck_assert(alerts_post(a, &e));
	ck_assert(!alerts_post(a, &e));		/* deduped: not handed over */
	alerts_close(&a);
	ck_assert_int_eq(seen.calls, 3);
	/* nothing sent out: the counters are logged at close because one moved */
	ck_assert_msg(strstr(log_capture_text(), "alert: dropped queue_full=0 dedupe=1 given_up=0\n") !=
			      NULL,
		      "got log:\n%s", log_capture_text());
	log_capture_stop();
	ck_assert_int_eq(seen.time, 1234);
	o = json_loads(seen.json, 0, NULL);
	ck_assert_msg(o != NULL, "got \"%s\"", seen.json);
	ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "warn");	/* the last */
	ck_assert_str_eq(json_string_value(json_object_get(o, "user")), "s@example.com");
	json_decref(o);
}
END_TEST

struct store_seen {
	struct store *store;
	int added, failed;
	char error[256];
};

/* store_sink - what chapps-milter's sink does: store_event_add */
static void store_sink(void *ctx, const char *json, size_t len, int64_t t)
{
	struct store_seen *s = ctx;
	const char *err = NULL;

	if (store_event_add(s->store, json, len, t, &err) == STORE_OK) {
		s->added++;
	} else {
		s->failed++;
		snprintf(s->error, sizeof(s->error), "%s (%zu bytes)", err ? err : "?", len);
	}
}

struct listed {
	int n;
	char text[STORE_EVENT_MAX + 1];
	int64_t time;
};

/* emit_event - keep the newest event listed */
static void emit_event(void *ctx, int64_t t, const char *text, size_t len)
{
	struct listed *l = ctx;

	if (l->n++ == 0) {
		snprintf(l->text, sizeof(l->text), "%.*s", (int)len, text);
		l->time = t;
	}
}

/* the longest event, every text full of characters JSON escapes, fits the store's events */
START_TEST(test_store_sink)
{
	char dir[] = "/tmp/check_alert.XXXXXX", big[1024];
	struct config c, sc;
	struct alerts *a;
	struct store_seen seen;
	struct listed l;
	const char *err = NULL;
	struct alert_event e;
	json_t *o;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&sc, 0, sizeof(sc));
	sc.store_backend = STORE_BACKEND_LMDB;
	sc.store_path = dir;
	sc.store_map_size_mb = 16;
	memset(&seen, 0, sizeof(seen));
	ck_assert_msg(store_open(&sc, &seen.store, &err) == 0, "store_open: %s", err);

	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	e = event(big, ALERT_REFUSAL, 1764884400);
	e.limit = big;
	e.client_addr = big;
	e.queue_id = big;
	e.used = e.max = UINT64_MAX;
	memset(&c, 0, sizeof(c));
	c.alerts_queue_size = 4;
	c.alerts_timeout_ms = 5000;
	a = open_ok(&c);
	alerts_set_sink(a, store_sink, &seen);
	ck_assert(alerts_post(a, &e));
	alerts_close(&a);
	ck_assert_msg(seen.added == 1 && seen.failed == 0, "added %d, failed %d: %s", seen.added,
		      seen.failed, seen.error);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(store_events_list(seen.store, 10, emit_event, &l, &err), STORE_OK);
	ck_assert_int_eq(l.n, 1);
	ck_assert_int_eq(l.time, 1764884400);
	o = json_loads(l.text, 0, NULL);
	ck_assert_msg(o != NULL, "got \"%s\"", l.text);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(o, "user"))), 255);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(o, "limit"))), 255);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(o, "client_address"))), 63);
	ck_assert(json_integer_value(json_object_get(o, "used")) == INT64_MAX);
	json_decref(o);
	store_close(&seen.store);
	ck_assert_int_eq(test_rmtree(dir), 0);
}
END_TEST

START_TEST(test_log_only_and_null)
{
	struct config c;
	struct alerts *a;
	struct alert_event e = event("l@example.com", ALERT_REFUSAL, 1);

	ck_assert(!alerts_post(NULL, &e));
	alerts_close(NULL);
	a = NULL;
	alerts_close(&a);
	alerts_set_sink(NULL, sink, NULL);

	memset(&c, 0, sizeof(c));
	c.alerts_interval = 3600;
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	ck_assert(alerts_post(a, &e));
	e.client_addr = NULL;
	e.queue_id = NULL;
	e.kind = ALERT_LOCK;
	e.limit = NULL;
	ck_assert(alerts_post(a, &e));
	alerts_close(&a);
	ck_assert_ptr_null(a);
	const char *log = log_capture_text();

	ck_assert_msg(strstr(log, "alert: kind=lock user=<l@example.com> limit=\"\" used=101 "
				  "max=100 client=- queue_id=NOQUEUE\n") != NULL,
		      "got log:\n%s", log);
	ck_assert_msg(count_of(log, "alert: ") == 2, "got log:\n%s", log);
	log_capture_stop();
}
END_TEST

static int64_t fake_ms;

/* fake_clock - alerts_set_clock_ms's clock for test_report_period */
static int64_t fake_clock(void)
{
	return fake_ms;
}

/* post_user - post a refusal of user at fake time; true when accepted */
static bool post_user(struct alerts *a, const char *user)
{
	struct alert_event e = event(user, ALERT_REFUSAL, 1);

	return alerts_post(a, &e);
}

/*
 * the dropped counters' line while running (log only: the posts say it):
 * once a minute at most, and only when a counter moved since the last one
 */
START_TEST(test_report_period)
{
	struct config c;
	struct alerts *a;
	const char *line1 = "alert: dropped queue_full=0 dedupe=1 given_up=0\n";
	const char *line2 = "alert: dropped queue_full=0 dedupe=2 given_up=0\n";

	fake_ms = 5000000;
	alerts_set_clock_ms(fake_clock);
	memset(&c, 0, sizeof(c));
	c.alerts_interval = 3600;
	log_capture_start(LOG_LEVEL_INFO);
	a = open_ok(&c);
	ck_assert(post_user(a, "a@example.com"));
	ck_assert(!post_user(a, "a@example.com"));	/* deduped: dedupe=1 */
	fake_ms += 59999;
	ck_assert(post_user(a, "b@example.com"));	/* a minute not yet gone */
	ck_assert_int_eq(count_of(log_capture_text(), "alert: dropped"), 0);
	fake_ms += 1;
	ck_assert(post_user(a, "c@example.com"));	/* a minute since open */
	ck_assert_msg(count_of(log_capture_text(), line1) == 1, "got log:\n%s",
		      log_capture_text());
	ck_assert(!post_user(a, "c@example.com"));	/* dedupe=2 */
	fake_ms += 59999;
	ck_assert(post_user(a, "d@example.com"));	/* moved, but within the minute */
	ck_assert_int_eq(count_of(log_capture_text(), "alert: dropped"), 1);
	fake_ms += 1;
	ck_assert(post_user(a, "e@example.com"));
	ck_assert_msg(count_of(log_capture_text(), line2) == 1, "got log:\n%s",
		      log_capture_text());
	fake_ms += 600000;
	ck_assert(post_user(a, "f@example.com"));	/* nothing moved: nothing said */
	alerts_close(&a);				/* nor at close (log only) */
	ck_assert_msg(count_of(log_capture_text(), "alert: dropped") == 2, "got log:\n%s",
		      log_capture_text());
	log_capture_stop();
	alerts_set_clock_ms(NULL);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("alert");
	TCase *tc;

	tc = tcase_create("webhook");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_body_and_headers);
	tcase_add_test(tc, test_body_nulls);
	tcase_add_test(tc, test_retry);
	tcase_add_test(tc, test_retry_status);
	tcase_add_test(tc, test_give_up);
	suite_add_tcase(s, tc);

	tc = tcase_create("dedupe");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_dedupe);
	tcase_add_test(tc, test_dedupe_off);
	tcase_add_test(tc, test_dedupe_flood);
	suite_add_tcase(s, tc);

	tc = tcase_create("queue");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_slow_receiver);
	tcase_add_test(tc, test_queue_full);
	tcase_add_test(tc, test_close_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("url");
	tcase_add_loop_test(tc, test_url_open, 0, (int)(sizeof(url_rows) / sizeof(url_rows[0])));
	tcase_add_test(tc, test_url_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("mail");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sendmail);
	tcase_add_test(tc, test_sendmail_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("sink");
	tcase_add_test(tc, test_sink);
	tcase_add_test(tc, test_store_sink);
	tcase_add_test(tc, test_log_only_and_null);
	tcase_add_test(tc, test_report_period);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
