/*
 * NAME
 *	chapps-bench - load generator for milters (protocol 6) and for SMTP
 * SYNOPSIS
 *	chapps-bench -s SOCKET [-c CONNS] [-m MESSAGES] [-t SECONDS] [-k PER_CONN]
 *		     [-r RCPTS] [-u USERS] [-e accept|reject|tempfail] [--smtp] ...
 * DESCRIPTION
 *	Milter mode (the default) plays the MTA side of the milter protocol,
 *	version 6, straight to a milter socket (inet:PORT@HOST or unix:/path):
 *	CONNS threads, each holding one connection at a time, each connection
 *	negotiating (OPTNEG), then CONNECT, HELO, and PER_CONN transactions of
 *	MAIL (with the AUTH macros of user u<n>), RCPTS x RCPT, DATA, the header,
 *	end of headers, body and end of message, then ABORT (Postfix ends every
 *	transaction with it) and, after the last message, QUIT.
 *
 *	It honours what the milter negotiated, as Postfix does: a stage with
 *	SMFIP_NO* set is not sent, a stage with SMFIP_NR_* set is sent without
 *	waiting for a reply, the macro lists of SMFIF_SETSYMLIST replace
 *	Postfix's default lists, and a message ends at the first accept or
 *	reject (a refused recipient only drops that recipient).  Macros and
 *	their command go out in one write, and TCP_NODELAY is set, so that the
 *	figures measure the milter and not Nagle's algorithm.
 *
 *	SMTP mode (--smtp) drives an SMTP server on loopback instead: EHLO,
 *	XCLIENT LOGIN=u<n> (--xclient) and EHLO again, or real SMTP AUTH
 *	(--auth PASSWORD: AUTH PLAIN as u<n>, every user with that password),
 *	then PER_CONN pipelined MAIL/RCPT/DATA transactions with a small message.
 *
 *	Users: message number i of the run belongs to user
 *	PREFIX(BASE + i mod USERS); in SMTP mode a connection's number picks
 *	the user (XCLIENT or AUTH names one user per session).  The sender is
 *	PREFIX<n>@DOMAIN.
 *
 *	The run ends after MESSAGES messages or SECONDS seconds, whichever
 *	comes first.  Every message's outcome is compared with the expected
 *	verdict (-e); so is every refused recipient.
 *
 *	Output: decisions per second (messages completed per second), the
 *	latency of each stage that waits for a reply (MAIL, RCPT, DATA, EOM)
 *	and of the whole message (first command of the transaction to its
 *	verdict) at p50, p99 and p99.9, and the count of unexpected replies.
 *	-q prints one "key=value ..." line instead, for scripts.
 *
 *	--rate paces the run: each thread starts its messages at fixed
 *	intervals (rate / CONNS per thread) and never bursts to catch up, so
 *	that latency can be read at a given load rather than at saturation,
 *	where a closed loop of CONNS connections only measures queueing
 *	(Little's law: latency = CONNS / throughput).
 * DIAGNOSTICS
 *	Exit 0 when every reply was the expected one, 1 when any was not (or
 *	a connection failed), 2 on a usage error.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* milter protocol constants (libmilter/mfdef.h), spelled out: no libmilter here */
#define MILTER_VERSION 6
#define MILTER_LEN_MAX (1024 * 1024)

#define SMFIF_ALL 0x000001FFUL		/* every action flag of protocol 6 */
#define SMFIF_SETSYMLIST 0x00000100UL

#define SMFIP_NOCONNECT 0x00000001UL
#define SMFIP_NOHELO 0x00000002UL
#define SMFIP_NOMAIL 0x00000004UL
#define SMFIP_NORCPT 0x00000008UL
#define SMFIP_NOBODY 0x00000010UL
#define SMFIP_NOHDRS 0x00000020UL
#define SMFIP_NOEOH 0x00000040UL
#define SMFIP_NR_HDR 0x00000080UL
#define SMFIP_NODATA 0x00000200UL
#define SMFIP_NR_CONN 0x00001000UL
#define SMFIP_NR_HELO 0x00002000UL
#define SMFIP_NR_MAIL 0x00004000UL
#define SMFIP_NR_RCPT 0x00008000UL
#define SMFIP_NR_DATA 0x00010000UL
#define SMFIP_NR_EOH 0x00040000UL
#define SMFIP_NR_BODY 0x00080000UL
#define SMFIP_ALL 0x001FFFFFUL		/* what Postfix 3.7 offers, about */

enum macro_stage { M_CONNECT, M_HELO, M_MAIL, M_RCPT, M_DATA, M_EOM, M_EOH, M_N };

/* Postfix's default milter_*_macros, used when the milter sets no list */
static const char *const default_macros[M_N] = {
	"j {daemon_name} {daemon_addr} v _",
	"{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
	"i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
	"i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
	"i",
	"i",
	"i",
};

static const char stage_cmd[M_N] = { 'C', 'H', 'M', 'R', 'T', 'E', 'N' };

enum verdict { V_ACCEPT, V_REJECT, V_TEMPFAIL, V_DISCARD, V_ERROR, V_N };

static const char *const verdict_names[V_N] = { "accept", "reject", "tempfail", "discard",
						"error" };

enum stat { S_MAIL, S_RCPT, S_DATA, S_EOM, S_MSG, S_N };

static const char *const stat_names[S_N] = { "mail", "rcpt", "data", "eom", "msg" };

struct options {
	const char *socket;
	int conns;
	long messages;
	double seconds;
	long per_conn;
	int rcpts;
	long users;
	long user_base;
	const char *prefix;
	const char *domain;
	enum verdict expect;
	bool smtp;
	bool unique_rcpts;	/* --unique-rcpts: a new recipient address every message */
	bool xclient;
	const char *auth_password;	/* --auth: AUTH PLAIN with this password */
	bool quiet;
	const char *label;
	size_t body_size;
	double rate;			/* messages per second in all, 0 = as fast as possible */
};

