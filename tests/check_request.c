/*
 * NAME
 *	check_request - unit tests of common/request (bounded session facts)
 * DESCRIPTION
 *	Limits are small and all different (value 100, address 70, ESMTP
 *	130) so that a field checked against the wrong limit fails.  Covers
 *	the bound of every field (limit kept, limit + 1 refused and named by
 *	request_overflow), the scope of an overflow, angle-bracket stripping,
 *	ESMTP joining, macro slots, recipients (10,000 kept in order, the
 *	rcpt_max refusal, removal) and a 64 KiB value.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request/request.h"

#include "check_main.h"

#define T_VALUE_MAX 100
#define T_ADDR_MAX 70
#define T_ESMTP_MAX 130
#define T_RCPT_MAX 5
#define T_MACROS 3

/* new_request - a request with the test limits */
static struct request *new_request(size_t rcpt_max)
{
	struct request_limits l = {
		.value_max = T_VALUE_MAX,
		.addr_max = T_ADDR_MAX,
		.rcpt_max = rcpt_max,
		.esmtp_max = T_ESMTP_MAX,
	};

	return request_create(&l, T_MACROS);
}

/* filled - a new string of n bytes of c, with prefix/suffix around it */
static char *filled(const char *prefix, size_t n, char c, const char *suffix)
{
	size_t p = strlen(prefix), q = strlen(suffix);
	char *s = malloc(p + n + q + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, prefix, p);
	memset(s + p, c, n);
	memcpy(s + p + n, suffix, q + 1);
	return s;
}

static const struct {
	const char *name;
	enum request_field field;
	size_t max;
	const char *overflow;	/* want request_overflow() */
	bool connection;	/* survives request_message_reset */
} bounds[] = {
	{ "client address", REQ_CLIENT_ADDR, T_VALUE_MAX, "client_address", true },
	{ "client name", REQ_CLIENT_NAME, T_VALUE_MAX, "client_name", true },
	{ "client port", REQ_CLIENT_PORT, T_VALUE_MAX, "client_port", true },
	{ "helo", REQ_HELO, T_VALUE_MAX, "helo_name", true },
	{ "daemon name", REQ_DAEMON_NAME, T_VALUE_MAX, "{daemon_name}", true },
	{ "daemon addr", REQ_DAEMON_ADDR, T_VALUE_MAX, "{daemon_addr}", true },
	{ "daemon port", REQ_DAEMON_PORT, T_VALUE_MAX, "{daemon_port}", true },
	{ "auth_authen", REQ_AUTH_AUTHEN, T_VALUE_MAX, "{auth_authen}", false },
	{ "auth_type", REQ_AUTH_TYPE, T_VALUE_MAX, "{auth_type}", false },
	{ "auth_author", REQ_AUTH_AUTHOR, T_VALUE_MAX, "{auth_author}", false },
	{ "cert_subject", REQ_CERT_SUBJECT, T_VALUE_MAX, "{cert_subject}", false },
	{ "cert_issuer", REQ_CERT_ISSUER, T_VALUE_MAX, "{cert_issuer}", false },
	{ "sender", REQ_SENDER, T_ADDR_MAX, "sender", false },
	{ "esmtp args", REQ_ESMTP_ARGS, T_ESMTP_MAX, "esmtp_args", false },
	{ "queue id", REQ_QUEUE_ID, T_VALUE_MAX, "{i}", false },
};

