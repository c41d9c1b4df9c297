/*
 * check_bigendian - the byte order of the store's records (store/bigendian.h):
 * known bytes for each width, negative 64-bit values, unaligned places, and
 * every put read back by its get.  A record file written by one build must
 * read the same in another, so these bytes are fixed.
 */
#include "autoconf.h"

#include <stdint.h>
#include <string.h>

#include <check.h>

#include "check_main.h"
#include "store/bigendian.h"

/* the bytes of each width, written at an odd (unaligned) offset */
START_TEST(test_known_bytes)
{
	unsigned char buf[32], *p;
	static const unsigned char want[] = {
		0x12, 0x34,						/* u16 */
		0xde, 0xad, 0xbe, 0xef,					/* u32 */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,		/* u64 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,		/* i64 -2 */
	};

	memset(buf, 0xaa, sizeof(buf));
	p = be_put_u16(buf + 1, 0x1234);
	p = be_put_u32(p, 0xdeadbeefU);
	p = be_put_u64(p, 0x0102030405060708ULL);
	p = be_put_i64(p, -2);
	ck_assert_ptr_eq(p, buf + 1 + sizeof(want));
	ck_assert_mem_eq(buf + 1, want, sizeof(want));
	ck_assert_uint_eq(buf[0], 0xaa);			/* nothing outside */
	ck_assert_uint_eq(buf[1 + sizeof(want)], 0xaa);

	ck_assert_uint_eq(be_get_u16(buf + 1), 0x1234);
	ck_assert_uint_eq(be_get_u32(buf + 3), 0xdeadbeefU);
	ck_assert_uint_eq(be_get_u64(buf + 7), 0x0102030405060708ULL);
	ck_assert_int_eq(be_get_i64(buf + 15), -2);
}
END_TEST

/* the ends of the ranges, through a put and a get */
START_TEST(test_round_trip)
{
	static const int64_t i64s[] = { 0, 1, -1, INT64_MAX, INT64_MIN, 1800000000, -1800000000 };
	static const uint64_t u64s[] = { 0, 1, UINT64_MAX, (uint64_t)INT64_MAX + 1 };
	unsigned char buf[9];

	for (size_t i = 0; i < sizeof(i64s) / sizeof(i64s[0]); i++) {
		be_put_i64(buf + 1, i64s[i]);
		ck_assert_int_eq(be_get_i64(buf + 1), i64s[i]);
	}
	for (size_t i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++) {
		be_put_u64(buf + 1, u64s[i]);
		ck_assert_uint_eq(be_get_u64(buf + 1), u64s[i]);
	}
	be_put_u32(buf, UINT32_MAX);
	ck_assert_uint_eq(be_get_u32(buf), UINT32_MAX);
	be_put_u16(buf, UINT16_MAX);
	ck_assert_uint_eq(be_get_u16(buf), UINT16_MAX);
	be_put_i64(buf, INT64_MIN);
	ck_assert_uint_eq(buf[0], 0x80);
	ck_assert_uint_eq(buf[7], 0x00);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("bigendian");
	TCase *tc = tcase_create("bigendian");

	tcase_add_test(tc, test_known_bytes);
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(make_suite)
