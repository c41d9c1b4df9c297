/*
 * NAME
 *	spf - SPF checks (RFC 7208) on libspf2, bounded in time, safe in threads
 * SUMMARY
 *	spf_checker_create[_ns|_zone]() -> struct spf_checker;
 *	spf_check(checker, ip, helo, sender, budget_ms, &outcome)
 * DESCRIPTION
 *	One libspf2 SPF_server_t per checker, shared by every thread: libspf2
 *	only reads it while it evaluates.  Each evaluation has its own
 *	SPF_request_t and SPF_response_t.  The HELO identity is evaluated
 *	with the request's use_helo flag (libspf2 1.2.10 has no setter; the
 *	field is public), MAIL FROM without.  spf_query does what
 *	SPF_request_query_mailfrom does (SPF_server_get_record, then
 *	SPF_record_interpret) without libspf2's "localhost always passes":
 *	loopback clients are checked like any other, as RFC 7208 and pyspf
 *	(CHAPPS) do -- which also lets tests through a local Postfix see real
 *	SPF results.
 *
 *	DNS.  libspf2 asks its DNS layer (SPF_dns_server_t) for every record.
 *	The checker's own layer sits on top and
 *	  - answers type SPF (99) with "no data" without asking anyone:
 *	    RFC 7208 section 3.1 allows TXT only, and libspf2 1.2.10 asks for
 *	    type 99 first, doubling the queries;
 *	  - refuses every look-up once the thread's deadline has passed
 *	    (TRY_AGAIN, which libspf2 turns into temperror);
 *	  - on the system resolver, queries with res_nquery() on a res_state
 *	    of its own per thread (a pthread key; re-initialised from
 *	    resolv.conf every SPF_RES_REFRESH seconds), with the timeout and
 *	    the number of servers tried cut to the time left (see Precision);
 *	  - on a test zone, answers from libspf2's SPF_dns_zone layer below
 *	    it, plus the special data TIMEOUT (sleep to the deadline, then
 *	    TRY_AGAIN), TEMPFAIL (TRY_AGAIN at once) and LIBERROR (return NULL,
 *	    on which libspf2's SPF_dns_lookup calls SPF_error);
 *	  - screens every TXT string before libspf2 sees it: in strings that
 *	    are not SPF records, spaces become "%_" (libspf2 1.2.10 parses an
 *	    explanation like a domain-spec, where a space is not literal, and
 *	    turns "go away" into "go%away"; in RFC 7208's explanation-string
 *	    grammar a space and "%_" mean the same), and the text is dropped
 *	    ("" = our default reason) when longer than SPF_EXP_MAX; an SPF
 *	    record with a term longer than SPF_TERM_MAX is replaced by one
 *	    with an unknown mechanism, so it is a permerror (see Memory
 *	    safety).
 *	libspf2's own resolv layer is not used: its thread-local res_state
 *	hides behind a static pthread key, so its timeouts cannot be set, and
 *	it calls SPF_error on a failed res_ninit.
 *
 *	Precision of the time budget.  Every look-up that starts after the
 *	deadline fails at once.  A look-up that starts before it asks only
 *	the first n = min(max(1, s), nscount) servers, s being the whole
 *	seconds left; retry = 2 when s allows two rounds, and retrans is s
 *	divided by rounds x servers.  glibc's send_dg waits retrans for the
 *	first server and (retrans << i) / nscount for server i > 0, so the
 *	look-up lasts at most max(1 s, time left) -- a check may overrun
 *	its budget by up to one second.  glibc's TCP path (send_vc, used
 *	when a UDP reply is truncated, or with "options use-vc") has no
 *	timeout at all: a name server that accepts the connection and never
 *	answers holds the check until the kernel gives up.  EDNS0 (RES_USE_EDNS0) is switched on so
 *	that replies up to 1200 bytes need no TCP.  Test zones sleep in steps
 *	of SPF_SLEEP_STEP ms, so a TIMEOUT record ends within a few ms of the
 *	deadline.
 *
 *	Errors.  libspf2's SPF_error() calls the error handler and then
 *	abort().  The handler installed here (process-wide, once) copies the
 *	message and siglongjmp()s back to the evaluation running in this
 *	thread (a thread-local pointer set only around libspf2 calls); the
 *	check reports temperror "SPF library error: <message>".  The request
 *	and response of that evaluation are freed; what libspf2 had allocated
 *	below them (compiled records, an include's sub-response, DNS answers
 *	being read, expansion buffers) is lost: a few hundred bytes, on a
 *	path that takes an out-of-memory condition or a libspf2 bug
 *	(tests/valgrind.supp names these leaks).  No lock is
 *	held across the unwind (this DNS layer holds none, and libspf2's
 *	cache layer, which has one, is not used).  An SPF_error outside any
 *	check still aborts.  Warnings, info and debug messages are dropped.
 *
 *	Memory safety.  Debian 12's libspf2 (1.2.10-7.2) carries the 2021 fix
 *	for CVE-2021-20314 (ds_avail reduced by the size of a data header)
 *	but not upstream's 2023 fix d14abff (CVE-2023-42118): when a compiled
 *	term reaches 508 of its 511 bytes after a macro, ds_avail underflows
 *	and the next literal is copied without bound into a stack buffer --
 *	4096 bytes for a mechanism or modifier, only 511 + header for an
 *	explanation.  "v=spf1 exists:" followed by 127 x "%{d}" and 6000
 *	letters crashes the process ("stack smashing detected"), and so do
 *	explanations of 215 bytes and more ("a%{d}" x 42, "%{d}", a letter).
 *	Compiled data is at most 2.4 times its source ("a%{d}": 5 bytes
 *	compile to 12), so an explanation of at most SPF_EXP_MAX (200) bytes
 *	compiles to under 490 bytes and never reaches the underflow, and a
 *	term of at most SPF_TERM_MAX (512) bytes can overrun its 511 bytes
 *	only inside the 4096-byte buffer, after which libspf2 reports the
 *	term too long.  (Checked with AddressSanitizer on the 1.2.10 source
 *	plus the 2021 fix: every term shape up to 512 bytes, random
 *	explanations up to 300.)  Real terms and explanations are far
 *	shorter.
 *
 *	Results.  libspf2's SPF_RESULT_INVALID (no verdict) is temperror
 *	when the cause is DNS or memory, and permerror when the record did
 *	not compile (RFC 7208 section 4.6).  libspf2's names for its results
 *	collide with ours (SPF_RESULT_PASS...): they are renamed LIBSPF2_*
 *	around its headers.
 *
 *	Received-SPF (RFC 7208 section 9.1) is built here, not taken from
 *	libspf2, whose value lacks receiver= and identity= and has the
 *	result in lower case:
 *	  Pass (rcv: domain of example.com designates 192.0.2.3 as permitted
 *	  sender) client-ip=192.0.2.3; envelope-from="a@example.com";
 *	  helo=mx.example.com; receiver=rcv; identity=mailfrom
 *	Every untrusted part is bounded (SPF_FIELD_MAX, SPF_COMMENT_MAX),
 *	control and non-ASCII bytes become '?', quotes and backslashes in
 *	quoted strings and parentheses in the comment are escaped, so the
 *	value is one line under 980 bytes.  mechanism= is not given (libspf2
 *	does not say which mechanism matched).
 * DIAGNOSTICS
 *	spf_checker_create*() return -1 with a static message.  spf_check
 *	never fails: every problem is a temperror or permerror outcome.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
#include "base/xalloc.h"

#define SPF_RES_REFRESH 60		/* seconds between res_ninit per thread */
#define SPF_ANSWER_MAX 65536		/* a DNS message */
#define SPF_SLEEP_STEP 10		/* ms, TIMEOUT records */
#define SPF_FIELD_MAX 160		/* header: envelope-from, helo, receiver */
#define SPF_COMMENT_MAX 240		/* header: the comment */
#define SPF_SENDER_MAX 510		/* longer senders are malformed (none) */
#define SPF_RECEIVER_MAX 253
#define SPF_TERM_MAX 512		/* longest term of an SPF record given to libspf2 */
#define SPF_EXP_MAX 200			/* longest explanation text given to libspf2 */
#define SPF_REFUSED_RECORD "v=spf1 x-chapps-refused-overlong-term"

