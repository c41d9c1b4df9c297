/*
 * NAME
 *	greylist_record - the greylisting rule shared by the store engines
 * DESCRIPTION
 *	See greylist_record.h.
 * DIAGNOSTICS
 *	None.
 */
#include "autoconf.h"

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
