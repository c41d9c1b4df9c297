/*
 * NAME
 *	check_spf - unit tests of common/spf (SPF checks on libspf2)
 * DESCRIPTION
 *	No test touches the network.  Most run on an in-memory zone
 *	(spf_checker_create_zone): every SPF result through both identities
 *	(HELO fail decides; HELO pass lets MAIL FROM decide; the null sender
 *	is postmaster@helo), IPv6 and IPv4-mapped clients, a, mx, include,
 *	redirect, exists with a macro, exp= texts, the Received-SPF text and
 *	its escaping, loopback clients (checked, no libspf2 free pass), the
 *	time budget (a TIMEOUT record, alone and on the HELO name), libspf2
 *	SPF_error()s that must not abort (at the top, in an include, mx and
 *	exp=), records that smash the stack of Debian 12's libspf2
 *	(CVE-2023-42118) and must be screened out, and 8 threads x 200
 *	checks.  The rest run the system-resolver path
 *	(spf_checker_create_ns) against a fake DNS server on 127.0.0.1 (an
 *	ephemeral port, a thread of the test): answers split into several
 *	TXT strings, A records, SERVFAIL, a server that never answers (the
 *	budget with real res_nquery timeouts), no type-99 queries, and 8
 *	threads each with its own resolver state.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spf/spf.h"
#include "spf/spf_header.h"

#include "check_main.h"
#include "test_util.h"
#include "spf_header_check.h"

#define RECEIVER "rcv.example"

/*
 * Under -fsanitize=address: the libspf2-internal leaks of an unwound
 * SPF_error (LIBERROR rows), as in tests/valgrind.supp.  libspf2 has no
 * frame pointers, so the suppressions need the slow (DWARF) unwinder to see
 * the functions they name.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:SPF_record_interpret\nleak:SPF_server_get_record\n";
}

static const char *const zone[] = {
	"pass.example TXT v=spf1 ip4:192.0.2.0/24 -all",
	"fail.example TXT v=spf1 -all",
	"soft.example TXT v=spf1 ~all",
	"neutral.example TXT v=spf1 ?all",
	"norecord.example A 192.0.2.99",
	"norecord.example TXT google-site-verification=abc",
	"syntax.example TXT v=spf1 foo -all",
	"cidr.example TXT v=spf1 ip4:192.0.2.0/33 -all",
	"two.example TXT v=spf1 -all",
	"two.example TXT v=spf1 +all",
	"lookups.example TXT v=spf1 a:l1.example a:l2.example a:l3.example a:l4.example "
	"a:l5.example a:l6.example a:l7.example a:l8.example a:l9.example a:l10.example "
	"a:l11.example -all",
	"slow.example TXT TIMEOUT",
	"tempfail.example TXT TEMPFAIL",
	"liberror.example TXT LIBERROR",
	"exp.example TXT v=spf1 -all exp=why.exp.example",
	"why.exp.example TXT Mail from %{i} is not accepted here",
	"v6.example TXT v=spf1 ip6:2001:db8::/32 -all",
	"amech.example TXT v=spf1 a -all",
	"amech.example A 192.0.2.10",
	"mxmech.example TXT v=spf1 mx -all",
	"mxmech.example MX 10 mail.mxmech.example",
	"mail.mxmech.example A 198.51.100.20",
	"incl.example TXT v=spf1 include:pass.example -all",
	"inclnone.example TXT v=spf1 include:nothing.example -all",
	"incltemp.example TXT v=spf1 include:tempfail.example -all",
	"redir.example TXT v=spf1 redirect=fail.example",
	"macro.example TXT v=spf1 exists:%{i}.ok.macro.example -all",
	"192.0.2.3.ok.macro.example A 127.0.0.2",
	"local.example TXT v=spf1 ip4:127.0.0.1 -all",
	"helo-pass.example TXT v=spf1 ip4:192.0.2.0/24 -all",
	"helo-fail.example TXT v=spf1 -all",
	"helo-soft.example TXT v=spf1 ~all",
	"helo-slow.example TXT TIMEOUT",
	"helo-error.example TXT LIBERROR",
	"inclerr.example TXT v=spf1 ip4:10.0.0.0/8 include:liberror.example -all",
	"mxerr.example TXT v=spf1 mx -all",
	"mxerr.example MX 10 mx1.mxerr.example",
	"mx1.mxerr.example A LIBERROR",
	"experr.example TXT v=spf1 -all exp=liberror.example",
};
#define ZONE_N (sizeof(zone) / sizeof(zone[0]))

static const char *const result_names[] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror",
};

/* name - spf_result_name, checked against our own table */
static const char *name(enum spf_result r)
{
	return (unsigned)r < 7 ? result_names[r] : "?";
}

/* make_zone - a checker on the test zone */
static struct spf_checker *make_zone(void)
{
	struct spf_checker *c = NULL;
	const char *err = NULL;

	ck_assert_msg(spf_checker_create_zone(RECEIVER, zone, ZONE_N, &c, &err) == 0,
		      "spf_checker_create_zone: %s", err ? err : "?");
	ck_assert_ptr_nonnull(c);
	return c;
}

/* elapsed_ms - milliseconds since t0 */
static long elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- every result, both identities --------------------------------------- */

struct row {
	const char *name;
	const char *ip, *helo, *sender;
	enum spf_result want;
	bool want_helo;		/* the answer comes from the HELO identity */
	const char *reason;	/* the reason starts with this */
	const char *reason_has;	/* and contains this (or NULL) */
};

