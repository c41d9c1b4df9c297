/*
 * store_lmdb-private.h - what the LMDB engine's files share
 *
 * store_lmdb.c owns the environment (open, close, the ops table) and the
 * helpers below; store_lmdb_quota.c, store_lmdb_cache.c,
 * store_lmdb_greylist.c, store_lmdb_limits.c and store_lmdb_locks.c each
 * implement one family of store_ops on the handle.  Nothing here is visible outside common/store.
 */
#ifndef CHAPPS_STORE_LMDB_PRIVATE_H
#define CHAPPS_STORE_LMDB_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "store/greylist_record.h"
#include "store/quota_record.h"
#include "store/store-private.h"

#define LMDB_MAX_READERS 1024	/* concurrent read transactions, all processes */
#define LMDB_KEY_MAX 511	/* LMDB's compiled-in default (mdb_env_get_maxkeysize) */
#define LMDB_SWEEP_EVERY 32	/* writes to a database between two sweeps */
#define LMDB_SWEEP_SPAN 64	/* entries examined per sweep */
#define LMDB_EXPIRY_SIZE 8	/* cache and grey values start with it */
#define LMDB_RPOOL_MAX 32	/* idle read transactions kept (store_lmdb_read_begin) */

/* Where the next lazy sweep of a database starts. */
struct lmdb_sweep {
	unsigned int tick;	/* writes since the last sweep */
	size_t key_len;		/* 0: from the first key */
	unsigned char key[LMDB_KEY_MAX];
};

struct store_lmdb {
	struct store store;
	MDB_env *env;
	MDB_dbi quota_dbi;
	MDB_dbi cache_dbi;
	MDB_dbi grey_dbi;
	MDB_dbi limits_dbi;
	MDB_dbi dhash_dbi;	/* distinct limits' addresses by hash (store_lmdb_limits.c) */
	MDB_dbi dtime_dbi;	/*   ... and by time of last use */
	MDB_dbi locks_dbi;
	MDB_dbi strikes_dbi;
	MDB_dbi events_dbi;
	size_t max_key;
	int map_size_mb;
	/* sweep positions: only touched inside write transactions, which
	 * LMDB serialises */
	struct lmdb_sweep cache_sweep;
	struct lmdb_sweep grey_sweep;
	struct lmdb_sweep strikes_sweep;
	/* taken around the message path's write transactions: spins a little
	 * before sleeping, where LMDB's robust mutex sleeps at once */
	pthread_mutex_t wlock;
	/* the record the quota's write transactions decode into, under wlock:
	 * its arrays are kept from one transaction to the next (at most
	 * QUOTA_RECORD_RESV_MAX and QUOTA_RECORD_BUCKETS_MAX entries) */
	struct quota_record wrec;
	/* idle read transactions, reset, each keeping its reader slot */
	pthread_mutex_t rpool_lock;
	int rpool_n;
	MDB_txn *rpool[LMDB_RPOOL_MAX];
};

/*
 * store_lmdb_error - "what: LMDB's text for rc" (a full map names
 * store.map_size_mb) in the thread's error buffer, valid until the next
 * error of this thread; s may be NULL.
 */
const char *store_lmdb_error(const struct store_lmdb *s, const char *what, int rc);

/* store_lmdb_errorf - printf into the thread's error buffer and return it */
const char *store_lmdb_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* store_lmdb_get_expiry - the big-endian 64-bit expiry at p (-1 past INT64_MAX) */
int64_t store_lmdb_get_expiry(const unsigned char *p);

/* store_lmdb_put_expiry - store expiry big-endian at p */
void store_lmdb_put_expiry(unsigned char *p, int64_t expiry);

/*
 * store_lmdb_read_begin - a read-only transaction on the newest snapshot:
 * an idle one renewed (no allocation, no reader-table lock) or a new one.
 * Returns 0 or an LMDB error code.  End it with store_lmdb_read_end, on
 * the same thread or another (MDB_NOTLS).
 */
int store_lmdb_read_begin(struct store_lmdb *s, MDB_txn **txn_r);

