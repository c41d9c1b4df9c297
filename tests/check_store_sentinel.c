/*
 * check_store_sentinel - the Redis store engine behind Redis Sentinel
 *
 * A master, a replica (--replicaof) and one redis-sentinel (quorum 1,
 * down-after 300 ms) on 127.0.0.1, plus in-process stand-ins: a port where
 * nothing listens and a lying sentinel that names the replica as master.
 * The cases: a replica used directly refuses writes (READONLY); discovery
 * asks the sentinels in turn and checks ROLE; after the master is killed
 * and the sentinel has promoted the replica, the same store writes to the
 * new master and sees the state written before the failover.  Exits 77
 * when redis-server or redis-sentinel is not installed.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "redis_helper.h"
#include "store/store.h"

#define PORT_MASTER 16400	/* each role tries PORT_SPAN ports from here */
#define PORT_REPLICA 16415
#define PORT_SENTINEL 16430
#define PORT_FAKE 16445		/* the lying sentinel and the dead one */
#define PORT_EXTRA 16460	/* servers of single cases */
#define PORT_SPAN 15
#define MASTER_NAME "mymaster"
#define TIMEOUT_MS 500
#define FAILOVER_WAIT_MS 20000

static struct redis_helper_server master, replica, sentinel;

static char localhost[] = "127.0.0.1";
static char master_name[] = MASTER_NAME;

static const struct store_quota_params P = {
	.limit = 10, .margin = 0, .interval = 3600, .resolution = 60, .reservation_ttl = 300,
};

/* ---- a lying sentinel -------------------------------------------------- */

struct liar {
	int fd, port;
	volatile int answer_port;	/* may change while it runs */
	volatile int stop;
	pthread_t tid;
};

/* listen_in_range - a listening socket on the first free port of the fake range */
static int listen_in_range(int *port_r, int skip)
{
	struct sockaddr_in sin;
	int port, fd, one = 1;

	for (port = PORT_FAKE; port < PORT_FAKE + PORT_SPAN; port++) {
		if (port == skip)
			continue;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(fd, 8) == 0) {
			*port_r = port;
			return fd;
		}
		close(fd);
	}
	return -1;
}

/* liar_main - answer every command with the replica's address */
static void *liar_main(void *p)
{
	struct liar *liar = p;
	char answer[64], buf[512];
	int len;

	while (!liar->stop) {
		struct pollfd pfd = { .fd = liar->fd, .events = POLLIN };
		struct timeval tv = { 1, 0 };
		int cfd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		cfd = accept(liar->fd, NULL, NULL);
		if (cfd < 0)
			continue;
		setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		len = snprintf(answer, sizeof(answer), "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n%d\r\n",
			       liar->answer_port);
		/* one answer per read: the client sends one small command at a time */
		while (read(cfd, buf, sizeof(buf)) > 0) {
			if (write(cfd, answer, (size_t)len) != len)
				break;
		}
		close(cfd);
	}
	return NULL;
}

/* liar_start - start a lying sentinel naming port as the master */
static void liar_start(struct liar *liar, int port)
{
	memset(liar, 0, sizeof(*liar));
	liar->answer_port = port;
	liar->fd = listen_in_range(&liar->port, 0);
	ck_assert_msg(liar->fd >= 0, "no free port for the fake sentinel");
	ck_assert_int_eq(pthread_create(&liar->tid, NULL, liar_main, liar), 0);
}

/* liar_stop - stop and join the lying sentinel */
static void liar_stop(struct liar *liar)
{
	liar->stop = 1;
	pthread_join(liar->tid, NULL);
	close(liar->fd);
}

/* dead_port - a port of the fake range where nothing listens */
static int dead_port(int skip)
{
	int port = 0, fd = listen_in_range(&port, skip);

	ck_assert_msg(fd >= 0, "no free port for the dead sentinel");
	close(fd);
	return port;
}

/* ---- helpers ----------------------------------------------------------- */

