/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crc32c.c: CRC-32C for the WAL format. The CPU's own CRC-32C instruction
 * when it has one (SSE4.2's crc32 on x86-64, the CRC extension's crc32c*
 * on arm64: three chains at once on long buffers), a slicing-by-8 table
 * otherwise and on every other architecture; all give the same value.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* CRC32C_PORTABLE: the table alone, as on an architecture without the
   instruction (the cross test builds it so, to check that path too). */
#if defined(__x86_64__) && !defined(CRC32C_PORTABLE)
#include <nmmintrin.h>
#define CRC32C_TARGET	__attribute__((target("sse4.2")))
#define CRC32C_HW_U8(c, b)	_mm_crc32_u8((c), (b))
#define CRC32C_HW_U64(c, v)	((uint32_t)_mm_crc32_u64((c), (v)))
#elif defined(__aarch64__) && !defined(CRC32C_PORTABLE)
#include <arm_acle.h>
#include <sys/auxv.h>
#include <asm/hwcap.h>
#define CRC32C_TARGET	__attribute__((target("+crc")))
#define CRC32C_HW_U8(c, b)	__crc32cb((c), (b))
#define CRC32C_HW_U64(c, v)	__crc32cd((c), (v))
#endif

#include "crc32c.h"

#define CRC32C_POLY	0x82f63b78u	/* reflected Castagnoli polynomial */

static uint32_t		crc32c_table[8][256];
static pthread_once_t	crc32c_once = PTHREAD_ONCE_INIT;

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

/*
 * The crc32 instruction takes three cycles to give its result but can start
 * a new one every cycle, so one chain of it uses a third of what the CPU can
 * do. crc32c_hw runs three chains over three adjacent blocks at once and
 * joins them. The join rests on the CRC register being linear: the register
 * after blocks A then B, from register r, is shift(r after A, |B|) xor the
 * register after B from 0, where shift(v, n) is the register after n zero
 * bytes from v: v times x^(8 n) modulo the polynomial, which crc32c_combine
 * uses too. shift by a fixed n is linear in v, so four tables of 256
 * entries (one per byte of v) give it with four lookups. There is one table
 * per block size; a round of three blocks is joined with it twice.
 */
/* a * b modulo the polynomial, both reflected (bit 31 is x^0). */
static uint32_t
crc32c_mulmod(uint32_t a, uint32_t b)
{
	uint32_t	m, prod = 0;

	for (m = 1u << 31; m != 0; m >>= 1) {
		if (a & m)
			prod ^= b;
		b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return (prod);
}

/* x^(8 n) modulo the polynomial: shift(v, n) is v times this. It comes
   from squaring x^8 once per bit of n. */
static uint32_t
crc32c_xpow8n(size_t n)
{
	uint32_t	xpow = 1u << 31, sq = 1u << 23;	/* x^0, x^8 */

	for (; n > 0; n >>= 1) {
		if (n & 1)
			xpow = crc32c_mulmod(xpow, sq);
		sq = crc32c_mulmod(sq, sq);
	}
	return (xpow);
}

#if defined(CRC32C_HW_U64)
static int		crc32c_hw_state = -1;	/* -1 unknown, 0 no, 1 yes */
#define CRC32C_LONG	1024	/* bytes per chain in a long round */
#define CRC32C_SHORT	128	/* and in a short one */

static uint32_t		crc32c_shift_long[4][256];
static uint32_t		crc32c_shift_short[4][256];
static pthread_once_t	crc32c_shift_once = PTHREAD_ONCE_INIT;

/* Fills one shift table for blocks of n bytes. */
static void
crc32c_shift_fill(uint32_t t[4][256], size_t n)
{
	uint32_t	xp = crc32c_xpow8n(n);
	int		j, b;

	for (j = 0; j < 4; j++)
		for (b = 0; b < 256; b++)
			t[j][b] = crc32c_mulmod(xp, (uint32_t)b << (8 * j));
}

/* Builds both shift tables, once. */
static void
crc32c_shift_init(void)
{
	crc32c_shift_fill(crc32c_shift_long, CRC32C_LONG);
	crc32c_shift_fill(crc32c_shift_short, CRC32C_SHORT);
}

/* shift(v, n) for the n its table was built for. */
static inline uint32_t
crc32c_shift(uint32_t t[4][256], uint32_t v)
{
	return (t[0][v & 0xff] ^ t[1][(v >> 8) & 0xff] ^
	    t[2][(v >> 16) & 0xff] ^ t[3][v >> 24]);
}

/* One round: three chains over three blocks of n bytes from p, joined. */
CRC32C_TARGET static inline uint32_t
crc32c_round(uint32_t t[4][256], uint32_t c, const unsigned char *p,
    size_t n)
{
	uint32_t	c0 = c, c1 = 0, c2 = 0;
	uint64_t	v0, v1, v2;
	size_t		i;

	for (i = 0; i < n; i += 8) {
		memcpy(&v0, p + i, 8);
		memcpy(&v1, p + n + i, 8);
		memcpy(&v2, p + 2 * n + i, 8);
		c0 = CRC32C_HW_U64(c0, v0);
		c1 = CRC32C_HW_U64(c1, v1);
		c2 = CRC32C_HW_U64(c2, v2);
	}
	c = crc32c_shift(t, c0) ^ c1;
	return (crc32c_shift(t, c) ^ c2);
}

/* Hardware CRC-32C with the CPU's instruction. */
CRC32C_TARGET uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	uint32_t		 c = ~crc;
	uint64_t		 v;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = CRC32C_HW_U8(c, *p++);
		len--;
	}
	if (len >= 3 * CRC32C_SHORT) {
		pthread_once(&crc32c_shift_once, crc32c_shift_init);
		for (; len >= 3 * CRC32C_LONG; len -= 3 * CRC32C_LONG) {
			c = crc32c_round(crc32c_shift_long, c, p,
			    CRC32C_LONG);
			p += 3 * CRC32C_LONG;
		}
		for (; len >= 3 * CRC32C_SHORT; len -= 3 * CRC32C_SHORT) {
			c = crc32c_round(crc32c_shift_short, c, p,
			    CRC32C_SHORT);
			p += 3 * CRC32C_SHORT;
		}
	}
	while (len >= 8) {
		memcpy(&v, p, 8);
		c = CRC32C_HW_U64(c, v);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = CRC32C_HW_U8(c, *p++);
	return (~c);
}

/* 1 when the CPU has the instruction (SSE4.2; arm64's CRC extension). */
int
crc32c_hw_available(void)
{
	int	hw;

	hw = __atomic_load_n(&crc32c_hw_state, __ATOMIC_RELAXED);
	if (hw == -1) {
#if defined(__x86_64__)
		__builtin_cpu_init();
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
		hw = (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#endif
		__atomic_store_n(&crc32c_hw_state, hw, __ATOMIC_RELAXED);
	}
	return (hw);
}
#else
/* No instruction here: the table. */
uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return (crc32c_sw(crc, buf, len));
}

int
crc32c_hw_available(void)
{
	return (0);
}
#endif

/* CRC-32C by the fastest available means. */
uint32_t
crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (crc32c_hw_available())
		return (crc32c_hw(crc, buf, len));
	return (crc32c_sw(crc, buf, len));
}

/*
 * The register after a, run on through b, is that register shifted by
 * len_b zero bytes plus what b alone adds; the initial and final xors
 * cancel out of that sum, so the same holds for the CRCs themselves.
 */
uint32_t
crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b)
{
	return (crc32c_mulmod(crc32c_xpow8n(len_b), crc_a) ^ crc_b);
}
