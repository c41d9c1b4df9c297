/*
 * NAME
 *	check_token - unit tests of common/base/token (chapps-api's bearer tokens)
 * DESCRIPTION
 *	Tokens made by token_file_add are found by token_set_check with their
 *	name and role, a one-character change of any token is not, the file
 *	holds no token in clear, names are checked, a revoked token stops
 *	matching, token_watch notices a change of the file at the next check
 *	(revocation at once), and a malformed or unreadable file fails closed.
 */
#include "autoconf.h"

#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/token.h"

#include "check_main.h"

static char dir[64], path[128];

/* setup - a fresh directory with no token file */
static void setup(void)
{
	ck_assert_int_eq(token_init(), 0);
	snprintf(dir, sizeof(dir), "/tmp/check_token.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tokens", dir);
}

/* teardown - remove the file and the directory */
static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

/* slurp - the whole token file */
static char *slurp(void)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(add_and_check)
{
	char a[TOKEN_TEXT_LEN + 1], r[TOKEN_TEXT_LEN + 1], name[TOKEN_NAME_MAX + 1];
	const char *err = NULL;
	struct token_set *set;
	struct stat st;

	ck_assert_int_eq(token_file_add(path, "panel", TOKEN_ROLE_ADMIN, a, &err), 0);
	ck_assert_int_eq(token_file_add(path, "grafana", TOKEN_ROLE_READ, r, &err), 0);
	ck_assert_uint_eq(strlen(a), TOKEN_TEXT_LEN);
	ck_assert_int_eq(strncmp(a, "chapps_", 7), 0);
	ck_assert_str_ne(a, r);
	ck_assert_ptr_null(strstr(slurp(), a + 7));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);

	ck_assert_int_eq(token_set_load(path, &set, &err), 0);
	ck_assert_uint_eq(token_set_count(set), 2);
	ck_assert_int_eq(token_set_check(set, a, strlen(a), name), TOKEN_ROLE_ADMIN);
	ck_assert_str_eq(name, "panel");
	ck_assert_int_eq(token_set_check(set, r, strlen(r), name), TOKEN_ROLE_READ);
	ck_assert_str_eq(name, "grafana");
	/* any one character changed, a prefix, an extension: no match */
	for (size_t i = 0; i < TOKEN_TEXT_LEN; i++) {
		char t[TOKEN_TEXT_LEN + 1];

		memcpy(t, a, sizeof(t));
		t[i] = t[i] == '0' ? '1' : '0';
		ck_assert_int_eq(token_set_check(set, t, strlen(t), name), TOKEN_ROLE_NONE);
		ck_assert_str_eq(name, "");
	}
	ck_assert_int_eq(token_set_check(set, a, TOKEN_TEXT_LEN - 1, name), TOKEN_ROLE_NONE);
	ck_assert_int_eq(token_set_check(set, "", 0, name), TOKEN_ROLE_NONE);
	token_set_free(&set);
	ck_assert_ptr_null(set);
	token_set_free(&set);
}
END_TEST

START_TEST(names_and_roles)
{
	char t[TOKEN_TEXT_LEN + 1];
	const char *err = NULL;

	ck_assert_int_eq(token_file_add(path, "", TOKEN_ROLE_READ, t, &err), -1);
	ck_assert_int_eq(token_file_add(path, "a:b", TOKEN_ROLE_READ, t, &err), -1);
	ck_assert_int_eq(token_file_add(path, "a b", TOKEN_ROLE_READ, t, &err), -1);
	ck_assert_int_eq(token_file_add(path, "ok", TOKEN_ROLE_NONE, t, &err), -1);
	ck_assert_int_eq(token_file_add(path, "ok.name-1_x", TOKEN_ROLE_READ, t, &err), 0);
	ck_assert_int_eq(token_file_add(path, "ok.name-1_x", TOKEN_ROLE_ADMIN, t, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "exists"));
	ck_assert_int_eq(token_role_from_name("admin"), TOKEN_ROLE_ADMIN);
	ck_assert_int_eq(token_role_from_name("read"), TOKEN_ROLE_READ);
	ck_assert_int_eq(token_role_from_name("root"), TOKEN_ROLE_NONE);
	ck_assert_str_eq(token_role_name(TOKEN_ROLE_READ), "read");
}
END_TEST

START_TEST(revoke_and_watch)
{
	char a[TOKEN_TEXT_LEN + 1], b[TOKEN_TEXT_LEN + 1], name[TOKEN_NAME_MAX + 1];
	const char *err = NULL;
	struct token_watch *w = token_watch_new(path);

	/* no file: nothing works */
	ck_assert_int_eq(token_watch_check(w, "chapps_x", 8, name, &err), TOKEN_ROLE_NONE);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(token_file_add(path, "one", TOKEN_ROLE_ADMIN, a, &err), 0);
	ck_assert_int_eq(token_file_add(path, "two", TOKEN_ROLE_READ, b, &err), 0);
	ck_assert_int_eq(token_watch_check(w, a, strlen(a), name, &err), TOKEN_ROLE_ADMIN);
	ck_assert_int_eq(token_file_revoke(path, "one", &err), 0);
	/* the very next check sees the revocation (new inode from rename) */
	ck_assert_int_eq(token_watch_check(w, a, strlen(a), name, &err), TOKEN_ROLE_NONE);
	ck_assert_int_eq(token_watch_check(w, b, strlen(b), name, &err), TOKEN_ROLE_READ);
	ck_assert_int_eq(token_file_revoke(path, "one", &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "no token named one"));

	/* a malformed file fails closed, with the reason */
	FILE *f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fputs("broken line\n", f);
	fclose(f);
	ck_assert_int_eq(token_watch_check(w, b, strlen(b), name, &err), TOKEN_ROLE_NONE);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "expected name:read|admin:hash"));
	token_watch_free(&w);
	ck_assert_ptr_null(w);
}
END_TEST

/* owner: a first file is 0640 with group chapps (when it exists, as root); a rewrite keeps the group */
START_TEST(owner_and_mode)
{
	char t[TOKEN_TEXT_LEN + 1];
	const char *err = NULL;
	struct group *gr = getgrnam("chapps");
	struct stat st;

	ck_assert_int_eq(token_file_add(path, "first", TOKEN_ROLE_READ, t, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == 0640, "mode got %o, want 640",
		      (unsigned)(st.st_mode & 07777));
	if (geteuid() != 0)
		return;
	ck_assert_msg(st.st_gid == (gr != NULL ? gr->gr_gid : 0), "group got %u, want %u",
		      (unsigned)st.st_gid, gr != NULL ? (unsigned)gr->gr_gid : 0u);
	ck_assert_int_eq(chown(path, 0, 4242), 0);
	ck_assert_int_eq(token_file_add(path, "second", TOKEN_ROLE_READ, t, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_msg(st.st_gid == 4242, "rewrite: group got %u, want 4242 (kept)",
		      (unsigned)st.st_gid);
	ck_assert_int_eq(token_file_revoke(path, "first", &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_gid, 4242);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("token");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, add_and_check);
	tcase_add_test(tc, names_and_roles);
	tcase_add_test(tc, revoke_and_watch);
	tcase_add_test(tc, owner_and_mode);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
