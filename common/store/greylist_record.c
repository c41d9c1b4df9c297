/*
 * NAME
 *	greylist_record - the greylisting rule shared by the store engines
 * SUMMARY
 *	greylist_record_decide(params, tally, now, &present, &tuple) -> verdict
 * DESCRIPTION
 *	See greylist_record.h.  No I/O and no clock of its own: the engines
 *	pass now and store what the functions leave in the records, so the
 *	rule is tested here without a store (tests/check_greylist_record.c).
 *	redis/greylist.lua transcribes greylist_record_decide,
 *	greylist_record_tuple_expiry and the tally functions for the Redis
 *	engine; a change here is a change there.
 * DIAGNOSTICS
 *	None.
 */
#include "autoconf.h"

#include <string.h>

#include "store/greylist_record.h"

const char *greylist_verdict_name(enum greylist_verdict verdict)
{
	switch (verdict) {
	case GREYLIST_PASS: return "pass";
	case GREYLIST_PASS_WHITELISTED: return "whitelisted";
	case GREYLIST_DEFER_NEW: return "new";
	case GREYLIST_DEFER_EARLY: return "early";
	}
	return "?";
}

enum greylist_verdict greylist_record_decide(const struct greylist_params *p, uint32_t tally,
					     int64_t now, bool *present,
					     struct greylist_record_tuple *t)
{
	enum greylist_verdict verdict;

	if (p->whitelist_threshold > 0 && tally >= p->whitelist_threshold) {
		verdict = GREYLIST_PASS_WHITELISTED;
		if (!*present) {
			t->first = now;
			t->last_pass = -1;
		}
	} else if (!*present) {
		verdict = GREYLIST_DEFER_NEW;
	} else if (t->last_pass >= 0 && now - t->last_pass <= (int64_t)p->lifetime) {
		verdict = GREYLIST_PASS;	/* remembered; renewed below */
	} else if (now - t->first < (int64_t)p->min_delay) {
		return GREYLIST_DEFER_EARLY;	/* the clock keeps running from first */
	} else if (now - t->first > (int64_t)p->retry_window) {
		verdict = GREYLIST_DEFER_NEW;	/* retry window missed: start again */
	} else {
		verdict = GREYLIST_PASS;
	}
	if (verdict == GREYLIST_DEFER_NEW) {
		t->first = now;
		t->last_pass = -1;
	} else if (now > t->last_pass) {
		t->last_pass = now;	/* a clock going back never shortens a pass */
	}
	*present = true;
	return verdict;
}

int64_t greylist_record_tuple_expiry(const struct greylist_params *p,
				     const struct greylist_record_tuple *t)
{
	int64_t e = t->first + (int64_t)(p->retry_window > p->min_delay ? p->retry_window
									  : p->min_delay);

	if (t->last_pass >= 0 && t->last_pass + (int64_t)p->lifetime > e)
		e = t->last_pass + (int64_t)p->lifetime;
	return e + 1;
}

bool greylist_record_tally_live(int64_t hour, int64_t now)
{
	/* like a quota bucket: counted until its end + the window */
	return (hour + 1) * GREYLIST_TALLY_HOUR + GREYLIST_TALLY_WINDOW > now;
}

uint32_t greylist_record_tally_sum(const struct greylist_record_tally *c, int64_t now)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < c->n; i++)
		if (greylist_record_tally_live(c->hour[i], now))
			sum += c->count[i];
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* sat_add - a + b clamped to UINT32_MAX */
static uint32_t sat_add(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

void greylist_record_tally_add(struct greylist_record_tally *c, int64_t now)
{
	int64_t hour = now / GREYLIST_TALLY_HOUR;
	unsigned int i, j;

	for (i = j = 0; i < c->n; i++) {
		if (greylist_record_tally_live(c->hour[i], now)) {
			c->hour[j] = c->hour[i];
			c->count[j++] = c->count[i];
		}
	}
	c->n = j;
	for (i = 0; i < c->n && c->hour[i] < hour; i++)
		;
	if (i < c->n && c->hour[i] == hour) {
		c->count[i] = sat_add(c->count[i], 1);
		return;
	}
	memmove(&c->hour[i + 1], &c->hour[i], (c->n - i) * sizeof(c->hour[0]));
	memmove(&c->count[i + 1], &c->count[i], (c->n - i) * sizeof(c->count[0]));
	c->hour[i] = hour;
	c->count[i] = 1;
	c->n++;
	if (c->n > GREYLIST_TALLY_MAX) {
		c->count[1] = sat_add(c->count[1], c->count[0]);
		memmove(&c->hour[0], &c->hour[1], (c->n - 1) * sizeof(c->hour[0]));
		memmove(&c->count[0], &c->count[1], (c->n - 1) * sizeof(c->count[0]));
		c->n--;
	}
}

int64_t greylist_record_tally_expiry(const struct greylist_record_tally *c)
{
	/* the newest counter is the last to die */
	return (c->hour[c->n - 1] + 1) * GREYLIST_TALLY_HOUR + GREYLIST_TALLY_WINDOW;
}