enum spf_special_kind {
	SPF_SPECIAL_TIMEOUT,
	SPF_SPECIAL_LIBERROR,
};

struct spf_special {
	char *name;
	ns_type type;
	enum spf_special_kind kind;
};

struct spf_checker {
	SPF_server_t *server;
	SPF_dns_server_t *layer;	/* ours, on top */
	SPF_dns_server_t *zone;		/* libspf2's zone below it, or NULL */
	char *receiver;
	bool ns_set;			/* one name server instead of resolv.conf's */
	struct sockaddr_in ns;
	struct spf_special *specials;	/* zone: TIMEOUT and LIBERROR names */
	size_t n_specials;
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

static _Thread_local struct spf_thread spf_thread;

/* the system resolver's per-thread state */
struct spf_res {
	struct __res_state res;
	time_t since;			/* monotonic second of res_ninit */
	bool ns_set;			/* the override it was set up with */
	struct sockaddr_in ns;
};

static pthread_once_t spf_once = PTHREAD_ONCE_INIT;
static pthread_key_t spf_res_key;
static bool spf_res_key_ok;

/* spf_on_error - libspf2's SPF_error handler: unwind to the running check */
static void __attribute__((noreturn)) spf_on_error(const char *file, int line, const char *msg)
{
	struct spf_eval *ev = spf_thread.guard;

	(void)file;
	(void)line;
	if (ev == NULL)
		abort();	/* not inside a check: libspf2 aborts anyway */
	spf_thread.guard = NULL;
	snprintf(ev->libmsg, sizeof(ev->libmsg), "%s", msg != NULL ? msg : "(no message)");
	siglongjmp(ev->env, 1);
}

/* spf_res_free - pthread key destructor of struct spf_res */
static void spf_res_free(void *arg)
{
	struct spf_res *r = arg;

	res_nclose(&r->res);
	free(r);
}

/* spf_init_once - install libspf2's handlers and make the resolver key */
static void spf_init_once(void)
{
	SPF_error_handler = spf_on_error;
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
	spf_res_key_ok = pthread_key_create(&spf_res_key, spf_res_free) == 0;
}

/* ---- time ---------------------------------------------------------------- */

/* spf_left_ms - milliseconds to this thread's deadline (<= 0: passed) */
static long spf_left_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(spf_thread.deadline.tv_sec - now.tv_sec) * 1000 +
	       (spf_thread.deadline.tv_nsec - now.tv_nsec) / 1000000;
}

/* spf_set_deadline - this thread's deadline is budget_ms from now */
static void spf_set_deadline(unsigned budget_ms)
{
	struct timespec *d = &spf_thread.deadline;

	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += budget_ms / 1000;
	d->tv_nsec += (long)(budget_ms % 1000) * 1000000;
	if (d->tv_nsec >= 1000000000) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000;
	}
	spf_thread.budget_hit = false;
}

/* spf_sleep_to_deadline - sleep in small steps until the deadline */
static void spf_sleep_to_deadline(void)
{
	long left;

	while ((left = spf_left_ms()) > 0) {
		struct timespec ts;

		if (left > SPF_SLEEP_STEP)
			left = SPF_SLEEP_STEP;
		ts.tv_sec = 0;
		ts.tv_nsec = left * 1000000;
		nanosleep(&ts, NULL);
	}
}

/* ---- DNS answers --------------------------------------------------------- */

/* spf_get16 - a big-endian 16-bit number */
static unsigned spf_get16(const unsigned char *p)
{
	return ((unsigned)p[0] << 8) | p[1];
}

/* spf_is_spf_record - the len bytes of text start an SPF record ("v=spf1" + space or end) */
static bool spf_is_spf_record(const char *text, size_t len)
{
	return len >= 6 && strncasecmp(text, "v=spf1", 6) == 0 && (len == 6 || text[6] == ' ');
}

/*
 * spf_txt_screen - what libspf2 may see of a TXT string of len bytes (may
 * hold NULs, which become '?'); xmalloc'd.  See DESCRIPTION: an SPF record
 * with a term over SPF_TERM_MAX bytes is replaced by SPF_REFUSED_RECORD
 * (and the thread's refused flag set); in other strings spaces become
 * "%_", and a result over SPF_EXP_MAX bytes becomes "".
 */
