/*
 * NAME
 *	routes_live - CHAPPS's /live routes over chapps's live state
 * SUMMARY
 *	/live/quota/, /live/sda/, /live/grl/tuple/, /live/grl/tally/,
 *	/live/{grl,spf}/option_cache/, /live/config/write/
 * DESCRIPTION
 *	What chapps keeps differently from CHAPPS shows here: quota usage
 *	is a bucketed window (remaining = limit - used - reserved); the
 *	greylisting tally is a count of passes (CHAPPS: a list of Postfix
 *	instances); the greylist and SPF flag caches live in the milter, so
 *	their DELETE routes signal it.
 *
 *	CHAPPS's API bug fixed here (spec 12 item 18, listed in
 *	chapps-api(8)): bulk SDA routes without domain or e-mail ids are
 *	400, not 500.
 *
 *	Every change writes one audit line.
 * DIAGNOSTICS
 *	Database and store failures: 500 {"detail": ...} and an error line.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/routes.h"
#include "base/config.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "policy/greylist.h"
#include "policy/greylisting.h"
#include "policy/quota.h"
#include "policydb/policydb.h"
#include "store/greylist_record.h"
#include "store/store.h"

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
		routes_fail_db(r, st, POLICYDB_USER, err);
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
		routes_fail_detail(r, 500, "State store error");
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

	if (!routes_path_id(r, 0, &id))
		return NULL;
	if (id == 0 && r->body_len > 0) {
		json_t *body = routes_body_json(r), *n;
		struct routes_rows rows = { POLICYDB_USER, json_array() };

		if (body == NULL) {
			json_decref(rows.arr);
			return NULL;
		}
		n = json_is_object(body) ? json_object_get(body, "name") : body;
		if (!json_is_string(n)) {
			routes_fail_422(r, "name: a string is required");
		} else {
			/* exact name: LIKE with the wildcards escaped would be costlier */
			st = policydb_user_get(r->api->db, json_string_value(n), NULL, NULL, err,
					       sizeof(err));
			if (st == POLICYDB_OK)
				user = json_pack("{s:i,s:s}", "id", 0, "name",
						 json_string_value(n));
			else
				routes_fail_db(r, st, POLICYDB_USER, err);
		}
		json_decref(rows.arr);
		json_decref(body);
		return user;
	}
	st = routes_get_obj(r, POLICYDB_USER, id, &user, err, sizeof(err));
	if (st != POLICYDB_OK)
		routes_fail_db(r, st, POLICYDB_USER, err);
	return user;
}

/* routes_live_quota_get - GET /live/quota/{user_id} */
void routes_live_quota_get(struct api_req *r)
{
	json_t *user = user_by_id_or_name(r), *remarks;
	long avail;

	if (user == NULL)
		return;
	remarks = json_array();
	if (live_remaining(r, routes_obj_name(user), &avail, remarks)) {
		routes_ok(r, 200, json_integer(avail));
		json_object_set(r->out, "remarks", remarks);
	}
	json_decref(remarks);
	json_decref(user);
}

