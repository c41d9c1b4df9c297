/*
 * NAME
 *	cmd_live - chapps-cli's commands over the live state
 * SUMMARY
 *	reset, refresh, tally, usage import
 * DESCRIPTION
 *	What the state store holds for a user or a client: the usage of its
 *	quota and extra limits (reset forgets it, usage import records usage
 *	sent elsewhere), the greylisting passes of a client (tally).  refresh
 *	only signals the milter, whose look-up cache holds the quota.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on a failed command (message on stderr), 2 on a
 *	usage error.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "policy/greylist.h"
#include "policy/greylisting.h"
#include "policy/limits.h"
#include "policy/quota.h"
#include "policydb/policydb.h"
#include "store/store.h"
#include "cli/cli.h"

/* reset_limits - forget the usage of user's own extra limits (id 0 is store_quota_reset's) */
static int reset_limits(struct cli *cli, struct store *s, const char *user, const char **err)
{
	struct backends_limits l;
	struct store_limit limits[STORE_LIMITS_MAX];
	size_t n = 0, k = 0;

	if (backends_read_limits(cli->db, user, &l, cli->err, sizeof(cli->err)) != POLICYDB_OK)
		return STORE_OK;
	l.pool = false;		/* the pool is the domain's, not the user's */
	n = limits_build(cli->cfg, &l, user, NULL, (int64_t)time(NULL), limits, NULL);
	for (size_t i = 0; i < n; i++)
		if (limits[i].id != 0)
			limits[k++] = limits[i];
	return k > 0 ? store_limits_reset(s, limits, k, err) : STORE_OK;
}

int cli_cmd_reset(struct cli *cli, int argc, char **argv)
{
	struct store *s;
	const char *err;
	uint32_t dropped = 0;

	if (argc != 1)
		return cli_fail("usage: reset USER") + 1;
	s = cli_get_store(cli, false);
	if (s != NULL && store_quota_reset(s, argv[0], strlen(argv[0]), &dropped, &err) != STORE_OK)
		return cli_fail("state store: %s", err);
	if (s != NULL && reset_limits(cli, s, argv[0], &err) != STORE_OK)
		return cli_fail("state store: %s", err);
	cli_signal_milter(cli);
	if (dropped == 0)
		return cli_done(cli, "No attempts to reset for %s: 0 xmits dropped", argv[0]);
	return cli_done(cli, "Attempts (quota) reset for %s: %u xmits dropped", argv[0], dropped);
}

int cli_cmd_refresh(struct cli *cli, int argc, char **argv)
{
	if (argc != 1)
		return cli_fail("usage: refresh USER") + 1;
	cli_signal_milter(cli);
	return cli_done(cli,
			"quota of %s will be read from the database at the next message "
			"(local milter signalled; other hosts within %d s)",
			argv[0], cli->cfg->policydb_cache_ttl);
}

/* cli_cmd_tally - tally IP [--clear]: greylisting passes of a client */
int cli_cmd_tally(struct cli *cli, int argc, char **argv)
{
	struct store *s;
	char client[64], key[128];
	const char *err;
	uint32_t count = 0;
	size_t klen;

	if (argc != 1)
		return cli_fail("usage: tally IP [--clear]") + 1;
	if (greylist_client_key(argv[0], (unsigned)cli->cfg->grey_prefix_v4,
				(unsigned)cli->cfg->grey_prefix_v6, client, sizeof(client)) < 0)
		return cli_fail("\"%s\" is not an IP address", argv[0]);
	klen = greylisting_tally_key(key, sizeof(key), client);
	s = cli_get_store(cli, false);
	if (s != NULL && cli->clear) {
		if (store_greylist_tally_clear(s, key, klen, &err) != STORE_OK)
			return cli_fail("state store: %s", err);
	}
	if (cli->clear)
		return cli_done(cli, "tally of %s cleared", client);
	if (s != NULL &&
	    store_greylist_tally(s, key, klen, (int64_t)time(NULL), &count, &err) != STORE_OK)
		return cli_fail("state store: %s", err);
	if (cli->json) {
		printf("{\"client\":");
		cli_json_string(stdout, client);
		printf(",\"passes\":%u,\"threshold\":%d}\n", count,
		       cli->cfg->grey_whitelist_threshold);
		return 0;
	}
	printf("%s: %u passes in the last 24 h (auto-whitelist at %d)\n", client, count,
	       cli->cfg->grey_whitelist_threshold);
	return 0;
}

/* cli_cmd_usage - usage import USER COUNT [--spread SECONDS]: usage sent elsewhere */
int cli_cmd_usage(struct cli *cli, int argc, char **argv)
{
	const struct config *c = cli->cfg;
	struct store_quota_params p;
	struct store_quota_state qs;
	const char *err = NULL;
	int64_t now = (int64_t)time(NULL);
	uint32_t buckets = 0;
	long count, spread = 0;

	if (argc != 3 || strcmp(argv[0], "import") != 0)
		return cli_fail("usage: usage import USER COUNT [--spread SECONDS]") + 1;
	if (cli_parse_long(argv[2], &count) < 0 || count > QUOTA_IMPORT_MAX)
		return cli_fail("count must be a whole number 0..%d, not \"%s\"", QUOTA_IMPORT_MAX,
				argv[2]);
	if (cli->spread != NULL && (cli_parse_long(cli->spread, &spread) < 0 ||
				    spread > c->quota_interval))
		return cli_fail(
			"--spread must be a whole number of seconds 0..%d (quota.interval), "
			"not \"%s\"",
			c->quota_interval, cli->spread);
	/* unlike most commands, this one makes the LMDB store if there is none yet */
	if (cli_make_store(cli, &err) == NULL)
		return cli_fail("state store: %s", err);
	if (quota_import_usage(c, cli->store, argv[1], (uint32_t)count, (uint32_t)spread, now,
			       &buckets, &err) < 0)
		return cli_fail("state store: %s", err);
	quota_store_params(c, 0, &p);
	if (store_quota_usage(cli->store, argv[1], strlen(argv[1]), &p, now, &qs, &err) != STORE_OK)
		return cli_fail("state store: %s", err);
	return cli_done(cli, "%ld unit(s) of usage imported for %s over %u bucket(s); used now %u",
			count, argv[1], buckets, qs.committed);
}
