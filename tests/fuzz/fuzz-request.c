/*
 * NAME
 *	fuzz-request - libFuzzer target for the request object and the resolver
 * DESCRIPTION
 *	The input is a program for one connection: byte 0 picks one of the
 *	resolver orders below, bytes 1-4 the limits (value, address,
 *	recipients, ESMTP: small, default or large); then each operation is
 *	an opcode byte, an argument byte and a value: two length bytes and
 *	that many bytes (NULs included: the value is cut at the first NUL as
 *	libmilter's strings are), or, with the opcode's high bit, a run of
 *	one byte (length 0..65535 x 2, so 64 KiB values cost 4 input bytes).
 *	Operations: set a field, set the sender, add recipients (the argument
 *	is a count: arg + 1 recipients, 2000 for arg >= 250; one recipient when
 *	the value is over 1 KiB, to bound memory), remove the last recipient,
 *	set an ESMTP argument list (the value split at '\n'), set a macro
 *	slot, reset the message, resolve.
 *
 *	A model of the request (what each field must hold) is kept beside it:
 *	  - a value within its limit is stored exactly (brackets stripped for
 *	    the sender and recipients, "<>" -> ""), a longer one is refused
 *	    (-1, field cleared) and request_overflow names the first
 *	    overflowing field, the connection's before the message's;
 *	  - the recipient count never exceeds rcpt_max, every status is right,
 *	    every recipient is stored as given;
 *	  - request_message_reset clears exactly the message part;
 *	  - resolver_resolve returns the first of its keys whose value is
 *	    non-empty and not "None" (computed from the model).
 *
 *	When it is compared: after every operation, the content of what the
 *	operation changed (the field or macro slot it set, each recipient it
 *	added, the resolver's answer) and, for every field and macro slot,
 *	whether it is set, plus the recipient count, request_overflow and
 *	request_sender_is_null; the content of every field and macro slot
 *	after every operation while the model holds at most FULL_BYTES bytes,
 *	otherwise every FULL_EVERY operations, and always at the end of the
 *	program.  (Comparing every 64 KiB field after every operation made
 *	the target spend its time in strcmp and was not needed to see a slot
 *	change behind the model's back: such a change stays until the next
 *	full comparison.)
 *
 *	Speed without losing what ASan sees: a value is built in one static
 *	buffer, placed so that its terminating NUL is the buffer's last byte
 *	(the global's redzone follows it) and with the part of the buffer
 *	before the value poisoned, so a read before or past the value is
 *	reported as with a malloc'd copy (to within ASan's 8-byte granule at
 *	the start); a run of one byte is written only where the buffer does
 *	not already hold it (a 64 KiB run costs no fresh pages per
 *	operation).  The model's values live in static buffers.  A program
 *	stops after WORK_MAX bytes of values and recipients (several times
 *	what 10,000 recipients of 1 KiB or sixteen 64 KiB macros need), so
 *	that no input costs more than a few milliseconds.
 * DIAGNOSTICS
 *	abort() on a broken promise, with the operation number on stderr.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#include "request/request.h"
#include "request/resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* resolver orders: (user_key, require, search order) */
static const struct {
	const char *user_key;
	bool require;
	const char *order[6];
} orders[] = {
	{"sasl_username", true, {NULL}},
	{"sasl_username", false, {"sasl_username", "ccert_subject", "sender", "client_address",
				  NULL}},
	{"{auth_authen}", false, {"{x_user}", "sender", "{x_other}", "helo_name", "client_name",
				  NULL}},
	{"{x_user}", false, {"sasl_sender", "{x_user}", "{x_other}", "sasl_method",
			     "ccert_issuer", NULL}},
};
#define N_ORDERS (sizeof(orders) / sizeof(orders[0]))

static struct resolver *resolvers[N_ORDERS];
/* the model slot each resolver key reads (a field, a macro slot, -1: none), by name once */
#define KEYS_MAX 16
static size_t key_n[N_ORDERS];
static int key_slot[N_ORDERS][KEYS_MAX];

