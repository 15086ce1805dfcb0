// SPDX-License-Identifier: Apache-2.0
// The PIIX4 ACPI PM I/O block: the 24-bit 3.579545 MHz PM timer (exact tick values from an
// injected clock), PM1 status/enable/control semantics, S5 power-off through SLP_EN with
// SLP_TYP 0 (what OVMF's ResetShutdown writes) and hostile widths and offsets.
#include "devices/acpi/acpi_pm_io.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::acpi {
namespace {

using testing::read_le;
using testing::RecordingPowerSink;
using testing::write_le;

uint64_t now_ns = 0;
uint64_t test_clock() noexcept { return now_ns; }

TEST(AcpiPmIoTest, TimerValueCountsAt3579545HzModulo2To24) {
  EXPECT_EQ(pm_timer_value(0), 0u);
  EXPECT_EQ(pm_timer_value(279), 0u);    // one tick is 279.365 ns
  EXPECT_EQ(pm_timer_value(280), 1u);
  EXPECT_EQ(pm_timer_value(1'000'000'000), 3'579'545u);
  EXPECT_EQ(pm_timer_value(4'000'000'000), 14'318'180u);
  EXPECT_EQ(pm_timer_value(5'000'000'000), 1'120'509u);  // 17897725 wrapped once
  // 2^24 ticks = 4.686968875 s: the counter wraps to 0 there.
  EXPECT_EQ(pm_timer_value(4'686'968'000), 16'777'212u);
  EXPECT_EQ(pm_timer_value(4'686'968'875), 0u);
  // Far in the future nothing overflows: 10^7 s = 35795450000000 ticks.
  EXPECT_EQ(pm_timer_value(10'000'000'000'000'000ull), 1'372'800u);
}

TEST(AcpiPmIoTest, TimerReadsRelativeToCreationAtAnyWidth) {
  RecordingPowerSink sink;
  now_ns = 7'000'000'000;
  AcpiPmIo pm(sink, &test_clock);
  EXPECT_EQ(read_le(pm, kPmTimerOffset, 4), 0u);
  now_ns += 1'000'000'000;
  EXPECT_EQ(read_le(pm, kPmTimerOffset, 4), 0x369e99u);  // 3579545
  EXPECT_EQ(read_le(pm, kPmTimerOffset, 2), 0x9e99u);
  EXPECT_EQ(read_le(pm, kPmTimerOffset + 2, 1), 0x36u);
  EXPECT_EQ(read_le(pm, kPmTimerOffset + 3, 1), 0x00u);  // 24-bit timer: top byte is 0
  write_le(pm, kPmTimerOffset, 0, 4);                   // read-only
  EXPECT_EQ(read_le(pm, kPmTimerOffset, 4), 0x369e99u);
}

TEST(AcpiPmIoTest, Pm1RegistersKeepTheirBits) {
  RecordingPowerSink sink;
  AcpiPmIo pm(sink, &test_clock);
  write_le(pm, kPm1EnableOffset, 0x0121, 2);
  EXPECT_EQ(read_le(pm, kPm1EnableOffset, 2), 0x0121u);
  write_le(pm, kPm1EnableOffset + 1, 0x05, 1);
  EXPECT_EQ(read_le(pm, kPm1EnableOffset, 2), 0x0521u);
  // OVMF's PciAcpiInitialization: IoOr16(PMBA + 4, SCI_EN).
  write_le(pm, kPm1ControlOffset, 0x0001, 2);
  EXPECT_EQ(read_le(pm, kPm1ControlOffset, 2), 0x0001u);
  EXPECT_EQ(read_le(pm, kPm1StatusOffset, 4), 0x05210000u);  // status 0, enable 0x0521
  write_le(pm, kPm1StatusOffset, 0xffff, 2);                  // W1C of nothing set
  EXPECT_EQ(read_le(pm, kPm1StatusOffset, 2), 0u);
  EXPECT_TRUE(sink.requests.empty());
}

TEST(AcpiPmIoTest, SleepEnableWithTypeZeroPowersOff) {
  RecordingPowerSink sink;
  AcpiPmIo pm(sink, &test_clock);
  // OVMF's ResetShutdown: clear SLP_TYP (bits 12:10), then set SLP_EN (bit 13).
  write_le(pm, kPm1ControlOffset, 0x0001, 2);
  EXPECT_TRUE(sink.requests.empty());
  write_le(pm, kPm1ControlOffset, 0x2001, 2);
  ASSERT_EQ(sink.requests.size(), 1u);
  EXPECT_EQ(sink.requests[0], PowerRequest::kPowerOff);
  EXPECT_EQ(read_le(pm, kPm1ControlOffset, 2), 0x0001u);  // SLP_EN reads 0
  write_le(pm, kPm1ControlOffset + 1, 0x20, 1);            // high byte alone also works
  EXPECT_EQ(sink.requests.size(), 2u);
}

TEST(AcpiPmIoTest, OtherSleepTypesAreIgnored) {
  RecordingPowerSink sink;
  AcpiPmIo pm(sink, &test_clock);
  write_le(pm, kPm1ControlOffset, 0x2000 | (1 << 10), 2);  // S3 on QEMU's PIIX4
  write_le(pm, kPm1ControlOffset, 0x2000 | (5 << 10), 2);
  EXPECT_TRUE(sink.requests.empty());
  EXPECT_EQ(read_le(pm, kPm1ControlOffset, 2), 0x1400u);
}

TEST(AcpiPmIoTest, HostileAccessesAreDroppedOrReadZero) {
  RecordingPowerSink sink;
  AcpiPmIo pm(sink, &test_clock);
  write_le(pm, kPm1StatusOffset, 0xffffffffffffffffull, 8);  // too wide
  write_le(pm, kPm1EnableOffset + 1, 0xffff, 2);             // straddles two registers
  write_le(pm, 0x0c, 0xff, 1);                               // GPE block: not modelled
  write_le(pm, 0x1000, 0xff, 1);
  EXPECT_EQ(read_le(pm, 0, 8), 0u);
  EXPECT_EQ(read_le(pm, 0x0c, 4), 0u);
  EXPECT_EQ(read_le(pm, 0x3f, 1), 0u);
  EXPECT_EQ(read_le(pm, 0xffffffffffffff00ull, 8), 0u);
  EXPECT_TRUE(sink.requests.empty());
}

}  // namespace
}  // namespace cvm::devices::acpi
