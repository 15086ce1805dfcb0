// SPDX-License-Identifier: Apache-2.0
// Rate-limited logging for events a guest can trigger at will (unhandled port accesses, bad
// register values, malformed requests). A guest must not be able to flood the host log or slow
// the VMM down with log I/O (architecture-anchors §B.6, failure class 2; Firecracker
// logger/rate_limited.rs). Header-only; may be included by every module.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string_view>

#include <fmt/format.h>

namespace cvm {

/// Admits at most `max_per_window` events per fixed window and counts the rest.
/// Thread-safe: several vCPU threads may share one limiter (one per call site).
class RateLimiter final {
 public:
  using Clock = std::chrono::steady_clock;

  /// What admit() decided. `suppressed` is the number of events refused since the previous
  /// admitted one, so the caller can say "(N similar messages suppressed)".
  struct Decision {
    bool admit = false;
    uint64_t suppressed = 0;
  };

  explicit RateLimiter(uint32_t max_per_window,
                       Clock::duration window = std::chrono::seconds(1)) noexcept
      : max_per_window_(max_per_window), window_(window) {}

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  /// Records one event at `now` (injected so tests are deterministic). A window starts at the
  /// first event after the previous window has expired.
  Decision admit(Clock::time_point now) noexcept {
    std::lock_guard lock(mutex_);
    if (!window_started_ || now - window_start_ >= window_) {
      window_started_ = true;
      window_start_ = now;
      admitted_in_window_ = 0;
    }
    if (admitted_in_window_ >= max_per_window_) {
      ++suppressed_;
      return Decision{.admit = false, .suppressed = 0};
    }
    ++admitted_in_window_;
    Decision decision{.admit = true, .suppressed = suppressed_};
    suppressed_ = 0;
    return decision;
  }

  /// Total events refused and not yet reported through an admitted Decision.
  uint64_t pending_suppressed() const noexcept {
    std::lock_guard lock(mutex_);
    return suppressed_;
  }

 private:
  mutable std::mutex mutex_;
  const uint32_t max_per_window_;
  const Clock::duration window_;
  bool window_started_ = false;
  Clock::time_point window_start_{};
  uint32_t admitted_in_window_ = 0;
  uint64_t suppressed_ = 0;
};

/// Writes one log line to stderr: "cvmm: <message>[ (N similar messages suppressed)]".
inline void emit_rate_limited_log(std::string_view message, uint64_t suppressed) {
  if (suppressed == 0) {
    fmt::print(stderr, "cvmm: {}\n", message);
    return;
  }
  fmt::print(stderr, "cvmm: {} ({} similar messages suppressed)\n", message, suppressed);
}

}  // namespace cvm

/// `CVM_LOG_RATE_LIMITED(10, "uart: bad offset {:#x}", offset);` logs at most
/// `max_per_second` lines per second from this call site (one static limiter per expansion).
/// The message is only formatted when it is admitted.
#define CVM_LOG_RATE_LIMITED(max_per_second, ...)                                        \
  do {                                                                                   \
    static ::cvm::RateLimiter cvm_rate_limiter_(max_per_second);                         \
    const auto cvm_decision_ = cvm_rate_limiter_.admit(::cvm::RateLimiter::Clock::now()); \
    if (cvm_decision_.admit) {                                                           \
      ::cvm::emit_rate_limited_log(fmt::format(__VA_ARGS__), cvm_decision_.suppressed);  \
    }                                                                                    \
  } while (false)
