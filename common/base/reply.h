/*
 * reply - SMTP replies configured by the administrator
 *
 * A reply is written in the config as "554 5.7.1 Rejected - text": a 4xx or
 * 5xx code, an optional enhanced status code of the same class, and text.
 * reply_parse validates it once, at start-up, so that a callback can hand the
 * parts to smfi_setreply without any check in the hot path: libmilter
 * silently ignores a reply whose class contradicts the return code, and
 * Postfix treats a malformed one as a milter configuration error.
 */
#ifndef CHAPPS_REPLY_H
#define CHAPPS_REPLY_H

#include <stdbool.h>
#include <stddef.h>

/* libmilter's MAXREPLYLEN is 980 for the whole line. */
#define REPLY_TEXT_MAX 900

struct reply {
	char code[4];		/* "554" */
	char xcode[16];		/* "5.7.1", or "" when none was given */
	char *text;		/* text as configured (for logs and -d) */
	char *milter_text;	/* text with every % doubled, for smfi_setreply */
	bool temporary;		/* 4xx */
};

/*
 * reply_parse - parse s into *reply (fields allocated; free with
 * reply_clear).  Returns 0, or -1 with a static message in *error_r:
 * not 4xx/5xx, enhanced code of another class or malformed, CR or LF or
 * another control character, text too long, or no text at all.
 * Thread-safe.
 */
int reply_parse(const char *s, struct reply *reply, const char **error_r);

/* reply_clear - free what reply_parse allocated; safe to repeat. */
void reply_clear(struct reply *reply);

/* reply_copy - deep copy src into dst. */
void reply_copy(struct reply *dst, const struct reply *src);

/*
 * reply_format - write "554 5.7.1 text" into buf (always terminated).
 * Returns buf.
 */
char *reply_format(const struct reply *reply, char *buf, size_t size);

#endif
