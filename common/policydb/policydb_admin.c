/*
 * NAME
 *	policydb_admin - administration of the policy data (chapps-cli)
 * SUMMARY
 *	policydb_quota_*, policydb_user_*, policydb_domain_* (but
 *	policydb_domain_flags), policydb_email_*, policydb_link_*
 * DESCRIPTION
 *	Adding, deleting, listing and linking users, quotas, domains and
 *	e-mail addresses, on the front's policydb_run (policydb.c).  Names
 *	are checked against the schema's column lengths before any SQL runs;
 *	a unique clash is POLICYDB_EXISTS and a missing object
 *	POLICYDB_NOTFOUND, each with a message naming the object (found with
 *	a second, read-only statement when the first one changed nothing).
 * DIAGNOSTICS
 *	enum policydb_status with a message in the caller's err buffer; a
 *	refused argument is POLICYDB_ERROR of class ERROR_INPUT.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "policydb/policydb-front.h"

/* utf8_chars - characters in a UTF-8 string (bytes that do not continue one) */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* check_name - an admin argument: not empty and within the column's length */
static int check_name(const char *what, const char *name, size_t max, char *err,
		      size_t errsize)
{
	if (name == NULL || name[0] == '\0') {
		error_format_class(ERROR_INPUT, err, errsize, "%s name is empty", what);
		return POLICYDB_ERROR;
	}
	if (utf8_chars(name) > max) {
		error_format_class(ERROR_INPUT, err, errsize,
				   "%s name is longer than %zu characters", what, max);
		return POLICYDB_ERROR;
	}
	return POLICYDB_OK;
}

