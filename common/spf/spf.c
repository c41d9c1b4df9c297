/*
 * NAME
 *	spf - SPF checks (RFC 7208) on libspf2, bounded in time, safe in threads
 * SUMMARY
 *	spf_checker_create[_ns|_zone|_zone_file]() -> struct spf_checker;
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
 *	The parts.  spf_dns.c is the checker's own libspf2 DNS layer (system
 *	resolver or test zone, the time budget, the TXT screening that keeps
 *	libspf2 1.2.10 clear of CVE-2023-42118); spf_zone.c the in-memory
 *	zone of test checkers; spf_header.c the Received-SPF value.  This
 *	file makes checkers and runs checks.
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
 *	held across the unwind (our DNS layer holds none, and libspf2's
 *	cache layer, which has one, is not used).  An SPF_error outside any
 *	check still aborts.  Warnings, info and debug messages are dropped.
 *
 *	Results.  libspf2's SPF_RESULT_INVALID (no verdict) is temperror
 *	when the cause is DNS or memory, and permerror when the record did
 *	not compile (RFC 7208 section 4.6).  libspf2's names for its results
 *	collide with ours (SPF_RESULT_PASS...): spf-private.h renames them
 *	LIBSPF2_* around its headers.
 *
 *	Received-SPF is built by spf_header.c (spf_header_build).
 * DIAGNOSTICS
 *	spf_checker_create*() return -1 with a static message and record the
 *	failure's class (base/error.h): ERROR_CONFIG for a bad receiver,
 *	name server or zone, ERROR_TEMPORARY when libspf2 cannot make its
 *	server.  spf_check never fails: every problem is a temperror
 *	(ERROR_TEMPORARY) or permerror (ERROR_INPUT) outcome, see
 *	spf_result_class.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf/spf-private.h"
#include "spf/spf_dns.h"
#include "spf/spf_header.h"
#include "spf/spf_zone.h"
#include "base/error.h"
#include "base/xalloc.h"

#define SPF_SENDER_MAX 510		/* longer senders are malformed (none) */
#define SPF_RECEIVER_MAX 253

_Thread_local struct spf_thread spf_thread;

static pthread_once_t spf_once = PTHREAD_ONCE_INIT;

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

/* spf_init_once - install libspf2's handlers and make the resolver key */
static void spf_init_once(void)
{
	SPF_error_handler = spf_on_error;
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
	spf_dns_init();
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
		error_class_set(ERROR_TEMPORARY);
		spf_checker_destroy(&c);
		return -1;
	}
	*checker_r = c;
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
		error_class_set(ERROR_CONFIG);
		return -1;
	}
	if (nameserver != NULL && spf_dns_parse_ns(nameserver, &ns) < 0) {
		*error_r = "SPF name server must be an IPv4 address, optionally with :port";
		error_class_set(ERROR_CONFIG);
		return -1;
	}
	c = spf_checker_new(receiver);
	if (nameserver != NULL) {
		c->ns_set = true;
		c->ns = ns;
	}
	c->layer = spf_dns_layer_new(c, NULL);
	return spf_checker_finish(c, checker_r, error_r);
}

int spf_checker_create_zone(const char *receiver, const char *const *records, size_t n,
			    struct spf_checker **checker_r, const char **error_r)
{
	struct spf_checker *c;

	if (!spf_receiver_ok(receiver)) {
		*error_r = "SPF receiver must be 1 to 253 printable characters";
		error_class_set(ERROR_CONFIG);
		return -1;
	}
	c = spf_checker_new(receiver);	/* first: it installs the SPF_error handler */
	if (spf_zone_create(records, n, &c->zone, error_r) < 0) {
		error_class_set(ERROR_CONFIG);
		spf_checker_destroy(&c);
		return -1;
	}
	c->layer = spf_dns_layer_new(c, spf_zone_take_dns(c->zone));
	return spf_checker_finish(c, checker_r, error_r);
}

int spf_checker_create_zone_file(const char *receiver, const char *path,
				 struct spf_checker **checker_r, const char **error_r)
{
	char **records;
	size_t n;
	int ret;

	if (spf_zone_read_file(path, &records, &n, error_r) < 0) {
		error_class_set(ERROR_CONFIG);
		return -1;
	}
	ret = spf_checker_create_zone(receiver, (const char *const *)records, n, checker_r,
				      error_r);
	spf_zone_records_free(records, n);
	return ret;
}

void spf_checker_destroy(struct spf_checker **checker)
{
	struct spf_checker *c = *checker;

	if (c == NULL)
		return;
	spf_dns_release();
	if (c->server != NULL)
		SPF_server_free(c->server);	/* leaves the layers: new_dns */
	if (c->layer != NULL)
		SPF_dns_free(c->layer);		/* and the zone's server below it */
	spf_zone_destroy(&c->zone);		/* the zone's server too, if not taken */
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
	spf_header_build(&(struct spf_header_fields){
				 .result = result,
				 .helo_identity = helo_identity,
				 .receiver = c->receiver,
				 .client_ip = in->ip,
				 .helo = in->helo,
				 .sender = in->sender,
				 .domain = in->sender_domain,
			 },
			 out->header, sizeof(out->header));
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
	spf_dns_set_deadline(budget_ms);

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

enum error_class spf_result_class(enum spf_result result)
{
	switch (result) {
	case SPF_RESULT_TEMPERROR:
		return ERROR_TEMPORARY;
	case SPF_RESULT_PERMERROR:
		return ERROR_INPUT;
	default:
		return ERROR_NONE;
	}
}
