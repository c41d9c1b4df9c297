/*
 * mta.h - the libmilter functions the callbacks use, behind a table
 *
 * main.c installs the real libmilter functions (mta_libmilter); a test can
 * install fakes that record what the callbacks asked for.  There is no test
 * mode flag anywhere (STYLE rule 3).
 */
#ifndef CHAPPS_MTA_H
#define CHAPPS_MTA_H

#include <libmilter/mfapi.h>

struct mta_ops {
	void *(*getpriv)(SMFICTX *ctx);
	int (*setpriv)(SMFICTX *ctx, void *priv);
	char *(*getsymval)(SMFICTX *ctx, char *name);
	int (*setreply)(SMFICTX *ctx, char *rcode, char *xcode, char *message);
	int (*setsymlist)(SMFICTX *ctx, int stage, char *macros);
	int (*insheader)(SMFICTX *ctx, int index, char *name, char *value);
	int (*quarantine)(SMFICTX *ctx, char *reason);
};

/* The table in use; set once by main (or a test) before any callback runs. */
extern const struct mta_ops *mta;

/* The real libmilter functions. */
extern const struct mta_ops mta_libmilter;

#endif
