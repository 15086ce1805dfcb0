// SPDX-License-Identifier: Apache-2.0
// The guest's physical memory map as e820 entries: the one map given to the kernel through
// the zero page (boot_params.e820_table) and through PVH (hvm_start_info.memmap). Pure.
#pragma once

#include <cstdint>
#include <vector>

#include "vmm/x86/layout.h"

namespace cvm::vmm::x86 {

/// e820 range types (ACPI 6.5 §15.1 Table 15.1; Xen XEN_HVM_MEMMAP_TYPE_* use the same values).
enum class E820Type : uint32_t {
  kRam = 1,
  kReserved = 2,
  kAcpi = 3,
  kNvs = 4,
  kUnusable = 5,
};

/// One e820 range. Wire form (boot_e820_entry, 20 bytes packed): addr u64 @0, size u64 @8,
/// type u32 @16.
struct E820Entry {
  uint64_t addr = 0;
  uint64_t size = 0;
  E820Type type = E820Type::kRam;
  friend bool operator==(const E820Entry&, const E820Entry&) = default;
};

/// The map for `layout`, sorted by address, no overlaps:
///   [0, kEbdaStart) RAM; [kEbdaStart, kLegacyHoleStart) reserved (EBDA);
///   [kAcpiTablesAddress, 1 MiB) reserved (ACPI tables and the BIOS area the RSDP scan reads);
///   [1 MiB, low_ram_end) RAM; [4 GiB, 4 GiB + high_ram_bytes) RAM if any.
/// The MMIO hole and device windows are not listed (they are not memory).
std::vector<E820Entry> build_e820_map(const MemoryLayout& layout);

/// The map for a firmware boot (what fw_cfg's etc/e820 should hold), sorted, no overlaps:
///   [0, low_ram_end) RAM (the firmware owns low memory and reserves what it uses);
///   `firmware` reserved (the image mapped below 4 GiB, see firmware_region());
///   [4 GiB, 4 GiB + high_ram_bytes) RAM if any.
/// The MMIO hole [low_ram_end, 4 GiB) outside the firmware stays unlisted, as on QEMU.
/// OVMF (edk2-stable202211 PlatformScanOrAdd64BitE820Ram) uses only the RAM entries.
std::vector<E820Entry> build_firmware_e820_map(const MemoryLayout& layout,
                                               const RamRegion& firmware);

}  // namespace cvm::vmm::x86
