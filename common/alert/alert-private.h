/*
 * alert-private.h - what the parts of common/alert share (internal)
 *
 * alert.c holds the queue, the dedupe table, the sender thread and the
 * public functions of alert.h; the sender thread delivers through
 * alert_webhook.c (the POST) and alert_mail.c (sendmail).  struct alerts
 * is defined here so that the channels can read the settings and, under
 * a->mutex, close's stop time; the fields marked "the sender thread's
 * own" are that thread's (close only wakes the multi handle, and frees
 * them after the join).  Nothing outside common/alert includes this
 * file: the tests go through alert.h.
 */
#ifndef CHAPPS_ALERT_PRIVATE_H
#define CHAPPS_ALERT_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <sodium.h>

#include "alert/alert.h"

/* fixed sizes of the queued copies (bytes with the NUL) */
#define ALERT_USER_MAX 256
#define ALERT_LIMIT_MAX 256
#define ALERT_ADDR_MAX 64
#define ALERT_QID_MAX 64

#define DEDUPE_SETS 1024
#define DEDUPE_WAYS 4

#define RETRY_SLOTS 64

/* which outputs an event still needs */
#define NEED_SINK 1u
#define NEED_WEBHOOK 2u
#define NEED_MAIL 4u

struct alert_item {
	enum alert_kind kind;
	char user[ALERT_USER_MAX];
	char limit[ALERT_LIMIT_MAX];	/* "" = none */
	char client[ALERT_ADDR_MAX];	/* "" = none */
	char queue_id[ALERT_QID_MAX];	/* "" = none */
	bool has_limit, has_client, has_queue_id;
	uint64_t used, max;
	int64_t time;
	unsigned need;			/* NEED_* still to do */
	int attempts;			/* made so far */
	int64_t due_ms;			/* retry list: monotonic time of the next attempt */
};

struct dedupe_entry {
	uint64_t key;			/* 0 = empty */
	int64_t time;
};

struct alerts {
	/* settings, copied at open */
	char *webhook_url, *webhook_token, *webhook_secret, *mail_to, *sendmail;
	int webhook_timeout_ms, retries, interval, timeout_ms;
	char host[256];
	unsigned char hash_key[crypto_shorthash_KEYBYTES];

	void (*sink)(void *ctx, const char *json, size_t len, int64_t time);
	void *sink_ctx;

	pthread_mutex_t mutex;
	pthread_cond_t cond;		/* an event queued, or stop */
	struct alert_item *ring;	/* queue_size slots */
	size_t ring_size, ring_head, ring_count;
	struct dedupe_entry dedupe[DEDUPE_SETS][DEDUPE_WAYS];
	uint64_t dropped_full, dropped_dedupe, given_up;	/* under mutex */
	uint64_t reported_full, reported_dedupe, reported_given_up;
	int64_t last_report_ms;
	bool stopping;
	int64_t stop_deadline_ms;	/* when stopping: monotonic */

	bool thread_started;
	pthread_t thread;

	/* the sender thread's own */
	struct alert_item retry[RETRY_SLOTS];
	size_t n_retry;
	CURL *curl;
	CURLM *multi;			/* created at open: close wakes it (curl_multi_wakeup) */
};

/* alert_now_ms - a monotonic clock in milliseconds */
int64_t alert_now_ms(void);

/* alert_kind_name - "refusal", "warn", "lock", "unlock" (static text) */
const char *alert_kind_name(enum alert_kind kind);

/* alert_rfc3339 - t as "2026-12-04T21:40:00Z" into buf (21 bytes at least) */
void alert_rfc3339(int64_t t, char *buf, size_t size);

/*
 * alert_webhook_post - one POST of body (alert_webhook.c); 0 on a 2xx, else
 * -1 with a static or per-handle text in *error_r (sender thread only).
 */
int alert_webhook_post(struct alerts *a, const char *body, size_t len, long timeout_ms,
		       const char **error_r);

/*
 * alert_mail_send - one mail of the event through sendmail (alert_mail.c),
 * waited for at most timeout_ms; 0 when it exited 0, else -1 with a text
 * in *error_r (sender thread only).
 */
int alert_mail_send(struct alerts *a, const struct alert_item *it, long timeout_ms,
		    const char **error_r);

#endif
