/*
 * NAME
 *	fuzz-spf-header - libFuzzer target for spf_header_build
 * DESCRIPTION
 *	The input is: one byte choosing the result (mod 7) and, in its low
 *	bit of the next byte, the identity; then receiver, client address,
 *	HELO, sender and domain, separated by NUL bytes (missing fields are
 *	NULL).  spf_header_build must keep the promises of spf_header.h:
 *	  - printable ASCII only (no CR, LF or other control byte), under
 *	    980 bytes, so "Received-SPF: " plus the value fits in 998;
 *	  - every quoted string and the comment closed;
 *	  - exactly the keys client-ip, envelope-from, [helo,] receiver and
 *	    identity at top level, in that order: nothing from the HELO,
 *	    sender or domain can add a field or a header;
 *	  - nothing written beyond the buffer (AddressSanitizer).
 * DIAGNOSTICS
 *	abort() on a broken promise, with the value on stderr.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spf/spf_header.h"
#include "../spf_header_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fail - report a broken promise and abort */
static void fail(const char *what, const char *value)
{
	fprintf(stderr, "spf_header_build: %s; value \"%s\"\n", what, value);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *field[5] = { NULL }, *p, *end;
	char *buf = malloc(1024);
	const char *fault;
	struct spf_header_fields f;
	size_t i;

	if (size < 2 || buf == NULL) {
		free(buf);
		return 0;
	}
	copy = malloc(size - 1);
	if (copy == NULL) {
		free(buf);
		return 0;
	}
	memcpy(copy, data + 2, size - 2);
	copy[size - 2] = '\0';
	end = copy + size - 2;
	for (i = 0, p = copy; i < 5 && p <= end; i++) {
		field[i] = p;
		p += strlen(p) + 1;
	}
	memset(&f, 0, sizeof(f));
	f.result = (enum spf_result)(data[0] % 7);
	f.helo_identity = data[1] & 1;
	f.receiver = field[0];
	f.client_ip = field[1];
	f.helo = field[2];
	f.sender = field[3];
	f.domain = field[4];

	spf_header_build(&f, buf, 1024);
	fault = test_spf_header_fault(buf, f.helo != NULL && f.helo[0] != '\0');
	if (fault != NULL)
		fail(fault, buf);
	free(copy);
	free(buf);
	return 0;
}
