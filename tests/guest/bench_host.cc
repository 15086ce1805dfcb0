// SPDX-License-Identifier: Apache-2.0
#include "tests/guest/bench_host.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "tests/guest/src/bench_pattern.h"

namespace cvm::test::guest::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kWindow = kCvmmBenchWindowBytes;
constexpr std::size_t kBlock = kCvmmBenchBlockBytes;
constexpr std::byte kAck{'A'};

double seconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

/// One read of up to out.size() bytes, waiting until the deadline; an EOF is an error.
Result<std::size_t> read_some(int fd, std::span<std::byte> out, Clock::time_point deadline,
                              std::string_view what) {
  for (;;) {
    const ssize_t n = ::recv(fd, out.data(), out.size(), MSG_DONTWAIT);
    if (n > 0) {
      return static_cast<std::size_t>(n);
    }
    if (n == 0) {
      return make_error(ErrorCode::kIo, "{}: end of stream", what);
    }
    if (errno != EAGAIN && errno != EINTR) {
      return errno_error(ErrorCode::kIo, fmt::format("{}: read", what), errno);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                          Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
      return make_error(ErrorCode::kIo, "{}: timed out", what);
    }
  }
}

/// Reads exactly out.size() bytes; an EOF or the deadline first is an error naming `what`.
Result<void> read_exact(int fd, std::span<std::byte> out, Clock::time_point deadline,
                        std::string_view what) {
  for (std::size_t done = 0; done < out.size();) {
    auto got = read_some(fd, out.subspan(done), deadline, what);
    if (!got) {
      return std::move(got).error().context(
          fmt::format("after {} of {} bytes", done, out.size()));
    }
    done += *got;
  }
  return ok();
}

/// Writes `total` bytes of the repeating window.
Result<void> write_window(int fd, std::span<const std::byte> window, uint64_t total) {
  for (uint64_t at = 0; at < total;) {
    const std::size_t offset = at % window.size();
    const std::size_t len = static_cast<std::size_t>(
        std::min<uint64_t>(window.size() - offset, total - at));
    CVM_TRY(write_all(fd, window.subspan(offset, len)));
    at += len;
  }
  return ok();
}

Result<uint64_t> number_in(const GuestReport& report, std::string_view prefix,
                           std::string_view key) {
  const std::optional<std::string> text = report.value(prefix, key);
  uint64_t value = 0;
  if (!text || std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc{}) {
    return make_error(ErrorCode::kGuest, "guest report: no number {}= in a \"{}\" line", key,
                      prefix);
  }
  return value;
}

/// The tsc= of `phase`, after checking its size key (bytes= or ops=) equals `expected`.
Result<uint64_t> phase_tsc(const GuestReport& report, std::string_view phase,
                           std::string_view size_key, uint64_t expected) {
  const std::string prefix = fmt::format("blk-bench {}", phase);
  if (!size_key.empty()) {
    CVM_ASSIGN_OR_RETURN(const uint64_t size, number_in(report, prefix, size_key));
    if (size != expected) {
      return make_error(ErrorCode::kGuest, "guest report: {} {}={}, expected {}", phase,
                        size_key, size, expected);
    }
  }
  return number_in(report, prefix, "tsc");
}

}  // namespace

Result<void> validate(const BlkBenchParams& p) {
  if (p.chunk == 0 || p.chunk % kBlock != 0 || kWindow % p.chunk != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "blk chunk {} is not a multiple of 4 KiB dividing 1 MiB", p.chunk);
  }
  if (p.bytes == 0 || p.bytes % p.chunk != 0) {
    return make_error(ErrorCode::kInvalidArgument, "blk size {} is not a multiple of the chunk",
                      p.bytes);
  }
  if (p.qd == 0 || p.qd > 16 || p.ops == 0) {
    return make_error(ErrorCode::kInvalidArgument, "blk qd {} (1..16) or ops {} out of range",
                      p.qd, p.ops);
  }
  return ok();
}

