/*
 * NAME
 *	request - per-connection and per-message facts, bounded copies
 * DESCRIPTION
 *	Fields live in one array of owned strings indexed by enum
 *	request_field.  Recipients are an array that grows geometrically up
 *	to rcpt_max.  Strings are copied into an arena inside the request
 *	(no malloc and free per value): the message's from its start, emptied
 *	by request_message_reset, the connection's from its end, kept until
 *	request_destroy; a string that does not fit any more goes to the heap
 *	(a value replaced in the arena keeps its bytes until then).  Overflow is sticky per scope: a connection-level
 *	overflow (a 64 KiB HELO, say) taints every message of the connection,
 *	a message-level one only that message.
 * DIAGNOSTICS
 *	None: status codes only.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request/request.h"
#include "base/xalloc.h"

#define REQUEST_ARENA_SIZE 640	/* strings before they go to the heap (the request
				   stays under glibc's 1 KiB per-thread cache) */

struct request {
	struct request_limits limits;
	char *field[REQ_FIELD_COUNT];
	size_t n_macros;
	char *macro[REQUEST_MACROS_MAX];
	char **rcpt;
	size_t n_rcpt, rcpt_size;
	const char *conn_overflow;	/* static name, or NULL */
	const char *msg_overflow;
	size_t arena_len;		/* arena[0, arena_len): this message's strings */
	size_t arena_conn;		/* arena[arena_conn, end): the connection's */
	char arena[REQUEST_ARENA_SIZE];	/* last: request_create leaves it uninitialised */
};

/* in_arena - does p point into req's arena (then it is not freed alone)? */
static bool in_arena(const struct request *req, const char *p)
{
	uintptr_t a = (uintptr_t)req->arena, q = (uintptr_t)p;

	return q >= a && q < a + sizeof(req->arena);
}

/* drop - forget *slot, freeing it unless it lives in the arena */
static void drop(struct request *req, char **slot)
{
	if (*slot != NULL && !in_arena(req, *slot))
		free(*slot);
	*slot = NULL;
}

/*
 * copy - a NUL-terminated copy of len bytes of value, in the arena while it
 * has room (a message's string at its low end, the connection's at its
 * high end), else on the heap
 */
static char *copy(struct request *req, const char *value, size_t len, bool message)
{
	char *p;

	if (len >= req->arena_conn - req->arena_len)
		return xstrndup(value, len);
	if (message) {
		p = req->arena + req->arena_len;
		req->arena_len += len + 1;
	} else {
		req->arena_conn -= len + 1;
		p = req->arena + req->arena_conn;
	}
	memcpy(p, value, len);
	p[len] = '\0';
	return p;
}

static const char *const field_names[REQ_FIELD_COUNT] = {
	[REQ_CLIENT_ADDR] = "client_address", [REQ_CLIENT_NAME] = "client_name",
	[REQ_CLIENT_PORT] = "client_port",    [REQ_HELO] = "helo_name",
	[REQ_DAEMON_NAME] = "{daemon_name}",  [REQ_DAEMON_ADDR] = "{daemon_addr}",
	[REQ_DAEMON_PORT] = "{daemon_port}",  [REQ_AUTH_AUTHEN] = "{auth_authen}",
	[REQ_AUTH_TYPE] = "{auth_type}",      [REQ_AUTH_AUTHOR] = "{auth_author}",
	[REQ_CERT_SUBJECT] = "{cert_subject}", [REQ_CERT_ISSUER] = "{cert_issuer}",
	[REQ_SENDER] = "sender",	      [REQ_ESMTP_ARGS] = "esmtp_args",
	[REQ_QUEUE_ID] = "{i}",
};

void request_limits_default(struct request_limits *limits)
{
	limits->value_max = REQUEST_VALUE_MAX_DEFAULT;
	limits->addr_max = REQUEST_ADDR_MAX_DEFAULT;
	limits->rcpt_max = REQUEST_RCPT_MAX_DEFAULT;
	limits->esmtp_max = REQUEST_ESMTP_MAX_DEFAULT;
}

struct request *request_create(const struct request_limits *limits, size_t n_macros)
{
	struct request *req = xmalloc(sizeof(*req));

	memset(req, 0, offsetof(struct request, arena));
	req->arena_conn = sizeof(req->arena);
	req->limits = *limits;
	req->n_macros = n_macros < REQUEST_MACROS_MAX ? n_macros : REQUEST_MACROS_MAX;
	return req;
}

void request_message_reset(struct request *req)
{
	for (int f = REQ_FIRST_MESSAGE_FIELD; f < REQ_FIELD_COUNT; f++)
		drop(req, &req->field[f]);
	for (size_t i = 0; i < req->n_macros; i++)
		drop(req, &req->macro[i]);
	for (size_t i = 0; i < req->n_rcpt; i++)
		drop(req, &req->rcpt[i]);
	req->n_rcpt = 0;
	req->msg_overflow = NULL;
	req->arena_len = 0;
}

void request_destroy(struct request **reqp)
{
	struct request *req = *reqp;

	if (req == NULL)
		return;
	request_message_reset(req);
	for (int f = 0; f < REQ_FIRST_MESSAGE_FIELD; f++)
		drop(req, &req->field[f]);
	XFREE(req->rcpt);
	free(req);
	*reqp = NULL;
}

