/*
 * NAME
 *	cache - sharded TTL cache of long values, with negative entries
 * DESCRIPTION
 *	CACHE_SHARDS independent open hash tables (chained), each guarded by
 *	a mutex; a key's shard comes from its FNV-1a hash.  Each shard holds
 *	at most max_entries / CACHE_SHARDS entries.  Entries are kept in an
 *	insertion-ordered list per shard too, so eviction of the oldest is
 *	O(1).
 * DIAGNOSTICS
 *	None.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/cache.h"
#include "base/xalloc.h"

#define CACHE_SHARDS 16
#define CACHE_BUCKETS 256	/* per shard */

struct entry {
	struct entry *next;		/* hash chain */
	struct entry *older, *newer;	/* age list */
	int64_t expires;
	long value;
	bool negative;
	size_t key_len;
	unsigned char key[];
};

struct shard {
	pthread_mutex_t lock;
	struct entry *bucket[CACHE_BUCKETS];
	struct entry *oldest, *newest;
	size_t count;
};

struct cache {
	size_t max_per_shard;
	struct shard shard[CACHE_SHARDS];
};

/* hash - FNV-1a */
static uint64_t hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ULL;

	while (len--) {
		h ^= *p++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct cache *cache_create(size_t max_entries)
{
	struct cache *c = xcalloc(1, sizeof(*c));

	if (max_entries < CACHE_SHARDS)
		max_entries = CACHE_SHARDS;
	c->max_per_shard = max_entries / CACHE_SHARDS;
	for (int i = 0; i < CACHE_SHARDS; i++)
		pthread_mutex_init(&c->shard[i].lock, NULL);
	return c;
}

/* unlink_entry - take e out of its chain and the age list, and free it */
static void unlink_entry(struct shard *s, struct entry *e, struct entry **link)
{
	*link = e->next;
	if (e->older)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	s->count--;
	free(e);
}

/* find - the link pointing at key's entry in s, or NULL */
static struct entry **find(struct shard *s, uint64_t h, const void *key, size_t len)
{
	struct entry **link = &s->bucket[(h >> 4) % CACHE_BUCKETS];

	for (; *link != NULL; link = &(*link)->next)
		if ((*link)->key_len == len && memcmp((*link)->key, key, len) == 0)
			return link;
	return NULL;
}

/* drop - remove e, wherever it is chained */
static void drop(struct shard *s, struct entry *e)
{
	struct entry **link = find(s, hash(e->key, e->key_len), e->key, e->key_len);

	if (link != NULL)
		unlink_entry(s, e, link);
}

enum cache_status cache_get(struct cache *c, const void *key, size_t len, int64_t now,
			    long *value_r)
{
	uint64_t h = hash(key, len);
	struct shard *s = &c->shard[h % CACHE_SHARDS];
	enum cache_status st = CACHE_MISS;
	struct entry **link;

	pthread_mutex_lock(&s->lock);
	link = find(s, h, key, len);
	if (link != NULL) {
		struct entry *e = *link;

		if (e->expires <= now) {
			unlink_entry(s, e, link);
		} else if (e->negative) {
			st = CACHE_HIT_NEGATIVE;
		} else {
			*value_r = e->value;
			st = CACHE_HIT;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return st;
}

void cache_put(struct cache *c, const void *key, size_t len, bool negative, long value,
	       int64_t now, uint32_t ttl)
{
	uint64_t h = hash(key, len);
	struct shard *s = &c->shard[h % CACHE_SHARDS];
	struct entry **link, *e;

	if (ttl == 0)
		return;
	e = xmalloc(sizeof(*e) + len);
	e->expires = now + ttl;
	e->value = value;
	e->negative = negative;
	e->key_len = len;
	memcpy(e->key, key, len);

	pthread_mutex_lock(&s->lock);
	link = find(s, h, key, len);
	if (link != NULL)
		unlink_entry(s, *link, link);
	/*
	 * Make room by dropping the oldest entry: every user of one cache
	 * stores with one lifetime, so the oldest is also the first to expire.
	 */
	while (s->count >= c->max_per_shard && s->oldest != NULL)
		drop(s, s->oldest);
	e->next = s->bucket[(h >> 4) % CACHE_BUCKETS];
	s->bucket[(h >> 4) % CACHE_BUCKETS] = e;
	e->older = s->newest;
	e->newer = NULL;
	if (s->newest)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
	s->count++;
	pthread_mutex_unlock(&s->lock);
}

void cache_del(struct cache *c, const void *key, size_t len)
{
	uint64_t h = hash(key, len);
	struct shard *s = &c->shard[h % CACHE_SHARDS];
	struct entry **link;

	pthread_mutex_lock(&s->lock);
	link = find(s, h, key, len);
	if (link != NULL)
		unlink_entry(s, *link, link);
	pthread_mutex_unlock(&s->lock);
}

void cache_flush(struct cache *c)
{
	for (int i = 0; i < CACHE_SHARDS; i++) {
		struct shard *s = &c->shard[i];

		pthread_mutex_lock(&s->lock);
		while (s->oldest != NULL)
			drop(s, s->oldest);
		pthread_mutex_unlock(&s->lock);
	}
}

size_t cache_count(struct cache *c)
{
	size_t n = 0;

	for (int i = 0; i < CACHE_SHARDS; i++) {
		pthread_mutex_lock(&c->shard[i].lock);
		n += c->shard[i].count;
		pthread_mutex_unlock(&c->shard[i].lock);
	}
	return n;
}

void cache_destroy(struct cache **cp)
{
	struct cache *c = *cp;

	if (c == NULL)
		return;
	cache_flush(c);
	for (int i = 0; i < CACHE_SHARDS; i++)
		pthread_mutex_destroy(&c->shard[i].lock);
	free(c);
	*cp = NULL;
}