static const struct row rows[] = {
	{"pass ip4", "192.0.2.3", "mx.norecord.example", "a@pass.example", SPF_RESULT_PASS, false,
	 "sender SPF authorized", NULL},
	{"fail -all", "192.0.2.3", "mx.norecord.example", "a@fail.example", SPF_RESULT_FAIL, false,
	 "SPF fail - not authorized", NULL},
	{"fail outside ip4", "198.51.100.1", "mx.norecord.example", "a@pass.example",
	 SPF_RESULT_FAIL, false, "SPF fail - not authorized", NULL},
	{"softfail ~all", "192.0.2.3", "mx.norecord.example", "a@soft.example",
	 SPF_RESULT_SOFTFAIL, false, "domain owner discourages use of this host", NULL},
	{"neutral ?all", "192.0.2.3", "mx.norecord.example", "a@neutral.example",
	 SPF_RESULT_NEUTRAL, false, "access neither permitted nor denied", NULL},
	{"none: no SPF record", "192.0.2.3", "mx.norecord.example", "a@norecord.example",
	 SPF_RESULT_NONE, false, "", NULL},
	{"none: no such domain", "192.0.2.3", "mx.norecord.example", "a@nothing.example",
	 SPF_RESULT_NONE, false, "", NULL},
	{"none: single-label domain", "192.0.2.3", "mx.norecord.example", "a@localhost",
	 SPF_RESULT_NONE, false, "", NULL},
	{"permerror: unknown mechanism", "192.0.2.3", "mx.norecord.example", "a@syntax.example",
	 SPF_RESULT_PERMERROR, false, "SPF Permanent Error: ", "Unknown mechanism"},
	{"permerror: bad cidr", "192.0.2.3", "mx.norecord.example", "a@cidr.example",
	 SPF_RESULT_PERMERROR, false, "SPF Permanent Error: ", "CIDR"},
	{"permerror: two records", "192.0.2.3", "mx.norecord.example", "a@two.example",
	 SPF_RESULT_PERMERROR, false, "SPF Permanent Error: ", "Multiple SPF records"},
	{"permerror: too many lookups", "192.0.2.3", "mx.norecord.example", "a@lookups.example",
	 SPF_RESULT_PERMERROR, false, "SPF Permanent Error: ", "too many DNS lookups"},
	{"permerror: include of none", "192.0.2.3", "mx.norecord.example", "a@inclnone.example",
	 SPF_RESULT_PERMERROR, false, "SPF Permanent Error: ", NULL},
	{"temperror: DNS failure", "192.0.2.3", "mx.norecord.example", "a@tempfail.example",
	 SPF_RESULT_TEMPERROR, false, "SPF Temporary Error: ", "tempfail.example"},
	{"temperror: include of DNS failure", "192.0.2.3", "mx.norecord.example",
	 "a@incltemp.example", SPF_RESULT_TEMPERROR, false, "SPF Temporary Error: ", NULL},
	{"fail with exp= text", "192.0.2.3", "mx.norecord.example", "a@exp.example",
	 SPF_RESULT_FAIL, false, "Mail from 192.0.2.3 is not accepted here", NULL},
	{"pass: a", "192.0.2.10", "mx.norecord.example", "a@amech.example", SPF_RESULT_PASS,
	 false, "sender SPF authorized", NULL},
	{"fail: a", "192.0.2.11", "mx.norecord.example", "a@amech.example", SPF_RESULT_FAIL,
	 false, "SPF fail - not authorized", NULL},
	{"pass: mx", "198.51.100.20", "mx.norecord.example", "a@mxmech.example", SPF_RESULT_PASS,
	 false, "sender SPF authorized", NULL},
	{"pass: include", "192.0.2.3", "mx.norecord.example", "a@incl.example", SPF_RESULT_PASS,
	 false, "sender SPF authorized", NULL},
	{"fail: redirect", "192.0.2.3", "mx.norecord.example", "a@redir.example", SPF_RESULT_FAIL,
	 false, "SPF fail - not authorized", NULL},
	{"pass: exists with %{i}", "192.0.2.3", "mx.norecord.example", "a@macro.example",
	 SPF_RESULT_PASS, false, "sender SPF authorized", NULL},
	{"fail: exists with %{i}", "192.0.2.4", "mx.norecord.example", "a@macro.example",
	 SPF_RESULT_FAIL, false, "SPF fail - not authorized", NULL},
	{"pass: IPv6", "2001:db8::5", "mx.norecord.example", "a@v6.example", SPF_RESULT_PASS,
	 false, "sender SPF authorized", NULL},
	{"fail: IPv6", "2001:dbf::1", "mx.norecord.example", "a@v6.example", SPF_RESULT_FAIL,
	 false, "SPF fail - not authorized", NULL},
	{"pass: IPv6 with IPv6: prefix", "IPv6:2001:db8::5", "mx.norecord.example", "a@v6.example",
	 SPF_RESULT_PASS, false, "sender SPF authorized", NULL},
	{"pass: IPv4-mapped IPv6", "::ffff:192.0.2.3", "mx.norecord.example", "a@pass.example",
	 SPF_RESULT_PASS, false, "sender SPF authorized", NULL},
	{"pass: sender in <>", "192.0.2.3", "mx.norecord.example", "<a@pass.example>",
	 SPF_RESULT_PASS, false, "sender SPF authorized", NULL},
	{"HELO fail decides", "192.0.2.3", "helo-fail.example", "a@pass.example", SPF_RESULT_FAIL,
	 true, "SPF fail - not authorized", NULL},
	{"HELO softfail: MAIL FROM decides", "192.0.2.3", "helo-soft.example", "a@pass.example",
	 SPF_RESULT_PASS, false, "sender SPF authorized", NULL},
	{"HELO pass: MAIL FROM fail decides", "192.0.2.3", "helo-pass.example", "a@fail.example",
	 SPF_RESULT_FAIL, false, "SPF fail - not authorized", NULL},
	{"HELO pass: MAIL FROM pass", "192.0.2.3", "helo-pass.example", "a@pass.example",
	 SPF_RESULT_PASS, false, "sender SPF authorized", NULL},
	{"HELO pass: MAIL FROM none", "192.0.2.3", "helo-pass.example", "a@norecord.example",
	 SPF_RESULT_NONE, false, "", NULL},
	{"null sender: postmaster@helo pass", "192.0.2.3", "helo-pass.example", "",
	 SPF_RESULT_PASS, true, "sender SPF authorized", NULL},
	{"null sender <>: postmaster@helo fail", "198.51.100.1", "helo-pass.example", "<>",
	 SPF_RESULT_FAIL, true, "SPF fail - not authorized", NULL},
	{"null sender: helo without record", "192.0.2.3", "mx.norecord.example", "",
	 SPF_RESULT_NONE, true, "", NULL},
	{"null sender: address literal helo", "192.0.2.3", "[192.0.2.3]", "", SPF_RESULT_NONE,
	 true, "", NULL},
	{"address literal helo: MAIL FROM decides", "192.0.2.3", "[192.0.2.3]", "a@fail.example",
	 SPF_RESULT_FAIL, false, "SPF fail - not authorized", NULL},
	{"empty helo: MAIL FROM decides", "192.0.2.3", "", "a@pass.example", SPF_RESULT_PASS,
	 false, "sender SPF authorized", NULL},
	{"loopback is checked: HELO fail", "127.0.0.1", "helo-fail.example", "a@fail.example",
	 SPF_RESULT_FAIL, true, "SPF fail - not authorized", NULL},
	{"loopback is checked: pass", "127.0.0.1", "mx.norecord.example", "a@local.example",
	 SPF_RESULT_PASS, false, "sender SPF authorized", NULL},
	{"loopback is checked: fail", "::1", "mx.norecord.example", "a@local.example",
	 SPF_RESULT_FAIL, false, "SPF fail - not authorized", NULL},
	{"invalid client address", "not-an-address", "helo-pass.example", "a@pass.example",
	 SPF_RESULT_TEMPERROR, false, "SPF Temporary Error: invalid client address", NULL},
	{"libspf2 SPF_error: temperror", "192.0.2.3", "mx.norecord.example", "a@liberror.example",
	 SPF_RESULT_TEMPERROR, false, "SPF Temporary Error: SPF library error: ",
	 "SPF DNS layer return NULL"},
	{"libspf2 SPF_error on HELO: MAIL FROM decides", "192.0.2.3", "helo-error.example",
	 "a@pass.example", SPF_RESULT_PASS, false, "sender SPF authorized", NULL},
	{"libspf2 SPF_error in an include", "192.0.2.3", "mx.norecord.example",
	 "a@inclerr.example", SPF_RESULT_TEMPERROR, false,
	 "SPF Temporary Error: SPF library error: ", NULL},
	{"libspf2 SPF_error in mx", "192.0.2.3", "mx.norecord.example", "a@mxerr.example",
	 SPF_RESULT_TEMPERROR, false, "SPF Temporary Error: SPF library error: ", NULL},
	{"libspf2 SPF_error in exp=", "192.0.2.3", "mx.norecord.example", "a@experr.example",
	 SPF_RESULT_TEMPERROR, false, "SPF Temporary Error: SPF library error: ", NULL},
};
#define ROWS_N (sizeof(rows) / sizeof(rows[0]))

