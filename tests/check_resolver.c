/*
 * NAME
 *	check_resolver - unit tests of common/resolver (who sends a message)
 * DESCRIPTION
 *	CHAPPS's user-identifier rules (spec section 3): the compiled order
 *	for require_user_key true/false, the refusals of resolver_create
 *	with the index of the key at fault, and resolution against requests
 *	("None" and "" are empty, values are used as written, "{macro}" keys
 *	read slots, "{auth_authen}" reads the sasl_username field).
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request/request.h"
#include "request/resolver.h"

#include "check_main.h"

#define MAXK 20

/* the CHAPPS default search order */
#define DEFAULT_ORDER { "sasl_username", "ccert_subject", "sender", "client_address" }

/* join_keys - the compiled order as "a,b,c" */
static const char *join_keys(const struct resolver *r, char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t i = 0; i < resolver_key_count(r); i++) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, "%s%s", i ? "," : "", resolver_key_name(r, i));
	}
	return buf;
}

static const struct {
	const char *name;
	const char *user_key;
	bool require;
	const char *order[MAXK];
	size_t n;
	const char *want;	/* compiled order, comma-joined */
} orders[] = {
	{ "require: only user_key", "sasl_username", true, DEFAULT_ORDER, 4, "sasl_username" },
	{ "require: user_key not in order", "ccert_subject", true, { "sender" }, 1,
	  "ccert_subject" },
	{ "require: macro user_key", "{auth_authen}", true, DEFAULT_ORDER, 4, "{auth_authen}" },
	{ "require: order ignored", "sender", true, { "helo_name" }, 1, "sender" },
	{ "optional: user_key not first goes first", "ccert_subject", false, DEFAULT_ORDER, 4,
	  "ccert_subject,sasl_username,ccert_subject,sender,client_address" },
	{ "optional: user_key absent from order goes first", "helo_name", false, DEFAULT_ORDER,
	  4, "helo_name,sasl_username,ccert_subject,sender,client_address" },
	{ "optional: user_key already first not repeated", "sasl_username", false,
	  DEFAULT_ORDER, 4, "sasl_username,ccert_subject,sender,client_address" },
	{ "optional: empty user_key", "", false, DEFAULT_ORDER, 4,
	  "sasl_username,ccert_subject,sender,client_address" },
	{ "optional: NULL user_key", NULL, false, { "sender", "client_address" }, 2,
	  "sender,client_address" },
	{ "optional: user_key and empty order", "sasl_username", false, { NULL }, 0,
	  "sasl_username" },
	{ "optional: macros", NULL, false, { "{auth_authen}", "{x_user}", "sender" }, 3,
	  "{auth_authen},{x_user},sender" },
	{ "16 keys", NULL, false,
	  { "{k0}", "{k1}", "{k2}", "{k3}", "{k4}", "{k5}", "{k6}", "{k7}", "{k8}", "{k9}",
	    "{k10}", "{k11}", "{k12}", "{k13}", "{k14}", "{k15}" },
	  16, "{k0},{k1},{k2},{k3},{k4},{k5},{k6},{k7},{k8},{k9},{k10},{k11},{k12},{k13},{k14},"
	      "{k15}" },
};

/* the compiled order follows CHAPPS's rules */
START_TEST(test_order)
{
	struct resolver *r = NULL;
	const char *err = NULL;
	int bad = 99;
	char buf[1024];

	ck_assert_msg(resolver_create(orders[_i].user_key, orders[_i].require, orders[_i].order,
				      orders[_i].n, &r, &err, &bad) == 0,
		      "%s: resolver_create got -1 (%s, index %d), want 0", orders[_i].name, err,
		      bad);
	join_keys(r, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, orders[_i].want) == 0, "%s: order got \"%s\", want \"%s\"",
		      orders[_i].name, buf, orders[_i].want);
	ck_assert_ptr_null(resolver_key_name(r, resolver_key_count(r)));
	resolver_destroy(&r);
	ck_assert_ptr_null(r);
}
END_TEST