static char *spf_txt_screen(const char *text, size_t len)
{
	bool spf = spf_is_spf_record(text, len);
	char *out = xmalloc(2 * len + 1), *dst = out;
	size_t i, run = 0;

	for (i = 0; i < len; i++) {
		if (spf) {
			run = text[i] == ' ' ? 0 : run + 1;
			if (run > SPF_TERM_MAX) {
				free(out);
				spf_thread.refused = true;
				return xstrdup(SPF_REFUSED_RECORD);
			}
		}
		if (text[i] == '\0') {
			*dst++ = '?';
		} else if (text[i] == ' ' && !spf) {
			*dst++ = '%';
			*dst++ = '_';
		} else {
			*dst++ = text[i];
		}
	}
	*dst = '\0';
	if (!spf && (size_t)(dst - out) > SPF_EXP_MAX)
		out[0] = '\0';
	return out;
}

/* spf_put_txt - store the screened TXT text (len bytes) as rr->rr[idx]; -1 out of memory */
static int spf_put_txt(SPF_dns_rr_t *rr, int idx, const char *text, size_t len)
{
	char *s = spf_txt_screen(text, len);
	int st = 0;

	if (SPF_dns_rr_buf_realloc(rr, idx, strlen(s) + 1) == SPF_E_SUCCESS)
		strcpy(rr->rr[idx]->txt, s);
	else
		st = -1;
	free(s);
	return st;
}

/* spf_fix_txt - screen a TXT answer from the zone as the resolver's are */
static SPF_dns_rr_t *spf_fix_txt(SPF_dns_rr_t *rr)
{
	int i;

	if (rr == NULL || rr->rr_type != ns_t_txt)
		return rr;
	for (i = 0; i < rr->num_rr; i++) {
		char *copy = xstrdup(rr->rr[i]->txt);
		int st = spf_put_txt(rr, i, copy, strlen(copy));

		free(copy);
		if (st < 0) {
			SPF_dns_rr_free(rr);
			return NULL;
		}
	}
	return rr;
}

/*
 * spf_put_rdata - store one record's data as rr->rr[idx].  Returns 0, 1 when
 * the data is malformed (skipped), -1 out of memory.
 */
static int spf_put_rdata(SPF_dns_rr_t *rr, int idx, ns_type type, const unsigned char *msg,
			 const unsigned char *end, const unsigned char *rdata, unsigned rdlen)
{
	char name[NS_MAXDNAME];
	char *text;
	size_t len, n;
	unsigned i;
	int st;

	switch (type) {
	case ns_t_a:
		if (rdlen != sizeof(struct in_addr))
			return 1;
		if (SPF_dns_rr_buf_realloc(rr, idx, sizeof(struct in_addr)) != SPF_E_SUCCESS)
			return -1;
		memcpy(&rr->rr[idx]->a, rdata, sizeof(struct in_addr));
		return 0;
	case ns_t_aaaa:
		if (rdlen != sizeof(struct in6_addr))
			return 1;
		if (SPF_dns_rr_buf_realloc(rr, idx, sizeof(struct in6_addr)) != SPF_E_SUCCESS)
			return -1;
		memcpy(&rr->rr[idx]->aaaa, rdata, sizeof(struct in6_addr));
		return 0;
	case ns_t_mx:
	case ns_t_ptr:
		if (type == ns_t_mx && rdlen < 3)
			return 1;
		if (dn_expand(msg, end, rdata + (type == ns_t_mx ? 2 : 0), name, sizeof(name)) < 0)
			return 1;
		if (SPF_dns_rr_buf_realloc(rr, idx, strlen(name) + 1) != SPF_E_SUCCESS)
			return -1;
		strcpy(type == ns_t_mx ? rr->rr[idx]->mx : rr->rr[idx]->ptr, name);
		return 0;
	case ns_t_txt:
		/* character-strings, concatenated (RFC 7208 section 3.3) */
		text = xmalloc(rdlen + 1);
		for (i = 0, len = 0; i < rdlen; i += 1 + n) {
			n = rdata[i];
			if (i + 1 + n > rdlen) {
				free(text);
				return 1;
			}
			memcpy(text + len, rdata + i + 1, n);
			len += n;
		}
		st = spf_put_txt(rr, idx, text, len) < 0 ? -1 : 0;
		free(text);
		return st;
	default:
		return 1;
	}
}

/*
 * spf_parse_answer - the records of type (answering domain) in the DNS
 * message msg of len bytes, as libspf2 wants them; NULL out of memory.
 * CNAMEs in the answer are skipped: the resolver followed them.
 */
static SPF_dns_rr_t *spf_parse_answer(SPF_dns_server_t *layer, const char *domain, ns_type type,
				      const unsigned char *msg, size_t len)
{
	const unsigned char *p = msg + HFIXEDSZ, *end = msg + len;
	SPF_dns_rr_t *rr;
	unsigned qd, an, i;
	int cnt = 0, n;

	if (len < HFIXEDSZ)
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_RECOVERY);
	qd = spf_get16(msg + 4);
	an = spf_get16(msg + 6);
	for (i = 0; i < qd; i++) {
		n = dn_skipname(p, end);
		if (n < 0 || end - p < n + 4)
			return SPF_dns_rr_new_init(layer, domain, type, 0, NO_RECOVERY);
		p += n + 4;
	}
	rr = SPF_dns_rr_new_init(layer, domain, type, 0, NETDB_SUCCESS);
	if (rr == NULL)
		return NULL;
	for (i = 0; i < an; i++) {
		unsigned rtype, rclass, rdlen;

		n = dn_skipname(p, end);
		if (n < 0 || end - p < n + 10)
			break;
		p += n;
		rtype = spf_get16(p);
		rclass = spf_get16(p + 2);
		rdlen = spf_get16(p + 8);
		p += 10;
		if ((size_t)(end - p) < rdlen)
			break;
		if (rtype == (unsigned)type && rclass == ns_c_in) {
			int st = spf_put_rdata(rr, cnt, type, msg, end, p, rdlen);

			if (st < 0) {
				SPF_dns_rr_free(rr);
				return NULL;
			}
			if (st == 0)
				cnt++;
		}
		p += rdlen;
	}
	rr->num_rr = cnt;
	if (cnt == 0)
		rr->herrno = NO_DATA;
	return rr;
}

/* ---- the system resolver ------------------------------------------------- */

/* spf_res_get - this thread's resolver state, set up for c; NULL on failure */
static struct __res_state *spf_res_get(const struct spf_checker *c)
{
	struct spf_res *r;
	struct timespec now;

