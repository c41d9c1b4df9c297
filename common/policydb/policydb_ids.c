/*
 * NAME
 *	policydb_ids - the policy data by row id (CHAPPS's REST API view)
 * SUMMARY
 *	policydb_obj_list/get/add/update/del, links and quotas by id
 * DESCRIPTION
 *	The statements live here, not in policydb.c, numbered from
 *	POLICYDB_STMT_IDS_BASE in each connection's statement cache, and run
 *	through policydb_exec (the pool and retry rule of policydb.c).  Each
 *	is written once in the SQL both SQLite and MariaDB accept; ids and
 *	pagination are bound integers, names bound text.  Tables are chosen
 *	by indexing fixed statement arrays with enum policydb_kind, never by
 *	formatting a name into SQL.
 * DIAGNOSTICS
 *	enum policydb_status with a message in err, as policydb.h.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "policydb/policydb-private.h"
#include "policydb/policydb_ids.h"

#define B POLICYDB_STMT_IDS_BASE

#define FLAGS "CASE WHEN greylist <> 0 THEN 1 ELSE 0 END, CASE WHEN check_spf <> 0 THEN 1 ELSE 0 END"
#define DFLAGS "CASE WHEN d.greylist <> 0 THEN 1 ELSE 0 END, CASE WHEN d.check_spf <> 0 THEN 1 ELSE 0 END"

static const struct policydb_stmt st_list[4] = {
	{ B + 0, "SELECT id, name FROM users WHERE name LIKE ? ORDER BY id LIMIT ? OFFSET ?" },
	{ B + 1, "SELECT id, name, quota FROM quotas WHERE name LIKE ? ORDER BY id LIMIT ? OFFSET ?" },
	{ B + 2, "SELECT id, name, " FLAGS " FROM domains WHERE name LIKE ? ORDER BY id"
		 " LIMIT ? OFFSET ?" },
	{ B + 3, "SELECT id, name FROM emails WHERE name LIKE ? ORDER BY id LIMIT ? OFFSET ?" },
};

static const struct policydb_stmt st_get[4] = {
	{ B + 4, "SELECT id, name FROM users WHERE id = ?" },
	{ B + 5, "SELECT id, name, quota FROM quotas WHERE id = ?" },
	{ B + 6, "SELECT id, name, " FLAGS " FROM domains WHERE id = ?" },
	{ B + 7, "SELECT id, name FROM emails WHERE id = ?" },
};

static const struct policydb_stmt st_add[4] = {
	{ B + 8, "INSERT INTO users (name) VALUES (?)" },
	{ B + 9, "INSERT INTO quotas (name, quota) VALUES (?, ?)" },
	{ B + 10, "INSERT INTO domains (name, greylist, check_spf) VALUES (?, ?, ?)" },
	{ B + 11, "INSERT INTO emails (name) VALUES (?)" },
};

static const struct policydb_stmt st_id_of[4] = {
	{ B + 12, "SELECT id FROM users WHERE name = ?" },
	{ B + 13, "SELECT id FROM quotas WHERE name = ?" },
	{ B + 14, "SELECT id FROM domains WHERE name = ?" },
	{ B + 15, "SELECT id FROM emails WHERE name = ?" },
};

static const struct policydb_stmt st_update[4] = {
	{ B + 16, "UPDATE users SET name = ? WHERE id = ?" },
	{ B + 17, "UPDATE quotas SET name = ?, quota = ? WHERE id = ?" },
	{ B + 18, "UPDATE domains SET name = ?, greylist = ?, check_spf = ? WHERE id = ?" },
	{ B + 19, "UPDATE emails SET name = ? WHERE id = ?" },
};

static const struct policydb_stmt st_del[4] = {
	{ B + 20, "DELETE FROM users WHERE id = ?" },
	{ B + 21, "DELETE FROM quotas WHERE id = ?" },
	{ B + 22, "DELETE FROM domains WHERE id = ?" },
	{ B + 23, "DELETE FROM emails WHERE id = ?" },
};

/* Link statements, [0] for domains and [1] for emails. */
static const struct policydb_stmt st_user_objs[2] = {
	{ B + 24, "SELECT d.id, d.name, " DFLAGS " FROM domain_user du"
		  " JOIN domains d ON d.id = du.domain_id WHERE du.user_id = ?"
		  " ORDER BY d.id LIMIT ? OFFSET ?" },
	{ B + 25, "SELECT e.id, e.name FROM email_user eu JOIN emails e ON e.id = eu.email_id"
		  " WHERE eu.user_id = ? ORDER BY e.id LIMIT ? OFFSET ?" },
};

