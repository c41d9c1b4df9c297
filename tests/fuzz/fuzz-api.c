/*
 * NAME
 *	fuzz-api - libFuzzer target for chapps-api's request handling
 * DESCRIPTION
 *	The input is a request: its first line "METHOD PATH", the rest the
 *	body.  It goes through the route matcher and, when a route matches,
 *	its handler, against a real SQLite policy database made once in a
 *	temporary directory (no milter to signal; a state store only for
 *	PUT /v1/locks, which creates one: api_store_make).  Beyond
 *	"no crash, no leak, no undefined behaviour", every answer must be a
 *	JSON object with a status the API documents.
 * DIAGNOSTICS
 *	abort() on a broken promise, with the input on stderr.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "base/config.h"
#include "base/log.h"
#include "policydb/policydb.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api api;

/* api_store - main.c's, here: no state store */
struct store *api_store(struct api *a)
{
	(void)a;
	return NULL;
}

/* api_store_make - main.c's, here: an LMDB store in the run's directory (PUT /v1/locks) */
struct store *api_store_make(struct api *a)
{
	const char *err;

	if (a->store == NULL && store_open(a->config, &a->store, &err) < 0)
		abort();
	return a->store;
}

/* setup - a configuration and a database with a few rows, once */
static void setup(void)
{
	char dir[] = "/tmp/fuzz-api.XXXXXX", conf[128], err[256];
	char *errors = NULL;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(conf, sizeof(conf), "%s/c.conf", dir);
	f = fopen(conf, "w");
	if (f == NULL)
		abort();
	fprintf(f, "milter: { pidfile = \"\"; };\nstore: { path = \"%s/state\"; };\n"
		   "policy_db: { path = \"%s/p.db\"; };\n", dir, dir);
	fclose(f);
	log_open("fuzz-api", 0, true, LOG_LEVEL_ERROR);
	if (config_load(conf, &api.config, &errors) < 0 ||
	    policydb_open(api.config, true, &api.db, err, sizeof(err)) < 0 ||
	    policydb_setup(api.db, err, sizeof(err)) != POLICYDB_OK)
		abort();
	(void)policydb_quota_add(api.db, "10eph", 240, err, sizeof(err));
	(void)policydb_user_add(api.db, "alice.user", err, sizeof(err));
	(void)policydb_domain_add(api.db, "example.com", err, sizeof(err));
	(void)policydb_email_add(api.db, "alice@example.com", err, sizeof(err));
	(void)policydb_link_domain(api.db, "alice.user", "example.com", true, err, sizeof(err));
	pthread_mutex_init(&api.store_lock, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char line[512], method[16], path[480];
	const char *nl = memchr(data, '\n', size);
	size_t head = nl != NULL ? (size_t)(nl - (const char *)data) : size;
	const struct api_route *rt;
	struct api_req *r;
	bool known;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (head >= sizeof(line) || memchr(data, '\0', head) != NULL)
		return 0;
	memcpy(line, data, head);
	line[head] = '\0';
	if (sscanf(line, "%15s %479s", method, path) != 2)
		return 0;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		abort();
	r->api = &api;
	r->method = method;
	r->path = path;
	r->body = nl != NULL ? nl + 1 : "";
	r->body_len = nl != NULL ? size - head - 1 : 0;
	r->role = TOKEN_ROLE_ADMIN;
	strcpy(r->token, "fuzz");
	strcpy(r->client, "127.0.0.1");
	rt = api_route_match(r, method, path, &known);
	if (rt != NULL) {
		r->route = rt->pattern;
		r->status = 500;
		rt->handler(r);
		if (!json_is_object(r->out) ||
		    (r->status != 200 && r->status != 201 && r->status != 400 && r->status != 404 &&
		     r->status != 409 && r->status != 422)) {
			fprintf(stderr, "fuzz-api: %s %s: status %d\n", method, path, r->status);
			abort();
		}
		json_decref(r->out);
	}
	free(r);
	return 0;
}
