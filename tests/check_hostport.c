/*
 * check_hostport - the one "host:port" parser (Sentinel endpoints): IPv4,
 * names, [IPv6]:port, bare IPv6 refused, bad ports, and the formatter
 * that writes an address back the way the parser reads it.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include <check.h>

#include "base/hostport.h"
#include "check_main.h"

static const struct {
	const char *name, *in, *host;
	int port;
} valid[] = {
	{ "IPv4", "127.0.0.1:26379", "127.0.0.1", 26379 },
	{ "name", "sentinel-1.example:26379", "sentinel-1.example", 26379 },
	{ "short name", "a:1", "a", 1 },
	{ "highest port", "localhost:65535", "localhost", 65535 },
	{ "IPv6 loopback", "[::1]:26379", "::1", 26379 },
	{ "IPv6", "[2001:db8::1]:26380", "2001:db8::1", 26380 },
	{ "IPv4-mapped IPv6", "[::ffff:192.0.2.1]:6379", "::ffff:192.0.2.1", 6379 },
	{ "IPv6 with zone", "[fe80::1%eth0]:26379", "fe80::1%eth0", 26379 },
	{ "bracketed name (taken as written)", "[localhost]:1", "localhost", 1 },
	{ "leading zeros", "h:00080", "h", 80 },
};

/* endpoints that parse: host without brackets, port */
START_TEST(test_valid)
{
	struct hostport hp = { "", 0 };
	const char *error = NULL;
	int r = hostport_parse(valid[_i].in, &hp, &error);

	ck_assert_msg(r == 0, "%s: \"%s\" got -1 (%s), want 0", valid[_i].name, valid[_i].in,
		      error);
	ck_assert_msg(strcmp(hp.host, valid[_i].host) == 0, "%s: host got \"%s\", want \"%s\"",
		      valid[_i].name, hp.host, valid[_i].host);
	ck_assert_msg(hp.port == valid[_i].port, "%s: port got %d, want %d", valid[_i].name,
		      hp.port, valid[_i].port);
}
END_TEST

static const struct {
	const char *name, *in, *why;	/* why: a word the reason must hold */
} invalid[] = {
	{ "empty", "", "port" },
	{ "name without port", "localhost", "port" },
	{ "IPv4 without port", "127.0.0.1", "port" },
	{ "bare IPv6 loopback", "::1", "brackets" },
	{ "bare IPv6 with port", "::1:26379", "brackets" },
	{ "bare IPv6", "2001:db8::1:26379", "brackets" },
	{ "two colons", "a:1:2", "brackets" },
	{ "bracketed without port", "[::1]", "port" },
	{ "bracketed, colon without port", "[::1]:", "port" },
	{ "unclosed bracket", "[::1:26379", "]" },
	{ "text after bracket", "[::1]x:1", "port" },
	{ "empty host", ":26379", "host" },
	{ "empty brackets", "[]:26379", "host" },
	{ "empty port", "localhost:", "port" },
	{ "port 0", "localhost:0", "port" },
	{ "port over 65535", "localhost:65536", "port" },
	{ "huge port", "localhost:99999999999999999999", "port" },
	{ "negative port", "localhost:-1", "port" },
	{ "signed port", "localhost:+80", "port" },
	{ "space before port", "localhost: 80", "port" },
	{ "port with trailing text", "localhost:80x", "port" },
	{ "port with trailing space", "localhost:80 ", "port" },
	{ "hex port", "localhost:0x50", "port" },
};

/* endpoints refused, each with a reason */
START_TEST(test_invalid)
{
	struct hostport hp = { "", 0 };
	const char *error = NULL;
	int r = hostport_parse(invalid[_i].in, &hp, &error);

	ck_assert_msg(r == -1, "%s: \"%s\" got %d (host \"%s\", port %d), want -1",
		      invalid[_i].name, invalid[_i].in, r, hp.host, hp.port);
	ck_assert_msg(error != NULL && strstr(error, invalid[_i].why) != NULL,
		      "%s: reason got \"%s\", want it to mention \"%s\"", invalid[_i].name,
		      error ? error : "(null)", invalid[_i].why);
}
END_TEST

/* a host of HOSTPORT_HOST_MAX - 1 bytes fits, one more does not */
START_TEST(test_host_length)
{
	char in[HOSTPORT_HOST_MAX + 16];
	struct hostport hp = { "", 0 };
	const char *error = NULL;

	memset(in, 'a', HOSTPORT_HOST_MAX - 1);
	strcpy(in + HOSTPORT_HOST_MAX - 1, ":1");
	ck_assert_int_eq(hostport_parse(in, &hp, &error), 0);
	ck_assert_uint_eq(strlen(hp.host), HOSTPORT_HOST_MAX - 1);
	memset(in, 'a', HOSTPORT_HOST_MAX);
	strcpy(in + HOSTPORT_HOST_MAX, ":1");
	ck_assert_int_eq(hostport_parse(in, &hp, &error), -1);
	ck_assert_msg(strstr(error, "too long") != NULL, "reason got \"%s\"", error);
}
END_TEST

/* hostport_format writes what hostport_parse reads back */
START_TEST(test_format_round_trip)
{
	static const char *const inputs[] = { "127.0.0.1:26379", "[::1]:26379", "h:1",
					      "[2001:db8::1]:65535" };
	char buf[300];

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct hostport hp;
		const char *error = NULL;

		ck_assert_int_eq(hostport_parse(inputs[i], &hp, &error), 0);
		hostport_format(hp.host, hp.port, buf, sizeof(buf));
		ck_assert_msg(strcmp(buf, inputs[i]) == 0, "format got \"%s\", want \"%s\"", buf,
			      inputs[i]);
	}
	/* truncated, still terminated */
	ck_assert_str_eq(hostport_format("::1", 26379, buf, 6), "[::1]");
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("hostport");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_valid, 0, sizeof(valid) / sizeof(valid[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid) / sizeof(invalid[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_test(tc, test_host_length);
	tcase_add_test(tc, test_format_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
