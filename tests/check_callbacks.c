/*
 * check_callbacks - milter/callbacks.c driven through a fake struct mta_ops
 *
 * The callbacks are called as libmilter would (callbacks_desc), with a
 * fake MTA table that serves macros and records setpriv, setreply,
 * setsymlist and insheader.  The policies behind them run for real, on an
 * LMDB store and an SQLite policy database in a temporary directory, and
 * SPF answers from a test zone: every stage (negotiate, connect, helo,
 * envfrom, envrcpt, data, eom, abort, close), every mapping of a result to
 * an SMFIS_* code with its reply, the header at EOM, close as the only
 * callback, the negotiation of several configurations, and the log level
 * of backend incidents.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <check.h>
#include <sqlite3.h>

#include "check_main.h"
#include "test_util.h"
#include "base/config.h"
#include "base/log.h"
#include "milter/callbacks.h"
#include "milter/mta.h"
#include "policy/backends.h"
#include "policydb/policydb.h"

/* ---- the fake MTA ------------------------------------------------------------ */

#define MACROS_MAX 16

static struct fake {
	void *priv;
	int setpriv_calls;
	const char *macro[MACROS_MAX][2];	/* name, value */
	int setreply_calls;
	char rcode[8], xcode[16], message[1024];
	bool xcode_null;
	int symlist_calls;
	char symlist[8][1024];			/* by SMFIM_* stage */
	int insheader_calls;
	int hdr_index;
	char hdr_name[64], hdr_value[1100];
	int quarantine_calls;
	char quarantine_reason[300];
} fk;

#define CTX ((SMFICTX *)(void *)&fk)

/* fake_getpriv - the private pointer */
static void *fake_getpriv(SMFICTX *ctx)
{
	ck_assert_ptr_eq(ctx, CTX);
	return fk.priv;
}

/* fake_setpriv - record the private pointer */
static int fake_setpriv(SMFICTX *ctx, void *priv)
{
	ck_assert_ptr_eq(ctx, CTX);
	fk.priv = priv;
	fk.setpriv_calls++;
	return MI_SUCCESS;
}

/* fake_getsymval - a macro set with set_macro, or NULL */
static char *fake_getsymval(SMFICTX *ctx, char *name)
{
	ck_assert_ptr_eq(ctx, CTX);
	for (int i = 0; i < MACROS_MAX && fk.macro[i][0] != NULL; i++)
		if (strcmp(fk.macro[i][0], name) == 0)
			return (char *)fk.macro[i][1];
	return NULL;
}

/* fake_setreply - record the reply */
static int fake_setreply(SMFICTX *ctx, char *rcode, char *xcode, char *message)
{
	ck_assert_ptr_eq(ctx, CTX);
	fk.setreply_calls++;
	snprintf(fk.rcode, sizeof(fk.rcode), "%s", rcode);
	fk.xcode_null = xcode == NULL;
	snprintf(fk.xcode, sizeof(fk.xcode), "%s", xcode ? xcode : "");
	snprintf(fk.message, sizeof(fk.message), "%s", message);
	return MI_SUCCESS;
}

/* fake_setsymlist - record the macro list of a stage */
static int fake_setsymlist(SMFICTX *ctx, int stage, char *macros)
{
	ck_assert_ptr_eq(ctx, CTX);
	ck_assert_int_ge(stage, 0);
	ck_assert_int_lt(stage, 8);
	fk.symlist_calls++;
	snprintf(fk.symlist[stage], sizeof(fk.symlist[stage]), "%s", macros);
	return MI_SUCCESS;
}

/* fake_insheader - record the inserted header */
static int fake_insheader(SMFICTX *ctx, int index, char *name, char *value)
{
	ck_assert_ptr_eq(ctx, CTX);
	fk.insheader_calls++;
	fk.hdr_index = index;
	snprintf(fk.hdr_name, sizeof(fk.hdr_name), "%s", name);
	snprintf(fk.hdr_value, sizeof(fk.hdr_value), "%s", value);
	return MI_SUCCESS;
}

/* fake_quarantine - record the hold reason */
static int fake_quarantine(SMFICTX *ctx, char *reason)
{
	ck_assert_ptr_eq(ctx, CTX);
	fk.quarantine_calls++;
	snprintf(fk.quarantine_reason, sizeof(fk.quarantine_reason), "%s", reason);
	return MI_SUCCESS;
}

static const struct mta_ops fake_ops = {
	.getpriv = fake_getpriv,
	.setpriv = fake_setpriv,
	.getsymval = fake_getsymval,
	.setreply = fake_setreply,
	.setsymlist = fake_setsymlist,
	.insheader = fake_insheader,
	.quarantine = fake_quarantine,
};

/* set_macro - serve name = value (NULL: remove it) from now on */
static void set_macro(const char *name, const char *value)
{
	int i;

	for (i = 0; i < MACROS_MAX && fk.macro[i][0] != NULL; i++)
		if (strcmp(fk.macro[i][0], name) == 0)
			break;
	ck_assert_int_lt(i, MACROS_MAX);
	if (value == NULL) {
		for (; i + 1 < MACROS_MAX; i++) {
			fk.macro[i][0] = fk.macro[i + 1][0];
			fk.macro[i][1] = fk.macro[i + 1][1];
		}
		fk.macro[MACROS_MAX - 1][0] = fk.macro[MACROS_MAX - 1][1] = NULL;
		return;
	}
	fk.macro[i][0] = name;
	fk.macro[i][1] = value;
}

/* clear_reply - forget the recorded reply */
static void clear_reply(void)
{
	fk.setreply_calls = 0;
	fk.rcode[0] = fk.xcode[0] = fk.message[0] = '\0';
}

