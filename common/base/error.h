/*
 * error - the one error convention of common/
 *
 * Status.  A function that can fail returns an int status: 0 (a module's
 * *_OK) for success, a positive module status for an expected answer that
 * is not success (POLICYDB_NOTFOUND, POLICYDB_EXISTS, STORE_* "no such
 * key"...), and a negative value (-1, a module's *_ERROR) for a failure.
 * Constructors return 0 or -1.  Functions that cannot fail return void,
 * and functions whose answer is a verdict (spf_check) fold their failures
 * into the verdict (temperror, permerror) and never fail.
 *
 * Text.  A failure always comes with one line of text saying what failed,
 * for the caller to log or print; common/ never logs its own failures.
 * The text is returned in one of two ways, chosen per function and said in
 * its header:
 *   - const char **error_r: *error_r is set to static text (or text that
 *     lives as long as the object the call was made on);
 *   - char *err, size_t errsize: the caller's buffer, filled with formatted
 *     text (error_format), always NUL-terminated; err may be NULL when
 *     errsize is 0.
 * The text says what, not what to do: the caller adds the context (a queue
 * ID, a config file name and line).
 *
 * Class.  Every failure belongs to one class, which tells the caller what
 * to do with it (after Postfix's DICT_ERR_RETRY / DICT_ERR_CONFIG):
 *   ERROR_TEMPORARY  the same call may succeed later: a backend down or
 *                    busy, a time-out, a lost connection.  A milter
 *                    answers TEMPFAIL; a command line tool exits
 *                    EX_TEMPFAIL.
 *   ERROR_CONFIG     cannot work as configured: a bad setting, a database
 *                    without its schema, a file that cannot be opened.
 *                    Fatal at start-up (EX_CONFIG); at run time a milter
 *                    can only TEMPFAIL until an operator acts.
 *   ERROR_INPUT      this input is refused, retrying it will not help: a
 *                    malformed name, a value out of range, an SPF
 *                    permerror.  A milter rejects the message (or applies
 *                    its policy for it); a command line tool exits
 *                    EX_DATAERR / EX_USAGE.
 * The class of the failure a function just returned is read with
 * error_class_last(), as errno is: every failure path of a module that
 * follows this convention calls error_class_set() (error_format_class does
 * both), and the caller reads the class right after the failing call, in
 * the same thread, before any other call into common/.  The value after a
 * success is unspecified.  Keeping the class out of the status value lets
 * modules whose callers and tests compare against -1 or *_ERROR adopt the
 * convention without changing a single signature or return value.
 *
 * Which modules follow it: common/policydb (every POLICYDB_ERROR and the
 * -1 of policydb_open) and common/spf (the -1 of the constructors; the
 * verdicts through spf_result_class).  Invariant violations are not
 * errors: they assert().
 *
 * Thread safety: the class is thread-local; the functions are safe in
 * threads.
 */
#ifndef CHAPPS_ERROR_H
#define CHAPPS_ERROR_H

#include <stddef.h>

enum error_class {
	ERROR_NONE = 0,		/* no failure */
	ERROR_TEMPORARY,	/* retry later: backend down, time-out, busy */
	ERROR_CONFIG,		/* cannot work as configured */
	ERROR_INPUT,		/* refuse this input */
};

/*
 * error_class_set - record class as the calling thread's last failure
 * class.  Returns nothing; meant for the failure paths of common/.
 */
void error_class_set(enum error_class class);

/*
 * error_class_last - the class the calling thread's last failing call into
 * a module following this convention recorded (ERROR_NONE when none ever
 * did).  Read it right after the failing call.
 */
enum error_class error_class_last(void);

/* error_class_name - "temporary", "configuration", "bad input" or "none" */
const char *error_class_name(enum error_class class);

/*
 * error_format - format into the caller's buffer err of errsize bytes
 * (always terminated; err NULL or errsize 0: nothing is written).
 */
void error_format(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* error_format_class - error_class_set(class), then error_format */
void error_format_class(enum error_class class, char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