	if (!spf_res_key_ok)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &now);
	r = pthread_getspecific(spf_res_key);
	if (r != NULL && (now.tv_sec - r->since >= SPF_RES_REFRESH || r->ns_set != c->ns_set ||
			  (c->ns_set && memcmp(&r->ns, &c->ns, sizeof(r->ns)) != 0))) {
		pthread_setspecific(spf_res_key, NULL);
		spf_res_free(r);
		r = NULL;
	}
	if (r != NULL)
		return &r->res;
	r = xcalloc(1, sizeof(*r));
	if (res_ninit(&r->res) != 0) {
		free(r);	/* not res_nclose: its socket fields may be unset */
		return NULL;
	}
	r->since = now.tv_sec;
	r->res.options |= RES_USE_EDNS0;
	r->ns_set = c->ns_set;
	if (c->ns_set) {
		r->ns = c->ns;
		r->res.nsaddr_list[0] = c->ns;
		r->res.nscount = 1;
	}
	if (pthread_setspecific(spf_res_key, r) != 0) {
		spf_res_free(r);
		return NULL;
	}
	return &r->res;
}

/*
 * spf_res_release - free this thread's resolver state now (other threads'
 * go at their exit; the main thread's would otherwise never go)
 */
static void spf_res_release(void)
{
	struct spf_res *r;

	if (!spf_res_key_ok || (r = pthread_getspecific(spf_res_key)) == NULL)
		return;
	pthread_setspecific(spf_res_key, NULL);
	spf_res_free(r);
}

/* spf_resolv_lookup - ask the system resolver, within left_ms (see DESCRIPTION) */
static SPF_dns_rr_t *spf_resolv_lookup(SPF_dns_server_t *layer, const char *domain,
				       ns_type type, long left_ms)
{
	const struct spf_checker *c = layer->hook;
	struct __res_state *res = spf_res_get(c);
	unsigned char *msg;
	SPF_dns_rr_t *rr;
	int nscount, use, tries, secs, len;

	if (res == NULL || res->nscount < 1)
		return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
	nscount = res->nscount;
	secs = left_ms / 1000 > 60 ? 60 : (int)(left_ms / 1000);
	use = nscount < secs ? nscount : secs;
	if (use < 1)
		use = 1;
	tries = secs >= 2 * use ? 2 : 1;
	res->nscount = use;
	res->retry = tries;
	res->retrans = secs / (tries * use) < 1 ? 1 : secs / (tries * use);
	msg = xmalloc(SPF_ANSWER_MAX);
	len = res_nquery(res, domain, ns_c_in, type, msg, SPF_ANSWER_MAX);
	res->nscount = nscount;
	if (len < 0) {
		int herr = res->res_h_errno;

		free(msg);
		if (herr != HOST_NOT_FOUND && herr != NO_DATA && herr != NO_RECOVERY)
			herr = TRY_AGAIN;	/* timeout, SERVFAIL, no server */
		if (herr == TRY_AGAIN && spf_left_ms() <= 0)
			spf_thread.budget_hit = true;
		return SPF_dns_rr_new_init(layer, domain, type, 0, herr);
	}
	rr = spf_parse_answer(layer, domain, type, msg,
			      len > SPF_ANSWER_MAX ? SPF_ANSWER_MAX : (size_t)len);
	free(msg);
	return rr;
}

/* ---- the layer ----------------------------------------------------------- */

/* spf_special_find - the zone's TIMEOUT or LIBERROR entry for domain and type */
static const struct spf_special *spf_special_find(const struct spf_checker *c, const char *domain,
						   ns_type type)
{
	size_t len = strlen(domain), i;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	for (i = 0; i < c->n_specials; i++) {
		const struct spf_special *s = &c->specials[i];

		if (s->type == type && strlen(s->name) == len && strncasecmp(s->name, domain, len) == 0)
			return s;
	}
	return NULL;
}

/* spf_layer_lookup - the lookup method of our layer (see DESCRIPTION) */
static SPF_dns_rr_t *spf_layer_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
				      int should_cache)
{
	const struct spf_checker *c = layer->hook;
	const struct spf_special *s;
	long left;

	if (type == ns_t_spf)
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
	left = spf_left_ms();
	if (left <= 0) {
		spf_thread.budget_hit = true;
		return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
	}
	if (c->zone == NULL)
		return spf_resolv_lookup(layer, domain, type, left);
	s = spf_special_find(c, domain, type);
	if (s != NULL && s->kind == SPF_SPECIAL_LIBERROR)
		return NULL;
	if (s != NULL) {
		spf_sleep_to_deadline();
		spf_thread.budget_hit = true;
		return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
	}
	return spf_fix_txt(SPF_dns_lookup(c->zone, domain, type, should_cache));
}

/* spf_layer_free - the destroy method of our layer */
static void spf_layer_free(SPF_dns_server_t *layer)
{
	free(layer);
}

/* spf_layer_new - our layer for c, over below (NULL: the system resolver) */
static SPF_dns_server_t *spf_layer_new(struct spf_checker *c, SPF_dns_server_t *below)
{
	SPF_dns_server_t *l = xcalloc(1, sizeof(*l));

	l->destroy = spf_layer_free;	/* non-NULL: SPF_dns_free frees below too */
	l->lookup = spf_layer_lookup;
	l->layer_below = below;
	l->name = "chapps";
	l->hook = c;
	return l;
}

/* ---- creation ------------------------------------------------------------ */

/*
 * spf_server_setup - make c->server over c->layer, guarded by ev (libspf2
 * may call SPF_error while it compiles its default explanation).
 */
static int spf_server_setup(struct spf_checker *c, struct spf_eval *ev)
{
	if (sigsetjmp(ev->env, 0) != 0)
		return -1;
	spf_thread.guard = ev;
	c->server = SPF_server_new_dns(c->layer, 0);
	if (c->server != NULL) {
		SPF_response_t *resp = NULL;

		ev->err = SPF_server_set_rec_dom(c->server, c->receiver);
		if (ev->err == SPF_E_SUCCESS)
			ev->err = SPF_server_set_sanitize(c->server, 1);
		/* no default explanation: an empty one means "use ours" */
		if (ev->err == SPF_E_SUCCESS)
			ev->err = SPF_server_set_explanation(c->server, "", &resp);
		if (resp != NULL)
			SPF_response_free(resp);
	}
	spf_thread.guard = NULL;
	return c->server != NULL && ev->err == SPF_E_SUCCESS ? 0 : -1;
}

