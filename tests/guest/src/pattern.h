/* SPDX-License-Identifier: Apache-2.0
 * The deterministic byte pattern the guest writes (blk-rw) and sends (vsock-*), shared by
 * the guest (C) and the host tests (C++), so both sides compute it from one definition.
 * Byte i of the stream with seed s. */
#ifndef CVMM_GUEST_PATTERN_H
#define CVMM_GUEST_PATTERN_H

#include <stdint.h>

static inline uint8_t cvmm_pattern_byte(uint64_t i, uint32_t seed) {
  const uint64_t x = i + (uint64_t)seed * 0x9e3779b1u;
  return (uint8_t)((x ^ (x >> 8) ^ (x >> 16) ^ (x >> 24)) * 31u + 7u);
}

#endif
