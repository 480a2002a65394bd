/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crc32c_vectors.c: the CRC-32C vectors of check_crc32c.c, and hardware
 * against software on many lengths and alignments, as a plain program
 * with no library but libc: tests/integ/cross_arm64.sh builds it with
 * engine/crc32c.c for arm64 and runs it under qemu-user, so that the
 * ARMv8 CRC32C path is checked on an x86 machine. Exits 0 when all hold,
 * 1 (naming the first that does not) otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static int	failed;

/* Reports a mismatch, once per call site. */
static void
expect(const char *what, uint32_t got, uint32_t want)
{
	if (got == want)
		return;
	printf("FAIL: %s: %#010x, expected %#010x\n", what, (unsigned)got,
	    (unsigned)want);
	failed = 1;
}

/* The published vectors (RFC 3720, B.4) with one implementation. */
static void
vectors(const char *name, crc_fn fn)
{
	unsigned char	buf[32];
	char		what[64];

	snprintf(what, sizeof what, "%s: \"123456789\"", name);
	expect(what, fn(0, "123456789", 9), 0xe3069283u);
	memset(buf, 0, sizeof buf);
	snprintf(what, sizeof what, "%s: 32 zeros", name);
	expect(what, fn(0, buf, sizeof buf), 0x8a9136aau);
	memset(buf, 0xff, sizeof buf);
	snprintf(what, sizeof what, "%s: 32 0xff", name);
	expect(what, fn(0, buf, sizeof buf), 0x62a8ab43u);
}

int
main(void)
{
	static unsigned char	data[8192 + 16];
	char			what[64];
	size_t			i, off, len;
	uint32_t		seed = 1;

	for (i = 0; i < sizeof data; i++) {
		seed = seed * 1103515245u + 12345u;
		data[i] = (unsigned char)(seed >> 16);
	}
	vectors("software", crc32c_sw);
	vectors("dispatch", crc32c);
	printf("hardware CRC-32C: %s\n", crc32c_hw_available() ? "yes" : "no");
	if (crc32c_hw_available()) {
		vectors("hardware", crc32c_hw);
		for (off = 0; off < 8; off++)
			for (len = 0; len + off <= sizeof data; len += 97) {
				snprintf(what, sizeof what, "offset %zu length "
				    "%zu", off, len);
				expect(what, crc32c_hw(7, data + off, len),
				    crc32c_sw(7, data + off, len));
			}
	}
	printf("%s\n", failed ? "crc32c_vectors: FAILED" : "crc32c_vectors: ok");
	return (failed);
}
