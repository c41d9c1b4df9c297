/*
 * NAME
 *	check_cache - unit tests of common/cache (sharded TTL cache)
 * DESCRIPTION
 *	Time is passed in by the caller, so expiry is tested at exact
 *	instants without sleeping.  Covers hit, miss, negative entries,
 *	expiry at now + ttl, ttl 0, overwrite, del, flush, binary keys, the
 *	entry bound, and 8 threads working on one cache.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cache.h"

#include "check_main.h"

#define NOW 1700000000

static const char *const stname[] = { "CACHE_MISS", "CACHE_HIT", "CACHE_HIT_NEGATIVE" };

/* get - cache_get on a C string key */
static enum cache_status get(struct cache *c, const char *key, int64_t now, long *v)
{
	return cache_get(c, key, strlen(key), now, v);
}

/* put - cache_put on a C string key */
static void put(struct cache *c, const char *key, bool neg, long v, int64_t now, uint32_t ttl)
{
	cache_put(c, key, strlen(key), neg, v, now, ttl);
}

/* expect - assert the status (and value on a hit) of key at now */
#define EXPECT(c, key, now, want_st, want_v)                                                 \
	do {                                                                                 \
		long v_ = -12345;                                                            \
		enum cache_status st_ = get((c), (key), (now), &v_);                         \
		ck_assert_msg(st_ == (want_st), "get(%s) at now%+lld: got %s, want %s", (key), \
			      (long long)((now) - NOW), stname[st_], stname[want_st]);       \
		if (st_ == CACHE_HIT)                                                        \
			ck_assert_msg(v_ == (want_v), "get(%s): value got %ld, want %ld", (key), \
				      v_, (long)(want_v));                                   \
	} while (0)

/* empty cache: miss; a put: hit with the value */
START_TEST(test_hit_miss)
{
	struct cache *c = cache_create(64);

	EXPECT(c, "alice", NOW, CACHE_MISS, 0);
	ck_assert_uint_eq(cache_count(c), 0);
	put(c, "alice", false, 42, NOW, 60);
	put(c, "bob", false, -7, NOW, 60);
	EXPECT(c, "alice", NOW, CACHE_HIT, 42);
	EXPECT(c, "bob", NOW + 59, CACHE_HIT, -7);
	EXPECT(c, "carol", NOW, CACHE_MISS, 0);
	ck_assert_uint_eq(cache_count(c), 2);
	cache_destroy(&c);
	ck_assert_ptr_null(c);
	cache_destroy(&c);
}
END_TEST

/* a negative entry is a hit that says "unknown" */
START_TEST(test_negative)
{
	struct cache *c = cache_create(64);
	long v = 99;

	put(c, "ghost", true, 0, NOW, 30);
	ck_assert_int_eq(get(c, "ghost", NOW + 1, &v), CACHE_HIT_NEGATIVE);
	ck_assert_msg(v == 99, "a negative hit wrote the value: got %ld, want 99 untouched", v);
	EXPECT(c, "ghost", NOW + 30, CACHE_MISS, 0);
	cache_destroy(&c);
}
END_TEST

/* an entry stored at t with ttl lives while now < t + ttl */
START_TEST(test_expiry)
{
	struct cache *c = cache_create(64);

	put(c, "k", false, 1, NOW, 10);
	EXPECT(c, "k", NOW - 5, CACHE_HIT, 1);
	EXPECT(c, "k", NOW + 9, CACHE_HIT, 1);
	EXPECT(c, "k", NOW + 10, CACHE_MISS, 0);
	/* the expired entry was reaped by the get that found it */
	ck_assert_uint_eq(cache_count(c), 0);
	EXPECT(c, "k", NOW + 9, CACHE_MISS, 0);
	put(c, "big", false, 2, NOW, UINT32_MAX);
	EXPECT(c, "big", NOW + UINT32_MAX - 1, CACHE_HIT, 2);
	EXPECT(c, "big", NOW + (int64_t)UINT32_MAX, CACHE_MISS, 0);
	cache_destroy(&c);
}
END_TEST

/* ttl 0 stores nothing */
START_TEST(test_ttl_zero)
{
	struct cache *c = cache_create(64);

	put(c, "k", false, 1, NOW, 0);
	put(c, "n", true, 0, NOW, 0);
	ck_assert_uint_eq(cache_count(c), 0);
	EXPECT(c, "k", NOW, CACHE_MISS, 0);
	EXPECT(c, "n", NOW, CACHE_MISS, 0);
	cache_destroy(&c);
}
END_TEST

/* a second put replaces value, kind and lifetime */
START_TEST(test_overwrite)
{
	struct cache *c = cache_create(64);

	put(c, "k", false, 1, NOW, 10);
	put(c, "k", false, 2, NOW + 5, 100);
	ck_assert_uint_eq(cache_count(c), 1);
	EXPECT(c, "k", NOW + 50, CACHE_HIT, 2);
	put(c, "k", true, 0, NOW + 50, 10);
	EXPECT(c, "k", NOW + 51, CACHE_HIT_NEGATIVE, 0);
	put(c, "k", false, 3, NOW + 51, 10);
	EXPECT(c, "k", NOW + 52, CACHE_HIT, 3);
	ck_assert_uint_eq(cache_count(c), 1);
	/* a shorter lifetime replaces a longer one too */
	put(c, "k", false, 4, NOW + 52, 1);
	EXPECT(c, "k", NOW + 53, CACHE_MISS, 0);
	cache_destroy(&c);
}
END_TEST