/* remove_named - run a one-parameter DELETE; NOTFOUND when nothing was deleted */
static int remove_named(struct policydb *db, enum stmt_id id, const char *what,
			const char *name, char *err, size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	long long changes;
	int rc;

	rc = policydb_run(db, id, p, 1, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_OK && changes == 0) {
		error_format(err, errsize, "no %s named %s", what, name);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

/* add_named - run a one-parameter INSERT; EXISTS on a clash */
static int add_named(struct policydb *db, enum stmt_id id, const char *what, const char *name,
		     char *err, size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	int rc;

	rc = policydb_run(db, id, p, 1, NULL, NULL, NULL, err, errsize);
	if (rc == POLICYDB_EXISTS)
		error_format(err, errsize, "%s %s already exists", what, name);
	return rc;
}

int policydb_quota_add(struct policydb *db, const char *name, long quota, char *err,
		       size_t errsize)
{
	struct policydb_param p[2] = { text(name), num(quota) };
	struct policydb_param pv[1] = { num(quota) };
	struct first_row row;
	int rc;

	if (check_name("quota", name, NAME_MAX_QUOTA, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	if (quota < 0 || quota > INT_MAX) {
		error_format_class(ERROR_INPUT, err, errsize, "quota %ld is out of range (0..%d)",
				   quota, INT_MAX);
		return POLICYDB_ERROR;
	}
	rc = policydb_run(db, ST_QUOTA_ADD, p, 2, NULL, NULL, NULL, err, errsize);
	if (rc != POLICYDB_EXISTS)
		return rc;
	switch (policydb_exists(db, ST_QUOTA_BY_NAME, name, err, errsize)) {
	case 1:
		error_format(err, errsize, "quota %s already exists", name);
		return POLICYDB_EXISTS;
	case -1:
		return POLICYDB_ERROR;
	}
	if (policydb_lookup(db, ST_QUOTA_BY_VALUE, pv, 1, &row, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	error_format(err, errsize,
		     "quota %s %s the value %ld (quota values are unique in the CHAPPS schema)",
		     row.found ? row.col[0] : "?", row.found ? "already has" : "clashes on", quota);
	return POLICYDB_EXISTS;
}

int policydb_quota_del(struct policydb *db, const char *name, char *err, size_t errsize)
{
	return remove_named(db, ST_QUOTA_DEL, "quota", name, err, errsize);
}

int policydb_quota_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			size_t errsize)
{
	return policydb_run(db, ST_QUOTA_LIST, NULL, 0, fn, ctx, NULL, err, errsize);
}

int policydb_user_add(struct policydb *db, const char *name, char *err, size_t errsize)
{
	if (check_name("user", name, NAME_MAX_USER, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	return add_named(db, ST_USER_ADD, "user", name, err, errsize);
}

int policydb_user_del(struct policydb *db, const char *name, char *err, size_t errsize)
{
	return remove_named(db, ST_USER_DEL, "user", name, err, errsize);
}

int policydb_user_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
		       size_t errsize)
{
	return policydb_run(db, ST_USER_LIST, NULL, 0, fn, ctx, NULL, err, errsize);
}

/* Counting wrapper around a caller's row callback. */
struct counted {
	policydb_row_fn *fn;
	void *ctx;
	long rows;
};

/* counted_fn - count a row and pass it on */
static int counted_fn(void *ctx, int ncols, const char *const *cols)
{
	struct counted *c = ctx;

	c->rows++;
	return c->fn != NULL ? c->fn(c->ctx, ncols, cols) : 0;
}

int policydb_user_get(struct policydb *db, const char *name, policydb_row_fn *fn, void *ctx,
		      char *err, size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	struct counted c = { fn, ctx, 0 };
	int rc;

	rc = policydb_run(db, ST_USER_GET, p, 1, counted_fn, &c, NULL, err, errsize);
	if (rc == POLICYDB_OK && c.rows == 0) {
		error_format(err, errsize, "no user named %s", name);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

int policydb_user_set_quota(struct policydb *db, const char *user, const char *quota_name,
			    char *err, size_t errsize)
{
	struct policydb_param p[2] = { text(user), text(quota_name) };
	long long changes;
	int rc;

	rc = policydb_run(db, ST_USER_SET_QUOTA, p, 2, NULL, NULL, &changes, err, errsize);
	if (rc != POLICYDB_OK || changes > 0)
		return rc;
	switch (policydb_exists(db, ST_USER_EXISTS, user, err, errsize)) {
	case 0:
		error_format(err, errsize, "no user named %s", user);
		return POLICYDB_NOTFOUND;
	case -1:
		return POLICYDB_ERROR;
	}
	error_format(err, errsize, "no quota named %s", quota_name);
	return POLICYDB_NOTFOUND;
}

int policydb_domain_add(struct policydb *db, const char *name, char *err, size_t errsize)
{
	char lname[DOMAIN_BUF];

	if (check_name("domain", name, NAME_MAX_DOMAIN, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	if (!policydb_lower_domain(name, lname, sizeof(lname))) {
		error_format_class(ERROR_INPUT, err, errsize, "domain name is too long");
		return POLICYDB_ERROR;
	}
	return add_named(db, ST_DOMAIN_ADD, "domain", lname, err, errsize);
}

int policydb_domain_del(struct policydb *db, const char *name, char *err, size_t errsize)
{
	char lname[DOMAIN_BUF];

	if (!policydb_lower_domain(name, lname, sizeof(lname))) {
		error_format(err, errsize, "no domain named %s", name);
		return POLICYDB_NOTFOUND;
	}
	return remove_named(db, ST_DOMAIN_DEL, "domain", lname, err, errsize);
}

int policydb_domain_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			 size_t errsize)
{
	return policydb_run(db, ST_DOMAIN_LIST, NULL, 0, fn, ctx, NULL, err, errsize);
}

int policydb_domain_set_flag(struct policydb *db, const char *name, const char *flag,
			     bool value, char *err, size_t errsize)
{
	char lname[DOMAIN_BUF];
	struct policydb_param p[2] = { num(value ? 1 : 0), text(lname) };
	enum stmt_id id;
	long long changes;
	int rc;

	if (flag != NULL && strcmp(flag, "greylist") == 0)
		id = ST_DOMAIN_SET_GREYLIST;
	else if (flag != NULL && strcmp(flag, "check_spf") == 0)
		id = ST_DOMAIN_SET_CHECK_SPF;
	else {
		error_format_class(ERROR_INPUT, err, errsize,
				   "unknown domain flag %s (greylist or check_spf)",
				   flag ? flag : "(null)");
		return POLICYDB_ERROR;
	}
	if (!policydb_lower_domain(name, lname, sizeof(lname))) {
		error_format(err, errsize, "no domain named %s", name);
		return POLICYDB_NOTFOUND;
	}
	rc = policydb_run(db, id, p, 2, NULL, NULL, &changes, err, errsize);
	if (rc == POLICYDB_OK && changes == 0) {
		error_format(err, errsize, "no domain named %s", lname);
		return POLICYDB_NOTFOUND;
	}
	return rc;
}

int policydb_email_add(struct policydb *db, const char *name, char *err, size_t errsize)
{
	if (check_name("e-mail", name, NAME_MAX_EMAIL, err, errsize) != POLICYDB_OK)
		return POLICYDB_ERROR;
	return add_named(db, ST_EMAIL_ADD, "e-mail", name, err, errsize);
}

int policydb_email_del(struct policydb *db, const char *name, char *err, size_t errsize)
{
	return remove_named(db, ST_EMAIL_DEL, "e-mail", name, err, errsize);
}

int policydb_email_list(struct policydb *db, policydb_row_fn *fn, void *ctx, char *err,
			size_t errsize)
{
	return policydb_run(db, ST_EMAIL_LIST, NULL, 0, fn, ctx, NULL, err, errsize);
}

/*
 * link_object - link or unlink user and a domain/e-mail.  Linking twice and
 * unlinking what is not linked are not errors; a missing user or object is
 * POLICYDB_NOTFOUND.
 */
static int link_object(struct policydb *db, enum stmt_id link_id, enum stmt_id unlink_id,
		       enum stmt_id exists_id, const char *what, const char *user,
		       const char *name, bool link, char *err, size_t errsize)
{
	struct policydb_param p[2] = { text(user), text(name) };
	long long changes;
	int rc;

	rc = policydb_run(db, link ? link_id : unlink_id, p, 2, NULL, NULL, &changes, err, errsize);
	if (link && rc == POLICYDB_EXISTS)
		return POLICYDB_OK;	/* already linked */
	if (rc != POLICYDB_OK || changes > 0)
		return rc;
	switch (policydb_exists(db, ST_USER_EXISTS, user, err, errsize)) {
	case 0:
		error_format(err, errsize, "no user named %s", user);
		return POLICYDB_NOTFOUND;
	case -1:
		return POLICYDB_ERROR;
	}
	switch (policydb_exists(db, exists_id, name, err, errsize)) {
	case 0:
		error_format(err, errsize, "no %s named %s", what, name);
		return POLICYDB_NOTFOUND;
	case -1:
		return POLICYDB_ERROR;
	}
	return POLICYDB_OK;	/* unlink of a pair that was not linked */
}

int policydb_link_domain(struct policydb *db, const char *user, const char *domain, bool link,
			 char *err, size_t errsize)
{
	char ldomain[DOMAIN_BUF];

	if (!policydb_lower_domain(domain, ldomain, sizeof(ldomain))) {
		error_format(err, errsize, "no domain named %s", domain);
		return POLICYDB_NOTFOUND;
	}
	return link_object(db, ST_LINK_DOMAIN, ST_UNLINK_DOMAIN, ST_DOMAIN_EXISTS, "domain",
			   user, ldomain, link, err, errsize);
}

int policydb_link_email(struct policydb *db, const char *user, const char *email, bool link,
			char *err, size_t errsize)
{
	return link_object(db, ST_LINK_EMAIL, ST_UNLINK_EMAIL, ST_EMAIL_EXISTS, "e-mail", user,
			   email, link, err, errsize);
}

/* list_of - rows of a one-parameter listing; NOTFOUND when its owner is missing */
static int list_of(struct policydb *db, enum stmt_id id, enum stmt_id exists_id,
		   const char *what, const char *name, policydb_row_fn *fn, void *ctx, char *err,
		   size_t errsize)
{
	struct policydb_param p[1] = { text(name) };
	struct counted c = { fn, ctx, 0 };
	int rc;

	rc = policydb_run(db, id, p, 1, counted_fn, &c, NULL, err, errsize);
	if (rc != POLICYDB_OK || c.rows > 0)
		return rc;
	switch (policydb_exists(db, exists_id, name, err, errsize)) {
	case 0:
		error_format(err, errsize, "no %s named %s", what, name);
		return POLICYDB_NOTFOUND;
	case -1:
		return POLICYDB_ERROR;
	}
	return POLICYDB_OK;
}

int policydb_user_domains(struct policydb *db, const char *user, policydb_row_fn *fn,
			  void *ctx, char *err, size_t errsize)
{
	return list_of(db, ST_USER_DOMAINS, ST_USER_EXISTS, "user", user, fn, ctx, err,
		       errsize);
}

int policydb_user_emails(struct policydb *db, const char *user, policydb_row_fn *fn, void *ctx,
			 char *err, size_t errsize)
{
	return list_of(db, ST_USER_EMAILS, ST_USER_EXISTS, "user", user, fn, ctx, err, errsize);
}

int policydb_domain_users(struct policydb *db, const char *domain, policydb_row_fn *fn,
			  void *ctx, char *err, size_t errsize)
{
	char ldomain[DOMAIN_BUF];

	if (!policydb_lower_domain(domain, ldomain, sizeof(ldomain))) {
		error_format(err, errsize, "no domain named %s", domain);
		return POLICYDB_NOTFOUND;
	}
	return list_of(db, ST_DOMAIN_USERS, ST_DOMAIN_EXISTS, "domain", ldomain, fn, ctx, err,
		       errsize);
}