static const struct {
	const char *name;
	const char *user_key;
	bool require;
	const char *order[MAXK];
	size_t n;
	int bad_index;	/* want *bad_index_r; 99 = not checked */
} refusals[] = {
	{ "require with empty user_key", "", true, DEFAULT_ORDER, 4, -1 },
	{ "require with NULL user_key", NULL, true, DEFAULT_ORDER, 4, -1 },
	{ "unknown user_key", "sasl_user", true, DEFAULT_ORDER, 4, -1 },
	{ "unknown user_key, optional", "Sasl_Username", false, DEFAULT_ORDER, 4, -1 },
	{ "unknown key in order", "", false, { "sasl_username", "sender", "bogus" }, 3, 2 },
	{ "unknown first key", NULL, false, { "username" }, 1, 0 },
	{ "key with a trailing space", NULL, false, { "sender " }, 1, 0 },
	{ "empty key", NULL, false, { "sender", "" }, 2, 1 },
	{ "macro with a space", NULL, false, { "{bad name}" }, 1, 0 },
	{ "empty macro", NULL, false, { "{}" }, 1, 0 },
	{ "unterminated macro", NULL, false, { "sender", "{auth_authen" }, 2, 1 },
	{ "macro with a dash", NULL, false, { "{x-user}" }, 1, 0 },
	{ "nothing to search", "", false, { NULL }, 0, -2 },
	{ "17 keys", NULL, false,
	  { "{k0}", "{k1}", "{k2}", "{k3}", "{k4}", "{k5}", "{k6}", "{k7}", "{k8}", "{k9}",
	    "{k10}", "{k11}", "{k12}", "{k13}", "{k14}", "{k15}", "{k16}" },
	  17, 99 },
	{ "16 keys after user_key", "sender", false,
	  { "{k0}", "{k1}", "{k2}", "{k3}", "{k4}", "{k5}", "{k6}", "{k7}", "{k8}", "{k9}",
	    "{k10}", "{k11}", "{k12}", "{k13}", "{k14}", "{k15}" },
	  16, 99 },
};

/* refusals name the key at fault */
START_TEST(test_refusal)
{
	struct resolver *r = NULL;
	const char *err = NULL;
	int bad = 99;

	ck_assert_msg(resolver_create(refusals[_i].user_key, refusals[_i].require,
				      refusals[_i].order, refusals[_i].n, &r, &err, &bad) == -1,
		      "%s: resolver_create got 0, want -1", refusals[_i].name);
	ck_assert_msg(err != NULL && *err != '\0', "%s: no error text", refusals[_i].name);
	if (refusals[_i].bad_index != 99)
		ck_assert_msg(bad == refusals[_i].bad_index, "%s: bad index got %d, want %d",
			      refusals[_i].name, bad, refusals[_i].bad_index);
	ck_assert_msg(r == NULL, "%s: a resolver was returned on failure", refusals[_i].name);
}
END_TEST

/* the refusal texts say what is wrong */
START_TEST(test_refusal_text)
{
	struct resolver *r = NULL;
	const char *err = NULL, *order[] = { "bogus" };
	int bad;

	ck_assert_int_eq(resolver_create("", true, order, 1, &r, &err, &bad), -1);
	ck_assert_msg(strstr(err, "user_key") != NULL, "got \"%s\", want it to name user_key",
		      err);
	ck_assert_int_eq(resolver_create(NULL, false, order, 1, &r, &err, &bad), -1);
	ck_assert_msg(strstr(err, "unknown") != NULL, "got \"%s\", want \"unknown ...\"", err);
}
END_TEST

/* set_field - request_set that must succeed */
static void set_field(struct request *req, enum request_field f, const char *v)
{
	ck_assert_int_eq(request_set(req, f, v), 0);
}

