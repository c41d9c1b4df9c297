/*
 * NAME
 *	log - syslog/stderr logging with a capture mode for tests
 * DESCRIPTION
 *	A small wrapper over syslog(3).  The level filter is one atomic int so
 *	that a reload can change it while worker threads log.  In the
 *	foreground (-f) lines go to stderr, one write(2) per line so that lines
 *	of concurrent threads never interleave.
 * DIAGNOSTICS
 *	None: logging never fails visibly.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "base/log.h"

#define LOG_LINE_MAX 2048

static int log_level_cur = LOG_LEVEL_INFO;
static bool log_stderr = true;
static bool log_is_open;
static bool log_dup_errors;
static char log_ident[64] = "chapps";
static long log_pid;			/* for stderr lines: no getpid() per line */

static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static bool capture_on;
static int capture_level;
static char *capture_buf;
static size_t capture_len, capture_size;

static const struct {
	const char *name;
	int facility;
} facilities[] = {
	{ "mail", LOG_MAIL },     { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void log_open(const char *ident, int facility, bool to_stderr, enum log_level level)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_stderr = to_stderr;
	log_pid = (long)getpid();	/* log_open follows any fork (main.c) */
	__atomic_store_n(&log_level_cur, (int)level, __ATOMIC_RELAXED);
	if (!to_stderr) {
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
		log_is_open = true;
	}
}

void log_errors_to_stderr(bool on)
{
	log_dup_errors = on;
}

void log_close(void)
{
	if (log_is_open)
		closelog();
	log_is_open = false;
}

void log_set_level(enum log_level level)
{
	__atomic_store_n(&log_level_cur, (int)level, __ATOMIC_RELAXED);
}

bool log_enabled(enum log_level level)
{
	if (__atomic_load_n(&capture_on, __ATOMIC_RELAXED))
		return (int)level <= capture_level;
	return (int)level <= __atomic_load_n(&log_level_cur, __ATOMIC_RELAXED);
}

int log_facility_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].facility;
	return -1;
}

int log_level_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < 4 ? level_names[level] : "?";
}

/* capture_append - add one line to the capture buffer */
static void capture_append(const char *line)
{
	size_t n = strlen(line);

	pthread_mutex_lock(&capture_lock);
	if (capture_len + n + 2 > capture_size) {
		size_t sz = (capture_size ? capture_size : 1024);

		while (capture_len + n + 2 > sz)
			sz *= 2;
		char *p = realloc(capture_buf, sz);

		if (p == NULL)
			abort();
		capture_buf = p;
		capture_size = sz;
	}
	memcpy(capture_buf + capture_len, line, n);
	capture_len += n;
	capture_buf[capture_len++] = '\n';
	capture_buf[capture_len] = '\0';
	pthread_mutex_unlock(&capture_lock);
}

/* log_emit - format and write one line at level */
static void log_emit(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void log_emit(enum log_level level, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[LOG_LINE_MAX];
	int n;

	if (__atomic_load_n(&capture_on, __ATOMIC_RELAXED)) {
		if ((int)level > capture_level)
			return;
		n = snprintf(line, sizeof(line), "%s: ", level_names[level]);
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		capture_append(line);
		return;
	}
	if ((int)level > __atomic_load_n(&log_level_cur, __ATOMIC_RELAXED))
		return;
	if (log_stderr) {
		n = snprintf(line, sizeof(line), "%s[%ld]: %s: ", log_ident, log_pid ? log_pid : (long)getpid(),
			     level_names[level]);
		vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
		size_t len = strlen(line);

		line[len++] = '\n';
		if (write(STDERR_FILENO, line, len) < 0) {
			/* nowhere left to report it */
		}
	} else {
		va_list copy;

		va_copy(copy, ap);
		vsyslog(prio[level], fmt, ap);
		if (log_dup_errors && level <= LOG_LEVEL_WARNING) {
			n = snprintf(line, sizeof(line), "%s: %s: ", log_ident, level_names[level]);
			vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, copy);
			size_t len = strlen(line);

			line[len++] = '\n';
			if (write(STDERR_FILENO, line, len) < 0) {
				/* nowhere left to report it */
			}
		}
		va_end(copy);
	}
}

/* log_emit_fmt - log_emit with its arguments */
static void log_emit_fmt(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void log_emit_fmt(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, fmt, ap);
	va_end(ap);
}

