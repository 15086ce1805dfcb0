// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/e820.h"

namespace cvm::vmm::x86 {

std::vector<E820Entry> build_e820_map(const MemoryLayout& layout) {
  std::vector<E820Entry> map = {
      {.addr = 0, .size = kEbdaStart, .type = E820Type::kRam},
      {.addr = kEbdaStart, .size = kLegacyHoleStart - kEbdaStart, .type = E820Type::kReserved},
      {.addr = kAcpiTablesAddress,
       .size = kAcpiTablesEnd - kAcpiTablesAddress,
       .type = E820Type::kReserved},
      {.addr = kKernelMinAddress,
       .size = layout.low_ram_end - kKernelMinAddress,
       .type = E820Type::kRam},
  };
  if (layout.high_ram_bytes != 0) {
    map.push_back({.addr = kHighRamStart, .size = layout.high_ram_bytes, .type = E820Type::kRam});
  }
  return map;
}

std::vector<E820Entry> build_firmware_e820_map(const MemoryLayout& layout,
                                               const RamRegion& firmware) {
  std::vector<E820Entry> map = {
      {.addr = 0, .size = layout.low_ram_end, .type = E820Type::kRam},
      {.addr = firmware.gpa, .size = firmware.size, .type = E820Type::kReserved},
  };
  if (layout.high_ram_bytes != 0) {
    map.push_back({.addr = kHighRamStart, .size = layout.high_ram_bytes, .type = E820Type::kRam});
  }
  return map;
}

}  // namespace cvm::vmm::x86
