/*
 * NAME
 *	api_token - `chapps-cli api token`: make, list and revoke API tokens
 * SUMMARY
 *	cli_api_token(config, json, role, argc, argv)
 * DESCRIPTION
 *	The tokens of chapps-api live hashed in api.tokens (common/base/token.c).
 *	"add NAME --role read|admin" prints the new token once, on stdout: it
 *	cannot be shown again, only revoked and replaced.  "revoke NAME" takes
 *	effect at chapps-api's next request (it re-reads the file when it
 *	changes).  Run as root, the file is given to root and milter.group
 *	(mode 0640), so that chapps-api, running as the milter's user, can
 *	read it and nobody else can.
 * DIAGNOSTICS
 *	Exit 0, 1 with a message on stderr, 2 on a usage error.
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/token.h"
#include "cli/api_token.h"

/* give_to_group - root:milter.group 0640 for the token file (when run as root) */
static void give_to_group(const struct config *c)
{
	struct group *gr;

	if (getuid() != 0 || c->milter_group[0] == '\0' || (gr = getgrnam(c->milter_group)) == NULL)
		return;
	if (chown(c->api_tokens, 0, gr->gr_gid) < 0 && errno != ENOENT)
		fprintf(stderr, "chapps-cli: warning: chown %s: %s\n", c->api_tokens,
			strerror(errno));
}

/* print_json_string - s as a JSON string (names are [A-Za-z0-9._-]) */
static void print_json_string(const char *s)
{
	printf("\"%s\"", s);
}

int cli_api_token(const struct config *config, bool json, const char *role, int argc,
		  char **argv)
{
	const char *path = config->api_tokens, *err;

	if (token_init() < 0) {
		fprintf(stderr, "chapps-cli: libsodium cannot be initialised\n");
		return 1;
	}
	if (argc == 2 && strcmp(argv[0], "add") == 0) {
		enum token_role r = token_role_from_name(role);
		char token[TOKEN_TEXT_LEN + 1];

		if (r == TOKEN_ROLE_NONE) {
			fprintf(stderr, "usage: api token add NAME --role read|admin\n");
			return 2;
		}
		if (token_file_add(path, argv[1], r, token, &err) < 0) {
			fprintf(stderr, "chapps-cli: %s\n", err);
			return 1;
		}
		give_to_group(config);
		if (json) {
			printf("{\"name\":");
			print_json_string(argv[1]);
			printf(",\"role\":\"%s\",\"token\":\"%s\"}\n", token_role_name(r), token);
		} else {
			printf("%s\n", token);
			fprintf(stderr, "token %s (role %s) added to %s; it is shown only now\n",
				argv[1], token_role_name(r), path);
		}
		return 0;
	}
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		struct token_set *set;

		if (token_set_load(path, &set, &err) < 0) {
			fprintf(stderr, "chapps-cli: %s\n", err);
			return 1;
		}
		if (json)
			fputc('[', stdout);
		for (size_t i = 0; i < token_set_count(set); i++) {
			const char *name;
			enum token_role r;

			token_set_entry(set, i, &name, &r);
			if (json) {
				printf("%s{\"name\":", i ? "," : "");
				print_json_string(name);
				printf(",\"role\":\"%s\"}", token_role_name(r));
			} else {
				printf("%-32s %s\n", name, token_role_name(r));
			}
		}
		if (json)
			fputs("]\n", stdout);
		token_set_free(&set);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
		if (token_file_revoke(path, argv[1], &err) < 0) {
			fprintf(stderr, "chapps-cli: %s\n", err);
			return 1;
		}
		if (json)
			printf("{\"ok\":true,\"message\":\"token %s revoked\"}\n", argv[1]);
		else
			printf("token %s revoked\n", argv[1]);
		return 0;
	}
	fprintf(stderr, "usage: api token add NAME --role read|admin | api token list | "
			"api token revoke NAME\n");
	return 2;
}