/* check_row - run one row on c and assert result, identity, reason and header */
static void check_row(struct spf_checker *c, const struct row *r)
{
	struct spf_outcome out;
	static const char *const words[] = {
		"None", "Neutral", "Pass", "Fail", "SoftFail", "TempError", "PermError",
	};
	char want[64];
	const char *p;

	memset(&out, 0x5a, sizeof(out));
	spf_check(c, r->ip, r->helo, r->sender, 5000, &out);
	ck_assert_msg(out.result == r->want, "%s: result got %s, want %s (reason \"%s\")", r->name,
		      name(out.result), name(r->want), out.reason);
	ck_assert_msg(out.helo_identity == r->want_helo, "%s: helo_identity got %d, want %d",
		      r->name, out.helo_identity, r->want_helo);
	ck_assert_msg(strncmp(out.reason, r->reason, strlen(r->reason)) == 0 &&
			      (r->reason[0] != '\0' || out.reason[0] == '\0'),
		      "%s: reason got \"%s\", want \"%s...\"", r->name, out.reason, r->reason);
	if (r->reason_has != NULL)
		ck_assert_msg(strstr(out.reason, r->reason_has) != NULL,
			      "%s: reason got \"%s\", want it to contain \"%s\"", r->name, out.reason,
			      r->reason_has);
	for (p = out.reason; *p != '\0'; p++)
		ck_assert_msg(*p >= ' ' && *p <= '~', "%s: reason has byte 0x%02x", r->name,
			      (unsigned char)*p);
	if (strcmp(r->ip, "not-an-address") == 0) {
		ck_assert_msg(out.header[0] == '\0', "%s: header got \"%s\", want none", r->name,
			      out.header);
		return;
	}
	snprintf(want, sizeof(want), "%s (", words[r->want]);
	ck_assert_msg(strncmp(out.header, want, strlen(want)) == 0,
		      "%s: header got \"%s\", want it to start with \"%s\"", r->name, out.header,
		      want);
	ck_assert_msg(strstr(out.header, r->want_helo ? "; identity=helo" : "; identity=mailfrom"),
		      "%s: header got \"%s\", want identity=%s", r->name, out.header,
		      r->want_helo ? "helo" : "mailfrom");
	ck_assert_msg(strstr(out.header, ") client-ip=") != NULL,
		      "%s: header got \"%s\", want client-ip=", r->name, out.header);
	ck_assert_msg(strstr(out.header, "; receiver=" RECEIVER ";") != NULL,
		      "%s: header got \"%s\", want receiver=" RECEIVER, r->name, out.header);
	ck_assert_msg(strpbrk(out.header, "\r\n") == NULL, "%s: header has CR or LF", r->name);
}

START_TEST(test_results)
{
	struct spf_checker *c = make_zone();

	check_row(c, &rows[_i]);
	spf_checker_destroy(&c);
	ck_assert_ptr_null(c);
}
END_TEST

/* ---- header text --------------------------------------------------------- */

/* the exact header of a pass, a HELO fail and a null sender */
START_TEST(test_header_exact)
{
	static const struct {
		const char *ip, *helo, *sender, *want;
	} cases[] = {
		{"192.0.2.3", "mx.norecord.example", "a@pass.example",
		 "Pass (rcv.example: domain of pass.example designates 192.0.2.3 as permitted "
		 "sender) client-ip=192.0.2.3; envelope-from=\"a@pass.example\"; "
		 "helo=mx.norecord.example; receiver=rcv.example; identity=mailfrom"},
		{"192.0.2.3", "helo-fail.example", "a@pass.example",
		 "Fail (rcv.example: domain of helo-fail.example does not designate 192.0.2.3 as "
		 "permitted sender) client-ip=192.0.2.3; "
		 "envelope-from=\"postmaster@helo-fail.example\"; helo=helo-fail.example; "
		 "receiver=rcv.example; identity=helo"},
		{"2001:db8::5", "mx.norecord.example", "a@soft.example",
		 "SoftFail (rcv.example: domain of transitioning soft.example does not designate "
		 "2001:db8::5 as permitted sender) client-ip=2001:db8::5; "
		 "envelope-from=\"a@soft.example\"; helo=mx.norecord.example; "
		 "receiver=rcv.example; identity=mailfrom"},
		{"192.0.2.3", "mx.norecord.example", "a@tempfail.example",
		 "TempError (rcv.example: temporary error in processing domain of "
		 "tempfail.example) client-ip=192.0.2.3; envelope-from=\"a@tempfail.example\"; "
		 "helo=mx.norecord.example; receiver=rcv.example; identity=mailfrom"},
	};
	struct spf_checker *c = make_zone();
	struct spf_outcome out;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		spf_check(c, cases[i].ip, cases[i].helo, cases[i].sender, 5000, &out);
		ck_assert_msg(strcmp(out.header, cases[i].want) == 0,
			      "case %zu: header got\n  \"%s\"\nwant\n  \"%s\"", i, out.header,
			      cases[i].want);
	}
	spf_checker_destroy(&c);
}
END_TEST

/* hostile helo and sender: no CR/LF, quotes escaped, bounded length */
START_TEST(test_header_escaping)
{
	struct spf_checker *c = make_zone();
	struct spf_outcome out;
	char sender[600], *p;

	spf_check(c, "192.0.2.3", "bad (helo)\r\nX-Evil: 1", "\"a\\\"b\r\n\"@pass.example", 5000,
		  &out);
	ck_assert_msg(out.result == SPF_RESULT_PASS, "result got %s, want pass",
		      name(out.result));
	ck_assert_msg(strpbrk(out.header, "\r\n") == NULL, "header has CR/LF: %s", out.header);
	ck_assert_msg(strstr(out.header, "envelope-from=\"\\\"a\\\\\\\"b??\\\"@pass.example\";") != NULL,
		      "envelope-from not escaped: %s", out.header);
	ck_assert_msg(strstr(out.header, "; helo=\"bad (helo)??X-Evil: 1\";") != NULL,
		      "helo not quoted: %s", out.header);

	/* a 300-byte local part: the header stays on one line under 980 bytes */
	memset(sender, 'x', 300);
	strcpy(sender + 300, "@pass.example");
	spf_check(c, "192.0.2.3", "mx.norecord.example", sender, 5000, &out);
	ck_assert_msg(out.result == SPF_RESULT_PASS, "long sender: result got %s, want pass",
		      name(out.result));
	ck_assert_msg(strlen(out.header) < 980, "long sender: header length %zu, want < 980",
		      strlen(out.header));
	ck_assert_msg(strstr(out.header, "; identity=mailfrom") != NULL,
		      "long sender: identity= lost: %s", out.header);
	p = strstr(out.header, "envelope-from=\"");
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(strstr(p + 15, "\"; helo=") != NULL, "envelope-from not closed: %s",
		      out.header);
	spf_checker_destroy(&c);
}
END_TEST

