// SPDX-License-Identifier: Apache-2.0
#include "devices/acpi/power_device.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::acpi {
namespace {

using testing::read_le;
using testing::RecordingPowerSink;
using testing::write_le;

constexpr uint64_t kControl = 0, kStatus = 1, kReset = 2;

TEST(PowerDeviceTest, PortsMatchTheFadtContract) {
  EXPECT_EQ(kAcpiSleepControlPort, 0x600);
  EXPECT_EQ(kAcpiSleepStatusPort, 0x601);
  EXPECT_EQ(kAcpiResetPort, 0x602);
  EXPECT_EQ(kAcpiS5SleepType, 5);
}

TEST(PowerDeviceTest, SlpEnWithS5RequestsPowerOff) {
  RecordingPowerSink sink;
  PowerDevice device(sink);
  // ACPICA acpi_hw_extended_sleep: SLP_TYP << 2 | SLP_EN (0x20) = 0x34 for S5.
  write_le(device, kControl, 0x34, 1);
  EXPECT_EQ(sink.requests, (std::vector<PowerRequest>{PowerRequest::kPowerOff}));
}

TEST(PowerDeviceTest, SleepTypeWithoutSlpEnDoesNothing) {
  RecordingPowerSink sink;
  PowerDevice device(sink);
  write_le(device, kControl, 0x14, 1);
  EXPECT_TRUE(sink.requests.empty());
  EXPECT_EQ(read_le(device, kControl, 1), 0u);
}

TEST(PowerDeviceTest, UnsupportedSleepStateWakesAtOnce) {
  RecordingPowerSink sink;
  PowerDevice device(sink);
  write_le(device, kStatus, 0x80, 1);  // the guest clears WAK_STS first
  EXPECT_EQ(read_le(device, kStatus, 1), 0x00u);
  write_le(device, kControl, (3 << 2) | 0x20, 1);  // S3
  EXPECT_TRUE(sink.requests.empty());
  EXPECT_EQ(read_le(device, kStatus, 1), 0x80u);
  write_le(device, kStatus, 0x80, 1);  // write-1-to-clear
  EXPECT_EQ(read_le(device, kStatus, 1), 0x00u);
}

TEST(PowerDeviceTest, ResetRegisterRequestsResetOnlyWithResetValue) {
  RecordingPowerSink sink;
  PowerDevice device(sink);
  write_le(device, kReset, 0x06, 1);
  EXPECT_TRUE(sink.requests.empty());
  write_le(device, kReset, kAcpiResetValue, 1);
  EXPECT_EQ(sink.requests, (std::vector<PowerRequest>{PowerRequest::kReset}));
}

TEST(PowerDeviceTest, WideWritesAreIgnored) {
  RecordingPowerSink sink;
  PowerDevice device(sink);
  write_le(device, kControl, 0x0134, 2);
  EXPECT_TRUE(sink.requests.empty());
}

}  // namespace
}  // namespace cvm::devices::acpi
