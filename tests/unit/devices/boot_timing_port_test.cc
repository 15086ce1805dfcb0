// SPDX-License-Identifier: Apache-2.0
#include "devices/debug/boot_timing_port.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::debug {
namespace {

using testing::read_le;
using testing::write_le;

std::atomic<uint64_t> fake_now_ns{0};
uint64_t fake_clock() noexcept { return fake_now_ns.fetch_add(1000) + 1000; }

TEST(BootTimingPortTest, RecordsValueAndTimestampPerWrite) {
  fake_now_ns = 5'000;
  BootTimingPort port(&fake_clock);
  write_le(port, 0, 0x01, 1);
  write_le(port, 0, 0x02, 1);
  const std::vector<BootTimingMark> expected = {{.value = 0x01, .monotonic_ns = 6'000},
                                                {.value = 0x02, .monotonic_ns = 7'000}};
  EXPECT_EQ(port.marks(), expected);
  EXPECT_EQ(read_le(port, 0, 1), 0u);
}

TEST(BootTimingPortTest, StopsRecordingAtCapacity) {
  BootTimingPort port(&fake_clock);
  for (std::size_t i = 0; i < BootTimingPort::kMaxMarks + 3; ++i) {
    write_le(port, 0, i & 0xff, 1);
  }
  EXPECT_EQ(port.marks().size(), BootTimingPort::kMaxMarks);
  EXPECT_EQ(port.dropped_marks(), 3u);
}

TEST(BootTimingPortTest, RealClockIsMonotonic) {
  BootTimingPort port;
  write_le(port, 0, 0xa0, 1);
  write_le(port, 0, 0xa1, 1);
  const auto marks = port.marks();
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_GT(marks[0].monotonic_ns, 0u);
  EXPECT_LE(marks[0].monotonic_ns, marks[1].monotonic_ns);
}

}  // namespace
}  // namespace cvm::devices::debug