/* config_sentinel - a zeroed config using the sentinel endpoints given */
static void config_sentinel(struct config *cfg, char **endpoints, int n)
{
	int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->store_backend = STORE_BACKEND_REDIS;
	for (i = 0; i < n; i++)
		cfg->redis_sentinel_servers[i] = endpoints[i];
	cfg->n_redis_sentinel_servers = n;
	cfg->redis_sentinel_dataset = master_name;
	cfg->redis_connect_timeout_ms = TIMEOUT_MS;
	cfg->redis_command_timeout_ms = TIMEOUT_MS;
}

/* endpoint - "127.0.0.1:port" into buf */
static char *endpoint(char *buf, size_t size, int port)
{
	snprintf(buf, size, "127.0.0.1:%d", port);
	return buf;
}

/* open_ok - store_open that must succeed */
static struct store *open_ok(const struct config *cfg)
{
	struct store *store = NULL;
	const char *error = NULL;

	ck_assert_msg(store_open(cfg, &store, &error) == 0, "store_open: got error %s, want 0",
		      error);
	return store;
}

/* master_port_of - the master port the real sentinel reports, or -1 */
static int master_port_of(void)
{
	redisContext *c = redis_helper_connect(&sentinel);
	redisReply *r;
	int port = -1;

	if (c == NULL)
		return -1;
	r = redis_helper_command(c, "SENTINEL get-master-addr-by-name %s", MASTER_NAME);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
		port = atoi(r->element[1]->str);
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return port;
}

/* ---- cases ------------------------------------------------------------- */

START_TEST(test_replica_is_readonly)
{
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;

	/* no sentinel: the replica is taken at its word and refuses the write */
	memset(&cfg, 0, sizeof(cfg));
	cfg.store_backend = STORE_BACKEND_REDIS;
	cfg.redis_server = localhost;
	cfg.redis_port = replica.port;
	store = open_ok(&cfg);
	ck_assert_int_eq(store_quota_reserve(store, "bob", 3, "R1", 1, &P, 1000, &st, &error),
			 STORE_ERROR);
	ck_assert_msg(strstr(error, "READONLY") != NULL, "error: got '%s', want READONLY", error);
	store_close(&store);
}
END_TEST

START_TEST(test_discovery_in_turn)
{
	char ep[3][32];
	char *endpoints[3];
	struct store_quota_state st;
	struct liar liar;
	struct config cfg;
	struct store *store = NULL;
	const char *error = NULL;
	redisContext *c;

	liar_start(&liar, replica.port);
	endpoints[0] = endpoint(ep[0], sizeof(ep[0]), dead_port(liar.port));
	endpoints[1] = endpoint(ep[1], sizeof(ep[1]), liar.port);
	endpoints[2] = endpoint(ep[2], sizeof(ep[2]), sentinel.port);

	/* dead and lying sentinels only: no master, and the error says why */
	config_sentinel(&cfg, endpoints, 2);
	ck_assert_int_eq(store_open(&cfg, &store, &error), -1);
	ck_assert_msg(strstr(error, "refused") != NULL && strstr(error, "not master") != NULL,
		      "error: got '%s', want connection refused and ROLE not master", error);

	/* an unknown master name */
	config_sentinel(&cfg, endpoints + 2, 1);
	cfg.redis_sentinel_dataset = localhost;
	ck_assert_int_eq(store_open(&cfg, &store, &error), -1);
	ck_assert_msg(strstr(error, "unknown master") != NULL, "error: got '%s'", error);

	/* all three: the real one is reached in turn and its master verified */
	config_sentinel(&cfg, endpoints, 3);
	store = open_ok(&cfg);
	ck_assert_int_eq(store_quota_reserve(store, "bob", 3, "R1", 1, &P, 1000, &st, &error),
			 STORE_OK);
	c = redis_helper_connect(&master);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(redis_helper_integer(c, "EXISTS chapps:q:bob"), 1);
	freeReplyObject(redis_helper_command(c, "DEL chapps:q:bob"));
	redisFree(c);
	store_close(&store);
	liar_stop(&liar);
}
END_TEST

