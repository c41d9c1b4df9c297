/*
 * greylist - the parts of a greylisting tuple: client network and plain sender
 *
 * A tuple is (client, sender, recipient): client is the client address,
 * optionally reduced to its /client_prefix_v4 or /client_prefix_v6
 * network; sender optionally stripped of SRS and VERP tags; recipient as
 * given (domain lower-cased).  greylist_tuple_key builds the binary-safe
 * store key.
 *
 * The timing rule itself is in store/greylist_record.h (the store applies
 * it atomically).
 *
 * Pure functions, thread-safe.
 */
#ifndef CHAPPS_GREYLIST_H
#define CHAPPS_GREYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/greylist_record.h"

/*
 * greylist_client_key - the client part of a tuple: the address itself, or
 * its network with prefix_v4/prefix_v6 bits ("192.0.2.0/24").  Returns 0,
 * or -1 when addr is not an IP address (then the text is used as is).
 */
int greylist_client_key(const char *addr, unsigned prefix_v4, unsigned prefix_v6, char *buf,
			size_t size);

/*
 * greylist_strip_sender - remove SRS (SRS0=hash=tt=domain=local@fwd,
 * SRS1=...), BATV (prvs=tag=local@domain) and VERP/sub-address tags
 * (local+tag@domain) so that every message of one mailing list or
 * forwarder maps to one sender.  Writes into buf; returns buf.
 */
char *greylist_strip_sender(const char *sender, char *buf, size_t size);

#endif
