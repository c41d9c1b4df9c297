/*
 * spf_zone - the in-memory DNS zone of test checkers (internal to
 * common/spf)
 *
 * Records given as "name TYPE data" lines (spf_checker_create_zone, and
 * spf.test_zone files through spf_zone_read_file) go into libspf2's
 * SPF_dns_zone; the special data TIMEOUT and LIBERROR are kept here, for
 * the DNS layer above (spf_dns.c) to act on.  Not thread-safe while being
 * built; read-only (so shared by every thread) afterwards.
 */
#ifndef CHAPPS_SPF_ZONE_H
#define CHAPPS_SPF_ZONE_H

#include <stddef.h>

#include "spf/spf-private.h"

struct spf_zone;

/* what the zone says about one name and type */
enum spf_zone_kind {
	SPF_ZONE_RECORDS,		/* ask libspf2's zone (maybe: no such name) */
	SPF_ZONE_TIMEOUT,		/* never answers: sleep to the deadline */
	SPF_ZONE_LIBERROR,		/* the DNS layer fails (libspf2: SPF_error) */
};

/*
 * spf_zone_create - a zone of the n records (copied; the data TEMPFAIL is
 * stored as a TRY_AGAIN answer).  Returns 0, or -1 with *error_r (static
 * text) naming the first bad record's fault.
 */
int spf_zone_create(const char *const *records, size_t n, struct spf_zone **zone_r,
		    const char **error_r);

/*
 * spf_zone_take_dns - hand the zone's libspf2 DNS server over to the
 * caller (the layer made on top of it frees it); the zone keeps its
 * special records.  NULL when already taken.
 */
SPF_dns_server_t *spf_zone_take_dns(struct spf_zone *zone);

/* spf_zone_special - what the zone says about domain (a final dot is ignored) and type */
enum spf_zone_kind spf_zone_special(const struct spf_zone *zone, const char *domain,
				    ns_type type);

/* spf_zone_destroy - free *zone (and its DNS server unless taken), set it to NULL */
void spf_zone_destroy(struct spf_zone **zone);

/*
 * spf_zone_read_file - the records of a zone file: one "name TYPE data" per
 * line, empty lines and lines starting with '#' skipped, CR/LF removed.
 * *records_r (xmalloc'd, *n_r strings) is freed with spf_zone_records_free.
 * Returns 0, or -1 with *error_r (static text) when the file cannot be
 * opened.
 */
int spf_zone_read_file(const char *path, char ***records_r, size_t *n_r,
		       const char **error_r);

/* spf_zone_records_free - free what spf_zone_read_file returned */
void spf_zone_records_free(char **records, size_t n);

#endif
