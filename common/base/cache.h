/*
 * cache - a small in-process look-up cache with a lifetime per entry
 *
 * Keys are byte strings, values are one long (a quota, a flag), and an
 * entry may be negative ("this user is unknown") so that an unknown name
 * costs one database query per lifetime, not one per message.  The number
 * of entries is bounded: when full, an insert first drops expired entries
 * of its shard and then, if still full, the oldest entry of the shard.
 *
 * Thread-safe: the table is split in shards, each with its own mutex.
 */
#ifndef CHAPPS_CACHE_H
#define CHAPPS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cache;

enum cache_status { CACHE_MISS = 0, CACHE_HIT = 1, CACHE_HIT_NEGATIVE = 2 };

/* cache_create - a cache of at most max_entries (>= 16) entries. */
struct cache *cache_create(size_t max_entries);

/* cache_destroy - free *cache and set it to NULL; NULL is fine. */
void cache_destroy(struct cache **cache);

/*
 * cache_get - look key up at time now.  CACHE_HIT fills *value_r;
 * CACHE_HIT_NEGATIVE means "known not to exist"; CACHE_MISS otherwise
 * (absent or expired).
 */
enum cache_status cache_get(struct cache *cache, const void *key, size_t key_len, int64_t now,
			    long *value_r);

/* cache_put - store value (or a negative entry) until now + ttl; ttl 0 stores nothing. */
void cache_put(struct cache *cache, const void *key, size_t key_len, bool negative, long value,
	       int64_t now, uint32_t ttl);

/* cache_del - drop key. */
void cache_del(struct cache *cache, const void *key, size_t key_len);

/* cache_flush - drop every entry. */
void cache_flush(struct cache *cache);

/* cache_count - number of entries held (live or not yet reaped). */
size_t cache_count(struct cache *cache);

#endif
