/*
 * NAME
 *	routes - CHAPPS's REST routes (spec 9.5) over chapps's policy data
 * SUMMARY
 *	api_routes[]: users, domains, emails, quotas, /live, /v1/health,
 *	/v1/quotas/{quota_id}/limits, /v1/locks and /v1/events
 * DESCRIPTION
 *	Paths, bodies, status codes and messages are CHAPPS's: every success
 *	is {"version", "timestamp", "response"} plus association keys or
 *	"remarks"; a missing object is 404 {"detail": "Unable to find a
 *	matching <Model>"}; a unique clash on create or update 409
 *	{"detail": "Unique key conflict creating <model>."}; a bad body or
 *	parameter 422 {"status_code": 10422, "message", "data": null}.  List
 *	and bulk routes take their ids as a JSON body on GET, as CHAPPS does.
 *
 *	CHAPPS's API bugs (spec 12 item 18) are fixed here, and listed in
 *	chapps-api(8): a list that matches nothing is 200 with [] (not 404);
 *	ids in bulk answers are integers; PUT /users/{id}/quota/{quota} gives
 *	a quota to a user that had none; bulk SDA routes without domain or
 *	e-mail ids are 400, not 500; a malformed body is 422 at once; and
 *	every change invalidates the caches it affects: the SDA decisions in
 *	the state store (sda_forget, through the one key builder api_sda_key)
 *	and the local milter's look-up caches (SIGUSR2 to milter.pidfile).
 *
 *	Every change writes one audit line: token name, route, object, old ->
 *	new (compact JSON).
 *
 *	What chapps keeps differently from CHAPPS shows in /live: quota usage
 *	is a bucketed window (remaining = limit - used - reserved); the
 *	greylisting tally is a count of passes (CHAPPS: a list of Postfix
 *	instances); the greylist and SPF flag caches live in the milter, so
 *	their DELETE routes signal it.
 *
 *	/v1/locks and /v1/events are chapps's own (issue 11), in plain JSON
 *	without CHAPPS's envelope, like /v1/health: the user locks of the
 *	state store (PUT locks, DELETE unlocks; each change is also an event
 *	in the store's journal and an audit line) and the newest events.
 * DIAGNOSTICS
 *	Database and store failures: 500 {"detail": ...} and an error line.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api/api.h"
#include "base/config.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "policy/greylist.h"
#include "policy/greylisting.h"
#include "policy/quota.h"
#include "policy/sender_domain_auth.h"
#include "policydb/policydb.h"
#include "policydb/policydb_ids.h"
#include "store/greylist_record.h"
#include "store/store.h"

static const char *const model_name[4] = { "User", "Quota", "Domain", "Email" };
static const char *const model_lower[4] = { "user", "quota", "domain", "email" };

/* ---- responses ---------------------------------------------------------- */

/* envelope - CHAPPS's success body around response (taken over) */
static json_t *envelope(json_t *response)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return json_pack("{s:s+,s:f,s:o}", "version", "chapps v", PACKAGE_VERSION, "timestamp",
			 (double)tv.tv_sec + tv.tv_usec / 1e6, "response",
			 response != NULL ? response : json_null());
}

/* ok - answer status with response (taken over) */
static void ok(struct api_req *r, int status, json_t *response)
{
	json_decref(r->out);
	r->status = status;
	r->out = envelope(response);
}

/* fail_detail - answer status with {"detail": text} */
static void fail_detail(struct api_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail_detail(struct api_req *r, int status, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_decref(r->out);
	r->status = status;
	r->out = json_pack("{s:s}", "detail", text);
}

/* fail_422 - CHAPPS's validation error body */
static void fail_422(struct api_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_422(struct api_req *r, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_decref(r->out);
	r->status = 422;
	r->out = json_pack("{s:i,s:s,s:n}", "status_code", 10422, "message", text, "data");
}

/* fail_db - a policydb status other than OK as CHAPPS answers it */
static void fail_db(struct api_req *r, int st, enum policydb_kind kind, const char *err)
{
	if (st == POLICYDB_NOTFOUND)
		fail_detail(r, 404, "Unable to find a matching %s", model_name[kind]);
	else if (st == POLICYDB_EXISTS)
		fail_detail(r, 409, "Unique key conflict creating %s.", model_lower[kind]);
	else {
		log_error("api: %s %s: policy database: %s", r->method, r->path, err);
		fail_detail(r, 500, "Policy database error");
	}
}

/* audit - the line for one change */
static void audit(struct api_req *r, const char *object, json_t *old, json_t *new)
{
	char *o = old != NULL ? json_dumps(old, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *n = new != NULL ? json_dumps(new, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	log_info("audit: token=%s client=%s route=\"%s %s\" object=%s old=%s new=%s", r->token,
		 r->client, r->method, r->route, object, o ? o : "-", n ? n : "-");
	free(o);
	free(n);
}

/* audit_new - audit with old and new taken over (either may be NULL) */
static void audit_new(struct api_req *r, const char *object, json_t *old, json_t *new)
{
	audit(r, object, old, new);
	json_decref(old);
	json_decref(new);
}

/* ---- cache invalidation ----------------------------------------------- */

/* sda_cached - the cached decision: 1, 0, or -1 (none); -2 on a store error */
static int sda_cached(struct api_req *r, const char *user, char kind, const char *name)
{
	struct store *s = api_store(r->api);
	char key[1024], val[8];
	size_t klen, vlen = sizeof(val);
	const char *err;
	int st;

	if (s == NULL)
		return -1;
	klen = sender_domain_auth_key(key, sizeof(key), user, kind, name);
	if (klen == 0)
		return -1;
	st = store_cache_get(s, key, klen, val, &vlen, (int64_t)time(NULL), &err);
	if (st == STORE_MISS)
		return -1;
	if (st != STORE_OK) {
		log_error("api: state store: %s", err);
		return -2;
	}
	return vlen == 1 && val[0] == '1' ? 1 : 0;
}

/* sda_forget - delete the cached SDA decision of (user, kind, name) */
static void sda_forget(struct api_req *r, const char *user, char kind, const char *name)
{
	struct store *s = api_store(r->api);
	char key[1024];
	const char *err;
	size_t klen;

	if (s == NULL)
		return;
	klen = sender_domain_auth_key(key, sizeof(key), user, kind, name);
	if (klen > 0 && store_cache_del(s, key, klen, &err) != STORE_OK)
		log_warn("api: could not clear the cached SDA decision of %s: %s", user, err);
}

/* signal_milter - ask the local milter to flush its look-up caches (quota, flags) */
static void signal_milter(struct api_req *r)
{
	const char *pidfile = r->api->config->milter_pidfile;
	long pid = 0;
	FILE *f;

	if (pidfile[0] == '\0' || (f = fopen(pidfile, "r")) == NULL)
		return;
	if (fscanf(f, "%ld", &pid) == 1 && pid > 1 && kill((pid_t)pid, SIGUSR2) < 0 &&
	    errno != ESRCH)
		log_warn("api: cannot signal chapps-milter (pid %ld): %s", pid, strerror(errno));
	fclose(f);
}

/* ---- rows into JSON ----------------------------------------------------- */

/* row_object - one row of kind as CHAPPS's model object */
static json_t *row_object(enum policydb_kind kind, int ncols, const char *const *cols)
{
	json_int_t id = cols[0] ? strtoll(cols[0], NULL, 10) : 0;
	const char *name = ncols > 1 && cols[1] ? cols[1] : "";

	switch (kind) {
	case POLICYDB_QUOTA:
		return json_pack("{s:I,s:s,s:I}", "id", id, "name", name, "quota",
				 (json_int_t)(ncols > 2 && cols[2] ? strtoll(cols[2], NULL, 10) : 0));
	case POLICYDB_DOMAIN:
		return json_pack("{s:I,s:s,s:b,s:b}", "id", id, "name", name, "greylist",
				 ncols > 2 && cols[2] && strcmp(cols[2], "0") != 0, "check_spf",
				 ncols > 3 && cols[3] && strcmp(cols[3], "0") != 0);
	default:
		return json_pack("{s:I,s:s}", "id", id, "name", name);
	}
}

struct rows {
	enum policydb_kind kind;
	json_t *arr;
};

/* rows_fn - policydb row callback appending model objects */
static int rows_fn(void *ctx, int ncols, const char *const *cols)
{
	struct rows *rows = ctx;

	json_array_append_new(rows->arr, row_object(rows->kind, ncols, cols));
	return 0;
}

/* get_obj - the model object of (kind, id) into *obj_r; a status otherwise */
static int get_obj(struct api_req *r, enum policydb_kind kind, long id, json_t **obj_r,
		   char *err, size_t errsize)
{
	struct rows rows = { kind, json_array() };
	int st;

	*obj_r = NULL;
	st = policydb_obj_get(r->api->db, kind, id, rows_fn, &rows, err, errsize);
	if (st == POLICYDB_OK)
		*obj_r = json_incref(json_array_get(rows.arr, 0));
	json_decref(rows.arr);
	return st;
}

/* obj_name - the name of an object (borrowed from obj) */
static const char *obj_name(json_t *obj)
{
	return json_string_value(json_object_get(obj, "name"));
}

/* ---- request input ------------------------------------------------------ */

/* body_json - the parsed body (new reference), or NULL after a 422 */
static json_t *body_json(struct api_req *r)
{
	json_error_t e;
	json_t *j;

	if (r->body_len == 0) {
		fail_422(r, "a JSON request body is required");
		return NULL;
	}
	j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL)
		fail_422(r, "JSON decode error at line %d column %d: %s", e.line, e.column, e.text);
	return j;
}

/* path_id - the integer parameter i of the path; false after a 422 */
static bool path_id(struct api_req *r, int i, long *id)
{
	const char *s = r->seg[i];
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > INT_MAX) {
		fail_422(r, "path parameter %d: value is not a valid integer", i + 1);
		return false;
	}
	*id = (long)v;
	return true;
}

/* query_long - an integer query argument, def when absent; false after a 422 */
static bool query_long(struct api_req *r, const char *name, long def, long *v)
{
	const char *s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
	char *end;

	*v = def;
	if (s == NULL)
		return true;
	errno = 0;
	*v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || *v < 0) {
		fail_422(r, "query parameter %s: value is not a valid non-negative integer", name);
		return false;
	}
	return true;
}

/* ids_of - a JSON array of integer ids into a new array; false after a 422 */
static bool ids_of(struct api_req *r, json_t *arr, const char *what, long **ids, size_t *n)
{
	size_t i;
	json_t *v;

	*ids = NULL;
	*n = 0;
	if (arr == NULL || json_is_null(arr))
		return true;
	if (!json_is_array(arr)) {
		fail_422(r, "%s: value is not a valid list of integer ids", what);
		return false;
	}
	*ids = xcalloc(json_array_size(arr) + 1, sizeof(**ids));
	json_array_foreach(arr, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > INT_MAX) {
			fail_422(r, "%s[%zu]: value is not a valid integer id", what, i);
			XFREE(*ids);
			return false;
		}
		(*ids)[(*n)++] = (long)json_integer_value(v);
	}
	return true;
}

