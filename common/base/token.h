/*
 * token - bearer tokens for chapps-api: a file of names, roles and hashes
 *
 * A token is "chapps_" followed by 64 hex digits (32 random bytes from
 * libsodium); it is shown once, when made, and only its BLAKE2b-256 hash
 * (crypto_generichash) is kept.  A fast hash is enough because the secret
 * has 256 bits of entropy: there is nothing to guess a dictionary from.
 * The file has one token per line, "name:role:hash" (role "read" or
 * "admin", hash 64 hex digits); "#" lines and blank lines are skipped.  It
 * is rewritten whole through a temporary file and rename(2), mode 0640.
 *
 * Checking a presented token hashes it and compares the hash with every
 * entry using sodium_memcmp (constant time), never stopping early, so the
 * time taken tells nothing about which entry or how many bytes matched.
 *
 * struct token_watch re-reads the file whenever its mtime, size or inode
 * changes (checked at every call), so a revoked token stops working at
 * the next request.  It is thread-safe; struct token_set alone is not
 * written after load and may be read by many threads.
 */
#ifndef CHAPPS_TOKEN_H
#define CHAPPS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

enum token_role { TOKEN_ROLE_NONE = -1, TOKEN_ROLE_READ = 0, TOKEN_ROLE_ADMIN = 1 };

/* Longest token name; names are [A-Za-z0-9._-]. */
#define TOKEN_NAME_MAX 64
/* Length of a token as printed ("chapps_" + 64 hex digits), without the NUL. */
#define TOKEN_TEXT_LEN 71

struct token_set;
struct token_watch;

/* token_init - initialise libsodium; 0, or -1 if it cannot be used. */
int token_init(void);

/* token_role_name - "read" / "admin"; token_role_from_name: or TOKEN_ROLE_NONE. */
const char *token_role_name(enum token_role role);
enum token_role token_role_from_name(const char *name);

/*
 * token_set_load - read path.  A missing file is an empty set (no token
 * works).  -1 with *error_r (static or thread-local text) on a read error
 * or a malformed line.
 */
int token_set_load(const char *path, struct token_set **set_r, const char **error_r);

/* token_set_free - free *set and set it to NULL; NULL is fine. */
void token_set_free(struct token_set **set);

/* token_set_count - entries; token_set_entry - name and role of entry i. */
size_t token_set_count(const struct token_set *set);
void token_set_entry(const struct token_set *set, size_t i, const char **name_r,
		     enum token_role *role_r);

/*
 * token_set_check - the role of the presented token (len bytes), its name
 * copied into name (TOKEN_NAME_MAX + 1 bytes); TOKEN_ROLE_NONE when no
 * entry matches.  Constant time in the token's content.
 */
enum token_role token_set_check(const struct token_set *set, const char *token, size_t len,
				char *name);

/*
 * token_file_add - make a new token named name with role, add it to path
 * (created when missing) and write its text into token (TOKEN_TEXT_LEN + 1
 * bytes).  -1 with *error_r on a bad or taken name or an I/O error.
 */
int token_file_add(const char *path, const char *name, enum token_role role, char *token,
		   const char **error_r);

/* token_file_revoke - remove name from path; -1 with *error_r if absent or on I/O errors. */
int token_file_revoke(const char *path, const char *name, const char **error_r);

/* token_watch_new/free - a reloading view of path (loaded at the first check). */
struct token_watch *token_watch_new(const char *path);
void token_watch_free(struct token_watch **watch);

/*
 * token_watch_check - token_set_check against the file as it is now.  A
 * file that cannot be read or parsed fails closed: no token works until it
 * is fixed (*error_r says why, at the call that found it; else NULL).
 */
enum token_role token_watch_check(struct token_watch *watch, const char *token, size_t len,
				  char *name, const char **error_r);

#endif
