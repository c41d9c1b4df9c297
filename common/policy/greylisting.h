/*
 * greylisting - defer the first message of a new (client, sender,
 * recipient) tuple
 *
 * The policy (greylisting.c, in inbound.policies as "greylisting") runs
 * for recipients whose domain opted in (domains.greylist).  The SPF
 * policy's "greylist" action uses the same check through
 * greylisting_check, even where greylisting is not listed.  chapps-cli's
 * tally command reads the client's pass tally under greylisting_tally_key.
 */
#ifndef CHAPPS_GREYLISTING_H
#define CHAPPS_GREYLISTING_H

#include <stddef.h>

#include "policy/policy_ops.h"

/*
 * greylisting_check - run the current recipient's tuple through the store
 * (call is any policy's RCPT call).  forced_reason is NULL, or the text
 * appended to the reply when SPF's action forces greylisting (spf_result
 * then names the SPF result in the log detail).  Returns POLICY_STEP_NEXT
 * when the recipient passes (or on_error = accept), POLICY_STEP_STOP with
 * r set when it is deferred or on_error refuses.
 */
enum policy_step greylisting_check(struct policy_call *call, const char *forced_reason,
				   const char *spf_result, struct policy_result *r);

/*
 * greylisting_tally_key - the store key of the pass tally of client (a
 * greylist_client_key) into buf; returns its length, or 0 when it does
 * not fit.
 */
size_t greylisting_tally_key(void *buf, size_t size, const char *client);

struct config;

/*
 * greylisting_tuple_key - the store key of the tuple (client_addr, sender,
 * rcpt; NULL reads as "") as the policy builds it under config c: the
 * client's network by grey_prefix_v4/v6 (written into client, csize bytes,
 * for the tally key), the sender without SRS/VERP tags when
 * strip_srs_verp is on, the recipient lower-cased.  Writes the key into
 * buf; returns its length, or 0 when it does not fit.
 */
size_t greylisting_tuple_key(void *buf, size_t size, const struct config *c,
			     const char *client_addr, const char *sender, const char *rcpt,
			     char *client, size_t csize);

#endif