/* strip - a copy of s without leading and trailing white space */
static char *strip(const char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

/* valid_domain - a syntactically valid (lower-case) domain name */
static bool valid_domain(const char *d)
{
	size_t label = 0, labels = 0;

	if (*d == '\0' || *d == '.' || *d == '-')
		return false;
	for (const char *p = d; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			labels++;
			continue;
		}
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		      (*p == '*' && p == d && p[1] == '.')) || ++label > 63)
			return false;
	}
	return label > 0 && labels >= 1 && d[strlen(d) - 1] != '-';
}

/*
 * valid_name - CHAPPS's validation of a model's name (spec 9.1); a new
 * string (stripped; domains lower-cased) or NULL after a 422
 */
static char *valid_name(struct api_req *r, enum policydb_kind kind, json_t *v)
{
	static const size_t lo[4] = { 5, 3, 5, 6 }, hi[4] = { 127, 31, 63, 127 };
	char *name;
	size_t n;

	if (!json_is_string(v)) {
		fail_422(r, "name: a string is required");
		return NULL;
	}
	name = strip(json_string_value(v));
	n = strlen(name);
	if (n < lo[kind] || n > hi[kind]) {
		fail_422(r, "name: ensure this value has %zu to %zu characters", lo[kind], hi[kind]);
		free(name);
		return NULL;
	}
	if (kind == POLICYDB_DOMAIN) {
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!valid_domain(name)) {
			fail_422(r, "name: value is not a valid domain name");
			free(name);
			return NULL;
		}
	}
	if (kind == POLICYDB_EMAIL) {
		const char *at = strchr(name, '@');

		if (at == NULL || at == name || strchr(at + 1, '@') != NULL ||
		    strpbrk(name, " \t<>\"") != NULL || strchr(at + 1, '.') == NULL) {
			fail_422(r, "name: value is not a valid email address");
			free(name);
			return NULL;
		}
	}
	return name;
}

/* flag_of - an optional boolean member; false after a 422 */
static bool flag_of(struct api_req *r, json_t *obj, const char *key, long *v)
{
	json_t *j = json_object_get(obj, key);

	if (j == NULL || json_is_null(j))
		return true;
	if (!json_is_boolean(j)) {
		fail_422(r, "%s: value could not be parsed to a boolean", key);
		return false;
	}
	*v = json_is_true(j);
	return true;
}

/* ---- associations ------------------------------------------------------ */

/* linked - the objects of kind linked to user id (array), or objects' users */
static json_t *linked(struct api_req *r, enum policydb_kind kind, long id, bool users_of)
{
	struct rows rows = { users_of ? POLICYDB_USER : kind, json_array() };
	char err[512];

	if ((users_of ? policydb_obj_users(r->api->db, kind, id, 0, -1, rows_fn, &rows, err,
					   sizeof(err))
		      : policydb_user_objs(r->api->db, kind, id, 0, -1, rows_fn, &rows, err,
					   sizeof(err))) == POLICYDB_ERROR)
		log_error("api: policy database: %s", err);
	return rows.arr;
}

/* forget_pairs - sda_forget every (user, object) pair of users x objects */
static void forget_pairs(struct api_req *r, json_t *users, enum policydb_kind kind, json_t *objs)
{
	size_t i, j;
	json_t *u, *o;

	json_array_foreach(users, i, u) {
		json_array_foreach(objs, j, o) {
			sda_forget(r, obj_name(u), kind == POLICYDB_EMAIL ? 'e' : 'd', obj_name(o));
		}
	}
}

/* forget_user - sda_forget everything user (an object) was linked to */
static void forget_user(struct api_req *r, json_t *user)
{
	long id = (long)json_integer_value(json_object_get(user, "id"));
	json_t *one = json_pack("[O]", user);
	json_t *d = linked(r, POLICYDB_DOMAIN, id, false);
	json_t *e = linked(r, POLICYDB_EMAIL, id, false);

	forget_pairs(r, one, POLICYDB_DOMAIN, d);
	forget_pairs(r, one, POLICYDB_EMAIL, e);
	json_decref(one);
	json_decref(d);
	json_decref(e);
}

/* forget_obj - sda_forget every user of a domain or email (an object) */
static void forget_obj(struct api_req *r, enum policydb_kind kind, json_t *obj)
{
	long id = (long)json_integer_value(json_object_get(obj, "id"));
	json_t *one = json_pack("[O]", obj);
	json_t *u = linked(r, kind, id, true);

	forget_pairs(r, u, kind, one);
	json_decref(one);
	json_decref(u);
}

/*
 * set_links - link (or unlink) user id with each id of kind; nonexistent
 * ids and existing links are ignored (CHAPPS); caches forgotten for each
 * change.  The user object is user.  -1 after a 500.
 */
static int set_links(struct api_req *r, json_t *user, enum policydb_kind kind, const long *ids,
		     size_t n, bool link)
{
	long uid = (long)json_integer_value(json_object_get(user, "id"));
	char err[512];

	for (size_t i = 0; i < n; i++) {
		json_t *obj = NULL;
		bool changed;
		int st;

		st = policydb_link_ids(r->api->db, kind, uid, ids[i], link, &changed, err,
				       sizeof(err));
		if (st != POLICYDB_OK) {
			fail_db(r, st, kind, err);
			return -1;
		}
		if (!changed)
			continue;
		if (get_obj(r, kind, ids[i], &obj, err, sizeof(err)) == POLICYDB_OK) {
			char object[256];

			sda_forget(r, obj_name(user), kind == POLICYDB_EMAIL ? 'e' : 'd',
				   obj_name(obj));
			snprintf(object, sizeof(object), "%s:%ld-%s:%ld", model_lower[POLICYDB_USER],
				 uid, model_lower[kind], ids[i]);
			audit(r, object, link ? NULL : obj, link ? obj : NULL);
			json_decref(obj);
		}
	}
	return 0;
}

