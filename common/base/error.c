/*
 * NAME
 *	error - the one error convention of common/: classes and text
 * SUMMARY
 *	error_class_set(), error_class_last(), error_class_name(),
 *	error_format(), error_format_class()
 * DESCRIPTION
 *	See error.h for the convention.  The last failure class is one
 *	thread-local value, like errno.
 * DIAGNOSTICS
 *	None: nothing here fails.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/error.h"

static _Thread_local enum error_class error_last;

void error_class_set(enum error_class class)
{
	error_last = class;
}

enum error_class error_class_last(void)
{
	return error_last;
}

const char *error_class_name(enum error_class class)
{
	switch (class) {
	case ERROR_TEMPORARY:
		return "temporary";
	case ERROR_CONFIG:
		return "configuration";
	case ERROR_INPUT:
		return "bad input";
	case ERROR_NONE:
	default:
		return "none";
	}
}

/* error_vformat - error_format with a va_list */
static void __attribute__((format(printf, 3, 0)))
error_vformat(char *err, size_t errsize, const char *fmt, va_list ap)
{
	if (err == NULL || errsize == 0)
		return;
	vsnprintf(err, errsize, fmt, ap);
}

void error_format(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vformat(err, errsize, fmt, ap);
	va_end(ap);
}

void error_format_class(enum error_class class, char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	error_class_set(class);
	va_start(ap, fmt);
	error_vformat(err, errsize, fmt, ap);
	va_end(ap);
}
