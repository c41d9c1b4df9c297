/*
 * NAME
 *	spf_zone - the in-memory DNS zone of test checkers
 * SUMMARY
 *	spf_zone_create(records, n) -> struct spf_zone; spf_zone_special();
 *	spf_zone_read_file(path) -> records
 * DESCRIPTION
 *	A zone is libspf2's SPF_dns_zone (SPF_dns_zone_add_str per record)
 *	plus the names whose data is TIMEOUT or LIBERROR, which libspf2's
 *	zone cannot express: the DNS layer above (spf_dns.c) asks
 *	spf_zone_special before it asks the zone.  TEMPFAIL is a TRY_AGAIN
 *	answer of libspf2's zone.  libspf2 calls SPF_error on some bad zone
 *	input: each add is guarded, so such a record is refused, not fatal.
 * DIAGNOSTICS
 *	spf_zone_create and spf_zone_read_file return -1 with static text.
 */
#include "autoconf.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf/spf_zone.h"
#include "base/xalloc.h"

#define SPF_ZONE_LINE_MAX 1024		/* longest line read at once from a zone file */

struct spf_special {
	char *name;
	ns_type type;
	enum spf_zone_kind kind;
};

struct spf_zone {
	SPF_dns_server_t *dns;		/* libspf2's zone; NULL once taken */
	struct spf_special *specials;	/* TIMEOUT and LIBERROR names */
	size_t n_specials;
};

/* spf_zone_type - a record type name */
static int spf_zone_type(const char *s, size_t len, ns_type *type_r)
{
	static const struct {
		const char *name;
		ns_type type;
	} types[] = {
		{"A", ns_t_a}, {"AAAA", ns_t_aaaa}, {"TXT", ns_t_txt}, {"MX", ns_t_mx}, {"PTR", ns_t_ptr},
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strlen(types[i].name) == len && strncasecmp(types[i].name, s, len) == 0) {
			*type_r = types[i].type;
			return 0;
		}
	}
	return -1;
}

/*
 * spf_zone_add - add one "name TYPE data" line to z, guarded by ev
 * (libspf2's zone calls SPF_error on some bad input).
 */
static int spf_zone_add(struct spf_zone *z, const char *line, struct spf_eval *ev,
			const char **error_r)
{
	const char *name = line, *t, *data;
	size_t name_len, type_len;
	ns_type type;
	char *owner;
	SPF_errcode_t err;

	*error_r = "zone record is not \"name TYPE data\"";
	while (*name == ' ' || *name == '\t')
		name++;
	name_len = strcspn(name, " \t");
	t = name + name_len;
	t += strspn(t, " \t");
	type_len = strcspn(t, " \t");
	data = t + type_len;
	data += strspn(data, " \t");
	if (name_len == 0 || type_len == 0 || *data == '\0')
		return -1;
	if (spf_zone_type(t, type_len, &type) < 0) {
		*error_r = "zone record type must be A, AAAA, TXT, MX or PTR";
		return -1;
	}
	owner = xstrndup(name, name_len);
	if (strcmp(data, "TIMEOUT") == 0 || strcmp(data, "LIBERROR") == 0) {
		struct spf_special *s;

		z->specials = xreallocarray(z->specials, z->n_specials + 1, sizeof(*z->specials));
		s = &z->specials[z->n_specials++];
		s->name = owner;
		s->type = type;
		s->kind = data[0] == 'T' ? SPF_ZONE_TIMEOUT : SPF_ZONE_LIBERROR;
		return 0;
	}
	if (sigsetjmp(ev->env, 0) != 0) {
		free(owner);
		*error_r = "libspf2 refused a zone record";
		return -1;
	}
	spf_thread.guard = ev;
	/* data, not NULL, even for TEMPFAIL: libspf2 appends it (strlen) when the
	   name already has a record of that type (found by fuzz-spf) */
	if (strcmp(data, "TEMPFAIL") == 0)
		err = SPF_dns_zone_add_str(z->dns, owner, type, TRY_AGAIN, data);
	else
		err = SPF_dns_zone_add_str(z->dns, owner, type, NETDB_SUCCESS, data);
	spf_thread.guard = NULL;
	free(owner);
	if (err != SPF_E_SUCCESS) {
		*error_r = "zone record data does not fit its type";
		return -1;
	}
	return 0;
}

int spf_zone_create(const char *const *records, size_t n, struct spf_zone **zone_r,
		    const char **error_r)
{
	struct spf_zone *z = xcalloc(1, sizeof(*z));
	struct spf_eval ev;
	size_t i;

	z->dns = SPF_dns_zone_new(NULL, "chapps-zone", 0);
	if (z->dns == NULL) {
		*error_r = "libspf2 could not create a DNS zone";
		spf_zone_destroy(&z);
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	for (i = 0; i < n; i++) {
		if (records[i] == NULL || spf_zone_add(z, records[i], &ev, error_r) < 0) {
			if (records[i] == NULL)
				*error_r = "zone record is NULL";
			spf_zone_destroy(&z);
			return -1;
		}
	}
	*zone_r = z;
	return 0;
}

SPF_dns_server_t *spf_zone_take_dns(struct spf_zone *zone)
{
	SPF_dns_server_t *dns = zone->dns;

	zone->dns = NULL;
	return dns;
}

enum spf_zone_kind spf_zone_special(const struct spf_zone *zone, const char *domain,
				    ns_type type)
{
	size_t len = strlen(domain), i;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	for (i = 0; i < zone->n_specials; i++) {
		const struct spf_special *s = &zone->specials[i];

		if (s->type == type && strlen(s->name) == len && strncasecmp(s->name, domain, len) == 0)
			return s->kind;
	}
	return SPF_ZONE_RECORDS;
}

void spf_zone_destroy(struct spf_zone **zone)
{
	struct spf_zone *z = *zone;
	size_t i;

	if (z == NULL)
		return;
	if (z->dns != NULL)
		SPF_dns_free(z->dns);
	for (i = 0; i < z->n_specials; i++)
		free(z->specials[i].name);
	free(z->specials);
	free(z);
	*zone = NULL;
}

int spf_zone_read_file(const char *path, char ***records_r, size_t *n_r,
		       const char **error_r)
{
	FILE *f = fopen(path, "r");
	char line[SPF_ZONE_LINE_MAX], **records = NULL;
	size_t n = 0;

	if (f == NULL) {
		*error_r = "spf.test_zone: cannot open the file";
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		records = xreallocarray(records, n + 1, sizeof(*records));
		records[n++] = xstrdup(line);
	}
	fclose(f);
	*records_r = records;
	*n_r = n;
	return 0;
}

void spf_zone_records_free(char **records, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(records[i]);
	free(records);
}
