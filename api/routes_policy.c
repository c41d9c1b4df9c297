/*
 * NAME
 *	routes_policy - CHAPPS's REST routes over the policy data
 * SUMMARY
 *	/users/, /domains/, /emails/, /quotas/ and the links between them
 * DESCRIPTION
 *	The model objects and their associations in the policy database,
 *	with CHAPPS's validation of names (spec 9.1).  List and bulk routes
 *	take their ids as a JSON body on GET, as CHAPPS does.
 *
 *	CHAPPS's API bugs fixed here (spec 12 item 18, listed in
 *	chapps-api(8)): a list that matches nothing is 200 with [] (not
 *	404); ids in bulk answers are integers; PUT /users/{id}/quota/{quota}
 *	gives a quota to a user that had none; and every change invalidates
 *	the caches it affects: the SDA decisions of each (user, domain or
 *	e-mail) pair whose link changes or goes away, and the milter's
 *	look-up caches when quotas or domain flags change.
 *
 *	Every change writes one audit line.
 * DIAGNOSTICS
 *	Database failures: 500 {"detail": ...} and an error line.
 */
#include "autoconf.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api/api.h"
#include "api/routes.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "policydb/policydb.h"
#include "policydb/policydb_ids.h"

/* ---- request input: names and flags ------------------------------------- */

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
		routes_fail_422(r, "name: a string is required");
		return NULL;
	}
	name = strip(json_string_value(v));
	n = strlen(name);
	if (n < lo[kind] || n > hi[kind]) {
		routes_fail_422(r, "name: ensure this value has %zu to %zu characters", lo[kind],
				hi[kind]);
		free(name);
		return NULL;
	}
	if (kind == POLICYDB_DOMAIN) {
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!valid_domain(name)) {
			routes_fail_422(r, "name: value is not a valid domain name");
			free(name);
			return NULL;
		}
	}
	if (kind == POLICYDB_EMAIL) {
		const char *at = strchr(name, '@');

		if (at == NULL || at == name || strchr(at + 1, '@') != NULL ||
		    strpbrk(name, " \t<>\"") != NULL || strchr(at + 1, '.') == NULL) {
			routes_fail_422(r, "name: value is not a valid email address");
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
		routes_fail_422(r, "%s: value could not be parsed to a boolean", key);
		return false;
	}
	*v = json_is_true(j);
	return true;
}

/* ---- associations ------------------------------------------------------ */

/* linked - the objects of kind linked to user id (array), or objects' users */
static json_t *linked(struct api_req *r, enum policydb_kind kind, long id, bool users_of)
{
	struct routes_rows rows = { users_of ? POLICYDB_USER : kind, json_array() };
	char err[512];

	if ((users_of ? policydb_obj_users(r->api->db, kind, id, 0, -1, routes_rows_fn, &rows, err,
					   sizeof(err))
		      : policydb_user_objs(r->api->db, kind, id, 0, -1, routes_rows_fn, &rows, err,
					   sizeof(err))) == POLICYDB_ERROR)
		log_error("api: policy database: %s", err);
	return rows.arr;
}

/* forget_pairs - routes_sda_forget every (user, object) pair of users x objects */
static void forget_pairs(struct api_req *r, json_t *users, enum policydb_kind kind, json_t *objs)
{
	size_t i, j;
	json_t *u, *o;

	json_array_foreach(users, i, u) {
		json_array_foreach(objs, j, o) {
			routes_sda_forget(r, routes_obj_name(u), kind == POLICYDB_EMAIL ? 'e' : 'd',
					  routes_obj_name(o));
		}
	}
}

/* forget_user - routes_sda_forget everything user (an object) was linked to */
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

/* forget_obj - routes_sda_forget every user of a domain or email (an object) */
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
			routes_fail_db(r, st, kind, err);
			return -1;
		}
		if (!changed)
			continue;
		if (routes_get_obj(r, kind, ids[i], &obj, err, sizeof(err)) == POLICYDB_OK) {
			char object[256];

			routes_sda_forget(r, routes_obj_name(user),
					  kind == POLICYDB_EMAIL ? 'e' : 'd', routes_obj_name(obj));
			snprintf(object, sizeof(object), "%s:%ld-%s:%ld",
				 routes_model_lower[POLICYDB_USER], uid, routes_model_lower[kind],
				 ids[i]);
			routes_audit(r, object, link ? NULL : obj, link ? obj : NULL);
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
		routes_fail_db(r, st, kind, err);
		return -1;
	}
	return set_links(r, user, kind, ids, n, true);
}

