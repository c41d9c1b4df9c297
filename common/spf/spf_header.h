/*
 * spf_header - the value of a Received-SPF header field (RFC 7208 section 9.1)
 *
 * spf_check fills spf_outcome.header with it; the function is public so
 * that it can be tested and fuzzed on its own.  Thread-safe; no allocation.
 */
#ifndef CHAPPS_SPF_HEADER_H
#define CHAPPS_SPF_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "spf/spf.h"

/* what the header says; every string is borrowed, NULL is "" */
struct spf_header_fields {
	enum spf_result result;
	bool helo_identity;		/* identity=helo: envelope-from is postmaster@helo
					   and the domain is helo */
	const char *receiver;		/* receiver= and the comment's first word */
	const char *client_ip;		/* the client's address text */
	const char *helo;		/* helo= ("": left out) */
	const char *sender;		/* identity=mailfrom: envelope-from= */
	const char *domain;		/* identity=mailfrom: the domain checked ("": none) */
};

/*
 * spf_header_build - the header value for f into buf (size bytes; 1024
 * always holds it whole, size 0 writes nothing): one line, no CR or LF,
 * printable ASCII only, under 980 bytes (so "Received-SPF: " plus it
 * stays within RFC 5322's 998), every quoted string closed, no untrusted
 * ';' outside a quoted string or the comment, e.g.
 *   Pass (rcv: domain of example.com designates 192.0.2.3 as permitted
 *   sender) client-ip=192.0.2.3; envelope-from="a@example.com";
 *   helo=mx.example.com; receiver=rcv; identity=mailfrom
 * (on one line).  Any bytes are accepted in every string.
 */
void spf_header_build(const struct spf_header_fields *f, char *buf, size_t size);

#endif
