/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_keyring.c: Check suite for keyring.c: the key ring file (syntax,
 * errors by line, the active key, permissions), keygen lines, and the
 * crypto against vectors computed independently (Python "cryptography").
 */
#include <sys/stat.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyring.h"
#include "segment.h"

/* Master key 00..1f as a key ring line with id 1. */
#define KEY1	"000102030405060708090a0b0c0d0e0f" \
		"101112131415161718191a1b1c1d1e1f"
#define KEY2	"ffeeddccbbaa99887766554433221100" \
		"ffeeddccbbaa99887766554433221100"

/* Parses text that must be accepted. */
static struct keyring *
check_keyring_ok(const char *text)
{
	struct keyring	*kr;
	char		*cause = NULL;

	kr = keyring_parse(text, strlen(text), "ring", &cause);
	if (kr == NULL)
		ck_abort_msg("refused: %s: %s", text, cause);
	return (kr);
}

/* Parses text that must be refused; returns the cause. */
static char *
check_keyring_bad(const char *text)
{
	struct keyring	*kr;
	char		*cause = NULL;

	kr = keyring_parse(text, strlen(text), "ring", &cause);
	ck_assert_msg(kr == NULL, "accepted: %s", text);
	ck_assert_ptr_nonnull(cause);
	return (cause);
}

START_TEST(test_parse)
{
	struct keyring	*kr;
	uint32_t	 ids[4];

	kr = check_keyring_ok("# a comment\n\n1 " KEY1 "\n  7\t" KEY2
	    "  # trailing comment\n3 " KEY1);
	ck_assert_uint_eq(keyring_ids(kr, ids, 4), 3);
	ck_assert_uint_eq(ids[0], 1);
	ck_assert_uint_eq(ids[1], 3);
	ck_assert_uint_eq(ids[2], 7);
	/* No line says active: the highest id is. */
	ck_assert_uint_eq(keyring_active(kr), 7);
	ck_assert(keyring_has(kr, 3));
	ck_assert(!keyring_has(kr, 2));
	keyring_free(kr);

	kr = check_keyring_ok("1 " KEY1 " active\r\n7 " KEY2 "\n");
	ck_assert_uint_eq(keyring_active(kr), 1);
	keyring_free(kr);
	kr = check_keyring_ok("4294967295 " KEY1 " active # max id\n");
	ck_assert_uint_eq(keyring_active(kr), 4294967295u);
	keyring_free(kr);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const struct {
		const char	*text;
		const char	*cause;
	} cases[] = {
		{ "", "ring: no key in the key ring" },
		{ "# only a comment\n", "ring: no key in the key ring" },
		{ "0 " KEY1 "\n", "ring:1: key id 0 is not allowed" },
		{ "\n4294967296 " KEY1 "\n", "ring:2: key id above 4294967295" },
		{ "x " KEY1 "\n", "ring:1: expected a key id" },
		{ "1" KEY1 "\n", "ring:1: key id above" },
		{ "1 " KEY1 "0\n", "ring:1: the key must be exactly 64 hex" },
		{ "1 0011\n", "ring:1: the key must be exactly 64 hex" },
		{ "1 " KEY1 "\n2 " KEY1 "zz\n", "ring:2: the key must be" },
		{ "1 " KEY1 " actif\n", "ring:1: unexpected text after the key" },
		{ "1 " KEY1 " active active\n", "ring:1: unexpected text" },
		{ "1 " KEY1 "\n1 " KEY2 "\n",
		  "ring:2: key id 1 appears twice (first on line 1)" },
		{ "1 " KEY1 " active\n2 " KEY2 " active\n",
		  "ring:2: a second key marked active (the first is on line 1)" },
	};
	size_t	i;
	char	*cause;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cause = check_keyring_bad(cases[i].text);
		ck_assert_msg(strncmp(cause, cases[i].cause,
		    strlen(cases[i].cause)) == 0, "case %zu: %s", i, cause);
		/* Never the key material in an error. */
		ck_assert_ptr_null(strstr(cause, "0102030405"));
		ck_assert_ptr_null(strstr(cause, "ffeeddcc"));
		free(cause);
	}
}
END_TEST