/* replace_links - CHAPPS's "non-empty list replaces" for a user's kind links */
static int replace_links(struct api_req *r, json_t *user, enum policydb_kind kind,
			 const long *ids, size_t n)
{
	long uid = (long)json_integer_value(json_object_get(user, "id"));
	json_t *old = linked(r, kind, uid, false), *one = json_pack("[O]", user);
	char err[512];
	int st;

	forget_pairs(r, one, kind, old);
	json_decref(one);
	json_decref(old);
	st = policydb_unlink_all(r->api->db, kind, uid, true, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, kind, err);
		return -1;
	}
	return set_links(r, user, kind, ids, n, true);
}

/* ---- users -------------------------------------------------------------- */

/* user_resp - answer CHAPPS's UserResp for user id */
static void user_resp(struct api_req *r, int status, long id)
{
	struct rows q = { POLICYDB_QUOTA, json_array() };
	json_t *user, *out;
	char err[512];
	int st;

	st = get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	if (st != POLICYDB_OK) {
		json_decref(q.arr);
		fail_db(r, st, POLICYDB_USER, err);
		return;
	}
	st = policydb_user_quota_row(r->api->db, id, rows_fn, &q, err, sizeof(err));
	if (st == POLICYDB_ERROR) {
		json_decref(q.arr);
		json_decref(user);
		fail_db(r, st, POLICYDB_USER, err);
		return;
	}
	ok(r, status, user);
	out = r->out;
	json_object_set(out, "quota", json_array_size(q.arr) ? json_array_get(q.arr, 0)
							      : json_null());
	json_object_set_new(out, "domains", linked(r, POLICYDB_DOMAIN, id, false));
	json_object_set_new(out, "emails", linked(r, POLICYDB_EMAIL, id, false));
	json_decref(q.arr);
}

/* set_quota - give user the quota id (signals the milter); -1 after an error answer */
static int set_quota(struct api_req *r, json_t *user, long quota_id)
{
	long uid = (long)json_integer_value(json_object_get(user, "id"));
	struct rows q = { POLICYDB_QUOTA, json_array() };
	char err[512], object[64];
	json_t *newq = NULL;
	int st;

	(void)policydb_user_quota_row(r->api->db, uid, rows_fn, &q, err, sizeof(err));
	st = policydb_set_quota_ids(r->api->db, uid, quota_id, err, sizeof(err));
	if (st != POLICYDB_OK) {
		json_decref(q.arr);
		fail_db(r, st, st == POLICYDB_NOTFOUND ? POLICYDB_QUOTA : POLICYDB_USER, err);
		return -1;
	}
	(void)get_obj(r, POLICYDB_QUOTA, quota_id, &newq, err, sizeof(err));
	snprintf(object, sizeof(object), "user:%ld-quota", uid);
	audit(r, object, json_array_get(q.arr, 0), newq);
	json_decref(newq);
	json_decref(q.arr);
	signal_milter(r);
	return 0;
}

/* list_route - GET /{models}/: q, skip, limit */
static void list_route(struct api_req *r, enum policydb_kind kind)
{
	const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "q");
	struct rows rows = { kind, json_array() };
	long skip, limit;
	char err[512];
	int st;

	if (!query_long(r, "skip", 0, &skip) || !query_long(r, "limit", 1000, &limit)) {
		json_decref(rows.arr);
		return;
	}
	st = policydb_obj_list(r->api->db, kind, q ? q : "%", skip, limit, rows_fn, &rows, err,
			       sizeof(err));
	if (st != POLICYDB_OK) {
		json_decref(rows.arr);
		fail_db(r, st, kind, err);
		return;
	}
	ok(r, 200, rows.arr);	/* [] when nothing matches: CHAPPS's 404 fixed */
}

static void users_list(struct api_req *r) { list_route(r, POLICYDB_USER); }
static void domains_list(struct api_req *r) { list_route(r, POLICYDB_DOMAIN); }
static void emails_list(struct api_req *r) { list_route(r, POLICYDB_EMAIL); }
static void quotas_list(struct api_req *r) { list_route(r, POLICYDB_QUOTA); }

/* users_get - GET /users/{id} */
static void users_get(struct api_req *r)
{
	long id;

	if (path_id(r, 0, &id))
		user_resp(r, 200, id);
}

/* user_assocs - the optional quota, domains and emails of a user body; false after a 422 */
static bool user_assocs(struct api_req *r, json_t *body, json_t **quota, long **dids,
			size_t *nd, long **eids, size_t *ne)
{
	*quota = json_object_get(body, "quota");
	if (*quota != NULL && !json_is_null(*quota) &&
	    (!json_is_integer(*quota) || json_integer_value(*quota) < 0)) {
		fail_422(r, "quota: value is not a valid integer id");
		return false;
	}
	if (!ids_of(r, json_object_get(body, "domains"), "domains", dids, nd))
		return false;
	if (!ids_of(r, json_object_get(body, "emails"), "emails", eids, ne)) {
		XFREE(*dids);
		return false;
	}
	return true;
}

/* users_create - POST /users/ {name, quota?, domains?, emails?} */
static void users_create(struct api_req *r)
{
	json_t *body = body_json(r), *quota, *user = NULL;
	long *dids = NULL, *eids = NULL, id;
	size_t nd = 0, ne = 0;
	char err[512], object[64];
	char *name = NULL;
	int st;

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		fail_422(r, "body: an object {\"name\": ...} is required");
		goto out;
	}
	name = valid_name(r, POLICYDB_USER, json_object_get(body, "name"));
	if (name == NULL || !user_assocs(r, body, &quota, &dids, &nd, &eids, &ne))
		goto out;
	st = policydb_obj_add(r->api->db, POLICYDB_USER, name, 0, 0, &id, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, POLICYDB_USER, err);
		goto out;
	}
	get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	snprintf(object, sizeof(object), "user:%ld", id);
	audit(r, object, NULL, user);
	if (user != NULL && quota != NULL && !json_is_null(quota) &&
	    set_quota(r, user, (long)json_integer_value(quota)) < 0 && r->status != 404)
		goto out;
	if (user != NULL && (set_links(r, user, POLICYDB_DOMAIN, dids, nd, true) < 0 ||
			     set_links(r, user, POLICYDB_EMAIL, eids, ne, true) < 0))
		goto out;
	user_resp(r, 201, id);
out:
	json_decref(user);
	json_decref(body);
	free(name);
	free(dids);
	free(eids);
}

/* model_of_update - the model object of an update body: embedded under key, or the body */
static json_t *model_of_update(json_t *body, const char *key)
{
	json_t *m = json_object_get(body, key);

	return json_is_object(m) ? m : body;
}

/* users_update - PUT /users/ {user: {id, name}, quota?, domains?, emails?} */
static void users_update(struct api_req *r)
{
	json_t *body = body_json(r), *m, *quota, *old = NULL, *user = NULL;
	long *dids = NULL, *eids = NULL, id;
	size_t nd = 0, ne = 0;
	char err[512], object[64];
	char *name = NULL;
	int st;

	if (body == NULL)
		return;
	m = json_is_object(body) ? model_of_update(body, "user") : NULL;
	if (m == NULL || !json_is_integer(json_object_get(m, "id"))) {
		fail_422(r, "user.id: field required");
		goto out;
	}
	id = (long)json_integer_value(json_object_get(m, "id"));
	st = get_obj(r, POLICYDB_USER, id, &old, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, POLICYDB_USER, err);
		goto out;
	}
	if (json_object_get(m, "name") != NULL &&
	    (name = valid_name(r, POLICYDB_USER, json_object_get(m, "name"))) == NULL)
		goto out;
	if (!user_assocs(r, body, &quota, &dids, &nd, &eids, &ne))
		goto out;
	if (name != NULL && strcmp(name, obj_name(old)) != 0) {
		forget_user(r, old);	/* its cached decisions are under the old name */
		st = policydb_obj_update(r->api->db, POLICYDB_USER, id, name, 0, 0, err,
					 sizeof(err));
		if (st != POLICYDB_OK) {
			fail_db(r, st, POLICYDB_USER, err);
			goto out;
		}
		get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
		snprintf(object, sizeof(object), "user:%ld", id);
		audit(r, object, old, user);
		signal_milter(r);	/* its quota is cached under the old name */
	} else {
		user = json_incref(old);
	}
	if (user != NULL && quota != NULL && !json_is_null(quota) &&
	    set_quota(r, user, (long)json_integer_value(quota)) < 0)
		goto out;
	if (user != NULL && ((nd > 0 && replace_links(r, user, POLICYDB_DOMAIN, dids, nd) < 0) ||
			     (ne > 0 && replace_links(r, user, POLICYDB_EMAIL, eids, ne) < 0)))
		goto out;
	user_resp(r, 200, id);
