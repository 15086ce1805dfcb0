// SPDX-License-Identifier: Apache-2.0
// CMOS/RTC on ports 0x70/0x71: the memory-size bytes OVMF's MemDetect.c reads (exact values
// for QEMU-comparable RAM sizes), the clock in BCD/binary and 12/24-hour modes from an
// injected clock, guest-set time, status registers A-D, NMI bit masking and hostile accesses.
#include "devices/rtc/cmos_rtc.h"

#include <gtest/gtest.h>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::rtc {
namespace {

using testing::read_le;
using testing::write_le;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;
// 2026-11-28 17:18:20 UTC, a Saturday.
constexpr int64_t kSaturdayEvening = 1'795'886'300;
int64_t now_s = kSaturdayEvening;
int64_t test_clock() noexcept { return now_s; }

uint8_t cmos(CmosRtc& rtc, uint8_t index) {
  write_le(rtc, 0, index, 1);
  return static_cast<uint8_t>(read_le(rtc, 1, 1));
}
void set_cmos(CmosRtc& rtc, uint8_t index, uint8_t value) {
  write_le(rtc, 0, index, 1);
  write_le(rtc, 1, value, 1);
}

TEST(CmosRtcTest, MemoryBytesFor128MiBMatchQemuPc) {
  const auto bytes = initial_cmos_bytes({.below_4g_bytes = 128 * kMiB, .vcpu_count = 1});
  EXPECT_EQ(bytes[0x15], 0x80);  // 640 KiB base memory
  EXPECT_EQ(bytes[0x16], 0x02);
  EXPECT_EQ(bytes[0x17], 0xff);  // 127 MiB above 1 MiB, capped at 0xffff KiB
  EXPECT_EQ(bytes[0x18], 0xff);
  EXPECT_EQ(bytes[0x30], 0xff);
  EXPECT_EQ(bytes[0x31], 0xff);
  EXPECT_EQ(bytes[0x34], 0x00);  // (128 - 16) MiB / 64 KiB = 0x0700
  EXPECT_EQ(bytes[0x35], 0x07);
  EXPECT_EQ(bytes[0x5b], 0x00);
  EXPECT_EQ(bytes[0x5c], 0x00);
  EXPECT_EQ(bytes[0x5d], 0x00);
  EXPECT_EQ(bytes[0x5f], 0x00);
  EXPECT_EQ(bytes[0x2e], 0x02);  // checksum 0x80 + 0x02 + 0xff + 0xff = 0x0280
  EXPECT_EQ(bytes[0x2f], 0x80);
  EXPECT_EQ(bytes[0x0a], 0x26);
  EXPECT_EQ(bytes[0x0b], 0x02);
  EXPECT_EQ(bytes[0x0d], 0x80);
}

TEST(CmosRtcTest, MemoryBytesAroundTheHoleGiveOvmfTheLayout) {
  const auto bytes = initial_cmos_bytes(
      {.below_4g_bytes = 3 * kGiB, .above_4g_bytes = 5 * kGiB, .vcpu_count = 4});
  EXPECT_EQ(bytes[0x34], 0x00);  // (3 GiB - 16 MiB) / 64 KiB = 0xbf00
  EXPECT_EQ(bytes[0x35], 0xbf);
  EXPECT_EQ(bytes[0x5b], 0x00);  // 5 GiB / 64 KiB = 0x014000
  EXPECT_EQ(bytes[0x5c], 0x40);
  EXPECT_EQ(bytes[0x5d], 0x01);
  EXPECT_EQ(bytes[0x5f], 0x03);
  // OVMF's PlatformGetSystemMemorySizeBelow4gb / ...Above4gb arithmetic gives back the layout.
  const uint64_t below = ((uint64_t{bytes[0x35]} << 8 | bytes[0x34]) << 16) + 16 * kMiB;
  const uint64_t above =
      (uint64_t{bytes[0x5d]} << 16 | uint64_t{bytes[0x5c]} << 8 | bytes[0x5b]) << 16;
  EXPECT_EQ(below, 3 * kGiB);
  EXPECT_EQ(above, 5 * kGiB);
}

TEST(CmosRtcTest, TinyAndHugeMemoryStayInRange) {
  auto bytes = initial_cmos_bytes({.below_4g_bytes = 512 * 1024, .vcpu_count = 0});
  EXPECT_EQ(bytes[0x15] | bytes[0x16] << 8, 512);
  EXPECT_EQ(bytes[0x17] | bytes[0x18] << 8, 0);
  EXPECT_EQ(bytes[0x34] | bytes[0x35] << 8, 0);
  EXPECT_EQ(bytes[0x5f], 0);
  bytes = initial_cmos_bytes({.below_4g_bytes = 4 * kGiB, .above_4g_bytes = 2048 * kGiB});
  EXPECT_EQ(bytes[0x34] | bytes[0x35] << 8, 0xff00);
  EXPECT_EQ(bytes[0x5b] | bytes[0x5c] << 8 | bytes[0x5d] << 16, 0xffffff);
}

TEST(CmosRtcTest, ClockReadsHostTimeInBcd) {
  now_s = kSaturdayEvening;
  CmosRtc rtc({.below_4g_bytes = 128 * kMiB}, &test_clock);
  EXPECT_EQ(cmos(rtc, 0x00), 0x20);
  EXPECT_EQ(cmos(rtc, 0x02), 0x18);
  EXPECT_EQ(cmos(rtc, 0x04), 0x17);
  EXPECT_EQ(cmos(rtc, 0x06), 0x07);  // Saturday, 1 = Sunday
  EXPECT_EQ(cmos(rtc, 0x07), 0x28);
  EXPECT_EQ(cmos(rtc, 0x08), 0x11);
  EXPECT_EQ(cmos(rtc, 0x09), 0x26);
  EXPECT_EQ(cmos(rtc, 0x32), 0x20);
  now_s += 61;
  EXPECT_EQ(cmos(rtc, 0x00), 0x21);
  EXPECT_EQ(cmos(rtc, 0x02), 0x19);
}

TEST(CmosRtcTest, RegisterBSelectsBinaryAndTwelveHourModes) {
  now_s = kSaturdayEvening;
  CmosRtc rtc({}, &test_clock);
  set_cmos(rtc, 0x0b, 0x06);  // binary, 24 h
  EXPECT_EQ(cmos(rtc, 0x0b), 0x06);
  EXPECT_EQ(cmos(rtc, 0x04), 17);
  EXPECT_EQ(cmos(rtc, 0x09), 26);
  set_cmos(rtc, 0x0b, 0x00);  // BCD, 12 h: 5 PM
  EXPECT_EQ(cmos(rtc, 0x04), 0x85);
  set_cmos(rtc, 0x0b, 0x04);  // binary, 12 h
  EXPECT_EQ(cmos(rtc, 0x04), 0x85);
  now_s = kSaturdayEvening - 17 * 3600;  // 00:18: 12 AM
  EXPECT_EQ(cmos(rtc, 0x04), 12);
}

TEST(CmosRtcTest, GuestSetTimeMovesWithTheHostClock) {
  now_s = kSaturdayEvening;
  CmosRtc rtc({}, &test_clock);
  set_cmos(rtc, 0x0b, 0x82);  // SET while updating, as PcRtc.c does
  set_cmos(rtc, 0x04, 0x09);  // 09 h BCD
  set_cmos(rtc, 0x09, 0x30);  // year 30
  set_cmos(rtc, 0x32, 0x21);  // century 21 -> 2130
  set_cmos(rtc, 0x0b, 0x02);
  EXPECT_EQ(cmos(rtc, 0x04), 0x09);
  EXPECT_EQ(cmos(rtc, 0x09), 0x30);
  EXPECT_EQ(cmos(rtc, 0x32), 0x21);
  EXPECT_EQ(cmos(rtc, 0x02), 0x18);
  now_s += 3600;
  EXPECT_EQ(cmos(rtc, 0x04), 0x10);
  set_cmos(rtc, 0x00, 0x1a);  // not BCD: ignored
  set_cmos(rtc, 0x02, 0x60);  // minute 60: ignored
  set_cmos(rtc, 0x08, 0x13);  // month 13: ignored
  set_cmos(rtc, 0x06, 0x01);  // day of week is derived: ignored
  EXPECT_EQ(cmos(rtc, 0x00), 0x20);
  EXPECT_EQ(cmos(rtc, 0x02), 0x18);
  EXPECT_EQ(cmos(rtc, 0x08), 0x11);
}

TEST(CmosRtcTest, StatusRegistersAreSensible) {
  CmosRtc rtc({}, &test_clock);
  EXPECT_EQ(cmos(rtc, 0x0a), 0x26);
  set_cmos(rtc, 0x0a, 0xff);  // UIP is read-only
  EXPECT_EQ(cmos(rtc, 0x0a), 0x7f);
  EXPECT_EQ(cmos(rtc, 0x0c), 0x00);
  set_cmos(rtc, 0x0c, 0xff);
  EXPECT_EQ(cmos(rtc, 0x0c), 0x00);
  EXPECT_EQ(cmos(rtc, 0x0d), 0x80);
  set_cmos(rtc, 0x0d, 0x00);  // PcRtc.c writes D = 0; VRT stays
  EXPECT_EQ(cmos(rtc, 0x0d), 0x80);
  set_cmos(rtc, 0x01, 0x59);  // alarm registers are storage
  EXPECT_EQ(cmos(rtc, 0x01), 0x59);
}

TEST(CmosRtcTest, IndexMasksTheNmiBitAndNvramKeepsWrites) {
  CmosRtc rtc({.below_4g_bytes = 128 * kMiB}, &test_clock);
  EXPECT_EQ(cmos(rtc, 0x80 | 0x35), 0x07);
  set_cmos(rtc, 0x0f, 0xfe);  // shutdown status byte (S3 resume flag in OVMF)
  EXPECT_EQ(cmos(rtc, 0x0f), 0xfe);
  set_cmos(rtc, 0x80 | 0x7f, 0x5a);
  EXPECT_EQ(cmos(rtc, 0x7f), 0x5a);
}

TEST(CmosRtcTest, HostileAccessesAreHarmless) {
  CmosRtc rtc({.below_4g_bytes = 128 * kMiB}, &test_clock);
  EXPECT_EQ(read_le(rtc, 0, 1), 0xffu);  // index port is write-only
  write_le(rtc, 0, 0x35, 1);
  EXPECT_EQ(read_le(rtc, 1, 4), 0xffffff07u);  // wide read: first byte only
  EXPECT_EQ(read_le(rtc, 2, 1), 0xffu);
  EXPECT_EQ(read_le(rtc, 0xffffffff, 8), 0xffffffffffffffffu);
  write_le(rtc, 0, 0x1234, 2);  // wide index write: first byte (0x34)
  EXPECT_EQ(read_le(rtc, 1, 1), 0x00u);
  write_le(rtc, 5, 0xff, 1);
  std::byte none[1];
  rtc.read(1, std::span<std::byte>(none, 0));
  rtc.write(1, std::span<const std::byte>(none, 0));
  EXPECT_EQ(cmos(rtc, 0x35), 0x07);
}

}  // namespace
}  // namespace cvm::devices::rtc