/* ---- users -------------------------------------------------------------- */

/* user_resp - answer CHAPPS's UserResp for user id */
static void user_resp(struct api_req *r, int status, long id)
{
	struct routes_rows q = { POLICYDB_QUOTA, json_array() };
	json_t *user, *out;
	char err[512];
	int st;

	st = routes_get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	if (st != POLICYDB_OK) {
		json_decref(q.arr);
		routes_fail_db(r, st, POLICYDB_USER, err);
		return;
	}
	st = policydb_user_quota_row(r->api->db, id, routes_rows_fn, &q, err, sizeof(err));
	if (st == POLICYDB_ERROR) {
		json_decref(q.arr);
		json_decref(user);
		routes_fail_db(r, st, POLICYDB_USER, err);
		return;
	}
	routes_ok(r, status, user);
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
	struct routes_rows q = { POLICYDB_QUOTA, json_array() };
	char err[512], object[64];
	json_t *newq = NULL;
	int st;

	(void)policydb_user_quota_row(r->api->db, uid, routes_rows_fn, &q, err, sizeof(err));
	st = policydb_set_quota_ids(r->api->db, uid, quota_id, err, sizeof(err));
	if (st != POLICYDB_OK) {
		json_decref(q.arr);
		routes_fail_db(r, st, st == POLICYDB_NOTFOUND ? POLICYDB_QUOTA : POLICYDB_USER,
			       err);
		return -1;
	}
	(void)routes_get_obj(r, POLICYDB_QUOTA, quota_id, &newq, err, sizeof(err));
	snprintf(object, sizeof(object), "user:%ld-quota", uid);
	routes_audit(r, object, json_array_get(q.arr, 0), newq);
	json_decref(newq);
	json_decref(q.arr);
	routes_signal_milter(r);
	return 0;
}

/* list_route - GET /{models}/: q, skip, limit */
static void list_route(struct api_req *r, enum policydb_kind kind)
{
	const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "q");
	struct routes_rows rows = { kind, json_array() };
	long skip, limit;
	char err[512];
	int st;

	if (!routes_query_long(r, "skip", 0, &skip) ||
	    !routes_query_long(r, "limit", 1000, &limit)) {
		json_decref(rows.arr);
		return;
	}
	st = policydb_obj_list(r->api->db, kind, q ? q : "%", skip, limit, routes_rows_fn, &rows,
			       err, sizeof(err));
	if (st != POLICYDB_OK) {
		json_decref(rows.arr);
		routes_fail_db(r, st, kind, err);
		return;
	}
	routes_ok(r, 200, rows.arr);	/* [] when nothing matches: CHAPPS's 404 fixed */
}

void routes_users_list(struct api_req *r) { list_route(r, POLICYDB_USER); }
void routes_domains_list(struct api_req *r) { list_route(r, POLICYDB_DOMAIN); }
void routes_emails_list(struct api_req *r) { list_route(r, POLICYDB_EMAIL); }
void routes_quotas_list(struct api_req *r) { list_route(r, POLICYDB_QUOTA); }

/* routes_users_get - GET /users/{id} */
void routes_users_get(struct api_req *r)
{
	long id;

	if (routes_path_id(r, 0, &id))
		user_resp(r, 200, id);
}

/* user_assocs - the optional quota, domains and emails of a user body; false after a 422 */
static bool user_assocs(struct api_req *r, json_t *body, json_t **quota, long **dids,
			size_t *nd, long **eids, size_t *ne)
{
	*quota = json_object_get(body, "quota");
	if (*quota != NULL && !json_is_null(*quota) &&
	    (!json_is_integer(*quota) || json_integer_value(*quota) < 0)) {
		routes_fail_422(r, "quota: value is not a valid integer id");
		return false;
	}
	if (!routes_ids_of(r, json_object_get(body, "domains"), "domains", dids, nd))
		return false;
	if (!routes_ids_of(r, json_object_get(body, "emails"), "emails", eids, ne)) {
		XFREE(*dids);
		return false;
	}
	return true;
}