out:
	json_decref(old);
	json_decref(user);
	json_decref(body);
	free(name);
	free(dids);
	free(eids);
}

/* delete_route - DELETE /{models}/ [ids]: "Deleted.", 404 when none existed */
static void delete_route(struct api_req *r, enum policydb_kind kind)
{
	json_t *body = body_json(r);
	long *ids = NULL;
	size_t n = 0, deleted = 0;
	char err[512];

	if (body == NULL)
		return;
	if (!ids_of(r, body, "body", &ids, &n))
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *old = NULL;
		char object[64];
		int st;

		st = get_obj(r, kind, ids[i], &old, err, sizeof(err));
		if (st == POLICYDB_NOTFOUND)
			continue;
		if (st == POLICYDB_OK) {
			if (kind == POLICYDB_USER)
				forget_user(r, old);
			else if (kind != POLICYDB_QUOTA)
				forget_obj(r, kind, old);
			st = policydb_obj_del(r->api->db, kind, ids[i], err, sizeof(err));
		}
		if (st == POLICYDB_NOTFOUND) {
			json_decref(old);
			continue;
		}
		if (st != POLICYDB_OK) {
			json_decref(old);
			fail_db(r, st, kind, err);
			goto out;
		}
		snprintf(object, sizeof(object), "%s:%ld", model_lower[kind], ids[i]);
		audit(r, object, old, NULL);
		json_decref(old);
		deleted++;
	}
	if (deleted > 0 && kind != POLICYDB_EMAIL)
		signal_milter(r);	/* quotas and domain flags are cached in the milter */
	if (deleted == 0 && n > 0)
		fail_detail(r, 404, "Unable to find a matching %s", model_name[kind]);
	else
		ok(r, 200, json_string("Deleted."));
out:
	json_decref(body);
	free(ids);
}

static void users_delete(struct api_req *r) { delete_route(r, POLICYDB_USER); }
static void domains_delete(struct api_req *r) { delete_route(r, POLICYDB_DOMAIN); }
static void emails_delete(struct api_req *r) { delete_route(r, POLICYDB_EMAIL); }
static void quotas_delete(struct api_req *r) { delete_route(r, POLICYDB_QUOTA); }

/* users_bulk - GET /users/{quotas,domains,emails}/ [user ids] */
static void users_bulk(struct api_req *r, enum policydb_kind kind)
{
	json_t *body = body_json(r), *out;
	long *ids = NULL;
	size_t n = 0;
	char err[512];

	if (body == NULL)
		return;
	if (!ids_of(r, body, "body", &ids, &n))
		goto done;
	out = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *user = NULL, *item;

		if (get_obj(r, POLICYDB_USER, ids[i], &user, err, sizeof(err)) != POLICYDB_OK)
			continue;
		if (kind == POLICYDB_QUOTA) {
			struct rows q = { POLICYDB_QUOTA, json_array() };

			(void)policydb_user_quota_row(r->api->db, ids[i], rows_fn, &q, err,
						      sizeof(err));
			item = json_pack("{s:O,s:O}", "user_name", json_object_get(user, "name"),
					 "quota_id",
					 json_array_size(q.arr)
						 ? json_object_get(json_array_get(q.arr, 0), "id")
						 : json_null());
			json_decref(q.arr);
		} else {
			json_t *objs = linked(r, kind, ids[i], false), *v, *idl = json_array();
			size_t j;

			json_array_foreach(objs, j, v)
				json_array_append(idl, json_object_get(v, "id"));
			item = json_pack("{s:O,s:o}", "user_name", json_object_get(user, "name"),
					 kind == POLICYDB_DOMAIN ? "domain_ids" : "email_ids", idl);
			json_decref(objs);
		}
		json_array_append_new(out, item);
		json_decref(user);
	}
	ok(r, 200, out);
done:
	json_decref(body);
	free(ids);
}

static void users_quotas(struct api_req *r) { users_bulk(r, POLICYDB_QUOTA); }
static void users_domains_bulk(struct api_req *r) { users_bulk(r, POLICYDB_DOMAIN); }
static void users_emails_bulk(struct api_req *r) { users_bulk(r, POLICYDB_EMAIL); }

/* links_list - GET /users/{id}/domains/ and the like, paginated */
static void links_list(struct api_req *r, enum policydb_kind kind, bool users_of)
{
	struct rows rows = { users_of ? POLICYDB_USER : kind, json_array() };
	long id, skip, limit;
	char err[512];
	int st;

	if (!path_id(r, 0, &id) || !query_long(r, "skip", 0, &skip) ||
	    !query_long(r, "limit", 1000, &limit)) {
		json_decref(rows.arr);
		return;
	}
	st = users_of ? policydb_obj_users(r->api->db, kind, id, skip, limit, rows_fn, &rows, err,
					   sizeof(err))
		      : policydb_user_objs(r->api->db, kind, id, skip, limit, rows_fn, &rows, err,
					   sizeof(err));
	if (st != POLICYDB_OK) {
		json_decref(rows.arr);
		fail_db(r, st, users_of ? kind : POLICYDB_USER, err);
		return;
	}
	ok(r, 200, rows.arr);
}

static void user_domains(struct api_req *r) { links_list(r, POLICYDB_DOMAIN, false); }
static void user_emails(struct api_req *r) { links_list(r, POLICYDB_EMAIL, false); }
static void domain_users(struct api_req *r) { links_list(r, POLICYDB_DOMAIN, true); }
static void email_users(struct api_req *r) { links_list(r, POLICYDB_EMAIL, true); }

/* user_links_edit - PUT/DELETE /users/{id}/{domains,emails}/ [ids] -> "Updated." */
static void user_links_edit(struct api_req *r, enum policydb_kind kind, bool link)
{
	json_t *body, *user = NULL;
	long id, *ids = NULL;
	size_t n = 0;
	char err[512];
	int st;

	if (!path_id(r, 0, &id) || (body = body_json(r)) == NULL)
		return;
	if (!ids_of(r, body, "body", &ids, &n))
		goto out;
	st = get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, POLICYDB_USER, err);
		goto out;
	}
	if (set_links(r, user, kind, ids, n, link) == 0)
		ok(r, 200, json_string("Updated."));
out:
	json_decref(user);
	json_decref(body);
	free(ids);
}

static void user_domains_add(struct api_req *r) { user_links_edit(r, POLICYDB_DOMAIN, true); }
static void user_domains_del(struct api_req *r) { user_links_edit(r, POLICYDB_DOMAIN, false); }
static void user_emails_add(struct api_req *r) { user_links_edit(r, POLICYDB_EMAIL, true); }
static void user_emails_del(struct api_req *r) { user_links_edit(r, POLICYDB_EMAIL, false); }

/* obj_links_edit - PUT/DELETE /{domains,emails}/{id}/users/ [user ids] */
static void obj_links_edit(struct api_req *r, enum policydb_kind kind, bool link)
{
	json_t *body, *obj = NULL;
	long id, *ids = NULL;
	size_t n = 0;
	char err[512];
	int st;

	if (!path_id(r, 0, &id) || (body = body_json(r)) == NULL)
		return;
	if (!ids_of(r, body, "body", &ids, &n))
		goto out;
	st = get_obj(r, kind, id, &obj, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, kind, err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *user = NULL;
		long one = id;

		if (get_obj(r, POLICYDB_USER, ids[i], &user, err, sizeof(err)) != POLICYDB_OK)
			continue;	/* nonexistent ids are ignored, as CHAPPS */
		st = set_links(r, user, kind, &one, 1, link);
		json_decref(user);
		if (st < 0)
			goto out;
	}
	ok(r, 200, json_string("Updated."));
out:
	json_decref(obj);
	json_decref(body);
	free(ids);
}

static void domain_users_add(struct api_req *r) { obj_links_edit(r, POLICYDB_DOMAIN, true); }
static void domain_users_del(struct api_req *r) { obj_links_edit(r, POLICYDB_DOMAIN, false); }
static void email_users_add(struct api_req *r) { obj_links_edit(r, POLICYDB_EMAIL, true); }
static void email_users_del(struct api_req *r) { obj_links_edit(r, POLICYDB_EMAIL, false); }

