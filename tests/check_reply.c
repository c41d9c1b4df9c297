/*
 * NAME
 *	check_reply - unit tests of common/reply (configured SMTP replies)
 * DESCRIPTION
 *	Tables of valid replies (with the parts reply_parse must produce)
 *	and of refusals, a bound test at REPLY_TEXT_MAX, the libmilter
 *	line limit for the %-doubled text, reply_format round trips and
 *	reply_copy/reply_clear ownership (leaks show under valgrind).
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/reply.h"

#include "check_main.h"

/* libmilter's smfi_setreply refuses a message longer than this (smfi.c) */
#define MILTER_MAXREPLYLEN 980

static const struct {
	const char *name, *in;
	const char *code, *xcode, *text, *milter_text;
	bool temporary;
} valid[] = {
	{ "5xx with xcode", "554 5.7.1 Rejected - no", "554", "5.7.1", "Rejected - no",
	  "Rejected - no", false },
	{ "4xx with xcode", "451 4.3.0 Try again later", "451", "4.3.0", "Try again later",
	  "Try again later", true },
	{ "5xx without xcode", "550 Rejected", "550", "", "Rejected", "Rejected", false },
	{ "4xx without xcode", "421 Closing", "421", "", "Closing", "Closing", true },
	{ "xcode with 3-digit parts", "554 5.123.456 text", "554", "5.123.456", "text", "text",
	  false },
	{ "one percent", "554 5.7.1 100% full", "554", "5.7.1", "100% full", "100%% full",
	  false },
	{ "two percents", "452 4.2.2 %%", "452", "4.2.2", "%%", "%%%%", true },
	{ "percent without xcode", "550 %s", "550", "", "%s", "%%s", false },
	{ "UTF-8 text", "554 5.7.1 Zur\xc3\xbc" "ckgewiesen", "554", "5.7.1",
	  "Zur\xc3\xbc" "ckgewiesen", "Zur\xc3\xbc" "ckgewiesen", false },
	{ "extra spaces before text", "554 5.7.1   text", "554", "5.7.1", "text", "text", false },
	{ "trailing space kept", "554 5.7.1 text ", "554", "5.7.1", "text ", "text ", false },
	{ "text with a number", "554 Error 42", "554", "", "Error 42", "Error 42", false },
};

/* valid replies: every part as expected */
START_TEST(test_valid)
{
	struct reply r;
	const char *err = NULL;
	int ret = reply_parse(valid[_i].in, &r, &err);

	ck_assert_msg(ret == 0, "%s: reply_parse(\"%s\") got -1 (%s), want 0", valid[_i].name,
		      valid[_i].in, err);
	ck_assert_msg(strcmp(r.code, valid[_i].code) == 0, "%s: code got \"%s\", want \"%s\"",
		      valid[_i].name, r.code, valid[_i].code);
	ck_assert_msg(strcmp(r.xcode, valid[_i].xcode) == 0, "%s: xcode got \"%s\", want \"%s\"",
		      valid[_i].name, r.xcode, valid[_i].xcode);
	ck_assert_msg(strcmp(r.text, valid[_i].text) == 0, "%s: text got \"%s\", want \"%s\"",
		      valid[_i].name, r.text, valid[_i].text);
	ck_assert_msg(strcmp(r.milter_text, valid[_i].milter_text) == 0,
		      "%s: milter_text got \"%s\", want \"%s\"", valid[_i].name, r.milter_text,
		      valid[_i].milter_text);
	ck_assert_msg(r.temporary == valid[_i].temporary, "%s: temporary got %d, want %d",
		      valid[_i].name, r.temporary, valid[_i].temporary);
	reply_clear(&r);
}
END_TEST

