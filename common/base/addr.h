/*
 * addr - parse an envelope sender for sender-domain authorization
 *
 * Input is the MAIL FROM address with its angle brackets already stripped
 * (request_set_sender).  Every input has one defined outcome; a sender that
 * cannot be parsed is refused, never waved through (CHAPPS let a malformed
 * sender skip its SDA check: spec section 5.3).
 *
 *   ""                       ADDR_NULL (the null sender <>)
 *   local@domain             ADDR_OK; domain lower-cased (ASCII only)
 *   "quoted@local"@domain    ADDR_OK; the quoted local part is kept as
 *                            written, the domain follows the last @ outside
 *                            the quotes
 *   no @                     ADDR_NO_AT
 *   a@b@c (unquoted)         ADDR_MULTI_AT
 *   @a,@b:user@c             ADDR_SOURCE_ROUTE (refused, not ignored)
 *   user@example.com.        ADDR_TRAILING_DOT
 *   user@[192.0.2.1]         ADDR_OK with an IP-literal domain: compared
 *                            literally (only a linked "[192.0.2.1]" matches)
 *   empty local or domain, a label that is empty or starts/ends with '-',
 *   a space or control byte, an unterminated quote   ADDR_MALFORMED
 *   UTF-8 (SMTPUTF8) bytes   allowed in both parts; not converted to IDNA
 *
 * Pure functions, thread-safe, no allocation.
 */
#ifndef CHAPPS_ADDR_H
#define CHAPPS_ADDR_H

#include <stdbool.h>
#include <stddef.h>

enum addr_status {
	ADDR_OK = 0,
	ADDR_NULL,
	ADDR_NO_AT,
	ADDR_MULTI_AT,
	ADDR_SOURCE_ROUTE,
	ADDR_TRAILING_DOT,
	ADDR_MALFORMED,
	ADDR_TOO_LONG,
};

#define ADDR_DOMAIN_MAX 255
#define ADDR_LOCAL_MAX 255

struct addr_parts {
	const char *local;	/* points into the input */
	size_t local_len;
	char domain[ADDR_DOMAIN_MAX + 1];	/* lower-cased copy */
	bool ip_literal;
	bool quoted_local;
};

/* addr_parse - split sender into parts; see the table above. */
enum addr_status addr_parse(const char *sender, struct addr_parts *parts);

/* addr_status_text - "no @ in the address", ... */
const char *addr_status_text(enum addr_status status);

#endif