/* user_quota_put - PUT /users/{id}/quota/{quota}: inserts when the user had none (bug fixed) */
static void user_quota_put(struct api_req *r)
{
	json_t *user = NULL;
	long id, qid;
	char err[512];
	int st;

	if (!path_id(r, 0, &id) || !path_id(r, 1, &qid))
		return;
	st = get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, POLICYDB_USER, err);
		return;
	}
	if (set_quota(r, user, qid) == 0)
		ok(r, 200, json_string("Updated."));
	json_decref(user);
}

/* ---- domains, emails, quotas ------------------------------------------- */

/* obj_get - GET /{domains,emails}/{id} (+ users), /quotas/{id} */
static void obj_get(struct api_req *r, enum policydb_kind kind)
{
	json_t *obj = NULL;
	long id;
	char err[512];
	int st;

	if (!path_id(r, 0, &id))
		return;
	st = get_obj(r, kind, id, &obj, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, kind, err);
		return;
	}
	ok(r, 200, obj);
	if (kind != POLICYDB_QUOTA)
		json_object_set_new(r->out, "users", linked(r, kind, id, true));
}

static void domains_get(struct api_req *r) { obj_get(r, POLICYDB_DOMAIN); }
static void emails_get(struct api_req *r) { obj_get(r, POLICYDB_EMAIL); }
static void quotas_get(struct api_req *r) { obj_get(r, POLICYDB_QUOTA); }

/* quota_value - the "quota" member of a quota body; false after a 422 */
static bool quota_value(struct api_req *r, json_t *m, long *v)
{
	json_t *q = json_object_get(m, "quota");

	if (!json_is_integer(q) || json_integer_value(q) < 0 || json_integer_value(q) > INT_MAX) {
		fail_422(r, "quota: value is not a valid non-negative integer");
		return false;
	}
	*v = (long)json_integer_value(q);
	return true;
}

/* obj_create - POST /{domains,emails,quotas}/ */
static void obj_create(struct api_req *r, enum policydb_kind kind)
{
	json_t *body = body_json(r), *obj = NULL;
	long a = 0, b = 0, id, *uids = NULL;
	size_t nu = 0;
	char err[512], object[64];
	char *name = NULL;
	int st;

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		fail_422(r, "body: an object {\"name\": ...} is required");
		goto out;
	}
	if ((name = valid_name(r, kind, json_object_get(body, "name"))) == NULL)
		goto out;
	if (kind == POLICYDB_QUOTA && !quota_value(r, body, &a))
		goto out;
	if (kind == POLICYDB_DOMAIN &&
	    (!flag_of(r, body, "greylist", &a) || !flag_of(r, body, "check_spf", &b)))
		goto out;
	if (kind != POLICYDB_QUOTA && !ids_of(r, json_object_get(body, "users"), "users", &uids, &nu))
		goto out;
	st = policydb_obj_add(r->api->db, kind, name, a, b, &id, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, kind, err);
		goto out;
	}
	get_obj(r, kind, id, &obj, err, sizeof(err));
	snprintf(object, sizeof(object), "%s:%ld", model_lower[kind], id);
	audit(r, object, NULL, obj);
	for (size_t i = 0; i < nu; i++) {
		json_t *user = NULL;

		if (get_obj(r, POLICYDB_USER, uids[i], &user, err, sizeof(err)) != POLICYDB_OK)
			continue;
		st = set_links(r, user, kind, &id, 1, true);
		json_decref(user);
		if (st < 0)
			goto out;
	}
	if (kind == POLICYDB_DOMAIN)
		signal_milter(r);	/* an unknown domain's flags may be cached */
	ok(r, 201, json_incref(obj));
	if (kind != POLICYDB_QUOTA)
		json_object_set_new(r->out, "users", linked(r, kind, id, true));
out:
	json_decref(obj);
	json_decref(body);
	free(name);
	free(uids);
}

static void domains_create(struct api_req *r) { obj_create(r, POLICYDB_DOMAIN); }
static void emails_create(struct api_req *r) { obj_create(r, POLICYDB_EMAIL); }
static void quotas_create(struct api_req *r) { obj_create(r, POLICYDB_QUOTA); }

/* obj_update - PUT /{domains,emails,quotas}/: partial update, optional users replace */
static void obj_update(struct api_req *r, enum policydb_kind kind)
{
	json_t *body = body_json(r), *m, *old = NULL, *obj = NULL;
	long id, a = 0, b = 0, *uids = NULL;
	size_t nu = 0;
	char err[512], object[64];
	char *name = NULL;
	int st;

	if (body == NULL)
		return;
	m = json_is_object(body) ? model_of_update(body, model_lower[kind]) : NULL;
	if (m == NULL || !json_is_integer(json_object_get(m, "id"))) {
		fail_422(r, "%s.id: field required", model_lower[kind]);
		goto out;
	}
	id = (long)json_integer_value(json_object_get(m, "id"));
	st = get_obj(r, kind, id, &old, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, kind, err);
		goto out;
	}
	if (json_object_get(m, "name") != NULL) {
		if ((name = valid_name(r, kind, json_object_get(m, "name"))) == NULL)
			goto out;
	} else {
		name = xstrdup(obj_name(old));
	}
	if (kind == POLICYDB_QUOTA) {
		a = (long)json_integer_value(json_object_get(old, "quota"));
		if (json_object_get(m, "quota") != NULL && !quota_value(r, m, &a))
			goto out;
	}
	if (kind == POLICYDB_DOMAIN) {
		a = json_is_true(json_object_get(old, "greylist"));
		b = json_is_true(json_object_get(old, "check_spf"));
		if (!flag_of(r, m, "greylist", &a) || !flag_of(r, m, "check_spf", &b))
			goto out;
	}
	if (kind != POLICYDB_QUOTA && m != body &&
	    !ids_of(r, json_object_get(body, "users"), "users", &uids, &nu))
		goto out;
	if (kind != POLICYDB_QUOTA && strcmp(name, obj_name(old)) != 0)
		forget_obj(r, kind, old);	/* decisions cached under the old name */
	st = policydb_obj_update(r->api->db, kind, id, name, a, b, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, kind, err);
		goto out;
	}
	get_obj(r, kind, id, &obj, err, sizeof(err));
	snprintf(object, sizeof(object), "%s:%ld", model_lower[kind], id);
	audit(r, object, old, obj);
	if (nu > 0) {
		json_t *users = linked(r, kind, id, true), *one = json_pack("[O]", obj);

		forget_pairs(r, users, kind, one);
		json_decref(users);
		json_decref(one);
		if (policydb_unlink_all(r->api->db, kind, id, false, err, sizeof(err)) !=
		    POLICYDB_OK) {
			fail_db(r, POLICYDB_ERROR, kind, err);
			goto out;
		}
		for (size_t i = 0; i < nu; i++) {
			json_t *user = NULL;

			if (get_obj(r, POLICYDB_USER, uids[i], &user, err, sizeof(err)) !=
			    POLICYDB_OK)
				continue;
			st = set_links(r, user, kind, &id, 1, true);
			json_decref(user);
			if (st < 0)
				goto out;
		}
	}
	if (kind != POLICYDB_EMAIL)
		signal_milter(r);	/* quota values and domain flags are cached there */
	ok(r, 200, json_incref(obj));
	if (kind != POLICYDB_QUOTA)
		json_object_set_new(r->out, "users", linked(r, kind, id, true));
out:
	json_decref(old);
	json_decref(obj);
	json_decref(body);
	free(name);
	free(uids);
}

static void domains_update(struct api_req *r) { obj_update(r, POLICYDB_DOMAIN); }
static void emails_update(struct api_req *r) { obj_update(r, POLICYDB_EMAIL); }
static void quotas_update(struct api_req *r) { obj_update(r, POLICYDB_QUOTA); }

/* ---- live: quota -------------------------------------------------------- */

/*
 * live_remaining - sends left now for user (name), with CHAPPS's remarks
 * appended; false after an error answer
 */
static bool live_remaining(struct api_req *r, const char *user, long *avail_r, json_t *remarks)
{
	struct store_quota_state qs = { 0 };
	struct store_quota_params p;
	struct store *s = api_store(r->api);
	const char *serr;
	long limit = 0;
	char err[512];
	int st;

	*avail_r = 0;
	st = policydb_user_quota(r->api->db, user, &limit, err, sizeof(err));
	if (st == POLICYDB_ERROR) {
		fail_db(r, st, POLICYDB_USER, err);
		return false;
	}
	if (st == POLICYDB_NOTFOUND) {
		char *t = xasprintf("There is no quota configured for user %s.", user);

		json_array_append_new(remarks, json_string(t));
		free(t);
		json_array_append_new(remarks,
				      json_string("No limit could be found; returning zero xmits "
						  "remaining."));
		return true;
	}
	quota_store_params(r->api->config, limit, &p);
	if (s != NULL && store_quota_usage(s, user, strlen(user), &p, (int64_t)time(NULL), &qs,
					   &serr) != STORE_OK) {
		log_error("api: state store: %s", serr);
		fail_detail(r, 500, "State store error");
		return false;
	}
	if (qs.last_send > 0) {
		time_t ls = (time_t)qs.last_send;
		struct tm tm;
		char when[64], *t;

		strftime(when, sizeof(when), "%d %b %Y %H:%M:%S %z", gmtime_r(&ls, &tm));
		t = xasprintf("Last send attempt was at %s", when);
		json_array_append_new(remarks, json_string(t));
		free(t);
	}
	*avail_r = limit - (long)qs.committed - (long)qs.reserved;
	return true;
}