/* ---- spf_header_build on its own ------------------------------------------ */

/* hdr_assert_sound - the promises of any header value, for row name */
static void hdr_assert_sound(const char *name, const char *value, bool helo_given)
{
	const char *fault = test_spf_header_fault(value, helo_given);

	ck_assert_msg(fault == NULL, "%s: %s: \"%s\" (%zu bytes)", name, fault, value,
		      strlen(value));
}

static const struct hdr_row {
	const char *name;
	struct spf_header_fields f;
	const char *want;		/* exact value, or NULL: invariants only */
} hdr_rows[] = {
	{"pass", {SPF_RESULT_PASS, false, "rcv", "192.0.2.3", "mx.example.com", "a@example.com",
		  "example.com"},
	 "Pass (rcv: domain of example.com designates 192.0.2.3 as permitted sender) "
	 "client-ip=192.0.2.3; envelope-from=\"a@example.com\"; helo=mx.example.com; "
	 "receiver=rcv; identity=mailfrom"},
	{"helo identity, no domain given", {SPF_RESULT_NEUTRAL, true, "rcv", "2001:db8::1", "h.example",
					    "ignored@x", NULL},
	 "Neutral (rcv: 2001:db8::1 is neither permitted nor denied by domain of h.example) "
	 "client-ip=2001:db8::1; envelope-from=\"postmaster@h.example\"; helo=h.example; "
	 "receiver=rcv; identity=helo"},
	{"none, no domain, no helo", {SPF_RESULT_NONE, false, "rcv", "192.0.2.3", "", "", ""},
	 "None (rcv: \\(no domain\\) does not designate permitted sender hosts) "
	 "client-ip=192.0.2.3; envelope-from=\"\"; receiver=rcv; identity=mailfrom"},
	{"NULL strings", {SPF_RESULT_PERMERROR, false, NULL, NULL, NULL, NULL, NULL},
	 "PermError (: permanent error in processing domain of ) client-ip=; envelope-from=\"\"; "
	 "receiver=\"\"; identity=mailfrom"},
	{"CRLF and a header in the HELO", {SPF_RESULT_FAIL, false, "rcv", "192.0.2.3",
					   "x\r\nX-Evil: 1; identity=helo", "a@b.example",
					   "b.example"}, NULL},
	{"CRLF, quote and ; in the sender", {SPF_RESULT_SOFTFAIL, false, "rcv", "192.0.2.3",
					     "h.example", "a\"; helo=evil\r\n\r\nbody\\@b.example",
					     "b.example"}, NULL},
	{"open quote and parenthesis in the HELO", {SPF_RESULT_FAIL, true, "rcv", "192.0.2.3",
						    "\"(((h\\", "", ""}, NULL},
	{"comment break-out in the domain", {SPF_RESULT_PASS, false, "rcv", "192.0.2.3", "h.example",
					     "a@x", "x) evil=1; (y"}, NULL},
	{"address field injection", {SPF_RESULT_PASS, false, "rcv", "1.2.3.4; identity=helo\r\nX: 1",
				     "h.example", "a@x", "x"}, NULL},
	{"8-bit and NUL-free controls", {SPF_RESULT_TEMPERROR, false, "rcv", "192.0.2.3",
					 "h\x01\x7f\xff.example", "\x80\x1b[0m@x", "x"}, NULL},
};

#define HDR_ROWS_N ((int)(sizeof(hdr_rows) / sizeof(hdr_rows[0])))

/* one row: the exact value where given, and the invariants always */
START_TEST(test_header_build)
{
	const struct hdr_row *r = &hdr_rows[_i];
	char buf[1024];
	const char *helo = r->f.helo != NULL ? r->f.helo : "";

	memset(buf, 'Z', sizeof(buf));
	spf_header_build(&r->f, buf, sizeof(buf));
	if (r->want != NULL)
		ck_assert_msg(strcmp(buf, r->want) == 0, "%s: got\n  \"%s\"\nwant\n  \"%s\"", r->name,
			      buf, r->want);
	hdr_assert_sound(r->name, buf, helo[0] != '\0');
}
END_TEST

/* hdr_random - n random bytes (1..255, so C strings) into buf */
static char *hdr_random(char *buf, size_t n, unsigned *seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned v = (unsigned)rand_r(seed) % 8;

		/* mostly the bytes that matter: quotes, escapes, parentheses, CR/LF, ';' */
		buf[i] = v < 4 ? "\"\\()\r\n; =@:"[rand_r(seed) % 12] : (char)(1 + rand_r(seed) % 255);
	}
	buf[n] = '\0';
	return buf;
}

/* 5000 random inputs of up to 1000 bytes per field: the invariants hold, the buffer is not overrun */
START_TEST(test_header_random)
{
	char helo[1001], sender[1001], domain[1001], ip[101], recv[301], name[64];
	char buf[1024 + 16];
	unsigned seed = 20260401;
	int i, j;

	for (i = 0; i < 5000; i++) {
		struct spf_header_fields f = {
			(enum spf_result)(i % (SPF_RESULT_PERMERROR + 1)),
			i % 3 == 0,
			hdr_random(recv, (size_t)rand_r(&seed) % 300, &seed),
			hdr_random(ip, (size_t)rand_r(&seed) % 100, &seed),
			hdr_random(helo, (size_t)rand_r(&seed) % 1000, &seed),
			hdr_random(sender, (size_t)rand_r(&seed) % 1000, &seed),
			hdr_random(domain, (size_t)rand_r(&seed) % 1000, &seed),
		};

		memset(buf, 'Z', sizeof(buf));
		spf_header_build(&f, buf, 1024);
		for (j = 1024; j < (int)sizeof(buf) && buf[j] == 'Z'; j++)
			;
		ck_assert_msg(j == (int)sizeof(buf), "input %d: byte %d beyond the buffer written",
			      i, j);
		snprintf(name, sizeof(name), "random input %d", i);
		hdr_assert_sound(name, buf, helo[0] != '\0');
	}
}
END_TEST

