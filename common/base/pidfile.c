/*
 * NAME
 *	pidfile - signal the process named by a pidfile
 * DESCRIPTION
 *	The file holds a decimal pid and a newline (chapps-milter's
 *	write_pidfile).  A pid of 0 or 1, or none, is never signalled: kill(0)
 *	and kill(1) would reach the caller's process group or init.  A pidfile
 *	left by a milter that has stopped names no process (ESRCH): nothing to
 *	do, not an error.
 * DIAGNOSTICS
 *	None: the return value and errno.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/pidfile.h"

int pidfile_signal(const char *path, int sig, long *pid_r)
{
	long pid = 0;
	int rc = 0;
	FILE *f;

	if (path[0] != '\0' && (f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
			pid = 0;
		fclose(f);
		if (pid > 1)
			rc = kill((pid_t)pid, sig) == 0 ? 1 : errno == ESRCH ? 0 : -1;
	}
	if (pid_r != NULL)
		*pid_r = pid;
	return rc;
}