/* user_by_id_or_name - GET /live/quota/{id}: id, or id 0 with body {"name"} */
static json_t *user_by_id_or_name(struct api_req *r)
{
	json_t *user = NULL;
	char err[512];
	long id;
	int st;

	if (!path_id(r, 0, &id))
		return NULL;
	if (id == 0 && r->body_len > 0) {
		json_t *body = body_json(r), *n;
		struct rows rows = { POLICYDB_USER, json_array() };

		if (body == NULL) {
			json_decref(rows.arr);
			return NULL;
		}
		n = json_is_object(body) ? json_object_get(body, "name") : body;
		if (!json_is_string(n)) {
			fail_422(r, "name: a string is required");
		} else {
			/* exact name: LIKE with the wildcards escaped would be costlier */
			st = policydb_user_get(r->api->db, json_string_value(n), NULL, NULL, err,
					       sizeof(err));
			if (st == POLICYDB_OK)
				user = json_pack("{s:i,s:s}", "id", 0, "name",
						 json_string_value(n));
			else
				fail_db(r, st, POLICYDB_USER, err);
		}
		json_decref(rows.arr);
		json_decref(body);
		return user;
	}
	st = get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	if (st != POLICYDB_OK)
		fail_db(r, st, POLICYDB_USER, err);
	return user;
}

/* live_quota_get - GET /live/quota/{user_id} */
static void live_quota_get(struct api_req *r)
{
	json_t *user = user_by_id_or_name(r), *remarks;
	long avail;

	if (user == NULL)
		return;
	remarks = json_array();
	if (live_remaining(r, obj_name(user), &avail, remarks)) {
		ok(r, 200, json_integer(avail));
		json_object_set(r->out, "remarks", remarks);
	}
	json_decref(remarks);
	json_decref(user);
}

/* live_quota_bulk - GET /live/quota/ [user ids] */
static void live_quota_bulk(struct api_req *r)
{
	json_t *body = body_json(r), *out, *remarks;
	long *ids = NULL;
	size_t n = 0;
	char err[512];

	if (body == NULL)
		return;
	if (!ids_of(r, body, "body", &ids, &n))
		goto done;
	out = json_array();
	remarks = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *user = NULL;
		long avail;

		if (get_obj(r, POLICYDB_USER, ids[i], &user, err, sizeof(err)) != POLICYDB_OK)
			continue;
		if (!live_remaining(r, obj_name(user), &avail, remarks)) {
			json_decref(user);
			json_decref(out);
			json_decref(remarks);
			goto done;
		}
		/* quota_avail an integer (CHAPPS: a string) */
		json_array_append_new(out, json_pack("{s:O,s:I}", "user_name",
						     json_object_get(user, "name"), "quota_avail",
						     (json_int_t)avail));
		json_decref(user);
	}
	ok(r, 200, out);
	json_object_set_new(r->out, "remarks", remarks);
done:
	json_decref(body);
	free(ids);
}

/* live_quota_reset - DELETE /live/quota/{user_id}: drop the user's usage */
static void live_quota_reset(struct api_req *r)
{
	json_t *user = user_by_id_or_name(r);
	struct store *s;
	uint32_t dropped = 0;
	const char *serr;
	const char *name;
	char *t;

	if (user == NULL)
		return;
	name = obj_name(user);
	s = api_store(r->api);
	if (s != NULL && store_quota_reset(s, name, strlen(name), &dropped, &serr) != STORE_OK) {
		log_error("api: state store: %s", serr);
		fail_detail(r, 500, "State store error");
		json_decref(user);
		return;
	}
	t = dropped ? xasprintf("Attempts (quota) reset for %s: %u xmits dropped", name, dropped)
		    : xasprintf("No attempts to reset for %s: 0 xmits dropped", name);
	audit_new(r, "live:quota", json_pack("{s:s,s:i}", "user", name, "attempts", (int)dropped),
	      NULL);
	signal_milter(r);
	ok(r, 200, json_integer(dropped));
	json_object_set_new(r->out, "remarks", json_pack("[s]", t));
	free(t);
	json_decref(user);
}

/* live_quota_refresh - POST /live/quota/{user_id}: re-read the limit; 404 without quota */
static void live_quota_refresh(struct api_req *r)
{
	json_t *user = user_by_id_or_name(r), *remarks;
	long limit, avail;
	char err[512];
	int st;

	if (user == NULL)
		return;
	st = policydb_user_quota(r->api->db, obj_name(user), &limit, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, POLICYDB_QUOTA, err);
		json_decref(user);
		return;
	}
	signal_milter(r);	/* the milter re-reads the limit at the next message */
	remarks = json_array();
	if (live_remaining(r, obj_name(user), &avail, remarks)) {
		ok(r, 200, json_integer(avail));
		json_object_set(r->out, "remarks", remarks);
	}
	json_decref(remarks);
	json_decref(user);
}

/* ---- live: sender-domain authorization --------------------------------- */

static const char *sda_status_name(int v)
{
	return v == 1 ? "AUTHORIZED" : v == 0 ? "PROHIBITED" : "NOT CACHED";
}

/* live_sda_one - GET/DELETE /live/sda/{source}/for/{user} (names) */
static void live_sda_one(struct api_req *r, bool clear)
{
	const char *source = r->seg[0], *user = r->seg[1];
	char kind = strchr(source, '@') != NULL ? 'e' : 'd';
	char *name = xstrdup(source);
	int v;

	if (kind == 'd')
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	v = sda_cached(r, user, kind, name);
	if (v == -2) {
		fail_detail(r, 500, "State store error");
	} else {
		if (clear && v != -1) {
			sda_forget(r, user, kind, name);
			audit_new(r, "live:sda", json_pack("{s:s,s:s,s:s}", "user", user, "source", name,
						       "status", sda_status_name(v)),
			      NULL);
		}
		ok(r, 200, json_string(sda_status_name(v)));
	}
	free(name);
}

static void live_sda_get(struct api_req *r) { live_sda_one(r, false); }
static void live_sda_del(struct api_req *r) { live_sda_one(r, true); }

/* live_sda_bulk - GET/DELETE /live/sda/ {user_ids, domain_ids, email_ids} */
static void live_sda_bulk(struct api_req *r, bool clear)
{
	json_t *body = body_json(r), *users, *out = NULL;
	long *uids = NULL, *dids = NULL, *eids = NULL;
	size_t nu = 0, nd = 0, ne = 0;
	char err[512];

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		fail_422(r, "body: an object {\"user_ids\", \"domain_ids\", \"email_ids\"} is "
			    "required");
		goto done;
	}
	if (!ids_of(r, json_object_get(body, "user_ids"), "user_ids", &uids, &nu) ||
	    !ids_of(r, json_object_get(body, "domain_ids"), "domain_ids", &dids, &nd) ||
	    !ids_of(r, json_object_get(body, "email_ids"), "email_ids", &eids, &ne))
		goto done;
	if (nd == 0 && ne == 0) {	/* CHAPPS: a 500 here */
		fail_detail(r, 400, "No domain or email ids were given.");
		goto done;
	}
	users = json_array();
	for (size_t i = 0; i < nu; i++) {
		json_t *u = NULL;

		if (get_obj(r, POLICYDB_USER, uids[i], &u, err, sizeof(err)) == POLICYDB_OK)
			json_array_append_new(users, u);
	}
	out = json_object();
	for (int k = 0; k < 2; k++) {
		enum policydb_kind kind = k == 0 ? POLICYDB_DOMAIN : POLICYDB_EMAIL;
		long *ids = k == 0 ? dids : eids;
		size_t n = k == 0 ? nd : ne;

		for (size_t i = 0; i < n; i++) {
			json_t *obj = NULL, *per = json_object(), *u;
			size_t j;

			if (get_obj(r, kind, ids[i], &obj, err, sizeof(err)) != POLICYDB_OK) {
				json_decref(per);
				continue;
			}
			json_array_foreach(users, j, u) {
				int v = sda_cached(r, obj_name(u), k == 0 ? 'd' : 'e', obj_name(obj));

				if (clear && v >= 0)
					sda_forget(r, obj_name(u), k == 0 ? 'd' : 'e', obj_name(obj));
				json_object_set_new(per, obj_name(u), json_string(sda_status_name(v)));
			}
			json_object_set_new(out, obj_name(obj), per);
			json_decref(obj);
		}
	}
	json_decref(users);
	if (clear) {
		audit(r, "live:sda", out, NULL);
		json_decref(out);
		ok(r, 200, json_string("SDA cache cleared for specified domains and/or emails x "
				       "users."));
	} else {
		ok(r, 200, out);
	}
