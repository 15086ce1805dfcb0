// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/guest_error_log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include <fmt/format.h>

namespace cvm::devices::virtio {
namespace {

constexpr int kBurst = 10;
constexpr auto kWindow = std::chrono::seconds(5);

std::atomic<uint64_t> g_total{0};

struct Limiter {
  std::mutex mutex;
  std::chrono::steady_clock::time_point window_start{};
  int printed_in_window = 0;
  uint64_t suppressed = 0;
};

Limiter& limiter() {
  static Limiter instance;
  return instance;
}

}  // namespace

void log_guest_error(std::string_view device, const Error& error) {
  g_total.fetch_add(1, std::memory_order_relaxed);
  Limiter& l = limiter();
  std::lock_guard lock(l.mutex);
  const auto now = std::chrono::steady_clock::now();
  if (now - l.window_start >= kWindow) {
    l.window_start = now;
    l.printed_in_window = 0;
  }
  if (l.printed_in_window >= kBurst) {
    ++l.suppressed;
    return;
  }
  ++l.printed_in_window;
  if (l.suppressed != 0) {
    fmt::print(stderr, "cvmm: {} guest errors suppressed\n", l.suppressed);
    l.suppressed = 0;
  }
  fmt::print(stderr, "cvmm: {}: guest error: {}\n", device, error.message());
}

uint64_t guest_error_count() { return g_total.load(std::memory_order_relaxed); }

}  // namespace cvm::devices::virtio