/* routes_users_create - POST /users/ {name, quota?, domains?, emails?} */
void routes_users_create(struct api_req *r)
{
	json_t *body = routes_body_json(r), *quota, *user = NULL;
	long *dids = NULL, *eids = NULL, id;
	size_t nd = 0, ne = 0;
	char err[512], object[64];
	char *name = NULL;
	int st;

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		routes_fail_422(r, "body: an object {\"name\": ...} is required");
		goto out;
	}
	name = valid_name(r, POLICYDB_USER, json_object_get(body, "name"));
	if (name == NULL || !user_assocs(r, body, &quota, &dids, &nd, &eids, &ne))
		goto out;
	st = policydb_obj_add(r->api->db, POLICYDB_USER, name, 0, 0, &id, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, POLICYDB_USER, err);
		goto out;
	}
	routes_get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	snprintf(object, sizeof(object), "user:%ld", id);
	routes_audit(r, object, NULL, user);
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

/* routes_users_update - PUT /users/ {user: {id, name}, quota?, domains?, emails?} */
void routes_users_update(struct api_req *r)
{
	json_t *body = routes_body_json(r), *m, *quota, *old = NULL, *user = NULL;
	long *dids = NULL, *eids = NULL, id;
	size_t nd = 0, ne = 0;
	char err[512], object[64];
	char *name = NULL;
	int st;

	if (body == NULL)
		return;
	m = json_is_object(body) ? model_of_update(body, "user") : NULL;
	if (m == NULL || !json_is_integer(json_object_get(m, "id"))) {
		routes_fail_422(r, "user.id: field required");
		goto out;
	}
	id = (long)json_integer_value(json_object_get(m, "id"));
	st = routes_get_obj(r, POLICYDB_USER, id, &old, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, POLICYDB_USER, err);
		goto out;
	}
	if (json_object_get(m, "name") != NULL &&
	    (name = valid_name(r, POLICYDB_USER, json_object_get(m, "name"))) == NULL)
		goto out;
	if (!user_assocs(r, body, &quota, &dids, &nd, &eids, &ne))
		goto out;
	if (name != NULL && strcmp(name, routes_obj_name(old)) != 0) {
		forget_user(r, old);	/* its cached decisions are under the old name */
		st = policydb_obj_update(r->api->db, POLICYDB_USER, id, name, 0, 0, err,
					 sizeof(err));
		if (st != POLICYDB_OK) {
			routes_fail_db(r, st, POLICYDB_USER, err);
			goto out;
		}
		routes_get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
		snprintf(object, sizeof(object), "user:%ld", id);
		routes_audit(r, object, old, user);
		routes_signal_milter(r);	/* its quota is cached under the old name */
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
	json_t *body = routes_body_json(r);
	long *ids = NULL;
	size_t n = 0, deleted = 0;
	char err[512];

	if (body == NULL)
		return;
	if (!routes_ids_of(r, body, "body", &ids, &n))
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *old = NULL;
		char object[64];
		int st;

		st = routes_get_obj(r, kind, ids[i], &old, err, sizeof(err));
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
			routes_fail_db(r, st, kind, err);
			goto out;
		}
		snprintf(object, sizeof(object), "%s:%ld", routes_model_lower[kind], ids[i]);
		routes_audit(r, object, old, NULL);
		json_decref(old);
		deleted++;
	}
	if (deleted > 0 && kind != POLICYDB_EMAIL)
		routes_signal_milter(r);	/* quotas and domain flags are cached in the milter */
	if (deleted == 0 && n > 0)
		routes_fail_detail(r, 404, "Unable to find a matching %s", routes_model_name[kind]);
	else
		routes_ok(r, 200, json_string("Deleted."));
out:
	json_decref(body);
	free(ids);
}

void routes_users_delete(struct api_req *r) { delete_route(r, POLICYDB_USER); }
void routes_domains_delete(struct api_req *r) { delete_route(r, POLICYDB_DOMAIN); }
void routes_emails_delete(struct api_req *r) { delete_route(r, POLICYDB_EMAIL); }
void routes_quotas_delete(struct api_req *r) { delete_route(r, POLICYDB_QUOTA); }

