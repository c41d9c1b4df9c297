/*
 * NAME
 *	limits - store limits from policy-database rows, calendar periods,
 *	replies naming a limit, exemptions (issue 10)
 * DESCRIPTION
 *	A user's quota is a set of limits (chapps.conf(5), LIMITS): the
 *	quota's own number (id 0: the CHAPPS limit, store_quota_*'s very
 *	state), the quota's extra limits (ids from quota_limits) and the
 *	domain pool's (owner "\0pool:" + domain).  Calendar windows are the
 *	civil day or month holding now in the process's time zone, set once
 *	at start-up from quota.timezone: mktime with tm_isdst = -1 finds
 *	midnight on DST days too (23 or 25 hours).
 *
 *	What a limit does when it refuses (action, warn_at, mode: issue 11)
 *	is resolved in one place, limits_entry_policy.
 * DIAGNOSTICS
 *	None: values and texts only.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "policy/limits.h"
#include "policy/quota.h"

int limits_set_timezone(const struct config *c, char *err, size_t errsize)
{
	const char *tz = c->quota_timezone;
	char path[512];

	if (tz == NULL || tz[0] == '\0')
		return 0;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz[0] == ':' ? tz + 1 : tz);
	if (tz[0] != '/' && strstr(tz, "..") == NULL && access(path, R_OK) != 0 &&
	    strcmp(tz, "UTC") != 0) {
		snprintf(err, errsize, "quota.timezone: unknown time zone \"%s\"", tz);
		return -1;
	}
	setenv("TZ", tz, 1);
	tzset();
	return 0;
}

void limits_period(long long span, int64_t now, int64_t *start, int64_t *end)
{
	time_t t = (time_t)now;
	struct tm tm, b;

	localtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (span == POLICYDB_SPAN_MONTH)
		tm.tm_mday = 1;
	b = tm;
	tm.tm_isdst = -1;
	*start = (int64_t)mktime(&tm);
	if (span == POLICYDB_SPAN_MONTH)
		b.tm_mon++;
	else
		b.tm_mday++;
	b.tm_isdst = -1;
	*end = (int64_t)mktime(&b);
	if (*end <= *start)
		*end = *start + 86400;
}

/* margin_of - quota.margin as an absolute count for a limit of max */
static uint64_t margin_of(const struct config *c, uint64_t max)
{
	const struct config_margin *m = &c->quota_margin;

	return m->absolute ? (uint64_t)m->count : (uint64_t)(m->ratio * (double)max);
}

/* resolution_of - bucket width for a sliding window of interval s: quota.resolution at most, 12+ buckets */
static uint32_t resolution_of(const struct config *c, uint32_t interval)
{
	uint32_t r = interval / 12;

	if (r > (uint32_t)c->quota_resolution)
		r = (uint32_t)c->quota_resolution;
	return r > 0 ? r : 1;
}

/* add_row - one extra limit as a store limit; false for a cap (not a counter) */
static bool add_row(const struct config *c, const struct policydb_limit *row, const char *owner,
		    size_t owner_len, int64_t now, struct store_limit *out)
{
	static const enum store_count counts[] = { STORE_COUNT_MESSAGES, STORE_COUNT_RECIPIENTS,
						   STORE_COUNT_DISTINCT, STORE_COUNT_BYTES };

	if (row->kind > POLICYDB_LIMIT_BYTES || row->id <= 0)
		return false;
	memset(out, 0, sizeof(*out));
	out->owner = owner;
	out->owner_len = owner_len;
	out->id = (uint32_t)row->id;
	out->count = counts[row->kind];
	out->max = row->max < 0 ? 0 : (uint64_t)row->max;
	if (out->max > STORE_LIMIT_MAX)
		out->max = STORE_LIMIT_MAX;
	out->margin = margin_of(c, out->max);
	if (out->margin > STORE_LIMIT_MAX)
		out->margin = STORE_LIMIT_MAX;
	out->reservation_ttl = (uint32_t)c->quota_reservation_ttl;
	if (row->span > 0) {
		out->window = STORE_WINDOW_SLIDING;
		out->interval = (uint32_t)row->span;
		out->resolution = resolution_of(c, out->interval);
	} else {
		out->window = STORE_WINDOW_CALENDAR;
		limits_period(row->span, now, &out->period_start, &out->period_end);
	}
	return true;
}

/* add_base - the quota's own number as store limit id 0 (store_quota_*'s state) */
static void add_base(const struct config *c, long base, const char *owner, size_t owner_len,
		     struct store_limit *out, struct limits_entry *e)
{
	struct store_quota_params p;