/* latency samples in nanoseconds, clamped to 4.29 s */
struct samples {
	uint32_t *v;
	size_t n, cap;
};

struct worker {
	pthread_t tid;
	int id;
	struct samples lat[S_N];
	unsigned long verdicts[V_N];
	unsigned long done, unexpected, rcpt_refused, rcpt_tempfailed, conn_errors;
	uint64_t next_start;		/* paced runs: when the next message may start */
	char first_problem[256];
};

/* one connection: the socket, a read buffer and what the milter negotiated */
struct conn {
	int fd;
	unsigned char *rbuf;
	size_t rlen, rpos;
	unsigned long actions, proto;
	char *symlist[M_N];		/* the milter's macro lists, NULL = default */
	struct worker *w;
};

static struct options opt = {
	.conns = 16,
	.messages = 20000,
	.seconds = 60,
	.per_conn = 100,
	.rcpts = 1,
	.users = 1000,
	.prefix = "u",
	.domain = "bench.test",
	.expect = V_ACCEPT,
	.label = "run",
	.body_size = 1024,
};

static struct sockaddr_storage target;
static socklen_t target_len;
static long claimed;			/* messages handed out so far */
static struct timespec t_start, t_deadline;
static char *body_text;			/* SMTP mode: the message, dot-terminated */
static size_t body_len;

/* now_ns - the monotonic clock in nanoseconds */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* die - print a message and exit 2 */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("chapps-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* xrealloc - realloc or die */
static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (p == NULL)
		die("out of memory");
	return p;
}

/* sample_add - record one latency */
static void sample_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* problem - count an unexpected reply and remember the first one */
static void problem(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	w->unexpected++;
	if (w->first_problem[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->first_problem, sizeof(w->first_problem), fmt, ap);
	va_end(ap);
}

/* claim - take the next message of the run; -1 when the run is over */
static long claim(void)
{
	struct timespec ts;
	long n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec > t_deadline.tv_sec ||
	    (ts.tv_sec == t_deadline.tv_sec && ts.tv_nsec >= t_deadline.tv_nsec))
		return -1;
	n = __atomic_fetch_add(&claimed, 1, __ATOMIC_RELAXED);
	return n < opt.messages ? n : -1;
}

/* pace - with --rate, wait for this thread's next slot (never bursting to catch up) */
static void pace(struct worker *w)
{
	uint64_t now, interval;
	struct timespec ts;

	if (opt.rate <= 0)
		return;
	interval = (uint64_t)(1e9 * opt.conns / opt.rate);
	now = now_ns();
	if (w->next_start == 0)	/* spread the threads' first slots over one interval */
		w->next_start = now + interval * (uint64_t)w->id / (uint64_t)opt.conns;
	if (w->next_start > now) {
		ts.tv_sec = (time_t)(w->next_start / 1000000000ULL);
		ts.tv_nsec = (long)(w->next_start % 1000000000ULL);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	} else {
		w->next_start = now;
	}
	w->next_start += interval;
}

/* parse_socket - inet:PORT@HOST, inet:HOST:PORT (Postfix), or unix:/path */
static void parse_socket(const char *spec)
{
	memset(&target, 0, sizeof(target));
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&target;
		const char *path = strchr(spec, ':') + 1;

		if (strlen(path) >= sizeof(sun->sun_path))
			die("socket path too long: %s", path);
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		target_len = sizeof(*sun);
		return;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&target;
		char host[256], *at, *colon;

		snprintf(host, sizeof(host), "%s", spec + 5);
		if ((at = strchr(host, '@')) != NULL) {
			*at = '\0';
			sin->sin_port = htons((uint16_t)atoi(host));
			memmove(host, at + 1, strlen(at + 1) + 1);
		} else if ((colon = strrchr(host, ':')) != NULL) {
			*colon = '\0';
			sin->sin_port = htons((uint16_t)atoi(colon + 1));
		} else {
			die("bad socket %s (inet:PORT@HOST or unix:/path)", spec);
		}
		if (strcmp(host, "localhost") == 0)
			snprintf(host, sizeof(host), "127.0.0.1");
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			die("bad address in %s (a numeric IPv4 address)", spec);
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			die("refusing a non-loopback target %s", spec);
		target_len = sizeof(*sin);
		return;
	}
	die("bad socket %s (inet:PORT@HOST or unix:/path)", spec);
}

/* conn_open - connect to the target; false on failure */
static bool conn_open(struct conn *c, struct worker *w)
{
	struct timeval tv = { 30, 0 };
	int on = 1;

	memset(c, 0, sizeof(*c));
	c->w = w;
	c->fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return false;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (target.ss_family == AF_INET)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(c->fd, (struct sockaddr *)&target, target_len) < 0) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	c->rbuf = xrealloc(NULL, 65536);
	return true;
}

/* conn_close - close the socket and free the buffers */
static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	c->rbuf = NULL;
	for (int i = 0; i < M_N; i++) {
		free(c->symlist[i]);
		c->symlist[i] = NULL;
	}
}

/* write_all - write the whole buffer; false on failure */
static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* read_some - refill the read buffer (compacting it); false on EOF or error */
static bool read_some(struct conn *c)
{
	ssize_t n;

	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	if (c->rlen == 65536)
		return false;
	do
		n = read(c->fd, c->rbuf + c->rlen, 65536 - c->rlen);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return false;
	c->rlen += (size_t)n;
	return true;
}

/* ---- milter packets ------------------------------------------------------ */

struct pkt {
	char *buf;
	size_t len, cap;
	size_t start;			/* offset of the open packet's length field */
};

