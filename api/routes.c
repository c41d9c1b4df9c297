/*
 * NAME
 *	routes - CHAPPS's REST routes (spec 9.5) over chapps's policy data
 * SUMMARY
 *	api_routes[]: users, domains, emails, quotas, /live, /v1/health,
 *	/v1/quotas/{quota_id}/limits, /v1/locks and /v1/events
 * DESCRIPTION
 *	The table that server.c's api_route_match walks, in order: method,
 *	pattern, handler, and whether the route writes (admin role).  The
 *	handlers live by family: routes_v1.c (chapps's own /v1 routes),
 *	routes_policy.c (users, domains, emails, quotas), routes_live.c
 *	(/live); routes_util.c has what they share (routes.h).
 *
 *	Paths, bodies, status codes and messages are CHAPPS's: every success
 *	is {"version", "timestamp", "response"} plus association keys or
 *	"remarks"; a missing object is 404 {"detail": "Unable to find a
 *	matching <Model>"}; a unique clash on create or update 409
 *	{"detail": "Unique key conflict creating <model>."}; a bad body or
 *	parameter 422 {"status_code": 10422, "message", "data": null}.
 *
 *	CHAPPS's API bugs (spec 12 item 18) are fixed, and listed in
 *	chapps-api(8); each file's DESCRIPTION names the fixes it carries.
 * DIAGNOSTICS
 *	Database and store failures: 500 {"detail": ...} and an error line.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "api/routes.h"

/* ---- the table ---------------------------------------------------------- */

#define GET(p, h) { "GET", p, h, false }
#define PUT(p, h) { "PUT", p, h, true }
#define POST(p, h) { "POST", p, h, true }
#define DEL(p, h) { "DELETE", p, h, true }

const struct api_route api_routes[] = {
	GET("/v1/health", routes_health),
	GET("/v1/locks", routes_locks_list),
	PUT("/v1/locks/{user}", routes_lock_put),
	DEL("/v1/locks/{user}", routes_lock_delete),
	GET("/v1/events", routes_events_list),
	GET("/v1/quotas/{quota_id}/limits", routes_limits_get),
	POST("/v1/quotas/{quota_id}/limits", routes_limits_post),
	DEL("/v1/quotas/{quota_id}/limits/{limit_id}", routes_limits_delete),

	POST("/users/", routes_users_create),
	GET("/users/", routes_users_list),
	PUT("/users/", routes_users_update),
	DEL("/users/", routes_users_delete),
	GET("/users/quotas/", routes_users_quotas),
	GET("/users/domains/", routes_users_domains_bulk),
	GET("/users/emails/", routes_users_emails_bulk),
	GET("/users/{user_id}", routes_users_get),
	GET("/users/{user_id}/domains/", routes_user_domains),
	GET("/users/{user_id}/emails/", routes_user_emails),
	PUT("/users/{user_id}/domains/", routes_user_domains_add),
	DEL("/users/{user_id}/domains/", routes_user_domains_del),
	PUT("/users/{user_id}/emails/", routes_user_emails_add),
	DEL("/users/{user_id}/emails/", routes_user_emails_del),
	PUT("/users/{user_id}/quota/{quota_id}", routes_user_quota_put),

	GET("/domains/", routes_domains_list),
	POST("/domains/", routes_domains_create),
	PUT("/domains/", routes_domains_update),
	DEL("/domains/", routes_domains_delete),
	GET("/domains/{domain_id}", routes_domains_get),
	GET("/domains/{domain_id}/users/", routes_domain_users),
	PUT("/domains/{domain_id}/users/", routes_domain_users_add),
	DEL("/domains/{domain_id}/users/", routes_domain_users_del),

	GET("/emails/", routes_emails_list),
	POST("/emails/", routes_emails_create),
	PUT("/emails/", routes_emails_update),
	DEL("/emails/", routes_emails_delete),
	GET("/emails/{email_id}", routes_emails_get),
	GET("/emails/{email_id}/users/", routes_email_users),
	PUT("/emails/{email_id}/users/", routes_email_users_add),
	DEL("/emails/{email_id}/users/", routes_email_users_del),

	GET("/quotas/", routes_quotas_list),
	POST("/quotas/", routes_quotas_create),
	PUT("/quotas/", routes_quotas_update),
	DEL("/quotas/", routes_quotas_delete),
	GET("/quotas/{quota_id}", routes_quotas_get),

	GET("/live/quota/", routes_live_quota_bulk),
	GET("/live/quota/{user_id}", routes_live_quota_get),
	DEL("/live/quota/{user_id}", routes_live_quota_reset),
	POST("/live/quota/{user_id}", routes_live_quota_refresh),
	GET("/live/sda/", routes_live_sda_bulk_get),
	DEL("/live/sda/", routes_live_sda_bulk_del),
	GET("/live/sda/{source}/for/{user}", routes_live_sda_get),
	DEL("/live/sda/{source}/for/{user}", routes_live_sda_del),
	GET("/live/grl/tuple/", routes_live_tuple_get),
	GET("/live/grl/tally/{ip}", routes_live_tally_get),
	POST("/live/config/write/", routes_live_config_write),
	DEL("/live/grl/tally/{ip}", routes_live_tally_del),
	DEL("/live/grl/option_cache/{domain}", routes_live_option_cache_del),
	DEL("/live/spf/option_cache/{domain}", routes_live_option_cache_del),
	{ NULL, NULL, NULL, false },
};
