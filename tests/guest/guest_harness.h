// SPDX-License-Identifier: Apache-2.0
// Host side of the test-guest tests: running a VMM process with a timeout, reading the
// guest's "CVMMTEST ..." console lines, and the values the host computes to check them
// (disk images, SHA-256, CRC-32, the shared byte pattern of src/pattern.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace cvm::test::guest {

/// The freestanding guest ELF built by tests/guest/CMakeLists.txt.
std::string guest_elf_path();

/// True only when /dev/kvm does not exist (ENOENT): the one reason a kvm test may skip.
bool dev_kvm_absent();

#define CVM_GUEST_REQUIRE_KVM()                                                        \
  do {                                                                                 \
    if (::cvm::test::guest::dev_kvm_absent()) {                                        \
      GTEST_SKIP() << "/dev/kvm is absent: this test boots the test guest under cvmm"; \
    }                                                                                  \
  } while (false)

/// Whether this host is the nested kvm_pvm kind that emulates most guest instructions
/// (nested-kvm-notes.md): bulk-transfer tests use smaller sizes there.
bool emulating_kvm_host();

/// A temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  static Result<TempDir> create(std::string_view prefix);
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

/// A child process (own process group) whose stdout and stderr go to a file. The destructor
/// kills and reaps it if it is still running.
class ChildProcess {
 public:
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                    const std::filesystem::path& output);
  ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();

  /// Waits for exit; returns the exit status (128 + signal for a signal), or a kIo error after
  /// killing the process group when `timeout` passes.
  Result<int> wait(std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

/// Runs argv to completion; `output` receives stdout+stderr. Returns the exit status.
Result<int> run_process(const std::vector<std::string>& argv, const std::filesystem::path& output,
                        std::chrono::milliseconds timeout);

/// The guest's report: every line that starts with "CVMMTEST " (prefix removed, no CR).
struct GuestReport {
  std::vector<std::string> lines;
  std::string full_output;

  bool has_line(std::string_view line) const;
  /// The value of `key=` in the first line that starts with `prefix` ("blk-rw read").
  std::optional<std::string> value(std::string_view prefix, std::string_view key) const;
};
GuestReport parse_report(std::string_view output);
Result<GuestReport> read_report(const std::filesystem::path& output);

/// `size` bytes of deterministic content for a disk image (distinct from the write pattern).
std::vector<std::byte> disk_content(std::size_t size, uint32_t seed);
Result<void> write_file(const std::filesystem::path& path, std::span<const std::byte> bytes);

/// The guest pattern (src/pattern.h) bytes [offset, offset + len) of `seed`.
std::vector<std::byte> pattern_bytes(uint64_t offset, std::size_t len, uint32_t seed);

std::string sha256_hex(std::span<const std::byte> bytes);

/// CRC-32 as the guest computes it (IEEE, reflected, zlib-compatible); continue with `crc`.
uint32_t crc32(std::span<const std::byte> bytes, uint32_t crc = 0);
std::string crc32_hex(uint32_t crc);

// ---- Stream sockets (the host end of vsock connections)

/// A listening Unix stream socket at `path`.
Result<UniqueFd> unix_listen(const std::filesystem::path& path);
/// A listening AF_VSOCK stream socket on `port` for any CID (the host end of QEMU's
/// vhost-vsock-device).
Result<UniqueFd> af_vsock_listen(uint32_t port, int backlog = 128);
/// accept() with a timeout.
Result<UniqueFd> accept_connection(const UniqueFd& listener, std::chrono::milliseconds timeout);
/// Hybrid vsock (Firecracker's convention, runtime-integration.md): connects to the VMM's
/// socket, sends "CONNECT <port>\n" and expects "OK <host port>\n" before the stream starts.
/// Redials until `timeout` while the socket does not exist yet, refuses, or is closed before
/// "OK" (the VMM closes it while the guest driver is not ready or the guest refuses).
Result<UniqueFd> hybrid_vsock_connect(const std::filesystem::path& socket, uint32_t port,
                                      std::chrono::milliseconds timeout);

struct StreamSummary {
  uint64_t bytes = 0;
  uint32_t crc = 0;
  std::vector<std::byte> head;  // the first `keep` bytes
};
/// Reads until EOF (or an error such as ECONNRESET after data, which ends the stream too).
Result<StreamSummary> read_to_eof(int fd, std::chrono::milliseconds timeout, std::size_t keep = 0);
/// read_to_eof on every stream at once, one thread each (a guest that writes its connections
/// in turn would stall a sequential reader on flow control); results in `fds` order.
std::vector<Result<StreamSummary>> read_all_to_eof(std::span<const UniqueFd> fds,
                                                   std::chrono::milliseconds timeout,
                                                   std::size_t keep = 0);
/// send() until done; MSG_NOSIGNAL, so a closed peer is an error, not SIGPIPE.
Result<void> write_all(int fd, std::span<const std::byte> bytes);

/// CRC-32 of pattern bytes [0, total) of `seed`.
uint32_t pattern_crc(uint64_t total, uint32_t seed);

}  // namespace cvm::test::guest