/* pkt_reserve - room for n more bytes */
static void pkt_reserve(struct pkt *p, size_t n)
{
	if (p->len + n > p->cap) {
		p->cap = (p->len + n) * 2;
		p->buf = xrealloc(p->buf, p->cap);
	}
}

/* pkt_put - append bytes to the open packet */
static void pkt_put(struct pkt *p, const void *data, size_t n)
{
	pkt_reserve(p, n);
	memcpy(p->buf + p->len, data, n);
	p->len += n;
}

/* pkt_str - append a NUL-terminated string, NUL included */
static void pkt_str(struct pkt *p, const char *s)
{
	pkt_put(p, s, strlen(s) + 1);
}

/* pkt_begin - open a packet with command cmd */
static void pkt_begin(struct pkt *p, char cmd)
{
	pkt_reserve(p, 5);
	p->start = p->len;
	p->len += 4;
	p->buf[p->len++] = cmd;
}

/* pkt_end - fill in the open packet's length */
static void pkt_end(struct pkt *p)
{
	uint32_t n = htonl((uint32_t)(p->len - p->start - 4));

	memcpy(p->buf + p->start, &n, 4);
}

/* pkt_send - write everything queued; false on failure */
static bool pkt_send(struct conn *c, struct pkt *p)
{
	bool ok = write_all(c->fd, p->buf, p->len);

	p->len = 0;
	return ok;
}

/* read_packet - one milter reply: command and payload (borrowed until next read) */
static bool read_packet(struct conn *c, char *cmd, const char **data, size_t *len)
{
	uint32_t n;

	while (c->rlen - c->rpos < 4)
		if (!read_some(c))
			return false;
	memcpy(&n, c->rbuf + c->rpos, 4);
	n = ntohl(n);
	if (n == 0 || n > 65536 - 4)
		return false;
	while (c->rlen - c->rpos < 4 + n)
		if (!read_some(c))
			return false;
	*cmd = (char)c->rbuf[c->rpos + 4];
	*data = (const char *)c->rbuf + c->rpos + 5;
	*len = n - 1;
	c->rpos += 4 + n;
	return true;
}

/* per-message values of the macros the MTA knows */
struct msgvals {
	const char *user;
	const char *sender;
	const char *rcpt;
	char qid[24];
};

/* macro_value - the value of a macro, or NULL when the MTA would not send it */
static const char *macro_value(const char *name, const struct msgvals *mv, int stage)
{
	static const struct {
		const char *name;
		const char *value;
	} fixed[] = {
		{ "j", "mx.bench.test" },	     { "{daemon_name}", "bench" },
		{ "{daemon_addr}", "127.0.0.1" },    { "{daemon_port}", "25" },
		{ "v", "Postfix 3.7.11" },	     { "_", "localhost [127.0.0.1]" },
		{ "{client_addr}", "127.0.0.1" },    { "{client_port}", "40000" },
		{ "{client_name}", "localhost" },    { "{client_ptr}", "localhost" },
		{ "{auth_type}", "PLAIN" },	     { "{mail_host}", "127.0.0.1" },
		{ "{mail_mailer}", "relay" },	     { "{rcpt_host}", "127.0.0.1" },
		{ "{rcpt_mailer}", "relay" },
	};

	if (strcmp(name, "i") == 0)
		return stage >= M_RCPT ? mv->qid : NULL;	/* Postfix: NULL at MAIL */
	if (strcmp(name, "{auth_authen}") == 0)
		return mv->user;
	if (strcmp(name, "{mail_addr}") == 0)
		return mv->sender;
	if (strcmp(name, "{rcpt_addr}") == 0)
		return mv->rcpt;
	if (strcmp(name, "{auth_type}") == 0 && mv->user == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(name, fixed[i].name) == 0)
			return fixed[i].value;
	return NULL;
}

/* put_macros - queue the 'D' packet of a stage (none when no macro has a value) */
static void put_macros(struct conn *c, struct pkt *p, int stage, const struct msgvals *mv)
{
	const char *list = c->symlist[stage] ? c->symlist[stage] : default_macros[stage];
	size_t mark = p->len, start = p->start;
	bool any = false;
	char name[128];

	pkt_begin(p, 'D');
	pkt_put(p, &stage_cmd[stage], 1);
	while (*list != '\0') {
		size_t n = strcspn(list, " ,");
		const char *v;

		if (n > 0 && n < sizeof(name)) {
			memcpy(name, list, n);
			name[n] = '\0';
			if ((v = macro_value(name, mv, stage)) != NULL) {
				pkt_str(p, name);
				pkt_str(p, v);
				any = true;
			}
		}
		list += n;
		list += strspn(list, " ,");
	}
	if (any) {
		pkt_end(p);
	} else {
		p->len = mark;
		p->start = start;
	}
}

/* reply_verdict - the verdict of a reply command, or -1 for continue */
static int reply_verdict(char cmd, const char *data, size_t len)
{
	switch (cmd) {
	case 'c':
		return -1;
	case 'a':
		return V_ACCEPT;
	case 'r':
		return V_REJECT;
	case 't':
		return V_TEMPFAIL;
	case 'd':
		return V_DISCARD;
	case 'y':
		if (len > 0 && data[0] == '4')
			return V_TEMPFAIL;
		if (len > 0 && data[0] == '5')
			return V_REJECT;
		return V_ERROR;
	default:
		return V_ERROR;
	}
}

/* await - read the reply to a stage (skipping progress packets); -2 on I/O error */
static int await(struct conn *c, const char *stage, uint64_t t0, struct samples *s)
{
	const char *data;
	size_t len;
	char cmd;
	int v;

	do {
		if (!read_packet(c, &cmd, &data, &len)) {
			problem(c->w, "%s: connection lost waiting for a reply", stage);
			return -2;
		}
	} while (cmd == 'p');
	if (s != NULL)
		sample_add(s, now_ns() - t0);
	v = reply_verdict(cmd, data, len);
	if (v == V_ERROR)
		problem(c->w, "%s: unexpected reply '%c'", stage, cmd);
	return v;
}

