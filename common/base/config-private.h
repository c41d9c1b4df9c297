/*
 * config-private.h - what the files of the config module share
 *
 * config.c holds the settings table and the loader, config_value.c the
 * value parsers every row goes through (defaults and the file alike),
 * config_check.c the rules that span settings, config_dump.c the dump.
 * Nothing here is visible outside common/base/config*.c.
 */
#ifndef CHAPPS_CONFIG_PRIVATE_H
#define CHAPPS_CONFIG_PRIVATE_H

#include <stddef.h>

#include "base/config.h"


enum setting_type {
	T_STRING,	/* char * */
	T_INT,		/* int, min..max */
	T_SIZE,		/* size_t, min..max */
	T_BOOL,		/* bool */
	T_REPLY,	/* struct reply */
	T_ENUM,		/* int, index into names */
	T_STRLIST,	/* char *[CONFIG_LIST_MAX] + int count */
	T_ENUMLIST,	/* int [CONFIG_LIST_MAX] + int count */
	T_MARGIN,	/* struct config_margin */
	T_OCTAL,	/* int, from a string of octal digits */
	T_FACILITY,	/* int syslog facility, from a name */
	T_LOGLEVEL,	/* int enum log_level, from a name */
	T_SPFACTION,	/* struct spf_action */
};

struct setting {
	const char *path;
	enum setting_type type;
	size_t offset;
	size_t count_offset;		/* lists */
	const char *def;		/* default, as text ("a,b" for lists) */
	long min, max;			/* T_INT, T_SIZE, T_OCTAL */
	const char *const *names;	/* T_ENUM, T_ENUMLIST */
};

/* The settings table (config.c), in dump order. */
extern const struct setting config_settings[];
extern const size_t config_n_settings;

#define FIELD(cfg, row, type) ((type *)((char *)(cfg) + (row)->offset))

/* One config_load: the snapshot being built and the problems found. */
struct config_loader;

/*
 * config_problem_at - record a problem of the setting at path, reported at
 * the file and line where it was set (or the file alone for a default).
 */
void config_problem_at(struct config_loader *ld, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* config_check (config_check.c) - the rules that span several settings of c */
void config_check(struct config_loader *ld, struct config *c);

/*
 * config_value.c: apply a value to a row of cfg, replacing the old one;
 * each returns NULL, or a static or thread-local text saying what is wrong
 * (the row keeps its value then).
 */
const char *config_value_set_string(struct config *cfg, const struct setting *row,
				    const char *value);
const char *config_value_set_int(struct config *cfg, const struct setting *row, long long v);
const char *config_value_set_margin_int(struct config *cfg, const struct setting *row,
					long long v);
const char *config_value_set_margin_float(struct config *cfg, const struct setting *row,
					  double v);
const char *config_value_list_add(struct config *cfg, const struct setting *row,
				  const char *item);
const char *config_value_set_default(struct config *cfg, const struct setting *row);

/* config_value_list_clear - empty a list row, freeing its strings */
void config_value_list_clear(struct config *cfg, const struct setting *row);

#endif
