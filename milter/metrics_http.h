/*
 * metrics_http - chapps-milter's Prometheus endpoint (metrics.listen)
 */
#ifndef CHAPPS_METRICS_HTTP_H
#define CHAPPS_METRICS_HTTP_H

#include <stddef.h>

struct config;

/*
 * metrics_http_start - serve GET /metrics on config->metrics_listen (a
 * loopback "HOST:PORT"; "" = off: returns 0 at once) in a thread of
 * libmicrohttpd's own; with config->metrics_token, only to "Authorization:
 * Bearer TOKEN" (401 otherwise).  The settings are copied.  0, or -1 with a
 * message in err.  Call once, before the MTA connects.
 */
int metrics_http_start(const struct config *config, char *err, size_t errsize);

#endif