/* spf_receiver_ok - receiver is 1..SPF_RECEIVER_MAX printable characters */
static bool spf_receiver_ok(const char *receiver)
{
	size_t i;

	if (receiver == NULL || receiver[0] == '\0' || strlen(receiver) > SPF_RECEIVER_MAX)
		return false;
	for (i = 0; receiver[i] != '\0'; i++)
		if (receiver[i] <= ' ' || receiver[i] > '~')
			return false;
	return true;
}

/* spf_checker_new - the part of creation common to all DNS layers */
static struct spf_checker *spf_checker_new(const char *receiver)
{
	struct spf_checker *c = xcalloc(1, sizeof(*c));

	pthread_once(&spf_once, spf_init_once);
	c->receiver = xstrdup(receiver);
	return c;
}

/* spf_checker_finish - make the server; on failure free c */
static int spf_checker_finish(struct spf_checker *c, struct spf_checker **checker_r,
			      const char **error_r)
{
	struct spf_eval ev;

	memset(&ev, 0, sizeof(ev));
	if (spf_server_setup(c, &ev) < 0) {
		*error_r = "libspf2 could not create its SPF server";
		spf_checker_destroy(&c);
		return -1;
	}
	*checker_r = c;
	return 0;
}

/* spf_parse_ns - "IPv4[:port]" into sin */
static int spf_parse_ns(const char *s, struct sockaddr_in *sin)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t len = colon != NULL ? (size_t)(colon - s) : strlen(s);
	unsigned long port = 53;

	if (len == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	if (colon != NULL) {
		char *end;

		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno != 0 || end == colon + 1 || *end != '\0' || port == 0 || port > 65535)
			return -1;
	}
	sin->sin_port = htons((uint16_t)port);
	return 0;
}

int spf_checker_create(const char *receiver, struct spf_checker **checker_r,
		       const char **error_r)
{
	return spf_checker_create_ns(receiver, NULL, checker_r, error_r);
}

int spf_checker_create_ns(const char *receiver, const char *nameserver,
			  struct spf_checker **checker_r, const char **error_r)
{
	struct spf_checker *c;
	struct sockaddr_in ns;

	if (!spf_receiver_ok(receiver)) {
		*error_r = "SPF receiver must be 1 to 253 printable characters";
		return -1;
	}
	if (nameserver != NULL && spf_parse_ns(nameserver, &ns) < 0) {
		*error_r = "SPF name server must be an IPv4 address, optionally with :port";
		return -1;
	}
	c = spf_checker_new(receiver);
	if (nameserver != NULL) {
		c->ns_set = true;
		c->ns = ns;
	}
	c->layer = spf_layer_new(c, NULL);
	return spf_checker_finish(c, checker_r, error_r);
}

/* spf_zone_type - a record type name */
static int spf_zone_type(const char *s, size_t len, ns_type *type_r)
{
	static const struct {
		const char *name;
		ns_type type;
	} types[] = {
		{"A", ns_t_a}, {"AAAA", ns_t_aaaa}, {"TXT", ns_t_txt}, {"MX", ns_t_mx}, {"PTR", ns_t_ptr},
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strlen(types[i].name) == len && strncasecmp(types[i].name, s, len) == 0) {
			*type_r = types[i].type;
			return 0;
		}
	}
	return -1;
}

/*
 * spf_zone_add - add one "name TYPE data" line to c's zone, guarded by ev
 * (libspf2's zone calls SPF_error on some bad input).
 */
static int spf_zone_add(struct spf_checker *c, const char *line, struct spf_eval *ev,
			const char **error_r)
{
	const char *name = line, *t, *data;
	size_t name_len, type_len;
	ns_type type;
	char *owner;
	SPF_errcode_t err;

	*error_r = "zone record is not \"name TYPE data\"";
	while (*name == ' ' || *name == '\t')
		name++;
	name_len = strcspn(name, " \t");
	t = name + name_len;
	t += strspn(t, " \t");
	type_len = strcspn(t, " \t");
	data = t + type_len;
	data += strspn(data, " \t");
	if (name_len == 0 || type_len == 0 || *data == '\0')
		return -1;
	if (spf_zone_type(t, type_len, &type) < 0) {
		*error_r = "zone record type must be A, AAAA, TXT, MX or PTR";
		return -1;
	}
	owner = xstrndup(name, name_len);
	if (strcmp(data, "TIMEOUT") == 0 || strcmp(data, "LIBERROR") == 0) {
		struct spf_special *s;

		c->specials = xreallocarray(c->specials, c->n_specials + 1, sizeof(*c->specials));
		s = &c->specials[c->n_specials++];
		s->name = owner;
		s->type = type;
		s->kind = data[0] == 'T' ? SPF_SPECIAL_TIMEOUT : SPF_SPECIAL_LIBERROR;
		return 0;
	}
	if (sigsetjmp(ev->env, 0) != 0) {
		free(owner);
		*error_r = "libspf2 refused a zone record";
		return -1;
	}
	spf_thread.guard = ev;
	/* data, not NULL, even for TEMPFAIL: libspf2 appends it (strlen) when the
	   name already has a record of that type */
	if (strcmp(data, "TEMPFAIL") == 0)
		err = SPF_dns_zone_add_str(c->zone, owner, type, TRY_AGAIN, data);
	else
		err = SPF_dns_zone_add_str(c->zone, owner, type, NETDB_SUCCESS, data);
	spf_thread.guard = NULL;
	free(owner);
	if (err != SPF_E_SUCCESS) {
		*error_r = "zone record data does not fit its type";
		return -1;
	}
	return 0;
}

int spf_checker_create_zone(const char *receiver, const char *const *records, size_t n,
			    struct spf_checker **checker_r, const char **error_r)
{
	struct spf_checker *c;
	struct spf_eval ev;
	size_t i;

	if (!spf_receiver_ok(receiver)) {
		*error_r = "SPF receiver must be 1 to 253 printable characters";
		return -1;
	}
	c = spf_checker_new(receiver);
	c->zone = SPF_dns_zone_new(NULL, "chapps-zone", 0);
	if (c->zone == NULL) {
		*error_r = "libspf2 could not create a DNS zone";
		spf_checker_destroy(&c);
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < n; i++) {
		if (records[i] == NULL || spf_zone_add(c, records[i], &ev, error_r) < 0) {
			if (records[i] == NULL)
				*error_r = "zone record is NULL";
			spf_checker_destroy(&c);
			return -1;
		}
	}
	c->layer = spf_layer_new(c, c->zone);
	return spf_checker_finish(c, checker_r, error_r);
}