/* users_bulk - GET /users/{quotas,domains,emails}/ [user ids] */
static void users_bulk(struct api_req *r, enum policydb_kind kind)
{
	json_t *body = routes_body_json(r), *out;
	long *ids = NULL;
	size_t n = 0;
	char err[512];

	if (body == NULL)
		return;
	if (!routes_ids_of(r, body, "body", &ids, &n))
		goto done;
	out = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *user = NULL, *item;

		if (routes_get_obj(r, POLICYDB_USER, ids[i], &user, err, sizeof(err)) !=
		    POLICYDB_OK)
			continue;
		if (kind == POLICYDB_QUOTA) {
			struct routes_rows q = { POLICYDB_QUOTA, json_array() };

			(void)policydb_user_quota_row(r->api->db, ids[i], routes_rows_fn, &q, err,
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
	routes_ok(r, 200, out);
done:
	json_decref(body);
	free(ids);
}

void routes_users_quotas(struct api_req *r) { users_bulk(r, POLICYDB_QUOTA); }
void routes_users_domains_bulk(struct api_req *r) { users_bulk(r, POLICYDB_DOMAIN); }
void routes_users_emails_bulk(struct api_req *r) { users_bulk(r, POLICYDB_EMAIL); }

/* links_list - GET /users/{id}/domains/ and the like, paginated */
static void links_list(struct api_req *r, enum policydb_kind kind, bool users_of)
{
	struct routes_rows rows = { users_of ? POLICYDB_USER : kind, json_array() };
	long id, skip, limit;
	char err[512];
	int st;

	if (!routes_path_id(r, 0, &id) || !routes_query_long(r, "skip", 0, &skip) ||
	    !routes_query_long(r, "limit", 1000, &limit)) {
		json_decref(rows.arr);
		return;
	}
	st = users_of ? policydb_obj_users(r->api->db, kind, id, skip, limit, routes_rows_fn, &rows,
					   err, sizeof(err))
		      : policydb_user_objs(r->api->db, kind, id, skip, limit, routes_rows_fn, &rows,
					   err, sizeof(err));
	if (st != POLICYDB_OK) {
		json_decref(rows.arr);
		routes_fail_db(r, st, users_of ? kind : POLICYDB_USER, err);
		return;
	}
	routes_ok(r, 200, rows.arr);
}

void routes_user_domains(struct api_req *r) { links_list(r, POLICYDB_DOMAIN, false); }
void routes_user_emails(struct api_req *r) { links_list(r, POLICYDB_EMAIL, false); }
void routes_domain_users(struct api_req *r) { links_list(r, POLICYDB_DOMAIN, true); }
void routes_email_users(struct api_req *r) { links_list(r, POLICYDB_EMAIL, true); }

/* user_links_edit - PUT/DELETE /users/{id}/{domains,emails}/ [ids] -> "Updated." */
static void user_links_edit(struct api_req *r, enum policydb_kind kind, bool link)
{
	json_t *body, *user = NULL;
	long id, *ids = NULL;
	size_t n = 0;
	char err[512];
	int st;

	if (!routes_path_id(r, 0, &id) || (body = routes_body_json(r)) == NULL)
		return;
	if (!routes_ids_of(r, body, "body", &ids, &n))
		goto out;
	st = routes_get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, POLICYDB_USER, err);
		goto out;
	}
	if (set_links(r, user, kind, ids, n, link) == 0)
		routes_ok(r, 200, json_string("Updated."));
out:
	json_decref(user);
	json_decref(body);
	free(ids);
}

void routes_user_domains_add(struct api_req *r) { user_links_edit(r, POLICYDB_DOMAIN, true); }
void routes_user_domains_del(struct api_req *r) { user_links_edit(r, POLICYDB_DOMAIN, false); }
void routes_user_emails_add(struct api_req *r) { user_links_edit(r, POLICYDB_EMAIL, true); }
void routes_user_emails_del(struct api_req *r) { user_links_edit(r, POLICYDB_EMAIL, false); }