/* milter_negotiate - OPTNEG; false on failure */
static bool milter_negotiate(struct conn *c, struct pkt *p)
{
	uint32_t v[3] = { htonl(MILTER_VERSION), htonl(SMFIF_ALL), htonl(SMFIP_ALL) };
	const char *data;
	size_t len, off;
	char cmd;

	pkt_begin(p, 'O');
	pkt_put(p, v, sizeof(v));
	pkt_end(p);
	if (!pkt_send(c, p) || !read_packet(c, &cmd, &data, &len) || cmd != 'O' || len < 12) {
		problem(c->w, "option negotiation failed");
		return false;
	}
	memcpy(v, data, 12);
	c->actions = ntohl(v[1]);
	c->proto = ntohl(v[2]);
	for (off = 12; off + 4 < len;) {
		uint32_t stage;
		size_t n;

		memcpy(&stage, data + off, 4);
		stage = ntohl(stage);
		off += 4;
		n = strnlen(data + off, len - off);
		if (stage < M_N) {
			free(c->symlist[stage]);
			c->symlist[stage] = strndup(data + off, n);
		}
		off += n + 1;
	}
	return true;
}

/* milter_stage - queue macros and a command, send, and await the reply unless nr */
static int milter_stage(struct conn *c, struct pkt *p, int mstage, char cmd, const char **args,
			int nargs, bool nr, const struct msgvals *mv, const char *what,
			struct samples *s)
{
	uint64_t t0;

	if (mstage >= 0)
		put_macros(c, p, mstage, mv);
	pkt_begin(p, cmd);
	for (int i = 0; i < nargs; i++)
		pkt_str(p, args[i]);
	pkt_end(p);
	t0 = now_ns();
	if (!pkt_send(c, p)) {
		problem(c->w, "%s: write failed", what);
		return -2;
	}
	return nr ? -1 : await(c, what, t0, s);
}

/* milter_connect - CONNECT and HELO; false if the connection is unusable */
static bool milter_connect(struct conn *c, struct pkt *p, const struct msgvals *mv)
{
	int v;

	if (!(c->proto & SMFIP_NOCONNECT)) {
		uint16_t port = htons(40000);

		put_macros(c, p, M_CONNECT, mv);
		pkt_begin(p, 'C');
		pkt_str(p, "localhost");
		pkt_put(p, "4", 1);
		pkt_put(p, &port, 2);
		pkt_str(p, "127.0.0.1");
		pkt_end(p);
		if (!pkt_send(c, p))
			return false;
		if (!(c->proto & SMFIP_NR_CONN) && (v = await(c, "connect", 0, NULL)) != -1)
			return false;
	}
	if (!(c->proto & SMFIP_NOHELO)) {
		const char *helo = "client.bench.test";

		v = milter_stage(c, p, M_HELO, 'H', &helo, 1, c->proto & SMFIP_NR_HELO, mv,
				 "helo", NULL);
		if (v != -1)
			return false;
	}
	return true;
}

