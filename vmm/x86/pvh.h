// SPDX-License-Identifier: Apache-2.0
// Builds the PVH boot structures: struct hvm_start_info (version 1), its module list (the
// initrd) and its memory map (Xen xen/include/public/arch-x86/hvm/start_info.h;
// docs/misc/pvh.pandoc). Pure: values in, blobs out.
//
// Wire layouts (all little-endian, naturally aligned):
//   hvm_start_info (56 bytes): magic u32 @0, version u32 @4, flags u32 @8, nr_modules u32 @12,
//     modlist_paddr u64 @16, cmdline_paddr u64 @24, rsdp_paddr u64 @32, memmap_paddr u64 @40,
//     memmap_entries u32 @48, reserved u32 @52
//   hvm_modlist_entry (32 bytes): paddr u64 @0, size u64 @8, cmdline_paddr u64 @16, reserved @24
//   hvm_memmap_table_entry (24 bytes): addr u64 @0, size u64 @8, type u32 @16, reserved u32 @20
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "vmm/x86/byte_writer.h"
#include "vmm/x86/e820.h"

namespace cvm::vmm::x86 {

inline constexpr uint32_t kHvmStartMagic = 0x336ec578;  // XEN_HVM_START_MAGIC_VALUE
inline constexpr uint32_t kHvmStartVersion = 1;         // adds memmap_paddr/memmap_entries
inline constexpr std::size_t kHvmStartInfoSize = 56;
inline constexpr std::size_t kHvmModlistEntrySize = 32;
inline constexpr std::size_t kHvmMemmapEntrySize = 24;
/// The module list follows hvm_start_info in the same page, 64-byte aligned.
inline constexpr std::size_t kHvmModlistOffset = 0x40;

/// Inputs of build_pvh_start_info.
struct PvhSpec {
  uint64_t cmdline_gpa = 0;  // 0: no command line
  uint64_t initrd_gpa = 0;
  uint64_t initrd_size = 0;  // 0: no module
  uint64_t rsdp_gpa = 0;     // 0: no ACPI (the guest scans itself)
  std::span<const E820Entry> memmap{};
  uint64_t start_info_gpa = kPvhStartInfoAddress;
  uint64_t memmap_gpa = kPvhMemmapAddress;
};

/// The two blobs: start_info (+ module list) at spec.start_info_gpa, memmap at spec.memmap_gpa.
/// EBX of the PVH entry is spec.start_info_gpa.
/// Errors: kInvalidArgument if the memory map does not fit one 4 KiB page (170 entries).
[[nodiscard]] Result<std::vector<GuestBlob>> build_pvh_start_info(const PvhSpec& spec);

}  // namespace cvm::vmm::x86