std::string blk_bench_args(const BlkBenchParams& p) {
  return fmt::format(
      "cvmmtest=blk-bench bench.bytes={} bench.chunk={} bench.qd={} bench.ops={} bench.seed={}",
      p.bytes, p.chunk, p.qd, p.ops, p.seed);
}

std::vector<std::byte> bench_window(uint32_t seed) { return pattern_bytes(0, kWindow, seed); }

std::vector<uint64_t> bench_random_blocks(uint32_t seed, uint64_t blocks, uint64_t ops) {
  std::vector<uint64_t> out;
  out.reserve(ops);
  uint64_t state = cvmm_bench_rng_init(seed);
  for (uint64_t i = 0; i < ops; ++i) {
    out.push_back(cvmm_bench_rng_next(&state) % blocks);
  }
  return out;
}

std::vector<std::byte> blk_bench_expected_image(std::vector<std::byte> image,
                                                const BlkBenchParams& p) {
  const std::vector<std::byte> sequential = bench_window(p.seed);
  const std::vector<std::byte> random = bench_window(p.seed + 1);
  for (uint64_t at = 0; at < p.bytes && at < image.size(); at += kWindow) {
    const std::size_t len = static_cast<std::size_t>(std::min<uint64_t>(kWindow, p.bytes - at));
    std::copy_n(sequential.begin(), len, image.begin() + static_cast<std::ptrdiff_t>(at));
  }
  for (const uint64_t block : bench_random_blocks(p.seed + 1, p.bytes / kBlock, p.ops)) {
    const std::size_t offset = block * kBlock % kWindow;
    std::copy_n(random.begin() + static_cast<std::ptrdiff_t>(offset), kBlock,
                image.begin() + static_cast<std::ptrdiff_t>(block * kBlock));
  }
  return image;
}

Result<BlkBenchTsc> parse_blk_bench(const GuestReport& report, const BlkBenchParams& p) {
  if (!report.has_line("blk-bench seq-read data ok") ||
      !report.has_line("blk-bench rand-read data ok") || !report.has_line("blk-bench ok")) {
    return make_error(ErrorCode::kGuest, "blk-bench did not finish with its data checks");
  }
  BlkBenchTsc tsc;
  CVM_ASSIGN_OR_RETURN(tsc.seq_write, phase_tsc(report, "seq-write", "bytes", p.bytes));
  CVM_ASSIGN_OR_RETURN(tsc.flush, phase_tsc(report, "flush", "", 0));
  CVM_ASSIGN_OR_RETURN(tsc.seq_read, phase_tsc(report, "seq-read", "bytes", p.bytes));
  CVM_ASSIGN_OR_RETURN(tsc.rand_read, phase_tsc(report, "rand-read", "ops", p.ops));
  CVM_ASSIGN_OR_RETURN(tsc.rand_write, phase_tsc(report, "rand-write", "ops", p.ops));
  return tsc;
}

std::string vsock_bench_args(const VsockBenchParams& p, uint32_t port) {
  return fmt::format(
      "cvmmtest=vsock-bench vsock.port={} bench.bytes={} bench.rounds={} bench.msg={} "
      "bench.seed={} bench.verify={}",
      port, p.bytes, p.rounds, p.msg, p.seed, p.verify ? 1 : 0);
}

namespace {

/// Phase 1: the guest's bytes; the clock starts at the first read that returns data.
Result<void> receive_bulk(int fd, const VsockBenchParams& p, Clock::time_point deadline,
                          VsockBenchTimes& times) {
  std::vector<std::byte> buffer(1 << 20);
  uint64_t received = 0;
  Clock::time_point start;
  while (received < p.bytes) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<uint64_t>(buffer.size(), p.bytes - received));
    CVM_ASSIGN_OR_RETURN(const std::size_t got, read_some(fd, std::span(buffer).first(want),
                                                          deadline, "vsock-bench g2h"));
    if (received == 0) {
      start = Clock::now();
    } else {
      times.g2h_timed_bytes += got;
    }
    if (p.verify) {
      times.g2h_crc = crc32(std::span(buffer).first(got), times.g2h_crc);
    }
    received += got;
  }
  times.g2h_seconds = seconds_between(start, Clock::now());
  return ok();
}

