/*
 * NAME
 *	routes_v1 - chapps's own REST routes under /v1
 * SUMMARY
 *	/v1/health, /v1/locks, /v1/events, /v1/quotas/{quota_id}/limits
 * DESCRIPTION
 *	/v1/locks and /v1/events are chapps's own (issue 11), in plain JSON
 *	without CHAPPS's envelope, like /v1/health: the user locks of the
 *	state store (PUT locks, DELETE unlocks; each change is also an event
 *	in the store's journal and an audit line) and the newest events.
 *	/v1/quotas/{quota_id}/limits are a quota's extra limits in the
 *	policy database, in plain JSON too.
 * DIAGNOSTICS
 *	Database and store failures: 500 {"detail": ...} and an error line;
 *	/v1/health answers 503 when the policy database does not.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/routes.h"
#include "base/config.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "policydb/policydb.h"
#include "store/store.h"

/* ---- /v1 ---------------------------------------------------------------- */

/* routes_health - GET /v1/health: the policy database answers */
void routes_health(struct api_req *r)
{
	char err[512];
	int st = policydb_check(r->api->db, err, sizeof(err));

	if (st != POLICYDB_OK) {
		log_error("api: health: %s", err);
		r->status = 503;
		r->out = json_pack("{s:s,s:s}", "status", "unavailable", "policy_db", "error");
		return;
	}
	r->status = 200;
	r->out = json_pack("{s:s,s:s,s:s+}", "status", "ok", "policy_db", "ok", "version",
			   "chapps v", PACKAGE_VERSION);
}

/* ---- /v1: locks and events ------------------------------------------------ */

#define API_EVENTS_DEFAULT 20
#define API_LOCK_USER_MAX 511	/* the longest name both engines take (LMDB's key size) */

/* store_fail - a store failure: 500 and an error line */
static void store_fail(struct api_req *r, const char *err)
{
	log_error("api: %s %s: state store: %s", r->method, r->path, err);
	routes_fail_detail(r, 500, "State store error");
}

/* text_json - len bytes as a JSON string; bytes of text that is not UTF-8 shown as '?' */
static json_t *text_json(const char *text, size_t len)
{
	json_t *j = json_stringn(text, len);
	char *copy;

	if (j != NULL)
		return j;
	copy = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		copy[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
	j = json_stringn(copy, len);
	free(copy);
	return j;
}

/* lock_json - {"user", "since", "reason"} of one lock (user: len bytes, maybe not UTF-8) */
static json_t *lock_json(const char *user, size_t len, int64_t since, const char *reason)
{
	return json_pack("{s:o,s:I,s:o}", "user", text_json(user, len), "since",
			 (json_int_t)since, "reason", text_json(reason, strlen(reason)));
}

/* lock_emit - store_locks_list's callback: append to the array */
static void lock_emit(void *ctx, const char *user, size_t len, int64_t since, const char *reason)
{
	json_t *o = lock_json(user, len, since, reason);

	if (o != NULL)
		json_array_append_new(ctx, o);
}

/* lock_cmp - jansson objects by "user" */
static int lock_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "user")),
		      json_string_value(json_object_get(*(json_t *const *)b, "user")));
}

/* routes_locks_list - GET /v1/locks: {"locks": [{user, since, reason}]}, sorted by user */
void routes_locks_list(struct api_req *r)
{
	struct store *s = api_store(r->api);
	json_t *arr = json_array(), *sorted = json_array(), *v;
	json_t **items;
	const char *err;
	size_t i, n;

	if (s != NULL && store_locks_list(s, lock_emit, arr, &err) != STORE_OK) {
		json_decref(arr);
		json_decref(sorted);
		store_fail(r, err);
		return;
	}
	n = json_array_size(arr);
	items = xreallocarray(NULL, n > 0 ? n : 1, sizeof(*items));
	json_array_foreach(arr, i, v)
		items[i] = v;
	qsort(items, n, sizeof(*items), lock_cmp);
	for (i = 0; i < n; i++)
		json_array_append(sorted, items[i]);
	free(items);
	json_decref(arr);
	r->status = 200;
	r->out = json_pack("{s:o}", "locks", sorted);
}