/* put_textn - append the n bytes of text at *o in line (size bytes), cut to fit */
static void put_textn(char *line, size_t size, size_t *o, const char *text, size_t n)
{
	if (*o + n >= size)
		n = *o < size ? size - 1 - *o : 0;
	memcpy(line + *o, text, n);
	*o += n;
}

/* put_text - append text at *o in line (size bytes), cut to fit */
static void put_text(char *line, size_t size, size_t *o, const char *text)
{
	put_textn(line, size, o, text, strlen(text));
}

/*
 * log_emit_text - log_emit(level, "%s", text) without the printf machinery
 * (text_len: strlen(text)): the decision line is written for every message
 */
static void log_emit_text(enum log_level level, const char *text, size_t text_len)
{
	char line[LOG_LINE_MAX], digits[24];
	size_t o = 0, nd = 0;
	unsigned long pid;

	if (__atomic_load_n(&capture_on, __ATOMIC_RELAXED)) {
		if ((int)level > capture_level)
			return;
		put_text(line, sizeof(line), &o, level_names[level]);
		put_text(line, sizeof(line), &o, ": ");
		put_textn(line, sizeof(line), &o, text, text_len);
		line[o] = '\0';
		capture_append(line);
		return;
	}
	if ((int)level > __atomic_load_n(&log_level_cur, __ATOMIC_RELAXED))
		return;
	if (!log_stderr || (log_dup_errors && level <= LOG_LEVEL_WARNING)) {
		log_emit_fmt(level, "%s", text);
		return;
	}
	pid = (unsigned long)(log_pid ? log_pid : (long)getpid());
	do
		digits[nd++] = (char)('0' + pid % 10);
	while ((pid /= 10) != 0);
	put_text(line, sizeof(line), &o, log_ident);
	line[o++] = '[';
	while (nd > 0)
		line[o++] = digits[--nd];
	put_text(line, sizeof(line), &o, "]: ");
	put_text(line, sizeof(line), &o, level_names[level]);
	put_text(line, sizeof(line), &o, ": ");
	put_textn(line, sizeof(line) - 1, &o, text, text_len);
	line[o++] = '\n';
	if (write(STDERR_FILENO, line, o) < 0) {
		/* nowhere left to report it */
	}
}

#define LOG_FN(name, level)                          \
	void name(const char *fmt, ...)              \
	{                                            \
		va_list ap;                          \
		va_start(ap, fmt);                   \
		log_emit(level, fmt, ap);            \
		va_end(ap);                          \
	}

LOG_FN(log_debug, LOG_LEVEL_DEBUG)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_warn, LOG_LEVEL_WARNING)
LOG_FN(log_error, LOG_LEVEL_ERROR)

void log_fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(status);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	abort();
}

