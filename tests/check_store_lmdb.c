/*
 * check_store_lmdb - the LMDB store engine: the contract suite plus what
 * only an embedded, file-backed engine has (persistence across a reopen,
 * several processes on one environment (quota, limits, locks: exactly one
 * process locks a user under racing strikes), the map filling up,
 * directory creation, corrupt records, the cost of store_lock_get).
 *
 * Each case gets a new directory inside one mktemp -d directory for the
 * run, which main removes at the end whatever the results.
 */
#include "autoconf.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "base/config.h"
#include "store/store.h"
#include "store_contract.h"
#include "test_util.h"

#define BASE 1700000040
#define LIMIT 500
#define PER_CHILD 400

static char rootdir[256];	/* mktemp -d for the whole run */
static char tmpdir[300];	/* the case's directory, in rootdir */
static char envdir[350];	/* tmpdir/lmdb/env: open must create two levels */

/* make_tmpdir - a fresh directory for this case, inside rootdir */
static void make_tmpdir(void)
{
	ck_assert_msg(test_mkdtemp(tmpdir, sizeof(tmpdir), rootdir, "case-XXXXXX") != NULL,
		      "mkdtemp: %s", strerror(errno));
	snprintf(envdir, sizeof(envdir), "%s/lmdb/env", tmpdir);
}

/* remove_tmpdir - rm -rf the case's directory (main removes rootdir anyway,
 * since a failed assertion ends a forked case without its teardown) */
static void remove_tmpdir(void)
{
	if (tmpdir[0] != '\0')
		test_rmtree(tmpdir);
	tmpdir[0] = '\0';
}

/* open_at - open the LMDB store at path with map_mb MiB; NULL + *error_r on failure */
static struct store *open_at(const char *path, int map_mb, const char **error_r)
{
	struct config config;
	struct store *store = NULL;

	memset(&config, 0, sizeof(config));
	config.store_backend = STORE_BACKEND_LMDB;
	config.store_path = (char *)path;
	config.store_map_size_mb = map_mb;
	if (store_open(&config, &store, error_r) < 0)
		return NULL;
	return store;
}

/* reopen - open envdir, failing the test on error */
static struct store *reopen(void)
{
	const char *error = NULL;
	struct store *store = open_at(envdir, 64, &error);

	ck_assert_msg(store != NULL, "store_open %s: %s", envdir, error);
	return store;
}

/* contract_open - the contract suite's fresh store */
static struct store *contract_open(void *ctx)
{
	make_tmpdir();
	return reopen();
}

/* contract_close - the contract suite's cleanup */
static void contract_close(struct store **store, void *ctx)
{
	store_close(store);
	remove_tmpdir();
}

static const struct store_contract_backend lmdb_backend = {
	"lmdb", contract_open, contract_close, NULL
};

static struct store *st;
static const struct store_quota_params params = { LIMIT, 0, 3600, 60, 300 };

/* setup - a new directory; the case opens the store itself */
static void setup(void)
{
	make_tmpdir();
	st = NULL;
}

/* teardown - close whatever is open and remove the directory */
static void teardown(void)
{
	store_close(&st);
	remove_tmpdir();
}

START_TEST(test_persistence)
{
	struct store_quota_state s;
	const char *error = NULL;
	char buf[16];
	size_t len = sizeof(buf);

	st = reopen();
	ck_assert_int_eq(store_quota_reserve(st, "u", 1, "r1", 3, &params, BASE, NULL, &error),
			 STORE_OK);
	ck_assert_int_eq(store_quota_commit(st, "u", 1, "r1", &params, BASE, &error), STORE_OK);
	ck_assert_int_eq(store_quota_reserve(st, "u", 1, "r2", 2, &params, BASE, NULL, &error),
			 STORE_OK);
	ck_assert_int_eq(store_cache_set(st, "k", 1, "v", 1, 60, BASE, &error), STORE_OK);
	store_close(&st);
	ck_assert_ptr_null(st);
	store_close(&st);	/* NULL is fine */

	st = reopen();
	ck_assert_int_eq(store_quota_usage(st, "u", 1, &params, BASE + 1, &s, &error), STORE_OK);
	ck_assert_msg(s.committed == 3 && s.reserved == 2,
		      "after reopen: got committed=%u reserved=%u, want 3/2", s.committed,
		      s.reserved);
	ck_assert_int_eq(store_cache_get(st, "k", 1, buf, &len, BASE + 1, &error), STORE_OK);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(buf[0], 'v');
}
END_TEST

