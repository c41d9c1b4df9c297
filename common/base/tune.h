/*
 * tune - process-wide settings of a threaded server: the stack of the
 * threads it will create, TCP_NODELAY on the sockets it listens on
 *
 * chapps-milter and the benchmark's no-op milter (bench/noop-milter.c)
 * call both before libmilter starts, so that the two are measured on the
 * same footing.  Neither function logs: each says what it could not do and
 * the caller decides.
 */
#ifndef CHAPPS_TUNE_H
#define CHAPPS_TUNE_H

#include <stddef.h>

/*
 * tune_thread_stack - threads created from now on get a stack of at most
 * bytes (the default, RLIMIT_STACK's 8 MiB on Linux, is kept when it is
 * already smaller).  Returns 0, or -1 when the default could not be read
 * or set (then *was_r, when not NULL, holds the size kept, 0 if unknown);
 * also -1 where the C library has no pthread_setattr_default_np.
 */
int tune_thread_stack(size_t bytes, size_t *was_r);

/*
 * tune_listeners_nodelay - set TCP_NODELAY on every listening IPv4/IPv6
 * socket this process holds (accepted sockets inherit it on Linux; libmilter
 * has no call that returns its listening descriptor).  Returns how many
 * were set, or -1 when /proc/self/fd cannot be read; *errno_r (may be NULL)
 * gets that errno, or the errno of the last socket that failed, or 0.
 */
int tune_listeners_nodelay(int *errno_r);

#endif
