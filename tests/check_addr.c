/*
 * NAME
 *	check_addr - unit tests of common/addr (envelope sender parser)
 * DESCRIPTION
 *	One table of senders that parse, with the parts they must give, and
 *	one of senders that must be refused, with the status; both follow the
 *	table in common/addr.h.  Length limits are tested with built strings.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"

#include "check_main.h"

static const char *const status_names[] = {
	[ADDR_OK] = "ADDR_OK",
	[ADDR_NULL] = "ADDR_NULL",
	[ADDR_NO_AT] = "ADDR_NO_AT",
	[ADDR_MULTI_AT] = "ADDR_MULTI_AT",
	[ADDR_SOURCE_ROUTE] = "ADDR_SOURCE_ROUTE",
	[ADDR_TRAILING_DOT] = "ADDR_TRAILING_DOT",
	[ADDR_MALFORMED] = "ADDR_MALFORMED",
	[ADDR_TOO_LONG] = "ADDR_TOO_LONG",
};

/* sname - printable status */
static const char *sname(enum addr_status st)
{
	return (unsigned)st < sizeof(status_names) / sizeof(status_names[0]) ? status_names[st]
									       : "?";
}

static const struct {
	const char *name, *in;
	const char *local, *domain;
	bool ip_literal, quoted;
} valid[] = {
	{ "plain", "user@example.com", "user", "example.com", false, false },
	{ "upper-case domain lowered", "User@Example.COM", "User", "example.com", false, false },
	{ "local part case kept", "JOHN.Doe@EXAMPLE.com", "JOHN.Doe", "example.com", false,
	  false },
	{ "dots, plus and hyphen", "first.last+tag@mail-1.sub.example.co.uk", "first.last+tag",
	  "mail-1.sub.example.co.uk", false, false },
	{ "atext specials", "a!#$%&'*+/=?^_`{|}~-@example.com", "a!#$%&'*+/=?^_`{|}~-",
	  "example.com", false, false },
	{ "single-label domain", "root@localhost", "root", "localhost", false, false },
	{ "digit labels", "a@123.456.example", "a", "123.456.example", false, false },
	{ "quoted local with @", "\"a@b\"@example.com", "\"a@b\"", "example.com", false, true },
	{ "quoted local with space", "\"john doe\"@example.com", "\"john doe\"", "example.com",
	  false, true },
	{ "quoted local with escaped quote", "\"a\\\"b\"@example.com", "\"a\\\"b\"",
	  "example.com", false, true },
	{ "quoted local with @ and dots", "\"x@y..z\"@Example.org", "\"x@y..z\"", "example.org",
	  false, true },
	{ "IPv4 literal", "user@[192.0.2.1]", "user", "[192.0.2.1]", true, false },
	{ "IPv6 literal lowered", "user@[IPv6:2001:DB8::1]", "user", "[ipv6:2001:db8::1]", true,
	  false },
	{ "UTF-8 local", "j\xc3\xb6ran@example.com", "j\xc3\xb6ran", "example.com", false,
	  false },
	{ "UTF-8 domain", "user@b\xc3\xbc" "cher.example", "user", "b\xc3\xbc" "cher.example",
	  false, false },
	{ "UTF-8 domain, only ASCII lowered", "user@B\xc3\x9c" "CHER.Example", "user",
	  "b\xc3\x9c" "cher.example", false, false },
	{ "63-byte label",
	  "u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", "u",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", false,
	  false },
};

/* senders that parse: local part (as written), domain (lowered), flags */
START_TEST(test_valid)
{
	struct addr_parts p;
	enum addr_status st = addr_parse(valid[_i].in, &p);

	ck_assert_msg(st == ADDR_OK, "%s: \"%s\" got %s, want ADDR_OK", valid[_i].name,
		      valid[_i].in, sname(st));
	ck_assert_msg(p.local == valid[_i].in, "%s: local does not point into the input",
		      valid[_i].name);
	ck_assert_msg(p.local_len == strlen(valid[_i].local) &&
			      memcmp(p.local, valid[_i].local, p.local_len) == 0,
		      "%s: local got \"%.*s\", want \"%s\"", valid[_i].name, (int)p.local_len,
		      p.local, valid[_i].local);
	ck_assert_msg(strcmp(p.domain, valid[_i].domain) == 0,
		      "%s: domain got \"%s\", want \"%s\"", valid[_i].name, p.domain,
		      valid[_i].domain);
	ck_assert_msg(p.ip_literal == valid[_i].ip_literal, "%s: ip_literal got %d, want %d",
		      valid[_i].name, p.ip_literal, valid[_i].ip_literal);
	ck_assert_msg(p.quoted_local == valid[_i].quoted, "%s: quoted_local got %d, want %d",
		      valid[_i].name, p.quoted_local, valid[_i].quoted);
}
END_TEST

