/*
 * pidfile - the running milter's process, named by milter.pidfile
 *
 * chapps-milter writes its pid there at start; chapps-cli and chapps-api
 * send it SIGUSR2 (flush the look-up caches) after a change of the policy
 * data, through pidfile_signal.
 */
#ifndef CHAPPS_PIDFILE_H
#define CHAPPS_PIDFILE_H

/*
 * pidfile_signal - send sig to the process whose pid is the first number
 * in the file path, if it runs program: the first word of its command line
 * (/proc/PID/cmdline), or the first after valgrind's options, is "program"
 * or ends in "/program"; program NULL skips that check.  Returns 1 when it was sent; 0
 * when there is no one to send it to (path empty, no such file, no pid
 * above 1 in it, no such process, or a process that is not program, or
 * whose command line cannot be read); -1 when kill(2) failed otherwise
 * (errno says why).  *pid_r (may be NULL) gets the pid read, or 0.
 */
int pidfile_signal(const char *path, int sig, const char *program, long *pid_r);

#endif
