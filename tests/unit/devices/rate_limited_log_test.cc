// SPDX-License-Identifier: Apache-2.0
#include "base/rate_limited_log.h"

#include <gtest/gtest.h>

namespace cvm {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiterTest, AdmitsBudgetPerWindowThenSuppresses) {
  RateLimiter limiter(2, 1s);
  const auto t0 = RateLimiter::Clock::time_point{} + 100s;
  EXPECT_TRUE(limiter.admit(t0).admit);
  EXPECT_TRUE(limiter.admit(t0 + 10ms).admit);
  EXPECT_FALSE(limiter.admit(t0 + 20ms).admit);
  EXPECT_FALSE(limiter.admit(t0 + 999ms).admit);
  EXPECT_EQ(limiter.pending_suppressed(), 2u);

  // The next window reports how many were suppressed, once.
  const auto next = limiter.admit(t0 + 1s);
  EXPECT_TRUE(next.admit);
  EXPECT_EQ(next.suppressed, 2u);
  EXPECT_EQ(limiter.pending_suppressed(), 0u);
  const auto after = limiter.admit(t0 + 1s + 1ms);
  EXPECT_TRUE(after.admit);
  EXPECT_EQ(after.suppressed, 0u);
}

TEST(RateLimiterTest, ZeroBudgetSuppressesEverything) {
  RateLimiter limiter(0, 1s);
  const auto t0 = RateLimiter::Clock::time_point{} + 5s;
  EXPECT_FALSE(limiter.admit(t0).admit);
  EXPECT_FALSE(limiter.admit(t0 + 2s).admit);
  EXPECT_EQ(limiter.pending_suppressed(), 2u);
}

TEST(RateLimiterTest, MacroFormatsOnlyAdmittedMessages) {
  int formatted = 0;
  for (int i = 0; i < 50; ++i) {
    CVM_LOG_RATE_LIMITED(3, "rate-limited test line {}", (++formatted, i));
  }
  // Arguments are evaluated only for admitted lines (three within one second).
  EXPECT_EQ(formatted, 3);
}

}  // namespace
}  // namespace cvm
