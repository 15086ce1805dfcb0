// SPDX-License-Identifier: Apache-2.0
// The PC platform pieces a UEFI firmware (OVMF) reads before it reaches a kernel, added to a
// machine's port-I/O bus whenever cvmm boots --firmware (vmm/x86/FIRMWARE-PLATFORM.md):
//   0x0070-0x0071  CMOS/RTC, memory-size bytes from the machine's RAM layout
//   0x0092         System Control Port A (A20 bit kept, bit 0 = reset)
//   0x0cf8-0x0cff  PCI configuration mechanism #1 (+ PIIX3 reset control at 0xcf9) with
//                  00:00.0 i440FX host bridge, 00:01.0 PIIX3 ISA bridge, 00:01.3 PIIX4 PM
//   PMBA (0xb000)  PIIX4 ACPI PM block (PM1 registers, PM timer), mapped once the firmware
//                  programs PMBA and PMIOSE
// Direct kernel boots do not get these: their guests never look. Confidential firmware boots
// also get insert_firmware_rom() on the MMIO bus. Owned by vmm::Machine.
#pragma once

#include <cstdint>

#include "base/result.h"
#include "devices/bus.h"
#include "devices/power_request.h"
#include "firmware/launch_plan.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm {

/// Inserts the devices above into `pio`; `sink` receives power-off (PM1a_CNT) and reset
/// (0xcf9, 0x92) requests and, like `pio`, must outlive the devices.
/// Errors: kInvalidArgument when a port range is already taken (Bus::insert's message).
[[nodiscard]] Result<void> insert_firmware_platform(devices::Bus& pio,
                                                    devices::PowerRequestSink& sink,
                                                    const x86::MemoryLayout& layout,
                                                    uint32_t vcpu_count);

/// Confidential firmware boots: maps the plan's firmware ranges (the first
/// plan.firmware_ranges, i.e. the image the TEE launched) on `mmio` as read-only
/// devices::firmware_rom::FirmwareRom windows sharing the plan's bytes. Under SEV-ES/SNP, OVMF
/// writes its variable store through VMGEXIT MMIO at those addresses (FIRMWARE-PLATFORM.md item
/// 9); they are dropped, as QEMU's `-bios` ROM drops them, instead of reaching the bus as
/// unhandled. A plan without firmware ranges (TDX's) maps nothing.
/// Errors: kInvalidArgument when a range overlaps a device already on `mmio`.
[[nodiscard]] Result<void> insert_firmware_rom(devices::Bus& mmio,
                                               const firmware::LaunchPlan& plan);

}  // namespace cvm::vmm