/* obj_links_edit - PUT/DELETE /{domains,emails}/{id}/users/ [user ids] */
static void obj_links_edit(struct api_req *r, enum policydb_kind kind, bool link)
{
	json_t *body, *obj = NULL;
	long id, *ids = NULL;
	size_t n = 0;
	char err[512];
	int st;

	if (!routes_path_id(r, 0, &id) || (body = routes_body_json(r)) == NULL)
		return;
	if (!routes_ids_of(r, body, "body", &ids, &n))
		goto out;
	st = routes_get_obj(r, kind, id, &obj, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, kind, err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *user = NULL;
		long one = id;

		if (routes_get_obj(r, POLICYDB_USER, ids[i], &user, err, sizeof(err)) !=
		    POLICYDB_OK)
			continue;	/* nonexistent ids are ignored, as CHAPPS */
		st = set_links(r, user, kind, &one, 1, link);
		json_decref(user);
		if (st < 0)
			goto out;
	}
	routes_ok(r, 200, json_string("Updated."));
out:
	json_decref(obj);
	json_decref(body);
	free(ids);
}

void routes_domain_users_add(struct api_req *r) { obj_links_edit(r, POLICYDB_DOMAIN, true); }
void routes_domain_users_del(struct api_req *r) { obj_links_edit(r, POLICYDB_DOMAIN, false); }
void routes_email_users_add(struct api_req *r) { obj_links_edit(r, POLICYDB_EMAIL, true); }
void routes_email_users_del(struct api_req *r) { obj_links_edit(r, POLICYDB_EMAIL, false); }

/* routes_user_quota_put - PUT /users/{id}/quota/{quota}: inserts when the user had none (bug fixed) */
void routes_user_quota_put(struct api_req *r)
{
	json_t *user = NULL;
	long id, qid;
	char err[512];
	int st;

	if (!routes_path_id(r, 0, &id) || !routes_path_id(r, 1, &qid))
		return;
	st = routes_get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, POLICYDB_USER, err);
		return;
	}
	if (set_quota(r, user, qid) == 0)
		routes_ok(r, 200, json_string("Updated."));
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

	if (!routes_path_id(r, 0, &id))
		return;
	st = routes_get_obj(r, kind, id, &obj, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, kind, err);
		return;
	}
	routes_ok(r, 200, obj);
	if (kind != POLICYDB_QUOTA)
		json_object_set_new(r->out, "users", linked(r, kind, id, true));
}

void routes_domains_get(struct api_req *r) { obj_get(r, POLICYDB_DOMAIN); }
void routes_emails_get(struct api_req *r) { obj_get(r, POLICYDB_EMAIL); }
void routes_quotas_get(struct api_req *r) { obj_get(r, POLICYDB_QUOTA); }

/* quota_value - the "quota" member of a quota body; false after a 422 */
static bool quota_value(struct api_req *r, json_t *m, long *v)
{
	json_t *q = json_object_get(m, "quota");

	if (!json_is_integer(q) || json_integer_value(q) < 0 || json_integer_value(q) > INT_MAX) {
		routes_fail_422(r, "quota: value is not a valid non-negative integer");
		return false;
	}
	*v = (long)json_integer_value(q);
	return true;
}

/* obj_create - POST /{domains,emails,quotas}/ */
static void obj_create(struct api_req *r, enum policydb_kind kind)
{
	json_t *body = routes_body_json(r), *obj = NULL;
	long a = 0, b = 0, id, *uids = NULL;
	size_t nu = 0;
	char err[512], object[64];
	char *name = NULL;
	int st;

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		routes_fail_422(r, "body: an object {\"name\": ...} is required");
		goto out;
	}
	if ((name = valid_name(r, kind, json_object_get(body, "name"))) == NULL)
		goto out;
	if (kind == POLICYDB_QUOTA && !quota_value(r, body, &a))
		goto out;
	if (kind == POLICYDB_DOMAIN &&
	    (!flag_of(r, body, "greylist", &a) || !flag_of(r, body, "check_spf", &b)))
		goto out;
	if (kind != POLICYDB_QUOTA &&
	    !routes_ids_of(r, json_object_get(body, "users"), "users", &uids, &nu))
		goto out;
	st = policydb_obj_add(r->api->db, kind, name, a, b, &id, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, kind, err);
		goto out;
	}
	routes_get_obj(r, kind, id, &obj, err, sizeof(err));
	snprintf(object, sizeof(object), "%s:%ld", routes_model_lower[kind], id);
	routes_audit(r, object, NULL, obj);
	for (size_t i = 0; i < nu; i++) {
		json_t *user = NULL;

		if (routes_get_obj(r, POLICYDB_USER, uids[i], &user, err, sizeof(err)) !=
		    POLICYDB_OK)
			continue;
		st = set_links(r, user, kind, &id, 1, true);
		json_decref(user);
		if (st < 0)
			goto out;
	}
	if (kind == POLICYDB_DOMAIN)
		routes_signal_milter(r);	/* an unknown domain's flags may be cached */
	routes_ok(r, 201, json_incref(obj));
	if (kind != POLICYDB_QUOTA)
		json_object_set_new(r->out, "users", linked(r, kind, id, true));
