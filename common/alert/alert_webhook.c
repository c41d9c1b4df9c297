/*
 * NAME
 *	alert_webhook - the webhook channel of operator alerts
 * SUMMARY
 *	alert_webhook_post(a, body, len, timeout_ms, &error)
 * DESCRIPTION
 *	The sender thread POSTs each event's JSON body here (libcurl,
 *	webhook_timeout_ms per attempt, "Authorization: Bearer" and
 *	"X-Chapps-Signature: sha256=HEX" of HMAC-SHA256 when configured; any
 *	2xx is success).  The easy handle is the sender thread's and keeps
 *	its connection between events.  The transfer runs through the curl
 *	multi handle made at open, which alerts_close wakes up: an attempt
 *	in flight when close's time is up is aborted.
 * DIAGNOSTICS
 *	-1 with a text for a failed attempt (the caller logs it and retries);
 *	nothing is logged here.
 */
#include "autoconf.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert-private.h"
#include "base/xalloc.h"

/*
 * perform - run the transfer of a->curl through a->multi, so that close can
 * interrupt the wait (curl_multi_wakeup) and abort it when its time is up.
 */
static CURLcode perform(struct alerts *a)
{
	CURLcode result = CURLE_ABORTED_BY_CALLBACK;
	int running = 1;
	CURLMsg *msg;
	int left;

	if (curl_multi_add_handle(a->multi, a->curl) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running) {
		int64_t wait = 1000;

		if (curl_multi_perform(a->multi, &running) != CURLM_OK)
			break;
		if (!running)
			break;
		pthread_mutex_lock(&a->mutex);
		if (a->stopping)
			wait = a->stop_deadline_ms - alert_now_ms();
		pthread_mutex_unlock(&a->mutex);
		if (wait <= 0)
			break;	/* close's time is up: abort */
		if (curl_multi_poll(a->multi, NULL, 0, (int)(wait < 1000 ? wait : 1000), NULL) !=
		    CURLM_OK)
			break;
	}
	while ((msg = curl_multi_info_read(a->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == a->curl)
			result = msg->data.result;
	curl_multi_remove_handle(a->multi, a->curl);
	return result;
}

/* discard_body - libcurl write callback: the receiver's answer is not kept */
static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	(void)userdata;
	return size * nmemb;
}

/*
 * alert_webhook_post - one POST of body; 0 on a 2xx, else -1 with a static or
 * per-handle text in *error_r (sender thread only).
 */
int alert_webhook_post(struct alerts *a, const char *body, size_t len, long timeout_ms,
		       const char **error_r)
{
	static __thread char why[CURL_ERROR_SIZE + 32];
	char detail[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	char line[64 + 2 * crypto_auth_hmacsha256_BYTES];
	char *auth = NULL;
	long status = 0;
	CURLcode rc;

	if (a->curl == NULL && (a->curl = curl_easy_init()) == NULL) {
		*error_r = "cannot create a libcurl handle";
		return -1;
	}
	if (a->multi == NULL) {
		*error_r = "cannot create a libcurl multi handle";
		return -1;
	}
	curl_easy_reset(a->curl);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	if (a->webhook_token[0] != '\0') {
		auth = xasprintf("Authorization: Bearer %s", a->webhook_token);
		headers = curl_slist_append(headers, auth);
	}
	if (a->webhook_secret[0] != '\0') {
		unsigned char mac[crypto_auth_hmacsha256_BYTES];
		crypto_auth_hmacsha256_state st;
		char hex[2 * crypto_auth_hmacsha256_BYTES + 1];

		crypto_auth_hmacsha256_init(&st, (const unsigned char *)a->webhook_secret,
					    strlen(a->webhook_secret));
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
		crypto_auth_hmacsha256_final(&st, mac);
		sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
		snprintf(line, sizeof(line), "X-Chapps-Signature: sha256=%s", hex);
		headers = curl_slist_append(headers, line);
	}
	curl_easy_setopt(a->curl, CURLOPT_URL, a->webhook_url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(a->curl, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(a->curl, CURLOPT_ERRORBUFFER, detail);
	rc = perform(a);
	if (rc == CURLE_OK)
		curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
	/* the handle keeps the connection, not the headers nor the buffer: drop them now */
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(a->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(headers);
	if (auth != NULL) {
		sodium_memzero(auth, strlen(auth));
		free(auth);
	}
	if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s",
			 rc == CURLE_ABORTED_BY_CALLBACK ? "aborted: the time to close is up"
			 : detail[0]			 ? detail
							 : curl_easy_strerror(rc));
		*error_r = why;
		return -1;
	}
	if (status < 200 || status > 299) {
		snprintf(why, sizeof(why), "HTTP status %ld", status);
		*error_r = why;
		return -1;
	}
	return 0;
}
