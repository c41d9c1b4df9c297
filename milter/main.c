/*
 * NAME
 *	chapps-milter - mail-policy milter: identity gate, SDA, outbound quota
 * SYNOPSIS
 *	chapps-milter [-fnd] [-c file] [-p socket]
 * DESCRIPTION
 *	Start-up, in this order (STYLE rule 25): parse the options and load
 *	and validate the configuration; open the log; look up the run-time
 *	user; give the threads to come 1 MiB stacks (libmilter starts and
 *	ends workers all the time: glibc then reuses their stacks, pages
 *	and all); create the milter socket (removing a stale unix socket, with
 *	the configured umask) and set TCP_NODELAY on it; detach unless -f;
 *	write the pidfile; drop privileges; check the backends; open the
 *	alerts (their sender thread, after detach and as the run-time user;
 *	every accepted event is also kept in the store for chapps-cli
 *	events); start the signal thread; hand over to smfi_main.  At the
 *	end the alerts get alerts.timeout_ms to deliver what is queued.
 *
 *	Signals: libmilter owns SIGHUP, SIGTERM and SIGINT (SIGTERM stops after
 *	the open sessions end).  SIGUSR1 reloads the configuration: a complete
 *	new snapshot is loaded and validated in the signal thread and swapped
 *	in; a bad file keeps the old one and logs why.  SIGUSR2 flushes the
 *	in-process caches of policy look-ups.
 * DIAGNOSTICS
 *	Configuration problems: every one printed as "file:line: setting:
 *	problem", exit 78 (EX_CONFIG); -n exits 1 instead.  Other start-up
 *	failures exit 69-75 (sysexits).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "callbacks.h"
#include "alert/alert.h"
#include "base/config.h"
#include "policy/helo_whitelist.h"
#include "base/log.h"
#include "base/tune.h"
#include "base/metrics.h"
#include "policy/policy.h"
#include "base/xalloc.h"
#include "metrics_http.h"
#include "store/store.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/chapps/chapps.conf"
#define MILTER_THREAD_STACK (1024 * 1024)	/* bytes: every thread's stack (set_thread_stack) */

static const char *config_path = DEFAULT_CONFIG;
static const char *socket_override;

/* usage - print the synopsis */
static void usage(FILE *out)
{
	fprintf(out,
		"usage: chapps-milter [-fndVh] [-c file] [-p socket]\n"
		"  -c file    configuration file (default %s)\n"
		"  -p socket  milter socket: unix:/path, inet:PORT@HOST, inet6:PORT@HOST\n"
		"  -f         stay in the foreground and log to stderr\n"
		"  -n         check the configuration and arguments, print every problem, exit\n"
		"  -d         print the effective configuration (defaults filled in), exit\n"
		"  -V         print the version, exit\n"
		"  -h         this help\n",
		DEFAULT_CONFIG);
}

/* load - load config_path with the -p override applied; NULL on problems */
static struct config *load(char **errors_r)
{
	struct config *c;
	const char *why;

	if (config_load(config_path, &c, errors_r) < 0)
		return NULL;
	if (socket_override != NULL) {
		if ((why = config_socket_problem(socket_override)) != NULL) {
			*errors_r = xasprintf("-p %s: %s\n", socket_override, why);
			config_unref(&c);
			return NULL;
		}
		config_set_socket(c, socket_override);
	}
	/* resolved here, at start-up and reload, never in the path of a message */
	if (config_inbound_possible(c) && c->inbound_helo_whitelist[0] != '\0') {
		char *problems = NULL;
		struct helo_whitelist *wl =
			helo_whitelist_build(c->inbound_helo_whitelist, &helo_resolver_system,
					     &problems);

		if (problems != NULL) {
			for (char *l = strtok(problems, "\n"); l; l = strtok(NULL, "\n"))
				log_warn("%s (entry dropped)", l);
			free(problems);
		}
		config_set_helo_whitelist(c, wl, helo_whitelist_free);
	}
	return c;
}

/*
 * set_thread_stack - the threads created from now on (libmilter's workers,
 * ours) get a stack of MILTER_THREAD_STACK instead of RLIMIT_STACK's 8 MiB
 * (why: common/base/tune.c).  Nothing on the milter's paths needs more: the
 * largest frames are log lines of 2 kB; SPF's DNS answer buffer is on the heap.
 */
