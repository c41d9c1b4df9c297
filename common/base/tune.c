/*
 * NAME
 *	tune - the stack size of threads to come, TCP_NODELAY on listeners
 * DESCRIPTION
 *	Thread stacks.  libmilter starts a worker whenever none is idle and
 *	lets it exit when more than one is (a third of the messages at 16
 *	connections of one message each).  glibc keeps 40 MiB of exited
 *	threads' stacks: five of 8 MiB, so most new workers got a fresh
 *	mapping (mmap, munmap and a TLB shootdown) and took a page fault for
 *	every page of stack they touched.  At 1 MiB (chapps-milter's choice)
 *	the cache holds forty and a new worker reuses a stack whose pages are
 *	there.
 *
 *	TCP_NODELAY.  Without it libmilter's two-write replies wait for the
 *	MTA's delayed ACK (about 40 ms).  The listening sockets are found by
 *	walking /proc/self/fd: a descriptor that is an inet socket with
 *	SO_ACCEPTCONN set.
 * DIAGNOSTICS
 *	None: the callers log what the return values say.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "base/tune.h"

int tune_thread_stack(size_t bytes, size_t *was_r)
{
	size_t size = 0;
	int rc = -1;
#ifdef HAVE_PTHREAD_SETATTR_DEFAULT_NP
	pthread_attr_t attr;

	if (pthread_getattr_default_np(&attr) == 0) {
		if (pthread_attr_getstacksize(&attr, &size) == 0 &&
		    (size <= bytes || (pthread_attr_setstacksize(&attr, bytes) == 0 &&
				       pthread_setattr_default_np(&attr) == 0)))
			rc = 0;
		pthread_attr_destroy(&attr);
	}
#else
	(void)bytes;
#endif
	if (was_r != NULL)
		*was_r = size;
	return rc;
}

int tune_listeners_nodelay(int *errno_r)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, last = 0;

	if (d == NULL) {
		n = -1;
		last = errno;
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name), on = 1, listening = 0;
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss), olen = sizeof(listening);

		if (fd <= 2 || fd == dirfd(d))
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) < 0 || !listening)
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
			last = errno;
		else
			n++;
	}
	closedir(d);
out:
	if (errno_r != NULL)
		*errno_r = last;
	return n;
}