static const struct {
	const char *name, *in;
	const char *err_has;	/* a word the error message must contain */
} invalid[] = {
	{ "NULL", NULL, "4xx or 5xx" },
	{ "empty", "", "4xx or 5xx" },
	{ "two digits", "55", "4xx or 5xx" },
	{ "2xx", "250 2.0.0 Ok", "4xx or 5xx" },
	{ "3xx", "354 End data with <CR><LF>.<CR><LF>", "4xx or 5xx" },
	{ "1xx", "150 text", "4xx or 5xx" },
	{ "6xx", "600 text", "4xx or 5xx" },
	{ "letter in code", "5a4 text", "4xx or 5xx" },
	{ "code only", "554", "no text" },
	{ "code and space", "554 ", "no text" },
	{ "code and spaces", "554    ", "no text" },
	{ "xcode without text", "554 5.7.1", "no text" },
	{ "xcode and space without text", "554 5.7.1 ", "no text" },
	{ "hyphen after code", "554-text", "space" },
	{ "letter after code", "554text", "space" },
	{ "class mismatch 5/4", "554 4.7.1 text", "class" },
	{ "class mismatch 4/5", "451 5.7.1 text", "class" },
	{ "class 2 in 5xx", "554 2.0.0 text", "class" },
	{ "xcode with two parts", "554 5.7 text", "malformed" },
	{ "xcode with a 4-digit part", "554 5.1234.1 text", "malformed" },
	{ "xcode with an empty part", "554 5..1 text", "malformed" },
	{ "xcode with an empty last part", "554 5.7. text", "malformed" },
	{ "xcode glued to text", "554 5.7.1text", "malformed" },
	{ "CR in text", "554 5.7.1 a\rb", "control" },
	{ "LF in text", "554 5.7.1 a\nb", "control" },
	{ "CRLF at end", "554 5.7.1 text\r\n", "control" },
	{ "TAB in text", "554 5.7.1 a\tb", "control" },
	{ "DEL in text", "554 5.7.1 a\x7f" "b", "control" },
	{ "control byte in text", "554 a\x01" "b", "control" },
};

/* refusals: -1, a message, and nothing left allocated in the reply */
START_TEST(test_invalid)
{
	struct reply r;
	const char *err = NULL;
	int ret = reply_parse(invalid[_i].in, &r, &err);

	ck_assert_msg(ret == -1, "%s: reply_parse got %d (text \"%s\"), want -1",
		      invalid[_i].name, ret, ret == 0 ? r.text : "");
	ck_assert_msg(err != NULL && strstr(err, invalid[_i].err_has) != NULL,
		      "%s: error got \"%s\", want one containing \"%s\"", invalid[_i].name,
		      err ? err : "(null)", invalid[_i].err_has);
	ck_assert_msg(r.text == NULL && r.milter_text == NULL,
		      "%s: a refused reply must own no text", invalid[_i].name);
}
END_TEST

/* make_reply - "<prefix>" followed by n copies of c, in a new string */
static char *make_reply(const char *prefix, size_t n, char c)
{
	size_t plen = strlen(prefix);
	char *s = malloc(plen + n + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, prefix, plen);
	memset(s + plen, c, n);
	s[plen + n] = '\0';
	return s;
}

/* text of exactly REPLY_TEXT_MAX bytes is kept, one more is refused */
START_TEST(test_text_bound)
{
	char *at = make_reply("554 5.7.1 ", REPLY_TEXT_MAX, 'x');
	char *over = make_reply("554 5.7.1 ", REPLY_TEXT_MAX + 1, 'x');
	struct reply r;
	const char *err = NULL;

	ck_assert_msg(reply_parse(at, &r, &err) == 0, "900-byte text: got -1 (%s), want 0", err);
	ck_assert_msg(strlen(r.text) == REPLY_TEXT_MAX, "900-byte text: length got %zu, want %d",
		      strlen(r.text), REPLY_TEXT_MAX);
	reply_clear(&r);
	err = NULL;
	ck_assert_msg(reply_parse(over, &r, &err) == -1, "901-byte text: got 0, want -1");
	ck_assert_msg(err != NULL && strstr(err, "too long") != NULL,
		      "901-byte text: error got \"%s\", want \"...too long...\"", err);
	free(at);
	free(over);
}
END_TEST

/*
 * Every accepted reply must be accepted by smfi_setreply, which refuses a
 * message (the %-doubled text) longer than 980 bytes: reply.h promises that
 * callbacks need no check.  900 bytes with 100 '%' double to 1000.
 */