static void set_thread_stack(void)
{
	size_t was;

	if (tune_thread_stack(MILTER_THREAD_STACK, &was) < 0 && was > 0)
		log_warn("cannot set the threads' stack size: keeping %zu bytes", was);
}

/* set_nodelay - TCP_NODELAY on the milter's socket when it is inet (libmilter's only) */
static void set_nodelay(const char *spec)
{
	int err, n;

	if (strncmp(spec, "inet", 4) != 0)
		return;
	n = tune_listeners_nodelay(&err);
	if (n < 0)
		log_warn("TCP_NODELAY on the milter socket: cannot list /proc/self/fd: %s",
			 strerror(err));
	else if (err != 0)
		log_warn("TCP_NODELAY on the milter socket: %s", strerror(err));
}

/* unix_path - the path of a unix: or local: socket, or NULL */
static const char *unix_path(const char *sock)
{
	if (strncmp(sock, "unix:", 5) == 0)
		return sock + 5;
	if (strncmp(sock, "local:", 6) == 0)
		return sock + 6;
	return NULL;
}

/* write_pidfile - create the pidfile (and its directory) */
static void write_pidfile(const char *path, uid_t uid, gid_t gid)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	FILE *f;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0 && getuid() == 0 && chown(dir, uid, gid) < 0)
			log_warn("chown %s: %s", dir, strerror(errno));
	}
	free(dir);
	f = fopen(path, "w");
	if (f == NULL)
		log_fatal(EX_CANTCREAT, "cannot write pidfile %s: %s", path, strerror(errno));
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/* drop_privileges - become milter.user/milter.group when started as root */
static void drop_privileges(const struct config *c, uid_t uid, gid_t gid, bool have_user)
{
	if (getuid() == 0 && have_user) {
		if (setgroups(0, NULL) < 0 && errno != EPERM)
			log_fatal(EX_OSERR, "setgroups: %s", strerror(errno));
		if (initgroups(c->milter_user, gid) < 0)
			log_fatal(EX_OSERR, "initgroups %s: %s", c->milter_user, strerror(errno));
		if (setgid(gid) < 0 || setuid(uid) < 0)
			log_fatal(EX_OSERR, "cannot become %s: %s", c->milter_user, strerror(errno));
		if (setuid(0) == 0)
			log_fatal(EX_OSERR, "privileges could not be dropped");
	}
	if ((geteuid() == 0 || getuid() == 0) && !c->milter_run_as_root)
		log_fatal(EX_CONFIG,
			  "refusing to run as root: set milter.user, or milter.run_as_root = true");
}

/*
 * detach - go to the background.  The parent waits until the child reports
 * that start-up finished (pidfile, privileges, backends) and exits 0, or
 * exits with the child's status when the child fails first: a failed
 * background start is never reported as a success.  Returns the child's
 * end of the pipe.
 */
static int detach(void)
{
	int fds[2], status, null;
	pid_t pid;
	char byte;

	if (pipe(fds) < 0)
		log_fatal(EX_OSERR, "cannot detach: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		log_fatal(EX_OSERR, "cannot detach: fork: %s", strerror(errno));
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &byte, 1) == 1)
			_exit(0);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			_exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : EX_SOFTWARE);
		_exit(EX_SOFTWARE);
	}
	close(fds[0]);
	if (setsid() < 0)
		log_warn("setsid: %s", strerror(errno));
	if (chdir("/") < 0)
		log_warn("chdir /: %s", strerror(errno));
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return fds[1];
}

/* same_backends - do two snapshots use the same store and database? */
static bool same_backends(const struct config *a, const struct config *b)
{
#define SAME_S(f) (strcmp(a->f, b->f) == 0)
#define SAME_I(f) (a->f == b->f)
	return SAME_I(store_backend) && SAME_S(store_path) && SAME_S(redis_server) &&
	       SAME_I(redis_port) && SAME_S(redis_socket) && SAME_S(redis_username) &&
	       SAME_S(redis_password) &&
	       SAME_I(redis_db) && SAME_S(redis_sentinel_dataset) &&
	       SAME_I(redis_wait_replicas) &&
	       SAME_I(policydb_backend) && SAME_S(policydb_path) && SAME_S(policydb_host) &&
	       SAME_I(policydb_port) && SAME_S(policydb_name) && SAME_S(policydb_user) &&
	       SAME_S(policydb_password) && SAME_S(spf_receiver) && SAME_S(spf_test_zone);
#undef SAME_S
#undef SAME_I
}

