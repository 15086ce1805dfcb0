// SPDX-License-Identifier: Apache-2.0
#include "checksum.h"

#include "lib.h"

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the
// first 64 primes.
static const uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static inline uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(uint32_t state[8], const uint8_t block[64]) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
           (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
  }
  for (int i = 16; i < 64; ++i) {
    const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (int i = 0; i < 64; ++i) {
    const uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                        kRoundConstants[i] + w[i];
    const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

void sha256_init(struct sha256* h) {
  // FIPS 180-4 §5.3.3: initial hash value.
  static const uint32_t kInitial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(h->state, kInitial, sizeof(kInitial));
  h->total_bytes = 0;
  h->block_used = 0;
}

void sha256_update(struct sha256* h, const void* data, size_t len) {
  const uint8_t* bytes = data;
  h->total_bytes += len;
  while (len > 0) {
    if (h->block_used == 0 && len >= 64) {
      sha256_block(h->state, bytes);
      bytes += 64;
      len -= 64;
      continue;
    }
    const size_t take = len < 64 - h->block_used ? len : 64 - h->block_used;
    memcpy(h->block + h->block_used, bytes, take);
    h->block_used += take;
    bytes += take;
    len -= take;
    if (h->block_used == 64) {
      sha256_block(h->state, h->block);
      h->block_used = 0;
    }
  }
}

void sha256_final(struct sha256* h, uint8_t digest[32]) {
  // FIPS 180-4 §5.1.1: 0x80, zeros to 56 mod 64, then the bit length big-endian.
  const uint64_t bits = h->total_bytes * 8;
  uint8_t pad[72] = {0x80};
  const size_t pad_len = (h->block_used < 56 ? 56 : 120) - h->block_used;
  for (int i = 0; i < 8; ++i) {
    pad[pad_len + i] = (uint8_t)(bits >> (56 - 8 * i));
  }
  sha256_update(h, pad, pad_len + 8);
  for (int i = 0; i < 8; ++i) {
    digest[4 * i] = (uint8_t)(h->state[i] >> 24);
    digest[4 * i + 1] = (uint8_t)(h->state[i] >> 16);
    digest[4 * i + 2] = (uint8_t)(h->state[i] >> 8);
    digest[4 * i + 3] = (uint8_t)h->state[i];
  }
}

static uint32_t crc_table[256];

void crc32_init(void) {
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    crc_table[n] = c;
  }
}

uint32_t crc32_update(uint32_t crc, const void* data, size_t len) {
  const uint8_t* bytes = data;
  uint32_t c = ~crc;
  for (size_t i = 0; i < len; ++i) {
    c = crc_table[(c ^ bytes[i]) & 0xff] ^ (c >> 8);
  }
  return ~c;
}

void pattern_fill(uint8_t* out, size_t len, uint64_t offset, uint32_t seed) {
  for (size_t i = 0; i < len; ++i) {
    out[i] = cvmm_pattern_byte(offset + i, seed);
  }
}
