// SPDX-License-Identifier: Apache-2.0
// What cvmm's fw_cfg device serves when a VM boots firmware (--firmware): the platform facts
// OVMF cannot otherwise learn, in QEMU's formats (QEMU hw/i386/fw_cfg.c, pc.c, x86-common.c):
//   etc/e820                       the firmware-boot memory map (x86::build_firmware_e820_map:
//                                  low RAM, the image reserved, high RAM; 20-byte entries)
//   etc/acpi/rsdp, etc/acpi/tables, etc/table-loader
//                                  the ACPI tables, relocated by the firmware
//                                  (vmm/x86/acpi/acpi_fw_cfg.h)
//   FW_CFG_RAM_SIZE (0x03)         LE u64 RAM bytes
//   FW_CFG_NB_CPUS (0x05), FW_CFG_MAX_CPUS (0x0f)
//                                  LE u16 boot vCPUs (cvmm has no CPU hotplug)
// and, with --kernel, the direct-boot items (firmware/fw_cfg_kernel.h): SETUP_SIZE/DATA
// (0x17/0x18), KERNEL_SIZE/DATA (0x08/0x11), INITRD_SIZE/DATA (0x0b/0x12, only with an
// initrd), CMDLINE_SIZE/DATA (0x14/0x15, the command line as given plus its NUL). The kernel
// and initrd are served exactly as given, which is what the SEV kernel hashes cover.
// Included by vmm/machine.cc and tests.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "devices/fw_cfg/fw_cfg_store.h"
#include "firmware/launch_plan.h"
#include "vmm/config/vm_config.h"
#include "vmm/x86/acpi/tables.h"
#include "vmm/x86/e820.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm {

inline constexpr std::string_view kE820File = "etc/e820";
/// One etc/e820 entry (edk2 EFI_E820_ENTRY64, QEMU struct e820_entry; packed, LE):
///   address u64 @0, length u64 @8, type u32 @16.
inline constexpr std::size_t kE820FileEntrySize = 20;

/// The etc/e820 bytes for `map`, in the given order.
std::vector<std::byte> build_e820_fw_cfg_file(std::span<const x86::E820Entry> map);

/// Everything the fw_cfg items are built from. Pure input.
struct FwCfgMachineSpec {
  x86::MemoryLayout layout{};
  x86::RamRegion firmware{};  // the image below 4 GiB, reserved in etc/e820
  uint32_t boot_vcpus = 1;
  x86::acpi::AcpiSpec acpi{};
  firmware::Blob kernel{};  // null: no direct-boot items
  firmware::Blob initrd{};  // null or empty: no initrd items
  std::string cmdline{};    // used only with a kernel
};

/// The store for `spec`. Errors: kMalformedImage naming the kernel when it is not a bzImage;
/// ACPI builder errors; kInvalidArgument for an initrd of 4 GiB or more.
[[nodiscard]] Result<devices::fw_cfg::FwCfgStore> build_machine_fw_cfg(const FwCfgMachineSpec& spec);

/// Kernel and initrd bytes the caller already holds (the confidential launch reads and
/// measures them); null members are read from the config's paths.
struct FwCfgPayload {
  firmware::Blob kernel{};
  firmware::Blob initrd{};
  uint64_t firmware_bytes = 0;  // image size; 0: the size of the --firmware file
};

/// The spec for `config` (whose RAM `layout` the machine computed) with `virtio_count`
/// virtio-mmio devices in slots 0.., reading the
/// kernel and initrd files that `payload` does not already hold.
/// Errors: kIo naming an unreadable file; kInvalidArgument for a bad slot count or firmware
/// image size (x86::firmware_region).
[[nodiscard]] Result<FwCfgMachineSpec> fw_cfg_machine_spec(const VmConfig& config,
                                                           const x86::MemoryLayout& layout,
                                                           std::size_t virtio_count,
                                                           FwCfgPayload payload);

}  // namespace cvm::vmm
