/*
 * NAME
 *	spf_dns - the SPF checker's own libspf2 DNS layer
 * SUMMARY
 *	spf_dns_layer_new(checker, below) -> SPF_dns_server_t;
 *	spf_dns_set_deadline(budget_ms); spf_dns_release()
 * DESCRIPTION
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
 * DIAGNOSTICS
 *	Nothing here fails loudly: a look-up that cannot be made is TRY_AGAIN
 *	(temperror), an answer that cannot be read NO_RECOVERY, and out of
 *	memory in libspf2's buffers a NULL answer (SPF_error, unwound by
 *	spf.c).  spf_dns_parse_ns returns -1 for a malformed name server.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "spf/spf_dns.h"
#include "spf/spf_zone.h"
#include "base/xalloc.h"

#define SPF_RES_REFRESH 60		/* seconds between res_ninit per thread */
#define SPF_ANSWER_MAX 65536		/* a DNS message */
#define SPF_SLEEP_STEP 10		/* ms, TIMEOUT records */
#define SPF_EXP_MAX 200			/* longest explanation text given to libspf2 */
#define SPF_REFUSED_RECORD "v=spf1 x-chapps-refused-overlong-term"

/* the system resolver's per-thread state */
struct spf_res {
	struct __res_state res;
	time_t since;			/* monotonic second of res_ninit */
	bool ns_set;			/* the override it was set up with */
	struct sockaddr_in ns;
};

static pthread_key_t spf_res_key;
static bool spf_res_key_ok;

/* spf_res_free - pthread key destructor of struct spf_res */
static void spf_res_free(void *arg)
{
	struct spf_res *r = arg;

	res_nclose(&r->res);
	free(r);
}

void spf_dns_init(void)
{
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

void spf_dns_set_deadline(unsigned budget_ms)
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

/* the main thread's state would otherwise never go: see spf_checker_destroy */
void spf_dns_release(void)
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

/* spf_layer_lookup - the lookup method of our layer (see DESCRIPTION) */
static SPF_dns_rr_t *spf_layer_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
				      int should_cache)
{
	const struct spf_checker *c = layer->hook;
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
	switch (spf_zone_special(c->zone, domain, type)) {
	case SPF_ZONE_LIBERROR:
		return NULL;
	case SPF_ZONE_TIMEOUT:
		spf_sleep_to_deadline();
		spf_thread.budget_hit = true;
		return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
	case SPF_ZONE_RECORDS:
	default:
		break;
	}
	return spf_fix_txt(SPF_dns_lookup(layer->layer_below, domain, type, should_cache));
}

/* spf_layer_free - the destroy method of our layer */
static void spf_layer_free(SPF_dns_server_t *layer)
{
	free(layer);
}

SPF_dns_server_t *spf_dns_layer_new(struct spf_checker *c, SPF_dns_server_t *below)
{
	SPF_dns_server_t *l = xcalloc(1, sizeof(*l));

	l->destroy = spf_layer_free;	/* non-NULL: SPF_dns_free frees below too */
	l->lookup = spf_layer_lookup;
	l->layer_below = below;
	l->name = "chapps";
	l->hook = c;
	return l;
}

int spf_dns_parse_ns(const char *s, struct sockaddr_in *sin)
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
