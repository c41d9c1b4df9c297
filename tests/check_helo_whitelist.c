/*
 * NAME
 *	check_helo_whitelist - unit tests of common/helo_whitelist
 * DESCRIPTION
 *	The whitelist is built against a fake resolver (struct
 *	helo_resolver) holding canned forward (name -> addresses) and
 *	reverse (address -> PTR names) answers, which counts its look-ups;
 *	no test touches live DNS.  One table of build cases (spec -> kept
 *	pairs, problem lines, DNS look-ups), then the matching rules.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/helo_whitelist.h"

#include "check_main.h"

#define DNS_FAIL "FAIL"		/* an answer that is a DNS error */
#define MAX_ANSWERS 4

struct fake_rr {
	const char *query;
	const char *answers[MAX_ANSWERS];	/* NULL-terminated; DNS_FAIL = error */
};

static const struct fake_rr forward_zone[] = {
	{ "mx.example.com", { "192.0.2.1", "192.0.2.2" } },
	{ "relay.example.net", { "198.51.100.1", "198.51.100.2", "2001:db8::25" } },
	{ "bad.example.com", { "192.0.2.5" } },
	{ "v6.example.net", { "2001:db8::1" } },
	{ "v6b.example.net", { "2001:db8::2" } },
	{ "gone.example.com", { DNS_FAIL } },
	{ "empty.example.com", { NULL } },
	{ "noptr.example.com", { "192.0.2.7" } },
};

static const struct fake_rr reverse_zone[] = {
	{ "192.0.2.1", { "mx.example.com." } },
	{ "192.0.2.2", { "mx.example.com." } },
	{ "198.51.100.1", { "relay.example.net." } },
	{ "198.51.100.2", { "other.example.net." } },
	{ "2001:db8::25", { "unrelated.example.", "RELAY.Example.NET" } },
	{ "192.0.2.5", { "evil.example.org." } },
	{ "2001:db8::1", { "v6.example.net." } },
	{ "2001:db8::2", { "v6b.example.net" } },
	{ "192.0.2.7", { DNS_FAIL } },
};

struct fake_dns {
	int forward_calls, reverse_calls;
};

/* lookup - the answers of query in zone into out (size max); count, or -1 */
static int lookup(const struct fake_rr *zone, size_t zone_len, const char *query, char *out,
		  size_t width, int max)
{
	for (size_t i = 0; i < zone_len; i++) {
		int n = 0;

		if (strcasecmp(zone[i].query, query) != 0)
			continue;
		if (zone[i].answers[0] != NULL && strcmp(zone[i].answers[0], DNS_FAIL) == 0)
			return -1;
		while (n < max && n < MAX_ANSWERS && zone[i].answers[n] != NULL) {
			snprintf(out + (size_t)n * width, width, "%s", zone[i].answers[n]);
			n++;
		}
		return n;
	}
	return -1;	/* NXDOMAIN */
}

/* fake_forward - helo_resolver.forward over forward_zone */
static int fake_forward(void *ctx, const char *name, char addrs[][64], int max)
{
	((struct fake_dns *)ctx)->forward_calls++;
	return lookup(forward_zone, sizeof(forward_zone) / sizeof(forward_zone[0]), name,
		      &addrs[0][0], 64, max);
}

/* fake_reverse - helo_resolver.reverse over reverse_zone */
static int fake_reverse(void *ctx, const char *addr, char names[][256], int max)
{
	((struct fake_dns *)ctx)->reverse_calls++;
	return lookup(reverse_zone, sizeof(reverse_zone) / sizeof(reverse_zone[0]), addr,
		      &names[0][0], 256, max);
}

/* count_lines - lines in a problems text (NULL: 0) */
static int count_lines(const char *text)
{
	int n = 0;

	for (; text != NULL && *text != '\0'; text++)
		if (*text == '\n')
			n++;
	return n;
}

struct build_row {
	const char *name, *spec;
	size_t want_count;		/* pairs kept */
	const char *match[3];		/* "helo addr" pairs that must match */
	const char *nomatch[3];		/* "helo addr" pairs that must not */
	int want_problems;		/* problem lines */
	const char *problem_has;	/* text a problem line must contain */
	int want_dns;			/* 0: no DNS look-up at all; -1: any */
};

