/*
 * log - one place where chapps writes log lines
 *
 * Lines go to syslog, or to stderr when running in the foreground.  Tests
 * can capture every line into a buffer instead (log_capture_*), and assert
 * on what was logged.  common/ modules never log (STYLE rule 11): they return
 * an error string, and milter/ or cli/ logs it here.
 *
 * All functions are thread-safe once log_open has returned; log_open and
 * log_capture_start are called before any thread starts.
 */
#ifndef CHAPPS_LOG_H
#define CHAPPS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/*
 * log_open - start logging under ident.  facility is a syslog facility
 * (LOG_MAIL ...).  With to_stderr, lines go to stderr prefixed with the
 * ident and the level; otherwise to syslog.  Lines above level are dropped.
 */
void log_open(const char *ident, int facility, bool to_stderr, enum log_level level);

/*
 * log_errors_to_stderr - while on, warnings and errors logged to syslog are
 * also written to stderr (a daemon's start-up, until it has detached).
 */
void log_errors_to_stderr(bool on);

/* log_close - close syslog; safe to call when not open. */
void log_close(void);

/* log_set_level - change the level at run time (reload). */
void log_set_level(enum log_level level);

/* log_enabled - would a line at this level be written? */
bool log_enabled(enum log_level level);

/*
 * log_facility_from_name - map "mail", "local0".."local7", "daemon", "user"
 * to a syslog facility.  Returns -1 for an unknown name.
 */
int log_facility_from_name(const char *name);

/*
 * log_level_from_name - map "error", "warning", "info", "debug" to a level.
 * Returns -1 for an unknown name.
 */
int log_level_from_name(const char *name);

/* log_level_name - the inverse of log_level_from_name. */
const char *log_level_name(enum log_level level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_fatal - log at error level and exit(status). */
void log_fatal(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* log_panic - log an invariant violation and abort(). */
void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * log_sanitize - copy src into dst (of size dstsize, always terminated) with
 * every byte outside printable ASCII written as \xNN, and cut with "..." when
 * it does not fit.  A NULL src is written as "".  Returns dst.  Used for every
 * client-supplied value that reaches a log line.
 */
char *log_sanitize(char *dst, size_t dstsize, const char *src);

/*
 * One policy decision, as logged by log_decision.  Every string is borrowed
 * for the duration of the call and may be NULL (then left out).
 */
struct log_decision {
	const char *queue_id;	/* NULL or "" logs NOQUEUE */
	const char *action;	/* "reject", "tempfail", "accept", ... */
	const char *stage;	/* "CONNECT", "MAIL", "RCPT", "DATA", "EOM" */
	const char *client_name;
	const char *client_addr;
	const char *reply;	/* "554 5.7.1 text" or NULL */
	const char *user;
	const char *key;	/* resolver key that named the user */
	const char *sender;	/* envelope sender, "" for <> */
	const char *rcpt;	/* this recipient, for RCPT-stage decisions */
	const char *policy;	/* policy that decided */
	const char *extra;	/* free text appended last, e.g. "used=3/10" */
};

/*
 * log_decision - write one line, shaped like Postfix's own:
 *   QUEUEID: reject: MAIL from host[addr]: 554 5.7.1 text; user=<u> from=<s>
 *   to=<r> policy=quota key=sasl_username
 * Rejections and tempfails are logged at info, accepts at info too (they
 * are the audit trail).  Client-supplied values are sanitized.
 */
void log_decision(const struct log_decision *d);

/*
 * log_capture_start - from now on keep every line (at any level up to
 * level) in memory instead of writing it.  For tests only.
 */
void log_capture_start(enum log_level level);

/* log_capture_text - the captured lines, newline-separated; borrowed until
 * the next log call or log_capture_stop. */
const char *log_capture_text(void);

/* log_capture_stop - discard the capture buffer and stop capturing. */
void log_capture_stop(void);

#endif
