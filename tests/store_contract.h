/*
 * store_contract - the behaviour every store engine must show, as a Check suite
 *
 * One set of cases run against each engine (tests/check_store_lmdb.c,
 * the Redis engine's test), through store.h only: the reserve rule,
 * margin, commit/release, reservation expiry, window sliding at bucket
 * edges, reset, binary-safe user names, the cache, and many threads
 * reserving for one user at once (exactly limit granted).
 *
 * The backend gives a way to get a fresh, empty store and to dispose of
 * it.  Check runs each case in a forked child (CK_FORK, the default) or
 * in-process (CK_FORK=no, for valgrind); open is called at the start of
 * each case and close at its end, in the same process either way.
 */
#ifndef CHAPPS_STORE_CONTRACT_H
#define CHAPPS_STORE_CONTRACT_H

#include <check.h>

struct store;

struct store_contract_backend {
	const char *name;	/* "lmdb", "redis": names the suite */
	/*
	 * open - return a freshly opened store holding no quota record and no
	 * cache entry (create a new directory, FLUSHDB...).  Fail the test
	 * (ck_abort_msg) when it cannot.
	 */
	struct store *(*open)(void *ctx);
	/* close - store_close(store) and remove what open created. */
	void (*close)(struct store **store, void *ctx);
	void *ctx;
};

/*
 * store_contract_suite - the contract cases for backend, which must stay
 * valid while the suite runs (it is kept by pointer).  One backend per
 * process.
 */
Suite *store_contract_suite(const struct store_contract_backend *backend);

#endif
