/* SPDX-License-Identifier: Apache-2.0
 * What the benchmark programs (bench_tests.c) write and send, shared by the guest (C) and the
 * host driver and tests (C++), so both sides compute expected bytes from one definition.
 *
 * blk-bench: the sequential write puts pattern byte (X mod kCvmmBenchWindowBytes) of `seed`
 * at disk byte X; the random write puts, into 4 KiB block b, the same bytes with seed + 1.
 * Block numbers: xorshift64 (Marsaglia, "Xorshift RNGs", 2003; shifts 13, 7, 17) from
 * cvmm_bench_rng_init(seed) for the random reads and from cvmm_bench_rng_init(seed + 1) for
 * the random writes, block = next % blocks.
 * vsock-bench: byte i of each bulk direction is pattern byte (i mod kCvmmBenchWindowBytes). */
#ifndef CVMM_GUEST_BENCH_PATTERN_H
#define CVMM_GUEST_BENCH_PATTERN_H

#include <stdint.h>

enum { kCvmmBenchWindowBytes = 1 << 20, kCvmmBenchBlockBytes = 4096 };

static inline uint64_t cvmm_bench_rng_init(uint32_t seed) {
  return ((uint64_t)seed << 32) ^ 0x2545f4914f6cdd1dull;  /* never 0 */
}

static inline uint64_t cvmm_bench_rng_next(uint64_t* state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

#endif
