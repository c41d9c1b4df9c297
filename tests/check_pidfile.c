/*
 * check_pidfile - pidfile_signal: the process named by the file gets the
 * signal when it is the program named; no file, an empty path, no pid, pid
 * 0 or 1, a process that is gone and one that runs another program are
 * "nobody to signal", never a signal to the wrong process.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "base/pidfile.h"
#include "check_main.h"
#include "test_util.h"

static char dir[64], path[128];

/* write_file - path gets text */
static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(test_mkdtemp(dir, sizeof(dir), "/tmp", "check_pidfile.XXXXXX"));
	snprintf(path, sizeof(path), "%s/milter.pid", dir);
}

static void teardown(void)
{
	test_rmtree(dir);
}

/* a child waiting for SIGUSR2 exits 0 when it gets it */
START_TEST(test_signal_sent)
{
	sigset_t set;
	pid_t child;
	long pid = 0;
	int status = -1, sig = 0;
	char text[32];

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);	/* inherited by the child */
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(sigwait(&set, &sig) == 0 && sig == SIGUSR2 ? 0 : 1);
	snprintf(text, sizeof(text), "%ld\n", (long)child);
	write_file(text);
	/* another program's pid (the pidfile is stale and the pid reused): left alone */
	ck_assert_int_eq(pidfile_signal(path, SIGUSR2, "chapps-milter", &pid), 0);
	ck_assert_int_eq(pid, child);
	ck_assert_int_eq(pidfile_signal(path, SIGUSR2, "pidfile", &pid), 0);	/* a suffix only */
	ck_assert_int_eq(waitpid(child, &status, WNOHANG), 0);		/* still waiting */
	/* the program it runs (its command line's word, as under valgrind too) */
	ck_assert_int_eq(pidfile_signal(path, SIGUSR2, "check_pidfile", &pid), 1);
	ck_assert_int_eq(pid, child);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	/* reaped: the pidfile now names no process, with or without the check */
	ck_assert_int_eq(pidfile_signal(path, SIGUSR2, "check_pidfile", &pid), 0);
	ck_assert_int_eq(pidfile_signal(path, SIGUSR2, NULL, &pid), 0);
	ck_assert_int_eq(pid, child);
}
END_TEST

/* nobody to signal: 0, and nothing sent anywhere */
START_TEST(test_nobody)
{
	static const char *const bad[] = { "", "\n", "abc\n", "0\n", "1\n", "-5\n" };
	long pid = -1;

	ck_assert_int_eq(pidfile_signal("", SIGUSR2, NULL, &pid), 0);
	ck_assert_int_eq(pid, 0);
	ck_assert_int_eq(pidfile_signal(path, SIGUSR2, NULL, &pid), 0);	/* no such file */
	ck_assert_int_eq(pid, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(bad[i]);
		pid = -1;
		ck_assert_int_eq(pidfile_signal(path, SIGKILL, NULL, &pid), 0);
		ck_assert_int_eq(pid, 0);
	}
	ck_assert_int_eq(pidfile_signal(path, SIGKILL, NULL, NULL), 0);
}
END_TEST

/*
 * a process we may not signal: -1 with errno EPERM.  A child that drops
 * root for "nobody" (uid 65534) tries its parent; not run as another user,
 * who has no process of someone else's to name here for certain.
 */
START_TEST(test_not_permitted)
{
	pid_t child;
	int status = -1;
	char text[32];

	if (geteuid() != 0)
		return;
	ck_assert_int_eq(chmod(dir, 0755), 0);	/* the child must read the file */
	snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	write_file(text);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		long pid = 0;
		int rc;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		errno = 0;
		rc = pidfile_signal(path, 0, "check_pidfile", &pid);
		_exit(rc == -1 && errno == EPERM && pid == (long)getppid() ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("pidfile");
	TCase *tc = tcase_create("pidfile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_signal_sent);
	tcase_add_test(tc, test_nobody);
	tcase_add_test(tc, test_not_permitted);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
