/*
 * NAME
 *	routes_util - what CHAPPS's REST routes share
 * SUMMARY
 *	routes_ok, routes_fail_*, routes_audit*, routes_sda_*,
 *	routes_signal_milter, routes_rows_fn, routes_get_obj,
 *	routes_body_json, routes_path_id, routes_query_long, routes_ids_of
 * DESCRIPTION
 *	The answer shapes are CHAPPS's: every success is {"version",
 *	"timestamp", "response"} (routes_ok; the handlers add association
 *	keys or "remarks"); a missing object is 404 {"detail": "Unable to
 *	find a matching <Model>"}; a unique clash on create or update 409
 *	{"detail": "Unique key conflict creating <model>."} (routes_fail_db);
 *	a bad body or parameter 422 {"status_code": 10422, "message", "data":
 *	null} (routes_fail_422).  A malformed body is 422 at once
 *	(routes_body_json; CHAPPS's bug, fixed).
 *
 *	Every change writes one audit line (routes_audit): token name,
 *	route, object, old -> new (compact JSON).
 *
 *	Every change invalidates the caches it affects, through the two
 *	functions here: the SDA decisions in the state store
 *	(routes_sda_forget, through the one key builder
 *	sender_domain_auth_key) and the local milter's look-up caches
 *	(routes_signal_milter: SIGUSR2 to milter.pidfile).
 * DIAGNOSTICS
 *	Database and store failures: 500 {"detail": ...} and an error line;
 *	a cached SDA decision that cannot be cleared, or a milter that cannot
 *	be signalled, a warning line only.
 */
#include "autoconf.h"

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
#include "api/routes.h"
#include "base/config.h"
#include "base/log.h"
#include "base/pidfile.h"
#include "base/xalloc.h"
#include "policy/sender_domain_auth.h"
#include "policydb/policydb.h"
#include "policydb/policydb_ids.h"
#include "store/store.h"

const char *const routes_model_name[4] = { "User", "Quota", "Domain", "Email" };
const char *const routes_model_lower[4] = { "user", "quota", "domain", "email" };

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

/* routes_ok - answer status with response (taken over) */
void routes_ok(struct api_req *r, int status, json_t *response)
{
	json_decref(r->out);
	r->status = status;
	r->out = envelope(response);
}

/* routes_fail_detail - answer status with {"detail": text} */
void routes_fail_detail(struct api_req *r, int status, const char *fmt, ...)
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

/* routes_fail_422 - CHAPPS's validation error body */
void routes_fail_422(struct api_req *r, const char *fmt, ...)
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

/* routes_fail_db - a policydb status other than OK as CHAPPS answers it */
void routes_fail_db(struct api_req *r, int st, enum policydb_kind kind, const char *err)
{
	if (st == POLICYDB_NOTFOUND)
		routes_fail_detail(r, 404, "Unable to find a matching %s", routes_model_name[kind]);
	else if (st == POLICYDB_EXISTS)
		routes_fail_detail(r, 409, "Unique key conflict creating %s.",
				   routes_model_lower[kind]);
	else {
		log_error("api: %s %s: policy database: %s", r->method, r->path, err);
		routes_fail_detail(r, 500, "Policy database error");
	}
}

