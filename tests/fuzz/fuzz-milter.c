/*
 * NAME
 *	fuzz-milter - libFuzzer target for libmilter's packet reader, as shipped
 * DESCRIPTION
 *	Anyone who can connect to the milter socket writes milter packets
 *	(4-byte big-endian length, command byte, data) that libmilter reads,
 *	decodes and stores before any chapps code runs.  This target runs
 *	the libmilter the system ships (Debian 12: 8.17.1.9, not rebuilt, so
 *	not instrumented) in the fuzzer's process: smfi_main listens on a
 *	private unix socket in a thread of its own, and each input is written
 *	as one session's byte stream over a fresh connection, then the
 *	target reads until libmilter closes it.  The filter's callbacks do
 *	what chapps' do with what libmilter hands them: they read the macros
 *	chapps asks for with smfi_getsymval and copy every argument into a
 *	request object (common/request), destroyed at close.
 *
 *	Coverage comes from this file's own walk over the packets (each
 *	command and macro stage is a branch) and from the request code;
 *	libmilter's own branches are invisible to libFuzzer, so the seed
 *	corpus holds whole valid sessions for the mutations to start from.
 *
 *	The known bug.  libmilter 8.17.1.9's smfi_getsymval walks a stage's
 *	macro array two entries at a time; dec_argv stores the strings of a
 *	SMFIC_MACRO ('D') packet as a NULL-terminated array of exactly as many
 *	entries as there are strings, so after a packet with an odd number of
 *	strings the walk steps over the NULL and reads one pointer past the
 *	end of the array (then uses whatever it finds there as a string).
 *	The storage is right; the read out of bounds is in smfi_getsymval.
 *	chapps cannot see the packet, so it cannot refuse it (see
 *	docs/ROBUSTNESS.md).  Unless FUZZ_MILTER_KNOWN=1 is set, this target
 *	drops every 'D' packet whose data holds an odd number of NUL bytes
 *	before it sends the stream, so that the fuzzer looks for other bugs;
 *	tests/fuzz/known/milter-* replay the bug with it set (the first long
 *	run found milter-negative-length-found: the screen then framed a
 *	length of 0x80000001 and more as libmilter does not, see screen()).
 * DIAGNOSTICS
 *	A crash or sanitizer report in the libmilter session thread; abort()
 *	when libmilter does not close a session within 10 seconds.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "request/request.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char sock_path[108];
static bool known_bug;		/* FUZZ_MILTER_KNOWN=1: send odd macro packets too */
static volatile unsigned long stage_seen[256];	/* keeps the packet walk's branches */

/* ---- the filter: what chapps' callbacks do with libmilter's data --------------------- */

/* fetch - smfi_getsymval(name) into field (or a macro slot when field < 0) */
static void fetch(SMFICTX *ctx, const char *name, int field)
{
	struct request *req = smfi_getpriv(ctx);
	char *v = smfi_getsymval(ctx, (char *)name);

	if (req == NULL)
		return;
	if (field >= 0)
		request_set(req, (enum request_field)field, v);
	else
		request_set_macro(req, 0, v);
}

/* priv - this connection's request, made at the first callback */
static struct request *priv(SMFICTX *ctx)
{
	struct request *req = smfi_getpriv(ctx);
	struct request_limits lim;

	if (req == NULL) {
		request_limits_default(&lim);
		req = request_create(&lim, 1);
		smfi_setpriv(ctx, req);
	}
	return req;
}

/* f_connect - connect: client name and the connection macros */
static sfsistat f_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct request *req = priv(ctx);

	(void)sa;
	request_set(req, REQ_CLIENT_NAME, host);
	fetch(ctx, "{daemon_name}", REQ_DAEMON_NAME);
	fetch(ctx, "{daemon_addr}", REQ_DAEMON_ADDR);
	fetch(ctx, "{daemon_port}", REQ_DAEMON_PORT);
	fetch(ctx, "{client_addr}", REQ_CLIENT_ADDR);
	fetch(ctx, "{client_port}", REQ_CLIENT_PORT);
	fetch(ctx, "j", -1);
	fetch(ctx, "_", -1);
	return SMFIS_CONTINUE;
}

/* f_helo - HELO: the name */
static sfsistat f_helo(SMFICTX *ctx, char *helo)
{
	request_set(priv(ctx), REQ_HELO, helo);
	fetch(ctx, "{tls_version}", -1);
	return SMFIS_CONTINUE;
}