/* wait_replica_acked - wait until the master has the replica's first ACK */
static int wait_replica_acked(void)
{
	long long deadline = redis_helper_mono_ms() + 10000;

	while (redis_helper_mono_ms() < deadline) {
		redisContext *c = redis_helper_connect(&master);
		bool acked = false;

		if (c != NULL) {
			redisReply *r = redis_helper_command(c, "INFO replication");

			acked = r != NULL && r->type == REDIS_REPLY_STRING &&
				strstr(r->str, "slave0:") != NULL &&
				strstr(r->str, ",offset=0,") == NULL;
			if (r != NULL)
				freeReplyObject(r);
			redisFree(c);
		}
		if (acked)
			return 0;
		nanosleep(&(struct timespec){ 0, 20 * 1000000 }, NULL);
	}
	return -1;
}

/* store.redis.wait_replicas: the reply comes once the replicas hold the write */
START_TEST(test_wait_replicas)
{
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;

	memset(&cfg, 0, sizeof(cfg));
	cfg.store_backend = STORE_BACKEND_REDIS;
	cfg.redis_server = localhost;
	cfg.redis_port = master.port;
	cfg.redis_connect_timeout_ms = TIMEOUT_MS;
	cfg.redis_command_timeout_ms = TIMEOUT_MS;
	cfg.redis_wait_replicas = 1;
	/*
	 * A replica that just synced (diskless) gets the command stream, GETACK
	 * included, only after its first periodic ACK (up to 1 s): until then
	 * WAIT cannot count it.  Wait for that ACK (its offset on the master).
	 */
	ck_assert_int_eq(wait_replica_acked(), 0);
	store = open_ok(&cfg);
	ck_assert_msg(store_quota_reserve(store, "wally", 5, "R1", 1, &P, 1000, &st, &error) ==
			      STORE_OK,
		      "reserve with wait_replicas 1: got error %s, want STORE_OK", error);
	c = redis_helper_connect(&master);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS chapps:q:wally rR1"), 1);
	redisFree(c);
	c = redis_helper_connect(&replica);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS chapps:q:wally rR1"), 1);
	redisFree(c);
	store_close(&store);

	/* two wanted, one replica: an error naming the shortfall, the write on the master */
	cfg.redis_wait_replicas = 2;
	store = open_ok(&cfg);
	ck_assert_int_eq(store_quota_reserve(store, "wally", 5, "R2", 1, &P, 1000, &st, &error),
			 STORE_ERROR);
	ck_assert_msg(strstr(error, "WAIT: 1 of 2 replicas") != NULL,
		      "error: got '%s', want WAIT: 1 of 2 replicas", error);
	/* the connection stays usable: the next call runs (and falls short) again */
	ck_assert_int_eq(store_quota_reserve(store, "wally", 5, "R3", 1, &P, 1000, &st, &error),
			 STORE_ERROR);
	ck_assert_msg(strstr(error, "WAIT: 1 of 2") != NULL, "error: got '%s'", error);
	c = redis_helper_connect(&master);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS chapps:q:wally rR2"), 1);
	freeReplyObject(redis_helper_command(c, "DEL chapps:q:wally"));
	redisFree(c);
	store_close(&store);
}
END_TEST

/*
 * Two stand-alone servers for the demotion case, started by an unchecked
 * fixture (in the runner's process, which stops them even when the case
 * fails in its forked child).
 */
static struct redis_helper_server extra[2];

/* setup_extra - start the two stand-alone servers */
static void setup_extra(void)
{
	struct redis_helper_options opts = { .port_first = PORT_EXTRA,
					     .port_last = PORT_EXTRA + PORT_SPAN - 1 };

	ck_assert_int_eq(redis_helper_start(&extra[0], &opts), 0);
	ck_assert_int_eq(redis_helper_start(&extra[1], &opts), 0);
}

/* teardown_extra - stop them and remove their directories */
static void teardown_extra(void)
{
	redis_helper_stop(&extra[0]);
	redis_helper_stop(&extra[1]);
}

