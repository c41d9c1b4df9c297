/*
 * NAME
 *	redis_helper - throwaway redis-server / redis-sentinel for tests
 * DESCRIPTION
 *	Each server runs in the foreground as a child of the test process,
 *	with PR_SET_PDEATHSIG so that it dies with the test, in a private
 *	directory under $TMPDIR, with --save "" and --appendonly no.  A port
 *	that is taken makes the server exit at once; the next port of the
 *	range is tried.  Readiness is a PING poll every 20 ms for at most 5 s.
 * DIAGNOSTICS
 *	Functions print what failed to stderr and return -1 or NULL.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_helper.h"
#include "test_util.h"

#ifndef REDIS_SERVER_PATH
#define REDIS_SERVER_PATH ""
#endif

#define REGISTRY_MAX 16
#define START_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 3000
#define POLL_MS 20

/*
 * Servers started and not yet stopped, with the process that started
 * them: a Check case that fails in a forked child exits without its
 * teardown, so an atexit handler stops what that process started (and
 * only that: a child also inherits its parent's entries).
 */
static struct {
	struct redis_helper_server *srv;
	pid_t owner;
} registry[REGISTRY_MAX];
static bool registry_hooked;

/* registry_atexit - stop the servers this process started */
static void registry_atexit(void)
{
	int i;

	for (i = 0; i < REGISTRY_MAX; i++) {
		if (registry[i].srv != NULL && registry[i].owner == getpid())
			redis_helper_stop(registry[i].srv);
	}
}

/* registry_add - remember srv as started by this process */
static void registry_add(struct redis_helper_server *srv)
{
	int i;

	if (!registry_hooked) {
		atexit(registry_atexit);
		registry_hooked = true;
	}
	for (i = 0; i < REGISTRY_MAX; i++) {
		if (registry[i].srv == NULL || registry[i].owner != getpid()) {
			registry[i].srv = srv;
			registry[i].owner = getpid();
			return;
		}
	}
}

/* registry_remove - forget srv */
static void registry_remove(struct redis_helper_server *srv)
{
	int i;

	for (i = 0; i < REGISTRY_MAX; i++) {
		if (registry[i].srv == srv && registry[i].owner == getpid())
			registry[i].srv = NULL;
	}
}

long long redis_helper_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* nap - wait ms milliseconds between two polls */
static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* executable - is path an executable file? */
static bool executable(const char *path)
{
	struct stat st;

	return path[0] != '\0' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

const char *redis_helper_binary(const char *name)
{
	static char found[2][REDIS_HELPER_PATH_MAX];
	char *buf = found[strcmp(name, "redis-server") == 0 ? 0 : 1];
	char path[4096], *dir, *save = NULL;

	if (strcmp(name, "redis-server") == 0 && executable(REDIS_SERVER_PATH))
		return REDIS_SERVER_PATH;
	snprintf(path, sizeof(path), "%s:/usr/bin:/usr/sbin",
		 getenv("PATH") != NULL ? getenv("PATH") : "");
	for (dir = strtok_r(path, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, REDIS_HELPER_PATH_MAX, "%s/%s", dir, name);
		if (executable(buf))
			return buf;
	}
	return NULL;
}

/* gone - has pid exited (reaped, or a zombie of another process)? */
static bool gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool zombie = false;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return true;
	if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
		zombie = p[1] == ' ' && p[2] == 'Z';
	fclose(f);
	return zombie;
}

/*
 * reap - wait up to ms for srv's process to exit; true when it did.  A
 * forked Check case may kill a server its parent started: then it cannot
 * wait for it, and watches it turn into a zombie instead.
 */
static bool reap(struct redis_helper_server *srv, int ms)
{
	long long end = redis_helper_mono_ms() + ms;

	for (;;) {
		pid_t r = waitpid(srv->pid, NULL, WNOHANG);

		if (r == srv->pid || (r < 0 && errno == ECHILD && gone(srv->pid))) {
			srv->pid = 0;
			return true;
		}
		if (redis_helper_mono_ms() >= end)
			return false;
		nap(5);
	}
}