START_TEST(test_milter_text_fits_libmilter)
{
	static const size_t pcts[] = { 80, 81, 100, 450, REPLY_TEXT_MAX };

	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		char *s = make_reply("554 5.7.1 ", REPLY_TEXT_MAX, 'x');
		struct reply r;
		const char *err = NULL;

		memset(s + strlen("554 5.7.1 "), '%', pcts[k]);
		if (reply_parse(s, &r, &err) == 0) {
			ck_assert_msg(strlen(r.milter_text) <= MILTER_MAXREPLYLEN,
				      "900-byte text with %zu '%%': accepted with a milter_text "
				      "of %zu bytes, want it refused (smfi_setreply refuses > %d)",
				      pcts[k], strlen(r.milter_text), MILTER_MAXREPLYLEN);
			reply_clear(&r);
		}
		free(s);
	}
}
END_TEST

/* reply_format writes the canonical line, which parses back to the same parts */
START_TEST(test_format_round_trip)
{
	struct reply r, back;
	const char *err = NULL;
	char buf[1024], want[1024], again[1024];

	ck_assert(reply_parse(valid[_i].in, &r, &err) == 0);
	snprintf(want, sizeof(want), "%s%s%s %s", valid[_i].code, *valid[_i].xcode ? " " : "",
		 valid[_i].xcode, valid[_i].text);
	ck_assert_ptr_eq(reply_format(&r, buf, sizeof(buf)), buf);
	ck_assert_msg(strcmp(buf, want) == 0, "%s: reply_format got \"%s\", want \"%s\"",
		      valid[_i].name, buf, want);
	ck_assert_msg(reply_parse(buf, &back, &err) == 0, "%s: \"%s\" does not parse back: %s",
		      valid[_i].name, buf, err);
	ck_assert_msg(strcmp(back.code, r.code) == 0 && strcmp(back.xcode, r.xcode) == 0 &&
			      strcmp(back.text, r.text) == 0 &&
			      strcmp(back.milter_text, r.milter_text) == 0 &&
			      back.temporary == r.temporary,
		      "%s: round trip changed the reply: got \"%s\"", valid[_i].name,
		      reply_format(&back, again, sizeof(again)));
	reply_clear(&r);
	reply_clear(&back);
}
END_TEST

/* reply_format always terminates, even in a small buffer */
START_TEST(test_format_small_buffer)
{
	struct reply r;
	const char *err = NULL;
	char buf[8];

	ck_assert(reply_parse("554 5.7.1 Rejected", &r, &err) == 0);
	memset(buf, 'Z', sizeof(buf));
	reply_format(&r, buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, "554 5.7") == 0, "got \"%.8s\", want \"554 5.7\"", buf);
	reply_clear(&r);
}
END_TEST

/* reply_copy is deep; reply_clear frees and is safe to repeat */
START_TEST(test_copy_clear)
{
	struct reply src, dst;
	const char *err = NULL;

	ck_assert(reply_parse("451 4.7.1 50% later", &src, &err) == 0);
	reply_copy(&dst, &src);
	ck_assert_msg(dst.text != src.text && dst.milter_text != src.milter_text,
		      "reply_copy shares the text, want a deep copy");
	reply_clear(&src);
	ck_assert_msg(src.text == NULL && src.milter_text == NULL,
		      "reply_clear left text %p milter_text %p, want NULL", (void *)src.text,
		      (void *)src.milter_text);
	reply_clear(&src);	/* repeat: must be harmless */
	ck_assert_str_eq(dst.code, "451");
	ck_assert_str_eq(dst.xcode, "4.7.1");
	ck_assert_str_eq(dst.text, "50% later");
	ck_assert_str_eq(dst.milter_text, "50%% later");
	ck_assert(dst.temporary);
	reply_clear(&dst);
	reply_clear(&dst);
}
END_TEST

/* parsing into a reply that held text is the caller's business: clear first */
START_TEST(test_reparse_after_clear)
{
	struct reply r;
	const char *err = NULL;

	for (int i = 0; i < 3; i++) {
		ck_assert(reply_parse("554 5.7.1 again", &r, &err) == 0);
		reply_clear(&r);
	}
	ck_assert_ptr_null(r.text);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_valid, 0, sizeof(valid) / sizeof(valid[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid) / sizeof(invalid[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("bounds");
	tcase_add_test(tc, test_text_bound);
	tcase_add_test(tc, test_milter_text_fits_libmilter);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_loop_test(tc, test_format_round_trip, 0, sizeof(valid) / sizeof(valid[0]));
	tcase_add_test(tc, test_format_small_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("ownership");
	tcase_add_test(tc, test_copy_clear);
	tcase_add_test(tc, test_reparse_after_clear);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