/* store_lmdb_read_end - end a read transaction of store_lmdb_read_begin, kept idle if there is room */
void store_lmdb_read_end(struct store_lmdb *s, MDB_txn *txn);

/* store_lmdb_check_key_len - 0 when len fits LMDB's key size, else -1 with *error_r */
int store_lmdb_check_key_len(const struct store_lmdb *s, size_t len, const char *what,
			     const char **error_r);

/*
 * store_lmdb_sweep_tick - count one write to dbi (values behind an expiry)
 * and, every LMDB_SWEEP_EVERY, delete the expired entries among the next
 * LMDB_SWEEP_SPAN from sw's position, inside the caller's write txn.
 * Returns 0 or an LMDB error code.
 */
int store_lmdb_sweep_tick(MDB_txn *txn, MDB_dbi dbi, struct lmdb_sweep *sw, int64_t now);

/*
 * store_lmdb_delete_key - delete k from dbi in one write transaction;
 * absent is STORE_OK; errors name `what`.
 */
int store_lmdb_delete_key(struct store_lmdb *s, MDB_dbi dbi, MDB_val *k, const char *what,
			  const char **error_r);

/* store_lmdb_quota.c: the quota ops (see store.h) */
int store_lmdb_quota_reserve(struct store *store, const char *user, size_t user_len,
			     const char *resid, uint32_t n, const struct store_quota_params *params,
			     int64_t now, struct store_quota_state *state, const char **error_r);
int store_lmdb_quota_commit(struct store *store, const char *user, size_t user_len,
			    const char *resid, const struct store_quota_params *params,
			    int64_t now, const char **error_r);
int store_lmdb_quota_release(struct store *store, const char *user, size_t user_len,
			     const char *resid, int64_t now, const char **error_r);
int store_lmdb_quota_usage(struct store *store, const char *user, size_t user_len,
			   const struct store_quota_params *params, int64_t now,
			   struct store_quota_state *state, const char **error_r);
int store_lmdb_quota_reset(struct store *store, const char *user, size_t user_len,
			   uint32_t *dropped_r, const char **error_r);

/* store_lmdb_limits.c: the limits ops */
int store_lmdb_limits_reserve(struct store *store, const char *resid,
			      const struct store_limit *limits,
			      const struct store_limit_ask *asks, size_t n, int64_t now,
			      size_t *refused_r, struct store_limit_state *states,
			      const char **error_r);
int store_lmdb_limits_commit(struct store *store, const char *resid,
			     const struct store_limit *limits, const uint64_t *final, size_t n,
			     int64_t now, const char **error_r);
int store_lmdb_limits_release(struct store *store, const char *resid,
			      const struct store_limit *limits, size_t n, int64_t now,
			      const char **error_r);
int store_lmdb_limits_usage(struct store *store, const struct store_limit *limits, size_t n,
			    int64_t now, struct store_limit_state *states, const char **error_r);
int store_lmdb_limits_reset(struct store *store, const struct store_limit *limits, size_t n,
			    const char **error_r);
int store_lmdb_limits_top(struct store *store, uint32_t id,
			  void (*emit)(void *ctx, const char *owner, size_t owner_len,
				       uint64_t committed),
			  void *ctx, int64_t now, const char **error_r);

/* store_lmdb_cache.c: the cache ops */
int store_lmdb_cache_get(struct store *store, const void *key, size_t key_len, void *val,
			 size_t *val_len, int64_t now, const char **error_r);
int store_lmdb_mail_lookup(struct store *store, const void *key, size_t key_len, void *val,
			   size_t *val_len, const char *user, size_t user_len, int64_t now,
			   int *lock_r, struct store_lock_info *info_r, const char **error_r);
int store_lmdb_cache_set(struct store *store, const void *key, size_t key_len, const void *val,
			 size_t val_len, uint32_t ttl, int64_t now, const char **error_r);
int store_lmdb_cache_del(struct store *store, const void *key, size_t key_len,
			 const char **error_r);

