// SPDX-License-Identifier: Apache-2.0
// Pure parser of the hybrid-vsock handshake line a host client writes to the Unix socket
// (Firecracker/Cloud Hypervisor protocol, runtime-integration.md §3.2): `CONNECT <port>\n`,
// case-insensitive keyword, decimal port 0..2^32-1, blanks around the number tolerated.
// Included by the vsock muxer, its tests and the fuzzer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace cvm::devices::virtio::vsock {

/// Longest handshake line accepted, '\n' included. "CONNECT 4294967295\n" is 19 bytes; the
/// rest leaves room for blanks. A client that sends more without a newline is dropped.
inline constexpr std::size_t kMaxConnectLineBytes = 64;

/// Parses one line without its terminating '\n' (a trailing '\r' is tolerated).
/// kInvalidArgument naming the problem for anything else.
Result<uint32_t> parse_connect_line(std::string_view line);

/// The reply sent once the guest accepted: "OK <host_port>\n".
std::string connect_ok_line(uint32_t host_port);

/// Accumulates the bytes a client sends until the handshake line is complete.
class ConnectLineBuffer final {
 public:
  enum class State { kNeedMore, kComplete, kTooLong };

  /// Appends at most `free_space()` bytes of `data` and reports the state. Bytes after the
  /// '\n' are kept as leftover (they belong to the stream).
  State feed(std::span<const std::byte> data);
  std::size_t free_space() const noexcept { return kMaxConnectLineBytes - size_; }
  /// The line without '\n'; valid once kComplete.
  std::string_view line() const noexcept;
  /// Bytes received after the '\n'; valid once kComplete.
  std::span<const std::byte> leftover() const noexcept;

 private:
  char bytes_[kMaxConnectLineBytes] = {};
  std::size_t size_ = 0;
  std::optional<std::size_t> newline_;
};

}  // namespace cvm::devices::virtio::vsock