void spf_checker_destroy(struct spf_checker **checker)
{
	struct spf_checker *c = *checker;
	size_t i;

	if (c == NULL)
		return;
	spf_res_release();
	if (c->server != NULL)
		SPF_server_free(c->server);	/* leaves the layers: new_dns */
	if (c->layer != NULL)
		SPF_dns_free(c->layer);		/* and the zone below it */
	else if (c->zone != NULL)
		SPF_dns_free(c->zone);
	for (i = 0; i < c->n_specials; i++)
		free(c->specials[i].name);
	free(c->specials);
	free(c->receiver);
	free(c);
	*checker = NULL;
}

/* ---- one check ----------------------------------------------------------- */

/* the caller's arguments, checked and normalised */
struct spf_input {
	int family;
	struct in_addr v4;
	struct in6_addr v6;
	char ip[INET6_ADDRSTRLEN];
	char helo[256];			/* "" when too long */
	char sender[SPF_SENDER_MAX + 1];
	const char *sender_domain;	/* in sender */
	bool helo_ok;			/* helo is a domain name worth checking */
	bool sender_ok;			/* sender's domain is well-formed */
};

/* spf_domain_ok - d is a well-formed multi-label domain (RFC 7208 section 4.3) */
static bool spf_domain_ok(const char *d)
{
	size_t len = strlen(d), label = 0, labels = 0, i;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)d[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			labels++;
			label = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-' && ch != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && labels >= 1;
}

/* spf_input_init - check and copy the arguments; false for a bad client address */
static bool spf_input_init(struct spf_input *in, const char *ip, const char *helo,
			   const char *sender)
{
	size_t len;

	memset(in, 0, sizeof(*in));
	if (helo == NULL)
		helo = "";
	if (sender == NULL)
		sender = "";
	len = strlen(helo);
	if (len < sizeof(in->helo))
		memcpy(in->helo, helo, len + 1);
	in->helo_ok = spf_domain_ok(in->helo);

	len = strlen(sender);
	if (len >= 2 && sender[0] == '<' && sender[len - 1] == '>') {
		sender++;
		len -= 2;
	}
	if (len <= SPF_SENDER_MAX) {
		const char *at;

		memcpy(in->sender, sender, len);
		in->sender[len] = '\0';
		at = strrchr(in->sender, '@');
		in->sender_domain = at != NULL ? at + 1 : in->sender;
		in->sender_ok = spf_domain_ok(in->sender_domain);
	} else {
		memcpy(in->sender, sender, SPF_SENDER_MAX);	/* for the header only */
		in->sender[SPF_SENDER_MAX] = '\0';
		in->sender_domain = "";
		in->sender_ok = false;
	}

	if (ip == NULL)
		return false;
	if (strncasecmp(ip, "IPv6:", 5) == 0)
		ip += 5;
	if (inet_pton(AF_INET, ip, &in->v4) == 1) {
		in->family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, &in->v6) == 1) {
		in->family = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED(&in->v6)) {	/* RFC 7208 section 5 */
			memcpy(&in->v4, &in->v6.s6_addr[12], sizeof(in->v4));
			in->family = AF_INET;
		}
	} else {
		return false;
	}
	if (in->family == AF_INET)
		inet_ntop(AF_INET, &in->v4, in->ip, sizeof(in->ip));
	else
		inet_ntop(AF_INET6, &in->v6, in->ip, sizeof(in->ip));
	return true;
}

/*
 * spf_query - SPF_request_query_mailfrom without its "localhost always
 * passes" rule (RFC 7208 has none, nor has pyspf, which CHAPPS used)
 */
static SPF_errcode_t spf_query(SPF_request_t *req, SPF_response_t **resp_r)
{
	SPF_record_t *record = NULL;
	SPF_errcode_t err;

	*resp_r = SPF_response_new(req);
	if (*resp_r == NULL)
		return SPF_E_NO_MEMORY;
	req->cur_dom = req->use_helo ? req->helo_dom : req->env_from_dp;
	err = SPF_server_get_record(req->spf_server, req, *resp_r, &record);
	if (err != SPF_E_SUCCESS) {
		if (record != NULL)
			SPF_record_free(record);
		return err;
	}
	/* as libspf2 does: the explanation is looked up in this record */
	(*resp_r)->spf_record_exp = record;
	err = SPF_record_interpret(record, req, *resp_r, 0);
	SPF_record_free(record);
	return err;
}

/*
 * spf_evaluate - one libspf2 query for one identity into ev (which lives in
 * the caller's frame); SPF_error unwinds to here with ev->unwound set.
 */
static void spf_evaluate(struct spf_checker *c, const struct spf_input *in, bool helo_identity,
			 struct spf_eval *ev)
{
	ev->req = NULL;
	ev->resp = NULL;
	ev->err = SPF_E_SUCCESS;
	ev->unwound = false;
	ev->libmsg[0] = '\0';
	spf_thread.refused = false;
	if (sigsetjmp(ev->env, 0) != 0) {
		ev->unwound = true;
		return;
	}
	spf_thread.guard = ev;
	ev->req = SPF_request_new(c->server);
	if (ev->req == NULL) {
		ev->err = SPF_E_NO_MEMORY;
		goto out;
	}
	if (in->family == AF_INET)
		ev->err = SPF_request_set_ipv4(ev->req, in->v4);
	else
		ev->err = SPF_request_set_ipv6(ev->req, in->v6);
	if (ev->err != SPF_E_SUCCESS)
		goto out;
	if (helo_identity) {
		/* also sets the sender to postmaster@helo */
		ev->err = SPF_request_set_helo_dom(ev->req, in->helo);
		ev->req->use_helo = 1;
	} else {
		ev->err = SPF_request_set_env_from(ev->req, in->sender);
		if (ev->err == SPF_E_SUCCESS)
			ev->err = SPF_request_set_helo_dom(ev->req,
							   in->helo[0] != '\0' ? in->helo : "unknown");
	}
	if (ev->err != SPF_E_SUCCESS)
		goto out;
	ev->err = spf_query(ev->req, &ev->resp);
out:
	spf_thread.guard = NULL;
}

/* spf_evaluation_free - free what spf_evaluate left in ev */
static void spf_evaluation_free(struct spf_eval *ev)
{
	if (ev->resp != NULL)
		SPF_response_free(ev->resp);
	if (ev->req != NULL)
		SPF_request_free(ev->req);
	ev->resp = NULL;
	ev->req = NULL;
}