/* child_hammer - in a forked child: open the env, reserve+commit, report */
static void child_hammer(int fd, int index)
{
	const char *error = NULL;
	struct store *store = open_at(envdir, 64, &error);
	char resid[32];
	int i, granted = 0, ret;

	if (store == NULL)
		_exit(2);
	for (i = 0; i < PER_CHILD; i++) {
		snprintf(resid, sizeof(resid), "p%d-%d", index, i);
		ret = store_quota_reserve(store, "shared", 6, resid, 1, &params, BASE, NULL,
					  &error);
		if (ret == STORE_ERROR)
			_exit(3);
		if (ret == STORE_OK) {
			granted++;
			if (store_quota_commit(store, "shared", 6, resid, &params, BASE, &error)
			    != STORE_OK)
				_exit(4);
		}
	}
	store_close(&store);
	if (write(fd, &granted, sizeof(granted)) != sizeof(granted))
		_exit(5);
	_exit(0);
}

START_TEST(test_multi_process)
{
	struct store_quota_state s;
	const char *error = NULL;
	int fds[2], i, status, total = 0, got;
	pid_t pid[2];

	/* create the environment, then close it: the children open their own */
	st = reopen();
	store_close(&st);
	ck_assert_int_eq(pipe(fds), 0);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			close(fds[0]);
			child_hammer(fds[1], i);
		}
	}
	close(fds[1]);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "child %d: status %d, want exit 0", i, status);
	}
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(read(fds[0], &got, sizeof(got)), (ssize_t)sizeof(got));
		total += got;
	}
	close(fds[0]);
	ck_assert_msg(total == LIMIT, "granted in total: got %d, want %d", total, LIMIT);
	st = reopen();
	ck_assert_int_eq(store_quota_usage(st, "shared", 6, &params, BASE, &s, &error),
			 STORE_OK);
	ck_assert_msg(s.committed == LIMIT && s.reserved == 0,
		      "usage: got committed=%u reserved=%u, want %d/0", s.committed, s.reserved,
		      LIMIT);
}
END_TEST

#define LIMITS_POOL 300	/* the binding limit of the two-process limits case */

/* mp_limits - the three limits of the two-process case for child index */
static void mp_limits(struct store_limit *l, int index)
{
	static const char *users[] = { "a", "b" };

	memset(l, 0, 3 * sizeof(*l));
	l[0].owner = users[index];
	l[0].owner_len = 1;
	l[0].id = 1;
	l[0].count = STORE_COUNT_RECIPIENTS;
	l[0].window = STORE_WINDOW_CALENDAR;
	l[0].period_start = BASE;
	l[0].period_end = BASE + 86400;
	l[0].max = 1000;
	l[0].reservation_ttl = 300;
	l[1] = l[0];
	l[1].id = 0;
	l[1].window = STORE_WINDOW_SLIDING;
	l[1].interval = 3600;
	l[1].resolution = 60;
	l[2] = l[1];
	l[2].owner = "\0pool";
	l[2].owner_len = 5;
	l[2].id = 2;
	l[2].count = STORE_COUNT_MESSAGES;
	l[2].max = LIMITS_POOL;
}

/* child_limits - in a forked child: three limits per message, reserve+commit */
static void child_limits(int fd, int index)
{
	struct store_limit_ask asks[3] = { { 1, 0 }, { 1, 0 }, { 1, 0 } };
	const char *error = NULL;
	struct store *store = open_at(envdir, 64, &error);
	struct store_limit l[3];
	char resid[32];
	int i, granted = 0, ret;

	if (store == NULL)
		_exit(2);
	mp_limits(l, index);
	for (i = 0; i < PER_CHILD; i++) {
		snprintf(resid, sizeof(resid), "p%d-%d", index, i);
		ret = store_limits_reserve(store, resid, l, asks, 3, BASE, NULL, NULL, &error);
		if (ret == STORE_ERROR)
			_exit(3);
		if (ret == STORE_OK) {
			granted++;
			if (store_limits_commit(store, resid, l, NULL, 3, BASE, &error) != STORE_OK)
				_exit(4);
		}
	}
	store_close(&store);
	if (write(fd, &granted, sizeof(granted)) != sizeof(granted))
		_exit(5);
	_exit(0);
}