/* a small buffer: cut, terminated, nothing written beyond it; size 0 writes nothing */
START_TEST(test_header_small_buffer)
{
	char buf[40];

	memset(buf, 'Z', sizeof(buf));
	spf_header_build(&hdr_rows[0].f, buf, 20);
	ck_assert_msg(strlen(buf) == 19, "got %zu bytes, want 19", strlen(buf));
	ck_assert_msg(strncmp(buf, hdr_rows[0].want, 19) == 0, "got \"%s\"", buf);
	ck_assert_msg(buf[20] == 'Z', "byte 20 written");
	spf_header_build(&hdr_rows[0].f, buf, 0);
	ck_assert_msg(buf[0] == 'P', "size 0: buffer written");
}
END_TEST

/* the error class of each result (base/error.h) */
START_TEST(test_result_class)
{
	enum spf_result r;

	for (r = SPF_RESULT_NONE; r <= SPF_RESULT_PERMERROR; r++) {
		enum error_class want = r == SPF_RESULT_TEMPERROR ? ERROR_TEMPORARY
				      : r == SPF_RESULT_PERMERROR ? ERROR_INPUT : ERROR_NONE;

		ck_assert_msg(spf_result_class(r) == want, "spf_result_class(%s) got %s, want %s",
			      spf_result_name(r), error_class_name(spf_result_class(r)),
			      error_class_name(want));
	}
}
END_TEST

START_TEST(test_result_names)
{
	enum spf_result r;

	for (r = SPF_RESULT_NONE; r <= SPF_RESULT_PERMERROR; r++)
		ck_assert_msg(strcmp(spf_result_name(r), result_names[r]) == 0,
			      "spf_result_name(%d) got %s, want %s", r, spf_result_name(r),
			      result_names[r]);
}
END_TEST

/* ---- time budget --------------------------------------------------------- */

/* a look-up that never answers: temperror at the deadline, not later */
START_TEST(test_budget_timeout)
{
	struct spf_checker *c = make_zone();
	struct spf_outcome out;
	struct timespec t0;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	spf_check(c, "192.0.2.3", "mx.norecord.example", "a@slow.example", 300, &out);
	ms = elapsed_ms(&t0);
	ck_assert_msg(out.result == SPF_RESULT_TEMPERROR, "result got %s, want temperror",
		      name(out.result));
	ck_assert_msg(ms >= 290 && ms < 1000, "took %ld ms, want 300 ms (< 1000)", ms);
	ck_assert_msg(strcmp(out.reason, "SPF Temporary Error: DNS time budget of 300 ms "
					 "exhausted") == 0,
		      "reason got \"%s\"", out.reason);
	ck_assert_msg(strncmp(out.header, "TempError (", 11) == 0, "header got \"%s\"",
		      out.header);
	spf_checker_destroy(&c);
}
END_TEST

/* one budget for HELO and MAIL FROM: a slow HELO leaves MAIL FROM nothing */
START_TEST(test_budget_shared)
{
	struct spf_checker *c = make_zone();
	struct spf_outcome out;
	struct timespec t0;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	spf_check(c, "192.0.2.3", "helo-slow.example", "a@slow.example", 300, &out);
	ms = elapsed_ms(&t0);
	ck_assert_msg(out.result == SPF_RESULT_TEMPERROR, "result got %s, want temperror",
		      name(out.result));
	ck_assert_msg(!out.helo_identity, "the MAIL FROM result should be the answer");
	ck_assert_msg(ms >= 290 && ms < 1000, "took %ld ms, want 300 ms for both identities", ms);

	/* a fast MAIL FROM after a slow HELO fails too: the budget is spent */
	spf_check(c, "192.0.2.3", "helo-slow.example", "a@pass.example", 200, &out);
	ck_assert_msg(out.result == SPF_RESULT_TEMPERROR, "after slow HELO: got %s, want temperror",
		      name(out.result));
	ck_assert_msg(strstr(out.reason, "budget of 200 ms") != NULL, "reason got \"%s\"",
		      out.reason);

	/* budget 0: nothing may be looked up */
	spf_check(c, "192.0.2.3", "mx.norecord.example", "a@pass.example", 0, &out);
	ck_assert_msg(out.result == SPF_RESULT_TEMPERROR, "budget 0: got %s, want temperror",
		      name(out.result));
	spf_checker_destroy(&c);
}
END_TEST

/* ---- libspf2's SPF_error ------------------------------------------------- */

/* SPF_error does not abort, and the checker keeps working afterwards */
START_TEST(test_liberror_recovers)
{
	struct spf_checker *c = make_zone();
	struct spf_outcome out;
	int i;

	for (i = 0; i < 50; i++) {
		spf_check(c, "192.0.2.3", "mx.norecord.example", "a@liberror.example", 5000, &out);
		ck_assert_msg(out.result == SPF_RESULT_TEMPERROR, "round %d: got %s, want temperror",
			      i, name(out.result));
		ck_assert_msg(strstr(out.reason, "SPF library error: SPF DNS layer return NULL") !=
				      NULL,
			      "round %d: reason got \"%s\"", i, out.reason);
		spf_check(c, "192.0.2.3", "mx.norecord.example", "a@pass.example", 5000, &out);
		ck_assert_msg(out.result == SPF_RESULT_PASS, "round %d after error: got %s, want pass",
			      i, name(out.result));
	}
	spf_checker_destroy(&c);
}
END_TEST

/* ---- libspf2 CVE-2023-42118: terms and explanations that smash its stack -- */

/* an overlong term and an overlong explanation: no crash, permerror / default */
START_TEST(test_overlong_records)
{
	static char evil_record[7000], evil_exp[7000];
	const char *records[] = {
		evil_record,
		"evilexp.example TXT v=spf1 -all exp=why.evilexp.example",
		evil_exp,
		"okterm.example TXT v=spf1 ip4:192.0.2.0/24 -all",
	};
	struct spf_checker *c = NULL;
	struct spf_outcome out;
	const char *err = NULL;
	char *p;
	int i;

	/* crashes Debian 12's libspf2 ("stack smashing detected") unscreened */
	p = evil_record + sprintf(evil_record, "evil.example TXT v=spf1 exists:");
	for (i = 0; i < 127; i++)
		p += sprintf(p, "%%{d}");
	memset(p, 'b', 6000);
	strcpy(p + 6000, " -all");
	p = evil_exp + sprintf(evil_exp, "why.evilexp.example TXT ");
	for (i = 0; i < 127; i++)
		p += sprintf(p, "%%{d}");
	memset(p, 'b', 3000);
	p[3000] = '\0';
	ck_assert_int_eq(spf_checker_create_zone(RECEIVER, records, 4, &c, &err), 0);

	spf_check(c, "192.0.2.3", "mx.norecord.example", "a@evil.example", 5000, &out);
	ck_assert_msg(out.result == SPF_RESULT_PERMERROR, "overlong term: got %s \"%s\", want permerror",
		      name(out.result), out.reason);
	ck_assert_msg(strcmp(out.reason, "SPF Permanent Error: SPF record refused: a term is "
					 "longer than 512 bytes") == 0,
		      "overlong term: reason \"%s\"", out.reason);

	spf_check(c, "192.0.2.3", "mx.norecord.example", "a@evilexp.example", 5000, &out);
	ck_assert_msg(out.result == SPF_RESULT_FAIL, "overlong exp: got %s, want fail",
		      name(out.result));
	ck_assert_msg(strcmp(out.reason, "SPF fail - not authorized") == 0,
		      "overlong exp: reason \"%s\", want the default", out.reason);

	spf_check(c, "192.0.2.3", "mx.norecord.example", "a@okterm.example", 5000, &out);
	ck_assert_msg(out.result == SPF_RESULT_PASS, "after them: got %s, want pass",
		      name(out.result));
	spf_checker_destroy(&c);
}
END_TEST