/* spf_sanitize - copy src into dst (size bytes): printable ASCII, others '?' */
static void spf_sanitize(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < size; i++)
		dst[i] = src[i] >= ' ' && src[i] <= '~' ? src[i] : '?';
	dst[i] = '\0';
}

/* spf_error_detail - the first error libspf2 recorded, or its error code's text */
static void spf_error_detail(const struct spf_eval *ev, char *buf, size_t size)
{
	SPF_response_t *resp = ev->resp;
	SPF_errcode_t code = ev->err;
	int i;

	if (resp != NULL) {
		for (i = 0; i < SPF_response_messages(resp); i++) {
			SPF_error_t *e = SPF_response_message(resp, i);

			if (SPF_error_errorp(e) && SPF_error_message(e) != NULL) {
				spf_sanitize(buf, size, SPF_error_message(e));
				return;
			}
		}
		if (SPF_response_errcode(resp) != SPF_E_SUCCESS)
			code = SPF_response_errcode(resp);
	}
	spf_sanitize(buf, size, SPF_strerror(code));
}

/*
 * spf_invalid_result - our result for libspf2's "no verdict": permerror when
 * the record did not compile, none when there was no record, else temperror.
 */
static enum spf_result spf_invalid_result(const struct spf_eval *ev)
{
	SPF_response_t *resp = ev->resp;
	int i;

	for (i = 0; i < SPF_response_messages(resp); i++) {
		SPF_error_t *e = SPF_response_message(resp, i);
		SPF_errcode_t code = SPF_error_code(e);

		if (SPF_error_errorp(e) && code != SPF_E_NOT_SPF && code != SPF_E_DNS_ERROR &&
		    code != SPF_E_NO_MEMORY && code != SPF_E_INTERNAL_ERROR)
			return SPF_RESULT_PERMERROR;
	}
	return ev->err == SPF_E_NOT_SPF ? SPF_RESULT_NONE : SPF_RESULT_TEMPERROR;
}

/* spf_map_result - our result for a finished evaluation */
static enum spf_result spf_map_result(const struct spf_eval *ev)
{
	if (ev->unwound || ev->resp == NULL)
		return SPF_RESULT_TEMPERROR;
	switch (SPF_response_result(ev->resp)) {
	case LIBSPF2_RESULT_PASS:
		return SPF_RESULT_PASS;
	case LIBSPF2_RESULT_FAIL:
		return SPF_RESULT_FAIL;
	case LIBSPF2_RESULT_SOFTFAIL:
		return SPF_RESULT_SOFTFAIL;
	case LIBSPF2_RESULT_NEUTRAL:
		return SPF_RESULT_NEUTRAL;
	case LIBSPF2_RESULT_NONE:
		return SPF_RESULT_NONE;
	case LIBSPF2_RESULT_TEMPERROR:
		return SPF_RESULT_TEMPERROR;
	case LIBSPF2_RESULT_PERMERROR:
		return SPF_RESULT_PERMERROR;
	case LIBSPF2_RESULT_INVALID:
	default:
		return spf_invalid_result(ev);
	}
}

/* a bounded string being built */
struct spf_buf {
	char *s;
	size_t size, len;
};

/* spf_buf_ch - append ch if it fits (always leaves room for the NUL) */
static void spf_buf_ch(struct spf_buf *b, char ch)
{
	if (b->len + 1 < b->size) {
		b->s[b->len++] = ch;
		b->s[b->len] = '\0';
	}
}

/* spf_buf_str - append s (trusted text) */
static void spf_buf_str(struct spf_buf *b, const char *s)
{
	while (*s != '\0')
		spf_buf_ch(b, *s++);
}

/*
 * spf_buf_escaped - append at most max characters of s: non-printable
 * bytes as '?', the characters of specials preceded by a backslash (never
 * split from it).
 */
static void spf_buf_escaped(struct spf_buf *b, const char *s, size_t max, const char *specials)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		char ch = *s >= ' ' && *s <= '~' ? *s : '?';
		bool esc = strchr(specials, ch) != NULL;

		if (n + 1 + esc > max)
			break;
		if (esc)
			spf_buf_ch(b, '\\');
		spf_buf_ch(b, ch);
		n += 1 + esc;
	}
}

/* spf_dot_atom - s is an RFC 5322 dot-atom of at most max characters */
static bool spf_dot_atom(const char *s, size_t max)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > max || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' :
		    !(isalnum((unsigned char)s[i]) || strchr("!#$%&'*+-/=?^_`{|}~", s[i]) != NULL))
			return false;
	}
	return true;
}

/* spf_buf_value - append s as a header value: bare dot-atom or quoted-string */
static void spf_buf_value(struct spf_buf *b, const char *s, bool always_quote)
{
	if (!always_quote && spf_dot_atom(s, SPF_FIELD_MAX)) {
		spf_buf_str(b, s);
		return;
	}
	spf_buf_ch(b, '"');
	spf_buf_escaped(b, s, SPF_FIELD_MAX, "\"\\");
	spf_buf_ch(b, '"');
}

/* spf_header_word - the result as Received-SPF writes it */
static const char *spf_header_word(enum spf_result result)
{
	switch (result) {
	case SPF_RESULT_PASS:
		return "Pass";
	case SPF_RESULT_FAIL:
		return "Fail";
	case SPF_RESULT_SOFTFAIL:
		return "SoftFail";
	case SPF_RESULT_NEUTRAL:
		return "Neutral";
	case SPF_RESULT_TEMPERROR:
		return "TempError";
	case SPF_RESULT_PERMERROR:
		return "PermError";
	case SPF_RESULT_NONE:
	default:
		return "None";
	}
}

/* spf_header - out->header for result of the identity (see DESCRIPTION) */
static void spf_header(const struct spf_checker *c, const struct spf_input *in, bool helo_identity,
		       enum spf_result result, struct spf_outcome *out)
{
	struct spf_buf b = {out->header, sizeof(out->header), 0};
	const char *dom = helo_identity ? in->helo : in->sender_domain;
	char comment[1024], from[sizeof(in->helo) + sizeof("postmaster@")];
	const char *r = c->receiver, *ip = in->ip;

