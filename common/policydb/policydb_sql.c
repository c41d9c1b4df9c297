/*
 * NAME
 *	policydb_sql - every SQL statement of the policy database front
 * SUMMARY
 *	policydb_stmts[ST_*], policydb_upgrade_flags
 * DESCRIPTION
 *	Every statement is written once, here, with `?` placeholders, in the
 *	SQL both SQLite and MariaDB/MySQL accept; nothing a caller passes is
 *	ever formatted into SQL: names are bound parameters, and the two
 *	domain flags have one fixed statement each.  The schema itself (the
 *	CREATE statements, which differ) is each backend's ddl; the one
 *	migration, the domain flag columns of 0b5ef72836bd, is here.
 * DIAGNOSTICS
 *	None: data only.
 */
#include "autoconf.h"

#include "policydb/policydb-front.h"

#define S(id, text) [id] = { id, text }
const struct policydb_stmt policydb_stmts[ST_COUNT] = {
	/* look-ups */
	S(ST_USER_QUOTA, "SELECT q.quota FROM users u"
			 " JOIN quota_user qu ON qu.user_id = u.id"
			 " JOIN quotas q ON q.id = qu.quota_id WHERE u.name = ?"),
	S(ST_USER_DOMAIN, "SELECT 1 FROM users u"
			  " JOIN domain_user du ON du.user_id = u.id"
			  " JOIN domains d ON d.id = du.domain_id"
			  " WHERE u.name = ? AND LOWER(d.name) = ? LIMIT 1"),
	S(ST_USER_EMAIL, "SELECT 1 FROM users u"
			 " JOIN email_user eu ON eu.user_id = u.id"
			 " JOIN emails e ON e.id = eu.email_id"
			 " WHERE u.name = ? AND e.name = ? LIMIT 1"),
	S(ST_DOMAIN_FLAGS_EXACT, "SELECT greylist, check_spf FROM domains WHERE name = ?"),
	S(ST_DOMAIN_FLAGS_LOWER, "SELECT greylist, check_spf FROM domains"
				 " WHERE LOWER(name) = ? ORDER BY id LIMIT 1"),
	/* quotas */
	S(ST_QUOTA_ADD, "INSERT INTO quotas (name, quota) VALUES (?, ?)"),
	S(ST_QUOTA_BY_NAME, "SELECT name FROM quotas WHERE name = ?"),
	S(ST_QUOTA_BY_VALUE, "SELECT name FROM quotas WHERE quota = ?"),
	S(ST_QUOTA_DEL, "DELETE FROM quotas WHERE name = ?"),
	S(ST_QUOTA_LIST, "SELECT name, quota FROM quotas ORDER BY name"),
	/* users */
	S(ST_USER_ADD, "INSERT INTO users (name) VALUES (?)"),
	S(ST_USER_DEL, "DELETE FROM users WHERE name = ?"),
	S(ST_USER_LIST, "SELECT u.name, q.name, q.quota FROM users u"
			" LEFT JOIN quota_user qu ON qu.user_id = u.id"
			" LEFT JOIN quotas q ON q.id = qu.quota_id ORDER BY u.name"),
	S(ST_USER_GET, "SELECT u.name, q.name, q.quota FROM users u"
		       " LEFT JOIN quota_user qu ON qu.user_id = u.id"
		       " LEFT JOIN quotas q ON q.id = qu.quota_id WHERE u.name = ?"),
	S(ST_USER_EXISTS, "SELECT 1 FROM users WHERE name = ?"),
	S(ST_USER_SET_QUOTA, "REPLACE INTO quota_user (user_id, quota_id)"
			     " SELECT u.id, q.id FROM users u, quotas q"
			     " WHERE u.name = ? AND q.name = ?"),
	/* domains */
	S(ST_DOMAIN_ADD, "INSERT INTO domains (name, greylist, check_spf) VALUES (?, 0, 0)"),
	S(ST_DOMAIN_DEL, "DELETE FROM domains WHERE LOWER(name) = ?"),
	S(ST_DOMAIN_LIST, "SELECT name, CASE WHEN greylist <> 0 THEN 1 ELSE 0 END,"
			  " CASE WHEN check_spf <> 0 THEN 1 ELSE 0 END"
			  " FROM domains ORDER BY name"),
	S(ST_DOMAIN_EXISTS, "SELECT 1 FROM domains WHERE LOWER(name) = ?"),
	S(ST_DOMAIN_SET_GREYLIST, "UPDATE domains SET greylist = ? WHERE LOWER(name) = ?"),
	S(ST_DOMAIN_SET_CHECK_SPF, "UPDATE domains SET check_spf = ? WHERE LOWER(name) = ?"),
	/* e-mail addresses */
	S(ST_EMAIL_ADD, "INSERT INTO emails (name) VALUES (?)"),
	S(ST_EMAIL_DEL, "DELETE FROM emails WHERE name = ?"),
	S(ST_EMAIL_LIST, "SELECT name FROM emails ORDER BY name"),
	S(ST_EMAIL_EXISTS, "SELECT 1 FROM emails WHERE name = ?"),
	/* links */
	S(ST_LINK_DOMAIN, "INSERT INTO domain_user (user_id, domain_id)"
			  " SELECT u.id, d.id FROM users u, domains d"
			  " WHERE u.name = ? AND LOWER(d.name) = ?"),
	S(ST_UNLINK_DOMAIN, "DELETE FROM domain_user"
			    " WHERE user_id IN (SELECT id FROM users WHERE name = ?)"
			    " AND domain_id IN (SELECT id FROM domains WHERE LOWER(name) = ?)"),
	S(ST_LINK_EMAIL, "INSERT INTO email_user (user_id, email_id)"
			 " SELECT u.id, e.id FROM users u, emails e"
			 " WHERE u.name = ? AND e.name = ?"),
	S(ST_UNLINK_EMAIL, "DELETE FROM email_user"
			   " WHERE user_id IN (SELECT id FROM users WHERE name = ?)"
			   " AND email_id IN (SELECT id FROM emails WHERE name = ?)"),
	S(ST_USER_DOMAINS, "SELECT d.name FROM users u"
			   " JOIN domain_user du ON du.user_id = u.id"
			   " JOIN domains d ON d.id = du.domain_id"
			   " WHERE u.name = ? ORDER BY d.name"),
	S(ST_USER_EMAILS, "SELECT e.name FROM users u"
			  " JOIN email_user eu ON eu.user_id = u.id"
			  " JOIN emails e ON e.id = eu.email_id"
			  " WHERE u.name = ? ORDER BY e.name"),
	S(ST_DOMAIN_USERS, "SELECT u.name FROM domains d"
			   " JOIN domain_user du ON du.domain_id = d.id"
			   " JOIN users u ON u.id = du.user_id"
			   " WHERE LOWER(d.name) = ? ORDER BY u.name"),
	/* schema */
	S(ST_CHECK, "SELECT u.name, q.name, d.name, e.name FROM users u, quotas q, domains d,"
		    " emails e, quota_user qu, domain_user du, email_user eu"
		    " WHERE 1 = 0 AND q.quota = d.greylist AND d.check_spf = qu.quota_id"
		    " AND du.domain_id = eu.email_id AND u.id = e.id"),
	S(ST_ALEMBIC_GET, "SELECT version_num FROM alembic_version"),
	S(ST_ALEMBIC_STAMP, "INSERT INTO alembic_version (version_num) VALUES (?)"),
	/* limits (issue 10): tables of their own, CHAPPS's untouched */
	S(ST_USER_LIMITS, "SELECT l.id, l.kind, l.span, l.max_count, l.action, l.warn_at, l.mode"
			  " FROM users u"
			  " JOIN quota_user qu ON qu.user_id = u.id"
			  " JOIN quota_limits l ON l.quota_id = qu.quota_id"
			  " WHERE u.name = ? ORDER BY l.id"),
	S(ST_QUOTA_LIMITS, "SELECT l.id, l.kind, l.span, l.max_count, l.action, l.warn_at, l.mode"
			   " FROM quotas q"
			   " JOIN quota_limits l ON l.quota_id = q.id"
			   " WHERE q.name = ? ORDER BY l.id"),
	S(ST_QUOTA_NUMBER, "SELECT quota FROM quotas WHERE name = ?"),
	S(ST_DOMAIN_QUOTA, "SELECT q.name, q.quota FROM domains d"
			   " JOIN domain_quotas dq ON dq.domain_id = d.id"
			   " JOIN quotas q ON q.id = dq.quota_id"
			   " WHERE LOWER(d.name) = ? AND dq.pool = ? ORDER BY d.id LIMIT 1"),
	S(ST_LIMIT_ADD, "INSERT INTO quota_limits"
			" (quota_id, kind, span, max_count, action, warn_at, mode)"
			" SELECT id, ?, ?, ?, ?, ?, ? FROM quotas WHERE name = ?"),
	S(ST_LIMIT_DEL, "DELETE FROM quota_limits WHERE id = ?"
			" AND quota_id IN (SELECT id FROM quotas WHERE name = ?)"),
	S(ST_DOMAIN_SET_QUOTA, "REPLACE INTO domain_quotas (domain_id, pool, quota_id)"
			       " SELECT d.id, ?, q.id FROM domains d, quotas q"
			       " WHERE LOWER(d.name) = ? AND q.name = ?"),
	S(ST_DOMAIN_UNSET_QUOTA, "DELETE FROM domain_quotas WHERE pool = ?"
				 " AND domain_id IN (SELECT id FROM domains WHERE LOWER(name) = ?)"),
	S(ST_DOMAIN_QUOTAS, "SELECT d.name, dq.pool, q.name FROM domains d"
			    " JOIN domain_quotas dq ON dq.domain_id = d.id"
			    " JOIN quotas q ON q.id = dq.quota_id ORDER BY d.name, dq.pool"),
	S(ST_USER_LIMITS_OLD, "SELECT l.id, l.kind, l.span, l.max_count FROM users u"
			      " JOIN quota_user qu ON qu.user_id = u.id"
			      " JOIN quota_limits l ON l.quota_id = qu.quota_id"
			      " WHERE u.name = ? ORDER BY l.id"),
	S(ST_QUOTA_LIMITS_OLD, "SELECT l.id, l.kind, l.span, l.max_count FROM quotas q"
			       " JOIN quota_limits l ON l.quota_id = q.id"
			       " WHERE q.name = ? ORDER BY l.id"),
	S(ST_LIMIT_ADD_OLD, "INSERT INTO quota_limits (quota_id, kind, span, max_count)"
			    " SELECT id, ?, ?, ? FROM quotas WHERE name = ?"),
	S(ST_LIMIT_COLUMNS, "SELECT action, warn_at, mode FROM quota_limits WHERE 1 = 0"),
	S(ST_SIZE_LIMITS, "SELECT id FROM quota_limits"
			  " WHERE kind = 'bytes' OR kind = 'max_message_bytes' LIMIT 1"),
};
#undef S

/* Migration 0b5ef72836bd: the two domain flags (same SQL on both backends). */
const char *const policydb_upgrade_flags[] = {
	"ALTER TABLE domains ADD COLUMN greylist BOOLEAN NOT NULL DEFAULT 0",
	"ALTER TABLE domains ADD COLUMN check_spf BOOLEAN NOT NULL DEFAULT 0",
	"UPDATE alembic_version SET version_num = '" ALEMBIC_HEAD "'",
	NULL
};

_Static_assert(ST_COUNT <= POLICYDB_STMT_IDS_BASE, "raise POLICYDB_STMT_IDS_BASE (and POLICYDB_STMT_MAX)");
