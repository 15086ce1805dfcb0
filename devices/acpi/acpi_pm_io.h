// SPDX-License-Identifier: Apache-2.0
// The ACPI power-management I/O block of the PIIX4 power-management function (Intel 82371AB
// PIIX4 datasheet §7.2 "Power Management I/O Space"; ACPI 6.5 §4.8.3 "PM1 Event Grouping",
// "PM1 Control Grouping", §4.8.3.3 "Power Management Timer"). OVMF programs its base (PMBA,
// 0xb000) through the PIIX4 function at 00:01.3 and then uses the PM timer for every delay
// and PM1a_CNT for power-off. Included by devices/pci (which maps it) and tests.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>

#include "devices/power_request.h"
#include "devices/bus.h"

namespace cvm::devices::acpi {

/// Size of the block: PIIX4 decodes 64 bytes at PMBA.
inline constexpr uint64_t kPmIoSize = 64;
// Register offsets from PMBA (PIIX4 datasheet §7.2, the ACPI PM1a/PM_TMR blocks).
inline constexpr uint64_t kPm1StatusOffset = 0x00;   // PM1a_STS, 16 bits, write-1-to-clear
inline constexpr uint64_t kPm1EnableOffset = 0x02;   // PM1a_EN, 16 bits
inline constexpr uint64_t kPm1ControlOffset = 0x04;  // PM1a_CNT, 16 bits
inline constexpr uint64_t kPmTimerOffset = 0x08;     // PM_TMR, 32-bit read-only
/// PM1_CNT bits (ACPI 6.5 §4.8.3.2.1 Table 4.13): SCI_EN bit 0, SLP_TYPx bits 12:10,
/// SLP_EN bit 13 (write-only, reads 0).
inline constexpr uint16_t kPm1ControlSciEnable = 0x0001;
inline constexpr uint16_t kPm1ControlSleepTypeMask = 0x1c00;
inline constexpr uint16_t kPm1ControlSleepTypeShift = 10;
inline constexpr uint16_t kPm1ControlSleepEnable = 0x2000;
/// SLP_TYP of soft-off on this chipset: 0, what QEMU's PIIX4 DSDT puts in \_S5 and what
/// OVMF's ResetShutdown() (OvmfPkg/Library/ResetSystemLib/BaseResetShutdown.c) writes.
inline constexpr uint16_t kPiix4SoftOffSleepType = 0;
/// ACPI PM timer frequency (ACPI 6.5 §4.8.3.3): 3.579545 MHz.
inline constexpr uint64_t kPmTimerHz = 3'579'545;
/// The timer is 24 bits wide (FADT flag TMR_VAL_EXT clear; PIIX4 has a 24-bit timer).
inline constexpr uint32_t kPmTimerMask = 0x00ff'ffff;

/// The PM timer value `elapsed_ns` after the timer started: ticks of 3.579545 MHz, rounded
/// down, modulo 2^24. Pure.
uint32_t pm_timer_value(uint64_t elapsed_ns) noexcept;

/// PM1a status/enable/control and the PM timer. Reads of any width at any offset return the
/// little-endian bytes of the registers (offsets 0x0c-0x3f, the GPE and processor blocks,
/// read 0; writes there are dropped). PM1 writes of 1 or 2 bytes update the bytes written.
/// A PM1_CNT write with SLP_EN and SLP_TYP = 0 asks the sink to power off; other sleep types
/// are logged and ignored. Status bits are never set (no SCI is ever raised).
///
/// Thread-safety: a private mutex serialises accesses; the sink is called with it held.
class AcpiPmIo final : public BusDevice {
 public:
  using Clock = uint64_t (*)() noexcept;  // nanoseconds, monotonic
  /// The timer starts at 0 when the device is created; `clock` is injectable for tests.
  explicit AcpiPmIo(PowerRequestSink& sink, Clock clock);

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

 private:
  /// The register byte at `offset` (0 outside the modelled registers). Caller holds mutex_.
  uint8_t register_byte_locked(uint64_t offset, uint32_t timer) const;
  void write_control_locked(uint16_t value);

  PowerRequestSink& sink_;
  const Clock clock_;
  const uint64_t start_ns_;
  std::mutex mutex_;
  uint16_t status_ = 0;   // guarded by mutex_
  uint16_t enable_ = 0;   // guarded by mutex_
  uint16_t control_ = 0;  // guarded by mutex_; SLP_EN never stored
};

}  // namespace cvm::devices::acpi