/* lock_event - the journal entry of a lock change by this token (a failure is logged) */
static void lock_event(struct api_req *r, struct store *s, const char *kind, const char *user,
		       const char *reason, int64_t now)
{
	json_t *ev = json_pack("{s:s,s:o,s:s,s:s,s:I}", "kind", kind, "user",
			       text_json(user, strlen(user)), "by", "chapps-api", "token", r->token,
			       "time", (json_int_t)now);
	const char *err;
	char *text, clean[256];

	if (ev == NULL)
		return;
	if (reason != NULL)
		json_object_set_new(ev, "reason", json_string(reason));
	text = json_dumps(ev, JSON_COMPACT);
	if (text != NULL && store_event_add(s, text, strlen(text), now, &err) != STORE_OK)
		log_warn("api: the %s event of %s was not recorded: %s", kind,
			 log_sanitize(clean, sizeof(clean), user), err);
	free(text);
	json_decref(ev);
}

/* routes_lock_put - PUT /v1/locks/{user} [{"reason": text}]: 201 locked, 200 already locked */
void routes_lock_put(struct api_req *r)
{
	const char *user = r->seg[0], *reason = "locked by chapps-api", *err;
	int64_t now = (int64_t)time(NULL);
	struct store_lock_info info;
	json_t *body = NULL, *jr;
	struct store *s;
	int st;

	if (strlen(user) > API_LOCK_USER_MAX) {
		routes_fail_422(r, "user: at most %d bytes", API_LOCK_USER_MAX);
		return;
	}
	if (r->body_len > 0) {
		if ((body = routes_body_json(r)) == NULL)
			return;
		jr = json_object_get(body, "reason");
		if (!json_is_object(body) || (jr != NULL && !json_is_string(jr))) {
			routes_fail_422(
				r, "body: an object {\"reason\": text} is required (or no body)");
			goto out;
		}
		if (jr != NULL)
			reason = json_string_value(jr);
		if (strlen(reason) >= STORE_LOCK_REASON_MAX) {
			routes_fail_422(r, "reason: at most %d bytes", STORE_LOCK_REASON_MAX - 1);
			goto out;
		}
	}
	if ((s = api_store_make(r->api)) == NULL) {
		routes_fail_detail(r, 500, "State store error");
		goto out;
	}
	/* one atomic step: of two requests at once, exactly one locks (201, one event) */
	st = store_lock_set(s, user, strlen(user), reason, now, &err);
	if (st == STORE_REFUSED) {	/* already locked: as it is */
		st = store_lock_get(s, user, strlen(user), &info, &err);
		if (st == STORE_OK) {
			r->status = 200;
			r->out = lock_json(user, strlen(user), info.since, info.reason);
			goto out;
		}
		if (st == STORE_MISS) {
			st = STORE_ERROR;
			err = "the user was unlocked meanwhile: try again";
		}
	}
	if (st != STORE_OK) {
		store_fail(r, err);
		goto out;
	}
	lock_event(r, s, "lock", user, reason, now);
	routes_audit_new(r, "lock", NULL,
			 json_pack("{s:o,s:s}", "user", text_json(user, strlen(user)), "reason",
				   reason));
	r->status = 201;
	r->out = lock_json(user, strlen(user), now, reason);
out:
	json_decref(body);
}

/* routes_lock_delete - DELETE /v1/locks/{user}: 200, or 404 when not locked */
void routes_lock_delete(struct api_req *r)
{
	const char *user = r->seg[0], *err = "";
	struct store *s = api_store(r->api);
	int st = s != NULL && strlen(user) <= API_LOCK_USER_MAX	/* longer: never locked */
		? store_lock_clear(s, user, strlen(user), &err) : STORE_MISS;

	if (st == STORE_MISS) {
		json_t *u = text_json(user, strlen(user));	/* the name as UTF-8 */

		routes_fail_detail(r, 404, "User %s is not locked", json_string_value(u));
		json_decref(u);
		return;
	}
	if (st != STORE_OK) {
		store_fail(r, err);
		return;
	}
	lock_event(r, s, "unlock", user, NULL, (int64_t)time(NULL));
	routes_audit_new(r, "lock", json_pack("{s:o}", "user", text_json(user, strlen(user))),
			 NULL);
	r->status = 200;
	r->out = json_pack("{s:o,s:b}", "user", text_json(user, strlen(user)), "unlocked", 1);
}

