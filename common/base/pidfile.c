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
 *	chapps-cli usually runs as root, so the process's command line is
 *	checked for the program's name before the signal is sent (a race with a
 *	pid reused between the check and kill(2) remains, as with any pidfile).
 * DIAGNOSTICS
 *	None: the return value and errno.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "base/pidfile.h"

/* is_program - does a word of pid's command line name program (its last path part)? */
static bool is_program(long pid, const char *program)
{
	char path[64], buf[4096];
	size_t plen = strlen(program);
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
	for (char *w = buf; w < buf + n; w += strlen(w) + 1) {
		size_t wlen = strlen(w);

		if (wlen >= plen && strcmp(w + wlen - plen, program) == 0 &&
		    (wlen == plen || w[wlen - plen - 1] == '/'))
			return true;
	}
	return false;
}

int pidfile_signal(const char *path, int sig, const char *program, long *pid_r)
{
	long pid = 0;
	int rc = 0;
	FILE *f;

	if (path[0] != '\0' && (f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
			pid = 0;
		fclose(f);
		if (pid > 1 && (program == NULL || is_program(pid, program)))
			rc = kill((pid_t)pid, sig) == 0 ? 1 : errno == ESRCH ? 0 : -1;
	}
	if (pid_r != NULL)
		*pid_r = pid;
	return rc;
}
