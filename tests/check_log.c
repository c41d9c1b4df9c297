/*
 * NAME
 *	check_log - unit tests of common/log (sanitizing, capture, decisions)
 * DESCRIPTION
 *	log_sanitize against a table and against a reference model for every
 *	buffer size; the capture mode that the other tests rely on; and the
 *	shape of the one-line decision log (NOQUEUE, reply, user/from/to,
 *	sanitized client values).
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "base/log.h"

#include "check_main.h"

static const struct {
	const char *name;
	size_t size;
	const char *src, *want;
} sanitize[] = {
	{ "plain", 32, "alice@example.com", "alice@example.com" },
	{ "NULL", 8, NULL, "" },
	{ "empty", 8, "", "" },
	{ "LF", 32, "a\nb", "a\\x0ab" },
	{ "CR LF", 32, "a\r\n", "a\\x0d\\x0a" },
	{ "TAB", 32, "\t", "\\x09" },
	{ "ESC", 32, "\x1b[31m", "\\x1b[31m" },
	{ "DEL", 32, "\x7f", "\\x7f" },
	{ "UTF-8", 32, "j\xc3\xb6ran", "j\\xc3\\xb6ran" },
	{ "high byte", 32, "\xff", "\\xff" },
	{ "printable edges", 32, " ~", " ~" },
	{ "backslash kept", 32, "a\\b", "a\\b" },
	{ "cut with ...", 10, "abcdefghijklmnop", "abcdef..." },
	{ "escape not split", 8, "ab\x01" "cdef", "ab..." },
	{ "exact fit", 6, "abcde", "abcde" },
	{ "exact fit with escape", 7, "ab\x01", "ab\\x01" },
	{ "one over", 6, "abcdef", "ab..." },
	{ "size 1", 1, "abc", "" },
	{ "size 1, empty", 1, "", "" },
};

/* log_sanitize: escapes, truncation, NULL */
START_TEST(test_sanitize)
{
	char buf[64];
	char *ret;

	memset(buf, 'Z', sizeof(buf));
	ret = log_sanitize(buf, sanitize[_i].size, sanitize[_i].src);
	ck_assert_ptr_eq(ret, buf);
	ck_assert_msg(strcmp(buf, sanitize[_i].want) == 0, "%s: got \"%s\", want \"%s\"",
		      sanitize[_i].name, buf, sanitize[_i].want);
	ck_assert_msg(buf[sanitize[_i].size] == 'Z', "%s: wrote past %zu bytes",
		      sanitize[_i].name, sanitize[_i].size);
}
END_TEST

/* dstsize 0 writes nothing */
START_TEST(test_sanitize_size_zero)
{
	char buf[4] = "ZZZ";

	ck_assert_ptr_eq(log_sanitize(buf, 0, "abc"), buf);
	ck_assert_str_eq(buf, "ZZZ");
}
END_TEST

/* escape_all - the whole escaped form of src */
static void escape_all(const char *src, char *out)
{
	for (; *src; src++) {
		unsigned char c = (unsigned char)*src;

		if (c >= 0x20 && c < 0x7f)
			*out++ = (char)c;
		else
			out += sprintf(out, "\\x%02x", c);
	}
	*out = '\0';
}

/*
 * model - what log_sanitize must give: the whole escaped text when it fits
 * (with its terminator), else the longest prefix of whole units that leaves
 * room for "..." and the terminator, followed by "...".
 */
