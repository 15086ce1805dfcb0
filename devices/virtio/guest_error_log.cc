// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/guest_error_log.h"

#include <atomic>
#include <chrono>

#include <fmt/format.h>

#include "base/rate_limited_log.h"

namespace cvm::devices::virtio {
namespace {

std::atomic<uint64_t> g_total{0};

}  // namespace

void log_guest_error(std::string_view device, const Error& error) {
  g_total.fetch_add(1, std::memory_order_relaxed);
  // One limiter for every virtio device: a hostile guest gets 10 lines per 5 seconds in all.
  static RateLimiter limiter(10, std::chrono::seconds(5));
  const RateLimiter::Decision decision = limiter.admit(RateLimiter::Clock::now());
  if (decision.admit) {
    emit_rate_limited_log(fmt::format("{}: guest error: {}", device, error.message()),
                          decision.suppressed);
  }
}

uint64_t guest_error_count() { return g_total.load(std::memory_order_relaxed); }

}  // namespace cvm::devices::virtio
