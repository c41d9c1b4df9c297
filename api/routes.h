/*
 * routes - what the route files of chapps-api share (internal)
 *
 * routes.c holds the table api_routes[]; its handlers are in
 * routes_policy.c (users, domains, emails, quotas), routes_live.c (/live)
 * and routes_v1.c (chapps's own /v1 routes); routes_util.c has what they
 * share: CHAPPS's answer shapes, the audit line, cache invalidation, rows
 * into JSON and the reading of the request.  None of this is used outside
 * api/.  Every function here runs in the thread of one request and keeps
 * no state of its own; answers are left in r->status and r->out.
 */
#ifndef CHAPPS_API_ROUTES_H
#define CHAPPS_API_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api/api.h"
#include "policydb/policydb_ids.h"

/* ---- routes_util.c -------------------------------------------------------- */

/* CHAPPS's model names by enum policydb_kind: "User", ... and "user", ... */
extern const char *const routes_model_name[4];
extern const char *const routes_model_lower[4];

/* routes_ok - answer status with CHAPPS's envelope around response (taken over) */
void routes_ok(struct api_req *r, int status, json_t *response);

/* routes_fail_detail - answer status with {"detail": text} */
void routes_fail_detail(struct api_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* routes_fail_422 - answer 422 with CHAPPS's validation error body */
void routes_fail_422(struct api_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * routes_fail_db - answer a policydb status other than OK as CHAPPS does:
 * 404, 409, or 500 with an error line naming err
 */
void routes_fail_db(struct api_req *r, int st, enum policydb_kind kind, const char *err);

/* routes_audit - log the audit line of one change (old and new borrowed, either may be NULL) */
void routes_audit(struct api_req *r, const char *object, json_t *old, json_t *new);

/* routes_audit_new - routes_audit with old and new taken over (either may be NULL) */
void routes_audit_new(struct api_req *r, const char *object, json_t *old, json_t *new);

/*
 * routes_sda_cached - the cached SDA decision of (user, kind 'd' or 'e',
 * name) in the state store: 1, 0, or -1 (none); -2 on a store error
 */
int routes_sda_cached(struct api_req *r, const char *user, char kind, const char *name);

/* routes_sda_forget - delete the cached SDA decision of (user, kind, name); failures are logged */
void routes_sda_forget(struct api_req *r, const char *user, char kind, const char *name);

/* routes_signal_milter - ask the local milter to flush its look-up caches (SIGUSR2) */
void routes_signal_milter(struct api_req *r);

/* The context of routes_rows_fn: rows of kind appended to arr as model objects. */
struct routes_rows {
	enum policydb_kind kind;
	json_t *arr;
};

/* routes_rows_fn - policydb row callback appending model objects (ctx: struct routes_rows) */
int routes_rows_fn(void *ctx, int ncols, const char *const *cols);

/*
 * routes_get_obj - the model object of (kind, id) into *obj_r (a new
 * reference); a policydb status otherwise, with err filled
 */
int routes_get_obj(struct api_req *r, enum policydb_kind kind, long id, json_t **obj_r,
		   char *err, size_t errsize);

/* routes_obj_name - the name of a model object (borrowed from obj) */
const char *routes_obj_name(json_t *obj);

/* routes_body_json - the parsed body (new reference), or NULL after a 422 */
json_t *routes_body_json(struct api_req *r);

/* routes_path_id - the integer parameter i of the path into *id; false after a 422 */
bool routes_path_id(struct api_req *r, int i, long *id);

/* routes_query_long - an integer query argument into *v, def when absent; false after a 422 */
bool routes_query_long(struct api_req *r, const char *name, long def, long *v);

/*
 * routes_ids_of - a JSON array of integer ids (NULL or null: none) into a
 * new array *ids of *n (the caller frees); false after a 422
 */
bool routes_ids_of(struct api_req *r, json_t *arr, const char *what, long **ids, size_t *n);

/* ---- the handlers of api_routes[] ---------------------------------------- */

/* routes_policy.c: users, domains, emails, quotas */
api_handler routes_users_list, routes_domains_list, routes_emails_list, routes_quotas_list,
	routes_users_get, routes_users_create, routes_users_update, routes_users_delete,
	routes_domains_delete, routes_emails_delete, routes_quotas_delete, routes_users_quotas,
	routes_users_domains_bulk, routes_users_emails_bulk, routes_user_domains,
	routes_user_emails, routes_domain_users, routes_email_users, routes_user_domains_add,
	routes_user_domains_del, routes_user_emails_add, routes_user_emails_del,
	routes_domain_users_add, routes_domain_users_del, routes_email_users_add,
	routes_email_users_del, routes_user_quota_put, routes_domains_get, routes_emails_get,
	routes_quotas_get, routes_domains_create, routes_emails_create, routes_quotas_create,
	routes_domains_update, routes_emails_update, routes_quotas_update;

/* routes_live.c: /live */
api_handler routes_live_quota_get, routes_live_quota_bulk, routes_live_quota_reset,
	routes_live_quota_refresh, routes_live_sda_get, routes_live_sda_del,
	routes_live_sda_bulk_get, routes_live_sda_bulk_del, routes_live_tally_get,
	routes_live_tally_del, routes_live_tuple_get, routes_live_option_cache_del,
	routes_live_config_write;

/* routes_v1.c: /v1/health, /v1/locks, /v1/events, /v1/quotas/{quota_id}/limits */
api_handler routes_health, routes_locks_list, routes_lock_put, routes_lock_delete,
	routes_events_list, routes_limits_get, routes_limits_post, routes_limits_delete;

#endif