static const struct build_row build_rows[] = {
	{ "name:ip verified", "mx.example.com:192.0.2.1", 1,
	  { "mx.example.com 192.0.2.1" }, { "mx.example.com 192.0.2.2" }, 0, NULL, -1 },
	{ "name without ip keeps all that reverse-resolve", "relay.example.net", 2,
	  { "relay.example.net 198.51.100.1", "relay.example.net 2001:db8::25" },
	  { "relay.example.net 198.51.100.2" }, 1, "198.51.100.2", -1 },
	{ "wrong ip dropped", "mx.example.com:192.0.2.9", 0, { NULL },
	  { "mx.example.com 192.0.2.9", "mx.example.com 192.0.2.1" }, 1, "192.0.2.9", -1 },
	{ "PTR mismatch dropped", "bad.example.com:192.0.2.5", 0, { NULL },
	  { "bad.example.com 192.0.2.5" }, 1, "bad.example.com", -1 },
	{ "PTR mismatch without ip dropped", "bad.example.com", 0, { NULL },
	  { "bad.example.com 192.0.2.5" }, 1, "192.0.2.5", -1 },
	{ "case-insensitive name and trailing-dot PTR", "Mx.Example.COM:192.0.2.1", 1,
	  { "mx.example.com 192.0.2.1", "MX.EXAMPLE.COM 192.0.2.1", "mx.example.com. 192.0.2.1" },
	  { NULL }, 0, NULL, -1 },
	{ "IPv6 entry in brackets", "v6.example.net:[2001:db8::1]", 1,
	  { "v6.example.net 2001:db8::1", "v6.example.net 2001:db8:0:0::1" },
	  { "v6.example.net 2001:db8::2" }, 0, NULL, -1 },
	{ "bare IPv6 entry", "v6b.example.net:2001:db8::2", 1,
	  { "v6b.example.net 2001:db8::2" }, { "v6b.example.net 2001:db8::1" }, 0, NULL, -1 },
	{ "127.0.0.1 without DNS", "localhost.test:127.0.0.1", 1,
	  { "localhost.test 127.0.0.1", "localhost.test ::ffff:127.0.0.1" },
	  { "localhost.test 127.0.0.2" }, 0, NULL, 0 },
	{ "CHAPPS test fixture", "[127.0.1.1]:127.0.0.1", 1, { "[127.0.1.1] 127.0.0.1" },
	  { "127.0.1.1 127.0.0.1" }, 0, NULL, 0 },
	{ "::1 without DNS", "lo6.test:::1", 1, { "lo6.test ::1", "lo6.test 0:0::1" },
	  { "lo6.test 127.0.0.1" }, 0, NULL, 0 },
	{ "[::1] without DNS", "lo6.test:[::1]", 1, { "lo6.test 0:0:0:0:0:0:0:1" }, { NULL }, 0,
	  NULL, 0 },
	{ "DNS failure dropped", "gone.example.com", 0, { NULL }, { NULL }, 1,
	  "gone.example.com", -1 },
	{ "DNS failure with ip dropped", "gone.example.com:192.0.2.1", 0, { NULL },
	  { "gone.example.com 192.0.2.1" }, 1, "gone.example.com", -1 },
	{ "name without address dropped", "empty.example.com", 0, { NULL }, { NULL }, 1,
	  "empty.example.com", -1 },
	{ "reverse DNS failure dropped", "noptr.example.com:192.0.2.7", 0, { NULL },
	  { "noptr.example.com 192.0.2.7" }, 1, "192.0.2.7", -1 },
	{ "not an address", "mx.example.com:999.1.1.1", 0, { NULL }, { NULL }, 1, "999.1.1.1",
	  0 },
	{ "no name", ":192.0.2.1", 0, { NULL }, { NULL }, 1, "no name", 0 },
	{ "one bad entry does not drop the others",
	  "bad.example.com:192.0.2.5;mx.example.com:192.0.2.1;gone.example.com", 1,
	  { "mx.example.com 192.0.2.1" }, { "bad.example.com 192.0.2.5" }, 2, "gone.example.com",
	  -1 },
	{ "white space and empty entries", " mx.example.com : 192.0.2.1 ;; ;\tv6.example.net ",
	  2, { "mx.example.com 192.0.2.1", "v6.example.net 2001:db8::1" }, { NULL }, 0, NULL, -1 },
	{ "empty spec", "", 0, { NULL }, { "mx.example.com 192.0.2.1" }, 0, NULL, 0 },
	{ "NULL spec", NULL, 0, { NULL }, { NULL }, 0, NULL, 0 },
};