static void model(const char *src, size_t size, char *out)
{
	char full[512];
	size_t o = 0;

	escape_all(src, full);
	if (strlen(full) + 1 <= size) {
		strcpy(out, full);
		return;
	}
	for (const char *p = src; *p; p++) {
		unsigned char c = (unsigned char)*p;
		size_t need = (c >= 0x20 && c < 0x7f) ? 1 : 4;

		if (o + need + 3 + 1 > size)
			break;
		if (need == 1)
			out[o++] = (char)c;
		else
			o += (size_t)sprintf(out + o, "\\x%02x", c);
	}
	if (o + 3 + 1 <= size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* log_sanitize agrees with the model for every size from 1 to 40 */
START_TEST(test_sanitize_model)
{
	static const char *const srcs[] = {
		"alice@example.com",
		"\x01\x02\x03\x04\x05",
		"mixed\r\nHeader: x\xc3\xa9t\xc3\xa9",
	};

	for (size_t k = 0; k < sizeof(srcs) / sizeof(srcs[0]); k++)
		for (size_t size = 1; size <= 40; size++) {
			char got[64], want[64];

			log_sanitize(got, size, srcs[k]);
			model(srcs[k], size, want);
			ck_assert_msg(strlen(got) < size, "src %zu size %zu: \"%s\" overflows", k,
				      size, got);
			ck_assert_msg(strcmp(got, want) == 0,
				      "src %zu size %zu: got \"%s\", want \"%s\"", k, size, got,
				      want);
		}
}
END_TEST

/* names of levels and facilities */
START_TEST(test_names)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "error", LOG_LEVEL_ERROR }, { "warning", LOG_LEVEL_WARNING },
		{ "info", LOG_LEVEL_INFO },   { "debug", LOG_LEVEL_DEBUG },
	};
	static const struct {
		const char *name;
		int facility;
	} facilities[] = {
		{ "mail", LOG_MAIL },	  { "daemon", LOG_DAEMON }, { "user", LOG_USER },
		{ "local0", LOG_LOCAL0 }, { "local7", LOG_LOCAL7 }, { "MAIL", LOG_MAIL },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		ck_assert_msg(log_level_from_name(levels[i].name) == levels[i].level,
			      "level \"%s\": got %d, want %d", levels[i].name,
			      log_level_from_name(levels[i].name), levels[i].level);
		ck_assert_str_eq(log_level_name((enum log_level)levels[i].level), levels[i].name);
	}
	ck_assert_int_eq(log_level_from_name("verbose"), -1);
	ck_assert_int_eq(log_level_from_name(""), -1);
	ck_assert_str_eq(log_level_name((enum log_level)9), "?");
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		ck_assert_msg(log_facility_from_name(facilities[i].name) == facilities[i].facility,
			      "facility \"%s\": got %d, want %d", facilities[i].name,
			      log_facility_from_name(facilities[i].name), facilities[i].facility);
	ck_assert_int_eq(log_facility_from_name("kern"), -1);
	ck_assert_int_eq(log_facility_from_name("local8"), -1);
}
END_TEST

/* capture keeps every line with its level, in order */
START_TEST(test_capture)
{
	log_capture_start(LOG_LEVEL_DEBUG);
	ck_assert_str_eq(log_capture_text(), "");
	log_info("hello %d", 42);
	log_warn("careful");
	log_error("broken: %s", "x");
	log_debug("detail");
	ck_assert_str_eq(log_capture_text(),
			 "info: hello 42\nwarning: careful\nerror: broken: x\ndebug: detail\n");
	ck_assert(log_enabled(LOG_LEVEL_DEBUG));
	/* a new capture starts empty */
	log_capture_start(LOG_LEVEL_DEBUG);
	ck_assert_str_eq(log_capture_text(), "");
	log_info("second");
	ck_assert_str_eq(log_capture_text(), "info: second\n");
	log_capture_stop();
	ck_assert_str_eq(log_capture_text(), "");
	log_capture_stop();	/* twice is fine */
}
END_TEST

/* capture keeps lines "at any level up to level" (log.h), no more */
START_TEST(test_capture_level)
{
	log_capture_start(LOG_LEVEL_INFO);
	log_debug("too verbose");
	log_info("kept");
	ck_assert_msg(strcmp(log_capture_text(), "info: kept\n") == 0,
		      "capture at info: got \"%s\", want \"info: kept\\n\"", log_capture_text());
	ck_assert_msg(!log_enabled(LOG_LEVEL_DEBUG),
		      "log_enabled(debug) under a capture at info: got true, want false");
	log_capture_stop();
}
END_TEST

/* a long line is cut, not overflowed, and stays one line */
START_TEST(test_capture_long)
{
	char *big = malloc(10000);

	memset(big, 'x', 9999);
	big[9999] = '\0';
	log_capture_start(LOG_LEVEL_DEBUG);
	log_info("%s", big);
	log_info("next");
	const char *t = log_capture_text();
	const char *nl = strchr(t, '\n');

	ck_assert_ptr_nonnull(nl);
	ck_assert_msg(nl - t < 9999, "first line got %td bytes, want it cut", nl - t);
	ck_assert_str_eq(nl + 1, "info: next\n");
	log_capture_stop();
	free(big);
}
END_TEST

