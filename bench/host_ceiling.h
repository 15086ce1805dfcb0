// SPDX-License-Identifier: Apache-2.0
// The host ceilings of bench/guest_io_bench: what the host itself achieves with the same
// access pattern as the guest's blk-bench and vsock-bench, measured in the same run.
#pragma once

#include <filesystem>

#include "base/result.h"
#include "tests/guest/bench_host.h"

namespace cvm::bench {

/// Seconds per timed phase (the guest's TSC deltas converted, or the host's own clock).
struct BlkPhaseSeconds {
  double seq_write = 0;
  double seq_read = 0;
  double rand_read = 0;
  double rand_write = 0;
};

/// blk-bench's pattern run by the host on `image`: the same requests (sizes, offsets, source
/// bytes, order), buffered like cvmm's DiskFile and QEMU's cache=writeback, fdatasync where the
/// guest flushes, each pass from a cold image (prepare_cold_image). Two passes, io_uring with
/// params.qd in flight and synchronous pread/pwrite (buffered io_uring writes may be handed to
/// kernel workers and lose to plain pwrite); per phase the faster one is the ceiling. Each
/// pass checks the resulting file against blk_bench_expected_image.
Result<BlkPhaseSeconds> blk_host_ceiling(const std::filesystem::path& image,
                                         const std::vector<std::byte>& original,
                                         const test::guest::bench::BlkBenchParams& params);

/// vsock-bench's protocol between two host processes over a Unix stream socketpair: this
/// process is the host end (vsock_bench_host), a forked child the guest role.
Result<test::guest::bench::VsockBenchTimes> vsock_host_ceiling(
    const test::guest::bench::VsockBenchParams& params);

/// Writes `content` to `image`, fdatasyncs it and drops its pages from the page cache
/// (POSIX_FADV_DONTNEED), so every run starts from the same cold state.
Result<void> prepare_cold_image(const std::filesystem::path& image,
                                std::span<const std::byte> content);

}  // namespace cvm::bench
