/*
 * xalloc - memory allocation that never returns NULL
 *
 * Every function here either succeeds or logs a fatal message and aborts
 * the process: an out-of-memory milter is restarted by its supervisor and
 * Postfix applies milter_default_action meanwhile.  This keeps callbacks
 * free of NULL checks (STYLE rule 10).
 *
 * All functions are thread-safe.
 */
#ifndef CHAPPS_XALLOC_H
#define CHAPPS_XALLOC_H

#include <stddef.h>

/* xmalloc - allocate size bytes (size 0 allocates 1 byte). */
void *xmalloc(size_t size);

/* xcalloc - allocate n zeroed elements of size bytes each; checks overflow. */
void *xcalloc(size_t n, size_t size);

/* xrealloc - resize ptr (NULL allocates). */
void *xrealloc(void *ptr, size_t size);

/* xreallocarray - resize ptr to n elements of size bytes; checks overflow. */
void *xreallocarray(void *ptr, size_t n, size_t size);

/* xstrdup - copy a NUL-terminated string; a NULL argument returns NULL. */
char *xstrdup(const char *s);

/* xstrndup - copy at most len bytes of s and terminate the copy. */
char *xstrndup(const char *s, size_t len);

/* xasprintf - format into a newly allocated string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* xfree - free *p and set it to NULL; NULL and *p == NULL are fine. */
void xfree_ptr(void *pp);
#define XFREE(p) xfree_ptr(&(p))

#endif
