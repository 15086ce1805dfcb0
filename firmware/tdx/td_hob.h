// SPDX-License-Identifier: Apache-2.0
// The TD HOB: the PI HOB list the VMM places in the TD_HOB section to tell TDVF where guest RAM
// is and which of it is already accepted (tee-kvm-reference.md §2.8; PI spec vol. 3 §5; QEMU
// hw/i386/tdvf-hob.c). TDVF extends these bytes into RTMR[0] (when it measures at all), so the
// builder is deterministic: the same memory size and metadata always give the same bytes.
//
// cvmm's TDX guest-physical RAM layout (chosen here, used by the HOB, the plan and the backend):
//   [0, min(memory, 3 GiB))                RAM below the 32-bit MMIO hole
//   [3 GiB, 4 GiB)                         MMIO hole (PCI, LAPIC/IOAPIC, the TDVF image at the top)
//   [4 GiB, 4 GiB + memory - 3 GiB)        the rest of RAM, only when memory > 3 GiB
// Within RAM, the TD_HOB and TempMem sections of the TDVF metadata are PAGE.ADDed by the VMM and
// so are *accepted*; everything else is *unaccepted* and the TD accepts it itself.
//
// HOB list written (each HOB 8-byte aligned; all fields little-endian):
//   PHIT (EFI_HOB_HANDOFF_INFO_TABLE, 56 bytes)
//     @0 HobType u16 = 0x0001  @2 HobLength u16 = 56  @4 Reserved u32 = 0
//     @8 Version u32 = 9       @12 BootMode u32 = 0 (BOOT_WITH_FULL_CONFIGURATION)
//     @16 EfiMemoryTop, @24 EfiMemoryBottom, @32 EfiFreeMemoryTop, @40 EfiFreeMemoryBottom = 0
//     @48 EfiEndOfHobList u64 = GPA just past the End HOB
//   one Resource Descriptor (48 bytes) per RAM range, ascending address:
//     @0 HobType u16 = 0x0003  @2 HobLength u16 = 48  @4 Reserved u32 = 0
//     @8 Owner GUID (16 zero bytes)
//     @24 ResourceType u32: 0 SYSTEM_MEMORY (accepted) | 7 MEMORY_UNACCEPTED
//     @28 ResourceAttribute u32 = 0x7 (PRESENT | INITIALIZED | TESTED)
//     @32 PhysicalStart u64    @40 ResourceLength u64
//   End of HOB list (8 bytes): HobType u16 = 0xFFFF, HobLength u16 = 8, Reserved u32 = 0
// The rest of the TD_HOB section is zero (the plan range zero-fills past the HOB bytes).
#pragma once

#include "base/result.h"
#include "firmware/tdx/tdvf_metadata.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cvm::firmware::tdx {

inline constexpr uint64_t kTdxLowRamLimit = 0xC000'0000;    // 3 GiB: start of the MMIO hole
inline constexpr uint64_t kTdxHighRamBase = 0x1'0000'0000;  // 4 GiB

inline constexpr uint16_t kHobTypeHandoff = 0x0001;
inline constexpr uint16_t kHobTypeResourceDescriptor = 0x0003;
inline constexpr uint16_t kHobTypeEndOfHobList = 0xFFFF;
inline constexpr std::size_t kPhitHobSize = 56;
inline constexpr std::size_t kResourceHobSize = 48;
inline constexpr std::size_t kEndHobSize = 8;
inline constexpr uint32_t kPhitVersion = 9;               // EFI_HOB_HANDOFF_TABLE_VERSION
inline constexpr uint32_t kResourceSystemMemory = 0;      // EFI_RESOURCE_SYSTEM_MEMORY
inline constexpr uint32_t kResourceMemoryUnaccepted = 7;  // EFI_RESOURCE_MEMORY_UNACCEPTED
inline constexpr uint32_t kResourceAttributeTdvf = 0x7;   // PRESENT | INITIALIZED | TESTED

/// One guest RAM range as the HOB describes it.
struct TdRamRange {
  uint64_t start = 0;
  uint64_t size = 0;
  /// PAGE.ADDed by the VMM (TD_HOB/TempMem); otherwise left for the TD to accept.
  bool accepted = false;

  friend bool operator==(const TdRamRange&, const TdRamRange&) = default;
};

/// The RAM ranges of a TD with `memory_size` bytes of RAM in the layout above, split so that
/// every TD_HOB and TempMem section of `metadata` is its own accepted range; ascending address.
/// kInvalidArgument if `memory_size` is zero or not 4 KiB aligned, or if an accepted section
/// does not lie inside RAM (the memory size is too small for this firmware).
Result<std::vector<TdRamRange>> td_ram_ranges(uint64_t memory_size, const TdvfMetadata& metadata);

/// Builds the HOB list for `ram` to be placed at `hob_gpa` at the start of a TD_HOB section of
/// `section_size` bytes; returns the list up to and including the End HOB (the rest of the
/// section is zero). kInvalidArgument if the list does not fit the section.
Result<std::vector<std::byte>> build_td_hob(uint64_t hob_gpa, uint64_t section_size,
                                            std::span<const TdRamRange> ram);

}  // namespace cvm::firmware::tdx
