/*
 * request - everything chapps knows about one SMTP session and message
 *
 * One struct request per milter connection, created at connect (or lazily
 * by the first callback that needs it) and destroyed at close.  It carries
 * the connection-level facts (client, HELO, listener) and the current
 * message (sender, ESMTP arguments, recipients, queue ID, SMTP AUTH and
 * TLS macros as read at MAIL FROM).  request_message_reset drops the
 * message part; a new MAIL FROM calls it first.
 *
 * Every value is copied, never borrowed, and bounded: a value longer than
 * its limit is not stored; the request remembers which field overflowed
 * (request_overflow) so that the policy layer refuses the message with a
 * clean reply instead of acting on a truncated identity.
 *
 * A request is used by one callback at a time (libmilter serialises the
 * callbacks of one connection), so it needs no lock.
 */
#ifndef CHAPPS_REQUEST_H
#define CHAPPS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Named limits (config section "limits"); defaults below. */
#define REQUEST_VALUE_MAX_DEFAULT 1024	/* any macro or HELO value */
#define REQUEST_ADDR_MAX_DEFAULT 512	/* one envelope address */
#define REQUEST_RCPT_MAX_DEFAULT 1000	/* recipients kept per message */
#define REQUEST_ESMTP_MAX_DEFAULT 1024	/* ESMTP arguments of MAIL FROM, joined */
#define REQUEST_MACROS_MAX 16		/* "{name}" keys in the search order */

struct request_limits {
	size_t value_max;
	size_t addr_max;
	size_t rcpt_max;
	size_t esmtp_max;
};

/*
 * The fixed fields.  Those before REQ_FIRST_MESSAGE_FIELD belong to the
 * connection; the rest are cleared by request_message_reset.
 */
enum request_field {
	REQ_CLIENT_ADDR,	/* connect hostaddr, or {client_addr} */
	REQ_CLIENT_NAME,	/* connect hostname, or {client_name} */
	REQ_CLIENT_PORT,	/* {client_port} or from hostaddr */
	REQ_HELO,		/* HELO/EHLO argument */
	REQ_DAEMON_NAME,	/* {daemon_name} */
	REQ_DAEMON_ADDR,	/* {daemon_addr} */
	REQ_DAEMON_PORT,	/* {daemon_port} */
	REQ_FIRST_MESSAGE_FIELD,
	REQ_AUTH_AUTHEN = REQ_FIRST_MESSAGE_FIELD, /* {auth_authen} */
	REQ_AUTH_TYPE,		/* {auth_type} */
	REQ_AUTH_AUTHOR,	/* {auth_author} */
	REQ_CERT_SUBJECT,	/* {cert_subject} */
	REQ_CERT_ISSUER,	/* {cert_issuer} */
	REQ_SENDER,		/* envelope sender, brackets stripped, "" = <> */
	REQ_ESMTP_ARGS,		/* MAIL FROM ESMTP arguments, space-joined */
	REQ_QUEUE_ID,		/* {i} once Postfix assigned it */
	REQ_FIELD_COUNT
};

struct request;

/*
 * request_create - a new, empty request with the given limits (copied) and
 * room for n_macros extra "{name}" macro values (n_macros <=
 * REQUEST_MACROS_MAX).  Never fails.
 */
struct request *request_create(const struct request_limits *limits, size_t n_macros);

/* request_destroy - free *req and set it to NULL; NULL is fine. */
void request_destroy(struct request **req);

/* request_message_reset - forget the message part; keep the connection. */
void request_message_reset(struct request *req);

/*
 * request_set - copy value into field.  NULL clears the field.  Returns 0,
 * or -1 when value is longer than its limit (addr_max for REQ_SENDER,
 * esmtp_max for REQ_ESMTP_ARGS, value_max otherwise): the field is then
 * cleared and request_overflow reports it.
 */
int request_set(struct request *req, enum request_field field, const char *value);

/* request_get - the field's value, or NULL when unset; borrowed. */
const char *request_get(const struct request *req, enum request_field field);

/*
 * request_set_sender - store a MAIL FROM argument: one outer pair of angle
 * brackets is stripped, "<>" becomes "" (the null sender).  Returns like
 * request_set.
 */
int request_set_sender(struct request *req, const char *arg);

/* request_sender_is_null - true after MAIL FROM:<>. */
bool request_sender_is_null(const struct request *req);

/*
 * request_set_esmtp - join argv (NULL-terminated, may be NULL) with spaces
 * into REQ_ESMTP_ARGS.  Returns like request_set.
 */
int request_set_esmtp(struct request *req, char **argv);

/* request_set_macro / request_get_macro - the i-th "{name}" key's value. */
int request_set_macro(struct request *req, size_t i, const char *value);
const char *request_get_macro(const struct request *req, size_t i);

enum request_rcpt_status {
	REQUEST_RCPT_OK = 0,
	REQUEST_RCPT_TOO_LONG,	/* longer than addr_max */
	REQUEST_RCPT_TOO_MANY,	/* rcpt_max reached */
};

/*
 * request_add_rcpt - append one accepted recipient (brackets stripped).
 * Nothing is stored unless the status is REQUEST_RCPT_OK.
 */
enum request_rcpt_status request_add_rcpt(struct request *req, const char *arg);

/* request_rcpt_count / request_rcpt - the recipients kept so far. */
size_t request_rcpt_count(const struct request *req);
const char *request_rcpt(const struct request *req, size_t i);

/*
 * request_remove_last_rcpt - forget the most recent recipient (a policy
 * refused it after it was added).
 */
void request_remove_last_rcpt(struct request *req);

/*
 * request_overflow - the first field that exceeded its limit in this
 * message or connection, as a name ("{auth_authen}", "sender", ...), or
 * NULL when none did.
 */
const char *request_overflow(const struct request *req);

/* request_field_name - printable name of a field ("{auth_authen}", "helo"). */
const char *request_field_name(enum request_field field);

/* request_limits_default - fill limits with the defaults above. */
void request_limits_default(struct request_limits *limits);

#endif