/* a value of exactly the limit is kept; one byte more is refused and named */
START_TEST(test_field_bounds)
{
	struct request *req = new_request(T_RCPT_MAX);
	char *at = filled("", bounds[_i].max, 'a', "");
	char *over = filled("", bounds[_i].max + 1, 'b', "");
	const char *got;

	ck_assert_msg(request_set(req, bounds[_i].field, at) == 0,
		      "%s: %zu bytes: got -1, want 0", bounds[_i].name, bounds[_i].max);
	got = request_get(req, bounds[_i].field);
	ck_assert_msg(got != NULL && strcmp(got, at) == 0, "%s: value at the limit not kept",
		      bounds[_i].name);
	ck_assert_msg(request_overflow(req) == NULL, "%s: overflow got \"%s\", want none",
		      bounds[_i].name, request_overflow(req));

	ck_assert_msg(request_set(req, bounds[_i].field, over) == -1,
		      "%s: %zu bytes: got 0, want -1", bounds[_i].name, bounds[_i].max + 1);
	got = request_get(req, bounds[_i].field);
	ck_assert_msg(got == NULL, "%s: after an overflow the field got \"%.20s...\", want NULL",
		      bounds[_i].name, got);
	got = request_overflow(req);
	ck_assert_msg(got != NULL && strcmp(got, bounds[_i].overflow) == 0,
		      "%s: request_overflow got \"%s\", want \"%s\"", bounds[_i].name,
		      got ? got : "(null)", bounds[_i].overflow);
	ck_assert_msg(strcmp(request_field_name(bounds[_i].field), bounds[_i].overflow) == 0,
		      "%s: request_field_name got \"%s\", want \"%s\"", bounds[_i].name,
		      request_field_name(bounds[_i].field), bounds[_i].overflow);

	/* the scope: a connection overflow taints later messages, a message one not */
	request_message_reset(req);
	got = request_overflow(req);
	if (bounds[_i].connection)
		ck_assert_msg(got != NULL && strcmp(got, bounds[_i].overflow) == 0,
			      "%s: after reset overflow got \"%s\", want \"%s\" (connection)",
			      bounds[_i].name, got ? got : "(null)", bounds[_i].overflow);
	else
		ck_assert_msg(got == NULL,
			      "%s: after reset overflow got \"%s\", want none (message scope)",
			      bounds[_i].name, got);
	free(at);
	free(over);
	request_destroy(&req);
}
END_TEST

/* the first overflow of a scope is the one reported */
START_TEST(test_first_overflow_wins)
{
	struct request *req = new_request(T_RCPT_MAX);
	char *over = filled("", T_VALUE_MAX + 1, 'x', "");

	ck_assert_int_eq(request_set(req, REQ_AUTH_TYPE, over), -1);
	ck_assert_int_eq(request_set(req, REQ_AUTH_AUTHEN, over), -1);
	ck_assert_str_eq(request_overflow(req), "{auth_type}");
	/* a later good value does not clear the overflow */
	ck_assert_int_eq(request_set(req, REQ_AUTH_TYPE, "PLAIN"), 0);
	ck_assert_str_eq(request_overflow(req), "{auth_type}");
	request_message_reset(req);
	ck_assert_ptr_null(request_overflow(req));
	free(over);
	request_destroy(&req);
}
END_TEST

/* request_message_reset keeps the connection, forgets the message */
START_TEST(test_message_reset)
{
	struct request *req = new_request(T_RCPT_MAX);
	char size[] = "SIZE=10", *argv[] = { size, NULL };

	request_set(req, REQ_CLIENT_ADDR, "192.0.2.1");
	request_set(req, REQ_CLIENT_NAME, "mail.example.com");
	request_set(req, REQ_HELO, "helo.example.com");
	request_set(req, REQ_AUTH_AUTHEN, "alice");
	request_set(req, REQ_QUEUE_ID, "4ABC");
	request_set_sender(req, "<alice@example.com>");
	request_set_esmtp(req, argv);
	request_set_macro(req, 0, "m0");
	ck_assert_int_eq(request_add_rcpt(req, "<bob@example.net>"), REQUEST_RCPT_OK);

	request_message_reset(req);
	ck_assert_str_eq(request_get(req, REQ_CLIENT_ADDR), "192.0.2.1");
	ck_assert_str_eq(request_get(req, REQ_CLIENT_NAME), "mail.example.com");
	ck_assert_str_eq(request_get(req, REQ_HELO), "helo.example.com");
	for (int f = REQ_FIRST_MESSAGE_FIELD; f < REQ_FIELD_COUNT; f++)
		ck_assert_msg(request_get(req, (enum request_field)f) == NULL,
			      "field %s got \"%s\" after reset, want NULL",
			      request_field_name((enum request_field)f),
			      request_get(req, (enum request_field)f));
	ck_assert_ptr_null(request_get_macro(req, 0));
	ck_assert_uint_eq(request_rcpt_count(req), 0);
	ck_assert_ptr_null(request_rcpt(req, 0));
	ck_assert(!request_sender_is_null(req));

	/* the next message works as the first did */
	ck_assert_int_eq(request_add_rcpt(req, "<carol@example.net>"), REQUEST_RCPT_OK);
	ck_assert_str_eq(request_rcpt(req, 0), "carol@example.net");
	request_destroy(&req);
}
END_TEST