/* the longest value an operation can carry (a run: 65535 x 2) */
#define VALUE_CAP (65535 * 2)
/* the largest limit of any kind: no stored value is longer */
#define MODEL_MAX 65536
/* full content comparison: after every operation while the model holds this much */
#define FULL_BYTES 4096
/* ... else every this many operations (and at the end) */
#define FULL_EVERY 32
/* bytes of values and recipients one program may move before it stops */
#define WORK_MAX (32u << 20)

/* the value of the current operation, its NUL at vbuf[VALUE_CAP] (see DESCRIPTION) */
static char vbuf[VALUE_CAP + 1];
static int run_byte = -1;	/* vbuf's last run_len bytes before the NUL are run_byte */
static size_t run_len;

/* the model: fields, then macro slots */
#define N_SLOTS (REQ_FIELD_COUNT + REQUEST_MACROS_MAX)
#define MACRO_SLOT(i) (REQ_FIELD_COUNT + (i))
static struct {
	bool set;
	size_t len;
} model[N_SLOTS];
static char model_text[N_SLOTS][MODEL_MAX + 1];
static size_t model_bytes;	/* sum of len over the set slots */
static size_t model_rcpt_n;
static const char *model_conn_over, *model_msg_over;
static unsigned op_no;

/* fail - report a broken promise and abort */
static void fail(const char *what)
{
	fprintf(stderr, "request: %s (operation %u)\n", what, op_no);
	abort();
}

/* key_to_slot - the model slot that key i of resolver r reads, -1 for none */
static int key_to_slot(const struct resolver *r, size_t i)
{
	static const struct {
		const char *name;
		enum request_field f;
	} named[] = {
		{"sasl_username", REQ_AUTH_AUTHEN}, {"sasl_method", REQ_AUTH_TYPE},
		{"sasl_sender", REQ_AUTH_AUTHOR}, {"ccert_subject", REQ_CERT_SUBJECT},
		{"ccert_issuer", REQ_CERT_ISSUER}, {"sender", REQ_SENDER},
		{"client_address", REQ_CLIENT_ADDR}, {"client_name", REQ_CLIENT_NAME},
		{"helo_name", REQ_HELO}, {"{auth_authen}", REQ_AUTH_AUTHEN},
	};
	const char *name = resolver_key_name(r, i);
	int slot = -1;

	for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++)
		if (strcmp(name, named[k].name) == 0)
			slot = (int)named[k].f;
	if (slot < 0)
		for (size_t m = 0; m < resolver_macro_count(r); m++)
			if (strcmp(name, resolver_macro_name(r, m)) == 0)
				slot = MACRO_SLOT(m);
	return slot;
}

/* init - compile the resolver orders, and map their keys to model slots, once */
static void init(void)
{
	const char *err;
	int bad;

	for (size_t i = 0; i < N_ORDERS; i++) {
		size_t n = 0;

		while (orders[i].order[n] != NULL)
			n++;
		if (resolver_create(orders[i].user_key, orders[i].require, orders[i].order, n,
				    &resolvers[i], &err, &bad) < 0) {
			fprintf(stderr, "resolver_create: %s\n", err);
			abort();
		}
		key_n[i] = resolver_key_count(resolvers[i]);
		if (key_n[i] > KEYS_MAX)
			fail("a resolver order has more keys than KEYS_MAX");
		for (size_t k = 0; k < key_n[i]; k++)
			key_slot[i][k] = key_to_slot(resolvers[i], k);
	}
}

/* value_place - make vbuf's last len bytes (and the NUL) the only addressable part */
static char *value_place(size_t len)
{
	char *v = vbuf + VALUE_CAP - len;

	ASAN_UNPOISON_MEMORY_REGION(v, len + 1);
	ASAN_POISON_MEMORY_REGION(vbuf, (size_t)(v - vbuf));
	return v;
}

/* value_run - the value of len copies of byte b */
static char *value_run(int b, size_t len)
{
	char *v = value_place(len);

	if (run_byte != b) {
		run_byte = b;
		run_len = 0;
	}
	if (run_len < len) {
		memset(v, b, len - run_len);
		run_len = len;
	}
	return v;
}

/* value_copy - the value of len bytes from p */
static char *value_copy(const uint8_t *p, size_t len)
{
	char *v = value_place(len);

	memcpy(v, p, len);
	run_byte = -1;
	run_len = 0;
	return v;
}