/* routes_live_quota_bulk - GET /live/quota/ [user ids] */
void routes_live_quota_bulk(struct api_req *r)
{
	json_t *body = routes_body_json(r), *out, *remarks;
	long *ids = NULL;
	size_t n = 0;
	char err[512];

	if (body == NULL)
		return;
	if (!routes_ids_of(r, body, "body", &ids, &n))
		goto done;
	out = json_array();
	remarks = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *user = NULL;
		long avail;

		if (routes_get_obj(r, POLICYDB_USER, ids[i], &user, err, sizeof(err)) !=
		    POLICYDB_OK)
			continue;
		if (!live_remaining(r, routes_obj_name(user), &avail, remarks)) {
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
	routes_ok(r, 200, out);
	json_object_set_new(r->out, "remarks", remarks);
done:
	json_decref(body);
	free(ids);
}

/* routes_live_quota_reset - DELETE /live/quota/{user_id}: drop the user's usage */
void routes_live_quota_reset(struct api_req *r)
{
	json_t *user = user_by_id_or_name(r);
	struct store *s;
	uint32_t dropped = 0;
	const char *serr;
	const char *name;
	char *t;

	if (user == NULL)
		return;
	name = routes_obj_name(user);
	s = api_store(r->api);
	if (s != NULL && store_quota_reset(s, name, strlen(name), &dropped, &serr) != STORE_OK) {
		log_error("api: state store: %s", serr);
		routes_fail_detail(r, 500, "State store error");
		json_decref(user);
		return;
	}
	t = dropped ? xasprintf("Attempts (quota) reset for %s: %u xmits dropped", name, dropped)
		    : xasprintf("No attempts to reset for %s: 0 xmits dropped", name);
	routes_audit_new(r, "live:quota",
			 json_pack("{s:s,s:i}", "user", name, "attempts", (int)dropped), NULL);
	routes_signal_milter(r);
	routes_ok(r, 200, json_integer(dropped));
	json_object_set_new(r->out, "remarks", json_pack("[s]", t));
	free(t);
	json_decref(user);
}

/* routes_live_quota_refresh - POST /live/quota/{user_id}: re-read the limit; 404 without quota */
void routes_live_quota_refresh(struct api_req *r)
{
	json_t *user = user_by_id_or_name(r), *remarks;
	long limit, avail;
	char err[512];
	int st;

	if (user == NULL)
		return;
	st = policydb_user_quota(r->api->db, routes_obj_name(user), &limit, err, sizeof(err));
	if (st != POLICYDB_OK) {
		routes_fail_db(r, st, POLICYDB_QUOTA, err);
		json_decref(user);
		return;
	}
	routes_signal_milter(r);	/* the milter re-reads the limit at the next message */
	remarks = json_array();
	if (live_remaining(r, routes_obj_name(user), &avail, remarks)) {
		routes_ok(r, 200, json_integer(avail));
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
	v = routes_sda_cached(r, user, kind, name);
	if (v == -2) {
		routes_fail_detail(r, 500, "State store error");
	} else {
		if (clear && v != -1) {
			routes_sda_forget(r, user, kind, name);
			routes_audit_new(r, "live:sda",
					 json_pack("{s:s,s:s,s:s}", "user", user, "source", name,
						   "status", sda_status_name(v)),
					 NULL);
		}
		routes_ok(r, 200, json_string(sda_status_name(v)));
	}
	free(name);
}

void routes_live_sda_get(struct api_req *r) { live_sda_one(r, false); }
void routes_live_sda_del(struct api_req *r) { live_sda_one(r, true); }

/* live_sda_bulk - GET/DELETE /live/sda/ {user_ids, domain_ids, email_ids} */
static void live_sda_bulk(struct api_req *r, bool clear)
{
	json_t *body = routes_body_json(r), *users, *out = NULL;
	long *uids = NULL, *dids = NULL, *eids = NULL;
	size_t nu = 0, nd = 0, ne = 0;
	char err[512];

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		routes_fail_422(r,
				"body: an object {\"user_ids\", \"domain_ids\", \"email_ids\"} is "
				"required");
		goto done;
	}
	if (!routes_ids_of(r, json_object_get(body, "user_ids"), "user_ids", &uids, &nu) ||
	    !routes_ids_of(r, json_object_get(body, "domain_ids"), "domain_ids", &dids, &nd) ||
	    !routes_ids_of(r, json_object_get(body, "email_ids"), "email_ids", &eids, &ne))
		goto done;
	if (nd == 0 && ne == 0) {	/* CHAPPS: a 500 here */
		routes_fail_detail(r, 400, "No domain or email ids were given.");
		goto done;
	}
	users = json_array();
	for (size_t i = 0; i < nu; i++) {
		json_t *u = NULL;

		if (routes_get_obj(r, POLICYDB_USER, uids[i], &u, err, sizeof(err)) == POLICYDB_OK)
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

			if (routes_get_obj(r, kind, ids[i], &obj, err, sizeof(err)) !=
			    POLICYDB_OK) {
				json_decref(per);
				continue;
			}
			json_array_foreach(users, j, u) {
				int v = routes_sda_cached(r, routes_obj_name(u), k == 0 ? 'd' : 'e',
							  routes_obj_name(obj));

				if (clear && v >= 0)
					routes_sda_forget(r, routes_obj_name(u), k == 0 ? 'd' : 'e',
							  routes_obj_name(obj));
				json_object_set_new(per, routes_obj_name(u),
						    json_string(sda_status_name(v)));
			}
			json_object_set_new(out, routes_obj_name(obj), per);
			json_decref(obj);
		}
	}
	json_decref(users);
	if (clear) {
		routes_audit(r, "live:sda", out, NULL);
		json_decref(out);
		routes_ok(r, 200,
			  json_string("SDA cache cleared for specified domains and/or emails x "
				      "users."));
	} else {
		routes_ok(r, 200, out);
	}
done:
	json_decref(body);
	free(uids);
	free(dids);
	free(eids);
}