/* store_lmdb_greylist.c: the greylisting ops */
int store_lmdb_greylist_check(struct store *store, const void *tuple, size_t tuple_len,
			      const void *client, size_t client_len,
			      const struct greylist_params *params, int64_t now, int *verdict_r,
			      const char **error_r);
int store_lmdb_greylist_tally(struct store *store, const void *client, size_t client_len,
			      int64_t now, uint32_t *count_r, const char **error_r);
int store_lmdb_greylist_tally_clear(struct store *store, const void *client, size_t client_len,
				    const char **error_r);
int store_lmdb_greylist_peek(struct store *store, const void *tuple, size_t tuple_len,
			     int64_t now, bool *present_r, struct greylist_record_tuple *tuple_r,
			     const char **error_r);

/* store_lmdb_locks.c: locks, strikes and events */
int store_lmdb_lock_read(struct store_lmdb *s, MDB_txn *txn, const char *user, size_t user_len,
			 struct store_lock_info *info_r, const char **error_r);
int store_lmdb_lock_get(struct store *store, const char *user, size_t user_len,
			struct store_lock_info *info_r, const char **error_r);
int store_lmdb_lock_set(struct store *store, const char *user, size_t user_len,
			const char *reason, int64_t now, const char **error_r);
int store_lmdb_lock_clear(struct store *store, const char *user, size_t user_len,
			  const char **error_r);
int store_lmdb_lock_strike(struct store *store, const char *user, size_t user_len,
			   uint32_t after, uint32_t window, const char *reason, int64_t now,
			   uint32_t *strikes_r, int *locked_r, const char **error_r);
int store_lmdb_locks_list(struct store *store,
			  void (*emit)(void *ctx, const char *user, size_t user_len,
				       int64_t since, const char *reason),
			  void *ctx, const char **error_r);
int store_lmdb_event_add(struct store *store, const char *text, size_t len, int64_t now,
			 const char **error_r);
int store_lmdb_events_list(struct store *store, size_t max,
			   void (*emit)(void *ctx, int64_t time, const char *text, size_t len),
			   void *ctx, const char **error_r);


/* ---- store_lmdb_limits.c: a limits transaction's cursors ---- */

/*
 * The cursors of one transaction, one per database, opened at first use
 * and closed before the transaction ends: every use positions its cursor
 * first, so a transaction over three limits opens at most four.
 */
enum lmdb_cur { CUR_QUOTA, CUR_LIMITS, CUR_HASH, CUR_TIME, CUR_N };

struct lmdb_cursors {
	MDB_txn *txn;
	const struct store_lmdb *s;
	MDB_cursor *cur[CUR_N];
};

/* A distinct limit's address set in one transaction. */
struct lmdb_set {
	MDB_txn *txn;
	const struct store_lmdb *s;
	MDB_val key;		/* the limit's "limits" key */
	struct lmdb_cursors *cs;
};

/* store_lmdb_cursors_get - cs's cursor on which (opened at first use); 0 or an LMDB code */
int store_lmdb_cursors_get(struct lmdb_cursors *cs, enum lmdb_cur which, MDB_cursor **cur_r);
/* store_lmdb_cursors_close - close every cursor cs opened (before its transaction ends) */
void store_lmdb_cursors_close(struct lmdb_cursors *cs);

/* ---- store_lmdb_distinct.c: a distinct-recipients limit's address set ---- */

struct limit_set_view;

bool store_lmdb_addr_counts(int64_t t, uint32_t interval, int64_t now);
int store_lmdb_set_scan(const struct lmdb_set *set, bool sliding, uint32_t interval, int64_t now,
			size_t *count_r, struct limit_set_view *view, const char **error_r);
int store_lmdb_set_find(const struct lmdb_set *set, uint64_t hash, bool *found_r,
			int64_t *time_r, const char **error_r);
int store_lmdb_set_drop(const struct lmdb_set *set, const char **error_r);
int store_lmdb_set_put(const struct lmdb_set *set, uint64_t hash, int64_t t, bool *added_r,
		       const char **error_r);
int store_lmdb_set_trim(const struct lmdb_set *set, uint32_t interval, int64_t now,
			const char **error_r);

#endif