/// Phase 3: `rounds` messages out, each echo checked.
Result<void> ping_pong(int fd, const VsockBenchParams& p, Clock::time_point deadline,
                       VsockBenchTimes& times) {
  std::vector<std::byte> message = pattern_bytes(0, p.msg, p.seed + 2);
  std::vector<std::byte> echo(p.msg);
  times.rtt_us.reserve(p.rounds);
  for (uint64_t round = 0; round < p.rounds; ++round) {
    message[0] = static_cast<std::byte>(round);
    const auto start = Clock::now();
    CVM_TRY(write_all(fd, message));
    CVM_TRY(read_exact(fd, echo, deadline, "vsock-bench rtt"));
    times.rtt_us.push_back(seconds_between(start, Clock::now()) * 1e6);
    if (echo != message) {
      return make_error(ErrorCode::kGuest, "vsock-bench rtt: round {}: the echo differs",
                        round);
    }
  }
  return ok();
}

}  // namespace

Result<VsockBenchTimes> vsock_bench_host(int fd, const VsockBenchParams& p,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  VsockBenchTimes times;
  CVM_TRY(receive_bulk(fd, p, deadline, times));
  const std::vector<std::byte> window = bench_window(p.seed + 1);
  if (p.verify) {
    times.h2g_crc = window_stream_crc(p.seed + 1, p.bytes);
  }
  const auto start = Clock::now();
  CVM_TRY(write_window(fd, window, p.bytes));
  std::byte ack{};
  CVM_TRY(read_exact(fd, std::span(&ack, 1), deadline, "vsock-bench h2g ack"));
  times.h2g_seconds = seconds_between(start, Clock::now());
  if (ack != kAck) {
    return make_error(ErrorCode::kGuest, "vsock-bench: ack byte {:#x}, expected 'A'",
                      static_cast<unsigned>(ack));
  }
  CVM_TRY(ping_pong(fd, p, deadline, times));
  ::shutdown(fd, SHUT_WR);
  CVM_ASSIGN_OR_RETURN(const StreamSummary rest,
                       read_to_eof(fd, std::chrono::duration_cast<std::chrono::milliseconds>(
                                           deadline - Clock::now())));
  if (rest.bytes != 0) {
    return make_error(ErrorCode::kGuest, "vsock-bench: {} unexpected bytes after the "
                      "ping-pong", rest.bytes);
  }
  return times;
}

Result<void> vsock_bench_peer(int fd, const VsockBenchParams& p) {
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  CVM_TRY(write_window(fd, bench_window(p.seed), p.bytes));
  std::vector<std::byte> buffer(1 << 20);
  for (uint64_t received = 0; received < p.bytes;) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<uint64_t>(buffer.size(), p.bytes - received));
    const ssize_t n = ::read(fd, buffer.data(), want);
    if (n <= 0) {
      return errno_error(ErrorCode::kIo, "vsock-bench peer: read", n == 0 ? EPIPE : errno);
    }
    received += static_cast<uint64_t>(n);
  }
  CVM_TRY(write_all(fd, std::span(&kAck, 1)));
  std::vector<std::byte> message(p.msg);
  for (uint64_t round = 0; round < p.rounds; ++round) {
    CVM_TRY(read_exact(fd, message, deadline, "vsock-bench peer rtt"));
    CVM_TRY(write_all(fd, message));
  }
  ::shutdown(fd, SHUT_WR);
  return ok();
}

uint32_t window_stream_crc(uint32_t seed, uint64_t bytes) {
  const std::vector<std::byte> window = bench_window(seed);
  uint32_t crc = 0;
  for (uint64_t at = 0; at < bytes; at += kWindow) {
    const std::size_t len = static_cast<std::size_t>(std::min<uint64_t>(kWindow, bytes - at));
    crc = crc32(std::span(window).first(len), crc);
  }
  return crc;
}

double median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

}  // namespace cvm::test::guest::bench
