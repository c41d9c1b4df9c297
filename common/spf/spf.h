/*
 * spf - SPF checks (RFC 7208) with libspf2, bounded in time, safe in threads
 *
 * One struct spf_checker is made at start-up and shared by every thread;
 * spf_check runs one complete evaluation for a message: the HELO identity
 * first, then MAIL FROM (an empty MAIL FROM is checked as
 * postmaster@<helo>, identity "helo").  When the HELO result is "fail" it
 * is the answer; otherwise the MAIL FROM result is.  One overall time
 * budget covers every DNS look-up of the evaluation; a check that runs out
 * is temperror.
 *
 * libspf2 must never abort the process: its error handler (SPF_error calls
 * abort() after the handler) is replaced at spf_checker_create by one that
 * records the error and unwinds the check, which then reports temperror.
 * The handlers are process-wide (libspf2 globals): nothing else in the
 * process may install its own.
 *
 * The DNS layer is chosen at creation: the system resolver (optionally one
 * given name server) for the milter, or an in-memory zone
 * (spf_checker_create_zone) for tests, so no test touches the network.
 */
#ifndef CHAPPS_SPF_H
#define CHAPPS_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

struct spf_checker;

enum spf_result {
	SPF_RESULT_NONE = 0,
	SPF_RESULT_NEUTRAL,
	SPF_RESULT_PASS,
	SPF_RESULT_FAIL,
	SPF_RESULT_SOFTFAIL,
	SPF_RESULT_TEMPERROR,
	SPF_RESULT_PERMERROR,
};

struct spf_outcome {
	enum spf_result result;
	bool helo_identity;		/* the answer came from the HELO check */
	char reason[512];		/* explanation, e.g. "SPF fail - not authorized";
					   printable ASCII only, "" for none */
	char header[1024];		/* value of Received-SPF: (no name, no CRLF),
					   under 980 bytes; "" when no header can be
					   made (invalid client address) */
};

/*
 * spf_checker_create - a checker on the system resolver (/etc/resolv.conf,
 * re-read every minute), with receiver (the name written in Received-SPF,
 * e.g. the milter host's name; 1..253 printable characters, copied).
 * Returns 0, or -1 with *error_r (static text).
 */
int spf_checker_create(const char *receiver, struct spf_checker **checker_r,
		       const char **error_r);

/*
 * spf_checker_create_ns - like spf_checker_create, but every query goes to
 * nameserver, "IPv4" or "IPv4:port" (port 53 by default), instead of the
 * servers of resolv.conf.  NULL is spf_checker_create.  For a dedicated
 * resolver, and for tests with a local fake DNS server.
 */
int spf_checker_create_ns(const char *receiver, const char *nameserver,
			  struct spf_checker **checker_r, const char **error_r);

/*
 * spf_checker_create_zone - a checker that answers DNS from records given
 * as "name TYPE data" lines (TYPE: A, AAAA, TXT, MX, PTR; data is the rest
 * of the line, MX data "pref host").  Names not given do not exist.  Special
 * data, for tests:
 *   TIMEOUT   the look-up of that name and type never answers: it blocks
 *             until the check's deadline, then fails (temperror);
 *   TEMPFAIL  the look-up fails at once with a temporary DNS error;
 *   LIBERROR  the DNS layer reports an internal failure, on which libspf2
 *             calls SPF_error() (and, without this module, abort()).
 * The records are copied.  Returns 0, or -1 with *error_r (static text).
 */
int spf_checker_create_zone(const char *receiver, const char *const *records, size_t n,
			    struct spf_checker **checker_r, const char **error_r);

/*
 * spf_checker_create_zone_file - spf_checker_create_zone with the records
 * read from the file at path, one per line; empty lines and lines starting
 * with '#' are skipped (spf.test_zone: the end-to-end tests run SPF
 * without one query leaving the machine).  Returns 0, or -1 with *error_r
 * (static text), e.g. "spf.test_zone: cannot open the file".
 */
int spf_checker_create_zone_file(const char *receiver, const char *path,
				 struct spf_checker **checker_r, const char **error_r);

/*
 * spf_checker_destroy - free *checker and set it to NULL; NULL is fine.  No
 * spf_check may be running on it.  Also frees the calling thread's resolver
 * state (other threads free theirs when they exit).
 */
void spf_checker_destroy(struct spf_checker **checker);

/*
 * spf_check - evaluate client_ip (IPv4 or IPv6 text, "IPv6:" prefix and
 * IPv4-mapped IPv6 accepted), helo and sender ("" for the null sender;
 * surrounding <> are removed) within budget_ms (0: no look-up at all, so
 * temperror as soon as DNS is needed).  Always fills *out (never
 * fails: every problem is a temperror or permerror result).  A HELO that
 * is not a domain name (an address literal, a single label) is not
 * checked; a malformed sender domain is "none" (RFC 7208 section 4.3).
 * Loopback clients are checked like any other (libspf2's own "localhost
 * always passes" is not applied).  Thread-safe; the strings are borrowed
 * for the call.
 *
 * Time: the check ends within budget_ms plus at most about one second
 * (the system resolver's timeouts are whole seconds), except when a reply
 * is truncated and the resolver falls back to TCP, which glibc does not
 * time out.
 */
void spf_check(struct spf_checker *checker, const char *client_ip, const char *helo,
	       const char *sender, unsigned budget_ms, struct spf_outcome *out);

/* spf_result_name - "pass", "fail", "softfail", "neutral", "none", ... */
const char *spf_result_name(enum spf_result result);

/*
 * spf_result_class - the error class (base/error.h) of a result:
 * temperror is ERROR_TEMPORARY, permerror ERROR_INPUT (the domain's
 * published record is broken: retrying will not mend it), every verdict
 * ERROR_NONE.  A failed spf_checker_create* records ERROR_CONFIG (bad
 * receiver, name server or zone) or ERROR_TEMPORARY (libspf2 could not
 * make its server) for error_class_last().
 */
enum error_class spf_result_class(enum spf_result result);

#endif