/* request_set: NULL clears, a new value replaces */
START_TEST(test_set_replace_clear)
{
	struct request *req = new_request(T_RCPT_MAX);

	ck_assert_ptr_null(request_get(req, REQ_HELO));
	ck_assert_int_eq(request_set(req, REQ_HELO, "one"), 0);
	ck_assert_int_eq(request_set(req, REQ_HELO, "two"), 0);
	ck_assert_str_eq(request_get(req, REQ_HELO), "two");
	ck_assert_int_eq(request_set(req, REQ_HELO, NULL), 0);
	ck_assert_ptr_null(request_get(req, REQ_HELO));
	ck_assert_int_eq(request_set(req, REQ_HELO, ""), 0);
	ck_assert_str_eq(request_get(req, REQ_HELO), "");
	request_destroy(&req);
}
END_TEST

/* the value is copied, not borrowed */
START_TEST(test_values_copied)
{
	struct request *req = new_request(T_RCPT_MAX);
	char buf[32];

	strcpy(buf, "alice");
	request_set(req, REQ_AUTH_AUTHEN, buf);
	strcpy(buf, "<bob@x>");
	request_set_sender(req, buf);
	request_add_rcpt(req, buf);
	memset(buf, 'Z', sizeof(buf) - 1);
	ck_assert_str_eq(request_get(req, REQ_AUTH_AUTHEN), "alice");
	ck_assert_str_eq(request_get(req, REQ_SENDER), "bob@x");
	ck_assert_str_eq(request_rcpt(req, 0), "bob@x");
	request_destroy(&req);
}
END_TEST

static const struct {
	const char *name, *arg;
	const char *want;	/* stored sender; NULL = unset */
	bool is_null;
} senders[] = {
	{ "bracketed", "<a@b>", "a@b", false },
	{ "null sender", "<>", "", true },
	{ "no brackets kept", "a@b", "a@b", false },
	{ "only one outer pair", "<<a@b>>", "<a@b>", false },
	{ "lone <", "<", "<", false },
	{ "lone >", ">", ">", false },
	{ "open bracket only", "<a@b", "<a@b", false },
	{ "close bracket only", "a@b>", "a@b>", false },
	{ "inner brackets kept", "a<b>c", "a<b>c", false },
	{ "spaces kept", "< a@b >", " a@b ", false },
	{ "NULL unsets", NULL, NULL, false },
};

/* MAIL FROM argument: one outer pair of angle brackets stripped */
START_TEST(test_sender_brackets)
{
	struct request *req = new_request(T_RCPT_MAX);
	const char *got;

	request_set_sender(req, "<previous@x>");
	ck_assert_int_eq(request_set_sender(req, senders[_i].arg), 0);
	got = request_get(req, REQ_SENDER);
	if (senders[_i].want == NULL)
		ck_assert_msg(got == NULL, "%s: got \"%s\", want NULL", senders[_i].name, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, senders[_i].want) == 0,
			      "%s: got \"%s\", want \"%s\"", senders[_i].name,
			      got ? got : "(null)", senders[_i].want);
	ck_assert_msg(request_sender_is_null(req) == senders[_i].is_null,
		      "%s: request_sender_is_null got %d, want %d", senders[_i].name,
		      request_sender_is_null(req), senders[_i].is_null);
	request_destroy(&req);
}
END_TEST