/* event_emit - store_events_list's callback: {"time", "event"} */
static void event_emit(void *ctx, int64_t time, const char *text, size_t len)
{
	json_t *ev = json_loadb(text, len, 0, NULL), *o;

	if (!json_is_object(ev)) {	/* not a JSON object: as a string */
		json_decref(ev);
		ev = text_json(text, len);
	}
	o = json_pack("{s:I,s:o}", "time", (json_int_t)time, "event", ev);
	if (o != NULL)
		json_array_append_new(ctx, o);
}

/* routes_events_list - GET /v1/events?n=N: {"events": [{time, event}]}, newest first */
void routes_events_list(struct api_req *r)
{
	struct store *s = api_store(r->api);
	json_t *arr;
	const char *err;
	long n;

	if (!routes_query_long(r, "n", API_EVENTS_DEFAULT, &n))
		return;
	if (n < 1 || n > STORE_EVENTS_KEEP) {
		routes_fail_422(r, "query parameter n: 1 to %d", STORE_EVENTS_KEEP);
		return;
	}
	arr = json_array();
	if (s != NULL && store_events_list(s, (size_t)n, event_emit, arr, &err) != STORE_OK) {
		json_decref(arr);
		store_fail(r, err);
		return;
	}
	r->status = 200;
	r->out = json_pack("{s:o}", "events", arr);
}

/*
 * /v1/quotas/{quota_id}/limits: a quota's limits (issue 10) with their
 * overrides (issue 11), as chapps-cli limit list shows them; plain JSON
 * like /v1/health (no CHAPPS envelope): {"quota_id", "quota", "limits":
 * [{"id", "kind", "window", "max", "action", "warn_at", "mode"}]}, id 0
 * the quota's own number, null for an override left to the setting.
 */

/* limit_json - one limit (null: the setting's value) */
static json_t *limit_json(const struct policydb_limit *l)
{
	const char *a = policydb_limit_action_name(l->action);
	const char *m = policydb_limit_mode_name(l->mode);
	char span[32];

	policydb_limit_span_text(l->span, span, sizeof(span));
	return json_pack("{s:I,s:s,s:s,s:I,s:o,s:o,s:o}", "id", (json_int_t)l->id, "kind",
			 policydb_limit_kind_name(l->kind), "window", span, "max",
			 (json_int_t)l->max, "action", a ? json_string(a) : json_null(), "warn_at",
			 l->warn_at >= 0 ? json_integer(l->warn_at) : json_null(), "mode",
			 m ? json_string(m) : json_null());
}

/* limits_quota - the name of the quota of path parameter 0 into name; false after an answer */
static bool limits_quota(struct api_req *r, long *id, char *name, size_t size)
{
	json_t *obj = NULL;
	char err[512];
	int st;

	if (!routes_path_id(r, 0, id))
		return false;
	st = routes_get_obj(r, POLICYDB_QUOTA, *id, &obj, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, POLICYDB_QUOTA, err);
		return false;
	}
	snprintf(name, size, "%s", routes_obj_name(obj) ? routes_obj_name(obj) : "");
	json_decref(obj);
	return true;
}

/* limits_answer - answer status with quota id's limits */
static void limits_answer(struct api_req *r, int status, long id, const char *name)
{
	struct policydb_limit rows[POLICYDB_LIMITS_MAX];
	struct policydb_limit base = { .warn_at = POLICYDB_WARN_DEFAULT };
	const struct config *c = r->api->config;
	json_t *arr;
	char err[512];
	long number = 0;
	size_t n = 0;
	int st;

	st = policydb_quota_limits(r->api->db, name, &number, rows, POLICYDB_LIMITS_MAX, &n, err,
				   sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, POLICYDB_QUOTA, err);
		return;
	}
	base.kind = c->quota_counting_recipients ? POLICYDB_LIMIT_RECIPIENTS
						 : POLICYDB_LIMIT_MESSAGES;
	base.span = c->quota_interval;
	base.max = number;
	arr = json_array();
	json_array_append_new(arr, limit_json(&base));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, limit_json(&rows[i]));
	json_decref(r->out);
	r->status = status;
	r->out = json_pack("{s:I,s:s,s:o}", "quota_id", (json_int_t)id, "quota", name, "limits",
			   arr);
}

