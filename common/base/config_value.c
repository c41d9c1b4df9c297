/*
 * NAME
 *	config_value - the value parsers of the settings table
 * SUMMARY
 *	config_value_set_default(cfg, row), config_value_set_string(...)...
 * DESCRIPTION
 *	One parser per setting type (config-private.h): strings, integers
 *	within the row's bounds, replies, enums, lists, CHAPPS's margin
 *	grammar, octal umasks, syslog facilities, log levels, SPF actions.
 *	Defaults are text in the table and go through the same parsers as
 *	the file's values (config_value_set_default), so a default can never
 *	bypass a check.
 * DIAGNOSTICS
 *	Each returns NULL or the reason as text; config.c turns that into a
 *	"file:line: setting: problem" line.
 */
#include "autoconf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config-private.h"
#include "base/log.h"
#include "base/reply.h"
#include "base/xalloc.h"

/* enum_index - position of name in names, or -1 */
static int enum_index(const char *const *names, const char *name)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* enum_list_text - "a, b, c" for messages */
static void enum_list_text(const char *const *names, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; names[i] != NULL; i++) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, "%s\"%s\"", i ? ", " : "", names[i]);
	}
}

/* set_string_value - apply one string to a string-typed row; NULL ok, else error text */
const char *config_value_set_string(struct config *cfg, const struct setting *row,
				    const char *value)
{
	static __thread char why[512];
	int v;
	const char *err;

	switch (row->type) {
	case T_STRING:
		XFREE(*FIELD(cfg, row, char *));
		*FIELD(cfg, row, char *) = xstrdup(value);
		return NULL;
	case T_REPLY: {
		struct reply r;

		if (reply_parse(value, &r, &err) < 0)
			return err;
		reply_clear(FIELD(cfg, row, struct reply));
		*FIELD(cfg, row, struct reply) = r;
		return NULL;
	}
	case T_ENUM:
		v = enum_index(row->names, value);
		if (v < 0) {
			char list[256];

			enum_list_text(row->names, list, sizeof(list));
			snprintf(why, sizeof(why), "unknown value \"%s\" (expected one of %s)",
				 value, list);
			return why;
		}
		*FIELD(cfg, row, int) = v;
		return NULL;
	case T_OCTAL: {
		char *end;
		long o;

		if (*value == '\0' || strspn(value, "01234567") != strlen(value))
			return "must be octal digits, such as \"0007\"";
		errno = 0;
		o = strtol(value, &end, 8);
		if (errno != 0 || o < row->min || o > row->max)
			return "must be between 0000 and 0777";
		*FIELD(cfg, row, int) = (int)o;
		return NULL;
	}
	case T_FACILITY:
		v = log_facility_from_name(value);
		if (v < 0)
			return "unknown syslog facility (expected mail, daemon, user or local0..local7)";
		*FIELD(cfg, row, int) = v;
		return NULL;
	case T_LOGLEVEL:
		v = log_level_from_name(value);
		if (v < 0)
			return "unknown level (expected error, warning, info or debug)";
		*FIELD(cfg, row, int) = v;
		return NULL;
	case T_SPFACTION: {
		struct spf_action *a = FIELD(cfg, row, struct spf_action);
		struct reply r;

		if (strcmp(value, "prepend") == 0 || strcmp(value, "greylist") == 0) {
			reply_clear(&a->reply);
			a->kind = value[0] == 'p' ? SPF_ACTION_PREPEND : SPF_ACTION_GREYLIST;
			return NULL;
		}
		if (reply_parse(value, &r, &err) < 0) {
			snprintf(why, sizeof(why),
				 "expected \"prepend\", \"greylist\" or a reply such as "
				 "\"550 5.7.1 SPF check failed: {reason}\" (%s)", err);
			return why;
		}
		reply_clear(&a->reply);
		a->kind = SPF_ACTION_REPLY;
		a->reply = r;
		return NULL;
	}
	default:
		return "internal error: not a string setting";
	}
}