START_TEST(test_limits_multi_process)
{
	struct store_limit_state s[3];
	struct store_limit l[3];
	const char *error = NULL;
	int fds[2], i, j, status, total = 0, got[2];
	pid_t pid[2];

	st = reopen();
	store_close(&st);
	ck_assert_int_eq(pipe(fds), 0);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			close(fds[0]);
			child_limits(fds[1], i);
		}
	}
	close(fds[1]);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "child %d: status %d, want exit 0", i, status);
	}
	/* the pipe holds one int per child, in the order they finished: the
	 * per-user counts are checked as a set */
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(read(fds[0], &got[i], sizeof(got[i])), (ssize_t)sizeof(got[i]));
		total += got[i];
	}
	close(fds[0]);
	ck_assert_msg(total == LIMITS_POOL, "granted in total: got %d, want %d", total,
		      LIMITS_POOL);
	st = reopen();
	for (i = 0; i < 2; i++) {
		mp_limits(l, i);
		ck_assert_int_eq(store_limits_usage(st, l, 3, BASE, s, &error), STORE_OK);
		ck_assert_uint_eq(s[2].committed, LIMITS_POOL);
		ck_assert_uint_eq(s[0].committed, s[1].committed);
		ck_assert_msg(s[0].committed == (uint64_t)got[0] ||
			      s[0].committed == (uint64_t)got[1],
			      "user %d: committed %llu, children granted %d and %d", i,
			      (unsigned long long)s[0].committed, got[0], got[1]);
		for (j = 0; j < 3; j++)
			ck_assert_uint_eq(s[j].reserved, 0);
	}
}
END_TEST

START_TEST(test_reservation_cap)
{
	struct store_quota_params p = { 100000, 0, 3600, 60, 300 };
	struct store_quota_state s;
	const char *error = NULL;
	char resid[32];
	int i;

	st = reopen();
	for (i = 0; i < 1024; i++) {
		snprintf(resid, sizeof(resid), "r%d", i);
		ck_assert_int_eq(store_quota_reserve(st, "u", 1, resid, 1, &p, BASE, NULL, &error),
				 STORE_OK);
	}
	ck_assert_int_eq(store_quota_reserve(st, "u", 1, "one-more", 1, &p, BASE, &s, &error),
			 STORE_ERROR);
	ck_assert_str_eq(error, "too many open reservations");
	/* an open one may still grow; a released one makes room */
	ck_assert_int_eq(store_quota_reserve(st, "u", 1, "r7", 1, &p, BASE, &s, &error),
			 STORE_OK);
	ck_assert_uint_eq(s.own, 2);
	ck_assert_int_eq(store_quota_release(st, "u", 1, "r0", BASE, &error), STORE_OK);
	ck_assert_int_eq(store_quota_reserve(st, "u", 1, "one-more", 1, &p, BASE, &s, &error),
			 STORE_OK);
	ck_assert_uint_eq(s.reserved, 1025);
	/* expired ones make room too */
	ck_assert_int_eq(store_quota_reserve(st, "u", 1, "later", 1, &p, BASE + 300, &s,
					     &error), STORE_OK);
	ck_assert_uint_eq(s.reserved, 1);
}
END_TEST

START_TEST(test_map_full)
{
	const char *error = NULL;
	char key[32], val[STORE_CACHE_VALUE_MAX];
	int i, ret = STORE_OK;

	st = open_at(envdir, 1, &error);
	ck_assert_msg(st != NULL, "open: %s", error);
	memset(val, 'x', sizeof(val));
	for (i = 0; i < 100000 && ret == STORE_OK; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		ret = store_cache_set(st, key, strlen(key), val, sizeof(val), 3600, BASE, &error);
	}
	ck_assert_msg(ret == STORE_ERROR, "got %d after %d sets, want STORE_ERROR", ret, i);
	ck_assert_msg(strstr(error, "map full") != NULL && strstr(error, "map_size_mb") != NULL,
		      "error: got \"%s\", want a map-full message", error);
	/* the store is still usable for reads and deletes */
	ck_assert_int_eq(store_cache_del(st, "key-0", 5, &error), STORE_OK);
}
END_TEST