/* milter_message - one transaction; the verdict, or -2 when the connection broke */
static int milter_message(struct conn *c, struct pkt *p, long n, struct worker *w)
{
	char sender[256], rcpt[256], user[128];
	struct msgvals mv = { 0 };
	const char *args[1];
	uint64_t t0 = now_ns();
	int v = -1, accepted_rcpts = 0;

	snprintf(user, sizeof(user), "%s%ld", opt.prefix, opt.user_base + n % opt.users);
	snprintf(sender, sizeof(sender), "<%s@%s>", user, opt.domain);
	snprintf(mv.qid, sizeof(mv.qid), "B%08lX", (unsigned long)n);
	mv.user = user;
	mv.sender = sender;
	if (!(c->proto & SMFIP_NOMAIL)) {
		args[0] = sender;
		v = milter_stage(c, p, M_MAIL, 'M', args, 1, c->proto & SMFIP_NR_MAIL, &mv, "MAIL",
				 &w->lat[S_MAIL]);
		if (v != -1)
			goto out;
	}
	for (int r = 0; r < opt.rcpts; r++) {
		if (opt.unique_rcpts)
			snprintf(rcpt, sizeof(rcpt), "<rcpt%d.%ld@example.net>", r, n);
		else
			snprintf(rcpt, sizeof(rcpt), "<rcpt%d@example.net>", r);
		mv.rcpt = rcpt;
		if (c->proto & SMFIP_NORCPT) {
			accepted_rcpts++;
			continue;
		}
		args[0] = rcpt;
		v = milter_stage(c, p, M_RCPT, 'R', args, 1, c->proto & SMFIP_NR_RCPT, &mv, "RCPT",
				 &w->lat[S_RCPT]);
		if (v == -2 || v == V_ACCEPT || v == V_DISCARD)
			goto out;
		if (v == -1) {
			accepted_rcpts++;
		} else {
			w->rcpt_refused++;
			if (v == V_TEMPFAIL)
				w->rcpt_tempfailed++;
			if (opt.expect == V_ACCEPT)
				problem(w, "RCPT %s of user %s: %s", rcpt, user, verdict_names[v]);
		}
		v = -1;
	}
	if (accepted_rcpts == 0) {
		v = V_REJECT;		/* Postfix: no valid recipients, no DATA */
		goto out;
	}
	if (!(c->proto & SMFIP_NODATA)) {
		v = milter_stage(c, p, M_DATA, 'T', NULL, 0, c->proto & SMFIP_NR_DATA, &mv, "DATA",
				 &w->lat[S_DATA]);
		if (v != -1)
			goto out;
	}
	if (!(c->proto & SMFIP_NOHDRS)) {
		const char *hdr[2] = { "From", sender };

		v = milter_stage(c, p, -1, 'L', hdr, 2, c->proto & SMFIP_NR_HDR, &mv, "header",
				 NULL);
		if (v != -1)
			goto out;
	}
	if (!(c->proto & SMFIP_NOEOH)) {
		v = milter_stage(c, p, M_EOH, 'N', NULL, 0, c->proto & SMFIP_NR_EOH, &mv, "EOH",
				 NULL);
		if (v != -1)
			goto out;
	}
	if (!(c->proto & SMFIP_NOBODY)) {
		const char *body = "benchmark body\r\n";

		pkt_begin(p, 'B');
		pkt_put(p, body, strlen(body));
		pkt_end(p);
		if (!pkt_send(c, p)) {
			v = -2;
			goto out;
		}
		if (!(c->proto & SMFIP_NR_BODY) && (v = await(c, "body", 0, NULL)) != -1)
			goto out;
	}
	/* end of message: modification requests, then the final reply */
	{
		const char *data;
		size_t len;
		char cmd;

		put_macros(c, p, M_EOM, &mv);
		pkt_begin(p, 'E');
		pkt_end(p);
		uint64_t te = now_ns();

		if (!pkt_send(c, p)) {
			v = -2;
			goto out;
		}
		for (;;) {
			if (!read_packet(c, &cmd, &data, &len)) {
				problem(w, "EOM: connection lost");
				v = -2;
				goto out;
			}
			if (strchr("+-2bhimlqfe", cmd) == NULL && cmd != 'p')
				break;
		}
		sample_add(&w->lat[S_EOM], now_ns() - te);
		v = reply_verdict(cmd, data, len);
		if (cmd == 'c')
			v = V_ACCEPT;
		if (v == V_ERROR)
			problem(w, "EOM: unexpected reply '%c'", cmd);
	}
out:
	if (v == -1)
		v = V_ACCEPT;	/* every stage continued and none is left: delivered */
	if (v >= 0) {
		sample_add(&w->lat[S_MSG], now_ns() - t0);
		w->verdicts[v]++;
		w->done++;
		if (v != (int)opt.expect && v != V_ERROR)
			problem(w, "message of user %s: got %s, want %s", user, verdict_names[v],
				verdict_names[opt.expect]);
		/* Postfix ends every transaction with ABORT (no reply) */
		pkt_begin(p, 'A');
		pkt_end(p);
		if (!pkt_send(c, p))
			v = -2;
	}
	return v;
}

/* milter_worker - one thread: connections of up to per_conn messages */
static void milter_worker(struct worker *w)
{
	struct pkt p = { 0 };
	struct msgvals mv = { 0 };
	long n = claim();

	snprintf(mv.qid, sizeof(mv.qid), "B00000000");
	while (n >= 0) {
		struct conn c;

		if (!conn_open(&c, w)) {
			w->conn_errors++;
			problem(w, "connect: %s", strerror(errno));
			if (w->conn_errors > 20)
				break;
			usleep(10000);
			continue;
		}
		if (!milter_negotiate(&c, &p) || !milter_connect(&c, &p, &mv)) {
			w->conn_errors++;
			problem(w, "milter refused the connection or broke it");
			conn_close(&c);
			if (w->conn_errors > 20)
				break;
			continue;
		}
		for (long k = 0; k < opt.per_conn && n >= 0; k++) {
			pace(w);
			if (milter_message(&c, &p, n, w) == -2) {
				w->conn_errors++;
				n = claim();
				break;
			}
			n = claim();
		}
		pkt_begin(&p, 'Q');
		pkt_end(&p);
		(void)pkt_send(&c, &p);
		conn_close(&c);
	}
	free(p.buf);
}

/* ---- SMTP ------------------------------------------------------------------ */

/* smtp_reply - read one (multi-line) reply; its code, or -1 on EOF/timeout */
static int smtp_reply(struct conn *c, char *text, size_t size)
{
	for (;;) {
		char *nl;

		while ((nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos)) == NULL)
			if (!read_some(c))
				return -1;
		char *line = (char *)c->rbuf + c->rpos;
		size_t len = (size_t)(nl - line);

		c->rpos += len + 1;
		if (len < 3)
			return -1;
		if (len < 4 || line[3] != '-') {
			if (text != NULL)
				snprintf(text, size, "%.*s", (int)(len > 0 && line[len - 1] == '\r' ?
								   len - 1 : len), line);
			return atoi(line);
		}
	}
}

/* smtp_cmd - send a line and read its reply code */
static int smtp_cmd(struct conn *c, const char *line, char *text, size_t size)
{
	if (!write_all(c->fd, line, strlen(line)))
		return -1;
	return smtp_reply(c, text, size);
}

/* code_verdict - the verdict of a reply code */
static int code_verdict(int code)
{
	if (code >= 200 && code < 400)
		return V_ACCEPT;
	if (code >= 400 && code < 500)
		return V_TEMPFAIL;
	if (code >= 500 && code < 600)
		return V_REJECT;
	return V_ERROR;
}

