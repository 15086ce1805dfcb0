// SPDX-License-Identifier: Apache-2.0
// The PC CMOS RAM and MC146818 real-time clock on ports 0x70 (index) and 0x71 (data)
// (Motorola MC146818A datasheet; the memory-size bytes are the IBM PC/AT BIOS convention
// that QEMU and OVMF share: OvmfPkg/Library/PlatformInitLib/MemDetect.c reads 0x34/0x35 and
// 0x5b-0x5d when fw_cfg has no etc/e820). Included by vmm/ and tests.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>

#include "devices/bus.h"

namespace cvm::devices::rtc {

inline constexpr uint16_t kCmosPortBase = 0x70;
inline constexpr uint64_t kCmosPortCount = 2;
inline constexpr std::size_t kCmosBytes = 128;
/// Index-port bit 7 masks NMIs on PCs; it is not part of the index.
inline constexpr uint8_t kCmosIndexNmiDisable = 0x80;
inline constexpr uint8_t kCmosIndexMask = 0x7f;

// MC146818 registers.
inline constexpr uint8_t kRtcSeconds = 0x00;
inline constexpr uint8_t kRtcSecondsAlarm = 0x01;
inline constexpr uint8_t kRtcMinutes = 0x02;
inline constexpr uint8_t kRtcMinutesAlarm = 0x03;
inline constexpr uint8_t kRtcHours = 0x04;
inline constexpr uint8_t kRtcHoursAlarm = 0x05;
inline constexpr uint8_t kRtcDayOfWeek = 0x06;  // 1 = Sunday
inline constexpr uint8_t kRtcDayOfMonth = 0x07;
inline constexpr uint8_t kRtcMonth = 0x08;
inline constexpr uint8_t kRtcYear = 0x09;  // two digits
inline constexpr uint8_t kRtcRegisterA = 0x0a;
inline constexpr uint8_t kRtcRegisterB = 0x0b;
inline constexpr uint8_t kRtcRegisterC = 0x0c;
inline constexpr uint8_t kRtcRegisterD = 0x0d;
/// Century byte (IBM PC/AT convention; the FADT CENTURY field names it).
inline constexpr uint8_t kCmosCentury = 0x32;

inline constexpr uint8_t kRegisterAUpdateInProgress = 0x80;  // UIP, read-only
inline constexpr uint8_t kRegisterAReset = 0x26;  // 32.768 kHz time base, 1024 Hz rate
inline constexpr uint8_t kRegisterBSet = 0x80;
inline constexpr uint8_t kRegisterBBinary = 0x04;  // DM: binary, not BCD
inline constexpr uint8_t kRegisterB24Hour = 0x02;
inline constexpr uint8_t kRegisterBReset = kRegisterB24Hour;  // BCD, 24-hour
inline constexpr uint8_t kRegisterDValidRam = 0x80;  // VRT: the battery is good
inline constexpr uint8_t kHourPm = 0x80;              // 12-hour mode: bit 7 marks PM

/// What the BIOS memory-size bytes describe.
struct CmosMemoryInfo {
  uint64_t below_4g_bytes = 0;  // RAM from 0 up to the PCI hole
  uint64_t above_4g_bytes = 0;  // RAM from 4 GiB
  uint32_t vcpu_count = 1;
};

/// The CMOS RAM contents at power-on (index -> byte), pure:
///   0x0a/0x0b/0x0d  register A 0x26, B 0x02 (BCD, 24 h), D 0x80 (valid RAM)
///   0x15/0x16       base memory in KiB, at most 640
///   0x17/0x18, 0x30/0x31  KiB above 1 MiB below 4 GiB, capped at 0xffff
///   0x34/0x35       64 KiB units above 16 MiB below 4 GiB, capped at 0xffff
///   0x5b/0x5c/0x5d  64 KiB units above 4 GiB, capped at 0xffffff
///   0x5f            vCPUs - 1
///   0x2e/0x2f       checksum of 0x10-0x2d, big-endian (IBM PC/AT)
/// The clock registers (0x00-0x09, 0x32) are computed on each read, not stored.
std::array<uint8_t, kCmosBytes> initial_cmos_bytes(const CmosMemoryInfo& info);

/// `value` (0..99) in the RTC's data mode: BCD unless register B has DM set.
uint8_t encode_rtc_value(unsigned value, uint8_t register_b) noexcept;

/// The CMOS RAM and the clock. Reads of the data port return the byte the index selects:
/// clock registers come from `clock` (UTC) plus the offset the guest set, in the data and hour
/// mode of register B; register A's UIP bit always reads 0 (a read is one consistent
/// snapshot); register C reads 0 (no alarm, periodic or update interrupts are generated);
/// register D reads 0x80. Writes to clock registers move the offset; writes to A keep UIP,
/// writes to C and D are dropped; every other byte is storage. The index port reads 0xff.
/// Accesses wider than a byte use the first byte only.
///
/// Thread-safety: a private mutex serialises accesses.
class CmosRtc final : public BusDevice {
 public:
  using Clock = int64_t (*)() noexcept;  // seconds since 1970-01-01 00:00 UTC

  explicit CmosRtc(const CmosMemoryInfo& info, Clock clock = &host_realtime_seconds);

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

  /// CLOCK_REALTIME in whole seconds.
  static int64_t host_realtime_seconds() noexcept;

 private:
  uint8_t read_data_locked();
  void write_data_locked(uint8_t value);
  /// Applies a guest write to a clock register by moving offset_seconds_.
  void set_clock_field_locked(uint8_t index, uint8_t value);

  const Clock clock_;
  std::mutex mutex_;
  std::array<uint8_t, kCmosBytes> bytes_{};  // guarded by mutex_
  uint8_t index_ = 0;                        // guarded by mutex_
  int64_t offset_seconds_ = 0;               // guest clock - host clock; guarded by mutex_
};

}  // namespace cvm::devices::rtc