	quota_store_params(c, base, &p);
	memset(out, 0, sizeof(*out));
	out->owner = owner;
	out->owner_len = owner_len;
	out->id = 0;
	out->count = c->quota_counting_recipients ? STORE_COUNT_RECIPIENTS : STORE_COUNT_MESSAGES;
	out->window = STORE_WINDOW_SLIDING;
	out->interval = p.interval;
	out->resolution = p.resolution;
	out->max = p.limit;
	out->margin = p.margin;
	out->reservation_ttl = p.reservation_ttl;
	if (e != NULL) {
		memset(e, 0, sizeof(*e));
		e->base = true;
		e->row.kind = c->quota_counting_recipients ? POLICYDB_LIMIT_RECIPIENTS
							   : POLICYDB_LIMIT_MESSAGES;
		e->row.span = c->quota_interval;
		e->row.max = base;
		e->row.warn_at = POLICYDB_WARN_DEFAULT;
	}
}

size_t limits_build(const struct config *c, const struct backends_limits *l, const char *user,
		    char *pool_owner, int64_t now, struct store_limit *out,
		    struct limits_entry *entries)
{
	size_t n = 0, ulen = strlen(user), plen = 0;
	const char *at = strrchr(user, '@');

	if (l->base < 0)
		return 0;
	add_base(c, l->base, user, ulen, &out[n], entries ? &entries[n] : NULL);
	n++;
	for (size_t i = 0; i < l->n && n < STORE_LIMITS_MAX; i++)
		if (add_row(c, &l->l[i], user, ulen, now, &out[n])) {
			if (entries != NULL) {
				memset(&entries[n], 0, sizeof(entries[n]));
				entries[n].row = l->l[i];
			}
			n++;
		}
	if (!l->pool || at == NULL || pool_owner == NULL)
		return n;
	memcpy(pool_owner, LIMITS_POOL_PREFIX, LIMITS_POOL_PREFIX_LEN);
	plen = LIMITS_POOL_PREFIX_LEN;
	for (const char *p = at + 1; *p != '\0' && plen < LIMITS_OWNER_MAX - 1; p++)
		pool_owner[plen++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	pool_owner[plen] = '\0';
	if (n < STORE_LIMITS_MAX) {
		add_base(c, l->pool_base, pool_owner, plen, &out[n], entries ? &entries[n] : NULL);
		if (entries != NULL)
			entries[n].pool = true;
		n++;
	}
	for (size_t i = 0; i < l->n_pool && n < STORE_LIMITS_MAX; i++)
		if (add_row(c, &l->pool_l[i], pool_owner, plen, now, &out[n])) {
			if (entries != NULL) {
				memset(&entries[n], 0, sizeof(entries[n]));
				entries[n].row = l->pool_l[i];
				entries[n].pool = true;
			}
			n++;
		}
	return n;
}

void limits_entry_policy(const struct config *c, const struct limits_entry *e,
			 struct limits_policy *p)
{
	p->action = c->quota_action;
	p->warn_at = c->quota_warn_at;
	p->monitor = c->quota_mode == CONFIG_MODE_MONITOR;
	if (e == NULL)
		return;
	/* the row's own overrides (quota_limits.action, warn_at, mode) */
	switch (e->row.action) {
	case POLICYDB_ACTION_REJECT: p->action = QUOTA_ACTION_REJECT; break;
	case POLICYDB_ACTION_TEMPFAIL: p->action = QUOTA_ACTION_TEMPFAIL; break;
	case POLICYDB_ACTION_QUARANTINE: p->action = QUOTA_ACTION_QUARANTINE; break;
	case POLICYDB_ACTION_LOCK: p->action = QUOTA_ACTION_LOCK; break;
	default: break;		/* POLICYDB_ACTION_DEFAULT: quota.action */
	}
	if (e->row.warn_at >= 0)
		p->warn_at = e->row.warn_at;
	if (e->row.mode != POLICYDB_MODE_DEFAULT)
		p->monitor = e->row.mode == POLICYDB_MODE_MONITOR;
}

bool limits_counts_size(const struct backends_limits *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->l[i].kind == POLICYDB_LIMIT_BYTES ||
		    l->l[i].kind == POLICYDB_LIMIT_MAX_BYTES)
			return true;
	for (size_t i = 0; l->pool && i < l->n_pool; i++)
		if (l->pool_l[i].kind == POLICYDB_LIMIT_BYTES)
			return true;
	return false;
}