/* model_get - the model's value of slot, or NULL */
static const char *model_get(int slot)
{
	return model[slot].set ? model_text[slot] : NULL;
}

/* model_set - store len bytes of v (NULL: clear) in slot */
static void model_set(int slot, const char *v, size_t len)
{
	if (model[slot].set)
		model_bytes -= model[slot].len;
	model[slot].set = v != NULL;
	model[slot].len = 0;
	if (v == NULL)
		return;
	if (len > MODEL_MAX)
		fail("the model was asked to keep a value longer than any limit");
	memcpy(model_text[slot], v, len);
	model_text[slot][len] = '\0';
	model[slot].len = len;
	model_bytes += len;
}

/* model_over - note an overflow of a message or connection field */
static void model_over(bool message, const char *name)
{
	if (message && model_msg_over == NULL)
		model_msg_over = name;
	if (!message && model_conn_over == NULL)
		model_conn_over = name;
}

/* same - a and b both NULL or equal (strlen and memcmp: ASan's strcmp goes byte by byte) */
static bool same(const char *a, const char *b)
{
	size_t n;

	if (a == NULL || b == NULL)
		return a == b;
	n = strlen(a);
	return strlen(b) == n && memcmp(a, b, n) == 0;
}

/* same_slot - got holds exactly what the model has in slot (both NULL included) */
static bool same_slot(const char *got, int slot)
{
	size_t len = model[slot].len;

	if (!model[slot].set)
		return got == NULL;
	return got != NULL && strnlen(got, len + 1) == len && memcmp(got, model_text[slot], len) == 0;
}

/* slot_value - what the request holds for slot */
static const char *slot_value(const struct request *req, int slot)
{
	return slot < REQ_FIELD_COUNT ? request_get(req, (enum request_field)slot) :
					request_get_macro(req, (size_t)(slot - REQ_FIELD_COUNT));
}

/* compare_slot - the content of one slot matches the model */
static void compare_slot(const struct request *req, int slot)
{
	if (!same_slot(slot_value(req, slot), slot))
		fail(slot < REQ_FIELD_COUNT ? request_field_name((enum request_field)slot) :
					      "macro slot differs from the model");
}

/* compare - the request matches the model (content of every slot when full) */
static void compare(const struct request *req, size_t n_macros, bool full)
{
	const char *want_over = model_conn_over ? model_conn_over : model_msg_over;

	for (int f = 0; f < REQ_FIELD_COUNT; f++)
		if (full)
			compare_slot(req, f);
		else if ((request_get(req, (enum request_field)f) != NULL) != model[f].set)
			fail(request_field_name((enum request_field)f));
	for (size_t i = 0; i < n_macros; i++)
		if (full)
			compare_slot(req, MACRO_SLOT(i));
		else if ((request_get_macro(req, i) != NULL) != model[MACRO_SLOT(i)].set)
			fail("macro slot differs from the model");
	if (request_get_macro(req, n_macros) != NULL)
		fail("a macro slot past n_macros has a value");
	if (request_rcpt_count(req) != model_rcpt_n)
		fail("recipient count differs from the model");
	if (request_rcpt(req, model_rcpt_n) != NULL)
		fail("a recipient past the count");
	if (!same(request_overflow(req), want_over))
		fail("request_overflow differs from the model");
	if (request_sender_is_null(req) != (model[REQ_SENDER].set && model[REQ_SENDER].len == 0))
		fail("request_sender_is_null differs from the model");
}

/* strip - the span of v (n bytes) inside one outer <...> */
static void strip(const char *v, size_t n, const char **start, size_t *len)
{
	if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
		*start = v + 1;
		*len = n - 2;
	} else {
		*start = v;
		*len = n;
	}
}