/* Writes text to a new file of the given mode; returns its path. */
static char *
check_keyring_file(const char *text, mode_t mode)
{
	char	 tmpl[] = "/tmp/check_keyring.XXXXXX";
	int	 fd;

	ck_assert_int_ne(fd = mkstemp(tmpl), -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return (strdup(tmpl));
}

START_TEST(test_load_permissions)
{
	struct keyring	*kr;
	char		*path, *cause = NULL;
	static const mode_t refused[] = { 0644, 0640, 0604, 0602, 0620, 0610,
	    0601 };
	size_t		 i;

	path = check_keyring_file("5 " KEY1 "\n", 0600);
	kr = keyring_load(path, &cause);
	ck_assert_msg(kr != NULL, "0600 refused: %s", cause);
	ck_assert_uint_eq(keyring_active(kr), 5);
	keyring_free(kr);
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_ptr_nonnull(kr = keyring_load(path, &cause));
	keyring_free(kr);
	for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		ck_assert_int_eq(chmod(path, refused[i]), 0);
		cause = NULL;
		ck_assert_ptr_null(keyring_load(path, &cause));
		ck_assert_ptr_nonnull(strstr(cause, "gives group or others "
		    "access; refused"));
		ck_assert_ptr_nonnull(strstr(cause, path));
		free(cause);
	}
	unlink(path);
	cause = NULL;
	ck_assert_ptr_null(keyring_load(path, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "No such file"));
	free(cause);
	free(path);

	/* A malformed file names itself and the line. */
	path = check_keyring_file("# ring\n1 " KEY1 "\n2 nothex\n", 0600);
	cause = NULL;
	ck_assert_ptr_null(keyring_load(path, &cause));
	ck_assert_msg(strstr(cause, ":3: the key must be exactly 64 hex") !=
	    NULL, "%s", cause);
	ck_assert_ptr_nonnull(strstr(cause, path));
	free(cause);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_locate)
{
	char	*path = NULL, *cause = NULL, dir[] = "/tmp/check_cred.XXXXXX";
	char	 file[64];
	FILE	*f;

	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_int_eq(keyring_locate(NULL, &path, &cause), 0);
	ck_assert_ptr_null(path);
	ck_assert_int_eq(keyring_locate("/etc/x", &path, &cause), 0);
	ck_assert_str_eq(path, "/etc/x");
	free(path);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	/* No credential file: no encryption. */
	ck_assert_int_eq(keyring_locate(NULL, &path, &cause), 0);
	ck_assert_ptr_null(path);
	snprintf(file, sizeof file, "%s/keyring", dir);
	ck_assert_ptr_nonnull(f = fopen(file, "w"));
	fclose(f);
	ck_assert_int_eq(keyring_locate(NULL, &path, &cause), 0);
	ck_assert_str_eq(path, file);
	free(path);
	/* The configured file comes first. */
	ck_assert_int_eq(keyring_locate("/etc/x", &path, &cause), 0);
	ck_assert_str_eq(path, "/etc/x");
	free(path);
	unlink(file);
	rmdir(dir);
	unsetenv("CREDENTIALS_DIRECTORY");
}
END_TEST

START_TEST(test_generate)
{
	struct keyring	*kr;
	char		 a[KEYRING_LINE_MAX], b[KEYRING_LINE_MAX], *cause = NULL;

	ck_assert_int_eq(keyring_generate(42, a, sizeof a, &cause), 0);
	ck_assert_int_eq(keyring_generate(42, b, sizeof b, &cause), 0);
	ck_assert_uint_eq(strlen(a), 3 + 64 + 1);
	ck_assert_int_eq(strncmp(a, "42 ", 3), 0);
	ck_assert_int_ne(strcmp(a, b), 0);
	kr = check_keyring_ok(a);
	ck_assert_uint_eq(keyring_active(kr), 42);
	keyring_free(kr);
	ck_assert_int_eq(keyring_generate(4294967295u, a, sizeof a, &cause),
	    0);
	ck_assert_int_eq(keyring_generate(0, a, sizeof a, &cause), -1);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(keyring_generate(1, a, 20, &cause), -1);
	free(cause);
}
END_TEST

