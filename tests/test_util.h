/*
 * test_util - temporary directories for the test programs
 *
 * One implementation of what five test programs used to carry each: make a
 * private directory under $TMPDIR (or /tmp), and remove a directory tree
 * at the end of a case or a run.  No Check dependency: the Redis helper
 * and the programs' main() use these outside any test case.
 */
#ifndef CHAPPS_TEST_UTIL_H
#define CHAPPS_TEST_UTIL_H

#include <stddef.h>

/*
 * test_mkdtemp - make a new directory parent/name, where name ends in
 * "XXXXXX" (mkdtemp's template), and put its path in buf (size bytes).
 * parent NULL means $TMPDIR, or /tmp when TMPDIR is unset or empty.
 * Returns buf, or NULL with errno set (buf then holds the template).
 */
char *test_mkdtemp(char *buf, size_t size, const char *parent, const char *name);

/*
 * test_rmtree - remove path and everything below it (rm -rf; symbolic
 * links are removed, never followed).  Goes on after a failure; returns 0
 * when path no longer exists, else -1.  An empty path is a no-op.
 */
int test_rmtree(const char *path);

#endif