struct signal_ctx {
	sigset_t set;
	struct backends *backends;
};

/* signal_thread - SIGUSR1 reloads the configuration, SIGUSR2 flushes caches */
static void *signal_thread(void *arg)
{
	struct signal_ctx *sc = arg;

	for (;;) {
		int sig;

		if (sigwait(&sc->set, &sig) != 0)
			continue;
		if (sig == SIGUSR2) {
			backends_flush_caches(sc->backends);
			log_info("caches flushed (SIGUSR2)");
			continue;
		}
		if (sig != SIGUSR1)
			continue;
		char *errors = NULL;
		struct config *old = callbacks_get_config(), *fresh;

		if (old == NULL)	/* shutting down */
			continue;
		fresh = load(&errors);

		if (fresh == NULL) {
			metrics_config_reload_failed();
			log_error("reload of %s failed; keeping the running configuration:",
				  config_path);
			for (char *line = strtok(errors, "\n"); line; line = strtok(NULL, "\n"))
				log_error("%s", line);
			free(errors);
		} else {
			if (!same_backends(old, fresh))
				log_warn("reload: store, policy_db or spf.receiver/test_zone "
					 "changed; restart chapps-milter to apply them");
			if (strcmp(old->milter_socket, fresh->milter_socket) != 0)
				log_warn("reload: milter.socket changed; restart to apply it");
			log_set_level((enum log_level)fresh->log_level);
			callbacks_set_config(fresh);
			metrics_config_loaded();
			log_info("configuration reloaded from %s", config_path);
		}
		config_unref(&old);
	}
	return NULL;
}

/* alert_sink - keep an accepted alert event in the store (the alerts' sender thread) */
static void alert_sink(void *ctx, const char *json, size_t len, int64_t time)
{
	struct backends *b = ctx;
	const char *err = "no store";
	struct store *store = backends_store(b, time, &err);

	if (store == NULL || store_event_add(store, json, len, time, &err) != STORE_OK)
		log_warn("alert: cannot keep the event in the store: %s", err);
}