const struct policydb_limit *limits_cap_row(const struct backends_limits *l, int kind)
{
	const struct policydb_limit *row = NULL;

	for (size_t i = 0; i < l->n; i++)
		if (l->l[i].kind == kind && (row == NULL || l->l[i].max < row->max))
			row = &l->l[i];
	return row;
}

long long limits_cap(const struct backends_limits *l, int kind)
{
	const struct policydb_limit *row = limits_cap_row(l, kind);

	return row != NULL ? row->max : -1;
}

void limits_describe(const struct config *c, const struct limits_entry *e, const char *domain,
		     char *buf, size_t size)
{
	static const char *const units[] = { "messages", "recipients", "distinct recipients",
					     "bytes", "recipients", "bytes" };
	long long span = e->row.span;
	char per[48];
	size_t len;

	(void)c;
	if (e->row.kind >= POLICYDB_LIMIT_MAX_RCPT || span == POLICYDB_SPAN_MESSAGE)
		snprintf(per, sizeof(per), "message");
	else if (span == POLICYDB_SPAN_DAY)
		snprintf(per, sizeof(per), "calendar day");
	else if (span == POLICYDB_SPAN_MONTH)
		snprintf(per, sizeof(per), "calendar month");
	else if (span == 60)
		snprintf(per, sizeof(per), "minute");
	else if (span == 3600)
		snprintf(per, sizeof(per), "hour");
	else if (span == 86400)
		snprintf(per, sizeof(per), "day");
	else if (span == 604800)
		snprintf(per, sizeof(per), "week");
	else if (span % 86400 == 0)
		snprintf(per, sizeof(per), "%lld days", span / 86400);
	else if (span % 3600 == 0)
		snprintf(per, sizeof(per), "%lld hours", span / 3600);
	else if (span % 60 == 0)
		snprintf(per, sizeof(per), "%lld minutes", span / 60);
	else
		snprintf(per, sizeof(per), "%lld seconds", span);
	snprintf(buf, size, "%lld %s per %s", e->row.max,
		 units[e->row.kind >= 0 && e->row.kind <= 5 ? e->row.kind : 0], per);
	len = strlen(buf);
	if (e->pool && domain != NULL && len < size)
		snprintf(buf + len, size - len, ", pool of %s", domain);
}

uint64_t limits_rcpt_hash(const char *addr)
{
	uint64_t h = 14695981039346656037ULL;
	size_t len = strlen(addr);

	/* "<a@b>" and "a@b" are one address */
	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		addr++;
		len -= 2;
	}
	for (const unsigned char *p = (const unsigned char *)addr;
	     p < (const unsigned char *)addr + len; p++) {
		unsigned char ch = (*p >= 'A' && *p <= 'Z') ? (unsigned char)(*p - 'A' + 'a') : *p;

		h = (h ^ ch) * 1099511628211ULL;
	}
	return h;
}

bool limits_exempt(const struct config *c, const char *user, const char *sender,
		   const char **why)
{
	if (sender != NULL && sender[0] == '\0' && !c->quota_count_null_sender) {
		*why = "null sender";
		return true;
	}
	for (int i = 0; user != NULL && i < c->n_quota_exempt_users; i++)
		if (strcmp(user, c->quota_exempt_users[i]) == 0) {
			*why = "exempt user";
			return true;
		}
	for (int i = 0; sender != NULL && i < c->n_quota_exempt_senders; i++)
		if (strcasecmp(sender, c->quota_exempt_senders[i]) == 0) {
			*why = "exempt sender";
			return true;
		}
	return false;
}

bool limits_uncounted_rcpt(const struct config *c, const char *rcpt)
{
	const char *at = rcpt ? strrchr(rcpt, '@') : NULL;
	size_t len;

	if (at == NULL || c->n_quota_uncounted_domains == 0)
		return false;
	at++;
	len = strlen(at);
	if (len > 0 && at[len - 1] == '>')
		len--;
	for (int i = 0; i < c->n_quota_uncounted_domains; i++) {
		const char *d = c->quota_uncounted_domains[i];

		if (strlen(d) == len && strncasecmp(d, at, len) == 0)
			return true;
	}
	return false;
}

uint64_t limits_declared_size(const char *args)
{
	const char *p = args;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (strncasecmp(p, "SIZE=", 5) == 0) {
			char *end;
			unsigned long long v = strtoull(p + 5, &end, 10);

			if (end != p + 5 && (*end == ' ' || *end == '\0'))
				return v > STORE_LIMIT_MAX ? STORE_LIMIT_MAX : (uint64_t)v;
			return 0;
		}
		p = strchr(p, ' ');
	}
	return 0;
}
