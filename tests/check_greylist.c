/*
 * NAME
 *	check_greylist - unit tests of common/greylist (tuple parts)
 * DESCRIPTION
 *	greylist_client_key: tables of addresses with prefixes and the key
 *	they must give (IPv4 /32 /24 /20 /8, IPv6 /128 /64 /56 /48,
 *	IPv4-mapped IPv6), and of inputs that are not addresses.
 *	greylist_strip_sender: a table of senders (SRS0, SRS1, BATV, VERP,
 *	sub-addresses, plain, null) and the sender they must become.  Both
 *	also with buffers too small for the answer.  The timing rule itself
 *	is applied by the store and tested in tests/store_contract.c.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "policy/greylist.h"

#include "check_main.h"

static const struct {
	const char *name, *addr;
	unsigned v4, v6;
	const char *want;
} client_valid[] = {
	{ "IPv4 /32", "192.0.2.77", 32, 128, "192.0.2.77" },
	{ "IPv4 /24", "192.0.2.77", 24, 128, "192.0.2.0/24" },
	{ "IPv4 /24, network address", "192.0.2.0", 24, 128, "192.0.2.0/24" },
	{ "IPv4 /20, inside an octet", "198.51.100.77", 20, 128, "198.51.96.0/20" },
	{ "IPv4 /8", "10.20.30.40", 8, 128, "10.0.0.0/8" },
	{ "IPv4 /0", "10.20.30.40", 0, 128, "0.0.0.0/0" },
	{ "IPv4 prefix over 32 is /32", "192.0.2.77", 40, 128, "192.0.2.77" },
	{ "IPv4 ignores the IPv6 prefix", "192.0.2.77", 32, 64, "192.0.2.77" },
	{ "IPv6 /128", "2001:db8::1", 32, 128, "2001:db8::1" },
	{ "IPv6 /128, canonical text", "2001:DB8:0:0:0::1", 32, 128, "2001:db8::1" },
	{ "IPv6 /64", "2001:db8:1:2:3:4:5:6", 32, 64, "2001:db8:1:2::/64" },
	{ "IPv6 /64, same network", "2001:db8:1:2:ffff::9", 32, 64, "2001:db8:1:2::/64" },
	{ "IPv6 /56, inside a group", "2001:db8:1:2ff::1", 32, 56, "2001:db8:1:200::/56" },
	{ "IPv6 /48", "2001:db8:abcd:12::1", 32, 48, "2001:db8:abcd::/48" },
	{ "IPv6 prefix over 128 is /128", "2001:db8::1", 32, 200, "2001:db8::1" },
	{ "IPv6 ignores the IPv4 prefix", "2001:db8::1", 24, 128, "2001:db8::1" },
	{ "loopback ::1", "::1", 32, 128, "::1" },
	{ "IPv4-mapped is IPv4, /32", "::ffff:192.0.2.77", 32, 64, "192.0.2.77" },
	{ "IPv4-mapped is IPv4, /24", "::ffff:192.0.2.77", 24, 64, "192.0.2.0/24" },
};

START_TEST(test_client_key)
{
	char buf[64];
	int ret;

	memset(buf, 'Z', sizeof(buf));
	ret = greylist_client_key(client_valid[_i].addr, client_valid[_i].v4, client_valid[_i].v6,
				  buf, sizeof(buf));
	ck_assert_msg(ret == 0, "%s: got %d, want 0", client_valid[_i].name, ret);
	ck_assert_msg(strcmp(buf, client_valid[_i].want) == 0, "%s: got \"%s\", want \"%s\"",
		      client_valid[_i].name, buf, client_valid[_i].want);
}
END_TEST

static const struct {
	const char *name, *addr, *want;
} client_invalid[] = {
	{ "word", "unknown", "unknown" },
	{ "empty", "", "" },
	{ "NULL", NULL, "" },
	{ "octet over 255", "192.0.2.256", "192.0.2.256" },
	{ "three octets", "192.0.2", "192.0.2" },
	{ "IPv6 with zone", "fe80::1%eth0", "fe80::1%eth0" },
	{ "bracketed", "[192.0.2.1]", "[192.0.2.1]" },
	{ "trailing space", "192.0.2.1 ", "192.0.2.1 " },
	{ "host name", "mx.example.com", "mx.example.com" },
};

START_TEST(test_client_key_invalid)
{
	char buf[64];
	int ret;

	memset(buf, 'Z', sizeof(buf));
	ret = greylist_client_key(client_invalid[_i].addr, 24, 64, buf, sizeof(buf));
	ck_assert_msg(ret == -1, "%s: got %d, want -1", client_invalid[_i].name, ret);
	ck_assert_msg(strcmp(buf, client_invalid[_i].want) == 0,
		      "%s: got \"%s\", want \"%s\" (the text as is)", client_invalid[_i].name, buf,
		      client_invalid[_i].want);
}
END_TEST

START_TEST(test_client_key_small_buffer)
{
	char buf[16];

	/* truncated, terminated, nothing written past size */
	memset(buf, 'Z', sizeof(buf));
	ck_assert_int_eq(greylist_client_key("192.0.2.77", 24, 64, buf, 8), 0);
	ck_assert_msg(strcmp(buf, "192.0.2") == 0, "got \"%s\", want \"192.0.2\"", buf);
	ck_assert_msg(buf[8] == 'Z', "byte past the buffer: got 0x%02x, want 'Z'",
		      (unsigned char)buf[8]);
	memset(buf, 'Z', sizeof(buf));
	ck_assert_int_eq(greylist_client_key("not an address at all", 24, 64, buf, 4), -1);
	ck_assert_msg(strcmp(buf, "not") == 0, "got \"%s\", want \"not\"", buf);
	ck_assert_msg(buf[4] == 'Z', "byte past the buffer: got 0x%02x, want 'Z'",
		      (unsigned char)buf[4]);
}
END_TEST