/* match_pair - match "helo addr" against wl */
static bool match_pair(const struct helo_whitelist *wl, const char *pair)
{
	char helo[128];
	const char *sp = strchr(pair, ' ');

	ck_assert(sp != NULL && (size_t)(sp - pair) < sizeof(helo));
	memcpy(helo, pair, (size_t)(sp - pair));
	helo[sp - pair] = '\0';
	return helo_whitelist_match(wl, helo, NULL, sp + 1);
}

START_TEST(test_build)
{
	const struct build_row *row = &build_rows[_i];
	struct fake_dns dns = { 0, 0 };
	struct helo_resolver resolver = { fake_forward, fake_reverse, &dns };
	struct helo_whitelist *wl;
	char *problems = (char *)"unset";
	int i;

	wl = helo_whitelist_build(row->spec, &resolver, &problems);
	ck_assert_msg(wl != NULL, "%s: got NULL, want a whitelist", row->name);
	ck_assert_msg(helo_whitelist_count(wl) == row->want_count, "%s: got %zu pairs, want %zu",
		      row->name, helo_whitelist_count(wl), row->want_count);
	for (i = 0; i < 3 && row->match[i] != NULL; i++)
		ck_assert_msg(match_pair(wl, row->match[i]), "%s: \"%s\": got no match, want one",
			      row->name, row->match[i]);
	for (i = 0; i < 3 && row->nomatch[i] != NULL; i++)
		ck_assert_msg(!match_pair(wl, row->nomatch[i]),
			      "%s: \"%s\": got a match, want none", row->name, row->nomatch[i]);
	ck_assert_msg(count_lines(problems) == row->want_problems,
		      "%s: got %d problem lines (%s), want %d", row->name, count_lines(problems),
		      problems ? problems : "none", row->want_problems);
	if (row->want_problems == 0)
		ck_assert_msg(problems == NULL, "%s: got problems \"%s\", want NULL", row->name,
			      problems);
	if (row->problem_has != NULL)
		ck_assert_msg(problems != NULL && strstr(problems, row->problem_has) != NULL,
			      "%s: got problems \"%s\", want them to name \"%s\"", row->name,
			      problems ? problems : "none", row->problem_has);
	if (row->want_dns == 0)
		ck_assert_msg(dns.forward_calls == 0 && dns.reverse_calls == 0,
			      "%s: got %d forward and %d reverse look-ups, want none", row->name,
			      dns.forward_calls, dns.reverse_calls);
	free(problems);
	helo_whitelist_free(wl);
}
END_TEST

START_TEST(test_build_no_problems_arg)
{
	struct fake_dns dns = { 0, 0 };
	struct helo_resolver resolver = { fake_forward, fake_reverse, &dns };
	struct helo_whitelist *wl;

	/* problems_r may be NULL: the text is freed, not leaked (valgrind) */
	wl = helo_whitelist_build("gone.example.com;mx.example.com:192.0.2.1", &resolver, NULL);
	ck_assert_uint_eq(helo_whitelist_count(wl), 1);
	helo_whitelist_free(wl);
	helo_whitelist_free(NULL);
}
END_TEST

/* greedy_forward - a resolver that answers more than max */
static int greedy_forward(void *ctx, const char *name, char addrs[][64], int max)
{
	(void)ctx;
	(void)name;
	for (int i = 0; i < max; i++)
		snprintf(addrs[i], 64, "192.0.2.%d", i + 1);
	return max + 10;
}

/* greedy_reverse - every address is mx.example.com, with too many answers */
static int greedy_reverse(void *ctx, const char *addr, char names[][256], int max)
{
	(void)ctx;
	(void)addr;
	for (int i = 0; i < max; i++)
		snprintf(names[i], 256, "mx.example.com");
	return max + 10;
}

