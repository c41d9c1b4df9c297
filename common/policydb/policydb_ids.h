/*
 * policydb_ids - the policy data by row id, as CHAPPS's REST API sees it
 *
 * CHAPPS's REST API names every object by its integer id (users.id,
 * quotas.id, domains.id, emails.id); these functions are that view of the
 * same tables policydb.h works on by name, for chapps-api.  They follow
 * policydb.h's conventions: enum policydb_status, a message in err, rows
 * through a policydb_row_fn with the columns as strings, strings borrowed
 * for the call; thread-safe on a shared struct policydb.
 *
 * Rows by kind (policydb_obj_*): users "id, name"; quotas "id, name,
 * quota"; domains "id, name, greylist, check_spf" (flags 0/1); emails
 * "id, name".  Lists come sorted by id.
 */
#ifndef CHAPPS_POLICYDB_IDS_H
#define CHAPPS_POLICYDB_IDS_H

#include <stdbool.h>
#include <stddef.h>

#include "policydb/policydb.h"

enum policydb_kind { POLICYDB_USER, POLICYDB_QUOTA, POLICYDB_DOMAIN, POLICYDB_EMAIL };

/*
 * policydb_obj_list - rows of kind whose name is LIKE pattern (SQL LIKE,
 * "%" for all), skipping skip rows, at most limit rows.
 */
int policydb_obj_list(struct policydb *db, enum policydb_kind kind, const char *pattern,
		      long skip, long limit, policydb_row_fn *fn, void *ctx, char *err,
		      size_t errsize);

/* policydb_obj_get - the row of id; POLICYDB_NOTFOUND when there is none. */
int policydb_obj_get(struct policydb *db, enum policydb_kind kind, long id, policydb_row_fn *fn,
		     void *ctx, char *err, size_t errsize);

/*
 * policydb_obj_add - insert a row: name, and for a quota its value (a), for
 * a domain its greylist (a) and check_spf (b) flags.  Domain names are
 * stored as given (the caller validates and lower-cases them).  *id_r gets
 * the new id.  POLICYDB_EXISTS on a unique clash.
 */
int policydb_obj_add(struct policydb *db, enum policydb_kind kind, const char *name, long a,
		     long b, long *id_r, char *err, size_t errsize);

/*
 * policydb_obj_update - set every column of row id (name, and a/b as for
 * add).  POLICYDB_NOTFOUND when there is no such row, EXISTS on a clash.
 */
int policydb_obj_update(struct policydb *db, enum policydb_kind kind, long id, const char *name,
			long a, long b, char *err, size_t errsize);

/* policydb_obj_del - delete row id (links cascade); NOTFOUND when absent. */
int policydb_obj_del(struct policydb *db, enum policydb_kind kind, long id, char *err,
		     size_t errsize);

/*
 * policydb_user_objs - the domains or emails (kind) linked to user id, rows
 * as for the kind, paginated; NOTFOUND for an unknown user.
 */
int policydb_user_objs(struct policydb *db, enum policydb_kind kind, long user_id, long skip,
		       long limit, policydb_row_fn *fn, void *ctx, char *err, size_t errsize);

/*
 * policydb_obj_users - the users ("id, name") linked to domain or email id,
 * paginated; NOTFOUND for an unknown domain/email.
 */
int policydb_obj_users(struct policydb *db, enum policydb_kind kind, long obj_id, long skip,
		       long limit, policydb_row_fn *fn, void *ctx, char *err, size_t errsize);

/* policydb_user_quota_row - the quota row of user id; NOTFOUND when none. */
int policydb_user_quota_row(struct policydb *db, long user_id, policydb_row_fn *fn, void *ctx,
			    char *err, size_t errsize);

/*
 * policydb_link_ids - link (link true) or unlink user id and domain or
 * email (kind) id.  A missing user or object and a link that exists (or
 * does not, to unlink) are not errors: *changed_r says whether a row was
 * added or removed.
 */
int policydb_link_ids(struct policydb *db, enum policydb_kind kind, long user_id, long obj_id,
		      bool link, bool *changed_r, char *err, size_t errsize);

/*
 * policydb_unlink_all - remove every domain or email (kind) link of user id
 * (by_user true) or every user link of domain/email id (by_user false).
 */
int policydb_unlink_all(struct policydb *db, enum policydb_kind kind, long id, bool by_user,
			char *err, size_t errsize);

/*
 * policydb_set_quota_ids - give user id the quota id (replaces any; a user
 * without a quota gets one).  NOTFOUND when either is missing.
 */
int policydb_set_quota_ids(struct policydb *db, long user_id, long quota_id, char *err,
			   size_t errsize);

#endif