/* f_envfrom - MAIL: a new message, its sender, ESMTP arguments and the MAIL macros */
static sfsistat f_envfrom(SMFICTX *ctx, char **argv)
{
	struct request *req = priv(ctx);

	request_message_reset(req);
	request_set_sender(req, argv[0]);
	request_set_esmtp(req, argv[0] != NULL ? argv + 1 : NULL);
	fetch(ctx, "{auth_authen}", REQ_AUTH_AUTHEN);
	fetch(ctx, "{auth_type}", REQ_AUTH_TYPE);
	fetch(ctx, "{auth_author}", REQ_AUTH_AUTHOR);
	fetch(ctx, "{cert_subject}", REQ_CERT_SUBJECT);
	fetch(ctx, "{cert_issuer}", REQ_CERT_ISSUER);
	fetch(ctx, "{mail_addr}", -1);
	fetch(ctx, "i", REQ_QUEUE_ID);
	return SMFIS_CONTINUE;
}

/* f_envrcpt - RCPT: one recipient (refused with tempfail past the limit) */
static sfsistat f_envrcpt(SMFICTX *ctx, char **argv)
{
	struct request *req = priv(ctx);

	fetch(ctx, "{rcpt_addr}", -1);
	fetch(ctx, "i", REQ_QUEUE_ID);
	if (request_add_rcpt(req, argv[0]) != REQUEST_RCPT_OK)
		return SMFIS_TEMPFAIL;
	return SMFIS_CONTINUE;
}

/* f_data - DATA: the queue ID */
static sfsistat f_data(SMFICTX *ctx)
{
	fetch(ctx, "i", REQ_QUEUE_ID);
	return SMFIS_CONTINUE;
}

/* f_header - a header: the queue ID */
static sfsistat f_header(SMFICTX *ctx, char *name, char *value)
{
	(void)name;
	(void)value;
	fetch(ctx, "i", REQ_QUEUE_ID);
	return SMFIS_CONTINUE;
}

/* f_eoh - end of headers: the queue ID */
static sfsistat f_eoh(SMFICTX *ctx)
{
	fetch(ctx, "i", REQ_QUEUE_ID);
	return SMFIS_CONTINUE;
}

/* f_body - a body chunk: nothing */
static sfsistat f_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx;
	(void)chunk;
	(void)len;
	return SMFIS_CONTINUE;
}

/* f_eom - end of message: the queue ID, then accept */
static sfsistat f_eom(SMFICTX *ctx)
{
	fetch(ctx, "i", REQ_QUEUE_ID);
	request_message_reset(priv(ctx));
	return SMFIS_ACCEPT;
}

/* f_abort - abort: forget the message */
static sfsistat f_abort(SMFICTX *ctx)
{
	request_message_reset(priv(ctx));
	return SMFIS_CONTINUE;
}

/* f_unknown - an unknown SMTP command: nothing */
static sfsistat f_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx;
	(void)cmd;
	return SMFIS_CONTINUE;
}

/* f_close - close: free the request */
static sfsistat f_close(SMFICTX *ctx)
{
	struct request *req = smfi_getpriv(ctx);

	request_destroy(&req);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static char filter_name[] = "chapps-fuzz";
static struct smfiDesc filter = {
	.xxfi_name = filter_name,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_connect = f_connect,
	.xxfi_helo = f_helo,
	.xxfi_envfrom = f_envfrom,
	.xxfi_envrcpt = f_envrcpt,
	.xxfi_header = f_header,
	.xxfi_eoh = f_eoh,
	.xxfi_body = f_body,
	.xxfi_eom = f_eom,
	.xxfi_abort = f_abort,
	.xxfi_close = f_close,
	.xxfi_unknown = f_unknown,
	.xxfi_data = f_data,
	.xxfi_negotiate = NULL,
};

/* run_milter - the libmilter thread */
static void *run_milter(void *arg)
{
	(void)arg;
	smfi_main();
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("FUZZ_TMPDIR");
	char conn[128], dir[80];
	pthread_t th;

	(void)argc;
	(void)argv;
	known_bug = getenv("FUZZ_MILTER_KNOWN") != NULL &&
		    strcmp(getenv("FUZZ_MILTER_KNOWN"), "1") == 0;
	snprintf(dir, sizeof(dir), "%s/fuzz-milter.%ld", tmp != NULL ? tmp : "/tmp",
		 (long)getpid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		perror(dir);
		abort();
	}
	snprintf(sock_path, sizeof(sock_path), "%s/s", dir);
	snprintf(conn, sizeof(conn), "unix:%s", sock_path);
	unlink(sock_path);
	if (smfi_register(filter) != MI_SUCCESS || smfi_setconn(conn) != MI_SUCCESS ||
	    smfi_settimeout(5) != MI_SUCCESS || smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "fuzz-milter: cannot set up libmilter on %s\n", conn);
		abort();
	}
	if (pthread_create(&th, NULL, run_milter, NULL) != 0)
		abort();
	pthread_detach(th);
	return 0;
}