START_TEST(test_readonly_rediscovery)
{
	struct store_quota_state st;
	struct liar liar;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	redisReply *r;
	char ep[32];
	char *endpoints[1];

	/* two stand-alone servers, and a sentinel that names the first */
	liar_start(&liar, extra[0].port);
	endpoints[0] = endpoint(ep, sizeof(ep), liar.port);
	config_sentinel(&cfg, endpoints, 1);
	store = open_ok(&cfg);
	ck_assert_int_eq(store_quota_reserve(store, "bob", 3, "R1", 1, &P, 1000, &st, &error),
			 STORE_OK);

	/* the first becomes a replica behind the store's back (its clients stay
	 * connected), and the sentinel now names the second */
	c = redis_helper_connect(&extra[0]);
	ck_assert_ptr_nonnull(c);
	r = redis_helper_command(c, "REPLICAOF 127.0.0.1 %d", extra[1].port);
	ck_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
	freeReplyObject(r);
	redisFree(c);
	liar.answer_port = extra[1].port;

	/* the pooled connection gets READONLY: rediscover and retry, in one call */
	ck_assert_msg(store_quota_reserve(store, "bob", 3, "R2", 1, &P, 1000, &st, &error) ==
			      STORE_OK,
		      "reserve after demotion: got error %s, want STORE_OK", error);
	c = redis_helper_connect(&extra[1]);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS chapps:q:bob rR2"), 1);
	redisFree(c);
	store_close(&store);
	liar_stop(&liar);
}
END_TEST

START_TEST(test_failover)
{
	char ep[2][32];
	char *endpoints[2];
	struct store_quota_state st;
	struct config cfg;
	struct store *store;
	const char *error = NULL;
	redisContext *c;
	long long t0, ms, deadline;
	int status, port;

	endpoints[0] = endpoint(ep[0], sizeof(ep[0]), dead_port(0));
	endpoints[1] = endpoint(ep[1], sizeof(ep[1]), sentinel.port);
	config_sentinel(&cfg, endpoints, 2);
	store = open_ok(&cfg);
	ck_assert_int_eq(store_quota_reserve(store, "bob", 3, "R1", 2, &P, 1000, &st, &error),
			 STORE_OK);
	ck_assert_int_eq(store_cache_set(store, "k", 1, "v", 1, 100, 1000, &error), STORE_OK);

	/* replication caught up: a write of ours after the store's, then WAIT */
	c = redis_helper_connect(&master);
	ck_assert_ptr_nonnull(c);
	freeReplyObject(redis_helper_command(c, "SET chapps:test:marker 1"));
	ck_assert_int_eq(redis_helper_integer(c, "WAIT 1 5000"), 1);
	redisFree(c);

	redis_helper_kill(&master);

	/* during the failover: an error (or success once promoted), within the deadline */
	t0 = redis_helper_mono_ms();
	status = store_quota_reserve(store, "bob", 3, "R2", 1, &P, 1000, &st, &error);
	ms = redis_helper_mono_ms() - t0;
	ck_assert_msg(status == STORE_ERROR || status == STORE_OK, "got %d", status);
	ck_assert_msg(ms <= 2 * TIMEOUT_MS + 100, "call during failover took %lld ms, want <= %d",
		      ms, 2 * TIMEOUT_MS + 100);
	if (status == STORE_OK)
		ck_assert_int_eq(store_quota_release(store, "bob", 3, "R2", 1000, &error),
				 STORE_OK);

	/* bounded poll until the sentinel names the promoted replica */
	deadline = redis_helper_mono_ms() + FAILOVER_WAIT_MS;
	while ((port = master_port_of()) != replica.port && redis_helper_mono_ms() < deadline) {
		struct timespec ts = { 0, 50 * 1000000 };

		nanosleep(&ts, NULL);
	}
	ck_assert_msg(port == replica.port, "sentinel reports master port %d, want %d", port,
		      replica.port);

	/* the same store, without reopening, on the new master, with the old state */
	ck_assert_msg(store_quota_reserve(store, "bob", 3, "R3", 1, &P, 1001, &st, &error) ==
			      STORE_OK,
		      "reserve after failover: got error %s, want STORE_OK", error);
	ck_assert_msg(st.reserved == 3, "reserved after failover: got %u, want 3", st.reserved);
	ck_assert_int_eq(store_quota_commit(store, "bob", 3, "R1", &P, 1001, &error), STORE_OK);
	ck_assert_int_eq(store_quota_usage(store, "bob", 3, &P, 1001, &st, &error), STORE_OK);
	ck_assert_uint_eq(st.committed, 2);
	{
		char val[8];
		size_t len = sizeof(val);

		ck_assert_int_eq(store_cache_get(store, "k", 1, val, &len, 1001, &error),
				 STORE_OK);
		ck_assert(len == 1 && val[0] == 'v');
	}
	c = redis_helper_connect(&replica);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(redis_helper_integer(c, "HEXISTS chapps:q:bob rR3"), 1);
	redisFree(c);
	store_close(&store);
}
END_TEST