static const struct {
	const char *name;
	const char *sasl, *cert, *sender, *client;	/* NULL = unset */
	const char *want, *want_key;		/* NULL = nobody */
} resolves[] = {
	{ "sasl wins", "alice", "CN=a", "a@x", "192.0.2.1", "alice", "sasl_username" },
	{ "unset sasl: cert", NULL, "CN=a", "a@x", "192.0.2.1", "CN=a", "ccert_subject" },
	{ "empty sasl: cert", "", "CN=a", "a@x", "192.0.2.1", "CN=a", "ccert_subject" },
	{ "literal None is empty", "None", "CN=a", "a@x", "192.0.2.1", "CN=a", "ccert_subject" },
	{ "None twice", "None", "None", "a@x", "192.0.2.1", "a@x", "sender" },
	{ "lower-case none is a user", "none", "CN=a", NULL, "192.0.2.1", "none",
	  "sasl_username" },
	{ "None with a space is a user", "None ", NULL, NULL, "192.0.2.1", "None ",
	  "sasl_username" },
	{ "trailing space kept", "alice ", NULL, NULL, "192.0.2.1", "alice ", "sasl_username" },
	{ "leading space kept", " alice", NULL, NULL, NULL, " alice", "sasl_username" },
	{ "case kept", "Alice@Example.COM", NULL, NULL, NULL, "Alice@Example.COM",
	  "sasl_username" },
	{ "null sender skipped", NULL, NULL, "", "192.0.2.1", "192.0.2.1", "client_address" },
	{ "only client address", NULL, NULL, NULL, "192.0.2.1", "192.0.2.1", "client_address" },
	{ "nothing", NULL, NULL, NULL, NULL, NULL, NULL },
	{ "all empty or None", "", "None", "", "None", NULL, NULL },
};

/* the first non-empty value that is not "None" wins, as written */
START_TEST(test_resolve)
{
	static const char *const order[] = DEFAULT_ORDER;
	struct resolver *r = NULL;
	struct request_limits l;
	struct request *req;
	const char *err, *got, *key = "untouched";
	int bad;

	ck_assert_int_eq(resolver_create("sasl_username", false, order, 4, &r, &err, &bad), 0);
	request_limits_default(&l);
	req = request_create(&l, 0);
	set_field(req, REQ_AUTH_AUTHEN, resolves[_i].sasl);
	set_field(req, REQ_CERT_SUBJECT, resolves[_i].cert);
	if (resolves[_i].sender != NULL)
		ck_assert_int_eq(request_set_sender(req, resolves[_i].sender), 0);
	set_field(req, REQ_CLIENT_ADDR, resolves[_i].client);
	got = resolver_resolve(r, req, &key);
	if (resolves[_i].want == NULL) {
		ck_assert_msg(got == NULL, "%s: got \"%s\", want nobody", resolves[_i].name, got);
	} else {
		ck_assert_msg(got != NULL && strcmp(got, resolves[_i].want) == 0,
			      "%s: got \"%s\", want \"%s\"", resolves[_i].name,
			      got ? got : "(null)", resolves[_i].want);
		ck_assert_msg(strcmp(key, resolves[_i].want_key) == 0,
			      "%s: key got \"%s\", want \"%s\"", resolves[_i].name, key,
			      resolves[_i].want_key);
		/* key_r may be NULL */
		ck_assert_str_eq(resolver_resolve(r, req, NULL), resolves[_i].want);
	}
	request_destroy(&req);
	resolver_destroy(&r);
}
END_TEST

/* require_user_key: only user_key counts, whatever else is set */
START_TEST(test_resolve_required)
{
	static const char *const order[] = DEFAULT_ORDER;
	struct resolver *r = NULL;
	struct request_limits l;
	struct request *req;
	const char *err, *key = NULL;
	int bad;

	ck_assert_int_eq(resolver_create("sasl_username", true, order, 4, &r, &err, &bad), 0);
	request_limits_default(&l);
	req = request_create(&l, 0);
	set_field(req, REQ_CERT_SUBJECT, "CN=a");
	set_field(req, REQ_CLIENT_ADDR, "192.0.2.1");
	request_set_sender(req, "<a@x>");
	ck_assert_msg(resolver_resolve(r, req, &key) == NULL,
		      "required sasl_username unset: got \"%s\" (key %s), want nobody",
		      resolver_resolve(r, req, &key), key);
	set_field(req, REQ_AUTH_AUTHEN, "None");
	ck_assert_ptr_null(resolver_resolve(r, req, NULL));
	set_field(req, REQ_AUTH_AUTHEN, "bob");
	ck_assert_str_eq(resolver_resolve(r, req, &key), "bob");
	ck_assert_str_eq(key, "sasl_username");
	request_destroy(&req);
	resolver_destroy(&r);
}
END_TEST