static const struct {
	const char *name;
	struct log_decision d;
	const char *want;	/* captured text */
} decisions[] = {
	{ "full",
	  { .queue_id = "4ABC123", .action = "reject", .stage = "MAIL",
	    .client_name = "mail.example.com", .client_addr = "192.0.2.1",
	    .reply = "554 5.7.1 Rejected - outbound quota fulfilled", .user = "alice",
	    .key = "sasl_username", .sender = "alice@example.com", .rcpt = "bob@example.net",
	    .policy = "quota", .extra = "used=3/10" },
	  "info: 4ABC123: reject: MAIL from mail.example.com[192.0.2.1]: 554 5.7.1 Rejected - "
	  "outbound quota fulfilled; user=<alice> from=<alice@example.com> to=<bob@example.net> "
	  "policy=quota key=sasl_username used=3/10\n" },
	{ "no queue id",
	  { .action = "tempfail", .stage = "RCPT", .client_name = "h.example",
	    .client_addr = "2001:db8::1", .reply = "451 4.3.0 try later", .user = "bob",
	    .sender = "bob@example.com", .rcpt = "x@example.net", .policy = "quota" },
	  "info: NOQUEUE: tempfail: RCPT from h.example[2001:db8::1]: 451 4.3.0 try later; "
	  "user=<bob> from=<bob@example.com> to=<x@example.net> policy=quota\n" },
	{ "empty queue id",
	  { .queue_id = "", .action = "reject", .stage = "MAIL", .client_name = "h",
	    .client_addr = "192.0.2.2", .reply = "554 5.7.1 no" },
	  "info: NOQUEUE: reject: MAIL from h[192.0.2.2]: 554 5.7.1 no;\n" },
	{ "null sender, no reply",
	  { .queue_id = "Q1", .action = "accept", .stage = "EOM", .client_name = "h",
	    .client_addr = "192.0.2.3", .user = "carol", .sender = "" },
	  "info: Q1: accept: EOM from h[192.0.2.3]: user=<carol> from=<>\n" },
	{ "sanitized",
	  { .queue_id = "Q\n2", .action = "reject", .stage = "MAIL",
	    .client_name = "evil\r\nhost", .client_addr = "192.0.2.4", .reply = "554 5.7.1 no",
	    .user = "ev\x1bil", .sender = "a\nb@x", .rcpt = "r\t@x" },
	  "info: Q\\x0a2: reject: MAIL from evil\\x0d\\x0ahost[192.0.2.4]: 554 5.7.1 no; "
	  "user=<ev\\x1bil> from=<a\\x0ab@x> to=<r\\x09@x>\n" },
	{ "UTF-8 user escaped",
	  { .queue_id = "Q3", .action = "reject", .stage = "RCPT", .client_name = "h",
	    .client_addr = "192.0.2.5", .user = "j\xc3\xb6ran" },
	  "info: Q3: reject: RCPT from h[192.0.2.5]: user=<j\\xc3\\xb6ran>\n" },
};

/* log_decision writes one line shaped like Postfix's */
START_TEST(test_decision)
{
	log_capture_start(LOG_LEVEL_INFO);
	log_decision(&decisions[_i].d);
	ck_assert_msg(strcmp(log_capture_text(), decisions[_i].want) == 0,
		      "%s:\n got \"%s\"\nwant \"%s\"", decisions[_i].name, log_capture_text(),
		      decisions[_i].want);
	log_capture_stop();
}
END_TEST

/* huge client values: still one bounded line, no raw control byte */
START_TEST(test_decision_huge)
{
	size_t n = 70000;
	char *huge = malloc(n + 1);
	struct log_decision d = { .action = "reject", .stage = "MAIL" };
	const char *t;

	for (size_t i = 0; i < n; i++)
		huge[i] = i % 100 == 50 ? '\n' : 'u';
	huge[n] = '\0';
	d.queue_id = d.client_name = d.client_addr = d.reply = d.user = huge;
	d.sender = d.rcpt = d.policy = d.key = huge;
	log_capture_start(LOG_LEVEL_INFO);
	log_decision(&d);
	t = log_capture_text();
	ck_assert_msg(strlen(t) > 0 && strlen(t) < 4096, "line length got %zu, want 1..4095",
		      strlen(t));
	ck_assert_msg(strchr(t, '\n') == t + strlen(t) - 1, "got more than one line: \"%.200s\"",
		      t);
	for (const char *p = t; *p != '\n'; p++)
		ck_assert_msg((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
			      "raw byte 0x%02x at %td", (unsigned char)*p, p - t);
	log_capture_stop();
	free(huge);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc;

	tc = tcase_create("sanitize");
	tcase_add_loop_test(tc, test_sanitize, 0, sizeof(sanitize) / sizeof(sanitize[0]));
	tcase_add_test(tc, test_sanitize_size_zero);
	tcase_add_test(tc, test_sanitize_model);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("capture");
	tcase_add_test(tc, test_capture);
	tcase_add_test(tc, test_capture_level);
	tcase_add_test(tc, test_capture_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("decision");
	tcase_add_loop_test(tc, test_decision, 0, sizeof(decisions) / sizeof(decisions[0]));
	tcase_add_test(tc, test_decision_huge);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
