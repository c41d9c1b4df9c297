/*
 * check_main.h - the common main() of the Check unit-test programs
 *
 * A test program defines `static Suite *make_suite(void)` and then says
 * CHECK_MAIN(make_suite).  Check's fork mode stays on (a crash fails one
 * test, not the run); CK_FORK=no in the environment turns it off for
 * valgrind.  The exit status is 0 when every test passed.
 */
#ifndef CHAPPS_CHECK_MAIN_H
#define CHAPPS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(make_suite)                                        \
	int main(void)                                                \
	{                                                             \
		SRunner *sr = srunner_create(make_suite());           \
		int failed;                                           \
		srunner_run_all(sr, CK_NORMAL);                       \
		failed = srunner_ntests_failed(sr);                   \
		srunner_free(sr);                                     \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;     \
	}

#endif
