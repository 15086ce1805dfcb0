// SPDX-License-Identifier: Apache-2.0
// HW-reduced ACPI sleep control / sleep status registers and the FADT reset register, as
// three 8-bit I/O ports. The FADT (vmm/x86, helper "x86") points SLEEP_CONTROL_REG,
// SLEEP_STATUS_REG and RESET_REG at the ports below and the DSDT's \_S5 package carries
// kAcpiS5SleepType. Included by the machine and by the ACPI table builder (constants only).
#pragma once

#include <cstdint>
#include <mutex>
#include <span>

#include "devices/bus.h"
#include "devices/power_request.h"

namespace cvm::devices::acpi {

/// I/O ports (x86 port space, each an 8-bit register; GAS: SystemIO, bit width 8, offset 0,
/// access size 1 = byte). The device occupies kAcpiPowerPortBase .. + kAcpiPowerPortCount.
inline constexpr uint16_t kAcpiPowerPortBase = 0x600;
inline constexpr uint16_t kAcpiSleepControlPort = 0x600;
inline constexpr uint16_t kAcpiSleepStatusPort = 0x601;
inline constexpr uint16_t kAcpiResetPort = 0x602;
inline constexpr uint64_t kAcpiPowerPortCount = 3;

/// Value the FADT's RESET_VALUE holds; writing it to kAcpiResetPort requests a reset.
inline constexpr uint8_t kAcpiResetValue = 0x01;

/// SLP_TYPx value of S5 (soft off); the DSDT's \_S5 package must hold this value.
inline constexpr uint8_t kAcpiS5SleepType = 5;

/// Sleep control register bits (ACPI 6.5 §4.8.3.7 "Sleep Control and Status Registers").
inline constexpr uint8_t kSleepControlTypeShift = 2;    // SLP_TYPx, bits 4:2
inline constexpr uint8_t kSleepControlTypeMask = 0x1c;
inline constexpr uint8_t kSleepControlEnable = 0x20;    // SLP_EN, bit 5
/// Sleep status register (ACPI 6.5 §4.8.3.7): WAK_STS, bit 7, write-1-to-clear.
inline constexpr uint8_t kSleepStatusWake = 0x80;

/// The three registers. Writes of SLP_EN with SLP_TYP = 5 request power-off; the reset value
/// on the reset port requests a reset. Other sleep states are not supported: such a request is
/// logged and WAK_STS is set at once, so a guest polling for wake-up (ACPICA
/// acpi_hw_extended_sleep) resumes instead of spinning. Reads: control reads 0, status reads
/// WAK_STS, reset reads 0.
///
/// Thread-safety: a private mutex serialises accesses. The PowerRequestSink is called with it
/// held and must outlive the device.
class PowerDevice final : public BusDevice {
 public:
  explicit PowerDevice(PowerRequestSink& sink) noexcept : sink_(sink) {}

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

 private:
  void write_sleep_control(uint8_t value);

  PowerRequestSink& sink_;
  std::mutex mutex_;
  uint8_t sleep_status_ = 0;  // guarded by mutex_
};

}  // namespace cvm::devices::acpi