done:
	json_decref(body);
	free(uids);
	free(dids);
	free(eids);
}

static void live_sda_bulk_get(struct api_req *r) { live_sda_bulk(r, false); }
static void live_sda_bulk_del(struct api_req *r) { live_sda_bulk(r, true); }

/* ---- live: greylisting and SPF ----------------------------------------- */

/* tally_key - the store key of an IP's tally; false after a 422 */
static bool tally_key(struct api_req *r, char *client, size_t csize, char *key, size_t ksize,
		      size_t *klen)
{
	const struct config *c = r->api->config;

	if (greylist_client_key(r->seg[0], (unsigned)c->grey_prefix_v4, (unsigned)c->grey_prefix_v6,
				client, csize) < 0) {
		fail_422(r, "ip: value is not a valid IPv4 or IPv6 address");
		return false;
	}
	*klen = greylisting_tally_key(key, ksize, client);
	return *klen > 0;
}

/* live_tally_get - GET /live/grl/tally/{ip}: passes in the last 24 h */
static void live_tally_get(struct api_req *r)
{
	char client[64], key[128];
	struct store *s;
	const char *serr;
	uint32_t count = 0;
	size_t klen;

	if (!tally_key(r, client, sizeof(client), key, sizeof(key), &klen))
		return;
	s = api_store(r->api);
	if (s != NULL &&
	    store_greylist_tally(s, key, klen, (int64_t)time(NULL), &count, &serr) != STORE_OK) {
		log_error("api: state store: %s", serr);
		fail_detail(r, 500, "State store error");
		return;
	}
	ok(r, 200, json_pack("{s:s,s:i,s:i}", "client", client, "passes", (int)count, "threshold",
			     r->api->config->grey_whitelist_threshold));
}

/* live_tally_del - DELETE /live/grl/tally/{ip} */
static void live_tally_del(struct api_req *r)
{
	char client[64], key[128];
	struct store *s;
	const char *serr;
	size_t klen;

	if (!tally_key(r, client, sizeof(client), key, sizeof(key), &klen))
		return;
	s = api_store(r->api);
	if (s != NULL && store_greylist_tally_clear(s, key, klen, &serr) != STORE_OK) {
		log_error("api: state store: %s", serr);
		fail_detail(r, 500, "State store error");
		return;
	}
	audit_new(r, "live:grl:tally", json_string(client), NULL);
	ok(r, 200, json_string("deleted"));
}

/* unbracket - addr without one pair of surrounding <> (as the milter stores it) into buf */
static const char *unbracket(const char *addr, char *buf, size_t size)
{
	size_t n = strlen(addr);

	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>' && n - 2 < size) {
		memcpy(buf, addr + 1, n - 2);
		buf[n - 2] = '\0';
		return buf;
	}
	return addr;
}

/*
 * live_tuple_get - GET /live/grl/tuple/ {client_address, sender, recipient}:
 * when the tuple's current greylisting attempt began (CHAPPS: its last
 * deferral), or 0.0 when the store holds no live record of it, with the
 * record in "tuple"; keyed as the policy keys it (addresses with or
 * without <>), and read-only
 */
static void live_tuple_get(struct api_req *r)
{
	static const char *const fields[] = { "client_address", "sender", "recipient" };
	json_t *body = body_json(r), *v[3];
	char client[64], key[1500], sender[600], rcpt[600];
	struct greylist_record_tuple t = { 0, -1 };
	bool present = false;
	const char *serr;
	struct store *s;
	size_t klen;

	if (body == NULL)
		return;
	for (int i = 0; i < 3; i++) {
		v[i] = json_is_object(body) ? json_object_get(body, fields[i]) : NULL;
		if (!json_is_string(v[i])) {
			fail_422(r, "%s: a string is required", fields[i]);
			goto done;
		}
	}
	if (greylist_client_key(json_string_value(v[0]), 0, 0, client, sizeof(client)) < 0) {
		fail_422(r, "client_address: value is not a valid IPv4 or IPv6 address");
		goto done;
	}
	klen = greylisting_tuple_key(key, sizeof(key), r->api->config, json_string_value(v[0]),
				     unbracket(json_string_value(v[1]), sender, sizeof(sender)),
				     unbracket(json_string_value(v[2]), rcpt, sizeof(rcpt)), client,
				     sizeof(client));
	if (klen == 0) {
		fail_422(r, "sender, recipient: too long");
		goto done;
	}
	s = api_store(r->api);
	if (s != NULL && store_greylist_peek(s, key, klen, (int64_t)time(NULL), &present, &t,
					     &serr) != STORE_OK) {
		log_error("api: state store: %s", serr);
		fail_detail(r, 500, "State store error");
		goto done;
	}
	ok(r, 200, json_real(present ? (double)t.first : 0.0));
	json_object_set_new(r->out, "tuple",
			    json_pack("{s:s,s:o,s:o}", "client", client, "first_seen",
				      present ? json_integer(t.first) : json_null(), "last_pass",
				      present && t.last_pass >= 0 ? json_integer(t.last_pass)
								  : json_null()));
done:
	json_decref(body);
}

/* live_option_cache_del - DELETE /live/{grl,spf}/option_cache/{domain}: flags live in the milter */
static void live_option_cache_del(struct api_req *r)
{
	audit_new(r, "live:option_cache", json_string(r->seg[0]), NULL);
	signal_milter(r);
	ok(r, 200, json_string("deleted"));
}

/*
 * live_config_write - POST /live/config/write/: CHAPPS rewrote its INI file
 * with the defaults of an upgrade; chapps's configuration is root's file,
 * which the API (user chapps) may not write.  A CHAPPS client gets a clear
 * 501 instead of a 404 (chapps-milter -d prints the effective setup).
 */
static void live_config_write(struct api_req *r)
{
	fail_detail(r, 501, "Not served: chapps-api never writes the configuration; "
		    "chapps-milter -d prints the effective configuration");
}

/* ---- /v1 ---------------------------------------------------------------- */

/* health - GET /v1/health: the policy database answers */
static void health(struct api_req *r)
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
	fail_detail(r, 500, "State store error");
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

/* locks_list - GET /v1/locks: {"locks": [{user, since, reason}]}, sorted by user */
static void locks_list(struct api_req *r)
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