out:
	json_decref(obj);
	json_decref(body);
	free(name);
	free(uids);
}

void routes_domains_create(struct api_req *r) { obj_create(r, POLICYDB_DOMAIN); }
void routes_emails_create(struct api_req *r) { obj_create(r, POLICYDB_EMAIL); }
void routes_quotas_create(struct api_req *r) { obj_create(r, POLICYDB_QUOTA); }

/* obj_update - PUT /{domains,emails,quotas}/: partial update, optional users replace */
static void obj_update(struct api_req *r, enum policydb_kind kind)
{
	json_t *body = routes_body_json(r), *m, *old = NULL, *obj = NULL;
	long id, a = 0, b = 0, *uids = NULL;
	size_t nu = 0;
	char err[512], object[64];
	char *name = NULL;
	int st;

	if (body == NULL)
		return;
	m = json_is_object(body) ? model_of_update(body, routes_model_lower[kind]) : NULL;
	if (m == NULL || !json_is_integer(json_object_get(m, "id"))) {
		routes_fail_422(r, "%s.id: field required", routes_model_lower[kind]);
		goto out;
	}
	id = (long)json_integer_value(json_object_get(m, "id"));
	st = routes_get_obj(r, kind, id, &old, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, kind, err);
		goto out;
	}
	if (json_object_get(m, "name") != NULL) {
		if ((name = valid_name(r, kind, json_object_get(m, "name"))) == NULL)
			goto out;
	} else {
		name = xstrdup(routes_obj_name(old));
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
	    !routes_ids_of(r, json_object_get(body, "users"), "users", &uids, &nu))
		goto out;
	if (kind != POLICYDB_QUOTA && strcmp(name, routes_obj_name(old)) != 0)
		forget_obj(r, kind, old);	/* decisions cached under the old name */
	st = policydb_obj_update(r->api->db, kind, id, name, a, b, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, kind, err);
		goto out;
	}
	routes_get_obj(r, kind, id, &obj, err, sizeof(err));
	snprintf(object, sizeof(object), "%s:%ld", routes_model_lower[kind], id);
	routes_audit(r, object, old, obj);
	if (nu > 0) {
		json_t *users = linked(r, kind, id, true), *one = json_pack("[O]", obj);

		forget_pairs(r, users, kind, one);
		json_decref(users);
		json_decref(one);
		if (policydb_unlink_all(r->api->db, kind, id, false, err, sizeof(err)) !=
		    POLICYDB_OK) {
			routes_fail_db(r, POLICYDB_ERROR, kind, err);
			goto out;
		}
		for (size_t i = 0; i < nu; i++) {
			json_t *user = NULL;

			if (routes_get_obj(r, POLICYDB_USER, uids[i], &user, err, sizeof(err)) !=
			    POLICYDB_OK)
				continue;
			st = set_links(r, user, kind, &id, 1, true);
			json_decref(user);
			if (st < 0)
				goto out;
		}
	}
	if (kind != POLICYDB_EMAIL)
		routes_signal_milter(r);	/* quota values and domain flags are cached there */
	routes_ok(r, 200, json_incref(obj));
	if (kind != POLICYDB_QUOTA)
		json_object_set_new(r->out, "users", linked(r, kind, id, true));
out:
	json_decref(old);
	json_decref(obj);
	json_decref(body);
	free(name);
	free(uids);
}

void routes_domains_update(struct api_req *r) { obj_update(r, POLICYDB_DOMAIN); }
void routes_emails_update(struct api_req *r) { obj_update(r, POLICYDB_EMAIL); }
void routes_quotas_update(struct api_req *r) { obj_update(r, POLICYDB_QUOTA); }