/* ---- set-up ------------------------------------------------------------------- */

static char dir[64];		/* /tmp/check_callbacks.XXXXXX */
static const char *spf_extra = "";	/* more settings of the spf section */
static struct config *cfg;
static struct backends *backends;

/* start - config (base + extra) in force, a policy database with users, a zone */
static void start(const char *extra)
{
	char path[256], *errors = NULL, err[256];
	struct policydb *db;
	FILE *f;

	memset(&fk, 0, sizeof(fk));
	mta = &fake_ops;
	ck_assert_ptr_nonnull(test_mkdtemp(dir, sizeof(dir), "/tmp", "check_callbacks.XXXXXX"));
	snprintf(path, sizeof(path), "%s/zone", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "pass.test TXT v=spf1 ip4:192.0.2.0/24 -all\nfail.test TXT v=spf1 -all\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/chapps.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"milter: { user = \"\"; group = \"\"; pidfile = \"\"; run_as_root = true; };\n"
		"store: { path = \"%s/state\"; };\n"
		"policy_db: { path = \"%s/policy.db\"; cache_ttl = 60; };\n"
		"spf: { test_zone = \"%s/zone\"; receiver = \"mx.check.test\"; %s };\n"
		"%s\n",
		dir, dir, dir, spf_extra, extra ? extra : "");
	fclose(f);
	if (config_load(path, &cfg, &errors) < 0)
		ck_abort_msg("config: %s", errors);
	ck_assert_int_eq(policydb_open(cfg, true, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_setup(db, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_quota_add(db, "q3", 3, err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_user_add(db, "alice", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_user_set_quota(db, "alice", "q3", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_user_add(db, "bob", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_user_set_quota(db, "bob", "q3", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_domain_add(db, "enforced.test", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_domain_set_flag(db, "enforced.test", "check_spf", true, err,
						  sizeof(err)),
			 POLICYDB_OK);
	policydb_close(&db);
	backends = backends_create(cfg);
	callbacks_set_backends(backends);
	callbacks_set_config(config_ref(cfg));
}

/* stop - drop everything and remove the directory */
static void stop(void)
{
	ck_assert_ptr_null(fk.priv);	/* every test closes its connection */
	callbacks_shutdown();
	callbacks_set_backends(NULL);
	backends_destroy(&backends);
	config_unref(&cfg);
	log_capture_stop();
	test_rmtree(dir);
}

/* ---- driving the callbacks --------------------------------------------------------- */

/* connect4 - xxfi_connect from an IPv4 client (addr NULL: no address) */
static sfsistat connect4(const char *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(40000) };

	if (addr == NULL)
		return callbacks_desc()->xxfi_connect(CTX, (char *)"client.test", NULL);
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	return callbacks_desc()->xxfi_connect(CTX, (char *)"client.test",
					      (struct sockaddr *)(void *)&sin);
}

/* mail - xxfi_envfrom with sender */
static sfsistat mail(const char *sender)
{
	char *argv[] = { (char *)sender, NULL };

	clear_reply();
	return callbacks_desc()->xxfi_envfrom(CTX, argv);
}

/* rcpt - xxfi_envrcpt with rcpt */
static sfsistat rcpt(const char *to)
{
	char *argv[] = { (char *)to, NULL };

	clear_reply();
	return callbacks_desc()->xxfi_envrcpt(CTX, argv);
}

/* close_conn - xxfi_close, which must free the connection */
static void close_conn(void)
{
	int calls = fk.setpriv_calls;

	ck_assert_int_eq(callbacks_desc()->xxfi_close(CTX), SMFIS_CONTINUE);
	ck_assert_ptr_null(fk.priv);
	ck_assert_int_eq(fk.setpriv_calls, calls + 1);
}

/* assert_reply - setreply was called once with reply's parts */
static void assert_reply(const struct reply *want)
{
	ck_assert_int_eq(fk.setreply_calls, 1);
	ck_assert_str_eq(fk.rcode, want->code);
	ck_assert_str_eq(fk.xcode, want->xcode);
	ck_assert(!fk.xcode_null);
	ck_assert_str_eq(fk.message, want->milter_text);
}

/* ---- negotiation ----------------------------------------------------------------- */

#define MAIL_MACROS "i {auth_authen} {auth_type} {auth_author} {cert_subject} {cert_issuer}"
#define INBOUND_MX "listeners: { inbound = [ \"mx\" ]; };\n"
#define NO_INBOUND "inbound: { policies = [ ]; };\n"
#define NO_OUTBOUND "outbound: { policies = [ ]; };\n"

#define LISTENER_MACROS "{daemon_name} {daemon_addr} {daemon_port}"
#define ALL_OUTBOUND "listeners: { inbound = [ ]; };\n"

static const struct {
	const char *name, *extra;
	bool helo, rcpt, headers;
	const char *mail_macros;
	const char *connect_macros;	/* "": an empty list, no macro at CONNECT */
	bool hold;			/* quota in force: a message may be held (SMFIF_QUARANTINE) */
} neg_rows[] = {
	{ "defaults (sda, quota; spf, greylisting on smtpd)", "", true, true, true, MAIL_MACROS,
	  LISTENER_MACROS, true },
	{ "gate only", NO_OUTBOUND NO_INBOUND, false, false, false, MAIL_MACROS, LISTENER_MACROS, false },
	{ "sda and quota", NO_INBOUND, false, true, false, MAIL_MACROS, LISTENER_MACROS, true },
	{ "sender_domain_auth only",
	  NO_INBOUND "outbound: { policies = [ \"sender_domain_auth\" ]; };", false, false, false,
	  MAIL_MACROS, LISTENER_MACROS, false },
	{ "quota only", NO_INBOUND "outbound: { policies = [ \"quota\" ]; };", false, true, false,
	  MAIL_MACROS, LISTENER_MACROS, true },
	{ "helo_name key", NO_OUTBOUND NO_INBOUND "identity: { user_key = \"helo_name\"; };", true,
	  false, false, MAIL_MACROS, LISTENER_MACROS, false },
	{ "macro key", NO_OUTBOUND NO_INBOUND "identity: { user_key = \"{my_login}\"; };", false,
	  false, false, MAIL_MACROS " {my_login}", LISTENER_MACROS, false },
	{ "inbound spf and greylisting", INBOUND_MX NO_OUTBOUND, true, true, true, MAIL_MACROS,
	  LISTENER_MACROS, false },
	{ "inbound greylisting only",
	  INBOUND_MX NO_OUTBOUND "inbound: { policies = [ \"greylisting\" ]; };", true, true, false,
	  MAIL_MACROS, LISTENER_MACROS, false },
	{ "inbound spf only, default listener inbound",
	  "listeners: { inbound = [ ]; default = \"inbound\"; };\n" NO_OUTBOUND
	  "inbound: { policies = [ \"spf\" ]; };",
	  true, true, true, MAIL_MACROS, LISTENER_MACROS, false },
	/* every connection outbound: nothing that only inbound needs, no listener macro */
	{ "inbound policies, no inbound listener", ALL_OUTBOUND NO_OUTBOUND, false, false, false,
	  MAIL_MACROS, "", false },
	{ "outbound only: sda and quota, no inbound listener", ALL_OUTBOUND, false, true, false,
	  MAIL_MACROS, "", true },
	{ "outbound only, no inbound policy either", ALL_OUTBOUND NO_INBOUND, false, true, false,
	  MAIL_MACROS, "", true },
	{ "outbound only, default listener outbound named",
	  "listeners: { inbound = [ ]; outbound = [ ]; default = \"outbound\"; };\n" NO_INBOUND,
	  false, true, false, MAIL_MACROS, "", true },
	{ "outbound only, {daemon_port} key", ALL_OUTBOUND NO_OUTBOUND
	  "identity: { user_key = \"{daemon_port}\"; };", false, false, false, MAIL_MACROS,
	  "{daemon_port}", false },
	{ "outbound only, {daemon_name} and {daemon_addr} keys", ALL_OUTBOUND NO_OUTBOUND
	  "identity: { user_key = \"{daemon_addr}\"; require_user_key = false;\n"
	  "search_order = [ \"{daemon_name}\" ]; };",
	  false, false, false, MAIL_MACROS, "{daemon_name} {daemon_addr}", false },
	/* no inbound policy, but an inbound listener: its mail is accepted at MAIL */
	{ "no inbound policy, inbound listener", INBOUND_MX NO_INBOUND, false, true, false,
	  MAIL_MACROS, LISTENER_MACROS, true },
};

START_TEST(test_negotiate)
{
	unsigned long f0 = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST | SMFIF_QUARANTINE;
	unsigned long f1 = 0x1fffff, pf0 = 0, pf1 = 0, pf2 = 1, pf3 = 1;
	unsigned long always = SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
			       SMFIP_NR_CONN;
	const char *name = neg_rows[_i].name;

	start(neg_rows[_i].extra);
	ck_assert_int_eq(callbacks_desc()->xxfi_negotiate(CTX, f0, f1, 0, 0, &pf0, &pf1, &pf2,
							  &pf3),
			 SMFIS_CONTINUE);
	ck_assert_msg((pf1 & always) == always, "%s: got protocol %#lx, want %#lx set", name, pf1,
		      always);
	ck_assert_msg(!(pf1 & (SMFIP_NOCONNECT | SMFIP_NOMAIL | SMFIP_NODATA)),
		      "%s: got protocol %#lx: CONNECT, MAIL and DATA must stay", name, pf1);
	ck_assert_msg(!(pf1 & SMFIP_NOHELO) == neg_rows[_i].helo &&
			      !!(pf1 & SMFIP_NR_HELO) == neg_rows[_i].helo,
		      "%s: got protocol %#lx, want HELO %s", name, pf1,
		      neg_rows[_i].helo ? "asked (no reply)" : "not asked");
	ck_assert_msg(!(pf1 & SMFIP_NORCPT) == neg_rows[_i].rcpt, "%s: got protocol %#lx, want RCPT %s",
		      name, pf1, neg_rows[_i].rcpt ? "asked" : "not asked");
	ck_assert_msg(pf0 == (SMFIF_SETSYMLIST | (neg_rows[_i].headers ? SMFIF_ADDHDRS : 0) |
			      (neg_rows[_i].hold ? SMFIF_QUARANTINE : 0)),
		      "%s: got actions %#lx, want SETSYMLIST%s%s", name, pf0,
		      neg_rows[_i].headers ? " | ADDHDRS" : "",
		      neg_rows[_i].hold ? " | QUARANTINE" : "");
	ck_assert_uint_eq(pf2, 0);
	ck_assert_uint_eq(pf3, 0);
	ck_assert_int_eq(fk.symlist_calls, 5);
	ck_assert_msg(strcmp(fk.symlist[SMFIM_CONNECT], neg_rows[_i].connect_macros) == 0,
		      "%s: got CONNECT macros \"%s\", want \"%s\"", name, fk.symlist[SMFIM_CONNECT],
		      neg_rows[_i].connect_macros);
	ck_assert_msg(strcmp(fk.symlist[SMFIM_ENVFROM], neg_rows[_i].mail_macros) == 0,
		      "%s: got MAIL macros \"%s\", want \"%s\"", name, fk.symlist[SMFIM_ENVFROM],
		      neg_rows[_i].mail_macros);
	ck_assert_str_eq(fk.symlist[SMFIM_ENVRCPT], "i");
	ck_assert_str_eq(fk.symlist[SMFIM_DATA], "i");
	ck_assert_str_eq(fk.symlist[SMFIM_EOM], "i");
	close_conn();
	stop();
}
END_TEST

START_TEST(test_negotiate_without_symlist)
{
	unsigned long pf0 = 0, pf1 = 0, pf2 = 0, pf3 = 0;

	start(INBOUND_MX);
	/* an MTA that offers neither SETSYMLIST nor ADDHDRS, nor the NR_ steps */
	callbacks_desc()->xxfi_negotiate(CTX, 0, SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOHDRS, 0, 0,
					 &pf0, &pf1, &pf2, &pf3);
	ck_assert_uint_eq(pf0, 0);
	ck_assert_uint_eq(pf1, SMFIP_NOHDRS);
	ck_assert_int_eq(fk.symlist_calls, 0);
	close_conn();
	stop();
}
END_TEST

/*
 * CONNECT and HELO negotiated without a reply answer SMFIS_NOREPLY (anything
 * else makes libmilter log an error for every connection); when the MTA
 * does not offer the NR_ steps they answer SMFIS_CONTINUE
 */
START_TEST(test_negotiate_no_reply)
{
	unsigned long f0 = SMFIF_ADDHDRS | SMFIF_SETSYMLIST, pf0, pf1, pf2, pf3;

	start("");	/* the defaults: inbound possible, so HELO is asked for */
	callbacks_desc()->xxfi_negotiate(CTX, f0, 0x1fffff, 0, 0, &pf0, &pf1, &pf2, &pf3);
	ck_assert_uint_eq(pf1 & (SMFIP_NR_CONN | SMFIP_NR_HELO), SMFIP_NR_CONN | SMFIP_NR_HELO);
	ck_assert_int_eq(connect4("192.0.2.7"), SMFIS_NOREPLY);
	ck_assert_int_eq(callbacks_desc()->xxfi_helo(CTX, (char *)"client.test"), SMFIS_NOREPLY);
	close_conn();
	/* an MTA without the NR_ steps waits for a reply */
	callbacks_desc()->xxfi_negotiate(CTX, f0, SMFIP_NOHDRS | SMFIP_NOBODY, 0, 0, &pf0, &pf1,
					 &pf2, &pf3);
	ck_assert_uint_eq(pf1 & (SMFIP_NR_CONN | SMFIP_NR_HELO), 0);
	ck_assert_int_eq(connect4("192.0.2.7"), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_helo(CTX, (char *)"client.test"), SMFIS_CONTINUE);
	close_conn();
	/* no negotiation at all (the context made lazily): a reply */
	ck_assert_int_eq(connect4("192.0.2.7"), SMFIS_CONTINUE);
	close_conn();
	stop();
}
END_TEST

/*
 * Every connection outbound: no listener macro is asked for, and one the MTA
 * sends anyway changes nothing (the flow cannot be inbound)
 */
START_TEST(test_outbound_only_flow)
{
	start(ALL_OUTBOUND NO_INBOUND "outbound: { policies = [ ]; };");
	set_macro("{daemon_name}", "smtpd");
	set_macro("{daemon_port}", "25");
	connect4("192.0.2.7");
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_REJECT);	/* the gate: no user */
	assert_reply(&cfg->no_user_key_reply);
	set_macro("{auth_authen}", "alice");
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_ACCEPT);
	close_conn();
	stop();
}
END_TEST

/* ---- connect, helo, envfrom ------------------------------------------------------- */

START_TEST(test_connect_address)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(40000) };

	start("outbound: { policies = [ ]; };\n"
	      "identity: { user_key = \"client_address\"; require_user_key = true; };");
	/* IPv4: the address names the user, so MAIL is accepted */
	ck_assert_int_eq(connect4("192.0.2.7"), SMFIS_CONTINUE);
	ck_assert_ptr_nonnull(fk.priv);
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_ACCEPT);
	ck_assert_int_eq(fk.setreply_calls, 0);
	close_conn();
	/* the address as inet_ntop writes it (the milter formats IPv4 itself) */
	for (size_t i = 0; i < 5; i++) {
		static const char *const addrs[] = { "0.0.0.0", "9.10.99.100", "255.255.255.255",
						     "10.0.200.1", "172.16.5.250" };
		char want[64];

		log_capture_start(LOG_LEVEL_INFO);
		connect4(addrs[i]);
		ck_assert_int_eq(mail("<a@example.com>"), SMFIS_ACCEPT);
		snprintf(want, sizeof(want), "from client.test[%s]: user=<%s> ", addrs[i],
			 addrs[i]);
		ck_assert_msg(strstr(log_capture_text(), want) != NULL, "%s not in %s", want,
			      log_capture_text());
		close_conn();
	}
	/* IPv6 */
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr), 1);
	ck_assert_int_eq(callbacks_desc()->xxfi_connect(CTX, (char *)"client.test",
							(struct sockaddr *)(void *)&sin6),
			 SMFIS_CONTINUE);
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_ACCEPT);
	close_conn();
	/* no address: no user, refused with the identity reply */
	ck_assert_int_eq(connect4(NULL), SMFIS_CONTINUE);
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_REJECT);
	assert_reply(&cfg->no_user_key_reply);
	ck_assert_str_eq(fk.message, "Rejected - Authentication failed");
	close_conn();
	stop();
}
END_TEST