/* note_overflow - remember the first overflowing field of its scope */
static void note_overflow(struct request *req, bool message, const char *name)
{
	if (message) {
		if (req->msg_overflow == NULL)
			req->msg_overflow = name;
	} else if (req->conn_overflow == NULL) {
		req->conn_overflow = name;
	}
}

/* store - bounded copy of len bytes of value into *slot */
static int store(struct request *req, char **slot, const char *value, size_t len, size_t max,
		 bool message, const char *name)
{
	drop(req, slot);
	if (value == NULL)
		return 0;
	if (len > max) {
		note_overflow(req, message, name);
		return -1;
	}
	*slot = copy(req, value, len, message);
	return 0;
}

/* field_max - the limit that applies to field */
static size_t field_max(const struct request *req, enum request_field field)
{
	switch (field) {
	case REQ_SENDER:
		return req->limits.addr_max;
	case REQ_ESMTP_ARGS:
		return req->limits.esmtp_max;
	default:
		return req->limits.value_max;
	}
}

int request_set(struct request *req, enum request_field field, const char *value)
{
	size_t max = field_max(req, field);

	/* strnlen: never walk further than one byte past the limit */
	return store(req, &req->field[field], value, value ? strnlen(value, max + 1) : 0, max,
		     field >= REQ_FIRST_MESSAGE_FIELD, field_names[field]);
}

const char *request_get(const struct request *req, enum request_field field)
{
	return req->field[field];
}

/* strip_brackets - the span inside one outer <...>, into *start and *len */
static void strip_brackets(const char *arg, size_t max, const char **start, size_t *len)
{
	size_t n = strnlen(arg, max + 3);

	if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>') {
		*start = arg + 1;
		*len = n - 2;
	} else {
		*start = arg;
		*len = n;
	}
}

int request_set_sender(struct request *req, const char *arg)
{
	const char *start;
	size_t len;

	if (arg == NULL)
		return request_set(req, REQ_SENDER, NULL);
	strip_brackets(arg, req->limits.addr_max, &start, &len);
	return store(req, &req->field[REQ_SENDER], start, len, req->limits.addr_max, true,
		     "sender");
}

bool request_sender_is_null(const struct request *req)
{
	return req->field[REQ_SENDER] != NULL && req->field[REQ_SENDER][0] == '\0';
}

int request_set_esmtp(struct request *req, char **argv)
{
	size_t max = req->limits.esmtp_max, len = 0;
	char *buf;

	drop(req, &req->field[REQ_ESMTP_ARGS]);
	if (argv == NULL || argv[0] == NULL)
		return 0;
	for (size_t i = 0; argv[i] != NULL; i++) {
		len += strnlen(argv[i], max + 1) + (i > 0);
		if (len > max) {
			note_overflow(req, true, "esmtp_args");
			return -1;
		}
	}
	buf = xmalloc(len + 1);
	len = 0;
	for (size_t i = 0; argv[i] != NULL; i++) {
		size_t n = strlen(argv[i]);

		if (i > 0)
			buf[len++] = ' ';
		memcpy(buf + len, argv[i], n);
		len += n;
	}
	buf[len] = '\0';
	req->field[REQ_ESMTP_ARGS] = buf;
	return 0;
}

int request_set_macro(struct request *req, size_t i, const char *value)
{
	size_t max = req->limits.value_max;

	if (i >= req->n_macros)
		return -1;
	return store(req, &req->macro[i], value, value ? strnlen(value, max + 1) : 0, max, true,
		     "{macro}");
}

const char *request_get_macro(const struct request *req, size_t i)
{
	return i < req->n_macros ? req->macro[i] : NULL;
}

enum request_rcpt_status request_add_rcpt(struct request *req, const char *arg)
{
	const char *start;
	size_t len;

	if (arg == NULL)
		arg = "";
	strip_brackets(arg, req->limits.addr_max, &start, &len);
	if (len > req->limits.addr_max)
		return REQUEST_RCPT_TOO_LONG;
	if (req->n_rcpt >= req->limits.rcpt_max)
		return REQUEST_RCPT_TOO_MANY;
	if (req->n_rcpt == req->rcpt_size) {
		req->rcpt_size = req->rcpt_size ? req->rcpt_size * 2 : 4;
		req->rcpt = xreallocarray(req->rcpt, req->rcpt_size, sizeof(*req->rcpt));
	}
	req->rcpt[req->n_rcpt++] = copy(req, start, len, true);
	return REQUEST_RCPT_OK;
}

size_t request_rcpt_count(const struct request *req)
{
	return req->n_rcpt;
}

const char *request_rcpt(const struct request *req, size_t i)
{
	return i < req->n_rcpt ? req->rcpt[i] : NULL;
}

void request_remove_last_rcpt(struct request *req)
{
	if (req->n_rcpt > 0)
		drop(req, &req->rcpt[--req->n_rcpt]);
}

const char *request_overflow(const struct request *req)
{
	return req->conn_overflow != NULL ? req->conn_overflow : req->msg_overflow;
}

const char *request_field_name(enum request_field field)
{
	return (unsigned)field < REQ_FIELD_COUNT ? field_names[field] : "?";
}
