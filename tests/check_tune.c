/*
 * check_tune - the process-wide settings of common/base/tune: the default
 * stack of threads created afterwards, and TCP_NODELAY set on listening
 * inet sockets only (not on a connected one, a bound one that does not
 * listen, or a unix socket).
 */
#include "autoconf.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <check.h>

#include "base/tune.h"
#include "check_main.h"

/* nodelay - TCP_NODELAY of fd (0 or 1; -1 when it cannot be read) */
static int nodelay(int fd)
{
	int on = -1;
	socklen_t len = sizeof(on);

	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) < 0)
		return -1;
	return on != 0;
}

/* tcp_socket - a TCP socket bound to 127.0.0.1 on a port of the kernel's choice */
static int tcp_socket(struct sockaddr_in *sin_r)
{
	socklen_t len = sizeof(*sin_r);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(sin_r, 0, sizeof(*sin_r));
	sin_r->sin_family = AF_INET;
	sin_r->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sin_r, sizeof(*sin_r)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sin_r, &len), 0);
	return fd;
}

/* listeners get TCP_NODELAY; sockets that do not listen keep what they had */
START_TEST(test_nodelay_listeners_only)
{
	struct sockaddr_in a, b;
	int lfd = tcp_socket(&a), bound = tcp_socket(&b), cfd, err = -1;
	int ufd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_eq(listen(lfd, 4), 0);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_ge(ufd, 0);
	ck_assert_int_eq(nodelay(lfd), 0);
	ck_assert_int_eq(nodelay(cfd), 0);

	ck_assert_int_eq(tune_listeners_nodelay(&err), 1);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(nodelay(lfd), 1);
	ck_assert_int_eq(nodelay(cfd), 0);	/* connected, not listening */
	ck_assert_int_eq(nodelay(bound), 0);	/* bound, not listening */

	/*
	 * a connection made from now on inherits it from its listener (Linux);
	 * one already in the accept queue was made with the listener's old options
	 */
	{
		int early = accept(lfd, NULL, NULL), c2 = socket(AF_INET, SOCK_STREAM, 0), late;

		ck_assert_int_ge(early, 0);
		ck_assert_int_eq(nodelay(early), 0);
		ck_assert_int_eq(connect(c2, (struct sockaddr *)&a, sizeof(a)), 0);
		late = accept(lfd, NULL, NULL);
		ck_assert_int_ge(late, 0);
		ck_assert_int_eq(nodelay(late), 1);
		close(late);
		close(c2);
		close(early);
	}
	close(cfd);
	close(bound);
	close(ufd);
	close(lfd);
	ck_assert_int_eq(tune_listeners_nodelay(NULL), 0);	/* none left */
}
END_TEST

/* stack_of - the stack size a new thread gets */
static void *stack_of(void *arg)
{
	pthread_attr_t attr;
	size_t *size = arg;

	ck_assert_int_eq(pthread_getattr_np(pthread_self(), &attr), 0);
	ck_assert_int_eq(pthread_attr_getstacksize(&attr, size), 0);
	pthread_attr_destroy(&attr);
	return NULL;
}

/* threads created afterwards get the smaller stack; a larger one is not asked for */
START_TEST(test_thread_stack)
{
#ifdef HAVE_PTHREAD_SETATTR_DEFAULT_NP
	pthread_t th;
	size_t was = 0, size = 0;

	ck_assert_int_eq(tune_thread_stack(1024 * 1024, &was), 0);
	ck_assert_uint_gt(was, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, stack_of, &size), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	/* 1 MiB, or the default when it was smaller already (ulimit -s) */
	ck_assert_uint_eq(size, was < 1024 * 1024 ? was : 1024 * 1024);
	if (was < 1024 * 1024)
		return;		/* the rest assumes 1 MiB was set */

	/* already smaller than asked: kept as it is */
	ck_assert_int_eq(tune_thread_stack(4 * 1024 * 1024, &was), 0);
	ck_assert_uint_eq(was, 1024 * 1024);
	ck_assert_int_eq(pthread_create(&th, NULL, stack_of, &size), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_uint_eq(size, 1024 * 1024);

	/* below the minimum a thread can have: refused, the size kept said */
	ck_assert_int_eq(tune_thread_stack(1, &was), -1);
	ck_assert_uint_eq(was, 1024 * 1024);
#endif
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("tune");
	TCase *tc = tcase_create("tune");

	tcase_add_test(tc, test_nodelay_listeners_only);
	tcase_add_test(tc, test_thread_stack);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