int main(int argc, char **argv)
{
	bool foreground = false, check_only = false, dump = false, have_user = false;
	struct config *cfg;
	struct backends *backends;
	struct alerts *alerts = NULL;
	struct passwd *pw = NULL;
	uid_t uid = 0;
	gid_t gid = 0;
	char *errors = NULL, err[512], outbound_names[256], inbound_names[256];
	const char *sock_path;
	static struct signal_ctx sc;	/* the detached signal thread keeps using it */
	pthread_t tid;
	int opt, status;
	bool warn;
	int ready_fd = -1;

	while ((opt = getopt(argc, argv, "c:p:fndVh")) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 'p': socket_override = optarg; break;
		case 'f': foreground = true; break;
		case 'n': check_only = true; break;
		case 'd': dump = true; break;
		case 'V':
			printf("chapps-milter %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "chapps-milter: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return check_only ? 1 : EX_USAGE;
	}

	/* until the configuration names the real destination: stderr, our name */
	log_open("chapps-milter", LOG_MAIL, true, LOG_LEVEL_INFO);
	cfg = load(&errors);
	if (cfg == NULL) {
		fputs(errors, stderr);
		free(errors);
		return check_only ? 1 : EX_CONFIG;
	}
	if (check_only || dump) {
		if (dump)
			config_dump(cfg, stdout);
		if (check_only)
			printf("%s: configuration OK\n", config_path);
		config_unref(&cfg);
		return 0;
	}

	log_open("chapps-milter", cfg->log_facility, foreground, (enum log_level)cfg->log_level);
	log_errors_to_stderr(!foreground);

	if (getuid() == 0 && cfg->milter_user[0] != '\0') {
		pw = getpwnam(cfg->milter_user);
		if (pw == NULL)
			log_fatal(EX_NOUSER, "milter.user: no such user \"%s\"", cfg->milter_user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		have_user = true;
		if (cfg->milter_group[0] != '\0') {
			struct group *gr = getgrnam(cfg->milter_group);

			if (gr == NULL)
				log_fatal(EX_NOUSER, "milter.group: no such group \"%s\"",
					  cfg->milter_group);
			gid = gr->gr_gid;
		}
	}

	/*
	 * No thread may take SIGTERM, SIGINT or SIGHUP from libmilter's signal
	 * thread, nor SIGUSR1/2 from ours: block them all before the first
	 * thread (a backend's, or ours) is created and before the pidfile
	 * tells chapps-cli where to send SIGUSR2; threads inherit the mask.
	 */
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGUSR1);
	sigaddset(&sc.set, SIGUSR2);
	sigset_t all = sc.set;

	sigaddset(&all, SIGHUP);
	sigaddset(&all, SIGINT);
	sigaddset(&all, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	set_thread_stack();

	if (smfi_register(*callbacks_desc()) != MI_SUCCESS)
		log_fatal(EX_SOFTWARE, "smfi_register failed");
	if (smfi_setconn(cfg->milter_socket) != MI_SUCCESS)
		log_fatal(EX_CONFIG, "milter.socket %s: rejected by libmilter", cfg->milter_socket);
	smfi_settimeout(cfg->milter_timeout);
	smfi_setbacklog(cfg->milter_backlog);
	sock_path = unix_path(cfg->milter_socket);
	mode_t old_umask = umask((mode_t)cfg->milter_umask);

	if (smfi_opensocket(true) != MI_SUCCESS)
		log_fatal(EX_UNAVAILABLE, "cannot open milter socket %s", cfg->milter_socket);
	umask(old_umask);
	if (sock_path != NULL && have_user && chown(sock_path, uid, gid) < 0)
		log_warn("chown %s: %s", sock_path, strerror(errno));
	set_nodelay(cfg->milter_socket);

	if (!foreground)
		ready_fd = detach();
	if (cfg->milter_pidfile[0] != '\0')
		write_pidfile(cfg->milter_pidfile, uid, gid);
	drop_privileges(cfg, uid, gid, have_user);

	backends = backends_create(cfg);
	if (policy_check(cfg, backends, &warn, err, sizeof(err)) < 0)
		log_fatal(EX_UNAVAILABLE, "%s", err);
	if (warn)
		log_warn("%s (on_error applies until it answers)", err);
	if (metrics_http_start(cfg, err, sizeof(err)) < 0)
		log_fatal(EX_UNAVAILABLE, "%s", err);
	metrics_enable(cfg->metrics_listen[0] != '\0');	/* nothing counted when off */
	if (alerts_open(cfg, &alerts, err, sizeof(err)) < 0)
		log_fatal(EX_CONFIG, "%s", err);
	alerts_set_sink(alerts, alert_sink, backends);
	callbacks_set_backends(backends);
	callbacks_set_alerts(alerts);
	callbacks_set_config(cfg);	/* takes our reference */
	metrics_config_loaded();
	if (ready_fd >= 0) {
		/* start-up succeeded: let the parent exit 0, stop echoing errors */
		if (write(ready_fd, "R", 1) != 1)
			log_warn("cannot report readiness: %s", strerror(errno));
		close(ready_fd);
		log_errors_to_stderr(false);
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, STDERR_FILENO);
			if (null > STDERR_FILENO)
				close(null);
		}
	}

	sc.backends = backends;
	if (pthread_create(&tid, NULL, signal_thread, &sc) != 0)
		log_fatal(EX_OSERR, "cannot start the signal thread");
	pthread_detach(tid);

	cfg = callbacks_get_config();
	log_info("chapps-milter %s starting on %s (config %s; outbound: %s; inbound: %s)",
		 PACKAGE_VERSION, cfg->milter_socket, config_path,
		 policy_names(cfg, FLOW_OUTBOUND, outbound_names, sizeof(outbound_names)),
		 policy_names(cfg, FLOW_INBOUND, inbound_names, sizeof(inbound_names)));
	status = smfi_main();
	log_info("chapps-milter stopping");
	if (cfg->milter_pidfile[0] != '\0')
		(void)unlink(cfg->milter_pidfile);
	config_unref(&cfg);
	callbacks_shutdown();
	alerts_close(&alerts);	/* its sink uses the backends */
	callbacks_set_alerts(NULL);
	backends_destroy(&backends);
	log_close();
	return status == MI_SUCCESS ? 0 : EX_SOFTWARE;
}