/* del drops one key; flush drops all */
START_TEST(test_del_flush)
{
	struct cache *c = cache_create(256);
	char key[32];

	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "user%d", i);
		put(c, key, i % 2 == 0, i, NOW, 60);
	}
	ck_assert_uint_eq(cache_count(c), 100);
	cache_del(c, "user1", 5);
	cache_del(c, "absent", 6);
	ck_assert_uint_eq(cache_count(c), 99);
	EXPECT(c, "user1", NOW, CACHE_MISS, 0);
	EXPECT(c, "user3", NOW, CACHE_HIT, 3);
	EXPECT(c, "user2", NOW, CACHE_HIT_NEGATIVE, 0);
	cache_flush(c);
	ck_assert_uint_eq(cache_count(c), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "user%d", i);
		EXPECT(c, key, NOW, CACHE_MISS, 0);
	}
	/* usable after a flush */
	put(c, "again", false, 5, NOW, 60);
	EXPECT(c, "again", NOW, CACHE_HIT, 5);
	cache_destroy(&c);
}
END_TEST

/* keys are byte strings: embedded NULs and prefixes are distinct keys */
START_TEST(test_binary_keys)
{
	struct cache *c = cache_create(64);
	long v = 0;

	cache_put(c, "a\0b", 3, false, 1, NOW, 60);
	cache_put(c, "a\0c", 3, false, 2, NOW, 60);
	cache_put(c, "a", 1, false, 3, NOW, 60);
	cache_put(c, "", 0, false, 4, NOW, 60);
	ck_assert_int_eq(cache_get(c, "a\0b", 3, NOW, &v), CACHE_HIT);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(cache_get(c, "a\0c", 3, NOW, &v), CACHE_HIT);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(cache_get(c, "a", 1, NOW, &v), CACHE_HIT);
	ck_assert_int_eq(v, 3);
	ck_assert_int_eq(cache_get(c, "", 0, NOW, &v), CACHE_HIT);
	ck_assert_int_eq(v, 4);
	ck_assert_int_eq(cache_get(c, "a\0", 2, NOW, &v), CACHE_MISS);
	ck_assert_uint_eq(cache_count(c), 4);
	cache_destroy(&c);
}
END_TEST

/* inserting max + N entries keeps the count <= max and the newest entry */
START_TEST(test_bound)
{
	static const size_t maxes[] = { 16, 64, 100, 1000 };

	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		struct cache *c = cache_create(maxes[m]);
		char key[32];

		for (size_t i = 0; i < maxes[m] + 5000; i++) {
			snprintf(key, sizeof(key), "key-%zu", i);
			put(c, key, false, (long)i, NOW, 600);
			ck_assert_msg(cache_count(c) <= maxes[m],
				      "max %zu: after %zu puts count got %zu, want <= %zu",
				      maxes[m], i + 1, cache_count(c), maxes[m]);
			/* the entry just stored is always there */
			EXPECT(c, key, NOW, CACHE_HIT, (long)i);
		}
		ck_assert_msg(cache_count(c) >= maxes[m] / 2,
			      "max %zu: count got %zu, want the cache at least half used",
			      maxes[m], cache_count(c));
		cache_destroy(&c);
	}
}
END_TEST

/* a max below 16 still holds an entry */
START_TEST(test_small_max)
{
	struct cache *c = cache_create(1);

	put(c, "only", false, 1, NOW, 60);
	EXPECT(c, "only", NOW, CACHE_HIT, 1);
	cache_destroy(&c);
}
END_TEST

#define THREADS 8
#define KEYS 300
#define ROUNDS 6000
#define SHARED_MAX 512

struct worker {
	struct cache *cache;
	int id;
	int bad_values;	/* hits with a value never stored for that key */
	int hits;
};

/* worker_main - put/get/del keys whose value is a function of the key */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char key[32];
	unsigned seed = (unsigned)w->id * 7919u + 1;

	for (int r = 0; r < ROUNDS; r++) {
		int k = (int)(rand_r(&seed) % KEYS);
		/* half the keys are shared by all threads, half are private */
		int owner = k % 2 ? w->id : -1;
		long want = (long)k * 1000 + (owner < 0 ? 999 : owner);
		long v = -1;

		snprintf(key, sizeof(key), "t%d-k%d", owner, k);
		switch (rand_r(&seed) % 4) {
		case 0:
		case 1:
			cache_put(w->cache, key, strlen(key), false, want, NOW, 60);
			break;
		case 2:
			if (cache_get(w->cache, key, strlen(key), NOW, &v) == CACHE_HIT) {
				w->hits++;
				if (v != want)
					w->bad_values++;
			}
			break;
		default:
			cache_del(w->cache, key, strlen(key));
			break;
		}
		if (r % 500 == 0 && cache_count(w->cache) > SHARED_MAX)
			w->bad_values++;
	}
	return NULL;
}

/* 8 threads hammering one cache: no wrong value, bound kept, no crash */
START_TEST(test_threads)
{
	struct cache *c = cache_create(SHARED_MAX);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	int hits = 0;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .cache = c, .id = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(w[i].bad_values == 0,
			      "thread %d: %d wrong values or counts above the bound, want 0", i,
			      w[i].bad_values);
		hits += w[i].hits;
	}
	ck_assert_msg(hits > 0, "no hit at all in %d lookups", THREADS * ROUNDS / 4);
	ck_assert_uint_le(cache_count(c), SHARED_MAX);
	cache_flush(c);
	ck_assert_uint_eq(cache_count(c), 0);
	cache_destroy(&c);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc;

	tc = tcase_create("basic");
	tcase_add_test(tc, test_hit_miss);
	tcase_add_test(tc, test_negative);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_ttl_zero);
	tcase_add_test(tc, test_overwrite);
	tcase_add_test(tc, test_del_flush);
	tcase_add_test(tc, test_binary_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("bound");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_small_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
