/*
 * redis_helper - throwaway redis-server / redis-sentinel processes for tests
 *
 * A test starts a server on 127.0.0.1 with a port from a range (the first
 * one whose bind succeeds, so two test runs at once do not collide), in a
 * private mktemp -d directory, with persistence off.  Readiness is polled
 * (PING every 20 ms, bounded), never slept for.  The server is killed with
 * the process that started it (PR_SET_PDEATHSIG), so a crashed test leaves
 * nothing behind; redis_helper_stop() stops it and removes its directory.
 *
 * Only for tests: messages go to stderr, failures return -1.
 */
#ifndef CHAPPS_TESTS_REDIS_HELPER_H
#define CHAPPS_TESTS_REDIS_HELPER_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#define REDIS_HELPER_PATH_MAX 256

struct redis_helper_server {
	pid_t pid;			/* 0 when not running */
	int port;			/* 0 with port_first 0: TCP off */
	char dir[REDIS_HELPER_PATH_MAX];	/* private directory */
	char socket[REDIS_HELPER_PATH_MAX + 16];	/* "" unless unix_socket was asked for */
	char password[64];		/* "" for none */
	bool sentinel;
};

struct redis_helper_options {
	int port_first, port_last;	/* try these in turn; port_first 0: no TCP */
	bool unix_socket;		/* also listen on dir/redis.sock */
	const char *password;		/* requirepass */
	int replicaof_port;		/* > 0: replica of 127.0.0.1:replicaof_port */
	bool cluster;			/* cluster-enabled, nodes.conf in its directory */
	/* sentinel: monitor master_name at 127.0.0.1:monitor_port, quorum 1 */
	const char *sentinel_master;
	int monitor_port;
};

/*
 * redis_helper_binary - path of "redis-server" or "redis-sentinel", or NULL
 * when not installed (the caller exits 77).
 */
const char *redis_helper_binary(const char *name);

/*
 * redis_helper_start - start a server (or, with opts->sentinel_master, a
 * sentinel) and wait until it answers PING (at most 5 s).  Returns 0 and
 * fills *srv, or -1 with a message on stderr.
 */
int redis_helper_start(struct redis_helper_server *srv, const struct redis_helper_options *opts);

/* redis_helper_restart - start srv again on the same port, directory and options. */
int redis_helper_restart(struct redis_helper_server *srv, const struct redis_helper_options *opts);

/* redis_helper_kill - SIGKILL the server and reap it; the directory stays. */
void redis_helper_kill(struct redis_helper_server *srv);

/* redis_helper_stop - stop the server (TERM, then KILL after 3 s), remove its directory. */
void redis_helper_stop(struct redis_helper_server *srv);

/*
 * redis_helper_connect - a hiredis context to srv (TCP if it has a port),
 * authenticated when it has a password; NULL on failure.  1 s timeouts.
 */
redisContext *redis_helper_connect(const struct redis_helper_server *srv);

/*
 * redis_helper_command - run a command built from a format (test data
 * only, never user data) and return the reply (caller frees), NULL on an
 * I/O error.
 */
redisReply *redis_helper_command(redisContext *c, const char *fmt, ...);

/* redis_helper_integer - run a command expecting an integer reply; -1 otherwise. */
long long redis_helper_integer(redisContext *c, const char *fmt, ...);

/* redis_helper_mono_ms - the monotonic clock in milliseconds. */
long long redis_helper_mono_ms(void);

#endif
