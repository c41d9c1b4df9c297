/*
 * NAME
 *	token - bearer tokens kept hashed in a file (chapps-api)
 * SUMMARY
 *	token_file_add/revoke for chapps-cli; token_watch_check for chapps-api
 * DESCRIPTION
 *	See token.h for the file format and the hashing.  Every entry is
 *	compared on every check (sodium_memcmp, then a branch-free OR of the
 *	results), so the time of a check depends only on the number of
 *	entries.  Writers (chapps-cli) rewrite the whole file into
 *	"path.tmp.PID" and rename it over path, so a reader sees the old or
 *	the new file, never half of one, and the rename changes the inode,
 *	which token_watch notices even within one mtime tick.
 * DIAGNOSTICS
 *	-1 with a static or thread-local message in *error_r; nothing logs.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/token.h"
#include "base/xalloc.h"

#define TOKEN_PREFIX "chapps_"
#define HASH_LEN crypto_generichash_BYTES	/* 32 */

struct token_entry {
	char name[TOKEN_NAME_MAX + 1];
	enum token_role role;
	unsigned char hash[HASH_LEN];
};

struct token_set {
	struct token_entry *v;
	size_t n;
};

struct token_watch {
	char *path;
	pthread_mutex_t lock;
	struct token_set *set;
	bool loaded;
	struct stat st;		/* of the file loaded (st_ino 0: missing) */
};

static __thread char why[512];

int token_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

const char *token_role_name(enum token_role role)
{
	return role == TOKEN_ROLE_ADMIN ? "admin" : role == TOKEN_ROLE_READ ? "read" : "none";
}

enum token_role token_role_from_name(const char *name)
{
	if (name != NULL && strcmp(name, "admin") == 0)
		return TOKEN_ROLE_ADMIN;
	if (name != NULL && strcmp(name, "read") == 0)
		return TOKEN_ROLE_READ;
	return TOKEN_ROLE_NONE;
}

/* name_ok - a token name: 1..TOKEN_NAME_MAX of [A-Za-z0-9._-] */
static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= TOKEN_NAME_MAX &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* hash_token - BLAKE2b-256 of the token text */
static void hash_token(const char *token, size_t len, unsigned char *hash)
{
	crypto_generichash(hash, HASH_LEN, (const unsigned char *)token, len, NULL, 0);
}

/* parse_line - one "name:role:hash" line into e; false when malformed */
static bool parse_line(char *line, struct token_entry *e)
{
	char *role, *hex;
	size_t bin_len;

	role = strchr(line, ':');
	if (role == NULL)
		return false;
	*role++ = '\0';
	hex = strchr(role, ':');
	if (hex == NULL)
		return false;
	*hex++ = '\0';
	if (!name_ok(line) || (e->role = token_role_from_name(role)) == TOKEN_ROLE_NONE)
		return false;
	snprintf(e->name, sizeof(e->name), "%.*s", TOKEN_NAME_MAX, line);
	if (strlen(hex) != HASH_LEN * 2 ||
	    sodium_hex2bin(e->hash, HASH_LEN, hex, strlen(hex), NULL, &bin_len, NULL) != 0 ||
	    bin_len != HASH_LEN)
		return false;
	return true;
}

int token_set_load(const char *path, struct token_set **set_r, const char **error_r)
{
	struct token_set *set = xcalloc(1, sizeof(*set));
	char line[512];
	unsigned lineno = 0;
	FILE *f;

	*set_r = NULL;
	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT) {
			*set_r = set;
			return 0;
		}
		snprintf(why, sizeof(why), "%s: %s", path, strerror(errno));
		*error_r = why;
		free(set);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct token_entry e;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (!parse_line(line, &e)) {
			snprintf(why, sizeof(why), "%s:%u: expected name:read|admin:hash", path,
				 lineno);
			*error_r = why;
			fclose(f);
			token_set_free(&set);
			return -1;
		}
		set->v = xreallocarray(set->v, set->n + 1, sizeof(*set->v));
		set->v[set->n++] = e;
	}
	fclose(f);
	*set_r = set;
	return 0;
}

void token_set_free(struct token_set **set)
{
	if (*set == NULL)
		return;
	if ((*set)->v != NULL)
		sodium_memzero((*set)->v, (*set)->n * sizeof(*(*set)->v));
	free((*set)->v);
	free(*set);
	*set = NULL;
}

size_t token_set_count(const struct token_set *set)
{
	return set != NULL ? set->n : 0;
}

void token_set_entry(const struct token_set *set, size_t i, const char **name_r,
		     enum token_role *role_r)
{
	*name_r = set->v[i].name;
	*role_r = set->v[i].role;
}

enum token_role token_set_check(const struct token_set *set, const char *token, size_t len,
				char *name)
{
	unsigned char hash[HASH_LEN];
	enum token_role role = TOKEN_ROLE_NONE;
	size_t i;

	name[0] = '\0';
	if (set == NULL)
		return TOKEN_ROLE_NONE;
	hash_token(token, len, hash);
	for (i = 0; i < set->n; i++) {
		/* every entry is compared: no early exit on a match */
		int diff = sodium_memcmp(hash, set->v[i].hash, HASH_LEN);

		if (diff == 0) {
			role = set->v[i].role;
			memcpy(name, set->v[i].name, sizeof(set->v[i].name));
		}
	}
	return role;
}