/* routes_limits_get - GET /v1/quotas/{quota_id}/limits */
void routes_limits_get(struct api_req *r)
{
	char name[256];
	long id;

	if (limits_quota(r, &id, name, sizeof(name)))
		limits_answer(r, 200, id, name);
}

/* member_text - a string member, or an integer one as decimal text, into buf; NULL if absent */
static const char *member_text(json_t *body, const char *key, char *buf, size_t size, bool *bad)
{
	json_t *v = json_object_get(body, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	*bad = true;
	return NULL;
}

/*
 * routes_limits_post - POST /v1/quotas/{quota_id}/limits {"kind", "window", "max",
 * "action", "warn_at", "mode"} (window may be left out for a cap; the
 * overrides may be null or left out): 201 with the quota's limits
 */
void routes_limits_post(struct api_req *r)
{
	char name[256], err[512], kbuf[32], wbuf[32], mbuf[32], abuf[32], obuf[32], pbuf[32];
	const char *kind, *window, *max, *action, *warn, *mode;
	struct policydb_limit l;
	bool bad = false;
	json_t *body;
	long id;
	int st;

	if (!limits_quota(r, &id, name, sizeof(name)) || (body = routes_body_json(r)) == NULL)
		return;
	kind = member_text(body, "kind", kbuf, sizeof(kbuf), &bad);
	window = member_text(body, "window", wbuf, sizeof(wbuf), &bad);
	max = member_text(body, "max", mbuf, sizeof(mbuf), &bad);
	action = member_text(body, "action", abuf, sizeof(abuf), &bad);
	warn = member_text(body, "warn_at", pbuf, sizeof(pbuf), &bad);
	mode = member_text(body, "mode", obuf, sizeof(obuf), &bad);
	if (!json_is_object(body) || bad) {
		routes_fail_422(r,
				"a limit is an object of strings and integers: kind, window, max, "
				"action, warn_at, mode");
	} else if (policydb_limit_parse(kind, window, max, &l, err, sizeof(err)) < 0 ||
		   policydb_limit_overrides(action, warn, mode, &l, err, sizeof(err)) < 0) {
		routes_fail_422(r, "%s", err);
	} else if ((st = policydb_limit_add(r->api->db, name, &l, err, sizeof(err))) !=
		   POLICYDB_OK) {
		routes_fail_db(r, st, POLICYDB_QUOTA, err);
	} else {
		char object[300];

		snprintf(object, sizeof(object), "quota:%s:limits", name);
		routes_audit_new(r, object, NULL, limit_json(&l));
		routes_signal_milter(r);
		limits_answer(r, 201, id, name);
	}
	json_decref(body);
}

/* routes_limits_delete - DELETE /v1/quotas/{quota_id}/limits/{limit_id}: 200 with the quota's limits */
void routes_limits_delete(struct api_req *r)
{
	char name[256], err[512], object[300];
	long id, limit_id;
	int st;

	if (!limits_quota(r, &id, name, sizeof(name)) || !routes_path_id(r, 1, &limit_id))
		return;
	st = limit_id > 0 ? policydb_limit_del(r->api->db, name, limit_id, err, sizeof(err))
			  : POLICYDB_NOTFOUND;
	if (st == POLICYDB_NOTFOUND) {
		routes_fail_detail(r, 404, "Unable to find a matching Limit");
		return;
	}
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, POLICYDB_QUOTA, err);
		return;
	}
	snprintf(object, sizeof(object), "quota:%s:limits:%ld", name, limit_id);
	routes_audit_new(r, object, json_integer(limit_id), NULL);
	routes_signal_milter(r);
	limits_answer(r, 200, id, name);
}