/* base64 - src (n bytes) in base64 into dst (4 * ((n + 2) / 3) + 1 bytes) */
static void base64(const unsigned char *src, size_t n, char *dst)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)src[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)src[i + 1] << 8;
		if (i + 2 < n)
			v |= src[i + 2];
		dst[o++] = tab[(v >> 18) & 63];
		dst[o++] = tab[(v >> 12) & 63];
		dst[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		dst[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	dst[o] = '\0';
}

/* smtp_session - the greeting, EHLO and XCLIENT or AUTH; false on failure */
static bool smtp_session(struct conn *c, struct worker *w, const char *user)
{
	char line[512], text[512];

	if (smtp_reply(c, text, sizeof(text)) != 220) {
		problem(w, "greeting: %s", text);
		return false;
	}
	if (smtp_cmd(c, "EHLO client.bench.test\r\n", text, sizeof(text)) != 250) {
		problem(w, "EHLO: %s", text);
		return false;
	}
	if (opt.xclient) {
		snprintf(line, sizeof(line), "XCLIENT LOGIN=%s\r\n", user);
		if (smtp_cmd(c, line, text, sizeof(text)) != 220) {
			problem(w, "XCLIENT: %s", text);
			return false;
		}
		if (smtp_cmd(c, "EHLO client.bench.test\r\n", text, sizeof(text)) != 250) {
			problem(w, "EHLO after XCLIENT: %s", text);
			return false;
		}
	}
	if (opt.auth_password != NULL) {
		unsigned char plain[300];
		char tok[404];
		size_t ul = strlen(user), pl = strlen(opt.auth_password);

		if (ul + pl + 2 > sizeof(plain)) {
			problem(w, "AUTH: user or password too long");
			return false;
		}
		/* authorization id empty, authentication id, password (RFC 4616) */
		plain[0] = '\0';
		memcpy(plain + 1, user, ul);
		plain[1 + ul] = '\0';
		memcpy(plain + 2 + ul, opt.auth_password, pl);
		base64(plain, ul + pl + 2, tok);
		snprintf(line, sizeof(line), "AUTH PLAIN %s\r\n", tok);
		if (smtp_cmd(c, line, text, sizeof(text)) != 235) {
			problem(w, "AUTH of user %s: %s", user, text);
			return false;
		}
	}
	return true;
}

/* smtp_message - one pipelined transaction; the verdict or -2 on a broken connection */
static int smtp_message(struct conn *c, struct worker *w, const char *user)
{
	char cmds[4096], text[512], first_bad[600] = "";
	size_t len;
	uint64_t t0;
	int code, v = V_ACCEPT, ok_rcpts = 0;

	len = (size_t)snprintf(cmds, sizeof(cmds), "MAIL FROM:<%s@%s>\r\n", user, opt.domain);
	for (int r = 0; r < opt.rcpts && len < sizeof(cmds) - 64; r++)
		len += (size_t)snprintf(cmds + len, sizeof(cmds) - len,
					"RCPT TO:<rcpt%d@example.net>\r\n", r);
	len += (size_t)snprintf(cmds + len, sizeof(cmds) - len, "DATA\r\n");
	t0 = now_ns();
	if (!write_all(c->fd, cmds, len))
		return -2;
	if ((code = smtp_reply(c, text, sizeof(text))) < 0)
		return -2;
	sample_add(&w->lat[S_MAIL], now_ns() - t0);
	if (code != 250) {
		v = code_verdict(code);
		snprintf(first_bad, sizeof(first_bad), "MAIL: %s", text);
	}
	for (int r = 0; r < opt.rcpts; r++) {
		if ((code = smtp_reply(c, text, sizeof(text))) < 0)
			return -2;
		sample_add(&w->lat[S_RCPT], now_ns() - t0);
		if (code == 250 || code == 251) {
			ok_rcpts++;
		} else if (v == V_ACCEPT) {
			w->rcpt_refused++;
			if (code >= 400 && code < 500)
				w->rcpt_tempfailed++;
			if (opt.expect == V_ACCEPT)
				problem(w, "RCPT of user %s: %s", user, text);
		}
	}
	if ((code = smtp_reply(c, text, sizeof(text))) < 0)
		return -2;
	sample_add(&w->lat[S_DATA], now_ns() - t0);
	if (code != 354) {
		if (v == V_ACCEPT) {
			v = ok_rcpts == 0 ? V_REJECT : code_verdict(code);
			snprintf(first_bad, sizeof(first_bad), "DATA: %s", text);
		}
	} else {
		uint64_t te = now_ns();

		if (!write_all(c->fd, body_text, body_len) ||
		    (code = smtp_reply(c, text, sizeof(text))) < 0)
			return -2;
		sample_add(&w->lat[S_EOM], now_ns() - te);
		v = code_verdict(code);
		if (code != 250)
			snprintf(first_bad, sizeof(first_bad), "end of data: %s", text);
	}
	if (v == V_ERROR)
		v = V_REJECT;
	sample_add(&w->lat[S_MSG], now_ns() - t0);
	w->verdicts[v]++;
	w->done++;
	if (v != (int)opt.expect)
		problem(w, "message of user %s: got %s, want %s (%s)", user, verdict_names[v],
			verdict_names[opt.expect], first_bad);
	if (v != V_ACCEPT && smtp_cmd(c, "RSET\r\n", NULL, 0) != 250)
		return -2;
	return v;
}

/* smtp_worker - one thread: SMTP sessions of up to per_conn messages */
static void smtp_worker(struct worker *w)
{
	long n = claim(), session = 0;
	char user[128];

	while (n >= 0) {
		struct conn c;

		snprintf(user, sizeof(user), "%s%ld", opt.prefix,
			 opt.user_base + (w->id + session * opt.conns) % opt.users);
		session++;
		if (!conn_open(&c, w)) {
			w->conn_errors++;
			problem(w, "connect: %s", strerror(errno));
			if (w->conn_errors > 20)
				break;
			usleep(10000);
			continue;
		}
		if (!smtp_session(&c, w, user)) {
			w->conn_errors++;
			conn_close(&c);
			if (w->conn_errors > 20)
				break;
			continue;
		}
		for (long k = 0; k < opt.per_conn && n >= 0; k++) {
			pace(w);
			if (smtp_message(&c, w, user) == -2) {
				w->conn_errors++;
				problem(w, "SMTP connection lost");
				n = claim();
				break;
			}
			n = claim();
		}
		(void)smtp_cmd(&c, "QUIT\r\n", NULL, 0);
		conn_close(&c);
	}
}

/* ---- run and report ---------------------------------------------------------- */

/* worker_main - thread entry */
static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (opt.smtp)
		smtp_worker(w);
	else
		milter_worker(w);
	return NULL;
}

