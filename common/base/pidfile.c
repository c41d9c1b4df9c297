/*
 * NAME
 *	pidfile - signal the process named by a pidfile
 * DESCRIPTION
 *	The file holds a decimal pid and a newline (chapps-milter's
 *	write_pidfile).  A pid of 0 or 1, or none, is never signalled: kill(0)
 *	and kill(1) would reach the caller's process group or init.  A pidfile
 *	left by a milter that has stopped names no process (ESRCH): nothing to
 *	do, not an error.  Nor does one whose pid the kernel has since given to
 *	another program: SIGUSR2's default action ends a process, and
 *	chapps-cli usually runs as root, so the program the process runs (the
 *	first word of its command line, or the first after valgrind's options)
 *	is checked before the signal is sent (a race with a pid reused between
 *	the check and kill(2) remains, as with any pidfile).  A pid that does
 *	not fit pid_t is nobody: cast, it could become 0, 1 or -1.
 * DIAGNOSTICS
 *	None: the return value and errno.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/pidfile.h"

/* base_of - word's last path component */
static const char *base_of(const char *word)
{
	const char *slash = strrchr(word, '/');

	return slash != NULL ? slash + 1 : word;
}

/*
 * is_program - does pid run program: its command line's first word, or, when
 * that is valgrind, the first word after valgrind's options?  (Not any word:
 * "journalctl -u chapps-milter" is not the milter.)
 */
static bool is_program(long pid, const char *program)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (strcmp(base_of(buf), program) == 0)
		return true;
	if (strncmp(base_of(buf), "valgrind", 8) != 0)
		return false;
	for (char *w = buf + strlen(buf) + 1; w < buf + n; w += strlen(w) + 1)
		if (w[0] != '-')
			return strcmp(base_of(w), program) == 0;
	return false;
}

int pidfile_signal(const char *path, int sig, const char *program, long *pid_r)
{
	long pid = 0;
	int rc = 0;
	FILE *f;

	if (path[0] != '\0' && (f = fopen(path, "r")) != NULL) {
		char line[32], *end;

		if (fgets(line, sizeof(line), f) != NULL) {
			errno = 0;
			pid = strtol(line, &end, 10);
			/* a pid that pid_t cannot hold would wrap to 0, 1 or -1 in kill(2) */
			if (errno != 0 || end == line || pid <= 1 || pid > INT_MAX)
				pid = 0;
		}
		fclose(f);
		if (pid > 1 && (program == NULL || is_program(pid, program)))
			rc = kill((pid_t)pid, sig) == 0 ? 1 : errno == ESRCH ? 0 : -1;
	}
	if (pid_r != NULL)
		*pid_r = pid;
	return rc;
}
