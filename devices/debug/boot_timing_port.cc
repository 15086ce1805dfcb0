// SPDX-License-Identifier: Apache-2.0
#include "devices/debug/boot_timing_port.h"

#include <time.h>

#include <algorithm>

namespace cvm::devices::debug {

uint64_t monotonic_now_ns() noexcept {
  timespec now{};
  // CLOCK_MONOTONIC cannot fail with a valid pointer.
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(now.tv_nsec);
}

void BootTimingPort::read(uint64_t /*offset*/, std::span<std::byte> data) {
  std::fill(data.begin(), data.end(), std::byte{0});
}

void BootTimingPort::write(uint64_t /*offset*/, std::span<const std::byte> data) {
  // Take the time before the lock so contention does not skew the mark.
  const uint64_t now = clock_();
  if (data.empty()) {
    return;
  }
  std::lock_guard lock(mutex_);
  if (marks_.size() >= kMaxMarks) {
    ++dropped_marks_;
    return;
  }
  marks_.push_back(BootTimingMark{.value = static_cast<uint8_t>(data[0]), .monotonic_ns = now});
}

std::vector<BootTimingMark> BootTimingPort::marks() const {
  std::lock_guard lock(mutex_);
  return marks_;
}

uint64_t BootTimingPort::dropped_marks() const {
  std::lock_guard lock(mutex_);
  return dropped_marks_;
}

}  // namespace cvm::devices::debug