/* ---- the stream ------------------------------------------------------------------------ */

/*
 * screen - copy the packets of in (n bytes) to out, dropping SMFIC_MACRO
 * packets whose data holds an odd number of NULs (the known libmilter bug)
 * unless known_bug; returns the bytes written.
 *
 * The packets are framed as libmilter's mi_rd_cmd frames them: the data
 * length is the 32-bit length minus one, taken as a signed 32-bit number;
 * when that is zero or negative (length 0, 1, or 0x80000001 and above) the
 * packet is its command byte alone and the next one starts 5 bytes on (so
 * a huge length does not end the stream).  A data length running past the
 * end of the input (or past libmilter's limit, which ends the session) is
 * copied as it is: nothing after it is read as a packet.
 */
static size_t screen(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t pos = 0, w = 0;

	while (pos + 5 <= n) {
		uint32_t len = (uint32_t)in[pos] << 24 | (uint32_t)in[pos + 1] << 16 |
			       (uint32_t)in[pos + 2] << 8 | in[pos + 3];
		int32_t dlen = (int32_t)(len - 1u);	/* libmilter's expl */
		uint8_t cmd = in[pos + 4];
		size_t nul = 0;

		stage_seen[cmd]++;
		if (dlen <= 0) {			/* a command without data */
			stage_seen[cmd ^ 0x40]++;
			memcpy(out + w, in + pos, 5);
			w += 5;
			pos += 5;
			continue;
		}
		if ((size_t)dlen > n - pos - 5)
			break;
		if (cmd == SMFIC_MACRO) {
			stage_seen[in[pos + 5] ^ 0x80]++;
			for (size_t i = pos + 6; i < pos + 5 + (size_t)dlen; i++)
				nul += in[i] == '\0';
			if (nul % 2 == 1 && !known_bug) {
				pos += 5 + (size_t)dlen;
				continue;
			}
		}
		memcpy(out + w, in + pos, 5 + (size_t)dlen);
		w += 5 + (size_t)dlen;
		pos += 5 + (size_t)dlen;
	}
	memcpy(out + w, in + pos, n - pos);
	return w + n - pos;
}

/* converse - send buf to a fresh session and read until libmilter closes it */
static void converse(const uint8_t *buf, size_t n)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char sink[4096];
	size_t sent = 0;
	bool open_w = true;
	int fd;

	strcpy(sun.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		abort();
	for (int tries = 0; connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0; tries++) {
		if (tries == 500) {	/* 5 s: the listener thread never came up */
			perror("fuzz-milter: connect");
			abort();
		}
		poll(NULL, 0, 10);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (n == 0) {
		shutdown(fd, SHUT_WR);
		open_w = false;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (open_w ? POLLOUT : 0)};
		ssize_t r;

		if (poll(&p, 1, 10000) == 0) {
			fprintf(stderr, "fuzz-milter: libmilter kept the session open 10 s\n");
			abort();
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = read(fd, sink, sizeof(sink));
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
		if (open_w && (p.revents & POLLOUT)) {
			r = send(fd, buf + sent, n - sent, MSG_NOSIGNAL);
			if (r > 0)
				sent += (size_t)r;
			if ((r < 0 && errno != EAGAIN && errno != EINTR) || sent == n) {
				shutdown(fd, SHUT_WR);
				open_w = false;
			}
		}
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size + 1);

	if (buf == NULL)
		return 0;
	converse(buf, screen(data, size, buf));
	free(buf);
	return 0;
}