static const struct {
	const char *name, *in;
	enum addr_status want;
} invalid[] = {
	{ "null sender", "", ADDR_NULL },
	{ "NULL", NULL, ADDR_NULL },
	{ "no @", "user", ADDR_NO_AT },
	{ "no @, dotted", "user.example.com", ADDR_NO_AT },
	{ "quoted @ only", "\"a@b\"", ADDR_NO_AT },
	{ "two @", "a@b@example.com", ADDR_MULTI_AT },
	{ "@@", "a@@example.com", ADDR_MULTI_AT },
	{ "quoted local then two @", "\"a@b\"@c@example.com", ADDR_MULTI_AT },
	{ "source route", "@a.example,@b.example:user@c.example", ADDR_SOURCE_ROUTE },
	{ "one-hop source route", "@a.example:user@c.example", ADDR_SOURCE_ROUTE },
	{ "trailing dot", "user@example.com.", ADDR_TRAILING_DOT },
	{ "empty local", "@example.com", ADDR_MALFORMED },
	{ "empty domain", "user@", ADDR_MALFORMED },
	{ "@ alone", "@", ADDR_MALFORMED },
	{ "empty label", "user@example..com", ADDR_MALFORMED },
	{ "leading dot in domain", "user@.example.com", ADDR_MALFORMED },
	{ "label starts with -", "user@-example.com", ADDR_MALFORMED },
	{ "label ends with -", "user@example-.com", ADDR_MALFORMED },
	{ "last label ends with -", "user@example.com-", ADDR_MALFORMED },
	{ "inner label starts with -", "user@mail.-x.example", ADDR_MALFORMED },
	{ "64-byte label",
	  "u@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
	  ADDR_MALFORMED },
	{ "space in local", "us er@example.com", ADDR_MALFORMED },
	{ "space in domain", "user@exa mple.com", ADDR_MALFORMED },
	{ "leading space", " user@example.com", ADDR_MALFORMED },
	{ "trailing space", "user@example.com ", ADDR_MALFORMED },
	{ "TAB in local", "us\ter@example.com", ADDR_MALFORMED },
	{ "control byte in local", "us\x01" "er@example.com", ADDR_MALFORMED },
	{ "control byte in domain", "user@exa\x01" "mple.com", ADDR_MALFORMED },
	{ "DEL in domain", "user@exa\x7f" "mple.com", ADDR_MALFORMED },
	{ "CR LF at end", "user@example.com\r\n", ADDR_MALFORMED },
	{ "control byte in quoted local", "\"a\x01" "b\"@example.com", ADDR_MALFORMED },
	{ "leading dot in local", ".user@example.com", ADDR_MALFORMED },
	{ "trailing dot in local", "user.@example.com", ADDR_MALFORMED },
	{ "two dots in local", "us..er@example.com", ADDR_MALFORMED },
	{ "unterminated quote", "\"user@example.com", ADDR_MALFORMED },
	{ "quote inside an atom", "us\"er\"@example.com", ADDR_MALFORMED },
	{ "backslash unquoted", "us\\er@example.com", ADDR_MALFORMED },
	{ "quoted domain", "user@\"example.com\"", ADDR_MALFORMED },
	{ "IP literal unterminated", "user@[192.0.2.1", ADDR_MALFORMED },
	{ "IP literal empty", "user@[]", ADDR_MALFORMED },
	{ "IP literal without [", "user@192.0.2.1]", ADDR_MALFORMED },
	{ "IP literal nested", "user@[[192.0.2.1]]", ADDR_MALFORMED },
	{ "IP literal with space", "user@[192.0.2.1 ]", ADDR_MALFORMED },
	{ "parenthesis in domain", "user@exa(mple).com", ADDR_MALFORMED },
	{ "comma in domain", "user@a,b.example", ADDR_MALFORMED },
	{ "angle brackets left", "<user@example.com>", ADDR_MALFORMED },
};

