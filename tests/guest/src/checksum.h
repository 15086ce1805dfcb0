// SPDX-License-Identifier: Apache-2.0
// SHA-256 (FIPS 180-4) for disk contents and CRC-32 (IEEE 802.3, reflected polynomial
// 0xedb88320, init and final xor 0xffffffff, as zlib's crc32) for vsock streams; the host
// tests compute the same values with OpenSSL and their own CRC-32.
#ifndef CVMM_GUEST_CHECKSUM_H
#define CVMM_GUEST_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "pattern.h"

struct sha256 {
  uint32_t state[8];
  uint64_t total_bytes;
  uint8_t block[64];
  size_t block_used;
};

void sha256_init(struct sha256* h);
void sha256_update(struct sha256* h, const void* data, size_t len);
void sha256_final(struct sha256* h, uint8_t digest[32]);

/// Builds the lookup table; call once before crc32_update.
void crc32_init(void);
/// Continues a CRC: start with crc = 0; the result of each call is the CRC of all bytes so far.
uint32_t crc32_update(uint32_t crc, const void* data, size_t len);

/// Fills out[0, len) with pattern bytes [offset, offset + len) of `seed`.
void pattern_fill(uint8_t* out, size_t len, uint64_t offset, uint32_t seed);

#endif
