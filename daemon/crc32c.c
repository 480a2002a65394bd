/*
 * crc32c.c: CRC-32C for the WAL format. The SSE4.2 crc32 instruction when
 * the CPU has it, a slicing-by-8 table otherwise; both give the same value.
 */
#include <nmmintrin.h>
#include <pthread.h>
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY	0x82f63b78u	/* reflected Castagnoli polynomial */

static uint32_t		crc32c_table[8][256];
static pthread_once_t	crc32c_once = PTHREAD_ONCE_INIT;
static int		crc32c_hw_state = -1;	/* -1 unknown, 0 no, 1 yes */

/* Builds the eight slicing tables. */
static void
crc32c_init(void)
{
	uint32_t	c;
	int		i, j, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = crc32c_table[0][i];
		for (k = 1; k < 8; k++) {
			c = crc32c_table[0][c & 0xff] ^ (c >> 8);
			crc32c_table[k][i] = c;
		}
	}
}

/* Software CRC-32C, eight bytes per step. */
uint32_t
crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	uint32_t		 c = ~crc, lo, hi;

	pthread_once(&crc32c_once, crc32c_init);
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = crc32c_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
		len--;
	}
	while (len >= 8) {
		lo = ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) ^ c;
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		c = crc32c_table[7][lo & 0xff] ^
		    crc32c_table[6][(lo >> 8) & 0xff] ^
		    crc32c_table[5][(lo >> 16) & 0xff] ^
		    crc32c_table[4][lo >> 24] ^
		    crc32c_table[3][hi & 0xff] ^
		    crc32c_table[2][(hi >> 8) & 0xff] ^
		    crc32c_table[1][(hi >> 16) & 0xff] ^
		    crc32c_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = crc32c_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return (~c);
}

/* Hardware CRC-32C with the SSE4.2 crc32 instruction. */
__attribute__((target("sse4.2"))) uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	uint64_t		 c = (uint32_t)~crc, v;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return (~(uint32_t)c);
}

/* 1 when the CPU has SSE4.2. */
int
crc32c_hw_available(void)
{
	int	hw;

	hw = __atomic_load_n(&crc32c_hw_state, __ATOMIC_RELAXED);
	if (hw == -1) {
		__builtin_cpu_init();
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
		__atomic_store_n(&crc32c_hw_state, hw, __ATOMIC_RELAXED);
	}
	return (hw);
}

/* CRC-32C by the fastest available means. */
uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (crc32c_hw_available())
		return (crc32c_hw(crc, buf, len));
	return (crc32c_sw(crc, buf, len));
}