START_TEST(test_helo)
{
	start("outbound: { policies = [ ]; };\n"
	      "identity: { user_key = \"helo_name\"; require_user_key = true; };");
	connect4("192.0.2.7");
	ck_assert_int_eq(callbacks_desc()->xxfi_helo(CTX, (char *)"client.test"), SMFIS_CONTINUE);
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_ACCEPT);
	close_conn();
	/* no HELO: no user */
	connect4("192.0.2.7");
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_REJECT);
	close_conn();
	stop();
}
END_TEST

START_TEST(test_envfrom_macros_and_flow)
{
	start(INBOUND_MX "outbound: { policies = [ ]; };\ninbound: { policies = [ ]; };");
	/* outbound: the user comes from {auth_authen} */
	set_macro("{daemon_name}", "submission");
	connect4("192.0.2.7");
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_REJECT);
	set_macro("{auth_authen}", "alice");
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_ACCEPT);
	close_conn();
	/* inbound (the listener, read at CONNECT): no user needed, nothing to check */
	set_macro("{auth_authen}", NULL);
	set_macro("{daemon_name}", "mx");
	connect4("192.0.2.7");
	set_macro("{daemon_name}", "submission");	/* too late: CONNECT decided */
	ck_assert_int_eq(mail("<m@remote.test>"), SMFIS_ACCEPT);
	ck_assert_int_eq(fk.setreply_calls, 0);
	close_conn();
	stop();
}
END_TEST