/* the address limit applies to what is inside the brackets */
START_TEST(test_sender_bound)
{
	struct request *req = new_request(T_RCPT_MAX);
	char *at = filled("<", T_ADDR_MAX, 'a', ">");
	char *over = filled("<", T_ADDR_MAX + 1, 'a', ">");
	char *bare_over = filled("", T_ADDR_MAX + 1, 'a', "");
	char *bare_at = filled("", T_ADDR_MAX, 'a', "");

	ck_assert_msg(request_set_sender(req, at) == 0, "<70 bytes>: got -1, want 0");
	ck_assert_uint_eq(strlen(request_get(req, REQ_SENDER)), T_ADDR_MAX);
	ck_assert_msg(request_set_sender(req, bare_at) == 0, "70 bytes: got -1, want 0");
	ck_assert_ptr_null(request_overflow(req));
	ck_assert_msg(request_set_sender(req, over) == -1, "<71 bytes>: got 0, want -1");
	ck_assert_ptr_null(request_get(req, REQ_SENDER));
	ck_assert_str_eq(request_overflow(req), "sender");
	request_message_reset(req);
	ck_assert_msg(request_set_sender(req, bare_over) == -1, "71 bytes: got 0, want -1");
	ck_assert_str_eq(request_overflow(req), "sender");
	free(at);
	free(over);
	free(bare_over);
	free(bare_at);
	request_destroy(&req);
}
END_TEST

/* ESMTP arguments are joined with single spaces */
START_TEST(test_esmtp_join)
{
	struct request *req = new_request(T_RCPT_MAX);
	char a0[] = "SIZE=1000", a1[] = "BODY=8BITMIME", a2[] = "SMTPUTF8";
	char *two[] = { a0, a1, NULL };
	char *one[] = { a2, NULL };
	char *none[] = { NULL };

	ck_assert_int_eq(request_set_esmtp(req, two), 0);
	ck_assert_str_eq(request_get(req, REQ_ESMTP_ARGS), "SIZE=1000 BODY=8BITMIME");
	ck_assert_int_eq(request_set_esmtp(req, one), 0);
	ck_assert_str_eq(request_get(req, REQ_ESMTP_ARGS), "SMTPUTF8");
	ck_assert_int_eq(request_set_esmtp(req, none), 0);
	ck_assert_ptr_null(request_get(req, REQ_ESMTP_ARGS));
	ck_assert_int_eq(request_set_esmtp(req, one), 0);
	ck_assert_int_eq(request_set_esmtp(req, NULL), 0);
	ck_assert_ptr_null(request_get(req, REQ_ESMTP_ARGS));
	ck_assert_ptr_null(request_overflow(req));
	request_destroy(&req);
}
END_TEST

