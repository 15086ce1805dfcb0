// SPDX-License-Identifier: Apache-2.0
#include "devices/legacy/i8042.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::legacy {
namespace {

using testing::read_le;
using testing::RecordingPowerSink;
using testing::write_le;

constexpr uint64_t kData = 0, kPortB = 1, kCommand = 4;

class I8042Test : public ::testing::Test {
 protected:
  uint8_t in(uint64_t offset) { return static_cast<uint8_t>(read_le(device_, offset, 1)); }
  void out(uint64_t offset, uint8_t value) { write_le(device_, offset, value, 1); }

  RecordingPowerSink sink_;
  I8042 device_{sink_};
};

TEST_F(I8042Test, RebootKbdSequenceRequestsReset) {
  // Linux native_machine_emergency_restart, BOOT_KBD: ten times kb_wait() (poll 0x64 until
  // the input buffer is empty) then outb(0xfe, 0x64).
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(in(kCommand) & 0x02, 0);
    out(kCommand, 0xfe);
  }
  EXPECT_EQ(sink_.requests, std::vector<PowerRequest>(10, PowerRequest::kReset));
}

TEST_F(I8042Test, StatusIsSaneAtReset) {
  // Keyboard not inhibited, system flag from the CTR, buffers empty.
  EXPECT_EQ(in(kCommand), 0x14);
  EXPECT_EQ(in(kPortB), 0x00);
  EXPECT_EQ(in(2), 0x00);
}

TEST_F(I8042Test, SelfTestAnswers55ThroughOutputBuffer) {
  out(kCommand, 0xaa);
  EXPECT_EQ(in(kCommand), 0x1d);  // OBF | SYS | CMD | unlocked
  EXPECT_EQ(in(kData), 0x55);
  EXPECT_EQ(in(kCommand) & 0x01, 0);
  EXPECT_TRUE(sink_.requests.empty());
}

TEST_F(I8042Test, ControllerConfigurationByteRoundTrips) {
  out(kCommand, 0x20);
  EXPECT_EQ(in(kData), 0x45);
  out(kCommand, 0x60);
  out(kData, 0x47);
  EXPECT_EQ(in(kCommand) & 0x08, 0);  // last write went to the data port
  out(kCommand, 0x20);
  EXPECT_EQ(in(kData), 0x47);
  out(kCommand, 0xad);  // disable keyboard: CTR bit 4
  out(kCommand, 0xa7);  // disable aux: CTR bit 5
  out(kCommand, 0x20);
  EXPECT_EQ(in(kData), 0x77);
}

TEST_F(I8042Test, OutputPortResetLineRequestsReset) {
  out(kCommand, 0xd0);
  EXPECT_EQ(in(kData), 0x03);
  out(kCommand, 0xd1);
  out(kData, 0x03);  // reset line stays high
  EXPECT_TRUE(sink_.requests.empty());
  out(kCommand, 0xd1);
  out(kData, 0x02);
  EXPECT_EQ(sink_.requests, (std::vector<PowerRequest>{PowerRequest::kReset}));
}

TEST_F(I8042Test, PulseCommandsWithoutResetBitDoNothing) {
  out(kCommand, 0xff);  // pulse nothing
  out(kData, 0xfe);     // a byte for the (absent) keyboard, not a command
  EXPECT_TRUE(sink_.requests.empty());
  out(kCommand, 0xf0);  // pulses bits 3:0, including reset
  EXPECT_EQ(sink_.requests.size(), 1u);
}

}  // namespace
}  // namespace cvm::devices::legacy