START_TEST(test_directory)
{
	const char *error = NULL;
	struct stat sb;
	char path[400];
	FILE *f;

	st = reopen();
	ck_assert_int_eq(stat(envdir, &sb), 0);
	ck_assert_msg(S_ISDIR(sb.st_mode) && (sb.st_mode & 07777) == 0750,
		      "mode: got %o, want directory 0750", (unsigned)(sb.st_mode & 07777));
	store_close(&st);

	snprintf(path, sizeof(path), "%s/file", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_ptr_null(open_at(path, 64, &error));
	ck_assert_msg(strstr(error, path) != NULL, "error: got \"%s\", want the path", error);
	snprintf(path, sizeof(path), "%s/file/sub", tmpdir);
	ck_assert_ptr_null(open_at(path, 64, &error));
	ck_assert_ptr_null(open_at("", 64, &error));
	ck_assert_ptr_null(open_at(envdir, 0, &error));
}
END_TEST

/* put_raw - write a raw value into a named database of envdir (store closed) */
static void put_raw(const char *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 2), 0);
	ck_assert_int_eq(mdb_env_open(env, envdir, 0, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

START_TEST(test_corrupt_record)
{
	struct store_quota_state s;
	const char *error = NULL;
	uint32_t dropped = 7;
	char buf[16];
	size_t len = sizeof(buf);

	st = reopen();
	store_close(&st);
	put_raw("quota", "u", 1, "Q\x01\x00\x05", 4);	/* truncated */
	put_raw("cache", "k", 1, "abc", 3);		/* shorter than an expiry */
	st = reopen();
	ck_assert_int_eq(store_quota_reserve(st, "u", 1, "r", 1, &params, BASE, NULL, &error),
			 STORE_ERROR);
	ck_assert_msg(strstr(error, "truncated") != NULL, "error: got \"%s\"", error);
	ck_assert_int_eq(store_quota_usage(st, "u", 1, &params, BASE, &s, &error), STORE_ERROR);
	ck_assert_int_eq(store_quota_reset(st, "u", 1, &dropped, &error), STORE_OK);
	ck_assert_uint_eq(dropped, 0);
	ck_assert_int_eq(store_quota_reserve(st, "u", 1, "r", 1, &params, BASE, NULL, &error),
			 STORE_OK);
	ck_assert_int_eq(store_cache_get(st, "k", 1, buf, &len, BASE, &error), STORE_MISS);
}
END_TEST

/* raw_dups - the duplicates under key in a DUPSORT database of envdir (store closed) */
static size_t raw_dups(const char *db, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key }, v;
	MDB_env *env;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_dbi dbi;
	size_t n = 0;
	int rc;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 2), 0);
	ck_assert_int_eq(mdb_env_open(env, envdir, MDB_RDONLY, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, db, MDB_DUPSORT | MDB_DUPFIXED, &dbi), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, dbi, &cur), 0);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	if (rc == 0)
		ck_assert_int_eq(mdb_cursor_count(cur, &n), 0);
	else
		ck_assert_int_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return n;
}

/* raw_version - the format version byte of the "limits" record under key (0: none) */
static int raw_version(const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key }, v;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int version = 0;

	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 2), 0);
	ck_assert_int_eq(mdb_env_open(env, envdir, MDB_RDONLY, 0660), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "limits", 0, &dbi), 0);
	if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size >= 2)
		version = ((const unsigned char *)v.mv_data)[1];
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return version;
}

/* dlimit - the distinct-recipients limit of the set cases: "dora", id 9, sliding hour */
static struct store_limit dlimit(void)
{
	struct store_limit l;

	memset(&l, 0, sizeof(l));
	l.owner = "dora";
	l.owner_len = 4;
	l.id = 9;
	l.count = STORE_COUNT_DISTINCT;
	l.window = STORE_WINDOW_SLIDING;
	l.interval = 3600;
	l.resolution = 60;
	l.max = 100000;
	l.reservation_ttl = 300;
	return l;
}

static const char dkey[] = "\0\0\0\x09" "dora";	/* dlimit's key: id big-endian, owner */

/* dask - reserve hash for resid at now; the reservation's amount after it */
static uint64_t dask(const struct store_limit *l, const char *resid, uint64_t hash, int64_t now)
{
	struct store_limit_ask a = { 1, hash };
	struct store_limit_state s;
	const char *error = NULL;

	ck_assert_msg(store_limits_reserve(st, resid, l, &a, 1, now, NULL, &s, &error) == STORE_OK,
		      "reserve %s: %s", resid, error != NULL ? error : "refused");
	return s.own;
}

