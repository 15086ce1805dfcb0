// SPDX-License-Identifier: Apache-2.0
// Where the bytes a guest transmits on a serial port go: a file descriptor (stdout, a log
// file) or nowhere. Included by devices/serial and by the machine that picks the sink.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "base/unique_fd.h"

namespace cvm::devices::serial {

/// Receives transmitted bytes in order. Called from vCPU threads with the UART's mutex held,
/// so calls are serialised per UART; it must not call back into the UART. A sink may block
/// briefly (a pipe that is full), which stalls the transmitting vCPU, like a slow line would.
class SerialOutput {
 public:
  virtual ~SerialOutput() = default;
  virtual void write(std::span<const std::byte> bytes) = 0;
};

/// Drops everything (e.g. `--serial none`, benchmarks).
class DiscardSerialOutput final : public SerialOutput {
 public:
  void write(std::span<const std::byte> /*bytes*/) override {}
};

/// Writes to a file descriptor, unbuffered (so a prompt without a newline shows up at once).
/// Retries EINTR and short writes; when the fd is non-blocking and full (EAGAIN) it waits up
/// to kFullWaitMs for room. Bytes that cannot be written (errors, timeout) are dropped and
/// counted; the guest never sees an error, as a real line would not report one either.
class FdSerialOutput final : public SerialOutput {
 public:
  static constexpr int kFullWaitMs = 100;

  /// Takes ownership of `fd` (a log file the machine opened).
  explicit FdSerialOutput(UniqueFd fd) noexcept : owned_(std::move(fd)), fd_(owned_.get()) {}

  /// Borrows `fd` (STDOUT_FILENO); the caller keeps it open for this object's lifetime.
  static FdSerialOutput borrowed(int fd) noexcept { return FdSerialOutput(fd, BorrowTag{}); }

  FdSerialOutput(FdSerialOutput&& other) noexcept
      : owned_(std::move(other.owned_)), fd_(other.fd_), dropped_bytes_(other.dropped_bytes()) {}

  void write(std::span<const std::byte> bytes) override;

  /// Bytes dropped because the fd failed or stayed full.
  uint64_t dropped_bytes() const noexcept { return dropped_bytes_.load(); }

 private:
  struct BorrowTag {};
  FdSerialOutput(int fd, BorrowTag /*tag*/) noexcept : fd_(fd) {}

  UniqueFd owned_;
  int fd_ = -1;
  std::atomic<uint64_t> dropped_bytes_{0};
};

}  // namespace cvm::devices::serial
