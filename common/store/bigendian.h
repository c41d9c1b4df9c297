/*
 * bigendian - the byte order of the store's packed records
 *
 * quota_record.c and limit_record.c pack their records big-endian (a
 * record written on one machine reads the same on any other that opens
 * the LMDB file or shares the Redis); these are their readers and writers.
 * p need not be aligned.  A put returns the byte after what it wrote.
 */
#ifndef CHAPPS_BIGENDIAN_H
#define CHAPPS_BIGENDIAN_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

/* be_get_u16 - the 16-bit value at p */
static inline uint16_t be_get_u16(const unsigned char *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* be_get_u32 - the 32-bit value at p */
static inline uint32_t be_get_u32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* be_get_u64 - the 64-bit value at p (one load) */
static inline uint64_t be_get_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

/* be_get_i64 - the two's complement 64-bit value at p */
static inline int64_t be_get_i64(const unsigned char *p)
{
	uint64_t v = be_get_u64(p);

	return v <= INT64_MAX ? (int64_t)v : -(int64_t)(UINT64_MAX - v) - 1;
}

/* be_put_u16 - v at p */
static inline unsigned char *be_put_u16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
	return p + 2;
}

/* be_put_u32 - v at p */
static inline unsigned char *be_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

/* be_put_u64 - v at p */
static inline unsigned char *be_put_u64(unsigned char *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
	return p + 8;
}

/* be_put_i64 - v at p, two's complement */
static inline unsigned char *be_put_i64(unsigned char *p, int64_t v)
{
	return be_put_u64(p, (uint64_t)v);
}

#endif
