/*
 * NAME
 *	config_dump - the effective configuration as libconfig text
 * SUMMARY
 *	config_dump(config, out)
 * DESCRIPTION
 *	Every row of the settings table in table order, defaults filled in,
 *	grouped as the paths say, in a syntax config_load accepts again (the
 *	fuzz target checks the round trip; tests/data holds the goldens).
 *	The alerts' webhook token and secret are never written: a set one
 *	is dumped as "********" (which loads again, as a useless secret).
 * DIAGNOSTICS
 *	None: write errors are the caller's to see on out.
 */
#include "autoconf.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/config-private.h"
#include "base/log.h"
#include "base/reply.h"

/* dump_string - a libconfig string literal */
static void dump_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* The settings whose value the dump never shows: "********" when set, "" when not. */
static const char *const secret_paths[] = { "alerts.webhook_token", "alerts.webhook_secret", NULL };

/* is_secret - is row one of secret_paths? */
static bool is_secret(const struct setting *row)
{
	for (int i = 0; secret_paths[i] != NULL; i++)
		if (strcmp(row->path, secret_paths[i]) == 0)
			return true;
	return false;
}

/* dump_value - one row's value */
static void dump_value(const struct config *c, const struct setting *row, FILE *out)
{
	const int *count = (const int *)((const char *)c + row->count_offset);

	switch (row->type) {
	case T_STRING:
		if (is_secret(row) && (*FIELD(c, row, char *const))[0] != '\0')
			dump_string(out, "********");
		else
			dump_string(out, *FIELD(c, row, char *const));
		break;
	case T_INT:
		fprintf(out, "%d", *FIELD(c, row, const int));
		break;
	case T_SIZE:
		fprintf(out, "%zu", *FIELD(c, row, const size_t));
		break;
	case T_BOOL:
		fputs(*FIELD(c, row, const bool) ? "true" : "false", out);
		break;
	case T_REPLY: {
		char buf[1024];

		dump_string(out, reply_format(FIELD(c, row, const struct reply), buf, sizeof(buf)));
		break;
	}
	case T_ENUM:
		dump_string(out, row->names[*FIELD(c, row, const int)]);
		break;
	case T_STRLIST:
	case T_ENUMLIST:
		fputs("[ ", out);
		for (int i = 0; i < *count; i++) {
			if (i > 0)
				fputs(", ", out);
			if (row->type == T_STRLIST)
				dump_string(out, FIELD(c, row, char *const)[i]);
			else
				dump_string(out, row->names[FIELD(c, row, const int)[i]]);
		}
		fputs(*count ? " ]" : "]", out);
		break;
	case T_MARGIN: {
		const struct config_margin *m = FIELD(c, row, const struct config_margin);

		if (m->absolute)
			fprintf(out, "%ld", m->count);
		else
			fprintf(out, "%.15g", m->ratio);
		if (!m->absolute && floor(m->ratio) == m->ratio)
			fputs(".0", out);
		break;
	}
	case T_OCTAL:
		fprintf(out, "\"%04o\"", (unsigned)*FIELD(c, row, const int));
		break;
	case T_FACILITY: {
		static const char *const fac[] = { "mail", "daemon", "user", "local0", "local1",
						   "local2", "local3", "local4", "local5",
						   "local6", "local7", NULL };

		for (int i = 0; fac[i]; i++)
			if (log_facility_from_name(fac[i]) == *FIELD(c, row, const int)) {
				dump_string(out, fac[i]);
				break;
			}
		break;
	}
	case T_LOGLEVEL:
		dump_string(out, log_level_name((enum log_level)*FIELD(c, row, const int)));
		break;
	case T_SPFACTION: {
		const struct spf_action *a = FIELD(c, row, const struct spf_action);
		char buf[1024];

		if (a->kind == SPF_ACTION_REPLY)
			dump_string(out, reply_format(&a->reply, buf, sizeof(buf)));
		else
			dump_string(out, a->kind == SPF_ACTION_PREPEND ? "prepend" : "greylist");
		break;
	}
	}
}

void config_dump(const struct config *c, FILE *out)
{
	char prev[256] = "";
	int depth = 0;

	fprintf(out, "# chapps effective configuration%s%s\n", c->file[0] ? " from " : "",
		c->file);
	for (size_t i = 0; i < config_n_settings; i++) {
		const struct setting *row = &config_settings[i];
		const char *p = row->path, *q = prev;
		int common = 0, level = 0;

		/* how many leading groups this path shares with the previous one */
		while (*p && *p == *q) {
			if (*p == '.')
				common = ++level;
			p++;
			q++;
		}
		int groups = 0;

		for (const char *s = row->path; *s; s++)
			groups += *s == '.';
		if (common > groups)
			common = groups;
		while (depth > common) {
			depth--;
			fprintf(out, "%*s};\n", depth * 2, "");
		}
		/* open the missing groups */
		const char *s = row->path;

		for (int g = 0; g < groups; g++) {
			const char *dot = strchr(s, '.');

			if (g >= depth) {
				fprintf(out, "%*s%.*s:\n%*s{\n", depth * 2, "", (int)(dot - s), s,
					depth * 2, "");
				depth++;
			}
			s = dot + 1;
		}
		fprintf(out, "%*s%s = ", depth * 2, "", s);
		dump_value(c, row, out);
		fputs(";\n", out);
		snprintf(prev, sizeof(prev), "%s", row->path);
	}
	while (depth > 0) {
		depth--;
		fprintf(out, "%*s};\n", depth * 2, "");
	}
}