/* dcommit - commit resid at now */
static void dcommit(const struct store_limit *l, const char *resid, int64_t now)
{
	const char *error = NULL;

	ck_assert_msg(store_limits_commit(st, resid, l, NULL, 1, now, &error) == STORE_OK,
		      "commit %s: %s", resid, error);
}

/* dusage - the limit's state at now */
static struct store_limit_state dusage(const struct store_limit *l, int64_t now)
{
	struct store_limit_state s;
	const char *error = NULL;

	ck_assert_msg(store_limits_usage(st, l, 1, now, &s, &error) == STORE_OK, "usage: %s",
		      error);
	return s;
}

START_TEST(test_distinct_set_expiry)
{
	/* ten messages of 100 new addresses, one every 100 s; the set in the
	 * two address databases holds what counts, no more, after each write */
	struct store_limit l = dlimit();
	struct store_limit_state s;
	const char *error = NULL;
	char resid[16];
	int k, j;

	st = reopen();
	for (k = 0; k < 10; k++) {
		snprintf(resid, sizeof(resid), "m%d", k);
		for (j = 0; j < 100; j++)
			dask(&l, resid, (uint64_t)(k * 100 + j + 1), BASE + k * 100);
		dcommit(&l, resid, BASE + k * 100);
	}
	s = dusage(&l, BASE + 900);
	ck_assert_uint_eq(s.committed, 1000);
	ck_assert_int_eq(s.next_free, BASE + 3600);
	/* a read skips the expired ones (messages 0-2) without dropping them */
	s = dusage(&l, BASE + 3600 + 250);
	ck_assert_uint_eq(s.committed, 700);
	ck_assert_int_eq(s.next_free, BASE + 300 + 3600);
	/* an expired address costs again, a live one does not */
	ck_assert_uint_eq(dask(&l, "x", 1, BASE + 3850), 1);
	ck_assert_uint_eq(dask(&l, "x", 350, BASE + 3850), 1);
	dcommit(&l, "x", BASE + 3850);
	s = dusage(&l, BASE + 3850);
	ck_assert_uint_eq(s.committed, 701);
	store_close(&st);
	ck_assert_uint_eq(raw_dups("distinct-hash", dkey, sizeof(dkey) - 1), 701);
	ck_assert_uint_eq(raw_dups("distinct-time", dkey, sizeof(dkey) - 1), 701);
	ck_assert_int_eq(raw_version(dkey, sizeof(dkey) - 1), 2);
	/* the last message's addresses leave at BASE + 4500; 1 and 350
	 * (renewed at BASE + 3850) stay */
	st = reopen();
	s = dusage(&l, BASE + 4500);
	ck_assert_uint_eq(s.committed, 2);
	ck_assert_int_eq(s.next_free, BASE + 3850 + 3600);
	ck_assert_uint_eq(dask(&l, "y", 5000, BASE + 4500), 1);
	dcommit(&l, "y", BASE + 4500);
	store_close(&st);
	ck_assert_uint_eq(raw_dups("distinct-hash", dkey, sizeof(dkey) - 1), 3);
	ck_assert_uint_eq(raw_dups("distinct-time", dkey, sizeof(dkey) - 1), 3);
	/* all gone: the whole set at once; a reserve alone keeps the record */
	st = reopen();
	ck_assert_uint_eq(dask(&l, "z", 350, BASE + 9000), 1);
	s = dusage(&l, BASE + 9000);
	ck_assert_uint_eq(s.committed, 0);
	ck_assert_uint_eq(s.reserved, 1);
	dcommit(&l, "z", BASE + 9000);
	/* another window kind empties the set */
	l.window = STORE_WINDOW_CALENDAR;
	l.period_start = BASE + 9000;
	l.period_end = BASE + 9000 + 86400;
	ck_assert_uint_eq(dask(&l, "c", 350, BASE + 9001), 1);
	s = dusage(&l, BASE + 9001);
	ck_assert_uint_eq(s.committed, 0);
	ck_assert_int_eq(store_limits_release(st, "c", &l, 1, BASE + 9001, &error), STORE_OK);
	store_close(&st);
	ck_assert_uint_eq(raw_dups("distinct-hash", dkey, sizeof(dkey) - 1), 0);
	ck_assert_uint_eq(raw_version(dkey, sizeof(dkey) - 1), 0);
	/* reset drops the set with the record */
	st = reopen();
	ck_assert_uint_eq(dask(&l, "d", 7, BASE + 9002), 1);
	dcommit(&l, "d", BASE + 9002);
	ck_assert_int_eq(store_limits_reset(st, &l, 1, &error), STORE_OK);
	s = dusage(&l, BASE + 9002);
	ck_assert_uint_eq(s.committed, 0);
	store_close(&st);
	ck_assert_uint_eq(raw_dups("distinct-hash", dkey, sizeof(dkey) - 1), 0);
	ck_assert_uint_eq(raw_dups("distinct-time", dkey, sizeof(dkey) - 1), 0);
	ck_assert_int_eq(raw_version(dkey, sizeof(dkey) - 1), 0);
}
END_TEST

