// SPDX-License-Identifier: Apache-2.0
#include "bench/host_ceiling.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "base/file.h"
#include "base/unique_fd.h"
#include "tests/guest/src/bench_pattern.h"

namespace cvm::bench {
namespace {

namespace gb = test::guest::bench;
using Clock = std::chrono::steady_clock;
constexpr uint64_t kWindow = kCvmmBenchWindowBytes;
constexpr uint64_t kBlock = kCvmmBenchBlockBytes;

struct Request {
  bool write;
  uint64_t offset;
  std::byte* buffer;
  uint32_t len;
};

class Ring {
 public:
  static Result<Ring> create(unsigned depth) {
    Ring ring(depth);
    const int error = io_uring_queue_init(depth, &ring.ring_, 0);
    if (error < 0) {
      return errno_error(ErrorCode::kIo, "io_uring_queue_init", -error);
    }
    ring.live_ = true;
    return ring;
  }
  Ring(Ring&& other) noexcept : ring_(other.ring_), depth_(other.depth_), live_(other.live_) {
    other.live_ = false;
  }
  Ring& operator=(Ring&&) = delete;
  ~Ring() {
    if (live_) {
      io_uring_queue_exit(&ring_);
    }
  }

  /// Runs `requests` on `fd` with up to depth_ in flight; returns the elapsed seconds.
  Result<double> run(int fd, const std::vector<Request>& requests) {
    const auto start = Clock::now();
    std::size_t next = 0, in_flight = 0;
    while (next < requests.size() || in_flight > 0) {
      while (next < requests.size() && in_flight < depth_) {
        const Request& r = requests[next++];
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (r.write) {
          io_uring_prep_write(sqe, fd, r.buffer, r.len, r.offset);
        } else {
          io_uring_prep_read(sqe, fd, r.buffer, r.len, r.offset);
        }
        io_uring_sqe_set_data64(sqe, r.len);
        ++in_flight;
      }
      io_uring_submit(&ring_);
      io_uring_cqe* cqe = nullptr;
      const int error = io_uring_wait_cqe(&ring_, &cqe);
      if (error < 0) {
        return errno_error(ErrorCode::kIo, "io_uring_wait_cqe", -error);
      }
      const int64_t result = cqe->res;
      const uint64_t expected = io_uring_cqe_get_data64(cqe);
      io_uring_cqe_seen(&ring_, cqe);
      --in_flight;
      if (result < 0 || static_cast<uint64_t>(result) != expected) {
        return make_error(ErrorCode::kIo, "io_uring request: result {} for {} bytes", result,
                          expected);
      }
    }
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

 private:
  explicit Ring(unsigned depth) : depth_(depth) {}
  io_uring ring_{};
  unsigned depth_;
  bool live_ = false;
};

/// The same requests one at a time with pread/pwrite (no io_uring worker hand-off).
Result<double> run_synchronously(int fd, const std::vector<Request>& requests) {
  const auto start = Clock::now();
  for (const Request& r : requests) {
    const ssize_t n = r.write ? ::pwrite(fd, r.buffer, r.len, static_cast<off_t>(r.offset))
                              : ::pread(fd, r.buffer, r.len, static_cast<off_t>(r.offset));
    if (n != static_cast<ssize_t>(r.len)) {
      return errno_error(ErrorCode::kIo, fmt::format("{} of {} bytes at {:#x}",
                                                     r.write ? "pwrite" : "pread", r.len,
                                                     r.offset),
                         n < 0 ? errno : EIO);
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<Request> sequential(bool write, const gb::BlkBenchParams& p, std::byte* window) {
  std::vector<Request> out;
  for (uint64_t at = 0; at < p.bytes; at += p.chunk) {
    out.push_back({write, at, window + at % kWindow, p.chunk});
  }
  return out;
}

std::vector<Request> random(bool write, const gb::BlkBenchParams& p, std::byte* window) {
  std::vector<Request> out;
  const uint32_t seed = write ? p.seed + 1 : p.seed;
  for (const uint64_t block : gb::bench_random_blocks(seed, p.bytes / kBlock, p.ops)) {
    out.push_back({write, block * kBlock, window + block * kBlock % kWindow,
                   static_cast<uint32_t>(kBlock)});
  }
  return out;
}

Result<void> sync_file(int fd, const std::filesystem::path& image) {
  if (::fdatasync(fd) != 0) {
    return errno_error(ErrorCode::kIo, "fdatasync " + image.string(), errno);
  }
  return ok();
}

}  // namespace

Result<void> prepare_cold_image(const std::filesystem::path& image,
                                std::span<const std::byte> content) {
  CVM_TRY(test::guest::write_file(image, content));
  UniqueFd fd(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) {
    return errno_error(ErrorCode::kIo, "open " + image.string(), errno);
  }
  CVM_TRY(sync_file(fd.get(), image));
  const int error = ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
  if (error != 0) {
    return errno_error(ErrorCode::kIo, "posix_fadvise DONTNEED " + image.string(), error);
  }
  return ok();
}

namespace {

/// One cold-image pass of blk-bench's requests; `ring` null: synchronous pread/pwrite.
Result<BlkPhaseSeconds> blk_pass(const std::filesystem::path& image,
                                 const std::vector<std::byte>& original,
                                 const gb::BlkBenchParams& p, Ring* ring) {
  CVM_TRY(prepare_cold_image(image, original));
  UniqueFd fd(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) {
    return errno_error(ErrorCode::kIo, "open " + image.string(), errno);
  }
  std::vector<std::byte> seq_window = gb::bench_window(p.seed);
  std::vector<std::byte> rand_window = gb::bench_window(p.seed + 1);
  std::vector<std::byte> read_window(kWindow);
  const auto run = [&](const std::vector<Request>& requests) {
    return ring != nullptr ? ring->run(fd.get(), requests) : run_synchronously(fd.get(), requests);
  };
  BlkPhaseSeconds s;
  CVM_ASSIGN_OR_RETURN(s.seq_write, run(sequential(true, p, seq_window.data())));
  CVM_TRY(sync_file(fd.get(), image));
  CVM_ASSIGN_OR_RETURN(s.seq_read, run(sequential(false, p, read_window.data())));
  CVM_ASSIGN_OR_RETURN(s.rand_read, run(random(false, p, read_window.data())));
  CVM_ASSIGN_OR_RETURN(s.rand_write, run(random(true, p, rand_window.data())));
  CVM_TRY(sync_file(fd.get(), image));
  CVM_ASSIGN_OR_RETURN(const std::vector<std::byte> result, read_file(image.string()));
  if (result != gb::blk_bench_expected_image(original, p)) {
    return make_error(ErrorCode::kInternal, "host ceiling: {} differs from blk-bench's result",
                      image.string());
  }
  return s;
}

}  // namespace

Result<BlkPhaseSeconds> blk_host_ceiling(const std::filesystem::path& image,
                                         const std::vector<std::byte>& original,
                                         const gb::BlkBenchParams& p) {
  CVM_ASSIGN_OR_RETURN(Ring ring, Ring::create(p.qd));
  CVM_ASSIGN_OR_RETURN(const BlkPhaseSeconds queued, blk_pass(image, original, p, &ring));
  CVM_ASSIGN_OR_RETURN(const BlkPhaseSeconds direct, blk_pass(image, original, p, nullptr));
  return BlkPhaseSeconds{.seq_write = std::min(queued.seq_write, direct.seq_write),
                         .seq_read = std::min(queued.seq_read, direct.seq_read),
                         .rand_read = std::min(queued.rand_read, direct.rand_read),
                         .rand_write = std::min(queued.rand_write, direct.rand_write)};
}

Result<gb::VsockBenchTimes> vsock_host_ceiling(const gb::VsockBenchParams& params) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return errno_error(ErrorCode::kIo, "socketpair", errno);
  }
  UniqueFd host(fds[0]), peer(fds[1]);
  const pid_t child = ::fork();
  if (child < 0) {
    return errno_error(ErrorCode::kIo, "fork", errno);
  }
  if (child == 0) {
    host.reset();
    ::_exit(gb::vsock_bench_peer(peer.get(), params) ? 0 : 1);
  }
  peer.reset();
  auto times = gb::vsock_bench_host(host.get(), params, std::chrono::minutes(5));
  host.reset();
  int status = 0;
  ::waitpid(child, &status, 0);
  if (times && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    return make_error(ErrorCode::kIo, "vsock ceiling: the peer process failed ({:#x})", status);
  }
  return times;
}

}  // namespace cvm::bench
