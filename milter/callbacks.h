/*
 * callbacks - the libmilter callbacks of chapps-milter
 *
 * Thin glue (STYLE rule 2): fetch the private pointer, copy and bound the
 * arguments into the request, call one common/ policy function, log the
 * decision in one line and map it to an SMFIS_* code.
 *
 * The configuration in force is a refcounted snapshot: each connection
 * takes a reference at its first callback and keeps it until close, so a
 * reload (callbacks_set_config) never changes a connection mid-way.
 */
#ifndef CHAPPS_CALLBACKS_H
#define CHAPPS_CALLBACKS_H

#include <libmilter/mfapi.h>

struct config;
struct alerts;
struct backends;

/* callbacks_desc - the filter description for smfi_register. */
struct smfiDesc *callbacks_desc(void);

/*
 * callbacks_set_config - make config (a new reference, taken over) the one
 * new connections get.  The previous snapshot is released once its last
 * connection closes.
 */
void callbacks_set_config(struct config *config);

/* callbacks_get_config - a new reference to the current snapshot. */
struct config *callbacks_get_config(void);

/* callbacks_set_backends - the shared backends (borrowed, outlive smfi_main). */
void callbacks_set_backends(struct backends *backends);

/* callbacks_set_alerts - the alerts (borrowed, may be NULL; outlive smfi_main). */
void callbacks_set_alerts(struct alerts *alerts);

/* callbacks_shutdown - drop the current snapshot (after smfi_main). */
void callbacks_shutdown(void);

#endif