/* v1_put - append n bytes of v big-endian at *p (bytes above the 8th are 0) */
static void v1_put(unsigned char **p, uint64_t v, int n)
{
	while (n-- > 0)
		*(*p)++ = n < 8 ? (unsigned char)(v >> (8 * n)) : 0;
}

START_TEST(test_distinct_version1)
{
	/* a record as the previous code wrote it (format 1): dora's hour,
	 * addresses 1, 2, 3 inline, last used at BASE, BASE + 100, BASE + 200 */
	struct store_limit l = dlimit();
	struct store_limit_state s;
	unsigned char rec[48 + 3 * 16], *p = rec;
	int i;

	v1_put(&p, 'L', 1);
	v1_put(&p, 1, 1);
	v1_put(&p, STORE_COUNT_DISTINCT, 1);
	v1_put(&p, STORE_WINDOW_SLIDING, 1);
	v1_put(&p, 3600, 4);
	v1_put(&p, 60, 4);
	v1_put(&p, 0, 24);
	v1_put(&p, 0, 2);
	v1_put(&p, 3, 4);
	v1_put(&p, 0, 6);
	for (i = 0; i < 3; i++) {
		v1_put(&p, (uint64_t)i + 1, 8);
		v1_put(&p, (uint64_t)(BASE + 100 * i), 8);
	}
	st = reopen();
	store_close(&st);
	put_raw("limits", dkey, sizeof(dkey) - 1, rec, sizeof(rec));
	/* read as it is */
	st = reopen();
	s = dusage(&l, BASE + 3650);
	ck_assert_uint_eq(s.committed, 2);
	ck_assert_int_eq(s.next_free, BASE + 100 + 3600);
	store_close(&st);
	ck_assert_int_eq(raw_version(dkey, sizeof(dkey) - 1), 1);
	/* converted by the first write: 2 known, 1 expired */
	st = reopen();
	ck_assert_uint_eq(dask(&l, "m", 2, BASE + 3650), 0);
	ck_assert_uint_eq(dask(&l, "m", 1, BASE + 3650), 1);
	dcommit(&l, "m", BASE + 3650);
	s = dusage(&l, BASE + 3650);
	ck_assert_uint_eq(s.committed, 3);
	ck_assert_int_eq(s.next_free, BASE + 200 + 3600);
	store_close(&st);
	ck_assert_int_eq(raw_version(dkey, sizeof(dkey) - 1), 2);
	ck_assert_uint_eq(raw_dups("distinct-hash", dkey, sizeof(dkey) - 1), 3);
	ck_assert_uint_eq(raw_dups("distinct-time", dkey, sizeof(dkey) - 1), 3);
}
END_TEST

START_TEST(test_long_names)
{
	struct store_quota_state s;
	const char *error = NULL;
	char name[600];

	memset(name, 'n', sizeof(name));
	st = reopen();
	ck_assert_int_eq(store_quota_reserve(st, name, 511, "r", 1, &params, BASE, NULL, &error),
			 STORE_OK);
	ck_assert_int_eq(store_quota_reserve(st, name, 512, "r", 1, &params, BASE, NULL, &error),
			 STORE_ERROR);
	ck_assert_msg(strstr(error, "too long") != NULL, "error: got \"%s\"", error);
	ck_assert_int_eq(store_quota_usage(st, name, 511, &params, BASE, &s, &error), STORE_OK);
	ck_assert_uint_eq(s.reserved, 1);
	ck_assert_int_eq(store_cache_set(st, name, 600, "v", 1, 10, BASE, &error), STORE_ERROR);
}
END_TEST

