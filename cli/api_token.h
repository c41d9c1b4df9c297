/*
 * api_token - `chapps-cli api token add|list|revoke`: chapps-api's bearer tokens
 */
#ifndef CHAPPS_CLI_API_TOKEN_H
#define CHAPPS_CLI_API_TOKEN_H

#include <stdbool.h>

struct config;

/*
 * cli_api_token - run "add NAME" (role from --role), "list" or "revoke
 * NAME" on the file api.tokens.  Returns the exit status (0, 1 failed, 2
 * usage); messages on stderr, output on stdout (JSON with json).
 */
int cli_api_token(const struct config *config, bool json, const char *role, int argc,
		  char **argv);

#endif
