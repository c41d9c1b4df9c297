/*
 * spf_header_check - the promises of a Received-SPF value (spf_header.h), checked
 *
 * Shared by tests/check_spf.c and tests/fuzz/fuzz-spf-header.c.
 */
#ifndef CHAPPS_SPF_HEADER_CHECK_H
#define CHAPPS_SPF_HEADER_CHECK_H

#include <stdbool.h>

/*
 * test_spf_header_fault - NULL when value keeps every promise of
 * spf_header_build: printable ASCII only (no CR or LF), under 980 bytes
 * (so "Received-SPF: " plus it is at most RFC 5322's 998), every quoted
 * string and the comment closed, and exactly the top-level keys
 * client-ip, envelope-from, helo (when helo_given), receiver, identity in
 * that order.  Otherwise the first broken promise (static text).
 */
const char *test_spf_header_fault(const char *value, bool helo_given);

#endif