/* set_int_value - apply an integer to an integer-typed row */
const char *config_value_set_int(struct config *cfg, const struct setting *row, long long v)
{
	static __thread char why[128];

	if (v < row->min || v > row->max) {
		snprintf(why, sizeof(why), "value %lld is out of range (%ld..%ld)", v, row->min,
			 row->max);
		return why;
	}
	if (row->type == T_SIZE)
		*FIELD(cfg, row, size_t) = (size_t)v;
	else
		*FIELD(cfg, row, int) = (int)v;
	return NULL;
}

/* set_margin_int / set_margin_float - CHAPPS's margin grammar */
const char *config_value_set_margin_int(struct config *cfg, const struct setting *row, long long v)
{
	struct config_margin *m = FIELD(cfg, row, struct config_margin);

	if (v < 0 || v > 1000000)
		return "an integer margin is an absolute count and must be 0..1000000";
	m->absolute = true;
	m->count = (long)v;
	m->ratio = 0;
	return NULL;
}

const char *config_value_set_margin_float(struct config *cfg, const struct setting *row, double v)
{
	struct config_margin *m = FIELD(cfg, row, struct config_margin);

	if (isnan(v) || v < 0 || v == 1.0 || v >= 100.0)
		return "a float margin must be a ratio 0 <= m < 1 or a percentage 1 < m < 100";
	m->absolute = false;
	m->count = 0;
	m->ratio = v < 1.0 ? v : v / 100.0;
	return NULL;
}

/* list_clear - free a string list row */
void config_value_list_clear(struct config *cfg, const struct setting *row)
{
	int *count = (int *)((char *)cfg + row->count_offset);

	if (row->type == T_STRLIST) {
		char **items = FIELD(cfg, row, char *);

		for (int i = 0; i < *count; i++)
			XFREE(items[i]);
	}
	*count = 0;
}

/* list_add - append one item to a list row; NULL ok, else error text */
const char *config_value_list_add(struct config *cfg, const struct setting *row, const char *item)
{
	static __thread char why[512];
	int *count = (int *)((char *)cfg + row->count_offset);

	if (*count >= CONFIG_LIST_MAX)
		return "too many entries (at most 16)";
	if (row->type == T_STRLIST) {
		FIELD(cfg, row, char *)[(*count)++] = xstrdup(item);
		return NULL;
	}
	int v = enum_index(row->names, item);

	if (v < 0) {
		char list[256];

		enum_list_text(row->names, list, sizeof(list));
		snprintf(why, sizeof(why), "unknown entry \"%s\" (expected %s)", item, list);
		return why;
	}
	for (int i = 0; i < *count; i++)
		if (FIELD(cfg, row, int)[i] == v) {
			snprintf(why, sizeof(why), "entry \"%s\" appears twice", item);
			return why;
		}
	FIELD(cfg, row, int)[(*count)++] = v;
	return NULL;
}

/* set_default - apply row's default text */
const char *config_value_set_default(struct config *cfg, const struct setting *row)
{
	switch (row->type) {
	case T_INT:
	case T_SIZE:
		return config_value_set_int(cfg, row, strtoll(row->def, NULL, 10));
	case T_BOOL:
		*FIELD(cfg, row, bool) = strcmp(row->def, "true") == 0;
		return NULL;
	case T_MARGIN:
		if (strchr(row->def, '.') != NULL)
			return config_value_set_margin_float(cfg, row, strtod(row->def, NULL));
		return config_value_set_margin_int(cfg, row, strtoll(row->def, NULL, 10));
	case T_STRLIST:
	case T_ENUMLIST: {
		char *copy = xstrdup(row->def), *save = NULL;
		const char *err = NULL;

		config_value_list_clear(cfg, row);
		for (char *tok = strtok_r(copy, ",", &save); tok && !err;
		     tok = strtok_r(NULL, ",", &save))
			err = config_value_list_add(cfg, row, tok);
		free(copy);
		return err;
	}
	default:
		return config_value_set_string(cfg, row, row->def);
	}
}