/* the joined length (spaces included) is bounded by esmtp_max */
START_TEST(test_esmtp_bound)
{
	struct request *req = new_request(T_RCPT_MAX);
	/* 64 + 1 + 65 = 130 = T_ESMTP_MAX */
	char *a = filled("A=", 62, 'a', ""), *b = filled("B=", 63, 'b', "");
	char *b2 = filled("B=", 64, 'b', "");
	char *at[] = { a, b, NULL }, *over[] = { a, b2, NULL };
	char *big = filled("", T_ESMTP_MAX + 1, 'c', ""), *single[] = { big, NULL };
	const char *got;

	ck_assert_msg(request_set_esmtp(req, at) == 0, "130 bytes joined: got -1, want 0");
	got = request_get(req, REQ_ESMTP_ARGS);
	ck_assert_msg(got != NULL && strlen(got) == T_ESMTP_MAX,
		      "130 bytes joined: stored length got %zu, want %d", got ? strlen(got) : 0,
		      T_ESMTP_MAX);
	ck_assert_msg(request_set_esmtp(req, over) == -1, "131 bytes joined: got 0, want -1");
	ck_assert_ptr_null(request_get(req, REQ_ESMTP_ARGS));
	ck_assert_str_eq(request_overflow(req), "esmtp_args");
	request_message_reset(req);
	ck_assert_msg(request_set_esmtp(req, single) == -1, "one 131-byte arg: got 0, want -1");
	ck_assert_str_eq(request_overflow(req), "esmtp_args");
	free(a);
	free(b);
	free(b2);
	free(big);
	request_destroy(&req);
}
END_TEST

/* macro slots: n_macros of them, bounded by value_max, cleared per message */
START_TEST(test_macros)
{
	struct request *req = new_request(T_RCPT_MAX);
	char *over = filled("", T_VALUE_MAX + 1, 'm', "");
	char *at = filled("", T_VALUE_MAX, 'm', "");

	for (size_t i = 0; i < T_MACROS; i++) {
		char v[16];

		snprintf(v, sizeof(v), "value%zu", i);
		ck_assert_int_eq(request_set_macro(req, i, v), 0);
	}
	for (size_t i = 0; i < T_MACROS; i++) {
		char v[16];

		snprintf(v, sizeof(v), "value%zu", i);
		ck_assert_msg(strcmp(request_get_macro(req, i), v) == 0,
			      "slot %zu got \"%s\", want \"%s\"", i, request_get_macro(req, i), v);
	}
	ck_assert_msg(request_set_macro(req, T_MACROS, "x") == -1,
		      "slot %d of %d: got 0, want -1", T_MACROS, T_MACROS);
	ck_assert_ptr_null(request_get_macro(req, T_MACROS));
	ck_assert_ptr_null(request_get_macro(req, 1000));
	ck_assert_int_eq(request_set_macro(req, 1, NULL), 0);
	ck_assert_ptr_null(request_get_macro(req, 1));
	ck_assert_int_eq(request_set_macro(req, 2, at), 0);
	ck_assert_ptr_null(request_overflow(req));
	ck_assert_int_eq(request_set_macro(req, 2, over), -1);
	ck_assert_ptr_null(request_get_macro(req, 2));
	ck_assert_ptr_nonnull(request_overflow(req));
	request_message_reset(req);
	ck_assert_ptr_null(request_get_macro(req, 0));
	ck_assert_ptr_null(request_overflow(req));
	free(over);
	free(at);
	request_destroy(&req);
}
END_TEST

/* a request without macro slots refuses every slot */
START_TEST(test_no_macros)
{
	struct request_limits l;
	struct request *req;

	request_limits_default(&l);
	req = request_create(&l, 0);
	ck_assert_int_eq(request_set_macro(req, 0, "x"), -1);
	ck_assert_ptr_null(request_get_macro(req, 0));
	request_destroy(&req);
}
END_TEST

/* 10,000 recipients with rcpt_max = 10000: all kept, in order; one more refused */
START_TEST(test_many_recipients)
{
	enum { N = 10000 };
	struct request *req = new_request(N);
	char buf[64], want[64];

	for (int i = 0; i < N; i++) {
		enum request_rcpt_status st;

		snprintf(buf, sizeof(buf), "<rcpt%d@example.com>", i);
		st = request_add_rcpt(req, buf);
		ck_assert_msg(st == REQUEST_RCPT_OK, "recipient %d: got status %d, want OK", i,
			      st);
	}
	ck_assert_uint_eq(request_rcpt_count(req), N);
	for (int i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "rcpt%d@example.com", i);
		ck_assert_msg(strcmp(request_rcpt(req, (size_t)i), want) == 0,
			      "recipient %d got \"%s\", want \"%s\"", i,
			      request_rcpt(req, (size_t)i), want);
	}
	ck_assert_msg(request_add_rcpt(req, "<one@more>") == REQUEST_RCPT_TOO_MANY,
		      "recipient %d: got another status, want REQUEST_RCPT_TOO_MANY", N + 1);
	ck_assert_uint_eq(request_rcpt_count(req), N);
	ck_assert_ptr_null(request_rcpt(req, N));
	request_destroy(&req);
}
END_TEST