/*
 * keep_owner - give the new file fd the owner and group of the file it
 * replaces, or, for a first file, the group "chapps" when it exists (the
 * API runs as chapps and must read the file; mode 0640 keeps others out).
 * Only root can do either; anyone else keeps their own.
 */
static void keep_owner(int fd, const char *path)
{
	struct stat st;
	struct group *gr;

	if (geteuid() != 0)
		return;
	if (stat(path, &st) == 0) {
		if (fchown(fd, st.st_uid, st.st_gid) < 0) {
			/* the file stays root's: the API reports it unreadable */
		}
	} else if ((gr = getgrnam("chapps")) != NULL) {
		if (fchown(fd, 0, gr->gr_gid) < 0) {
			/* as above */
		}
	}
}

/* write_set - write set to path through path.tmp.PID and rename */
static int write_set(const char *path, const struct token_set *set, const char **error_r)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	char hex[HASH_LEN * 2 + 1];
	FILE *f;
	int fd, rc = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0)
		keep_owner(fd, path);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(why, sizeof(why), "cannot write %s: %s", tmp, strerror(errno));
		*error_r = why;
		if (fd >= 0)
			close(fd);
		free(tmp);
		return -1;
	}
	fputs("# chapps-api tokens: name:role:blake2b-256(token); managed by "
	      "`chapps-cli api token`\n", f);
	for (size_t i = 0; i < set->n; i++) {
		sodium_bin2hex(hex, sizeof(hex), set->v[i].hash, HASH_LEN);
		fprintf(f, "%s:%s:%s\n", set->v[i].name, token_role_name(set->v[i].role), hex);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		snprintf(why, sizeof(why), "cannot write %s: %s", path, strerror(errno));
		*error_r = why;
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

int token_file_add(const char *path, const char *name, enum token_role role, char *token,
		   const char **error_r)
{
	struct token_set *set;
	unsigned char raw[32];
	struct token_entry e;
	int rc;

	if (!name_ok(name)) {
		*error_r = "a token name is 1 to 64 of A-Z a-z 0-9 . _ -";
		return -1;
	}
	if (role == TOKEN_ROLE_NONE) {
		*error_r = "the role is read or admin";
		return -1;
	}
	if (token_set_load(path, &set, error_r) < 0)
		return -1;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name) == 0) {
			snprintf(why, sizeof(why), "a token named %s exists (revoke it first)", name);
			*error_r = why;
			token_set_free(&set);
			return -1;
		}
	randombytes_buf(raw, sizeof(raw));
	memcpy(token, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
	sodium_bin2hex(token + strlen(TOKEN_PREFIX), sizeof(raw) * 2 + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", name);
	e.role = role;
	hash_token(token, TOKEN_TEXT_LEN, e.hash);
	set->v = xreallocarray(set->v, set->n + 1, sizeof(*set->v));
	set->v[set->n++] = e;
	rc = write_set(path, set, error_r);
	token_set_free(&set);
	return rc;
}

int token_file_revoke(const char *path, const char *name, const char **error_r)
{
	struct token_set *set;
	size_t i, j;
	int rc;

	if (token_set_load(path, &set, error_r) < 0)
		return -1;
	for (i = j = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name) != 0)
			set->v[j++] = set->v[i];
	if (j == set->n) {
		snprintf(why, sizeof(why), "no token named %s", name);
		*error_r = why;
		token_set_free(&set);
		return -1;
	}
	set->n = j;
	rc = write_set(path, set, error_r);
	token_set_free(&set);
	return rc;
}

struct token_watch *token_watch_new(const char *path)
{
	struct token_watch *w = xcalloc(1, sizeof(*w));

	w->path = xstrdup(path);
	pthread_mutex_init(&w->lock, NULL);
	return w;
}

void token_watch_free(struct token_watch **watch)
{
	struct token_watch *w = *watch;

	if (w == NULL)
		return;
	token_set_free(&w->set);
	pthread_mutex_destroy(&w->lock);
	free(w->path);
	free(w);
	*watch = NULL;
}

/* same_file - has the file kept its identity and content stamp? */
static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

enum token_role token_watch_check(struct token_watch *w, const char *token, size_t len,
				  char *name, const char **error_r)
{
	struct stat st;
	enum token_role role;

	*error_r = NULL;
	memset(&st, 0, sizeof(st));
	if (stat(w->path, &st) != 0)
		memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&w->lock);
	if (!w->loaded || !same_file(&st, &w->st)) {
		struct token_set *set = NULL;

		token_set_free(&w->set);
		if (token_set_load(w->path, &set, error_r) == 0)
			w->set = set;
		w->st = st;
		w->loaded = true;
	}
	role = token_set_check(w->set, token, len, name);
	pthread_mutex_unlock(&w->lock);
	return role;
}
