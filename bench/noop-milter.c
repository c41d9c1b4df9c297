/*
 * NAME
 *	noop-milter - the benchmark's baseline: a milter that decides nothing
 * SYNOPSIS
 *	noop-milter -p SOCKET [-l mail|data|eom] [-r]
 * DESCRIPTION
 *	The same libmilter as chapps-milter, negotiating the same way
 *	(milter/callbacks.c mlfi_negotiate): no reply at CONNECT, no HELO,
 *	headers, end of headers, body or unknown commands, RCPT only with -r
 *	(chapps asks for RCPT only when the quota runs), the same macro lists
 *	through smfi_setsymlist, an xxfi_data callback (without one libmilter
 *	negotiates DATA away and the MTA's next packet waits for a delayed
 *	ACK), TCP_NODELAY on the listening socket and 1 MiB thread stacks
 *	(libmilter's workers come and go: common/base/tune.c) as
 *	chapps-milter's main.c does.  It accepts the message at the stage chapps leaves it
 *	(-l): MAIL for the identity gate alone, DATA for the quota with
 *	quota.commit = "data", EOM for quota.commit = "eom".  Every other
 *	callback returns continue (CONNECT, negotiated without a reply, returns
 *	SMFIS_NOREPLY, as chapps does).  It keeps no state, allocates nothing and
 *	logs nothing, so that chapps' figures divided by its figures are the
 *	cost of chapps' own work.
 * DIAGNOSTICS
 *	Start-up errors on stderr, exit 1.  libmilter's SIGTERM ends it.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "base/tune.h"

enum leave { LEAVE_MAIL, LEAVE_DATA, LEAVE_EOM };

static enum leave leave_at = LEAVE_EOM;
static bool want_rcpt;

/* noop_negotiate - ask for the stages chapps asks for */
static sfsistat noop_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			       unsigned long f2, unsigned long f3, unsigned long *pf0,
			       unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want = SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
			     SMFIP_NR_CONN | SMFIP_NOHELO;

	(void)f2;
	(void)f3;
	if (!want_rcpt)
		want |= SMFIP_NORCPT;
	*pf0 = f0 & SMFIF_SETSYMLIST;
	*pf1 = f1 & want;
	*pf2 = 0;
	*pf3 = 0;
	/* no state: a non-NULL private pointer says "CONNECT without a reply" */
	smfi_setpriv(ctx, (*pf1 & SMFIP_NR_CONN) ? (void *)&want_rcpt : NULL);
	if (*pf0 & SMFIF_SETSYMLIST) {
		smfi_setsymlist(ctx, SMFIM_CONNECT, (char *)"{daemon_name} {daemon_addr} {daemon_port}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM, (char *)"i {auth_authen} {auth_type} "
				"{auth_author} {cert_subject} {cert_issuer}");
		smfi_setsymlist(ctx, SMFIM_ENVRCPT, (char *)"i");
		smfi_setsymlist(ctx, SMFIM_DATA, (char *)"i");
		smfi_setsymlist(ctx, SMFIM_EOM, (char *)"i");
	}
	return SMFIS_CONTINUE;
}

/*
 * noop_connect - nothing to do; negotiated without a reply, it must say
 * SMFIS_NOREPLY (anything else makes libmilter log an error per connection)
 */
static sfsistat noop_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)host;
	(void)addr;
	return smfi_getpriv(ctx) != NULL ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* noop_envfrom - accept here when chapps would (the identity gate alone) */
static sfsistat noop_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return leave_at == LEAVE_MAIL ? SMFIS_ACCEPT : SMFIS_CONTINUE;
}

/* noop_envrcpt - continue (chapps reserves quota here) */
static sfsistat noop_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

/* noop_data - accept here when chapps would (quota.commit = "data") */
static sfsistat noop_data(SMFICTX *ctx)
{
	(void)ctx;
	return leave_at == LEAVE_DATA ? SMFIS_ACCEPT : SMFIS_CONTINUE;
}

/* noop_eom - accept */
static sfsistat noop_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

/* noop_abort - nothing to release */
static sfsistat noop_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* noop_close - nothing to free */
static sfsistat noop_close(SMFICTX *ctx)
{
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = (char *)"noop",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_NONE,
	.xxfi_connect = noop_connect,
	.xxfi_helo = NULL,
	.xxfi_envfrom = noop_envfrom,
	.xxfi_envrcpt = noop_envrcpt,
	.xxfi_header = NULL,
	.xxfi_eoh = NULL,
	.xxfi_body = NULL,
	.xxfi_eom = noop_eom,
	.xxfi_abort = noop_abort,
	.xxfi_close = noop_close,
	.xxfi_unknown = NULL,
	.xxfi_data = noop_data,
	.xxfi_negotiate = noop_negotiate,
};

/* usage - the synopsis */
static void usage(FILE *out)
{
	fprintf(out, "usage: noop-milter -p SOCKET [-l mail|data|eom] [-r]\n"
		     "  -p SOCKET  unix:/path or inet:PORT@HOST\n"
		     "  -l STAGE   accept at mail, data or eom [eom]\n"
		     "  -r         ask for RCPT (as chapps does when the quota runs)\n");
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int o;

	while ((o = getopt(argc, argv, "p:l:rh")) != -1) {
		switch (o) {
		case 'p': sock = optarg; break;
		case 'l':
			if (strcmp(optarg, "mail") == 0)
				leave_at = LEAVE_MAIL;
			else if (strcmp(optarg, "data") == 0)
				leave_at = LEAVE_DATA;
			else if (strcmp(optarg, "eom") == 0)
				leave_at = LEAVE_EOM;
			else {
				usage(stderr);
				return 1;
			}
			break;
		case 'r': want_rcpt = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (sock == NULL || optind < argc) {
		usage(stderr);
		return 1;
	}
	if (strncmp(sock, "unix:", 5) == 0)
		(void)unlink(sock + 5);
	(void)tune_thread_stack(1024 * 1024, NULL);
	if (smfi_register(desc) != MI_SUCCESS || smfi_setconn((char *)sock) != MI_SUCCESS) {
		fprintf(stderr, "noop-milter: cannot register on %s\n", sock);
		return 1;
	}
	smfi_settimeout(7210);
	smfi_setbacklog(128);
	if (smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "noop-milter: cannot open %s\n", sock);
		return 1;
	}
	(void)tune_listeners_nodelay(NULL);
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