/* senders that must be refused, each with its own status */
START_TEST(test_invalid)
{
	struct addr_parts p;
	enum addr_status st = addr_parse(invalid[_i].in, &p);

	ck_assert_msg(st == invalid[_i].want, "%s: got %s, want %s", invalid[_i].name, sname(st),
		      sname(invalid[_i].want));
}
END_TEST

/* build - local@domain with the given lengths, in buf */
static const char *build(char *buf, size_t local_len, size_t domain_len)
{
	size_t o = 0;

	memset(buf, 'l', local_len);
	o = local_len;
	buf[o++] = '@';
	/* labels of at most 63 bytes: "ddd...d.ddd" */
	for (size_t i = 0; i < domain_len; i++)
		buf[o + i] = ((i + 1) % 64 == 0) ? '.' : 'd';
	o += domain_len;
	buf[o] = '\0';
	return buf;
}

/* lengths: 255-byte local and domain pass, 256 does not, 600 bytes does not */
START_TEST(test_lengths)
{
	static const struct {
		const char *name;
		size_t local, domain;
		enum addr_status want;
	} rows[] = {
		{ "local 255, domain 255", ADDR_LOCAL_MAX, ADDR_DOMAIN_MAX, ADDR_OK },
		{ "local 256", ADDR_LOCAL_MAX + 1, 11, ADDR_TOO_LONG },
		{ "domain 256", 4, ADDR_DOMAIN_MAX + 1, ADDR_TOO_LONG },
		{ "local 600", 600, 11, ADDR_TOO_LONG },
		{ "domain 600", 4, 600, ADDR_TOO_LONG },
		{ "local 1", 1, 1, ADDR_OK },
	};
	char buf[1400];

	for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		struct addr_parts p;
		enum addr_status st = addr_parse(build(buf, rows[k].local, rows[k].domain), &p);

		ck_assert_msg(st == rows[k].want, "%s: got %s, want %s", rows[k].name, sname(st),
			      sname(rows[k].want));
		if (st == ADDR_OK) {
			ck_assert_uint_eq(p.local_len, rows[k].local);
			ck_assert_uint_eq(strlen(p.domain), rows[k].domain);
		}
	}
}
END_TEST

/* a refused sender leaves no stale parts from a previous parse */
START_TEST(test_parts_reset)
{
	struct addr_parts p;

	ck_assert_int_eq(addr_parse("user@[192.0.2.1]", &p), ADDR_OK);
	ck_assert(p.ip_literal);
	ck_assert_int_eq(addr_parse("\"q\"@example.com", &p), ADDR_OK);
	ck_assert(!p.ip_literal);
	ck_assert(p.quoted_local);
	ck_assert_int_eq(addr_parse("a@b@c", &p), ADDR_MULTI_AT);
	ck_assert_msg(p.domain[0] == '\0' && !p.quoted_local && !p.ip_literal,
		      "refused sender: got domain \"%s\", want empty parts", p.domain);
}
END_TEST

/* every status has its own text */
START_TEST(test_status_text)
{
	for (int i = ADDR_OK; i <= ADDR_TOO_LONG; i++) {
		const char *t = addr_status_text((enum addr_status)i);

		ck_assert_msg(t != NULL && *t != '\0' && strcmp(t, "?") != 0,
			      "%s: got \"%s\", want a text", sname((enum addr_status)i), t);
		for (int j = ADDR_OK; j < i; j++)
			ck_assert_msg(strcmp(t, addr_status_text((enum addr_status)j)) != 0,
				      "%s and %s share the text \"%s\"",
				      sname((enum addr_status)j), sname((enum addr_status)i), t);
	}
	ck_assert_str_eq(addr_status_text((enum addr_status)99), "?");
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_valid, 0, sizeof(valid) / sizeof(valid[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid) / sizeof(invalid[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_test(tc, test_lengths);
	tcase_add_test(tc, test_parts_reset);
	tcase_add_test(tc, test_status_text);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
