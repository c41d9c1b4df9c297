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
 *	A model of the request (what each field must hold) is kept beside it
 *	and compared after every operation:
 *	  - a value within its limit is stored exactly (brackets stripped for
 *	    the sender and recipients, "<>" -> ""), a longer one is refused
 *	    (-1, field cleared) and request_overflow names the first
 *	    overflowing field, the connection's before the message's;
 *	  - the recipient count never exceeds rcpt_max, every status is right;
 *	  - request_message_reset clears exactly the message part;
 *	  - resolver_resolve returns the first of its keys whose value is
 *	    non-empty and not "None" (computed from the model).
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

/* the model */
static char *model[REQ_FIELD_COUNT];
static char *model_macro[REQUEST_MACROS_MAX];
static size_t model_rcpt_n;
static const char *model_conn_over, *model_msg_over;
static unsigned op_no;

/* fail - report a broken promise and abort */
static void fail(const char *what)
{
	fprintf(stderr, "request: %s (operation %u)\n", what, op_no);
	abort();
}

/* init - compile the resolver orders once */
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
	}
}

/* model_set - store len bytes of v (NULL: clear) in *slot */
static void model_set(char **slot, const char *v, size_t len)
{
	free(*slot);
	*slot = NULL;
	if (v != NULL) {
		*slot = malloc(len + 1);
		if (*slot == NULL)
			abort();
		memcpy(*slot, v, len);
		(*slot)[len] = '\0';
	}
}

/* model_over - note an overflow of a message or connection field */
static void model_over(bool message, const char *name)
{
	if (message && model_msg_over == NULL)
		model_msg_over = name;
	if (!message && model_conn_over == NULL)
		model_conn_over = name;
}

/* same - a and b both NULL or equal */
static bool same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* compare - the request matches the model */
static void compare(const struct request *req, size_t n_macros)
{
	const char *want_over = model_conn_over ? model_conn_over : model_msg_over;

	for (int f = 0; f < REQ_FIELD_COUNT; f++)
		if (!same(request_get(req, (enum request_field)f), model[f]))
			fail(request_field_name((enum request_field)f));
	for (size_t i = 0; i < n_macros; i++)
		if (!same(request_get_macro(req, i), model_macro[i]))
			fail("macro slot differs from the model");
	if (request_get_macro(req, n_macros) != NULL)
		fail("a macro slot past n_macros has a value");
	if (request_rcpt_count(req) != model_rcpt_n)
		fail("recipient count differs from the model");
	if (!same(request_overflow(req), want_over))
		fail("request_overflow differs from the model");
	if (request_sender_is_null(req) != (model[REQ_SENDER] != NULL && !*model[REQ_SENDER]))
		fail("request_sender_is_null differs from the model");
}

/* strip - the span of v inside one outer <...> */
static void strip(const char *v, const char **start, size_t *len)
{
	size_t n = strlen(v);

	if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
		*start = v + 1;
		*len = n - 2;
	} else {
		*start = v;
		*len = n;
	}
}

