/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crc32c.h: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial
 * value and final xor 0xFFFFFFFF), in hardware (SSE4.2) and in software.
 */
#ifndef WALD_CRC32C_H
#define WALD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * All three take the CRC of the bytes so far (0 to start) and return the
 * CRC of those bytes followed by buf, so that
 * crc32c(crc32c(0, a, na), b, nb) == crc32c(0, a || b, na + nb).
 */
uint32_t	crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t	crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Only when crc32c_hw_available() says so. */
uint32_t	crc32c_hw(uint32_t crc, const void *buf, size_t len);
int		crc32c_hw_available(void);
/* The CRC of a || b from the CRCs of a and of b (b being len_b bytes). */
uint32_t	crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);

#endif