/* ---- envrcpt, data, eom, abort ----------------------------------------------------- */

START_TEST(test_quota_stages)
{
	start("outbound: { policies = [ \"quota\" ]; };\nquota: { margin = 0; };\n"
	      "limits: { recipients = 2; };");
	set_macro("{auth_authen}", "alice");
	set_macro("i", "4QX1");
	connect4("192.0.2.7");
	/* message 1: two recipients, the third over limits.recipients, commit at DATA */
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r1@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r2@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r3@dest.test>"), SMFIS_TEMPFAIL);
	assert_reply(&cfg->rcpt_limit_reply);
	ck_assert_str_eq(fk.rcode, "452");
	clear_reply();
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(fk.setreply_calls, 0);
	/* message 2: 2 of 3 used, one more fits, the next is over quota */
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r4@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r5@dest.test>"), SMFIS_REJECT);
	assert_reply(&cfg->quota_reply);
	ck_assert_str_eq(fk.message, "Rejected - outbound quota fulfilled");
	/* abort releases r4's unit: message 3 gets it */
	ck_assert_int_eq(callbacks_desc()->xxfi_abort(CTX), SMFIS_CONTINUE);
	ck_assert_ptr_nonnull(fk.priv);
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r6@dest.test>"), SMFIS_CONTINUE);
	/* a new MAIL releases the unfinished message's unit too */
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r7@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r8@dest.test>"), SMFIS_REJECT);
	close_conn();
	stop();
}
END_TEST