redisContext *redis_helper_connect(const struct redis_helper_server *srv)
{
	struct timeval tv = { 1, 0 };
	redisContext *c;

	if (srv->port > 0)
		c = redisConnectWithTimeout("127.0.0.1", srv->port, tv);
	else
		c = redisConnectUnixWithTimeout(srv->socket, tv);
	if (c == NULL)
		return NULL;
	if (c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
		redisFree(c);
		return NULL;
	}
	if (srv->password[0] != '\0') {
		redisReply *r = redisCommand(c, "AUTH %s", srv->password);

		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			if (r != NULL)
				freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}

redisReply *redis_helper_command(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	void *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	return r;
}

long long redis_helper_integer(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	long long v = -1;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	if (r != NULL)
		freeReplyObject(r);
	return v;
}

/*
 * answers_ping - is srv's own process answering?  INFO's process_id must
 * be ours: a server that lost the race for a taken port exits, and the
 * one answering there is somebody else's.
 */
static bool answers_ping(const struct redis_helper_server *srv)
{
	struct timeval tv = { 0, 200000 };
	redisContext *c;
	redisReply *r;
	char want[32];
	bool ok = false;

	if (srv->port > 0)
		c = redisConnectWithTimeout("127.0.0.1", srv->port, tv);
	else
		c = redisConnectUnixWithTimeout(srv->socket, tv);
	if (c == NULL)
		return false;
	if (c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK) {
		if (srv->password[0] != '\0') {
			r = redisCommand(c, "AUTH %s", srv->password);
			if (r != NULL)
				freeReplyObject(r);
		}
		r = redisCommand(c, "INFO server");
		if (r != NULL) {
			snprintf(want, sizeof(want), "process_id:%ld\r", (long)srv->pid);
			ok = r->type == REDIS_REPLY_STRING && strstr(r->str, want) != NULL;
			freeReplyObject(r);
		}
	}
	redisFree(c);
	return ok;
}

/* write_sentinel_conf - the sentinel's (rewritable) configuration file */
static int write_sentinel_conf(const struct redis_helper_server *srv,
			       const struct redis_helper_options *opts, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "redis_helper: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f,
		"port %d\n"
		"bind 127.0.0.1\n"
		"daemonize no\n"
		"dir %s\n"
		"logfile %s/sentinel.log\n"
		"sentinel monitor %s 127.0.0.1 %d 1\n"
		"sentinel down-after-milliseconds %s 300\n"
		"sentinel failover-timeout %s 3000\n"
		"sentinel parallel-syncs %s 1\n",
		srv->port, srv->dir, srv->dir, opts->sentinel_master, opts->monitor_port,
		opts->sentinel_master, opts->sentinel_master, opts->sentinel_master);
	if (fclose(f) != 0) {
		fprintf(stderr, "redis_helper: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* spawn - start the server on srv->port and wait for PING; -1 if it exited or hung */
static int spawn(struct redis_helper_server *srv, const struct redis_helper_options *opts,
		 bool *port_taken_r)
{
	char port[16], replicaof[32], conf[REDIS_HELPER_PATH_MAX + 32];
	char logfile[REDIS_HELPER_PATH_MAX + 32];
	const char *argv[48];
	const char *binary;
	int argc = 0, status;
	pid_t parent = getpid();
	long long end;

	*port_taken_r = false;
	binary = redis_helper_binary(opts->sentinel_master != NULL ? "redis-sentinel"
								  : "redis-server");
	if (binary == NULL) {
		fprintf(stderr, "redis_helper: server binary not found\n");
		return -1;
	}
	snprintf(port, sizeof(port), "%d", srv->port);
	snprintf(logfile, sizeof(logfile), "%s/redis.log", srv->dir);
	argv[argc++] = binary;
	if (opts->sentinel_master != NULL) {
		snprintf(conf, sizeof(conf), "%s/sentinel.conf", srv->dir);
		if (write_sentinel_conf(srv, opts, conf) < 0)
			return -1;
		argv[argc++] = conf;
	} else {
		argv[argc++] = "--port";
		argv[argc++] = port;
		argv[argc++] = "--bind";
		argv[argc++] = "127.0.0.1";
		argv[argc++] = "--save";
		argv[argc++] = "";
		argv[argc++] = "--appendonly";
		argv[argc++] = "no";
		argv[argc++] = "--dir";
		argv[argc++] = srv->dir;
		argv[argc++] = "--logfile";
		argv[argc++] = logfile;
		argv[argc++] = "--daemonize";
		argv[argc++] = "no";
		/* a replica's first sync must not wait for the default 5 s */
		argv[argc++] = "--repl-diskless-sync";
		argv[argc++] = "yes";
		argv[argc++] = "--repl-diskless-sync-delay";
		argv[argc++] = "0";
		if (srv->socket[0] != '\0') {
			argv[argc++] = "--unixsocket";
			argv[argc++] = srv->socket;
			argv[argc++] = "--unixsocketperm";
			argv[argc++] = "700";
		}
		if (srv->password[0] != '\0') {
			argv[argc++] = "--requirepass";
			argv[argc++] = srv->password;
		}
		if (opts->cluster) {
			/* bus port: port + 10000; node timeout long enough for a loaded CI box */
			argv[argc++] = "--cluster-enabled";
			argv[argc++] = "yes";
			argv[argc++] = "--cluster-config-file";
			argv[argc++] = "nodes.conf";
			argv[argc++] = "--cluster-node-timeout";
			argv[argc++] = "3000";
		}
		if (opts->replicaof_port > 0) {
			snprintf(replicaof, sizeof(replicaof), "127.0.0.1 %d",
				 opts->replicaof_port);
			argv[argc++] = "--replicaof";
			argv[argc++] = replicaof;
		}
	}
	argv[argc] = NULL;

	srv->pid = fork();
	if (srv->pid < 0) {
		fprintf(stderr, "redis_helper: fork: %s\n", strerror(errno));
		srv->pid = 0;
		return -1;
	}
	if (srv->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		execv(binary, (char *const *)argv);
		_exit(127);
	}

	end = redis_helper_mono_ms() + START_TIMEOUT_MS;
	for (;;) {
		pid_t r = waitpid(srv->pid, &status, WNOHANG);

		if (r == srv->pid) {
			/* exited: most likely the port is taken */
			srv->pid = 0;
			*port_taken_r = srv->port > 0;
			return -1;
		}
		if (answers_ping(srv))
			return 0;
		if (redis_helper_mono_ms() >= end) {
			fprintf(stderr, "redis_helper: %s on port %d not ready in %d ms\n",
				binary, srv->port, START_TIMEOUT_MS);
			redis_helper_kill(srv);
			return -1;
		}
		nap(POLL_MS);
	}
}

int redis_helper_start(struct redis_helper_server *srv, const struct redis_helper_options *opts)
{
	int port, last;

	memset(srv, 0, sizeof(*srv));
	srv->sentinel = opts->sentinel_master != NULL;
	if (test_mkdtemp(srv->dir, sizeof(srv->dir), NULL, "chapps-redis-XXXXXX") == NULL) {
		fprintf(stderr, "redis_helper: mkdtemp %s: %s\n", srv->dir, strerror(errno));
		srv->dir[0] = '\0';
		return -1;
	}
	registry_add(srv);
	if (opts->unix_socket)
		snprintf(srv->socket, sizeof(srv->socket), "%s/redis.sock", srv->dir);
	if (opts->password != NULL)
		snprintf(srv->password, sizeof(srv->password), "%s", opts->password);
	last = opts->port_last > opts->port_first ? opts->port_last : opts->port_first;
	for (port = opts->port_first; port <= last; port++) {
		bool taken;

		srv->port = port;
		if (spawn(srv, opts, &taken) == 0)
			return 0;
		if (!taken)
			break;
	}
	fprintf(stderr, "redis_helper: could not start a server on ports %d-%d (see %s)\n",
		opts->port_first, last, srv->dir);
	redis_helper_stop(srv);
	return -1;
}

int redis_helper_restart(struct redis_helper_server *srv, const struct redis_helper_options *opts)
{
	bool taken;
	long long end = redis_helper_mono_ms() + START_TIMEOUT_MS;

	/* the old socket may linger a moment after a kill: retry while taken */
	for (;;) {
		if (spawn(srv, opts, &taken) == 0)
			return 0;
		if (!taken || redis_helper_mono_ms() >= end)
			break;
		nap(POLL_MS);
	}
	fprintf(stderr, "redis_helper: could not restart the server on port %d\n", srv->port);
	return -1;
}

void redis_helper_kill(struct redis_helper_server *srv)
{
	if (srv->pid <= 0)
		return;
	kill(srv->pid, SIGCONT);
	kill(srv->pid, SIGKILL);
	reap(srv, STOP_TIMEOUT_MS);
}

void redis_helper_stop(struct redis_helper_server *srv)
{
	if (srv->pid > 0) {
		kill(srv->pid, SIGCONT);
		kill(srv->pid, SIGTERM);
		if (!reap(srv, STOP_TIMEOUT_MS))
			redis_helper_kill(srv);
	}
	test_rmtree(srv->dir);
	srv->dir[0] = '\0';
	registry_remove(srv);
}