/* expect_resolve - what resolver r (orders[o]) must return for the model */
static const char *expect_resolve(size_t o, const struct request *req)
{
	for (size_t i = 0; i < key_n[o]; i++) {
		int slot = key_slot[o][i];
		const char *v = NULL;

		if (slot >= REQ_FIELD_COUNT)
			v = request_get_macro(req, (size_t)(slot - REQ_FIELD_COUNT)) ? model_get(slot) :
										       NULL;
		else if (slot >= 0)
			v = model_get(slot);
		if (v != NULL && *v != '\0' && strcmp(v, "None") != 0)
			return v;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t value_max[] = {8, REQUEST_VALUE_MAX_DEFAULT, 65536};
	static const size_t addr_max[] = {6, REQUEST_ADDR_MAX_DEFAULT, 65536};
	static const size_t rcpt_max[] = {3, REQUEST_RCPT_MAX_DEFAULT, 5000};
	static const size_t esmtp_max[] = {10, REQUEST_ESMTP_MAX_DEFAULT, 65536};
	struct request_limits lim;
	struct request *req;
	const struct resolver *r;
	size_t o, pos = 5, n_macros, work = 0;

	if (resolvers[0] == NULL)
		init();
	if (size < 5)
		return 0;
	o = data[0] % N_ORDERS;
	r = resolvers[o];
	lim.value_max = value_max[data[1] % 3];
	lim.addr_max = addr_max[data[2] % 3];
	lim.rcpt_max = rcpt_max[data[3] % 3];
	lim.esmtp_max = esmtp_max[data[4] % 3];
	n_macros = resolver_macro_count(r);
	req = request_create(&lim, n_macros);
	for (int s = 0; s < N_SLOTS; s++)
		model_set(s, NULL, 0);
	model_rcpt_n = 0;
	model_conn_over = model_msg_over = NULL;
	op_no = 0;

	while (pos + 4 <= size && work <= WORK_MAX) {
		unsigned op = data[pos], arg = data[pos + 1];
		size_t len = (size_t)data[pos + 2] << 8 | data[pos + 3], vlen;
		char *v, *nul;
		const char *start, *got, *key = NULL;
		size_t slen;
		bool msg;
		int touched = -1;	/* the slot whose content this operation set */

		pos += 4;
		/* the value; libmilter's strings end at their first NUL, so vlen is up to it */
		if (op & 0x80) {	/* a run: len x 2 copies of the byte after the length */
			int b = pos < size ? data[pos] : 'a';

			len *= 2;
			v = value_run(b, len);
			vlen = b != 0 ? len : 0;
			pos += pos < size;
		} else {
			if (len > size - pos)
				len = size - pos;
			v = value_copy(data + pos, len);
			pos += len;
			nul = memchr(v, '\0', len);
			vlen = nul != NULL ? (size_t)(nul - v) : len;
		}
		op_no++;
		work += vlen + 64;

		switch ((op & 0x7f) % 9) {
		case 0: {	/* set a field (arg: field; high bit: NULL) */
			enum request_field f = (enum request_field)(arg % REQ_FIELD_COUNT);
			size_t max = f == REQ_SENDER ? lim.addr_max :
				     f == REQ_ESMTP_ARGS ? lim.esmtp_max : lim.value_max;
			int st;

			msg = f >= REQ_FIRST_MESSAGE_FIELD;
			if (arg & 0x80) {
				st = request_set(req, f, NULL);
				model_set(f, NULL, 0);
			} else {
				st = request_set(req, f, v);
				if (vlen > max) {
					model_set(f, NULL, 0);
					model_over(msg, request_field_name(f));
				} else {
					model_set(f, v, vlen);
				}
			}
			if ((st < 0) != (!(arg & 0x80) && vlen > max))
				fail("request_set status");
			touched = f;
			break;
		}
		case 1:		/* the sender */
			strip(v, vlen, &start, &slen);
			if ((request_set_sender(req, v) < 0) != (slen > lim.addr_max))
				fail("request_set_sender status");
			if (slen > lim.addr_max) {
				model_set(REQ_SENDER, NULL, 0);
				model_over(true, "sender");
			} else {
				model_set(REQ_SENDER, start, slen);
			}
			touched = REQ_SENDER;
			break;
		case 2:		/* arg + 1 recipients (2000 from 250 on), all v (one when v is long) */
			strip(v, vlen, &start, &slen);
			for (unsigned i = 0; i < (slen > 1024 ? 1 : arg < 250 ? arg + 1 : 2000); i++) {
				enum request_rcpt_status st = request_add_rcpt(req, v);
				enum request_rcpt_status want =
					slen > lim.addr_max ? REQUEST_RCPT_TOO_LONG :
					model_rcpt_n >= lim.rcpt_max ? REQUEST_RCPT_TOO_MANY :
					REQUEST_RCPT_OK;

				if (st != want)
					fail("request_add_rcpt status");
				if (st != REQUEST_RCPT_OK)
					break;
				model_rcpt_n++;
				work += slen + 64;
				got = request_rcpt(req, model_rcpt_n - 1);
				if (got == NULL || strnlen(got, slen + 1) != slen ||
				    memcmp(got, start, slen) != 0)
					fail("recipient not stored as given");
			}
			break;
		case 3:		/* remove the last recipient */
			request_remove_last_rcpt(req);
			if (model_rcpt_n > 0)
				model_rcpt_n--;
			break;
		case 4: {	/* ESMTP arguments: v split at '\n' */
			char *argv[64], *p = v;
			size_t n = 0, total = 0, alen[64];
			bool over = false;

			run_byte = -1;	/* the split writes into vbuf */
			while (p != NULL && n < 63) {
				char *nl = memchr(p, '\n', vlen - (size_t)(p - v));

				alen[n] = nl != NULL ? (size_t)(nl - p) : vlen - (size_t)(p - v);
				if (nl != NULL)
					*nl++ = '\0';
				argv[n++] = p;
				total += alen[n - 1] + (n > 1);
				if (total > lim.esmtp_max)
					over = true;
				p = nl;
			}
			argv[n] = NULL;
			if (arg & 1)	/* an empty list */
				argv[0] = NULL;
			if ((request_set_esmtp(req, argv) < 0) != (over && !(arg & 1)))
				fail("request_set_esmtp status");
			model_set(REQ_ESMTP_ARGS, NULL, 0);
			touched = REQ_ESMTP_ARGS;
			if (arg & 1)
				break;
			if (over) {
				model_over(true, "esmtp_args");
				break;
			}
			/* the model: the arguments joined by one space, built in place */
			char *joined = model_text[REQ_ESMTP_ARGS];
			size_t j = 0;

			for (size_t i = 0; i < n; i++) {
				if (i > 0)
					joined[j++] = ' ';
				memcpy(joined + j, argv[i], alen[i]);
				j += alen[i];
			}
			joined[j] = '\0';
			model[REQ_ESMTP_ARGS].set = true;
			model[REQ_ESMTP_ARGS].len = j;
			model_bytes += j;
			break;
		}
		case 5: {	/* a macro slot (may be past n_macros) */
			size_t i = arg % (REQUEST_MACROS_MAX + 1);
			int st = request_set_macro(req, i, (arg & 0x80) ? NULL : v);

			if (i >= n_macros) {
				if (st != -1)
					fail("request_set_macro past n_macros did not fail");
				break;
			}
			if ((st < 0) != (!(arg & 0x80) && vlen > lim.value_max))
				fail("request_set_macro status");
			if (!(arg & 0x80) && vlen > lim.value_max) {
				model_set(MACRO_SLOT(i), NULL, 0);
				model_over(true, "{macro}");
			} else {
				model_set(MACRO_SLOT(i), (arg & 0x80) ? NULL : v, vlen);
			}
			touched = MACRO_SLOT(i);
			break;
		}
		case 6:		/* a new message: the cheap comparison sees every cleared slot */
			request_message_reset(req);
			for (int f = REQ_FIRST_MESSAGE_FIELD; f < REQ_FIELD_COUNT; f++)
				model_set(f, NULL, 0);
			for (size_t i = 0; i < REQUEST_MACROS_MAX; i++)
				model_set(MACRO_SLOT(i), NULL, 0);
			model_rcpt_n = 0;
			model_msg_over = NULL;
			break;
		default:	/* resolve */
			got = resolver_resolve(r, req, &key);
			if (!same(got, expect_resolve(o, req)))
				fail("resolver_resolve differs from the model");
			if (got != NULL && (key == NULL || !resolver_key_valid(key)))
				fail("resolver_resolve matched without a valid key name");
			break;
		}
		if (touched >= 0)
			compare_slot(req, touched);
		compare(req, n_macros, model_bytes <= FULL_BYTES || op_no % FULL_EVERY == 0);
	}
	compare(req, n_macros, true);

	request_destroy(&req);
	request_destroy(&req);
	if (req != NULL)
		fail("request_destroy did not clear the pointer");
	return 0;
}
