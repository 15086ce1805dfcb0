// SPDX-License-Identifier: Apache-2.0
// The PCI functions of an i440FX/PIIX PC that OVMF (OvmfPkgX64) needs, identified as QEMU's
// "pc" machine identifies them (vmm/x86/FIRMWARE-PLATFORM.md says why this host bridge):
//   00:00.0  i440FX host bridge   8086:1237 rev 02 class 060000   (OvmfPlatforms.h: the DID
//            OVMF reads first, INTEL_82441_DEVICE_ID)
//   00:01.0  PIIX3 ISA bridge     8086:7000 rev 00 class 060100, multi-function (OVMF's BDS
//            writes its PIRQ routing registers 0x60-0x63; SioBusDxe hangs COM1 off it)
//   00:01.3  PIIX4 power mgmt     8086:7113 rev 03 class 068000 (PMBA 0x40, PMREGMISC 0x80:
//            OVMF programs PMBA = 0xb000 and then reads the ACPI PM timer at PMBA + 8)
// No function decodes a BAR. Device-specific registers (0x40-0xff) are plain storage that
// keeps what the guest writes, except the PIIX4 registers below. Included by vmm/ and tests.
#pragma once

#include <cstdint>
#include <memory>

#include "devices/acpi/acpi_pm_io.h"
#include "devices/bus.h"
#include "devices/pci/pci_function.h"

namespace cvm::devices::pci {

inline constexpr uint16_t kIntelVendorId = 0x8086;
inline constexpr uint16_t kI440fxDeviceId = 0x1237;   // 82441FX PMC (OVMF: INTEL_82441_DEVICE_ID)
inline constexpr uint16_t kPiix3IsaDeviceId = 0x7000;  // 82371SB PIIX3 function 0
inline constexpr uint16_t kPiix4PmDeviceId = 0x7113;   // 82371AB PIIX4 function 3

/// PIIX4 function 3 registers (82371AB datasheet §7.1): PMBA at 0x40 (bits 15:6 base,
/// bit 0 RTE hard-wired 1), PMREGMISC at 0x80 (bit 0 PMIOSE: decode the PM I/O block).
inline constexpr uint32_t kPiix4PmbaOffset = 0x40;
inline constexpr uint32_t kPiix4PmRegMiscOffset = 0x80;
inline constexpr uint16_t kPiix4PmbaBaseMask = 0xffc0;
inline constexpr uint8_t kPiix4PmRegMiscIoEnable = 0x01;
/// PIIX3 PIRQ route control registers 0x60-0x63 reset to 0x80 (routing disabled).
inline constexpr uint32_t kPiix3PirqRouteOffset = 0x60;

/// 00:00.0. Registers 0x40-0xff are storage; SMRAM (0x72) resets to 0x02 as on the 82441FX.
std::unique_ptr<PciFunction> make_i440fx_host_bridge();
/// 00:01.0. Registers 0x40-0xff are storage; PIRQRC[A-D] reset to 0x80.
std::unique_ptr<PciFunction> make_piix3_isa_bridge();

/// 00:01.3: keeps `pm_io` mapped on `pio` at PMBA & 0xffc0 (kPmIoSize ports) while PMIOSE is
/// set and the base is not 0, moving it whenever the guest changes either (QEMU's PIIX4 does
/// the same). A base the bus refuses (overlapping another device) leaves the block unmapped
/// and is logged. `pio` must outlive the function; the mapping is left in place at
/// destruction (the bus owns its own reference to `pm_io` and is usually torn down first).
class Piix4PowerManagement final : public PciFunction {
 public:
  Piix4PowerManagement(Bus& pio, std::shared_ptr<acpi::AcpiPmIo> pm_io);

  /// The port the PM block is mapped at, or 0 when it is not mapped.
  uint16_t mapped_base() const noexcept { return mapped_base_; }

 protected:
  void on_config_write(uint32_t offset, std::size_t size) override;

 private:
  Bus& pio_;
  std::shared_ptr<acpi::AcpiPmIo> pm_io_;
  uint16_t mapped_base_ = 0;
};

}  // namespace cvm::devices::pci
