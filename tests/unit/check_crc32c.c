/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_crc32c.c: Check suite for engine/crc32c.c: the known CRC-32C
 * vectors, chaining, and hardware == software on many lengths/alignments.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* Checks the published vectors with one implementation. */
static void
check_crc32c_vectors(crc_fn fn)
{
	unsigned char	buf[32];

	ck_assert_uint_eq(fn(0, "123456789", 9), 0xe3069283u);
	memset(buf, 0, sizeof buf);
	ck_assert_uint_eq(fn(0, buf, sizeof buf), 0x8a9136aau);
	memset(buf, 0xff, sizeof buf);
	ck_assert_uint_eq(fn(0, buf, sizeof buf), 0x62a8ab43u);
	ck_assert_uint_eq(fn(0, buf, 0), 0);
}

START_TEST(test_vectors_sw)
{
	check_crc32c_vectors(crc32c_sw);
}
END_TEST

START_TEST(test_vectors_hw)
{
	if (!crc32c_hw_available())
		return;
	check_crc32c_vectors(crc32c_hw);
}
END_TEST

START_TEST(test_vectors_dispatch)
{
	check_crc32c_vectors(crc32c);
}
END_TEST

START_TEST(test_chaining)
{
	const char	*s = "123456789";
	size_t		 i;

	for (i = 0; i <= 9; i++) {
		ck_assert_uint_eq(crc32c_sw(crc32c_sw(0, s, i), s + i, 9 - i),
		    0xe3069283u);
		ck_assert_uint_eq(crc32c(crc32c(0, s, i), s + i, 9 - i),
		    0xe3069283u);
	}
}
END_TEST

/* 70000 random bytes from seed (the caller frees them). */
static unsigned char *
check_crc32c_random(unsigned seed)
{
	unsigned char	*buf;
	size_t		 i;

	buf = malloc(70000);
	ck_assert_ptr_nonnull(buf);
	srandom(seed);
	for (i = 0; i < 70000; i++)
		buf[i] = (unsigned char)random();
	return (buf);
}

START_TEST(test_hw_equals_sw)
{
	unsigned char	*buf;
	size_t		 len, align, i;
	uint32_t	 seed;

	if (!crc32c_hw_available())
		return;
	buf = check_crc32c_random(42);
	for (align = 0; align < 8; align++) {
		/* Past one long round of three 1 KiB blocks and into the
		   short rounds after it. */
		for (len = 0; len < 3600; len++) {
			seed = (uint32_t)random();
			ck_assert_uint_eq(crc32c_hw(seed, buf + align, len),
			    crc32c_sw(seed, buf + align, len));
		}
	}
	for (i = 0; i < 200; i++) {
		align = (size_t)random() % 64;
		len = (size_t)random() % (70000 - 64);
		ck_assert_uint_eq(crc32c_hw(0, buf + align, len),
		    crc32c_sw(0, buf + align, len));
	}
	free(buf);
}
END_TEST

/* crc32c_combine gives the CRC of the concatenation, for every split of
   buffers of many lengths, the empty ones included. */
START_TEST(test_combine)
{
	unsigned char	*buf;
	size_t		 len, cut, i;
	uint32_t	 whole;

	buf = check_crc32c_random(7);
	for (len = 0; len < 300; len++) {
		whole = crc32c(0, buf, len);
		for (cut = 0; cut <= len; cut++)
			ck_assert_uint_eq(crc32c_combine(crc32c(0, buf, cut),
			    crc32c(0, buf + cut, len - cut), len - cut), whole);
	}
	for (i = 0; i < 200; i++) {
		len = (size_t)random() % 70000;
		cut = (size_t)random() % (len + 1);
		ck_assert_uint_eq(crc32c_combine(crc32c(0, buf, cut),
		    crc32c(0, buf + cut, len - cut), len - cut),
		    crc32c(0, buf, len));
	}
	free(buf);
}
END_TEST

/* The suite. */
static Suite *
check_crc32c_suite(void)
{
	Suite	*s = suite_create("crc32c");
	TCase	*tc = tcase_create("crc32c");

	tcase_add_test(tc, test_vectors_sw);
	tcase_add_test(tc, test_vectors_hw);
	tcase_add_test(tc, test_vectors_dispatch);
	tcase_add_test(tc, test_chaining);
	tcase_add_test(tc, test_hw_equals_sw);
	tcase_add_test(tc, test_combine);
	suite_add_tcase(s, tc);
	return (s);
}

/* Runs the suite; non-zero exit on any failure. */
int
main(void)
{
	SRunner	*sr = srunner_create(check_crc32c_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