static const struct policydb_stmt st_obj_users[2] = {
	{ B + 26, "SELECT u.id, u.name FROM domain_user du JOIN users u ON u.id = du.user_id"
		  " WHERE du.domain_id = ? ORDER BY u.id LIMIT ? OFFSET ?" },
	{ B + 27, "SELECT u.id, u.name FROM email_user eu JOIN users u ON u.id = eu.user_id"
		  " WHERE eu.email_id = ? ORDER BY u.id LIMIT ? OFFSET ?" },
};

static const struct policydb_stmt st_link[2] = {
	{ B + 28, "INSERT INTO domain_user (user_id, domain_id) SELECT u.id, d.id"
		  " FROM users u, domains d WHERE u.id = ? AND d.id = ?" },
	{ B + 29, "INSERT INTO email_user (user_id, email_id) SELECT u.id, e.id"
		  " FROM users u, emails e WHERE u.id = ? AND e.id = ?" },
};

static const struct policydb_stmt st_unlink[2] = {
	{ B + 30, "DELETE FROM domain_user WHERE user_id = ? AND domain_id = ?" },
	{ B + 31, "DELETE FROM email_user WHERE user_id = ? AND email_id = ?" },
};

static const struct policydb_stmt st_unlink_user[2] = {
	{ B + 32, "DELETE FROM domain_user WHERE user_id = ?" },
	{ B + 33, "DELETE FROM email_user WHERE user_id = ?" },
};

static const struct policydb_stmt st_unlink_obj[2] = {
	{ B + 34, "DELETE FROM domain_user WHERE domain_id = ?" },
	{ B + 35, "DELETE FROM email_user WHERE email_id = ?" },
};

static const struct policydb_stmt st_user_quota = {
	B + 36, "SELECT q.id, q.name, q.quota FROM quota_user qu"
		" JOIN quotas q ON q.id = qu.quota_id WHERE qu.user_id = ?"
};

static const struct policydb_stmt st_set_quota = {
	B + 37, "REPLACE INTO quota_user (user_id, quota_id) SELECT u.id, q.id"
		" FROM users u, quotas q WHERE u.id = ? AND q.id = ?"
};

_Static_assert(B + 37 < POLICYDB_STMT_MAX, "raise POLICYDB_STMT_MAX");

static const char *const kind_names[4] = { "user", "quota", "domain", "e-mail" };

/* text - a text parameter */
static struct policydb_param text(const char *s)
{
	struct policydb_param p = { POLICYDB_PARAM_TEXT, s, 0 };

	return p;
}

/* num - an integer parameter */
static struct policydb_param num(long long n)
{
	struct policydb_param p = { POLICYDB_PARAM_INT, NULL, n };

	return p;
}

/* link_index - 0 for domains, 1 for e-mails, -1 for anything else */
static int link_index(enum policydb_kind kind)
{
	return kind == POLICYDB_DOMAIN ? 0 : kind == POLICYDB_EMAIL ? 1 : -1;
}

/* page_limit - a LIMIT value: negative means no limit */
static long long page_limit(long limit)
{
	return limit < 0 ? (long long)INT_MAX : limit;
}

/* Counting wrapper around a caller's row callback. */
struct counted {
	policydb_row_fn *fn;
	void *ctx;
	long rows;
	char first[32];
};

/* counted_fn - count a row (keep the first column of the first) and pass it on */
static int counted_fn(void *ctx, int ncols, const char *const *cols)
{
	struct counted *c = ctx;

	if (c->rows++ == 0 && ncols > 0 && cols[0] != NULL)
		snprintf(c->first, sizeof(c->first), "%s", cols[0]);
	return c->fn != NULL ? c->fn(c->ctx, ncols, cols) : 0;
}