START_TEST(test_commit_at_eom)
{
	start("outbound: { policies = [ \"quota\" ]; };\nquota: { margin = 0; commit = \"eom\"; };");
	set_macro("{auth_authen}", "bob");
	connect4("192.0.2.7");
	ck_assert_int_eq(mail("<b@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r1@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_eom(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(fk.insheader_calls, 0);
	ck_assert_int_eq(fk.setreply_calls, 0);
	close_conn();
	stop();
}
END_TEST

/*
 * a max_message_bytes cap in the policy database: headers and body are
 * negotiated (without replies) to count the real size, which EOM checks;
 * quota.commit = "data" waits for EOM
 */
START_TEST(test_real_size)
{
	unsigned long f0 = SMFIF_ADDHDRS | SMFIF_SETSYMLIST, pf0, pf1, pf2, pf3;
	unsigned char body[200];
	struct policydb *db = NULL;
	struct policydb_limit l;
	char err[256];

	start("outbound: { policies = [ \"quota\" ]; };\nquota: { margin = 0; };");
	ck_assert_int_eq(policydb_open(cfg, false, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_limit_parse("max_message_bytes", NULL, "100", &l, err,
					      sizeof(err)), 0);
	ck_assert_int_eq(policydb_limit_add(db, "q3", &l, err, sizeof(err)), POLICYDB_OK);
	policydb_close(&db);
	memset(body, 'x', sizeof(body));
	callbacks_desc()->xxfi_negotiate(CTX, f0, 0x1fffff, 0, 0, &pf0, &pf1, &pf2, &pf3);
	ck_assert_uint_eq(pf1 & (SMFIP_NOHDRS | SMFIP_NOBODY), 0);
	ck_assert_uint_eq(pf1 & (SMFIP_NR_HDR | SMFIP_NR_BODY), SMFIP_NR_HDR | SMFIP_NR_BODY);
	ck_assert_uint_eq(pf1 & SMFIP_NOEOH, SMFIP_NOEOH);
	set_macro("{auth_authen}", "alice");
	connect4("192.0.2.7");
	/* "Subject: hello" CRLF (16) + CRLF + 80 = 98 bytes: accepted at EOM */
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r1@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_header(CTX, (char *)"Subject", (char *)"hello"),
			 SMFIS_NOREPLY);
	ck_assert_int_eq(callbacks_desc()->xxfi_body(CTX, body, 80), SMFIS_NOREPLY);
	ck_assert_int_eq(callbacks_desc()->xxfi_eom(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(fk.setreply_calls, 0);
	/* 16 + 2 + 83 = 101 bytes: refused at EOM, naming the cap */
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r1@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_header(CTX, (char *)"Subject", (char *)"hello"),
			 SMFIS_NOREPLY);
	ck_assert_int_eq(callbacks_desc()->xxfi_body(CTX, body, 80), SMFIS_NOREPLY);
	ck_assert_int_eq(callbacks_desc()->xxfi_body(CTX, body, 3), SMFIS_NOREPLY);
	ck_assert_int_eq(callbacks_desc()->xxfi_eom(CTX), SMFIS_REJECT);
	ck_assert_int_eq(fk.setreply_calls, 1);
	ck_assert_str_eq(fk.message, "Rejected - outbound quota fulfilled (100 bytes per message)");
	close_conn();
	/* an MTA without the NR_ steps: the header and body callbacks answer */
	callbacks_desc()->xxfi_negotiate(CTX, f0, 0x1fffff & ~(SMFIP_NR_HDR | SMFIP_NR_BODY), 0, 0,
					 &pf0, &pf1, &pf2, &pf3);
	ck_assert_uint_eq(pf1 & (SMFIP_NOHDRS | SMFIP_NOBODY | SMFIP_NR_HDR | SMFIP_NR_BODY), 0);
	ck_assert_int_eq(callbacks_desc()->xxfi_header(CTX, (char *)"Subject", (char *)"hello"),
			 SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_body(CTX, body, 3), SMFIS_CONTINUE);
	close_conn();
	stop();
}
END_TEST

START_TEST(test_inbound_spf)
{
	start(INBOUND_MX "outbound: { policies = [ ]; };\ninbound: { policies = [ \"spf\" ]; };");
	set_macro("{daemon_name}", "mx");
	connect4("192.0.2.7");
	callbacks_desc()->xxfi_helo(CTX, (char *)"client.test");
	/* not enforced for dest.test: accepted, with the header at EOM */
	ck_assert_int_eq(mail("<a@pass.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_eom(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(fk.insheader_calls, 1);
	ck_assert_int_eq(fk.hdr_index, 0);
	ck_assert_str_eq(fk.hdr_name, "Received-SPF");
	ck_assert_msg(strncmp(fk.hdr_value, "Pass (mx.check.test: ", 21) == 0,
		      "got Received-SPF: %s", fk.hdr_value);
	/* enforced for enforced.test: an SPF fail is refused at RCPT with the fail reply */
	ck_assert_int_eq(mail("<a@fail.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r@enforced.test>"), SMFIS_REJECT);
	ck_assert_int_eq(fk.setreply_calls, 1);
	ck_assert_str_eq(fk.rcode, cfg->spf_actions[SPF_SLOT_FAIL].reply.code);
	ck_assert_msg(strncmp(fk.message, "SPF check failed: ", 18) == 0, "got reply text %s",
		      fk.message);
	ck_assert_int_eq(callbacks_desc()->xxfi_abort(CTX), SMFIS_CONTINUE);
	close_conn();
	ck_assert_int_eq(fk.insheader_calls, 1);
	stop();
}
END_TEST

/* ---- close and abort without a connection ---------------------------------------- */

START_TEST(test_close_only)
{
	start(NULL);
	ck_assert_int_eq(callbacks_desc()->xxfi_close(CTX), SMFIS_CONTINUE);
	ck_assert_int_eq(fk.setpriv_calls, 0);
	ck_assert_ptr_null(fk.priv);
	ck_assert_int_eq(callbacks_desc()->xxfi_abort(CTX), SMFIS_CONTINUE);
	ck_assert_int_eq(fk.setpriv_calls, 0);
	stop();
}
END_TEST

/* ---- incidents ------------------------------------------------------------------- */

/* rename_table - ALTER TABLE from RENAME TO to in the test's policy database */
static void rename_table(const char *from, const char *to)
{
	char path[256], sql[256], *msg = NULL;
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/policy.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	snprintf(sql, sizeof(sql), "ALTER TABLE %s RENAME TO %s", from, to);
	ck_assert_msg(sqlite3_exec(h, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql, msg);
	sqlite3_close(h);
}

/* count - occurrences of needle in haystack */
static int count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/*
 * quota's RCPT detail is handed as numbers and formatted only for a line that
 * is written: the debug line of a passing RCPT and the accept line at DATA
 * read as they did when the detail was printed at once; at info level no
 * RCPT line is written
 */
START_TEST(test_quota_detail_lines)
{
	start("outbound: { policies = [ \"quota\" ]; };\nquota: { margin = 0; };");
	set_macro("{auth_authen}", "alice");
	set_macro("i", "4QX2");
	log_capture_start(LOG_LEVEL_DEBUG);
	connect4("192.0.2.7");
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r1@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(count(log_capture_text(),
			       "info: 4QX2: continue: RCPT from client.test[192.0.2.7]: user=<alice> "
			       "from=<a@example.com> to=<r1@dest.test> policy=quota "
			       "key=sasl_username used=0 reserved=1 limit=3 margin=0\n"),
			 1);
	ck_assert_int_eq(count(log_capture_text(),
			       "info: 4QX2: accept: DATA from client.test[192.0.2.7]: user=<alice> "
			       "from=<a@example.com> policy=quota key=sasl_username counted=1\n"),
			 1);
	/* at info level: the accept line only */
	log_capture_start(LOG_LEVEL_INFO);
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r2@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(count(log_capture_text(), "continue:"), 0);
	ck_assert_int_eq(count(log_capture_text(),
			       "info: 4QX2: accept: DATA from client.test[192.0.2.7]: user=<alice> "
			       "from=<a@example.com> policy=quota key=sasl_username counted=1\n"),
			 1);
	close_conn();
	stop();
}
END_TEST

START_TEST(test_incident_levels)
{
	start("outbound: { policies = [ \"quota\" ]; };");
	log_capture_start(LOG_LEVEL_DEBUG);
	connect4("192.0.2.7");
	set_macro("{auth_authen}", "alice");
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	/* the database fails: tempfail (quota.on_error), one error line */
	rename_table("quotas", "quotas_gone");
	set_macro("{auth_authen}", "bob");
	ck_assert_int_eq(mail("<b@example.com>"), SMFIS_TEMPFAIL);
	assert_reply(&cfg->quota_tempfail_reply);
	set_macro("{auth_authen}", "carol");
	ck_assert_int_eq(mail("<c@example.com>"), SMFIS_TEMPFAIL);
	ck_assert_int_eq(count(log_capture_text(), "error: policy database unavailable: "), 1);
	ck_assert_int_eq(count(log_capture_text(), "available again"), 0);
	/* it answers again: one info line */
	rename_table("quotas_gone", "quotas");
	set_macro("{auth_authen}", "bob");
	ck_assert_int_eq(mail("<b@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(mail("<b@example.com>"), SMFIS_CONTINUE);
	ck_assert_int_eq(count(log_capture_text(), "\ninfo: policy database available again\n"), 1);
	ck_assert_int_eq(count(log_capture_text(), "error: "), 1);
	close_conn();
	stop();
}
END_TEST

/* ---- issue 11: hold and monitor mode -------------------------------------------- */

/*
 * quota.action = quarantine: SMFIF_QUARANTINE is asked for; the recipient
 * over quota passes, DATA does not accept, EOM quarantines with the reason
 * and logs one hold line
 */
START_TEST(test_quarantine_at_eom)
{
	unsigned long pf0 = 0, pf1 = 0, pf2 = 0, pf3 = 0;

	start("outbound: { policies = [ \"quota\" ]; };\n"
	      "quota: { margin = 0; action = \"quarantine\"; };");
	callbacks_desc()->xxfi_negotiate(CTX, SMFIF_ADDHDRS | SMFIF_SETSYMLIST | SMFIF_QUARANTINE,
					 0x1fffff, 0, 0, &pf0, &pf1, &pf2, &pf3);
	ck_assert_uint_eq(pf0 & SMFIF_QUARANTINE, SMFIF_QUARANTINE);
	ck_assert(callbacks_desc()->xxfi_flags & SMFIF_QUARANTINE);
	set_macro("{auth_authen}", "alice");
	set_macro("i", "4QH1");
	log_capture_start(LOG_LEVEL_INFO);
	connect4("192.0.2.7");
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	for (int i = 0; i < 4; i++) {
		char to[32];

		snprintf(to, sizeof(to), "<r%d@dest.test>", i);
		ck_assert_int_eq(rcpt(to), SMFIS_CONTINUE);
	}
	ck_assert_int_eq(fk.setreply_calls, 0);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_CONTINUE);
	ck_assert_int_eq(fk.quarantine_calls, 0);
	ck_assert_int_eq(callbacks_desc()->xxfi_eom(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(fk.quarantine_calls, 1);
	ck_assert_str_eq(fk.quarantine_reason, "chapps: alice over 3 recipients per day");
	ck_assert_int_eq(count(log_capture_text(),
			       "info: 4QH1: hold: EOM from client.test[192.0.2.7]: user=<alice> "
			       "from=<a@example.com> policy=quota key=sasl_username "
			       "chapps: alice over 3 recipients per day\n"),
			 1);
	/* the held message counted nothing: three recipients fit again */
	ck_assert_int_eq(mail("<a@example.com>"), SMFIS_CONTINUE);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rcpt("<x@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(fk.quarantine_calls, 1);
	close_conn();
	stop();

	/*
	 * the default action asks for quarantine too (a limit's row in the
	 * policy database may say quarantine); without quota nothing is held
	 */
	start("outbound: { policies = [ \"quota\" ]; };");
	pf0 = 0;
	callbacks_desc()->xxfi_negotiate(CTX, SMFIF_ADDHDRS | SMFIF_SETSYMLIST | SMFIF_QUARANTINE,
					 0x1fffff, 0, 0, &pf0, &pf1, &pf2, &pf3);
	ck_assert_uint_eq(pf0 & SMFIF_QUARANTINE, SMFIF_QUARANTINE);
	close_conn();
	stop();
	start("outbound: { policies = [ \"sender_domain_auth\" ]; };");
	pf0 = 0;
	callbacks_desc()->xxfi_negotiate(CTX, SMFIF_ADDHDRS | SMFIF_SETSYMLIST | SMFIF_QUARANTINE,
					 0x1fffff, 0, 0, &pf0, &pf1, &pf2, &pf3);
	ck_assert_uint_eq(pf0 & SMFIF_QUARANTINE, 0);
	close_conn();
	stop();
}
END_TEST

/* monitor mode: "would reject" with the fields of the real line, then the stage's own line */
START_TEST(test_monitor_would_lines)
{
	start("outbound: { policies = [ \"sender_domain_auth\", \"quota\" ]; };\n"
	      "sender_domain_auth: { mode = \"monitor\"; };\n"
	      "quota: { margin = 0; mode = \"monitor\"; };");
	set_macro("{auth_authen}", "alice");
	set_macro("i", "4QM1");
	log_capture_start(LOG_LEVEL_INFO);
	connect4("192.0.2.7");
	ck_assert_int_eq(mail("<a@evil.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(fk.setreply_calls, 0);
	ck_assert_int_eq(count(log_capture_text(),
			       "info: 4QM1: would reject: MAIL from client.test[192.0.2.7]: "
			       "554 5.7.1 Rejected - not allowed to send mail from this domain; "
			       "user=<alice> from=<a@evil.test> policy=sender_domain_auth "
			       "key=sasl_username domain=evil.test\n"),
			 1);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(rcpt("<r@dest.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(fk.setreply_calls, 0);
	ck_assert_int_eq(count(log_capture_text(),
			       "info: 4QM1: would reject: RCPT from client.test[192.0.2.7]: "
			       "554 5.7.1 Rejected - outbound quota fulfilled; user=<alice> "
			       "from=<a@evil.test> to=<r@dest.test> policy=quota key=sasl_username "
			       "used=0 reserved=3 limit=3 margin=0\n"),
			 1);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(count(log_capture_text(), "would "), 2);
	ck_assert_int_eq(count(log_capture_text(), "reject:"), 2);
	close_conn();
	stop();
}
END_TEST

/* spf.mode = monitor: the fail is only logged, the recipient passes and the header is added */
START_TEST(test_monitor_spf)
{
	spf_extra = "mode = \"monitor\";";
	start(INBOUND_MX "outbound: { policies = [ ]; };\ninbound: { policies = [ \"spf\" ]; };");
	set_macro("{daemon_name}", "mx");
	log_capture_start(LOG_LEVEL_INFO);
	connect4("192.0.2.7");
	callbacks_desc()->xxfi_helo(CTX, (char *)"client.test");
	ck_assert_int_eq(mail("<a@fail.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r@enforced.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(fk.setreply_calls, 0);
	ck_assert_int_eq(count(log_capture_text(), "NOQUEUE: would reject: RCPT from "
					      "client.test[192.0.2.7]: 550 5.7.1 SPF check failed: "),
			 1);
	ck_assert_int_eq(count(log_capture_text(), "policy=spf spf=fail\n"), 1);
	ck_assert_int_eq(callbacks_desc()->xxfi_data(CTX), SMFIS_CONTINUE);
	ck_assert_int_eq(callbacks_desc()->xxfi_eom(CTX), SMFIS_ACCEPT);
	ck_assert_int_eq(fk.insheader_calls, 1);
	ck_assert_str_eq(fk.hdr_name, "Received-SPF");
	ck_assert_int_eq(count(log_capture_text(), ": reject: "), 0);
	close_conn();
	stop();
}
END_TEST

/* greylisting.mode = monitor: a new tuple would be deferred; logged, the recipient passes */
START_TEST(test_monitor_greylisting)
{
	char err[256];
	struct policydb *db;

	start(INBOUND_MX "outbound: { policies = [ ]; };\n"
	      "inbound: { policies = [ \"greylisting\" ]; };\ngreylisting: { mode = \"monitor\"; };");
	ck_assert_int_eq(policydb_open(cfg, false, &db, err, sizeof(err)), 0);
	ck_assert_int_eq(policydb_domain_add(db, "grey.test", err, sizeof(err)), POLICYDB_OK);
	ck_assert_int_eq(policydb_domain_set_flag(db, "grey.test", "greylist", true, err,
						  sizeof(err)),
			 POLICYDB_OK);
	policydb_close(&db);
	set_macro("{daemon_name}", "mx");
	log_capture_start(LOG_LEVEL_INFO);
	connect4("192.0.2.7");
	callbacks_desc()->xxfi_helo(CTX, (char *)"client.test");
	ck_assert_int_eq(mail("<a@pass.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(rcpt("<r@grey.test>"), SMFIS_CONTINUE);
	ck_assert_int_eq(fk.setreply_calls, 0);
	ck_assert_int_eq(count(log_capture_text(),
			       "NOQUEUE: would tempfail: RCPT from client.test[192.0.2.7]: "
			       "450 4.7.1 Service temporarily unavailable - greylisted; "
			       "from=<a@pass.test> to=<r@grey.test> policy=greylisting greylist=new\n"),
			 1);
	ck_assert_int_eq(count(log_capture_text(), ": tempfail: "), 0);
	ck_assert_int_eq(callbacks_desc()->xxfi_abort(CTX), SMFIS_CONTINUE);
	close_conn();
	stop();
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("callbacks");
	TCase *tc = tcase_create("callbacks");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_negotiate, 0, sizeof(neg_rows) / sizeof(neg_rows[0]));
	tcase_add_test(tc, test_negotiate_without_symlist);
	tcase_add_test(tc, test_negotiate_no_reply);
	tcase_add_test(tc, test_outbound_only_flow);
	tcase_add_test(tc, test_quota_detail_lines);
	tcase_add_test(tc, test_connect_address);
	tcase_add_test(tc, test_helo);
	tcase_add_test(tc, test_envfrom_macros_and_flow);
	tcase_add_test(tc, test_quota_stages);
	tcase_add_test(tc, test_commit_at_eom);
	tcase_add_test(tc, test_real_size);
	tcase_add_test(tc, test_inbound_spf);
	tcase_add_test(tc, test_close_only);
	tcase_add_test(tc, test_incident_levels);
	tcase_add_test(tc, test_quarantine_at_eom);
	tcase_add_test(tc, test_monitor_would_lines);
	tcase_add_test(tc, test_monitor_spf);
	tcase_add_test(tc, test_monitor_greylisting);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