/* ---- creation ------------------------------------------------------------ */

START_TEST(test_create_errors)
{
	static const char *const bad_type[] = {"x.example SRV 0 0 25 mx.example"};
	static const char *const bad_a[] = {"x.example A 300.1.2.3"};
	static const char *const bad_line[] = {"x.example TXT"};
	struct spf_checker *c = NULL;
	const char *err = NULL;

	ck_assert_int_eq(spf_checker_create_zone(RECEIVER, bad_type, 1, &c, &err), -1);
	ck_assert_msg(err != NULL && strstr(err, "type") != NULL, "bad type: error \"%s\"", err);
	ck_assert_ptr_null(c);
	err = NULL;
	ck_assert_int_eq(spf_checker_create_zone(RECEIVER, bad_a, 1, &c, &err), -1);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	ck_assert_int_eq(spf_checker_create_zone(RECEIVER, bad_line, 1, &c, &err), -1);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	ck_assert_int_eq(spf_checker_create_zone("", zone, ZONE_N, &c, &err), -1);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	ck_assert_int_eq(spf_checker_create_zone("a b", zone, ZONE_N, &c, &err), -1);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	ck_assert_int_eq(spf_checker_create_ns(RECEIVER, "localhost", &c, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(spf_checker_create_ns(RECEIVER, "127.0.0.1:0", &c, &err), -1);
	ck_assert_int_eq(spf_checker_create_ns(RECEIVER, "127.0.0.1:65536", &c, &err), -1);
	ck_assert_int_eq(spf_checker_create_ns(RECEIVER, "127.0.0.1:x", &c, &err), -1);
	ck_assert_ptr_null(c);

	/* the system resolver can be made (no look-up happens here) */
	ck_assert_int_eq(spf_checker_create(RECEIVER, &c, &err), 0);
	ck_assert_ptr_nonnull(c);
	spf_checker_destroy(&c);
	ck_assert_ptr_null(c);
	spf_checker_destroy(&c);
}
END_TEST

/* the classes (base/error.h) the constructors record: a bad setting is configuration */
START_TEST(test_create_error_classes)
{
	static const char *const bad_type[] = {"x.example SRV 0 0 25 mx.example"};
	struct spf_checker *c = NULL;
	const char *err = NULL;

	error_class_set(ERROR_NONE);
	ck_assert_int_eq(spf_checker_create_zone(RECEIVER, bad_type, 1, &c, &err), -1);
	ck_assert_int_eq(error_class_last(), ERROR_CONFIG);
	error_class_set(ERROR_NONE);
	ck_assert_int_eq(spf_checker_create_zone("", zone, ZONE_N, &c, &err), -1);
	ck_assert_int_eq(error_class_last(), ERROR_CONFIG);
	error_class_set(ERROR_NONE);
	ck_assert_int_eq(spf_checker_create_ns(RECEIVER, "localhost", &c, &err), -1);
	ck_assert_int_eq(error_class_last(), ERROR_CONFIG);
	error_class_set(ERROR_NONE);
	ck_assert_int_eq(spf_checker_create_zone_file(RECEIVER, "/nonexistent/zone", &c, &err), -1);
	ck_assert_int_eq(error_class_last(), ERROR_CONFIG);
	ck_assert_ptr_null(c);
}
END_TEST

/* spf.test_zone files: comments and blank lines skipped, CR/LF removed, a missing file */
START_TEST(test_zone_file)
{
	static const char text[] =
		"# the test zone\r\n"
		"\n"
		"pass.example TXT v=spf1 ip4:192.0.2.0/24 -all\r\n"
		"# fail.example TXT v=spf1 +all\n"
		"fail.example TXT v=spf1 -all\n";
	char dir[64], path[128];
	struct spf_checker *c = NULL;
	struct spf_outcome out;
	const char *err = NULL;
	FILE *f;

	ck_assert_ptr_nonnull(test_mkdtemp(dir, sizeof(dir), "/tmp", "check_spf.XXXXXX"));
	snprintf(path, sizeof(path), "%s/zone", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_msg(spf_checker_create_zone_file(RECEIVER, path, &c, &err) == 0, "got \"%s\"",
		      err ? err : "?");
	spf_check(c, "192.0.2.3", "", "a@pass.example", 5000, &out);
	ck_assert_msg(out.result == SPF_RESULT_PASS, "pass.example: got %s, want pass",
		      name(out.result));
	spf_check(c, "192.0.2.3", "", "a@fail.example", 5000, &out);
	ck_assert_msg(out.result == SPF_RESULT_FAIL, "fail.example: got %s, want fail (the "
		      "commented +all must be skipped)", name(out.result));
	spf_checker_destroy(&c);
	test_rmtree(dir);

	err = NULL;
	ck_assert_int_eq(spf_checker_create_zone_file(RECEIVER, path, &c, &err), -1);
	ck_assert_msg(err != NULL && strcmp(err, "spf.test_zone: cannot open the file") == 0,
		      "missing file: got \"%s\"", err ? err : "(null)");
	ck_assert_ptr_null(c);
}
END_TEST

/*
 * test_zone_tempfail_twice - a TEMPFAIL line for a name and type that already
 * has a record: libspf2 appends the data, which was NULL (fuzz-spf found the
 * crash, strlen(NULL) in SPF_dns_zone_add_str)
 */
START_TEST(test_zone_tempfail_twice)
{
	static const char *const twice[] = {
		"t.example TXT TEMPFAIL", "t.example TXT TEMPFAIL",
		"u.example TXT v=spf1 -all", "u.example TXT TEMPFAIL",
	};
	struct spf_checker *c = NULL;
	struct spf_outcome out;
	const char *err = NULL;

	ck_assert_int_eq(spf_checker_create_zone(RECEIVER, twice, 4, &c, &err), 0);
	spf_check(c, "192.0.2.1", "", "a@t.example", 1000, &out);
	ck_assert_msg(out.result == SPF_RESULT_TEMPERROR, "t.example: got %s, want temperror",
		      spf_result_name(out.result));
	spf_check(c, "192.0.2.1", "", "a@u.example", 1000, &out);
	ck_assert_msg(out.result == SPF_RESULT_FAIL || out.result == SPF_RESULT_PERMERROR,
		      "u.example: got %s, want fail or permerror", spf_result_name(out.result));
	spf_checker_destroy(&c);
}
END_TEST

/* ---- threads ------------------------------------------------------------- */

#define THREADS 8
#define ZONE_ROUNDS 200

struct worker {
	struct spf_checker *checker;
	int rounds;
	int seed;
	int failures;
	char first[700];
};

/* zone_worker - run every row in turn on the shared checker; count wrong answers */
static void *zone_worker(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < w->rounds; i++) {
		const struct row *r = &rows[(size_t)(i + w->seed) % ROWS_N];
		struct spf_outcome out;

		spf_check(w->checker, r->ip, r->helo, r->sender, 5000, &out);
		if (out.result != r->want || out.helo_identity != r->want_helo ||
		    strncmp(out.reason, r->reason, strlen(r->reason)) != 0) {
			if (w->failures++ == 0)
				snprintf(w->first, sizeof(w->first), "%s: got %s \"%s\"", r->name,
					 name(out.result), out.reason);
		}
	}
	return NULL;
}

/* run_workers - THREADS threads of fn on checker, rounds each; assert no failure */
static void run_workers(struct spf_checker *checker, void *(*fn)(void *), int rounds)
{
	pthread_t t[THREADS];
	struct worker w[THREADS];
	int i;

	for (i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].checker = checker;
		w[i].rounds = rounds;
		w[i].seed = i * 7;
		ck_assert_int_eq(pthread_create(&t[i], NULL, fn, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < THREADS; i++)
		ck_assert_msg(w[i].failures == 0, "thread %d: %d wrong answers, first: %s", i,
			      w[i].failures, w[i].first);
}

START_TEST(test_threads_zone)
{
	struct spf_checker *c = make_zone();

	run_workers(c, zone_worker, ZONE_ROUNDS);
	spf_checker_destroy(&c);
}
END_TEST

/* ---- the system resolver against a fake DNS server ----------------------- */

/*
 * Records of the fake server.  TXT data: character-strings separated by
 * '|'.  Data "BLACKHOLE": no answer at all; "SERVFAIL": rcode 2.
 */
struct fake_rr {
	const char *name;
	int type;
	const char *data;
};

static const struct fake_rr fake_rrs[] = {
	{"pass.example", 16, "v=spf1 ip4:192.0.2.0/24 |-all"},
	{"pass.example", 16, "google-site-verification=xyz"},
	{"amech.example", 16, "v=spf1 a:host.amech.example -all"},
	{"host.amech.example", 1, "192.0.2.77"},
	{"host.amech.example", 1, "192.0.2.78"},
	{"exp.example", 16, "v=spf1 -all exp=why.exp.example"},
	{"why.exp.example", 16, "Not authorized: |%{i}"},
	{"slow.example", 16, "BLACKHOLE"},
	{"broken.example", 16, "SERVFAIL"},
};

struct fake_dns {
	int fd;
	int port;
	pthread_t thread;
	atomic_bool stop;
	atomic_int queries;
	atomic_int type99;
};

static struct fake_dns fake;

/* fake_put16 - append a 16-bit number */
static size_t fake_put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
	return 2;
}

/* fake_rdata - the wire form of one record's data; its length */
static size_t fake_rdata(const struct fake_rr *rr, unsigned char *out)
{
	const char *s = rr->data;
	size_t len = 0;

	if (rr->type == 1) {
		inet_pton(AF_INET, s, out);
		return 4;
	}
	while (*s != '\0') {		/* TXT */
		size_t n = strcspn(s, "|");

		out[len++] = (unsigned char)n;
		memcpy(out + len, s, n);
		len += n;
		s += n;
		if (*s == '|')
			s++;
	}
	return len;
}

/* fake_answer - the reply to query q (n bytes) into r; its length, 0: none */
static size_t fake_answer(const unsigned char *q, size_t n, unsigned char *r)
{
	char qname[256];
	size_t i = 12, len = 0, qend, an = 0, rlen, k;
	unsigned qtype;
	bool exists = false;

	if (n < 17)
		return 0;
	while (i < n && q[i] != 0) {		/* labels, never compressed in a query */
		size_t l = q[i];

		if (i + 1 + l >= n || len + l + 1 >= sizeof(qname))
			return 0;
		if (len > 0)
			qname[len++] = '.';
		for (k = 0; k < l; k++)
			qname[len++] = (char)tolower(q[i + 1 + k]);
		i += 1 + l;
	}
	qname[len] = '\0';
	if (i + 5 > n)
		return 0;
	qtype = ((unsigned)q[i + 1] << 8) | q[i + 2];
	qend = i + 5;
	if (qtype == 99)
		atomic_fetch_add(&fake.type99, 1);
	atomic_fetch_add(&fake.queries, 1);

	memcpy(r, q, qend);		/* id, flags, counts, question */
	r[2] = (unsigned char)(0x80 | (q[2] & 0x79));	/* QR, opcode, RD */
	r[3] = 0x80;					/* RA, NOERROR */
	rlen = qend;
	for (k = 0; k < sizeof(fake_rrs) / sizeof(fake_rrs[0]); k++) {
		const struct fake_rr *rr = &fake_rrs[k];

		if (strcmp(rr->name, qname) != 0)
			continue;
		exists = true;
		if (strcmp(rr->data, "BLACKHOLE") == 0)
			return 0;
		if (strcmp(rr->data, "SERVFAIL") == 0) {
			r[3] = 0x82;
			an = 0;
			break;
		}
		if ((unsigned)rr->type != qtype)
			continue;
		rlen += fake_put16(r + rlen, 0xc00c);	/* the name: pointer to the question */
		rlen += fake_put16(r + rlen, qtype);
		rlen += fake_put16(r + rlen, 1);
		rlen += fake_put16(r + rlen, 0);
		rlen += fake_put16(r + rlen, 60);
		len = fake_rdata(rr, r + rlen + 2);
		rlen += fake_put16(r + rlen, (unsigned)len);
		rlen += len;
		an++;
	}
	if (!exists)
		r[3] = 0x83;	/* NXDOMAIN */
	fake_put16(r + 4, 1);
	fake_put16(r + 6, (unsigned)an);
	fake_put16(r + 8, 0);
	fake_put16(r + 10, 0);
	return rlen;
}

/* fake_serve - the server thread: answer until told to stop */
static void *fake_serve(void *arg)
{
	unsigned char q[4096], r[4096];

	(void)arg;
	while (!atomic_load(&fake.stop)) {
		struct pollfd pfd = {.fd = fake.fd, .events = POLLIN};
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n;
		size_t rl;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		n = recvfrom(fake.fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fromlen);
		if (n <= 0)
			continue;
		rl = fake_answer(q, (size_t)n, r);
		if (rl > 0)
			sendto(fake.fd, r, rl, 0, (struct sockaddr *)&from, fromlen);
	}
	return NULL;
}

/* fake_start - checked fixture: a fake DNS server on 127.0.0.1, ephemeral port */
static void fake_start(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(&fake, 0, sizeof(fake));
	fake.fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fake.fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fake.fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fake.fd, (struct sockaddr *)&sin, &len), 0);
	fake.port = ntohs(sin.sin_port);
	ck_assert_int_eq(pthread_create(&fake.thread, NULL, fake_serve, NULL), 0);
}