static const struct {
	const char *name, *in, *want;
} senders[] = {
	{ "plain", "john@example.org", "john@example.org" },
	{ "domain lower-cased, local kept", "John.Doe@Example.ORG", "John.Doe@example.org" },
	{ "null sender", "", "" },
	{ "no domain", "postmaster", "postmaster" },
	{ "sub-address", "john+news@example.org", "john@example.org" },
	{ "sub-address, upper-case domain", "john+news@Example.ORG", "john@example.org" },
	{ "VERP", "list-bounces+john=example.net@lists.example.org",
	  "list-bounces@lists.example.org" },
	{ "VERP, two plus signs", "a+b+c@example.org", "a@example.org" },
	{ "leading plus is kept", "+x@example.org", "+x@example.org" },
	{ "plus in the domain is kept", "john@ex+ample.org", "john@ex+ample.org" },
	{ "SRS0", "SRS0=HHH=TT=example.com=john@forwarder.example", "john@example.com" },
	{ "SRS0, domain lower-cased", "SRS0=a1b2=T5=Example.COM=John@fwd.example",
	  "John@example.com" },
	{ "SRS0, lower-case prefix", "srs0=a1b2=T5=example.com=john@fwd.example",
	  "john@example.com" },
	{ "SRS0 with + separator", "SRS0+a1b2=T5=example.com=john@fwd.example",
	  "john@example.com" },
	{ "SRS0 with - separator", "SRS0-a1b2=T5=example.com=john@fwd.example",
	  "john@example.com" },
	{ "SRS0, '=' in the local part", "SRS0=a1b2=T5=example.com=jo=hn@fwd.example",
	  "jo=hn@example.com" },
	{ "SRS0 wrapping a sub-address", "SRS0=a1b2=T5=example.com=john+tag@fwd.example",
	  "john@example.com" },
	{ "SRS0 malformed is kept", "SRS0=broken@fwd.example", "SRS0=broken@fwd.example" },
	{ "SRS0 without local part is kept", "SRS0=a1b2=T5=example.com=@fwd.example",
	  "SRS0=a1b2=T5=example.com=@fwd.example" },
	{ "SRS1", "SRS1=x9y8=fwd1.example==a1b2=T5=example.com=john@fwd2.example",
	  "john@example.com" },
	{ "SRS1 of an SRS0+ address",
	  "SRS1=x9y8=fwd1.example=+a1b2=T5=example.com=john@fwd2.example", "john@example.com" },
	{ "SRS1 malformed is kept", "SRS1=x9y8=fwd1.example@fwd2.example",
	  "SRS1=x9y8=fwd1.example@fwd2.example" },
	{ "BATV", "prvs=1234abcdef=john@example.com", "john@example.com" },
	{ "BATV, upper-case", "PRVS=1234abcdef=john@EXAMPLE.com", "john@example.com" },
	{ "BATV wrapping VERP", "prvs=0123456789=list+bounces@example.com", "list@example.com" },
	{ "BATV malformed is kept", "prvs=1234@example.com", "prvs=1234@example.com" },
	{ "look-alike, not SRS", "SRS0x@example.org", "SRS0x@example.org" },
	{ "SRS2 is not SRS", "SRS2=a=b=c=d@example.org", "SRS2=a=b=c=d@example.org" },
};

