/*
 * NAME
 *	alert - operator alerts (stub: the interface only, nothing is sent)
 * SUMMARY
 *	alerts_open, alerts_post, alerts_set_sink, alerts_close
 * DESCRIPTION
 *	Placeholder so that other branches can code against alert.h; the
 *	queue, the sender thread and the webhook follow.
 * DIAGNOSTICS
 *	None yet.
 */
#include "autoconf.h"

#include <stdlib.h>

#include "alert/alert.h"

struct alerts {
	void (*sink)(void *ctx, const char *json, size_t len, int64_t time);
	void *sink_ctx;
};

int alerts_open(const struct config *config, struct alerts **alerts_r, char *err, size_t errsize)
{
	(void)config;
	if (err != NULL && errsize > 0)
		err[0] = '\0';
	*alerts_r = NULL;
	return 0;
}

void alerts_close(struct alerts **alerts)
{
	if (alerts == NULL || *alerts == NULL)
		return;
	free(*alerts);
	*alerts = NULL;
}

bool alerts_post(struct alerts *alerts, const struct alert_event *ev)
{
	(void)ev;
	if (alerts == NULL)
		return false;
	return false;
}

void alerts_set_sink(struct alerts *alerts,
		     void (*sink)(void *ctx, const char *json, size_t len, int64_t time), void *ctx)
{
	if (alerts == NULL)
		return;
	alerts->sink = sink;
	alerts->sink_ctx = ctx;
}
