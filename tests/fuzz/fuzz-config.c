/*
 * NAME
 *	fuzz-config - libFuzzer target for config_load
 * DESCRIPTION
 *	Each input is written to a file in a private directory (under
 *	$FUZZ_TMPDIR, else /dev/shm when it exists, else /tmp; removed at a
 *	normal exit, but libFuzzer leaves by _Exit after -max_total_time and on
 *	a crash, so run-fuzzers.sh points FUZZ_TMPDIR at a directory it
 *	removes) and loaded with config_load, which must either return
 *	a snapshot or a non-empty error text, never crash or leak.  A loaded
 *	snapshot is then dumped with config_dump, the dump loaded again and
 *	dumped again: config_dump promises text that config_load accepts, so
 *	the reload must succeed and the second dump must equal the first.
 *	The two files stay open for the whole run and each input is written
 *	over the last with pwrite and cut with ftruncate: creating them anew
 *	(open with O_TRUNC, write, close) made ext4 write them out on every
 *	close, which took longer than config_load itself; config_load still
 *	opens and reads them by name, as the milter does.
 *
 *	@include is relative to the file's directory.  Inputs that include a
 *	path with a '/' are skipped, so that an input cannot read a device
 *	(/dev/stdin would block) or files outside the directory; the
 *	directory holds one extra file, inc.conf, for includes to find.
 *
 *	Leak detection ignores one known libconfig 1.5 leak (see
 *	__lsan_default_suppressions below).
 * DIAGNOSTICS
 *	abort() on a broken promise, with the offending text on stderr.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/*
 * libconfig 1.5's scanner loses the string it was building (strbuf_append)
 * or has just returned (libconfig_yylex) when a syntax error stops the
 * parser: a few bytes per failed load, libconfig's leak, not chapps's
 * (chapps-milter -n under valgrind shows the same).  Only allocations made
 * by the scanner are excused; a config_t that chapps forgot to destroy would
 * still leak its settings from config_setting_create and be reported.
 */
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static char dir[64];
static char input_path[128];
static char dump_path[128];
static int input_fd = -1, dump_fd = -1;

/* open_file - open (create) path for reading and writing */
static int open_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		perror(path);
		abort();
	}
	return fd;
}

/*
 * write_file - make the file open on fd hold exactly size bytes of data:
 * written in place, then cut to size (on ext4, closing a file that was
 * truncated to zero and written again forces it out to the disk, which
 * cost more than config_load: only an empty input truncates to zero here)
 */
static void write_file(int fd, const char *path, const void *data, size_t size)
{
	const char *p = data;
	size_t off = 0;

	while (off < size) {
		ssize_t n = pwrite(fd, p + off, size - off, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror(path);
			abort();
		}
		off += (size_t)n;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		perror(path);
		abort();
	}
}

/* setup - create the private directory and its files once */
static void setup(void)
{
	static const char inc[] = "log: { level = \"debug\"; };\n";

	if (dir[0] != '\0')
		return;
	const char *base = getenv("FUZZ_TMPDIR");

	if (base == NULL || *base == '\0' || strlen(base) > 30)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/chapps-fuzz-config.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(input_path, sizeof(input_path), "%s/input.conf", dir);
	snprintf(dump_path, sizeof(dump_path), "%s/dump.conf", dir);
	input_fd = open_file(input_path);
	dump_fd = open_file(dump_path);
	char inc_path[128];
	int inc_fd;

	snprintf(inc_path, sizeof(inc_path), "%s/inc.conf", dir);
	inc_fd = open_file(inc_path);
	write_file(inc_fd, inc_path, inc, sizeof(inc) - 1);
	close(inc_fd);
}

/* cleanup - remove the private directory at exit */
static void cleanup(void)
{
	char path[128];

	if (dir[0] == '\0')
		return;
	close(input_fd);
	close(dump_fd);
	unlink(input_path);
	unlink(dump_path);
	snprintf(path, sizeof(path), "%s/inc.conf", dir);
	unlink(path);
	rmdir(dir);
}

/* unsafe_include - does data include a path holding '/'? */
static int unsafe_include(const uint8_t *data, size_t size)
{
	static const char kw[] = "@include";

	for (size_t i = 0; i + sizeof(kw) - 1 <= size; i++) {
		if (memcmp(data + i, kw, sizeof(kw) - 1) != 0)
			continue;
		size_t j = i + sizeof(kw) - 1;

		while (j < size && data[j] != '"' && data[j] != '\n')
			j++;
		for (j++; j < size && data[j] != '"' && data[j] != '\n'; j++)
			if (data[j] == '/' || data[j] == '\\')
				return 1;
	}
	return 0;
}

/* dump_text - config_dump into a new string (without its first, comment line) */
static char *dump_text(const struct config *c, size_t *len_r)
{
	char *buf = NULL, *body;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		abort();
	config_dump(c, f);
	fclose(f);
	body = strchr(buf, '\n');
	body = body ? body + 1 : buf + len;
	*len_r = len - (size_t)(body - buf);
	memmove(buf, body, *len_r + 1);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL, *c2 = NULL;
	char *errors = NULL, *d1, *d2;
	size_t l1, l2;

	setup();
	if (unsafe_include(data, size))
		return 0;
	write_file(input_fd, input_path, data, size);
	if (config_load(input_path, &c, &errors) < 0) {
		if (errors == NULL || errors[0] == '\0') {
			fprintf(stderr, "config_load failed without an error text\n");
			abort();
		}
		free(errors);
		return 0;
	}
	if (c == NULL || errors != NULL)
		abort();

	/* the dump must load again and dump to the same text */
	d1 = dump_text(c, &l1);
	write_file(dump_fd, dump_path, d1, l1);
	if (config_load(dump_path, &c2, &errors) < 0) {
		fprintf(stderr, "the dump of a loaded config does not load:\n%s--- dump:\n%s\n",
			errors, d1);
		abort();
	}
	d2 = dump_text(c2, &l2);
	if (l1 != l2 || memcmp(d1, d2, l1) != 0) {
		fprintf(stderr, "dump, load, dump changed the text:\n--- first:\n%s\n--- second:\n%s\n",
			d1, d2);
		abort();
	}
	free(d1);
	free(d2);
	config_unref(&c2);
	config_unref(&c);
	if (c != NULL)
		abort();
	return 0;
}

/* register cleanup before the first input */
__attribute__((constructor)) static void fuzz_config_init(void)
{
	atexit(cleanup);
}