START_TEST(test_strip_sender)
{
	char buf[256];
	char *ret;

	memset(buf, 'Z', sizeof(buf));
	ret = greylist_strip_sender(senders[_i].in, buf, sizeof(buf));
	ck_assert_msg(ret == buf, "%s: got a pointer other than buf", senders[_i].name);
	ck_assert_msg(strcmp(buf, senders[_i].want) == 0, "%s: \"%s\": got \"%s\", want \"%s\"",
		      senders[_i].name, senders[_i].in, buf, senders[_i].want);
}
END_TEST

START_TEST(test_strip_sender_edges)
{
	char buf[16];

	memset(buf, 'Z', sizeof(buf));
	greylist_strip_sender(NULL, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, "") == 0, "NULL sender: got \"%s\", want \"\"", buf);

	/* truncated, terminated, nothing written past size */
	memset(buf, 'Z', sizeof(buf));
	greylist_strip_sender("john+tag@Example.org", buf, 6);
	ck_assert_msg(strcmp(buf, "john@") == 0, "small buffer: got \"%s\", want \"john@\"", buf);
	ck_assert_msg(buf[6] == 'Z', "byte past the buffer: got 0x%02x, want 'Z'",
		      (unsigned char)buf[6]);
	memset(buf, 'Z', sizeof(buf));
	greylist_strip_sender("SRS0=a=b=example.com=john@f.example", buf, 8);
	ck_assert_msg(strcmp(buf, "john@ex") == 0, "small buffer, SRS: got \"%s\", want "
		      "\"john@ex\"", buf);
	ck_assert_msg(buf[8] == 'Z', "byte past the buffer: got 0x%02x, want 'Z'",
		      (unsigned char)buf[8]);
	/* size 0 writes nothing */
	memset(buf, 'Z', sizeof(buf));
	greylist_strip_sender("john@example.org", buf, 0);
	ck_assert_msg(buf[0] == 'Z', "size 0: got 0x%02x, want 'Z'", (unsigned char)buf[0]);
}
END_TEST

START_TEST(test_verdict_names)
{
	ck_assert_str_eq(greylist_verdict_name(GREYLIST_PASS), "pass");
	ck_assert_str_eq(greylist_verdict_name(GREYLIST_PASS_WHITELISTED), "whitelisted");
	ck_assert_str_eq(greylist_verdict_name(GREYLIST_DEFER_NEW), "new");
	ck_assert_str_eq(greylist_verdict_name(GREYLIST_DEFER_EARLY), "early");
	ck_assert_str_eq(greylist_verdict_name((enum greylist_verdict)99), "?");
}
END_TEST

#define ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* make_suite - the greylist suite */
static Suite *make_suite(void)
{
	Suite *s = suite_create("greylist");
	TCase *tc;

	tc = tcase_create("client_key");
	tcase_add_loop_test(tc, test_client_key, 0, ROWS(client_valid));
	tcase_add_loop_test(tc, test_client_key_invalid, 0, ROWS(client_invalid));
	tcase_add_test(tc, test_client_key_small_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("strip_sender");
	tcase_add_loop_test(tc, test_strip_sender, 0, ROWS(senders));
	tcase_add_test(tc, test_strip_sender_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("verdict");
	tcase_add_test(tc, test_verdict_names);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