/* child_locks - in a forked child: see the parent's lock, then race strikes */
static void child_locks(int fd)
{
	struct store_lock_info info;
	const char *error = NULL;
	struct store *store = open_at(envdir, 64, &error);
	int i, locked, total = 0;

	if (store == NULL)
		_exit(2);
	if (store_lock_get(store, "manual", 6, &info, &error) != STORE_OK ||
	    strcmp(info.reason, "by parent") != 0 || info.since != BASE)
		_exit(3);
	for (i = 0; i < 40; i++) {
		if (store_lock_strike(store, "racer", 5, 30, 3600, "race", BASE + i, NULL, &locked,
				      &error) != STORE_OK)
			_exit(4);
		total += locked;
	}
	store_close(&store);
	if (write(fd, &total, sizeof(total)) != sizeof(total))
		_exit(5);
	_exit(0);
}

START_TEST(test_locks_multi_process)
{
	struct store_lock_info info;
	const char *error = NULL;
	int fds[2], i, status, total = 0, got;
	pid_t pid[2];

	st = reopen();
	ck_assert_int_eq(store_lock_set(st, "manual", 6, "by parent", BASE, &error), STORE_OK);
	store_close(&st);
	ck_assert_int_eq(pipe(fds), 0);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			close(fds[0]);
			child_locks(fds[1]);
		}
	}
	close(fds[1]);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "child %d: status %d, want exit 0", i, status);
	}
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(read(fds[0], &got, sizeof(got)), (ssize_t)sizeof(got));
		total += got;
	}
	close(fds[0]);
	ck_assert_msg(total == 1, "processes told they locked: got %d, want exactly 1", total);
	st = reopen();	/* and the lock survived both processes */
	ck_assert_int_eq(store_lock_get(st, "racer", 5, &info, &error), STORE_OK);
	ck_assert_str_eq(info.reason, "race");
	ck_assert_int_eq(store_lock_get(st, "manual", 6, NULL, &error), STORE_OK);
}
END_TEST

START_TEST(test_lock_get_cost)
{
	struct timespec t0, t1;
	const char *error = NULL;
	int i, ok = 0, n = 200000;
	double us;

	st = reopen();
	ck_assert_int_eq(store_lock_set(st, "locked", 6, "r", BASE, &error), STORE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		ok += store_lock_get(st, i % 2 ? "locked" : "free", i % 2 ? 6 : 4, NULL, &error)
			== (i % 2 ? STORE_OK : STORE_MISS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(ok, n);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / n;
	fprintf(stderr, "check_store_lmdb: store_lock_get: %.3f us per call (%d calls)\n", us, n);
}
END_TEST

START_TEST(test_lock_long_names)
{
	const char *error = NULL;
	char name[600];

	memset(name, 'n', sizeof(name));
	st = reopen();
	ck_assert_int_eq(store_lock_set(st, name, 511, "r", BASE, &error), STORE_OK);
	ck_assert_int_eq(store_lock_get(st, name, 511, NULL, &error), STORE_OK);
	ck_assert_int_eq(store_lock_set(st, name, 512, "r", BASE, &error), STORE_ERROR);
	ck_assert_msg(strstr(error, "too long") != NULL, "error: got \"%s\"", error);
	ck_assert_int_eq(store_lock_strike(st, name, 512, 1, 60, "r", BASE, NULL, NULL, &error),
			 STORE_ERROR);
}
END_TEST

/* lmdb_suite - the engine-specific cases */
static Suite *lmdb_suite(void)
{
	Suite *s = suite_create("store lmdb");
	TCase *tc = tcase_create("lmdb");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_persistence);
	tcase_add_test(tc, test_multi_process);
	tcase_add_test(tc, test_limits_multi_process);
	tcase_add_test(tc, test_reservation_cap);
	tcase_add_test(tc, test_map_full);
	tcase_add_test(tc, test_directory);
	tcase_add_test(tc, test_corrupt_record);
	tcase_add_test(tc, test_long_names);
	tcase_add_test(tc, test_distinct_set_expiry);
	tcase_add_test(tc, test_distinct_version1);
	tcase_add_test(tc, test_locks_multi_process);
	tcase_add_test(tc, test_lock_get_cost);
	tcase_add_test(tc, test_lock_long_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (test_mkdtemp(rootdir, sizeof(rootdir), NULL, "chapps-lmdb-XXXXXX") == NULL) {
		perror(rootdir);
		return 99;
	}
	sr = srunner_create(store_contract_suite(&lmdb_backend));
	srunner_add_suite(sr, lmdb_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	test_rmtree(rootdir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