/* lock_put - PUT /v1/locks/{user} [{"reason": text}]: 201 locked, 200 already locked */
static void lock_put(struct api_req *r)
{
	const char *user = r->seg[0], *reason = "locked by chapps-api", *err;
	int64_t now = (int64_t)time(NULL);
	struct store_lock_info info;
	json_t *body = NULL, *jr;
	struct store *s;
	int st;

	if (strlen(user) > API_LOCK_USER_MAX) {
		fail_422(r, "user: at most %d bytes", API_LOCK_USER_MAX);
		return;
	}
	if (r->body_len > 0) {
		if ((body = body_json(r)) == NULL)
			return;
		jr = json_object_get(body, "reason");
		if (!json_is_object(body) || (jr != NULL && !json_is_string(jr))) {
			fail_422(r, "body: an object {\"reason\": text} is required (or no body)");
			goto out;
		}
		if (jr != NULL)
			reason = json_string_value(jr);
		if (strlen(reason) >= STORE_LOCK_REASON_MAX) {
			fail_422(r, "reason: at most %d bytes", STORE_LOCK_REASON_MAX - 1);
			goto out;
		}
	}
	if ((s = api_store_make(r->api)) == NULL) {
		fail_detail(r, 500, "State store error");
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
	audit_new(r, "lock", NULL, json_pack("{s:o,s:s}", "user", text_json(user, strlen(user)),
					     "reason", reason));
	r->status = 201;
	r->out = lock_json(user, strlen(user), now, reason);
out:
	json_decref(body);
}

/* lock_delete - DELETE /v1/locks/{user}: 200, or 404 when not locked */
static void lock_delete(struct api_req *r)
{
	const char *user = r->seg[0], *err = "";
	struct store *s = api_store(r->api);
	int st = s != NULL && strlen(user) <= API_LOCK_USER_MAX	/* longer: never locked */
		? store_lock_clear(s, user, strlen(user), &err) : STORE_MISS;

	if (st == STORE_MISS) {
		json_t *u = text_json(user, strlen(user));	/* the name as UTF-8 */

		fail_detail(r, 404, "User %s is not locked", json_string_value(u));
		json_decref(u);
		return;
	}
	if (st != STORE_OK) {
		store_fail(r, err);
		return;
	}
	lock_event(r, s, "unlock", user, NULL, (int64_t)time(NULL));
	audit_new(r, "lock", json_pack("{s:o}", "user", text_json(user, strlen(user))), NULL);
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

/* events_list - GET /v1/events?n=N: {"events": [{time, event}]}, newest first */
static void events_list(struct api_req *r)
{
	struct store *s = api_store(r->api);
	json_t *arr;
	const char *err;
	long n;

	if (!query_long(r, "n", API_EVENTS_DEFAULT, &n))
		return;
	if (n < 1 || n > STORE_EVENTS_KEEP) {
		fail_422(r, "query parameter n: 1 to %d", STORE_EVENTS_KEEP);
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

	if (!path_id(r, 0, id))
		return false;
	st = get_obj(r, POLICYDB_QUOTA, *id, &obj, err, sizeof(err));
	if (st != POLICYDB_OK) {
		fail_db(r, st, POLICYDB_QUOTA, err);
		return false;
	}
	snprintf(name, size, "%s", obj_name(obj) ? obj_name(obj) : "");
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
		fail_db(r, st, POLICYDB_QUOTA, err);
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

/* limits_get - GET /v1/quotas/{quota_id}/limits */
static void limits_get(struct api_req *r)
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
 * limits_post - POST /v1/quotas/{quota_id}/limits {"kind", "window", "max",
 * "action", "warn_at", "mode"} (window may be left out for a cap; the
 * overrides may be null or left out): 201 with the quota's limits
 */
static void limits_post(struct api_req *r)
{
	char name[256], err[512], kbuf[32], wbuf[32], mbuf[32], abuf[32], obuf[32], pbuf[32];
	const char *kind, *window, *max, *action, *warn, *mode;
	struct policydb_limit l;
	bool bad = false;
	json_t *body;
	long id;
	int st;

	if (!limits_quota(r, &id, name, sizeof(name)) || (body = body_json(r)) == NULL)
		return;
	kind = member_text(body, "kind", kbuf, sizeof(kbuf), &bad);
	window = member_text(body, "window", wbuf, sizeof(wbuf), &bad);
	max = member_text(body, "max", mbuf, sizeof(mbuf), &bad);
	action = member_text(body, "action", abuf, sizeof(abuf), &bad);
	warn = member_text(body, "warn_at", pbuf, sizeof(pbuf), &bad);
	mode = member_text(body, "mode", obuf, sizeof(obuf), &bad);
	if (!json_is_object(body) || bad) {
		fail_422(r, "a limit is an object of strings and integers: kind, window, max, "
			    "action, warn_at, mode");
	} else if (policydb_limit_parse(kind, window, max, &l, err, sizeof(err)) < 0 ||
		   policydb_limit_overrides(action, warn, mode, &l, err, sizeof(err)) < 0) {
		fail_422(r, "%s", err);
	} else if ((st = policydb_limit_add(r->api->db, name, &l, err, sizeof(err))) !=
		   POLICYDB_OK) {
		fail_db(r, st, POLICYDB_QUOTA, err);
	} else {
		char object[300];

		snprintf(object, sizeof(object), "quota:%s:limits", name);
		audit_new(r, object, NULL, limit_json(&l));
		signal_milter(r);
		limits_answer(r, 201, id, name);
	}
	json_decref(body);
}

/* limits_delete - DELETE /v1/quotas/{quota_id}/limits/{limit_id}: 200 with the quota's limits */
static void limits_delete(struct api_req *r)
{
	char name[256], err[512], object[300];
	long id, limit_id;
	int st;

	if (!limits_quota(r, &id, name, sizeof(name)) || !path_id(r, 1, &limit_id))
		return;
	st = limit_id > 0 ? policydb_limit_del(r->api->db, name, limit_id, err, sizeof(err))
			  : POLICYDB_NOTFOUND;
	if (st == POLICYDB_NOTFOUND) {
		fail_detail(r, 404, "Unable to find a matching Limit");
		return;
	}
	if (st != POLICYDB_OK) {
		fail_db(r, st, POLICYDB_QUOTA, err);
		return;
	}
	snprintf(object, sizeof(object), "quota:%s:limits:%ld", name, limit_id);
	audit_new(r, object, json_integer(limit_id), NULL);
	signal_milter(r);
	limits_answer(r, 200, id, name);
}

/* ---- the table ---------------------------------------------------------- */

#define GET(p, h) { "GET", p, h, false }
#define PUT(p, h) { "PUT", p, h, true }
#define POST(p, h) { "POST", p, h, true }
#define DEL(p, h) { "DELETE", p, h, true }

const struct api_route api_routes[] = {
	GET("/v1/health", health),
	GET("/v1/locks", locks_list),
	PUT("/v1/locks/{user}", lock_put),
	DEL("/v1/locks/{user}", lock_delete),
	GET("/v1/events", events_list),
	GET("/v1/quotas/{quota_id}/limits", limits_get),
	POST("/v1/quotas/{quota_id}/limits", limits_post),
	DEL("/v1/quotas/{quota_id}/limits/{limit_id}", limits_delete),

	POST("/users/", users_create),
	GET("/users/", users_list),
	PUT("/users/", users_update),
	DEL("/users/", users_delete),
	GET("/users/quotas/", users_quotas),
	GET("/users/domains/", users_domains_bulk),
	GET("/users/emails/", users_emails_bulk),
	GET("/users/{user_id}", users_get),
	GET("/users/{user_id}/domains/", user_domains),
	GET("/users/{user_id}/emails/", user_emails),
	PUT("/users/{user_id}/domains/", user_domains_add),
	DEL("/users/{user_id}/domains/", user_domains_del),
	PUT("/users/{user_id}/emails/", user_emails_add),
	DEL("/users/{user_id}/emails/", user_emails_del),
	PUT("/users/{user_id}/quota/{quota_id}", user_quota_put),

	GET("/domains/", domains_list),
	POST("/domains/", domains_create),
	PUT("/domains/", domains_update),
	DEL("/domains/", domains_delete),
	GET("/domains/{domain_id}", domains_get),
	GET("/domains/{domain_id}/users/", domain_users),
	PUT("/domains/{domain_id}/users/", domain_users_add),
	DEL("/domains/{domain_id}/users/", domain_users_del),

	GET("/emails/", emails_list),
	POST("/emails/", emails_create),
	PUT("/emails/", emails_update),
	DEL("/emails/", emails_delete),
	GET("/emails/{email_id}", emails_get),
	GET("/emails/{email_id}/users/", email_users),
	PUT("/emails/{email_id}/users/", email_users_add),
	DEL("/emails/{email_id}/users/", email_users_del),

	GET("/quotas/", quotas_list),
	POST("/quotas/", quotas_create),
	PUT("/quotas/", quotas_update),
	DEL("/quotas/", quotas_delete),
	GET("/quotas/{quota_id}", quotas_get),

	GET("/live/quota/", live_quota_bulk),
	GET("/live/quota/{user_id}", live_quota_get),
	DEL("/live/quota/{user_id}", live_quota_reset),
	POST("/live/quota/{user_id}", live_quota_refresh),
	GET("/live/sda/", live_sda_bulk_get),
	DEL("/live/sda/", live_sda_bulk_del),
	GET("/live/sda/{source}/for/{user}", live_sda_get),
	DEL("/live/sda/{source}/for/{user}", live_sda_del),
	GET("/live/grl/tuple/", live_tuple_get),
	GET("/live/grl/tally/{ip}", live_tally_get),
	POST("/live/config/write/", live_config_write),
	DEL("/live/grl/tally/{ip}", live_tally_del),
	DEL("/live/grl/option_cache/{domain}", live_option_cache_del),
	DEL("/live/spf/option_cache/{domain}", live_option_cache_del),
	{ NULL, NULL, NULL, false },
};