/* cmp_u32 - qsort order */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* pct - the p-th percentile of sorted samples, in microseconds */
static double pct(const struct samples *s, double p)
{
	size_t i;

	if (s->n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)s->n);
	if (i >= s->n)
		i = s->n - 1;
	return s->v[i] / 1000.0;
}

/* make_body - the SMTP message text, dot-terminated */
static void make_body(void)
{
	size_t cap = opt.body_size + 512;

	body_text = xrealloc(NULL, cap);
	body_len = (size_t)snprintf(body_text, cap,
				    "From: <bench@%s>\r\nTo: <rcpt0@example.net>\r\n"
				    "Subject: chapps-bench\r\n\r\n", opt.domain);
	while (body_len + 80 < opt.body_size) {
		memset(body_text + body_len, 'x', 70);
		body_len += 70;
		memcpy(body_text + body_len, "\r\n", 2);
		body_len += 2;
	}
	memcpy(body_text + body_len, ".\r\n", 4);
	body_len += 3;
}

/* usage - the synopsis */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: chapps-bench -s SOCKET [options]\n"
		"  -s, --socket SOCK      inet:PORT@HOST, inet:HOST:PORT or unix:/path (loopback only)\n"
		"  -c, --conns N          concurrent connections (threads) [16]\n"
		"  -m, --messages N       total messages [20000]\n"
		"  -t, --seconds S        stop after S seconds at the latest [60]\n"
		"  -k, --per-conn N       messages per connection [100]\n"
		"  -r, --rcpts N          recipients per message [1]\n"
		"      --unique-rcpts     milter protocol: new recipient addresses every message\n"
		"                         (<rcptR.N@example.net>; distinct-recipients limits)\n"
		"  -u, --users N          user population u<BASE>..u<BASE+N-1> [1000]\n"
		"      --user-base N      first user number [0]\n"
		"      --prefix P         user name prefix [u]\n"
		"      --domain D         sender domain [bench.test]\n"
		"  -e, --expect V         accept, reject or tempfail [accept]\n"
		"  -R, --rate N           pace the run at N messages/s in all [0 = unpaced]\n"
		"      --smtp             speak SMTP (pipelined) instead of the milter protocol\n"
		"      --xclient          SMTP: XCLIENT LOGIN=<user> after EHLO\n"
		"      --auth PASSWORD    SMTP: AUTH PLAIN as <user> with PASSWORD after EHLO\n"
		"      --body-size N      SMTP: message size in bytes [1024]\n"
		"  -l, --label L          name of the run in the output [run]\n"
		"  -q, --quiet            print one key=value line\n");
}

/* parse_long - a number option within bounds */
static long parse_long(const char *name, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max)
		die("%s: \"%s\" is not a number in %ld..%ld", name, s, min, max);
	return v;
}

