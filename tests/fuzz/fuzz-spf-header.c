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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fail - report a broken promise and abort */
static void fail(const char *what, const char *value)
{
	fprintf(stderr, "spf_header_build: %s; value \"%s\"\n", what, value);
	abort();
}

/* top_keys - the keys at top level of value, ';'-joined; aborts on an open quote or comment */
static void top_keys(const char *value, char *keys, size_t size)
{
	bool quoted = false, in_value = false;
	int depth = 0;
	size_t n = 0;
	const char *p, *start = NULL;

	keys[0] = '\0';
	for (p = value; *p != '\0'; p++) {
		if ((quoted || depth > 0) && *p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (quoted) {
			quoted = *p != '"';
			continue;
		}
		if (*p == '(' || (depth > 0 && *p == ')')) {
			depth += *p == '(' ? 1 : -1;
			continue;
		}
		if (depth > 0)
			continue;
		if (*p == '"') {
			quoted = true;
		} else if (*p == ' ' || *p == ';') {
			start = NULL;
			in_value = false;
		} else if (start == NULL && !in_value) {
			start = p;
		}
		if (*p == '=' && start != NULL) {
			n += (size_t)snprintf(keys + n, n < size ? size - n : 0, "%s%.*s",
					      n > 0 ? ";" : "", (int)(p - start), start);
			start = NULL;
			in_value = true;
		}
	}
	if (quoted)
		fail("a quoted string is left open", value);
	if (depth != 0)
		fail("the comment is left open", value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *field[5] = { NULL }, *p, *end;
	char *buf = malloc(1024), keys[256];
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
	for (p = buf; *p >= ' ' && *p <= '~'; p++)
		;
	if (*p != '\0')
		fail("a byte that is not printable ASCII", buf);
	if (strlen(buf) >= 980)
		fail("980 bytes or more", buf);
	top_keys(buf, keys, sizeof(keys));
	if (strcmp(keys, f.helo != NULL && f.helo[0] != '\0'
				 ? "client-ip;envelope-from;helo;receiver;identity"
				 : "client-ip;envelope-from;receiver;identity") != 0)
		fail("top-level keys are not the five (or four) of Received-SPF", buf);
	free(copy);
	free(buf);
	return 0;
}
