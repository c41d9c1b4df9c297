/*
 * check_pidfile - pidfile_signal: the process named by the file gets the
 * signal when it is the program named; no file, an empty path, no pid, pid
 * 0 or 1, a process that is gone and one that runs another program are
 * "nobody to signal", never a signal to the wrong process.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
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

/* setup - a directory of its own and the pidfile's name in it */
static void setup(void)
{
	ck_assert_ptr_nonnull(test_mkdtemp(dir, sizeof(dir), "/tmp", "check_pidfile.XXXXXX"));
	snprintf(path, sizeof(path), "%s/milter.pid", dir);
}

/* teardown - the directory and what is in it */
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
	ck_assert_int_eq(pidfile_signal(path, 0, "check_pidfile", &pid), 0);
	ck_assert_int_eq(pidfile_signal(path, 0, NULL, &pid), 0);
	ck_assert_int_eq(pid, child);
}
END_TEST

/*
 * nobody to signal: 0, and nothing sent anywhere (signal 0 only checks: a
 * regression that reached kill(0) or kill(-1) makes it return 1, not harm)
 */
START_TEST(test_nobody)
{
	static const char *const bad[] = { "", "\n", "abc\n", "0\n", "1\n", "-5\n",
					   "4294967296\n", "4294967297\n", "4294967295\n",
					   "99999999999999999999999\n" };
	long pid = -1;

	ck_assert_int_eq(pidfile_signal("", SIGUSR2, NULL, &pid), 0);
	ck_assert_int_eq(pid, 0);
	ck_assert_int_eq(pidfile_signal(path, SIGUSR2, NULL, &pid), 0);	/* no such file */
	ck_assert_int_eq(pid, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(bad[i]);
		pid = -1;
		ck_assert_msg(pidfile_signal(path, 0, NULL, &pid) == 0, "\"%s\" signalled", bad[i]);
		ck_assert_int_eq(pid, 0);
	}
	ck_assert_int_eq(pidfile_signal(path, 0, NULL, NULL), 0);
}
END_TEST

/*
 * spawn_sh - /bin/sh with argv (argv[0] as given: it is what /proc shows),
 * reading commands from a pipe; returns its pid once it has exec'd (so
 * /proc/PID/cmdline is no longer ours), *in_r the pipe's end that ends it
 */
static pid_t spawn_sh(char *const argv[], int *in_r)
{
	int in[2], ready[2];
	char c;
	pid_t child;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		close(ready[0]);
		execv("/bin/sh", argv);
		_exit(127);
	}
	close(in[0]);
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 0);	/* EOF: the exec closed it */
	close(ready[0]);
	*in_r = in[1];
	return child;
}

/* the program is the first word, or the first after valgrind's options: not any word */
START_TEST(test_which_word)
{
	/* writable copies: execv's argv is char *const[] */
	static char sh[] = "sh", s_opt[] = "-s", prog[] = "/x/check_pidfile",
		    vg[] = "/usr/bin/valgrind.bin", vg2[] = "valgrind", bare[] = "check_pidfile";
	char *const other[] = { sh, s_opt, prog, NULL };
	char *const grind[] = { vg, s_opt, prog, NULL };
	char *const grind_other[] = { vg2, s_opt, sh, bare, NULL };
	char *const *cases[] = { other, grind, grind_other };
	const int want[] = { 0, 1, 0 };
	char text[32];

	for (size_t i = 0; i < 3; i++) {
		int in, status;
		pid_t child = spawn_sh(cases[i], &in);

		snprintf(text, sizeof(text), "%ld\n", (long)child);
		write_file(text);
		ck_assert_msg(pidfile_signal(path, 0, "check_pidfile", NULL) == want[i],
			      "case %zu: got the other answer", i);
		ck_assert_int_eq(pidfile_signal(path, 0, NULL, NULL), 1);
		close(in);				/* sh reads EOF and ends */
		ck_assert_int_eq(waitpid(child, &status, 0), child);
	}
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
	ck_assert_int_eq(chmod(path, 0644), 0);	/* whatever the umask */
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
	tcase_add_test(tc, test_which_word);
	tcase_add_test(tc, test_not_permitted);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