/* parse_args - fill opt */
static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "conns", required_argument, NULL, 'c' },
		{ "messages", required_argument, NULL, 'm' },
		{ "seconds", required_argument, NULL, 't' },
		{ "per-conn", required_argument, NULL, 'k' },
		{ "rcpts", required_argument, NULL, 'r' },
		{ "users", required_argument, NULL, 'u' },
		{ "user-base", required_argument, NULL, 'B' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "domain", required_argument, NULL, 'D' },
		{ "expect", required_argument, NULL, 'e' },
		{ "rate", required_argument, NULL, 'R' },
		{ "smtp", no_argument, NULL, 'S' },
		{ "xclient", no_argument, NULL, 'X' },
		{ "auth", required_argument, NULL, 'A' },
		{ "unique-rcpts", no_argument, NULL, 'U' },
		{ "body-size", required_argument, NULL, 'b' },
		{ "label", required_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	while ((o = getopt_long(argc, argv, "s:c:m:t:k:r:u:e:R:l:qh", longopts, NULL)) != -1) {
		switch (o) {
		case 's': opt.socket = optarg; break;
		case 'c': opt.conns = (int)parse_long("--conns", optarg, 1, 4096); break;
		case 'm': opt.messages = parse_long("--messages", optarg, 1, 100000000); break;
		case 't':
			opt.seconds = strtod(optarg, NULL);
			if (opt.seconds <= 0 || opt.seconds > 3600)
				die("--seconds: want 0 < S <= 3600");
			break;
		case 'k': opt.per_conn = parse_long("--per-conn", optarg, 1, 100000000); break;
		case 'r': opt.rcpts = (int)parse_long("--rcpts", optarg, 1, 1000); break;
		case 'u': opt.users = parse_long("--users", optarg, 1, 100000000); break;
		case 'B': opt.user_base = parse_long("--user-base", optarg, 0, 100000000); break;
		case 'P': opt.prefix = optarg; break;
		case 'D': opt.domain = optarg; break;
		case 'e':
			if (strcmp(optarg, "accept") == 0)
				opt.expect = V_ACCEPT;
			else if (strcmp(optarg, "reject") == 0)
				opt.expect = V_REJECT;
			else if (strcmp(optarg, "tempfail") == 0)
				opt.expect = V_TEMPFAIL;
			else
				die("--expect: accept, reject or tempfail");
			break;
		case 'R':
			opt.rate = strtod(optarg, NULL);
			if (opt.rate < 0 || opt.rate > 1e7)
				die("--rate: want 0 <= N <= 10000000");
			break;
		case 'S': opt.smtp = true; break;
		case 'U': opt.unique_rcpts = true; break;
		case 'X': opt.xclient = true; break;
		case 'A': opt.auth_password = optarg; break;
		case 'b': opt.body_size = (size_t)parse_long("--body-size", optarg, 64, 10000000); break;
		case 'l': opt.label = optarg; break;
		case 'q': opt.quiet = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || opt.socket == NULL) {
		usage(stderr);
		exit(2);
	}
	if ((opt.xclient || opt.auth_password) && !opt.smtp)
		die("--xclient and --auth need --smtp");
	if (opt.xclient && opt.auth_password)
		die("--xclient or --auth, not both");
	parse_socket(opt.socket);
}

int main(int argc, char **argv)
{
	struct worker *ws;
	struct samples all[S_N] = { { 0 } };
	unsigned long verdicts[V_N] = { 0 }, done = 0, unexpected = 0, refused = 0, errors = 0;
	unsigned long rcpt_tempfailed = 0;
	const char *first = NULL;
	uint64_t t0, t1;
	double secs;

	parse_args(argc, argv);
	if (opt.smtp)
		make_body();
	ws = calloc((size_t)opt.conns, sizeof(*ws));
	if (ws == NULL)
		die("out of memory");
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	t_deadline = t_start;
	t_deadline.tv_sec += (time_t)opt.seconds;
	t_deadline.tv_nsec += (long)((opt.seconds - (double)(time_t)opt.seconds) * 1e9);
	if (t_deadline.tv_nsec >= 1000000000L) {
		t_deadline.tv_sec++;
		t_deadline.tv_nsec -= 1000000000L;
	}
	t0 = now_ns();
	for (int i = 0; i < opt.conns; i++) {
		pthread_attr_t attr;

		ws[i].id = i;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&ws[i].tid, &attr, worker_main, &ws[i]) != 0)
			die("cannot start thread %d", i);
		pthread_attr_destroy(&attr);
	}
	for (int i = 0; i < opt.conns; i++)
		pthread_join(ws[i].tid, NULL);
	t1 = now_ns();
	secs = (double)(t1 - t0) / 1e9;

	for (int i = 0; i < opt.conns; i++) {
		struct worker *w = &ws[i];

		for (int s = 0; s < S_N; s++) {
			if (w->lat[s].n == 0)
				continue;
			all[s].v = xrealloc(all[s].v, (all[s].n + w->lat[s].n) * sizeof(uint32_t));
			memcpy(all[s].v + all[s].n, w->lat[s].v, w->lat[s].n * sizeof(uint32_t));
			all[s].n += w->lat[s].n;
			free(w->lat[s].v);
		}
		for (int v = 0; v < V_N; v++)
			verdicts[v] += w->verdicts[v];
		done += w->done;
		unexpected += w->unexpected;
		refused += w->rcpt_refused;
		rcpt_tempfailed += w->rcpt_tempfailed;
		errors += w->conn_errors;
		if (first == NULL && w->first_problem[0] != '\0')
			first = w->first_problem;
	}
	for (int s = 0; s < S_N; s++)
		if (all[s].n > 0)
			qsort(all[s].v, all[s].n, sizeof(uint32_t), cmp_u32);

	if (opt.quiet) {
		printf("label=%s mode=%s conns=%d msgs=%lu secs=%.3f rate=%.1f accepted=%lu "
		       "rejected=%lu tempfailed=%lu rcpt_refused=%lu rcpt_tempfailed=%lu unexpected=%lu "
		       "conn_errors=%lu",
		       opt.label, opt.smtp ? "smtp" : "milter", opt.conns, done, secs,
		       secs > 0 ? (double)done / secs : 0, verdicts[V_ACCEPT], verdicts[V_REJECT],
		       verdicts[V_TEMPFAIL], refused, rcpt_tempfailed, unexpected, errors);
		for (int s = 0; s < S_N; s++)
			printf(" %s_n=%zu %s_p50=%.1f %s_p99=%.1f %s_p999=%.1f", stat_names[s],
			       all[s].n, stat_names[s], pct(&all[s], 50), stat_names[s],
			       pct(&all[s], 99), stat_names[s], pct(&all[s], 99.9));
		printf("\n");
	} else {
		printf("%s: %s, %d connections, %lu messages in %.2f s: %.1f decisions/s\n",
		       opt.label, opt.smtp ? "SMTP" : "milter", opt.conns, done, secs,
		       secs > 0 ? (double)done / secs : 0);
		printf("  verdicts: %lu accept, %lu reject, %lu tempfail, %lu discard; "
		       "%lu recipients refused (%lu of them tempfailed)\n", verdicts[V_ACCEPT],
		       verdicts[V_REJECT], verdicts[V_TEMPFAIL], verdicts[V_DISCARD], refused,
		       rcpt_tempfailed);
		printf("  %-5s %10s %10s %10s %10s   (microseconds)\n", "stage", "count", "p50",
		       "p99", "p99.9");
		for (int s = 0; s < S_N; s++)
			if (all[s].n > 0)
				printf("  %-5s %10zu %10.1f %10.1f %10.1f\n", stat_names[s], all[s].n,
				       pct(&all[s], 50), pct(&all[s], 99), pct(&all[s], 99.9));
		printf("  unexpected replies: %lu, connection errors: %lu\n", unexpected, errors);
	}
	if (first != NULL)
		fprintf(stderr, "chapps-bench: %s: first problem: %s\n", opt.label, first);
	for (int s = 0; s < S_N; s++)
		free(all[s].v);
	free(ws);
	free(body_text);
	return unexpected == 0 && errors == 0 && done > 0 ? 0 : 1;
}