/* ---- set-up ------------------------------------------------------------ */

/* wait_info - poll INFO of srv until it contains want (bounded); 0 when it did */
static int wait_info(const struct redis_helper_server *srv, const char *section, const char *want)
{
	long long deadline = redis_helper_mono_ms() + 10000;

	for (;;) {
		redisContext *c = redis_helper_connect(srv);
		bool found = false;

		if (c != NULL) {
			redisReply *r = redis_helper_command(c, "INFO %s", section);

			found = r != NULL && r->type == REDIS_REPLY_STRING &&
				strstr(r->str, want) != NULL;
			if (r != NULL)
				freeReplyObject(r);
			redisFree(c);
		}
		if (found)
			return 0;
		if (redis_helper_mono_ms() > deadline) {
			fprintf(stderr, "check_store_sentinel: port %d never showed '%s'\n",
				srv->port, want);
			return -1;
		}
		{
			struct timespec ts = { 0, 20 * 1000000 };

			nanosleep(&ts, NULL);
		}
	}
}

/* start_all - master, replica in sync, sentinel that knows the replica */
static int start_all(void)
{
	struct redis_helper_options opts = { .port_first = PORT_MASTER,
					     .port_last = PORT_MASTER + PORT_SPAN - 1 };

	if (redis_helper_start(&master, &opts) < 0)
		return -1;
	opts = (struct redis_helper_options){ .port_first = PORT_REPLICA,
					      .port_last = PORT_REPLICA + PORT_SPAN - 1,
					      .replicaof_port = master.port };
	if (redis_helper_start(&replica, &opts) < 0)
		return -1;
	if (wait_info(&replica, "replication", "master_link_status:up") < 0 ||
	    wait_info(&master, "replication", "connected_slaves:1") < 0)
		return -1;
	opts = (struct redis_helper_options){ .port_first = PORT_SENTINEL,
					      .port_last = PORT_SENTINEL + PORT_SPAN - 1,
					      .sentinel_master = MASTER_NAME,
					      .monitor_port = master.port };
	if (redis_helper_start(&sentinel, &opts) < 0)
		return -1;
	/* the sentinel learns of the replica from the master's INFO */
	return wait_info(&sentinel, "sentinel", "slaves=1");
}

/* sentinel_suite - the cases, the one that kills the master last */
static Suite *sentinel_suite(void)
{
	Suite *s = suite_create("store_sentinel");
	TCase *tc;

	tc = tcase_create("discovery");
	tcase_add_test(tc, test_replica_is_readonly);
	tcase_add_test(tc, test_discovery_in_turn);
	tcase_add_test(tc, test_wait_replicas);
	suite_add_tcase(s, tc);

	tc = tcase_create("demotion");
	tcase_add_unchecked_fixture(tc, setup_extra, teardown_extra);
	tcase_add_test(tc, test_readonly_rediscovery);
	suite_add_tcase(s, tc);

	tc = tcase_create("failover");	/* last: it kills the master */
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_failover);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed = 1;

	if (redis_helper_binary("redis-server") == NULL ||
	    redis_helper_binary("redis-sentinel") == NULL) {
		fprintf(stderr, "check_store_sentinel: redis-server or redis-sentinel not "
				"installed, skipping\n");
		return 77;
	}
	if (start_all() == 0) {
		sr = srunner_create(sentinel_suite());
		srunner_run_all(sr, CK_NORMAL);
		failed = srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	redis_helper_stop(&sentinel);
	redis_helper_stop(&replica);
	redis_helper_stop(&master);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
