// SPDX-License-Identifier: Apache-2.0
// A debug I/O port for the boot-latency benchmark: the guest writes one byte (a marker such as
// "kernel entry" or "init started") and the port records it with the host's CLOCK_MONOTONIC
// time. Included by the machine and by bench/.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "devices/bus.h"

namespace cvm::devices::debug {

/// The port (x86 port space, one byte). 0x440 is unused on the PC/Q35 and microvm layouts.
inline constexpr uint16_t kBootTimingPort = 0x440;
inline constexpr uint64_t kBootTimingPortCount = 1;

/// One guest write: the byte written and when the vCPU thread handled the exit.
struct BootTimingMark {
  uint8_t value = 0;
  uint64_t monotonic_ns = 0;  // CLOCK_MONOTONIC, nanoseconds
  friend bool operator==(const BootTimingMark&, const BootTimingMark&) = default;
};

/// CLOCK_MONOTONIC now, in nanoseconds.
uint64_t monotonic_now_ns() noexcept;

/// Records up to kMaxMarks writes (first byte of each access); later writes are counted in
/// dropped_marks() so a looping guest cannot grow host memory. Reads return 0.
/// Thread-safety: a private mutex serialises everything.
class BootTimingPort final : public BusDevice {
 public:
  using Clock = uint64_t (*)() noexcept;
  static constexpr std::size_t kMaxMarks = 256;

  /// `clock` is injectable for tests; it must be callable from any thread.
  explicit BootTimingPort(Clock clock = &monotonic_now_ns) noexcept : clock_(clock) {}

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

  /// A copy of the marks recorded so far, in arrival order.
  std::vector<BootTimingMark> marks() const;
  uint64_t dropped_marks() const;

 private:
  const Clock clock_;
  mutable std::mutex mutex_;
  std::vector<BootTimingMark> marks_;  // guarded by mutex_
  uint64_t dropped_marks_ = 0;         // guarded by mutex_
};

}  // namespace cvm::devices::debug