/* exists_id - is there a row of kind with id? -1 on error */
static int exists_id(struct policydb *db, enum policydb_kind kind, long id, char *err,
		     size_t errsize)
{
	struct policydb_param p[1] = { num(id) };
	struct counted c = { NULL, NULL, 0, "" };

	if (policydb_exec(db, &st_get[kind], p, 1, counted_fn, &c, NULL, err, errsize) !=
	    POLICYDB_OK)
		return -1;
	return c.rows > 0;
}

int policydb_obj_list(struct policydb *db, enum policydb_kind kind, const char *pattern,
		      long skip, long limit, policydb_row_fn *fn, void *ctx, char *err,
		      size_t errsize)
{
	struct policydb_param p[3] = { text(pattern ? pattern : "%"), num(page_limit(limit)),
				       num(skip < 0 ? 0 : skip) };

	return policydb_exec(db, &st_list[kind], p, 3, fn, ctx, NULL, err, errsize);
}

int policydb_obj_get(struct policydb *db, enum policydb_kind kind, long id, policydb_row_fn *fn,
		     void *ctx, char *err, size_t errsize)
{
	struct policydb_param p[1] = { num(id) };
	struct counted c = { fn, ctx, 0, "" };
	int rc;

	rc = policydb_exec(db, &st_get[kind], p, 1, counted_fn, &c, NULL, err, errsize);
	if (rc == POLICYDB_OK && c.rows == 0) {
		error_format(err, errsize, "no %s with id %ld", kind_names[kind], id);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

int policydb_obj_add(struct policydb *db, enum policydb_kind kind, const char *name, long a,
		     long b, long *id_r, char *err, size_t errsize)
{
	struct policydb_param p[3] = { text(name), num(a), num(b) };
	static const size_t nparams[4] = { 1, 2, 3, 1 };
	struct counted c = { NULL, NULL, 0, "" };
	int rc;

	*id_r = 0;
	rc = policydb_exec(db, &st_add[kind], p, nparams[kind], NULL, NULL, NULL, err, errsize);
	if (rc == POLICYDB_EXISTS)
		error_format(err, errsize, "%s %s already exists", kind_names[kind], name);
	if (rc != POLICYDB_OK)
		return rc;
	rc = policydb_exec(db, &st_id_of[kind], p, 1, counted_fn, &c, NULL, err, errsize);
	if (rc == POLICYDB_OK && c.rows == 0) {
		error_format(err, errsize, "%s %s vanished after its insert", kind_names[kind],
				name);
		return POLICYDB_ERROR;
	}
	if (rc == POLICYDB_OK)
		*id_r = strtol(c.first, NULL, 10);
	return rc;
}

int policydb_obj_update(struct policydb *db, enum policydb_kind kind, long id, const char *name,
			long a, long b, char *err, size_t errsize)
{
	struct policydb_param p[4];
	size_t n = 0;
	long long changes;
	int rc;

	p[n++] = text(name);
	if (kind == POLICYDB_QUOTA || kind == POLICYDB_DOMAIN)
		p[n++] = num(a);
	if (kind == POLICYDB_DOMAIN)
		p[n++] = num(b);
	p[n++] = num(id);
	rc = policydb_exec(db, &st_update[kind], p, n, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_EXISTS)
		error_format(err, errsize, "%s %s already exists", kind_names[kind], name);
	if (rc != POLICYDB_OK)
		return rc;
	if (changes == 0) {
		/* MariaDB counts changed rows unless told otherwise: ask */
		switch (exists_id(db, kind, id, err, errsize)) {
		case 0:
			error_format(err, errsize, "no %s with id %ld", kind_names[kind], id);
			return POLICYDB_NOTFOUND;
		case -1:
			return POLICYDB_ERROR;
		}
	}
	return POLICYDB_OK;
}

int policydb_obj_del(struct policydb *db, enum policydb_kind kind, long id, char *err,
		     size_t errsize)
{
	struct policydb_param p[1] = { num(id) };
	long long changes;
	int rc;

	rc = policydb_exec(db, &st_del[kind], p, 1, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_OK && changes == 0) {
		error_format(err, errsize, "no %s with id %ld", kind_names[kind], id);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

/* list_by_id - a paginated listing whose owner (kind owner, id) must exist */
static int list_by_id(struct policydb *db, const struct policydb_stmt *stmt,
		      enum policydb_kind owner, long id, long skip, long limit,
		      policydb_row_fn *fn, void *ctx, char *err, size_t errsize)
{
	struct policydb_param p[3] = { num(id), num(page_limit(limit)), num(skip < 0 ? 0 : skip) };
	struct counted c = { fn, ctx, 0, "" };
	int rc;

	rc = policydb_exec(db, stmt, p, 3, counted_fn, &c, NULL, err, errsize);
	if (rc != POLICYDB_OK || c.rows > 0)
		return rc;
	switch (exists_id(db, owner, id, err, errsize)) {
	case 0:
		error_format(err, errsize, "no %s with id %ld", kind_names[owner], id);
		return POLICYDB_NOTFOUND;
	case -1:
		return POLICYDB_ERROR;
	}
	return POLICYDB_OK;
}

int policydb_user_objs(struct policydb *db, enum policydb_kind kind, long user_id, long skip,
		       long limit, policydb_row_fn *fn, void *ctx, char *err, size_t errsize)
{
	int i = link_index(kind);

	if (i < 0) {
		error_format(err, errsize, "users link only domains and e-mails");
		return POLICYDB_ERROR;
	}
	return list_by_id(db, &st_user_objs[i], POLICYDB_USER, user_id, skip, limit, fn, ctx,
			  err, errsize);
}

int policydb_obj_users(struct policydb *db, enum policydb_kind kind, long obj_id, long skip,
		       long limit, policydb_row_fn *fn, void *ctx, char *err, size_t errsize)
{
	int i = link_index(kind);

	if (i < 0) {
		error_format(err, errsize, "users link only domains and e-mails");
		return POLICYDB_ERROR;
	}
	return list_by_id(db, &st_obj_users[i], kind, obj_id, skip, limit, fn, ctx, err,
			  errsize);
}

int policydb_user_quota_row(struct policydb *db, long user_id, policydb_row_fn *fn, void *ctx,
			    char *err, size_t errsize)
{
	struct policydb_param p[1] = { num(user_id) };
	struct counted c = { fn, ctx, 0, "" };
	int rc;

	rc = policydb_exec(db, &st_user_quota, p, 1, counted_fn, &c, NULL, err, errsize);
	if (rc == POLICYDB_OK && c.rows == 0) {
		error_format(err, errsize, "user id %ld has no quota", user_id);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

int policydb_link_ids(struct policydb *db, enum policydb_kind kind, long user_id, long obj_id,
		      bool link, bool *changed_r, char *err, size_t errsize)
{
	struct policydb_param p[2] = { num(user_id), num(obj_id) };
	int i = link_index(kind);
	long long changes = 0;
	int rc;

	*changed_r = false;
	if (i < 0) {
		error_format(err, errsize, "users link only domains and e-mails");
		return POLICYDB_ERROR;
	}
	rc = policydb_exec(db, link ? &st_link[i] : &st_unlink[i], p, 2, NULL, NULL, &changes,
			   err, errsize);
	if (rc == POLICYDB_EXISTS)
		return POLICYDB_OK;	/* already linked */
	*changed_r = rc == POLICYDB_OK && changes > 0;
	return rc;
}

int policydb_unlink_all(struct policydb *db, enum policydb_kind kind, long id, bool by_user,
			char *err, size_t errsize)
{
	struct policydb_param p[1] = { num(id) };
	int i = link_index(kind);

	if (i < 0) {
		error_format(err, errsize, "users link only domains and e-mails");
		return POLICYDB_ERROR;
	}
	return policydb_exec(db, by_user ? &st_unlink_user[i] : &st_unlink_obj[i], p, 1, NULL,
			     NULL, NULL, err, errsize);
}

int policydb_set_quota_ids(struct policydb *db, long user_id, long quota_id, char *err,
			   size_t errsize)
{
	struct policydb_param p[2] = { num(user_id), num(quota_id) };
	long long changes;
	int rc;

	rc = policydb_exec(db, &st_set_quota, p, 2, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_OK && changes == 0) {
		if (exists_id(db, POLICYDB_USER, user_id, err, errsize) == 0)
			error_format(err, errsize, "no user with id %ld", user_id);
		else
			error_format(err, errsize, "no quota with id %ld", quota_id);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}
