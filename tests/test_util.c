/*
 * NAME
 *	test_util - temporary directories for the test programs
 * SUMMARY
 *	test_mkdtemp(buf, size, parent, "name.XXXXXX"), test_rmtree(path)
 * DESCRIPTION
 *	See test_util.h.  test_rmtree walks the tree depth-first with nftw
 *	(FTW_PHYS: a symbolic link is an entry, not a way out of the tree).
 * DIAGNOSTICS
 *	test_mkdtemp returns NULL with errno set; test_rmtree -1 when path is
 *	still there.  Nothing here prints.
 */
#include "autoconf.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test_util.h"

char *test_mkdtemp(char *buf, size_t size, const char *parent, const char *name)
{
	int n;

	if (parent == NULL) {
		parent = getenv("TMPDIR");
		if (parent == NULL || parent[0] == '\0')
			parent = "/tmp";
	}
	n = snprintf(buf, size, "%s/%s", parent, name);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return mkdtemp(buf);
}

/* rm_entry - nftw callback: remove one entry, go on whatever happens */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

int test_rmtree(const char *path)
{
	struct stat sb;

	if (path == NULL || path[0] == '\0')
		return 0;
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return lstat(path, &sb) == 0 ? -1 : 0;
}
