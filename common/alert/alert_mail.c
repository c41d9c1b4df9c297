/*
 * NAME
 *	alert_mail - the mail channel of operator alerts
 * SUMMARY
 *	alert_mail_send(a, item, timeout_ms, &error)
 * DESCRIPTION
 *	The sender thread pipes each event, as a plain-text mail, into
 *	`sendmail -oi -- ADDRESS` (fork and execv, no shell; no descriptor
 *	of the milter reaches it, and it does not inherit the thread's
 *	blocked signals).  It writes through a socket, so a sendmail that
 *	dies cannot raise SIGPIPE, and waits for it at most the attempt's
 *	time (then kills it), or until close's time is up.
 * DIAGNOSTICS
 *	-1 with a text for a failed attempt (the caller logs it and retries);
 *	nothing is logged here.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert-private.h"

/* stop_due - has close's time run out (any thread)? */
static bool stop_due(struct alerts *a)
{
	bool due;

	pthread_mutex_lock(&a->mutex);
	due = a->stopping && alert_now_ms() >= a->stop_deadline_ms;
	pthread_mutex_unlock(&a->mutex);
	return due;
}

/* mail_text - the plain-text mail of an event into buf; its length */
static size_t mail_text(const struct alerts *a, const struct alert_item *it, char *buf,
			size_t size)
{
	char when[32];
	int n;

	alert_rfc3339(it->time, when, sizeof(when));
	n = snprintf(buf, size,
		     "To: %s\n"
		     "Subject: chapps alert: %s of %s\n"
		     "Auto-Submitted: auto-generated\n"
		     "MIME-Version: 1.0\n"
		     "Content-Type: text/plain; charset=UTF-8\n"
		     "Content-Transfer-Encoding: 8bit\n"
		     "\n"
		     "chapps on %s reports: %s.\n"
		     "\n"
		     "kind:           %s\n"
		     "user:           %s\n"
		     "limit:          %s\n"
		     "used:           %llu\n"
		     "max:            %llu\n"
		     "client address: %s\n"
		     "queue id:       %s\n"
		     "time:           %s\n",
		     a->mail_to, alert_kind_name(it->kind), it->user, a->host,
		     alert_kind_name(it->kind), alert_kind_name(it->kind), it->user,
		     it->has_limit ? it->limit : "-", (unsigned long long)it->used,
		     (unsigned long long)it->max, it->has_client ? it->client : "-",
		     it->has_queue_id ? it->queue_id : "-", when);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

/*
 * alert_mail_send - run `sendmail -oi -- mail_to` (fork/execv, no shell) with the
 * event's mail on its standard input; wait for it at most timeout_ms (then
 * kill it).  0 when it exited 0, else -1 with a text in *error_r.
 */
int alert_mail_send(struct alerts *a, const struct alert_item *it, long timeout_ms,
		    const char **error_r)
{
	static __thread char why[160];
	char msg[4096];
	size_t len = mail_text(a, it, msg, sizeof(msg)), off = 0;
	char *argv[] = { a->sendmail, (char *)"-oi", (char *)"--", a->mail_to, NULL };
	int sv[2], devnull, status;
	int64_t deadline = alert_now_ms() + timeout_ms;
	pid_t pid, w;
#ifndef HAVE_CLOSE_RANGE
	long open_max = sysconf(_SC_OPEN_MAX);	/* before fork: not async-signal-safe */
#endif

	/* a socket, not a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE if sendmail dies */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, sizeof(why), "socketpair: %s", strerror(errno));
		*error_r = why;
		return -1;
	}
	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		snprintf(why, sizeof(why), "/dev/null: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		*error_r = why;
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		/* the child: async-signal-safe calls only */
		sigset_t none;

		/* the sender thread blocks every signal; sendmail must not inherit that */
		sigemptyset(&none);
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		if (dup2(sv[1], 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
			_exit(126);
		/* no descriptor of the milter (hiredis, libmilter sockets) reaches sendmail */
#ifdef HAVE_CLOSE_RANGE
		close_range(3, ~0U, 0);
#else
		for (long fd = 3; fd < (open_max > 0 ? open_max : 1024); fd++)
			close((int)fd);
#endif
		execv(argv[0], argv);
		_exit(127);
	}
	close(sv[1]);
	close(devnull);
	if (pid < 0) {
		snprintf(why, sizeof(why), "fork: %s", strerror(errno));
		close(sv[0]);
		*error_r = why;
		return -1;
	}
	while (off < len) {
		ssize_t n = send(sv[0], msg + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* sendmail went away: its exit status says why */
		off += (size_t)n;
	}
	close(sv[0]);
	/* bounded wait: sendmail normally exits in milliseconds */
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && alert_now_ms() < deadline &&
	       !stop_due(a)) {
		struct timespec ts = { 0, 5 * 1000000 };

		nanosleep(&ts, NULL);
	}
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(why, sizeof(why), "%s did not finish within %ld ms", a->sendmail,
			 timeout_ms);
		*error_r = why;
		return -1;
	}
	if (w < 0) {
		snprintf(why, sizeof(why), "waitpid: %s", strerror(errno));
		*error_r = why;
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && off == len)
		return 0;
	if (WIFEXITED(status))
		snprintf(why, sizeof(why), "%s exited with status %d%s", a->sendmail,
			 WEXITSTATUS(status), WEXITSTATUS(status) == 127 ? " (cannot run it)" : "");
	else
		snprintf(why, sizeof(why), "%s ended by signal %d", a->sendmail,
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	*error_r = why;
	return -1;
}