/* expect_resolve - what resolver r must return for the model */
static const char *expect_resolve(const struct resolver *r, const struct request *req)
{
	for (size_t i = 0; i < resolver_key_count(r); i++) {
		const char *name = resolver_key_name(r, i), *v = NULL;
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
		bool found = false;

		for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++)
			if (strcmp(name, named[k].name) == 0) {
				v = model[named[k].f];
				found = true;
			}
		if (!found)
			for (size_t m = 0; m < resolver_macro_count(r); m++)
				if (strcmp(name, resolver_macro_name(r, m)) == 0)
					v = request_get_macro(req, m) ? model_macro[m] : NULL;
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
	size_t pos = 5, n_macros;

	if (resolvers[0] == NULL)
		init();
	if (size < 5)
		return 0;
	r = resolvers[data[0] % N_ORDERS];
	lim.value_max = value_max[data[1] % 3];
	lim.addr_max = addr_max[data[2] % 3];
	lim.rcpt_max = rcpt_max[data[3] % 3];
	lim.esmtp_max = esmtp_max[data[4] % 3];
	n_macros = resolver_macro_count(r);
	req = request_create(&lim, n_macros);
	memset(model, 0, sizeof(model));
	memset(model_macro, 0, sizeof(model_macro));
	model_rcpt_n = 0;
	model_conn_over = model_msg_over = NULL;
	op_no = 0;

	while (pos + 4 <= size) {
		unsigned op = data[pos], arg = data[pos + 1];
		size_t len = (size_t)data[pos + 2] << 8 | data[pos + 3], vlen;
		char *v;
		const char *start, *got, *key = NULL;
		size_t slen;
		bool msg;

		pos += 4;
		if (op & 0x80) {	/* a run: len x 2 copies of arg's byte */
			len *= 2;
			v = malloc(len + 1);
			if (v == NULL)
				abort();
			memset(v, (int)(pos < size ? data[pos] : 'a'), len);
			pos += pos < size;
		} else {
			if (len > size - pos)
				len = size - pos;
			v = malloc(len + 1);
			if (v == NULL)
				abort();
			memcpy(v, data + pos, len);
			pos += len;
		}
		v[len] = '\0';
		vlen = strlen(v);	/* libmilter's strings end at their first NUL */
		op_no++;

		switch ((op & 0x7f) % 9) {
		case 0: {	/* set a field (arg: field; high bit: NULL) */
			enum request_field f = (enum request_field)(arg % REQ_FIELD_COUNT);
			size_t max = f == REQ_SENDER ? lim.addr_max :
				     f == REQ_ESMTP_ARGS ? lim.esmtp_max : lim.value_max;
			int st;

			msg = f >= REQ_FIRST_MESSAGE_FIELD;
			if (arg & 0x80) {
				st = request_set(req, f, NULL);
				model_set(&model[f], NULL, 0);
			} else {
				st = request_set(req, f, v);
				if (vlen > max) {
					model_set(&model[f], NULL, 0);
					model_over(msg, request_field_name(f));
				} else {
					model_set(&model[f], v, vlen);
				}
			}
			if ((st < 0) != (!(arg & 0x80) && vlen > max))
				fail("request_set status");
			break;
		}
		case 1:		/* the sender */
			strip(v, &start, &slen);
			if ((request_set_sender(req, v) < 0) != (slen > lim.addr_max))
				fail("request_set_sender status");
			if (slen > lim.addr_max) {
				model_set(&model[REQ_SENDER], NULL, 0);
				model_over(true, "sender");
			} else {
				model_set(&model[REQ_SENDER], start, slen);
			}
			break;
		case 2:		/* arg + 1 recipients (2000 from 250 on), all v (one when v is long) */
			strip(v, &start, &slen);
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
				got = request_rcpt(req, model_rcpt_n - 1);
				if (got == NULL || strlen(got) != slen || memcmp(got, start, slen) != 0)
					fail("recipient not stored as given");
			}
			if (request_rcpt(req, model_rcpt_n) != NULL)
				fail("a recipient past the count");
			break;
		case 3:		/* remove the last recipient */
			request_remove_last_rcpt(req);
			if (model_rcpt_n > 0)
				model_rcpt_n--;
			break;
		case 4: {	/* ESMTP arguments: v split at '\n' */
			char *argv[64], *p = v, *joined;
			size_t n = 0, total = 0;
			bool over = false;

			while (p != NULL && n < 63) {
				char *nl = strchr(p, '\n');

				if (nl != NULL)
					*nl++ = '\0';
				argv[n++] = p;
				total += strlen(p) + (n > 1);
				if (total > lim.esmtp_max)
					over = true;
				p = nl;
			}
			argv[n] = NULL;
			if (arg & 1)	/* an empty list */
				argv[0] = NULL;
			if ((request_set_esmtp(req, argv) < 0) != (over && !(arg & 1)))
				fail("request_set_esmtp status");
			model_set(&model[REQ_ESMTP_ARGS], NULL, 0);
			if (arg & 1)
				break;
			if (over) {
				model_over(true, "esmtp_args");
				break;
			}
			joined = malloc(total + 1);
			if (joined == NULL)
				abort();
			joined[0] = '\0';
			for (size_t i = 0; i < n; i++) {
				if (i > 0)
					strcat(joined, " ");
				strcat(joined, argv[i]);
			}
			model[REQ_ESMTP_ARGS] = joined;
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
				model_set(&model_macro[i], NULL, 0);
				model_over(true, "{macro}");
			} else {
				model_set(&model_macro[i], (arg & 0x80) ? NULL : v, vlen);
			}
			break;
		}
		case 6:		/* a new message */
			request_message_reset(req);
			for (int f = REQ_FIRST_MESSAGE_FIELD; f < REQ_FIELD_COUNT; f++)
				model_set(&model[f], NULL, 0);
			for (size_t i = 0; i < REQUEST_MACROS_MAX; i++)
				model_set(&model_macro[i], NULL, 0);
			model_rcpt_n = 0;
			model_msg_over = NULL;
			break;
		default:	/* resolve */
			got = resolver_resolve(r, req, &key);
			if (!same(got, expect_resolve(r, req)))
				fail("resolver_resolve differs from the model");
			if (got != NULL && (key == NULL || !resolver_key_valid(key)))
				fail("resolver_resolve matched without a valid key name");
			break;
		}
		free(v);
		compare(req, n_macros);
	}

	request_destroy(&req);
	request_destroy(&req);
	if (req != NULL)
		fail("request_destroy did not clear the pointer");
	for (int f = 0; f < REQ_FIELD_COUNT; f++)
		model_set(&model[f], NULL, 0);
	for (size_t i = 0; i < REQUEST_MACROS_MAX; i++)
		model_set(&model_macro[i], NULL, 0);
	return 0;
}
