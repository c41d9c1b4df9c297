/*
 * NAME
 *	fuzz-greylist - libFuzzer target for the greylisting tuple builder
 * DESCRIPTION
 *	Input: byte 0 is the IPv4 prefix (0..255, the function clamps it to
 *	32), byte 1 the IPv6 prefix (clamped to 128), byte 2 the size of a
 *	small output buffer (0..255); the rest, split at its first NUL, is the
 *	client address and the envelope sender (which an attacker chooses:
 *	SRS, BATV, +tag, case).  Beyond "no crash", the promises of
 *	policy/greylist.h are checked:
 *	  greylist_client_key
 *	  - the key is NUL-terminated inside the buffer, whatever its size,
 *	    and a small buffer gets a prefix of the full key;
 *	  - -1 exactly when the text is no IPv4 or IPv6 address, and then the
 *	    key is the text itself;
 *	  - 0: the key is "address" or "address/bits", bits the clamped
 *	    prefix of the key's family (an IPv4-mapped IPv6 address is keyed
 *	    as IPv4); keying the key's address again gives the same key (the
 *	    host bits are cleared);
 *	  greylist_strip_sender
 *	  - returns buf, NUL-terminated inside it; never longer than the
 *	    sender; a small buffer gets (up to case) a prefix of the full
 *	    result;
 *	  - the domain (after the last '@') of the result has no upper case;
 *	  - the case of the sender's domain does not change the result.
 * DIAGNOSTICS
 *	abort() on a broken promise, with the input on stderr.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "policy/greylist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CANARY 0x5a

/* fail - report a broken promise and abort */
static void fail(const char *what, const char *addr, const char *sender)
{
	fprintf(stderr, "greylist: %s; addr \"%s\" sender \"%s\"\n", what, addr, sender);
	abort();
}

/* terminated - buf (size bytes) holds a NUL and nothing was written past it */
static int terminated(const char *buf, size_t size, size_t room)
{
	if (size > 0 && memchr(buf, '\0', size) == NULL)
		return 0;
	for (size_t i = size; i < room; i++)
		if ((unsigned char)buf[i] != CANARY)
			return 0;
	return 1;
}

/* check_client - the promises of greylist_client_key for addr */
static void check_client(const char *addr, unsigned p4, unsigned p6, size_t small,
			 const char *sender)
{
	char full[1200], part[300], again[1200], ip[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];
	int st, st2, fam, want_bits;
	const char *slash;

	memset(full, CANARY, sizeof(full));
	st = greylist_client_key(addr, p4, p6, full, sizeof(full));
	if (!terminated(full, sizeof(full), sizeof(full)))
		fail("client key not terminated", addr, sender);
	memset(part, CANARY, sizeof(part));
	st2 = greylist_client_key(addr, p4, p6, part, small);
	if (st2 != st || !terminated(part, small, sizeof(part)))
		fail("client key into a small buffer", addr, sender);
	if (small > 0 && strncmp(part, full, small - 1) != 0)
		fail("small-buffer client key is not a prefix of the full one", addr, sender);

	fam = inet_pton(AF_INET, addr, bin) == 1 ? AF_INET :
	      inet_pton(AF_INET6, addr, bin) == 1 ? AF_INET6 : 0;
	if ((st == 0) != (fam != 0))
		fail("client key status does not match the address", addr, sender);
	if (st < 0) {
		if (strlen(addr) < sizeof(full) && strcmp(full, addr) != 0)
			fail("client key of a non-address is not the text", addr, sender);
		return;
	}
	if (fam == AF_INET6 && memcmp(bin, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
		fam = AF_INET;
	want_bits = fam == AF_INET ? (p4 > 32 ? 32 : (int)p4) : (p6 > 128 ? 128 : (int)p6);
	slash = strchr(full, '/');
	if (slash == NULL) {
		if (want_bits != (fam == AF_INET ? 32 : 128))
			fail("client key without /bits for a shorter prefix", addr, sender);
		snprintf(ip, sizeof(ip), "%s", full);
	} else {
		if (atoi(slash + 1) != want_bits)
			fail("client key /bits is not the clamped prefix", addr, sender);
		snprintf(ip, sizeof(ip), "%.*s", (int)(slash - full), full);
	}
	if (inet_pton(fam, ip, bin) != 1)
		fail("client key address is not of the client's family", addr, sender);
	if (greylist_client_key(ip, p4, p6, again, sizeof(again)) != 0 || strcmp(again, full) != 0)
		fail("keying the key's address again gives another key", addr, sender);
}

/* check_sender - the promises of greylist_strip_sender for sender */
static void check_sender(const char *addr, const char *sender, size_t small)
{
	char full[1200], part[300], other[1200], *upper, *at;
	size_t len = strlen(sender);

	memset(full, CANARY, sizeof(full));
	if (greylist_strip_sender(sender, full, sizeof(full)) != full ||
	    !terminated(full, sizeof(full), sizeof(full)))
		fail("stripped sender not terminated", addr, sender);
	if (strlen(full) > len)
		fail("stripped sender longer than the sender", addr, sender);
	at = strrchr(full, '@');
	for (const char *p = at; p != NULL && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			fail("upper case in the stripped sender's domain", addr, sender);

	memset(part, CANARY, sizeof(part));
	if (greylist_strip_sender(sender, part, small) != part ||
	    !terminated(part, small, sizeof(part)))
		fail("stripped sender into a small buffer", addr, sender);
	if (small > 0 && strncasecmp(part, full, small - 1) != 0)
		fail("small-buffer stripped sender is not a prefix of the full one", addr, sender);

	/* the domain's case does not matter */
	upper = strdup(sender);
	if (upper == NULL)
		abort();
	at = strrchr(upper, '@');
	for (char *p = at; p != NULL && *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	greylist_strip_sender(upper, other, sizeof(other));
	if (strcmp(other, full) != 0)
		fail("the case of the sender's domain changes the stripped sender", addr, sender);
	free(upper);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *sender;
	unsigned p4, p6;
	size_t small;

	if (size < 3)
		return 0;
	p4 = data[0];
	p6 = data[1];
	small = data[2];
	data += 3;
	size -= 3;
	s = malloc(size + 2);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	s[size + 1] = '\0';
	sender = s + strlen(s) + 1;	/* after the first NUL (or the empty string) */
	check_client(s, p4, p6, small, sender);
	check_sender(s, sender, small);
	free(s);
	return 0;
}