/* fake_stop - checked fixture: stop the server */
static void fake_stop(void)
{
	atomic_store(&fake.stop, true);
	pthread_join(fake.thread, NULL);
	close(fake.fd);
}

/* make_ns - a checker on the system resolver, pointed at the fake server */
static struct spf_checker *make_ns(void)
{
	struct spf_checker *c = NULL;
	const char *err = NULL;
	char ns[64];

	snprintf(ns, sizeof(ns), "127.0.0.1:%d", fake.port);
	ck_assert_msg(spf_checker_create_ns(RECEIVER, ns, &c, &err) == 0,
		      "spf_checker_create_ns: %s", err ? err : "?");
	return c;
}

START_TEST(test_resolver_answers)
{
	static const struct {
		const char *ip, *sender;
		enum spf_result want;
		const char *reason;
	} cases[] = {
		{"192.0.2.3", "a@pass.example", SPF_RESULT_PASS, "sender SPF authorized"},
		{"198.51.100.1", "a@pass.example", SPF_RESULT_FAIL, "SPF fail - not authorized"},
		{"192.0.2.78", "a@amech.example", SPF_RESULT_PASS, "sender SPF authorized"},
		{"192.0.2.79", "a@amech.example", SPF_RESULT_FAIL, "SPF fail - not authorized"},
		{"192.0.2.3", "a@exp.example", SPF_RESULT_FAIL, "Not authorized: 192.0.2.3"},
		{"192.0.2.3", "a@broken.example", SPF_RESULT_TEMPERROR, "SPF Temporary Error: "},
		{"192.0.2.3", "a@nothing.example", SPF_RESULT_NONE, ""},
	};
	struct spf_checker *c = make_ns();
	struct spf_outcome out;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		spf_check(c, cases[i].ip, "mx.nothing.example", cases[i].sender, 5000, &out);
		ck_assert_msg(out.result == cases[i].want, "%s from %s: got %s \"%s\", want %s",
			      cases[i].sender, cases[i].ip, name(out.result), out.reason,
			      name(cases[i].want));
		ck_assert_msg(strncmp(out.reason, cases[i].reason, strlen(cases[i].reason)) == 0,
			      "%s from %s: reason got \"%s\", want \"%s...\"", cases[i].sender,
			      cases[i].ip, out.reason, cases[i].reason);
	}
	ck_assert_msg(atomic_load(&fake.queries) > 0, "the fake server got no query");
	ck_assert_msg(atomic_load(&fake.type99) == 0, "got %d type-99 queries, want 0",
		      atomic_load(&fake.type99));
	spf_checker_destroy(&c);
}
END_TEST

