// SPDX-License-Identifier: Apache-2.0
// Host side of the benchmark programs (src/blk_bench.c, src/vsock_bench.c): their command
// lines, what the disk holds after blk-bench (src/bench_pattern.h), parsing their TSC lines,
// and the host end of vsock-bench's protocol, which the benchmark driver
// (bench/guest_io_bench.cc) and the tests share. The protocol's guest role is here as well,
// for the host-to-host ceiling (two host processes on a Unix socketpair).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "tests/guest/guest_harness.h"

namespace cvm::test::guest::bench {

struct BlkBenchParams {
  uint64_t bytes = 4 << 20;   // sequential region and random range; the image's size
  uint32_t chunk = 64 * 1024;  // bytes per sequential request
  uint32_t qd = 1;             // requests in flight
  uint64_t ops = 1000;         // random 4 KiB reads, and as many writes
  uint32_t seed = 1;
};

/// The limits blk-bench enforces in the guest (src/blk_bench.c): chunk a multiple of 4 KiB that
/// divides 1 MiB, bytes a non-zero multiple of chunk, qd 1..16, ops non-zero.
Result<void> validate(const BlkBenchParams& params);

/// "cvmmtest=blk-bench bench.bytes=... bench.chunk=... bench.qd=... bench.ops=... bench.seed=...".
std::string blk_bench_args(const BlkBenchParams& params);

/// Pattern bytes [0, 1 MiB) of `seed`: what the guest's windows hold.
std::vector<std::byte> bench_window(uint32_t seed);

/// The 4 KiB block numbers the random phase with `seed` touches, in order.
std::vector<uint64_t> bench_random_blocks(uint32_t seed, uint64_t blocks, uint64_t ops);

/// The image after blk-bench ran on `original` (bytes beyond params.bytes are kept).
std::vector<std::byte> blk_bench_expected_image(std::vector<std::byte> original,
                                                const BlkBenchParams& params);

/// TSC deltas of the timed phases.
struct BlkBenchTsc {
  uint64_t seq_write = 0;
  uint64_t flush = 0;
  uint64_t seq_read = 0;
  uint64_t rand_read = 0;
  uint64_t rand_write = 0;
};
/// Checks that the report has every phase with the sizes of `params` and "blk-bench ok".
Result<BlkBenchTsc> parse_blk_bench(const GuestReport& report, const BlkBenchParams& params);

struct VsockBenchParams {
  uint64_t bytes = 16 << 20;  // each bulk direction
  uint64_t rounds = 1000;     // ping-pong round trips
  uint32_t msg = 64;          // ping-pong message size
  uint32_t seed = 5;          // guest->host pattern; host->guest uses seed + 1
  bool verify = false;        // bench.verify: CRC-32s on both sides (costs CPU)
};

/// "cvmmtest=vsock-bench vsock.port=... bench.bytes=... bench.rounds=... bench.msg=...".
std::string vsock_bench_args(const VsockBenchParams& params, uint32_t port);

struct VsockBenchTimes {
  double g2h_seconds = 0;  // first guest byte received -> last (bytes after the first read)
  uint64_t g2h_timed_bytes = 0;
  uint32_t g2h_crc = 0;    // of every received byte, when verify
  double h2g_seconds = 0;  // first byte sent -> the guest's ack
  uint32_t h2g_crc = 0;    // of what was sent, when verify
  std::vector<double> rtt_us;
};

/// The host end on a connected stream: receives the guest's bytes, sends its own and waits for
/// the ack, runs the ping-pong (checking every echo), then shuts down and reads to EOF.
Result<VsockBenchTimes> vsock_bench_host(int fd, const VsockBenchParams& params,
                                         std::chrono::milliseconds timeout);

/// What vsock-bench does in the guest, on a host socket (the ceiling's second process).
Result<void> vsock_bench_peer(int fd, const VsockBenchParams& params);

/// CRC-32 of `bytes` bytes of the repeating window of `seed` (what each bulk direction carries).
uint32_t window_stream_crc(uint32_t seed, uint64_t bytes);

double median(std::vector<double> values);

}  // namespace cvm::test::guest::bench