/* The vector of docs/FORMAT.md section 12, from Python's cryptography. */
static const unsigned char vec_salt[32] = {
	32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
	48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63 };
static const unsigned char vec_segid[16] = {
	64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79 };
static const char vec_check[] = "0c0d560f7d0559abf1dc6e764d5c70e5";
static const char vec_ct[] = "f612d98de6d714034f0fb0264b065f5e3660f9ca27f0a5"
    "0e677ab05586c7e9613f";

/* Lower-case hex of len bytes. */
static void
check_keyring_hex(const unsigned char *p, size_t len, char *out)
{
	size_t	i;

	for (i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* The record header of the vector: type 7, vshard 3, tenant 42, LSN
   1001 (batch LSN 1001), stored length 17 + 16. */
static void
check_keyring_vec_hdr(unsigned char *hdr)
{
	struct rec_header	h;

	memset(&h, 0, sizeof h);
	h.type = 7;
	h.vshard = 3;
	h.tenant = 42;
	h.len = 17 + KEYRING_TAG_LEN;
	h.lsn = 1001;
	h.batch_lsn = 1001;
	segment_encode_rec(hdr, &h);
}

START_TEST(test_vector)
{
	struct keyring		*kr = check_keyring_ok("9 " KEY1 "\n");
	struct keyring_ctx	*e, *d;
	unsigned char		 hdr[REC_HDR_SIZE], out[64], back[64];
	char			 hex[256], *cause = NULL;
	const char		*pt = "walld test vector";

	ck_assert_ptr_nonnull(e = keyring_ctx_create(1));
	ck_assert_ptr_nonnull(d = keyring_ctx_create(0));
	ck_assert_int_eq(keyring_ctx_key(e, kr, 9, vec_salt, vec_segid, 1000,
	    &cause), 0);
	check_keyring_hex(keyring_ctx_check(e), KEYRING_CHECK_LEN, hex);
	ck_assert_str_eq(hex, vec_check);
	check_keyring_vec_hdr(hdr);
	ck_assert_int_eq(keyring_encrypt(e, hdr, pt, 17, out), 0);
	check_keyring_hex(out, 17 + KEYRING_TAG_LEN, hex);
	ck_assert_str_eq(hex, vec_ct);

	/* The CRC field is not authenticated; everything else is. */
	ck_assert_int_eq(keyring_ctx_key(d, kr, 9, vec_salt, vec_segid, 1000,
	    &cause), 0);
	seg_put32(hdr + 20, 0x12345678);
	ck_assert_int_eq(keyring_decrypt(d, hdr, out, 33, back), 0);
	ck_assert_int_eq(memcmp(back, pt, 17), 0);
	hdr[8] ^= 1;			/* type */
	ck_assert_int_eq(keyring_decrypt(d, hdr, out, 33, back), -1);
	hdr[8] ^= 1;
	hdr[33] ^= 1;			/* batch LSN */
	ck_assert_int_eq(keyring_decrypt(d, hdr, out, 33, back), -1);
	hdr[33] ^= 1;
	out[3] ^= 0x80;			/* ciphertext */
	ck_assert_int_eq(keyring_decrypt(d, hdr, out, 33, back), -1);
	out[3] ^= 0x80;
	out[30] ^= 1;			/* tag */
	ck_assert_int_eq(keyring_decrypt(d, hdr, out, 33, back), -1);
	out[30] ^= 1;
	ck_assert_int_eq(keyring_decrypt(d, hdr, out, 33, back), 0);
	/* Another segment (first LSN, id) or key id: another data key. */
	ck_assert_int_eq(keyring_ctx_key(d, kr, 9, vec_salt, vec_segid, 1001,
	    &cause), 0);
	ck_assert_int_eq(keyring_decrypt(d, hdr, out, 33, back), -1);
	ck_assert_int_eq(keyring_ctx_key(d, kr, 8, vec_salt, vec_segid, 1000,
	    &cause), -1);
	ck_assert_str_eq(cause, "the key ring has no key id 8");
	free(cause);
	/* Too short for a tag. */
	ck_assert_int_eq(keyring_decrypt(d, hdr, out, 15, back), -1);

	keyring_ctx_free(e);
	keyring_ctx_free(d);
	keyring_free(kr);
}
END_TEST

START_TEST(test_segment_check)
{
	struct keyring		*kr = check_keyring_ok("9 " KEY1 "\n");
	struct keyring		*other = check_keyring_ok("9 " KEY2 "\n");
	struct keyring		*none = check_keyring_ok("3 " KEY1 "\n");
	struct keyring_ctx	*d = keyring_ctx_create(0);
	struct seg_header	 h;
	char			*cause = NULL;

	memset(&h, 0, sizeof h);
	h.first_lsn = 1000;
	ck_assert_int_eq(keyring_ctx_segment(d, NULL, &h, &cause), 0);
	ck_assert(!keyring_ctx_keyed(d));
	h.flags = SEG_F_ENCRYPTED;
	h.key_id = 9;
	memcpy(h.salt, vec_salt, sizeof h.salt);
	memcpy(h.id, vec_segid, sizeof h.id);
	memcpy(h.check, "\x0c\x0d\x56\x0f\x7d\x05\x59\xab\xf1\xdc\x6e\x76"
	    "\x4d\x5c\x70\xe5", 16);
	ck_assert_int_eq(keyring_ctx_segment(d, kr, &h, &cause), 0);
	ck_assert(keyring_ctx_keyed(d));
	ck_assert_int_eq(keyring_ctx_segment(d, NULL, &h, &cause), -1);
	ck_assert_str_eq(cause, "encrypted with key id 9, and no key ring was "
	    "given");
	free(cause);
	ck_assert_int_eq(keyring_ctx_segment(d, none, &h, &cause), -1);
	ck_assert_str_eq(cause, "encrypted with key id 9, which the key ring "
	    "does not have");
	free(cause);
	ck_assert_int_eq(keyring_ctx_segment(d, other, &h, &cause), -1);
	ck_assert_msg(strstr(cause, "key check mismatch") != NULL, "%s", cause);
	ck_assert(!keyring_ctx_keyed(d));
	free(cause);
	ck_assert(keyring_differs(kr, other, 9));
	ck_assert(keyring_differs(kr, none, 9));
	ck_assert(!keyring_differs(kr, kr, 9));
	keyring_ctx_free(d);
	keyring_free(kr);
	keyring_free(other);
	keyring_free(none);
}
END_TEST

START_TEST(test_refs)
{
	struct keyring	*kr = check_keyring_ok("1 " KEY1 "\n");

	ck_assert_ptr_eq(keyring_hold(kr), kr);
	keyring_free(kr);
	ck_assert_uint_eq(keyring_active(kr), 1);	/* still held once */
	keyring_free(kr);
	ck_assert_ptr_null(keyring_hold(NULL));
	keyring_free(NULL);
	ck_assert_uint_eq(keyring_active(NULL), 0);
}
END_TEST

static Suite *
keyring_suite(void)
{
	Suite	*s = suite_create("keyring");
	TCase	*tc = tcase_create("keyring");

	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_load_permissions);
	tcase_add_test(tc, test_locate);
	tcase_add_test(tc, test_generate);
	tcase_add_test(tc, test_vector);
	tcase_add_test(tc, test_segment_check);
	tcase_add_test(tc, test_refs);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(keyring_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
