// SPDX-License-Identifier: Apache-2.0
// PS/2 System Control Port A at I/O 0x92 ("fast A20 and reset", IBM PS/2 technical reference;
// the same byte on Intel PIIX/ICH chipsets). OVMF sets its A20 bit (IoOr8 (0x92, BIT1),
// OvmfPkg/Library/PlatformInitLib/Platform.c). Included by vmm/ and tests.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>

#include "devices/bus.h"
#include "devices/power_request.h"

namespace cvm::devices::legacy {

inline constexpr uint16_t kSystemControlPortA = 0x92;
inline constexpr uint64_t kSystemControlPortCount = 1;
/// Bit 0: a 0 -> 1 write pulses the CPU reset line. Bit 1: A20 gate (1 = enabled).
inline constexpr uint8_t kSystemControlFastReset = 0x01;
inline constexpr uint8_t kSystemControlA20 = 0x02;

/// Reads the byte last written (reset value 0x02: A20 enabled, as KVM never masks A20) with
/// bit 0 clear; writing bit 0 = 1 asks the sink for a reset. The A20 bit is stored but has no
/// effect. Accesses wider than a byte use the first byte (reads fill the rest with 0xff).
/// Thread-safety: a private mutex serialises accesses; the sink is called with it held.
class SystemControlPort final : public BusDevice {
 public:
  explicit SystemControlPort(PowerRequestSink& sink) noexcept : sink_(sink) {}

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

 private:
  PowerRequestSink& sink_;
  std::mutex mutex_;
  uint8_t value_ = kSystemControlA20;  // guarded by mutex_
};

}  // namespace cvm::devices::legacy