void routes_live_sda_bulk_get(struct api_req *r) { live_sda_bulk(r, false); }
void routes_live_sda_bulk_del(struct api_req *r) { live_sda_bulk(r, true); }

/* ---- live: greylisting and SPF ----------------------------------------- */

/* tally_key - the store key of an IP's tally; false after a 422 */
static bool tally_key(struct api_req *r, char *client, size_t csize, char *key, size_t ksize,
		      size_t *klen)
{
	const struct config *c = r->api->config;

	if (greylist_client_key(r->seg[0], (unsigned)c->grey_prefix_v4, (unsigned)c->grey_prefix_v6,
				client, csize) < 0) {
		routes_fail_422(r, "ip: value is not a valid IPv4 or IPv6 address");
		return false;
	}
	*klen = greylisting_tally_key(key, ksize, client);
	return *klen > 0;
}

/* routes_live_tally_get - GET /live/grl/tally/{ip}: passes in the last 24 h */
void routes_live_tally_get(struct api_req *r)
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
		routes_fail_detail(r, 500, "State store error");
		return;
	}
	routes_ok(r, 200,
		  json_pack("{s:s,s:i,s:i}", "client", client, "passes", (int)count, "threshold",
			    r->api->config->grey_whitelist_threshold));
}

/* routes_live_tally_del - DELETE /live/grl/tally/{ip} */
void routes_live_tally_del(struct api_req *r)
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
		routes_fail_detail(r, 500, "State store error");
		return;
	}
	routes_audit_new(r, "live:grl:tally", json_string(client), NULL);
	routes_ok(r, 200, json_string("deleted"));
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
 * routes_live_tuple_get - GET /live/grl/tuple/ {client_address, sender, recipient}:
 * when the tuple's current greylisting attempt began (CHAPPS: its last
 * deferral), or 0.0 when the store holds no live record of it, with the
 * record in "tuple"; keyed as the policy keys it (addresses with or
 * without <>), and read-only
 */
void routes_live_tuple_get(struct api_req *r)
{
	static const char *const fields[] = { "client_address", "sender", "recipient" };
	json_t *body = routes_body_json(r), *v[3];
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
			routes_fail_422(r, "%s: a string is required", fields[i]);
			goto done;
		}
	}
	if (greylist_client_key(json_string_value(v[0]), 0, 0, client, sizeof(client)) < 0) {
		routes_fail_422(r, "client_address: value is not a valid IPv4 or IPv6 address");
		goto done;
	}
	klen = greylisting_tuple_key(key, sizeof(key), r->api->config, json_string_value(v[0]),
				     unbracket(json_string_value(v[1]), sender, sizeof(sender)),
				     unbracket(json_string_value(v[2]), rcpt, sizeof(rcpt)), client,
				     sizeof(client));
	if (klen == 0) {
		routes_fail_422(r, "sender, recipient: too long");
		goto done;
	}
	s = api_store(r->api);
	if (s != NULL && store_greylist_peek(s, key, klen, (int64_t)time(NULL), &present, &t,
					     &serr) != STORE_OK) {
		log_error("api: state store: %s", serr);
		routes_fail_detail(r, 500, "State store error");
		goto done;
	}
	routes_ok(r, 200, json_real(present ? (double)t.first : 0.0));
	json_object_set_new(r->out, "tuple",
			    json_pack("{s:s,s:o,s:o}", "client", client, "first_seen",
				      present ? json_integer(t.first) : json_null(), "last_pass",
				      present && t.last_pass >= 0 ? json_integer(t.last_pass)
								  : json_null()));
done:
	json_decref(body);
}

/* routes_live_option_cache_del - DELETE /live/{grl,spf}/option_cache/{domain}: flags live in the milter */
void routes_live_option_cache_del(struct api_req *r)
{
	routes_audit_new(r, "live:option_cache", json_string(r->seg[0]), NULL);
	routes_signal_milter(r);
	routes_ok(r, 200, json_string("deleted"));
}

/*
 * routes_live_config_write - POST /live/config/write/: CHAPPS rewrote its INI file
 * with the defaults of an upgrade; chapps's configuration is root's file,
 * which the API (user chapps) may not write.  A CHAPPS client gets a clear
 * 501 instead of a 404 (chapps-milter -d prints the effective setup).
 */
void routes_live_config_write(struct api_req *r)
{
	routes_fail_detail(r, 501,
			   "Not served: chapps-api never writes the configuration; "
			   "chapps-milter -d prints the effective configuration");
}
