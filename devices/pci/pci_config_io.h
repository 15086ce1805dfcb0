// SPDX-License-Identifier: Apache-2.0
// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, §3.2.2.3.2) on I/O ports
// 0xcf8-0xcff, for bus 0 only, plus the PIIX3 reset control register that shares byte port
// 0xcf9 on PC chipsets (Intel 82371SB PIIX3 datasheet, "Reset Control Register"; OVMF's
// ResetSystemLib writes it first to reset). Included by the machine and its tests.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "base/result.h"
#include "devices/bus.h"
#include "devices/pci/pci_function.h"
#include "devices/power_request.h"

namespace cvm::devices::pci {

inline constexpr uint16_t kPciConfigIoBase = 0xcf8;  // CONFIG_ADDRESS 0xcf8, CONFIG_DATA 0xcfc
inline constexpr uint64_t kPciConfigIoCount = 8;
inline constexpr uint16_t kResetControlPort = 0xcf9;

/// CONFIG_ADDRESS fields: enable bit 31, bus 23:16, device 15:11, function 10:8, register 7:2.
/// Bits 30:24 and 1:0 are reserved and read as 0.
inline constexpr uint32_t kConfigAddressEnable = 0x80000000;
inline constexpr uint32_t kConfigAddressWritable = 0x80fffffc;

/// Reset control register bits (PIIX3): RCPU (bit 2) resets, SRST (bit 1) selects a hard reset.
inline constexpr uint8_t kResetControlResetCpu = 0x04;
inline constexpr uint8_t kResetControlSystemReset = 0x02;

/// The bus-0 configuration space as a BusDevice of kPciConfigIoCount ports.
///
/// CONFIG_ADDRESS takes only 32-bit writes at 0xcf8 (narrower writes are ignored, except the
/// byte at 0xcf9, which is the reset control register); reads of any width return its bytes.
/// CONFIG_DATA (0xcfc-0xcff) reads and writes 1, 2 or 4 bytes at register + (port - 0xcfc).
/// With the enable bit clear, a bus other than 0, or no function at the address, reads return
/// all-ones and writes are dropped (PCI 3.0 §6.1: master abort). A write of RCPU to 0xcf9
/// asks the sink for a reset.
///
/// Thread-safety: one private mutex serialises every access and every function's state; the
/// PowerRequestSink is called with it held. Functions may touch other buses from
/// on_config_write (PIIX4 PM moves its I/O block); they never call back into this device.
class PciConfigIo final : public BusDevice {
 public:
  explicit PciConfigIo(PowerRequestSink& sink) noexcept : sink_(sink) {}

  /// Places `function` at 00:device.function. Errors: kInvalidArgument when device > 31,
  /// function > 7, the slot is taken or `function` is null. Call before the vCPUs run.
  [[nodiscard]] Result<void> add_function(uint8_t device, uint8_t function,
                                          std::unique_ptr<PciFunction> pci_function);

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

 private:
  static constexpr std::size_t kSlots = 32 * 8;
  /// The function CONFIG_ADDRESS selects, or null. Caller holds mutex_.
  PciFunction* selected_locked() const;
  void write_address_locked(uint64_t offset, std::span<const std::byte> data);

  PowerRequestSink& sink_;
  std::mutex mutex_;
  uint32_t address_ = 0;        // guarded by mutex_
  uint8_t reset_control_ = 0;   // guarded by mutex_
  std::array<std::unique_ptr<PciFunction>, kSlots> functions_;  // index device * 8 + function
};

}  // namespace cvm::devices::pci