/* a server that never answers: the real resolver timeout is cut to the budget */
START_TEST(test_resolver_budget)
{
	static const struct {
		unsigned budget;
		long min, max;		/* ms */
	} cases[] = {
		{2500, 1900, 2600},	/* two 1-s tries: within the budget */
		{1500, 900, 1600},	/* one 1-s try */
		{300, 250, 1400},	/* whole seconds: one 1-s try, overrun < 1.1 s */
	};
	struct spf_checker *c = make_ns();
	struct spf_outcome out;
	struct timespec t0;
	size_t i;
	long ms;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		spf_check(c, "192.0.2.3", "mx.slow.example", "a@slow.example", cases[i].budget, &out);
		ms = elapsed_ms(&t0);
		ck_assert_msg(out.result == SPF_RESULT_TEMPERROR, "budget %u: got %s, want temperror",
			      cases[i].budget, name(out.result));
		ck_assert_msg(ms >= cases[i].min && ms <= cases[i].max,
			      "budget %u: took %ld ms, want %ld..%ld", cases[i].budget, ms,
			      cases[i].min, cases[i].max);
		ck_assert_msg(strncmp(out.reason, "SPF Temporary Error: ", 21) == 0,
			      "budget %u: reason \"%s\"", cases[i].budget, out.reason);
	}
	spf_checker_destroy(&c);
}
END_TEST

#define RESOLVER_ROUNDS 30

/* ns_worker - pass and fail checks through the fake server */
static void *ns_worker(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < w->rounds; i++) {
		bool pass = (i + w->seed) % 2 == 0;
		struct spf_outcome out;

		spf_check(w->checker, pass ? "192.0.2.77" : "198.51.100.7", "mx.nothing.example",
			  (i % 3) ? "a@pass.example" : "a@amech.example", 5000, &out);
		if (out.result != (pass ? SPF_RESULT_PASS : SPF_RESULT_FAIL) &&
		    w->failures++ == 0)
			snprintf(w->first, sizeof(w->first), "round %d: got %s \"%s\"", i,
				 name(out.result), out.reason);
	}
	return NULL;
}

START_TEST(test_resolver_threads)
{
	struct spf_checker *c = make_ns();

	run_workers(c, ns_worker, RESOLVER_ROUNDS);
	spf_checker_destroy(&c);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("spf");
	TCase *tc = tcase_create("zone");
	TCase *tr = tcase_create("resolver");
	TCase *th = tcase_create("header");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_results, 0, ROWS_N);
	tcase_add_test(tc, test_header_exact);
	tcase_add_test(tc, test_header_escaping);
	tcase_add_test(tc, test_result_names);
	tcase_add_test(tc, test_budget_timeout);
	tcase_add_test(tc, test_budget_shared);
	tcase_add_test(tc, test_liberror_recovers);
	tcase_add_test(tc, test_overlong_records);
	tcase_add_test(tc, test_create_errors);
	tcase_add_test(tc, test_create_error_classes);
	tcase_add_test(tc, test_zone_file);
	tcase_add_test(tc, test_zone_tempfail_twice);
	tcase_add_test(tc, test_threads_zone);
	suite_add_tcase(s, tc);

	tcase_set_timeout(th, 60);
	tcase_add_loop_test(th, test_header_build, 0, HDR_ROWS_N);
	tcase_add_test(th, test_header_random);
	tcase_add_test(th, test_header_small_buffer);
	tcase_add_test(th, test_result_class);
	suite_add_tcase(s, th);

	tcase_set_timeout(tr, 60);
	tcase_add_checked_fixture(tr, fake_start, fake_stop);
	tcase_add_test(tr, test_resolver_answers);
	tcase_add_test(tr, test_resolver_budget);
	tcase_add_test(tr, test_resolver_threads);
	suite_add_tcase(s, tr);
	return s;
}

CHECK_MAIN(make_suite)