/* routes_audit - the line for one change */
void routes_audit(struct api_req *r, const char *object, json_t *old, json_t *new)
{
	char *o = old != NULL ? json_dumps(old, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *n = new != NULL ? json_dumps(new, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	log_info("audit: token=%s client=%s route=\"%s %s\" object=%s old=%s new=%s", r->token,
		 r->client, r->method, r->route, object, o ? o : "-", n ? n : "-");
	free(o);
	free(n);
}

/* routes_audit_new - routes_audit with old and new taken over (either may be NULL) */
void routes_audit_new(struct api_req *r, const char *object, json_t *old, json_t *new)
{
	routes_audit(r, object, old, new);
	json_decref(old);
	json_decref(new);
}

/* ---- cache invalidation ----------------------------------------------- */

/* routes_sda_cached - the cached decision: 1, 0, or -1 (none); -2 on a store error */
int routes_sda_cached(struct api_req *r, const char *user, char kind, const char *name)
{
	struct store *s = api_store(r->api);
	char key[SDA_KEY_MAX], val[8];
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

/* routes_sda_forget - delete the cached SDA decision of (user, kind, name) */
void routes_sda_forget(struct api_req *r, const char *user, char kind, const char *name)
{
	struct store *s = api_store(r->api);
	const char *err;

	if (s != NULL && sender_domain_auth_forget(s, user, kind, name, &err) != STORE_OK)
		log_warn("api: could not clear the cached SDA decision of %s: %s", user, err);
}

/* routes_signal_milter - ask the local milter to flush its look-up caches (quota, flags) */
void routes_signal_milter(struct api_req *r)
{
	long pid;

	if (pidfile_signal(r->api->config->milter_pidfile, SIGUSR2, "chapps-milter", &pid) < 0)
		log_warn("api: cannot signal chapps-milter (pid %ld): %s", pid, strerror(errno));
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

/* routes_rows_fn - policydb row callback appending model objects */
int routes_rows_fn(void *ctx, int ncols, const char *const *cols)
{
	struct routes_rows *rows = ctx;

	json_array_append_new(rows->arr, row_object(rows->kind, ncols, cols));
	return 0;
}

/* routes_get_obj - the model object of (kind, id) into *obj_r; a status otherwise */
int routes_get_obj(struct api_req *r, enum policydb_kind kind, long id, json_t **obj_r,
		   char *err, size_t errsize)
{
	struct routes_rows rows = { kind, json_array() };
	int st;

	*obj_r = NULL;
	st = policydb_obj_get(r->api->db, kind, id, routes_rows_fn, &rows, err, errsize);
	if (st == POLICYDB_OK)
		*obj_r = json_incref(json_array_get(rows.arr, 0));
	json_decref(rows.arr);
	return st;
}

/* routes_obj_name - the name of an object (borrowed from obj) */
const char *routes_obj_name(json_t *obj)
{
	return json_string_value(json_object_get(obj, "name"));
}

/* ---- request input ------------------------------------------------------ */

/* routes_body_json - the parsed body (new reference), or NULL after a 422 */
json_t *routes_body_json(struct api_req *r)
{
	json_error_t e;
	json_t *j;

	if (r->body_len == 0) {
		routes_fail_422(r, "a JSON request body is required");
		return NULL;
	}
	j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL)
		routes_fail_422(r, "JSON decode error at line %d column %d: %s", e.line, e.column,
				e.text);
	return j;
}

/* routes_path_id - the integer parameter i of the path; false after a 422 */
bool routes_path_id(struct api_req *r, int i, long *id)
{
	const char *s = r->seg[i];
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > INT_MAX) {
		routes_fail_422(r, "path parameter %d: value is not a valid integer", i + 1);
		return false;
	}
	*id = (long)v;
	return true;
}

/* routes_query_long - an integer query argument, def when absent; false after a 422 */
bool routes_query_long(struct api_req *r, const char *name, long def, long *v)
{
	const char *s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
	char *end;

	*v = def;
	if (s == NULL)
		return true;
	errno = 0;
	*v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || *v < 0) {
		routes_fail_422(r, "query parameter %s: value is not a valid non-negative integer",
				name);
		return false;
	}
	return true;
}

/* routes_ids_of - a JSON array of integer ids into a new array; false after a 422 */
bool routes_ids_of(struct api_req *r, json_t *arr, const char *what, long **ids, size_t *n)
{
	size_t i;
	json_t *v;

	*ids = NULL;
	*n = 0;
	if (arr == NULL || json_is_null(arr))
		return true;
	if (!json_is_array(arr)) {
		routes_fail_422(r, "%s: value is not a valid list of integer ids", what);
		return false;
	}
	*ids = xcalloc(json_array_size(arr) + 1, sizeof(**ids));
	json_array_foreach(arr, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > INT_MAX) {
			routes_fail_422(r, "%s[%zu]: value is not a valid integer id", what, i);
			XFREE(*ids);
			return false;
		}
		(*ids)[(*n)++] = (long)json_integer_value(v);
	}
	return true;
}
