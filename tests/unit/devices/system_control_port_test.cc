// SPDX-License-Identifier: Apache-2.0
// Port 0x92: OVMF's read-modify-write of the A20 bit, the fast-reset bit, hostile accesses.
#include "devices/legacy/system_control_port.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::legacy {
namespace {

using testing::read_le;
using testing::RecordingPowerSink;
using testing::write_le;

TEST(SystemControlPortTest, OvmfA20ReadModifyWriteDoesNotReset) {
  RecordingPowerSink sink;
  SystemControlPort port(sink);
  const uint64_t before = read_le(port, 0, 1);
  EXPECT_EQ(before, 0x02u);
  write_le(port, 0, before | 0x02, 1);  // IoOr8 (0x92, BIT1)
  EXPECT_EQ(read_le(port, 0, 1), 0x02u);
  EXPECT_TRUE(sink.requests.empty());
  write_le(port, 0, 0x00, 1);  // A20 off is stored (and has no effect)
  EXPECT_EQ(read_le(port, 0, 1), 0x00u);
}

TEST(SystemControlPortTest, FastResetBitResets) {
  RecordingPowerSink sink;
  SystemControlPort port(sink);
  write_le(port, 0, 0x03, 1);
  ASSERT_EQ(sink.requests.size(), 1u);
  EXPECT_EQ(sink.requests[0], PowerRequest::kReset);
  EXPECT_EQ(read_le(port, 0, 1), 0x02u);  // bit 0 reads back 0
}

TEST(SystemControlPortTest, HostileAccesses) {
  RecordingPowerSink sink;
  SystemControlPort port(sink);
  EXPECT_EQ(read_le(port, 0, 4), 0xffffff02u);
  EXPECT_EQ(read_le(port, 1, 1), 0xffu);
  write_le(port, 1, 0x01, 1);
  write_le(port, 0xffffffff, 0x01, 1);
  std::byte none[1];
  port.write(0, std::span<const std::byte>(none, 0));
  port.read(0, std::span<std::byte>(none, 0));
  EXPECT_TRUE(sink.requests.empty());
  write_le(port, 0, 0x0102, 2);  // wide write: first byte 0x02
  EXPECT_TRUE(sink.requests.empty());
  EXPECT_EQ(read_le(port, 0, 1), 0x02u);
}

}  // namespace
}  // namespace cvm::devices::legacy