/*
 * strings past the request's arena (640 bytes, shared by the message's and
 * the connection's) go to the heap: every value reads back whole, before
 * and after request_message_reset, over several messages, with fields of
 * both replaced many times; the connection's outlive each message
 */
START_TEST(test_arena_spill)
{
	struct request *req = new_request(1000);
	char buf[128], want[128];

	ck_assert_int_eq(request_set(req, REQ_CLIENT_NAME, "client.test"), 0);
	ck_assert_int_eq(request_set(req, REQ_CLIENT_ADDR, "192.0.2.7"), 0);
	for (int m = 0; m < 3; m++) {
		for (int i = 0; i < 200; i++) {
			snprintf(buf, sizeof(buf), "helo-%d-%d.test", m, i);
			ck_assert_int_eq(request_set(req, REQ_HELO, buf), 0);
			snprintf(buf, sizeof(buf), "<m%d-rcpt%d@example.com>", m, i);
			ck_assert_int_eq(request_add_rcpt(req, buf), REQUEST_RCPT_OK);
			snprintf(buf, sizeof(buf), "<m%d-sender%d@example.com>", m, i);
			ck_assert_int_eq(request_set_sender(req, buf), 0);
			snprintf(buf, sizeof(buf), "Q%d.%d", m, i);
			ck_assert_int_eq(request_set(req, REQ_QUEUE_ID, buf), 0);
		}
		request_remove_last_rcpt(req);
		ck_assert_uint_eq(request_rcpt_count(req), 199);
		for (int i = 0; i < 199; i++) {
			snprintf(want, sizeof(want), "m%d-rcpt%d@example.com", m, i);
			ck_assert_str_eq(request_rcpt(req, (size_t)i), want);
		}
		snprintf(want, sizeof(want), "m%d-sender199@example.com", m);
		ck_assert_str_eq(request_get(req, REQ_SENDER), want);
		snprintf(want, sizeof(want), "Q%d.199", m);
		ck_assert_str_eq(request_get(req, REQ_QUEUE_ID), want);
		request_message_reset(req);
		snprintf(want, sizeof(want), "helo-%d-199.test", m);
		ck_assert_str_eq(request_get(req, REQ_HELO), want);
		ck_assert_str_eq(request_get(req, REQ_CLIENT_NAME), "client.test");
		ck_assert_str_eq(request_get(req, REQ_CLIENT_ADDR), "192.0.2.7");
		ck_assert_uint_eq(request_rcpt_count(req), 0);
		ck_assert_ptr_null(request_get(req, REQ_SENDER));
		ck_assert_ptr_null(request_get(req, REQ_QUEUE_ID));
		/* a short message fits the arena again */
		ck_assert_int_eq(request_set_sender(req, "<s@x>"), 0);
		ck_assert_int_eq(request_add_rcpt(req, "<r@x>"), REQUEST_RCPT_OK);
		ck_assert_str_eq(request_get(req, REQ_SENDER), "s@x");
		ck_assert_str_eq(request_rcpt(req, 0), "r@x");
		request_message_reset(req);
	}
	request_destroy(&req);
}
END_TEST