START_TEST(test_build_greedy_resolver)
{
	struct helo_resolver resolver = { greedy_forward, greedy_reverse, NULL };
	struct helo_whitelist *wl;
	char *problems = NULL;

	/* the builder reads no more answers than it asked for */
	wl = helo_whitelist_build("mx.example.com", &resolver, &problems);
	ck_assert_msg(helo_whitelist_count(wl) >= 1 && helo_whitelist_count(wl) <= 16,
		      "got %zu pairs, want 1..16", helo_whitelist_count(wl));
	ck_assert_ptr_null(problems);
	ck_assert(helo_whitelist_match(wl, "mx.example.com", NULL, "192.0.2.1"));
	helo_whitelist_free(wl);
}
END_TEST

/* build_fixture - the whitelist the match cases use */
static struct helo_whitelist *build_fixture(void)
{
	static struct fake_dns dns;
	struct helo_resolver resolver = { fake_forward, fake_reverse, &dns };
	struct helo_whitelist *wl;
	char *problems = NULL;

	wl = helo_whitelist_build("mx.example.com:192.0.2.1;v6.example.net;lo6.test:::1",
				  &resolver, &problems);
	ck_assert_msg(problems == NULL, "fixture: got problems \"%s\", want none", problems);
	ck_assert_uint_eq(helo_whitelist_count(wl), 3);
	return wl;
}

static const struct {
	const char *name, *helo, *client_name, *addr;
	bool want;
} match_rows[] = {
	{ "by HELO", "mx.example.com", "unknown", "192.0.2.1", true },
	{ "by HELO, any case, trailing dot", "MX.example.COM.", NULL, "192.0.2.1", true },
	{ "by client name when HELO is empty", "", "mx.example.com", "192.0.2.1", true },
	{ "by client name when HELO is NULL", NULL, "mx.example.com", "192.0.2.1", true },
	{ "HELO given and wrong: client name not used", "other.example", "mx.example.com",
	  "192.0.2.1", false },
	{ "another address", "mx.example.com", NULL, "192.0.2.2", false },
	{ "another name at the address", "evil.example.org", NULL, "192.0.2.1", false },
	{ "name is not a prefix match", "mx.example.co", NULL, "192.0.2.1", false },
	{ "IPv4-mapped client address", "mx.example.com", NULL, "::ffff:192.0.2.1", true },
	{ "IPv6 compared in binary", "lo6.test", NULL, "0:0::1", true },
	{ "IPv6 compared in binary, expanded", "lo6.test", NULL, "0:0:0:0:0:0:0:1", true },
	{ "IPv6 name resolved at build", "v6.example.net", NULL, "2001:DB8::1", true },
	{ "IPv6 another address", "v6.example.net", NULL, "2001:db8::3", false },
	{ "client address not an address", "mx.example.com", NULL, "unknown", false },
	{ "client address empty", "mx.example.com", NULL, "", false },
	{ "client address NULL", "mx.example.com", NULL, NULL, false },
	{ "no HELO, no client name", NULL, NULL, "192.0.2.1", false },
};

START_TEST(test_match)
{
	struct helo_whitelist *wl = build_fixture();
	bool got;

	got = helo_whitelist_match(wl, match_rows[_i].helo, match_rows[_i].client_name,
				   match_rows[_i].addr);
	ck_assert_msg(got == match_rows[_i].want, "%s: got %s, want %s", match_rows[_i].name,
		      got ? "match" : "no match", match_rows[_i].want ? "match" : "no match");
	helo_whitelist_free(wl);
}
END_TEST

START_TEST(test_match_empty)
{
	struct helo_resolver resolver = { fake_forward, fake_reverse, &(struct fake_dns){ 0 } };
	struct helo_whitelist *wl = helo_whitelist_build("", &resolver, NULL);

	ck_assert(!helo_whitelist_match(NULL, "mx.example.com", NULL, "192.0.2.1"));
	ck_assert(!helo_whitelist_match(wl, "mx.example.com", NULL, "192.0.2.1"));
	ck_assert_uint_eq(helo_whitelist_count(NULL), 0);
	helo_whitelist_free(wl);
}
END_TEST

#define ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* make_suite - the helo_whitelist suite */
static Suite *make_suite(void)
{
	Suite *s = suite_create("helo_whitelist");
	TCase *tc;

	tc = tcase_create("build");
	tcase_add_loop_test(tc, test_build, 0, ROWS(build_rows));
	tcase_add_test(tc, test_build_no_problems_arg);
	tcase_add_test(tc, test_build_greedy_resolver);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_loop_test(tc, test_match, 0, ROWS(match_rows));
	tcase_add_test(tc, test_match_empty);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
