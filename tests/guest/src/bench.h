// SPDX-License-Identifier: Apache-2.0
// The benchmark programs (bench_tests.c; host driver: bench/guest_io_bench.cc). They time
// themselves with rdtsc and print raw TSC deltas; the host converts with the TSC frequency it
// measures itself, so the guest needs no calibrated clock.
#ifndef CVMM_GUEST_BENCH_H
#define CVMM_GUEST_BENCH_H

#include "guest.h"

bool test_blk_bench(const struct guest_env* env, const char* name);
bool test_vsock_bench(const struct guest_env* env, const char* name);

#endif
