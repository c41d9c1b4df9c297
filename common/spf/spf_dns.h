/*
 * spf_dns - the SPF checker's own libspf2 DNS layer (internal to common/spf)
 *
 * A libspf2 SPF_dns_server_t that answers from the system resolver (or
 * one given name server), or from a test zone below it, within the
 * deadline of the check running in the calling thread, and screens every
 * TXT string before libspf2 sees it (CVE-2023-42118).  See spf_dns.c.
 */
#ifndef CHAPPS_SPF_DNS_H
#define CHAPPS_SPF_DNS_H

#include <netinet/in.h>

#include "spf/spf-private.h"

/*
 * spf_dns_init - create the per-thread resolver key; call once per process
 * (spf.c's pthread_once).  Without it every resolver look-up is TRY_AGAIN.
 */
void spf_dns_init(void);

/*
 * spf_dns_layer_new - our layer for checker c (borrowed: it must outlive
 * the layer), over below: the test zone's server, or NULL for the system
 * resolver (c->ns_set: only c->ns).  SPF_dns_free on the layer frees
 * below too.  Never NULL (xalloc).
 */
SPF_dns_server_t *spf_dns_layer_new(struct spf_checker *c, SPF_dns_server_t *below);

/*
 * spf_dns_set_deadline - the calling thread's check may look up for
 * budget_ms from now; clears its budget_hit flag.
 */
void spf_dns_set_deadline(unsigned budget_ms);

/*
 * spf_dns_release - free the calling thread's resolver state now (other
 * threads free theirs when they exit).
 */
void spf_dns_release(void);

/*
 * spf_dns_parse_ns - "IPv4[:port]" (port 1..65535, 53 by default) into
 * sin.  Returns 0, or -1 when s is not that.
 */
int spf_dns_parse_ns(const char *s, struct sockaddr_in *sin);

#endif