/* "{name}" keys: fields when chapps captures them anyway, slots otherwise */
START_TEST(test_macros)
{
	static const char *const order[] = { "{auth_authen}", "{x_user}", "{cert_issuer}",
					     "{x_user}", "{x_other}", "sender" };
	struct resolver *r = NULL;
	struct request_limits l;
	struct request *req;
	const char *err, *key = NULL;
	int bad;

	ck_assert_int_eq(resolver_create(NULL, false, order, 6, &r, &err, &bad), 0);
	ck_assert_msg(resolver_macro_count(r) == 2,
		      "macro slots got %zu, want 2 ({x_user} once, {x_other})",
		      resolver_macro_count(r));
	ck_assert_str_eq(resolver_macro_name(r, 0), "{x_user}");
	ck_assert_str_eq(resolver_macro_name(r, 1), "{x_other}");
	ck_assert_ptr_null(resolver_macro_name(r, 2));

	request_limits_default(&l);
	req = request_create(&l, resolver_macro_count(r));
	/* {auth_authen} reads the same field as sasl_username */
	set_field(req, REQ_AUTH_AUTHEN, "alice");
	request_set_macro(req, 0, "xuser");
	ck_assert_str_eq(resolver_resolve(r, req, &key), "alice");
	ck_assert_str_eq(key, "{auth_authen}");
	set_field(req, REQ_AUTH_AUTHEN, NULL);
	ck_assert_str_eq(resolver_resolve(r, req, &key), "xuser");
	ck_assert_str_eq(key, "{x_user}");
	request_set_macro(req, 0, "None");
	set_field(req, REQ_CERT_ISSUER, "CN=issuer");
	ck_assert_str_eq(resolver_resolve(r, req, &key), "CN=issuer");
	ck_assert_str_eq(key, "{cert_issuer}");
	set_field(req, REQ_CERT_ISSUER, "");
	request_set_macro(req, 1, "other");
	ck_assert_str_eq(resolver_resolve(r, req, &key), "other");
	ck_assert_str_eq(key, "{x_other}");
	request_set_macro(req, 1, NULL);
	request_set_sender(req, "<s@x>");
	ck_assert_str_eq(resolver_resolve(r, req, &key), "s@x");
	ck_assert_str_eq(key, "sender");
	request_destroy(&req);
	resolver_destroy(&r);
}
END_TEST

/* a macro user_key with require also gets a slot */
START_TEST(test_macro_user_key)
{
	struct resolver *r = NULL;
	struct request_limits l;
	struct request *req;
	const char *err, *key = NULL;
	int bad;

	ck_assert_int_eq(resolver_create("{my_user}", true, NULL, 0, &r, &err, &bad), 0);
	ck_assert_uint_eq(resolver_macro_count(r), 1);
	ck_assert_str_eq(resolver_macro_name(r, 0), "{my_user}");
	request_limits_default(&l);
	req = request_create(&l, 1);
	ck_assert_ptr_null(resolver_resolve(r, req, &key));
	request_set_macro(req, 0, "carol");
	ck_assert_str_eq(resolver_resolve(r, req, &key), "carol");
	ck_assert_str_eq(key, "{my_user}");
	request_destroy(&req);
	resolver_destroy(&r);
}
END_TEST

/* fields reached through the other named keys */
START_TEST(test_named_keys)
{
	static const struct {
		const char *key;
		enum request_field field;
	} keys[] = {
		{ "sasl_method", REQ_AUTH_TYPE },     { "sasl_sender", REQ_AUTH_AUTHOR },
		{ "ccert_issuer", REQ_CERT_ISSUER },  { "client_name", REQ_CLIENT_NAME },
		{ "helo_name", REQ_HELO },	      { "{daemon_name}", REQ_DAEMON_NAME },
		{ "{client_addr}", REQ_CLIENT_ADDR }, { "{client_port}", REQ_CLIENT_PORT },
		{ "{i}", REQ_QUEUE_ID },	      { "{auth_type}", REQ_AUTH_TYPE },
	};

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *order[] = { keys[k].key }, *err, *key = NULL, *got;
		struct resolver *r = NULL;
		struct request_limits l;
		struct request *req;
		int bad;

		ck_assert_msg(resolver_create(NULL, false, order, 1, &r, &err, &bad) == 0,
			      "%s: got -1 (%s), want 0", keys[k].key, err);
		ck_assert_msg(resolver_macro_count(r) == 0, "%s: got a macro slot, want a field",
			      keys[k].key);
		request_limits_default(&l);
		req = request_create(&l, 0);
		set_field(req, keys[k].field, "v");
		got = resolver_resolve(r, req, &key);
		ck_assert_msg(got != NULL && strcmp(got, "v") == 0, "%s: got \"%s\", want \"v\"",
			      keys[k].key, got ? got : "(null)");
		ck_assert_str_eq(key, keys[k].key);
		request_destroy(&req);
		resolver_destroy(&r);
	}
}
END_TEST

