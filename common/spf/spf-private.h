/*
 * spf-private.h - what spf.c shares with its DNS layer (spf_dns.c) and
 * test zone (spf_zone.c)
 *
 * libspf2's headers, with its result names renamed out of the way of
 * ours; the checker; the guard through which libspf2's SPF_error unwinds
 * (struct spf_eval, owned by spf.c); and the per-thread state of the check
 * running in this thread (deadline, budget and refusal flags), which the
 * DNS layer sets and spf.c reads to word its results.
 */
#ifndef CHAPPS_SPF_PRIVATE_H
#define CHAPPS_SPF_PRIVATE_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <setjmp.h>
#include <stdbool.h>
#include <time.h>

/* libspf2 names its result enumerators as spf.h names ours: rename its */
#define SPF_RESULT_INVALID LIBSPF2_RESULT_INVALID
#define SPF_RESULT_NEUTRAL LIBSPF2_RESULT_NEUTRAL
#define SPF_RESULT_PASS LIBSPF2_RESULT_PASS
#define SPF_RESULT_FAIL LIBSPF2_RESULT_FAIL
#define SPF_RESULT_SOFTFAIL LIBSPF2_RESULT_SOFTFAIL
#define SPF_RESULT_NONE LIBSPF2_RESULT_NONE
#define SPF_RESULT_TEMPERROR LIBSPF2_RESULT_TEMPERROR
#define SPF_RESULT_PERMERROR LIBSPF2_RESULT_PERMERROR
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>
#undef SPF_RESULT_INVALID
#undef SPF_RESULT_NEUTRAL
#undef SPF_RESULT_PASS
#undef SPF_RESULT_FAIL
#undef SPF_RESULT_SOFTFAIL
#undef SPF_RESULT_NONE
#undef SPF_RESULT_TEMPERROR
#undef SPF_RESULT_PERMERROR

#include "spf/spf.h"

#define SPF_TERM_MAX 512		/* longest term of an SPF record given to libspf2 */

struct spf_zone;

struct spf_checker {
	SPF_server_t *server;
	SPF_dns_server_t *layer;	/* ours (spf_dns.c), on top */
	struct spf_zone *zone;		/* the test zone below it, or NULL */
	char *receiver;
	bool ns_set;			/* one name server instead of resolv.conf's */
	struct sockaddr_in ns;
};

/*
 * One guarded libspf2 call sequence.  It lives in the frame of the function
 * that calls the one doing sigsetjmp, so its fields keep their values across
 * the siglongjmp (C11 7.13.2.1).
 */
struct spf_eval {
	sigjmp_buf env;
	SPF_request_t *req;
	SPF_response_t *resp;
	SPF_errcode_t err;		/* what spf_query returned */
	bool unwound;			/* SPF_error was called */
	char libmsg[200];		/* its message */
};

/* what a thread's running check needs in the DNS layer and error handler */
struct spf_thread {
	struct spf_eval *guard;		/* where SPF_error unwinds to, or NULL */
	struct timespec deadline;	/* CLOCK_MONOTONIC */
	bool budget_hit;		/* a look-up was refused or timed out */
	bool refused;			/* an SPF record was refused (SPF_TERM_MAX) */
};

/* the check running in this thread (defined in spf.c) */
extern _Thread_local struct spf_thread spf_thread;

#endif