char *log_sanitize(char *dst, size_t dstsize, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstsize == 0)
		return dst;
	if (src == NULL)
		src = "";
	size_t full = 0;

	for (const char *p = src; *p != '\0' && full < dstsize; p++)
		full += ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) ? 1 : 4;
	for (; *src != '\0'; src++) {
		unsigned char c = (unsigned char)*src;
		size_t need = (c >= 0x20 && c < 0x7f) ? 1 : 4;

		if (full >= dstsize && o + need + 4 > dstsize) {
			/* room for "..." and the terminator */
			if (o + 4 <= dstsize) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}

/* line_putn - append the n bytes of text to the line, cut at its end */
static void line_putn(char *line, size_t size, size_t *len, const char *text, size_t n)
{
	if (*len + n >= size)
		n = *len < size ? size - 1 - *len : 0;
	memcpy(line + *len, text, n);
	*len += n;
	line[*len] = '\0';
}

/* line_put - append the text to the line, cut at its end */
static void line_put(char *line, size_t size, size_t *len, const char *text)
{
	line_putn(line, size, len, text, strlen(text));
}

/* LINE_LIT - line_put of a string literal, its length known at compile time */
#define LINE_LIT(line, size, len, lit) line_putn(line, size, len, lit, sizeof(lit) - 1)

/*
 * line_clean - append value sanitized as log_sanitize(buf, max, value)
 * would, straight into the line (no intermediate copy, no format pass): a
 * value all printable that fits is copied in one pass, anything else goes
 * through log_sanitize
 */
static void line_clean(char *line, size_t size, size_t *len, const char *value, size_t max)
{
	size_t room = size - *len, cap, o = 0;
	char *dst = line + *len;

	if (room <= 1)
		return;
	cap = room < max ? room : max;
	if (value == NULL)
		value = "";
	/* what log_sanitize writes when every byte is printable and fewer than cap */
	for (;;) {
		unsigned char c = (unsigned char)value[o];

		if (c == '\0') {
			dst[o] = '\0';
			*len += o;
			return;
		}
		if (c < 0x20 || c >= 0x7f || o + 1 >= cap)
			break;
		dst[o++] = (char)c;
	}
	log_sanitize(dst, cap, value);
	*len += strlen(dst);
}

/*
 * field - append " name=<value>" (sanitized, value cut to 511 bytes) if
 * value is set; name_eq is " name=" or " name=<" (with brackets)
 */
static void field(char *line, size_t size, size_t *len, const char *name_eq, size_t name_eq_len,
		  const char *value, bool brackets)
{
	size_t start, n;

	if (value == NULL || *len + 1 >= size)
		return;
	line_putn(line, size, len, name_eq, name_eq_len);
	start = *len;
	line_clean(line, size, len, value, 512);
	n = *len - start;
	/* a value that already carries its brackets (a raw RCPT argument) */
	if (brackets && n >= 2 && line[start] == '<' && line[*len - 1] == '>') {
		memmove(line + start, line + start + 1, n - 2);
		*len -= 2;
		line[*len] = '\0';
	}
	if (brackets)
		LINE_LIT(line, size, len, ">");
}

/* FIELD - field() of a literal " name=" or " name=<" */
#define FIELD(line, size, len, name_eq, value, brackets) \
	field(line, size, len, name_eq, sizeof(name_eq) - 1, value, brackets)

void log_decision(const struct log_decision *d)
{
	char line[LOG_LINE_MAX];
	size_t len = 0;

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	line[0] = '\0';
	/* built with plain copies: this line is written for every decision */
	if (d->queue_id && *d->queue_id)
		line_clean(line, sizeof(line), &len, d->queue_id, 64);
	else
		LINE_LIT(line, sizeof(line), &len, "NOQUEUE");
	LINE_LIT(line, sizeof(line), &len, ": ");
	line_put(line, sizeof(line), &len, d->action);
	LINE_LIT(line, sizeof(line), &len, ": ");
	line_put(line, sizeof(line), &len, d->stage ? d->stage : "?");
	LINE_LIT(line, sizeof(line), &len, " from ");
	line_clean(line, sizeof(line), &len, d->client_name, 256);
	LINE_LIT(line, sizeof(line), &len, "[");
	line_clean(line, sizeof(line), &len, d->client_addr, 128);
	LINE_LIT(line, sizeof(line), &len, "]:");
	if (d->reply != NULL) {
		LINE_LIT(line, sizeof(line), &len, " ");
		line_clean(line, sizeof(line), &len, d->reply, 1024);
		LINE_LIT(line, sizeof(line), &len, ";");
	}
	FIELD(line, sizeof(line), &len, " user=<", d->user, true);
	FIELD(line, sizeof(line), &len, " from=<", d->sender, true);
	FIELD(line, sizeof(line), &len, " to=<", d->rcpt, true);
	FIELD(line, sizeof(line), &len, " policy=", d->policy, false);
	FIELD(line, sizeof(line), &len, " key=", d->key, false);
	if (d->extra != NULL) {
		LINE_LIT(line, sizeof(line), &len, " ");
		line_put(line, sizeof(line), &len, d->extra);
	}
	log_emit_text(LOG_LEVEL_INFO, line, len);
}

void log_capture_start(enum log_level level)
{
	capture_level = (int)level;
	pthread_mutex_lock(&capture_lock);
	capture_len = 0;
	if (capture_buf != NULL)
		capture_buf[0] = '\0';
	pthread_mutex_unlock(&capture_lock);
	__atomic_store_n(&capture_on, true, __ATOMIC_RELAXED);
}

const char *log_capture_text(void)
{
	return capture_buf != NULL ? capture_buf : "";
}

void log_capture_stop(void)
{
	__atomic_store_n(&capture_on, false, __ATOMIC_RELAXED);
	pthread_mutex_lock(&capture_lock);
	free(capture_buf);
	capture_buf = NULL;
	capture_len = capture_size = 0;
	pthread_mutex_unlock(&capture_lock);
}