/* resolver_uses_helo: only when a compiled key reads the HELO name */
START_TEST(test_uses_helo)
{
	const char *with[] = { "sasl_username", "helo_name" }, *without[] = { "sasl_username" };
	struct resolver *r = NULL;
	const char *err;
	int bad;

	ck_assert_int_eq(resolver_create(NULL, false, with, 2, &r, &err, &bad), 0);
	ck_assert_msg(resolver_uses_helo(r), "order with helo_name: got false, want true");
	resolver_destroy(&r);
	ck_assert_int_eq(resolver_create(NULL, false, without, 1, &r, &err, &bad), 0);
	ck_assert_msg(!resolver_uses_helo(r), "order without helo_name: got true, want false");
	resolver_destroy(&r);
	ck_assert_int_eq(resolver_create("helo_name", true, without, 1, &r, &err, &bad), 0);
	ck_assert_msg(resolver_uses_helo(r), "user_key helo_name: got false, want true");
	resolver_destroy(&r);
	ck_assert_int_eq(resolver_create("sasl_username", true, with, 2, &r, &err, &bad), 0);
	ck_assert_msg(!resolver_uses_helo(r),
		      "require_user_key ignores the order: got true, want false");
	resolver_destroy(&r);
	resolver_destroy(&r);	/* NULL-safe */
}
END_TEST

static const struct {
	const char *name;
	bool valid;
} key_names[] = {
	{ "sasl_username", true }, { "sasl_method", true },    { "sasl_sender", true },
	{ "ccert_subject", true }, { "ccert_issuer", true },   { "sender", true },
	{ "client_address", true }, { "client_name", true },   { "helo_name", true },
	{ "{auth_authen}", true }, { "{x}", true },	       { "{X_User_2}", true },
	{ "recipient", false },	   { "SASL_USERNAME", false }, { "", false },
	{ "{}", false },	   { "{a b}", false },	       { "{a}b", false },
	{ "auth_authen", false },  { "{a.b}", false },
};

/* resolver_key_valid accepts exactly the documented names */
START_TEST(test_key_valid)
{
	ck_assert_msg(resolver_key_valid(key_names[_i].name) == key_names[_i].valid,
		      "\"%s\": got %d, want %d", key_names[_i].name,
		      resolver_key_valid(key_names[_i].name), key_names[_i].valid);
}
END_TEST

/* a 64-character macro name is the longest accepted */
START_TEST(test_macro_name_length)
{
	char name[80];

	name[0] = '{';
	memset(name + 1, 'm', 64);
	strcpy(name + 65, "}");
	ck_assert_msg(resolver_key_valid(name), "64-char macro name: got invalid, want valid");
	name[0] = '{';
	memset(name + 1, 'm', 65);
	strcpy(name + 66, "}");
	ck_assert_msg(!resolver_key_valid(name), "65-char macro name: got valid, want invalid");
	ck_assert(!resolver_key_valid(NULL));
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("resolver");
	TCase *tc;

	tc = tcase_create("order");
	tcase_add_loop_test(tc, test_order, 0, sizeof(orders) / sizeof(orders[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("refusal");
	tcase_add_loop_test(tc, test_refusal, 0, sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_test(tc, test_refusal_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("resolve");
	tcase_add_loop_test(tc, test_resolve, 0, sizeof(resolves) / sizeof(resolves[0]));
	tcase_add_test(tc, test_resolve_required);
	tcase_add_test(tc, test_macros);
	tcase_add_test(tc, test_macro_user_key);
	tcase_add_test(tc, test_named_keys);
	tcase_add_test(tc, test_uses_helo);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_loop_test(tc, test_key_valid, 0, sizeof(key_names) / sizeof(key_names[0]));
	tcase_add_test(tc, test_macro_name_length);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