	switch (result) {
	case SPF_RESULT_PASS:
		snprintf(comment, sizeof(comment), "%s: domain of %s designates %s as permitted sender",
			 r, dom, ip);
		break;
	case SPF_RESULT_FAIL:
		snprintf(comment, sizeof(comment),
			 "%s: domain of %s does not designate %s as permitted sender", r, dom, ip);
		break;
	case SPF_RESULT_SOFTFAIL:
		snprintf(comment, sizeof(comment),
			 "%s: domain of transitioning %s does not designate %s as permitted sender",
			 r, dom, ip);
		break;
	case SPF_RESULT_NEUTRAL:
		snprintf(comment, sizeof(comment), "%s: %s is neither permitted nor denied by domain of %s",
			 r, ip, dom);
		break;
	case SPF_RESULT_TEMPERROR:
		snprintf(comment, sizeof(comment), "%s: temporary error in processing domain of %s",
			 r, dom);
		break;
	case SPF_RESULT_PERMERROR:
		snprintf(comment, sizeof(comment), "%s: permanent error in processing domain of %s",
			 r, dom);
		break;
	case SPF_RESULT_NONE:
	default:
		snprintf(comment, sizeof(comment), "%s: %s does not designate permitted sender hosts",
			 r, dom[0] != '\0' ? dom : "(no domain)");
		break;
	}
	if (helo_identity)
		snprintf(from, sizeof(from), "postmaster@%s", in->helo);

	out->header[0] = '\0';
	spf_buf_str(&b, spf_header_word(result));
	spf_buf_str(&b, " (");
	spf_buf_escaped(&b, comment, SPF_COMMENT_MAX, "()\\");
	spf_buf_str(&b, ") client-ip=");
	spf_buf_str(&b, ip);
	spf_buf_str(&b, "; envelope-from=");
	spf_buf_value(&b, helo_identity ? from : in->sender, true);
	if (in->helo[0] != '\0') {
		spf_buf_str(&b, "; helo=");
		spf_buf_value(&b, in->helo, false);
	}
	spf_buf_str(&b, "; receiver=");
	spf_buf_value(&b, r, false);
	spf_buf_str(&b, helo_identity ? "; identity=helo" : "; identity=mailfrom");
}

/* spf_outcome_set - fill out from the evaluation of one identity (ev NULL: none, not checked) */
static void spf_outcome_set(const struct spf_checker *c, const struct spf_input *in,
			    bool helo_identity, const struct spf_eval *ev, unsigned budget_ms,
			    struct spf_outcome *out)
{
	enum spf_result result = ev != NULL ? spf_map_result(ev) : SPF_RESULT_NONE;
	char detail[400];
	const char *exp;

	out->result = result;
	out->helo_identity = helo_identity;
	out->reason[0] = '\0';

	switch (result) {
	case SPF_RESULT_PASS:
		snprintf(out->reason, sizeof(out->reason), "sender SPF authorized");
		break;
	case SPF_RESULT_FAIL:
		exp = ev->resp != NULL ? SPF_response_get_explanation(ev->resp) : NULL;
		if (exp != NULL && exp[0] != '\0')
			spf_sanitize(out->reason, sizeof(out->reason), exp);
		else
			snprintf(out->reason, sizeof(out->reason), "SPF fail - not authorized");
		break;
	case SPF_RESULT_SOFTFAIL:
		snprintf(out->reason, sizeof(out->reason), "domain owner discourages use of this host");
		break;
	case SPF_RESULT_NEUTRAL:
		snprintf(out->reason, sizeof(out->reason), "access neither permitted nor denied");
		break;
	case SPF_RESULT_TEMPERROR:
		if (ev->unwound)
			snprintf(detail, sizeof(detail), "SPF library error: %.300s", ev->libmsg);
		else if (spf_thread.budget_hit)
			snprintf(detail, sizeof(detail), "DNS time budget of %u ms exhausted", budget_ms);
		else
			spf_error_detail(ev, detail, sizeof(detail));
		snprintf(out->reason, sizeof(out->reason), "SPF Temporary Error: %s", detail);
		break;
	case SPF_RESULT_PERMERROR:
		if (spf_thread.refused)
			snprintf(detail, sizeof(detail), "SPF record refused: a term is longer "
				 "than %d bytes", SPF_TERM_MAX);
		else
			spf_error_detail(ev, detail, sizeof(detail));
		snprintf(out->reason, sizeof(out->reason), "SPF Permanent Error: %s", detail);
		break;
	case SPF_RESULT_NONE:
	default:
		break;
	}
	spf_sanitize(out->reason, sizeof(out->reason), out->reason);
	spf_header(c, in, helo_identity, result, out);
}

void spf_check(struct spf_checker *checker, const char *client_ip, const char *helo,
	       const char *sender, unsigned budget_ms, struct spf_outcome *out)
{
	struct spf_input in;
	struct spf_eval ev;

	memset(out, 0, sizeof(*out));
	if (!spf_input_init(&in, client_ip, helo, sender)) {
		out->result = SPF_RESULT_TEMPERROR;
		out->helo_identity = false;
		snprintf(out->reason, sizeof(out->reason),
			 "SPF Temporary Error: invalid client address");
		spf_sanitize(out->reason, sizeof(out->reason), out->reason);
		return;
	}
	spf_set_deadline(budget_ms);

	/* HELO first: its "fail" decides; for the null sender it is the answer */
	if (in.helo_ok) {
		spf_evaluate(checker, &in, true, &ev);
		spf_outcome_set(checker, &in, true, &ev, budget_ms, out);
		spf_evaluation_free(&ev);
		if (out->result == SPF_RESULT_FAIL || in.sender[0] == '\0')
			return;
	} else if (in.sender[0] == '\0') {
		spf_outcome_set(checker, &in, true, NULL, budget_ms, out);
		return;
	}
	if (!in.sender_ok) {
		spf_outcome_set(checker, &in, false, NULL, budget_ms, out);
		return;
	}
	spf_evaluate(checker, &in, false, &ev);
	spf_outcome_set(checker, &in, false, &ev, budget_ms, out);
	spf_evaluation_free(&ev);
}

const char *spf_result_name(enum spf_result result)
{
	switch (result) {
	case SPF_RESULT_NONE:
		return "none";
	case SPF_RESULT_NEUTRAL:
		return "neutral";
	case SPF_RESULT_PASS:
		return "pass";
	case SPF_RESULT_FAIL:
		return "fail";
	case SPF_RESULT_SOFTFAIL:
		return "softfail";
	case SPF_RESULT_TEMPERROR:
		return "temperror";
	case SPF_RESULT_PERMERROR:
		return "permerror";
	}
	return "unknown";
}