/* rcpt_max reached: TOO_MANY, nothing stored; removing one makes room */
START_TEST(test_rcpt_max)
{
	struct request *req = new_request(T_RCPT_MAX);

	for (int i = 0; i < T_RCPT_MAX; i++)
		ck_assert_int_eq(request_add_rcpt(req, "<r@x>"), REQUEST_RCPT_OK);
	ck_assert_int_eq(request_add_rcpt(req, "<extra@x>"), REQUEST_RCPT_TOO_MANY);
	ck_assert_uint_eq(request_rcpt_count(req), T_RCPT_MAX);
	request_remove_last_rcpt(req);
	ck_assert_int_eq(request_add_rcpt(req, "<last@x>"), REQUEST_RCPT_OK);
	ck_assert_str_eq(request_rcpt(req, T_RCPT_MAX - 1), "last@x");
	/* TOO_MANY is a status, not an overflow of the message */
	ck_assert_ptr_null(request_overflow(req));
	request_destroy(&req);
}
END_TEST

/* a recipient longer than addr_max is refused and not stored */
START_TEST(test_rcpt_too_long)
{
	struct request *req = new_request(T_RCPT_MAX);
	char *at = filled("<", T_ADDR_MAX, 'r', ">");
	char *over = filled("<", T_ADDR_MAX + 1, 'r', ">");
	char *bare_over = filled("", T_ADDR_MAX + 1, 'r', "");

	ck_assert_int_eq(request_add_rcpt(req, at), REQUEST_RCPT_OK);
	ck_assert_uint_eq(strlen(request_rcpt(req, 0)), T_ADDR_MAX);
	ck_assert_int_eq(request_add_rcpt(req, over), REQUEST_RCPT_TOO_LONG);
	ck_assert_int_eq(request_add_rcpt(req, bare_over), REQUEST_RCPT_TOO_LONG);
	ck_assert_uint_eq(request_rcpt_count(req), 1);
	free(at);
	free(over);
	free(bare_over);
	request_destroy(&req);
}
END_TEST

/* request_remove_last_rcpt forgets the newest recipient only */
START_TEST(test_remove_last_rcpt)
{
	struct request *req = new_request(T_RCPT_MAX);

	request_remove_last_rcpt(req);	/* empty: harmless */
	ck_assert_uint_eq(request_rcpt_count(req), 0);
	request_add_rcpt(req, "<a@x>");
	request_add_rcpt(req, "b@x");
	request_add_rcpt(req, "<c@x>");
	request_remove_last_rcpt(req);
	ck_assert_uint_eq(request_rcpt_count(req), 2);
	ck_assert_str_eq(request_rcpt(req, 0), "a@x");
	ck_assert_str_eq(request_rcpt(req, 1), "b@x");
	ck_assert_ptr_null(request_rcpt(req, 2));
	request_remove_last_rcpt(req);
	request_remove_last_rcpt(req);
	request_remove_last_rcpt(req);
	ck_assert_uint_eq(request_rcpt_count(req), 0);
	ck_assert_ptr_null(request_rcpt(req, 0));
	request_add_rcpt(req, NULL);	/* NULL is an empty recipient, not a crash */
	request_destroy(&req);
}
END_TEST

/* a 64 KiB value is refused everywhere without a crash */
START_TEST(test_huge_value)
{
	struct request_limits l;
	struct request *req;
	char *huge = filled("<", 65536, 'h', ">");
	char *argv[] = { huge, NULL };

	request_limits_default(&l);
	req = request_create(&l, 1);
	ck_assert_int_eq(request_set(req, REQ_HELO, huge), -1);
	ck_assert_str_eq(request_overflow(req), "helo_name");
	ck_assert_int_eq(request_set(req, REQ_AUTH_AUTHEN, huge), -1);
	ck_assert_int_eq(request_set_sender(req, huge), -1);
	ck_assert_int_eq(request_set_esmtp(req, argv), -1);
	ck_assert_int_eq(request_set_macro(req, 0, huge), -1);
	ck_assert_int_eq(request_add_rcpt(req, huge), REQUEST_RCPT_TOO_LONG);
	ck_assert_ptr_null(request_get(req, REQ_HELO));
	ck_assert_ptr_null(request_get(req, REQ_SENDER));
	ck_assert_uint_eq(request_rcpt_count(req), 0);
	/* the connection-level overflow is reported before the message ones */
	ck_assert_str_eq(request_overflow(req), "helo_name");
	free(huge);
	request_destroy(&req);
}
END_TEST

/* destroy is NULL-safe and NULLs the pointer */
START_TEST(test_destroy)
{
	struct request *req = NULL;
	struct request_limits l;

	request_destroy(&req);
	ck_assert_ptr_null(req);
	request_limits_default(&l);
	req = request_create(&l, REQUEST_MACROS_MAX);
	request_set(req, REQ_HELO, "h");
	request_set_macro(req, REQUEST_MACROS_MAX - 1, "last slot");
	ck_assert_str_eq(request_get_macro(req, REQUEST_MACROS_MAX - 1), "last slot");
	request_add_rcpt(req, "<a@b>");
	request_destroy(&req);
	ck_assert_ptr_null(req);
	request_destroy(&req);
}
END_TEST

/* defaults and field names */
START_TEST(test_limits_and_names)
{
	struct request_limits l;

	memset(&l, 0xff, sizeof(l));
	request_limits_default(&l);
	ck_assert_uint_eq(l.value_max, REQUEST_VALUE_MAX_DEFAULT);
	ck_assert_uint_eq(l.addr_max, REQUEST_ADDR_MAX_DEFAULT);
	ck_assert_uint_eq(l.rcpt_max, REQUEST_RCPT_MAX_DEFAULT);
	ck_assert_uint_eq(l.esmtp_max, REQUEST_ESMTP_MAX_DEFAULT);
	for (int f = 0; f < REQ_FIELD_COUNT; f++) {
		const char *n = request_field_name((enum request_field)f);

		ck_assert_msg(n != NULL && *n != '\0' && strcmp(n, "?") != 0,
			      "field %d has no name", f);
		for (int g = 0; g < f; g++)
			ck_assert_msg(strcmp(n, request_field_name((enum request_field)g)) != 0,
				      "fields %d and %d share the name \"%s\"", g, f, n);
	}
	ck_assert_str_eq(request_field_name(REQ_FIELD_COUNT), "?");
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc;

	tc = tcase_create("bounds");
	tcase_add_loop_test(tc, test_field_bounds, 0, sizeof(bounds) / sizeof(bounds[0]));
	tcase_add_test(tc, test_first_overflow_wins);
	tcase_add_test(tc, test_huge_value);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_test(tc, test_message_reset);
	tcase_add_test(tc, test_set_replace_clear);
	tcase_add_test(tc, test_values_copied);
	tcase_add_test(tc, test_limits_and_names);
	tcase_add_test(tc, test_destroy);
	suite_add_tcase(s, tc);

	tc = tcase_create("sender");
	tcase_add_loop_test(tc, test_sender_brackets, 0, sizeof(senders) / sizeof(senders[0]));
	tcase_add_test(tc, test_sender_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("esmtp");
	tcase_add_test(tc, test_esmtp_join);
	tcase_add_test(tc, test_esmtp_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("macros");
	tcase_add_test(tc, test_macros);
	tcase_add_test(tc, test_no_macros);
	suite_add_tcase(s, tc);

	tc = tcase_create("recipients");
	tcase_set_timeout(tc, 60);	/* 10,000 recipients under valgrind */
	tcase_add_test(tc, test_many_recipients);
	tcase_add_test(tc, test_arena_spill);
	tcase_add_test(tc, test_rcpt_max);
	tcase_add_test(tc, test_rcpt_too_long);
	tcase_add_test(tc, test_remove_last_rcpt);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
