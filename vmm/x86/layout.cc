// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/layout.h"

#include <algorithm>

namespace cvm::vmm::x86 {

// The hard-coded low-memory map must stay ordered and below the kernel area.
static_assert(kGdtAddress + kPageSize <= kPageTablesAddress);
static_assert(kPageTablesEnd <= kPvhStartInfoAddress);
static_assert(kPvhStartInfoAddress + kPageSize <= kPvhMemmapAddress);
static_assert(kPvhMemmapAddress + kPageSize <= kZeroPageAddress);
static_assert(kZeroPageAddress + kPageSize < kBootStackTop);
static_assert(kBootStackTop <= kCmdlineAddress);
static_assert(kCmdlineAddress + kCmdlineMaxBytes <= kEbdaStart);
static_assert(kAcpiTablesEnd <= kKernelMinAddress);
static_assert(kVirtioMmioFirstIrq + kVirtioMmioMaxSlots <= kIoapicPins);
static_assert(kVirtioMmioBase + kVirtioMmioMaxSlots * kVirtioMmioSlotSize <= kIoapicAddress);
static_assert(kMmioHoleStart <= kVirtioMmioBase && kFirmwareEnd == kMmioHoleEnd);

Result<VirtioMmioSlot> virtio_mmio_slot(uint32_t index) {
  if (index >= kVirtioMmioMaxSlots) {
    return make_error(ErrorCode::kInvalidArgument,
                      "virtio-mmio slot {} is out of range: at most {} devices", index,
                      kVirtioMmioMaxSlots);
  }
  return VirtioMmioSlot{.base = kVirtioMmioBase + index * kVirtioMmioSlotSize,
                        .size = kVirtioMmioSlotSize,
                        .irq = kVirtioMmioFirstIrq + index};
}

std::vector<RamRegion> MemoryLayout::ram_regions() const {
  std::vector<RamRegion> regions{{.gpa = 0, .size = low_ram_end}};
  if (high_ram_bytes != 0) {
    regions.push_back({.gpa = kHighRamStart, .size = high_ram_bytes});
  }
  return regions;
}

Result<RamRegion> firmware_region(uint64_t image_bytes, std::string_view path) {
  if (image_bytes == 0 || image_bytes % kPageSize != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "firmware {}: size {:#x} is not a non-zero multiple of 4 KiB", path,
                      image_bytes);
  }
  if (image_bytes > kMaxFirmwareBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "firmware {}: size {} MiB exceeds the {} MiB firmware region below 4 GiB",
                      path, image_bytes / kMiB, kMaxFirmwareBytes / kMiB);
  }
  return RamRegion{.gpa = kFirmwareEnd - image_bytes, .size = image_bytes};
}

Result<MemoryLayout> compute_memory_layout(uint64_t ram_bytes) {
  if (ram_bytes % kPageSize != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "memory size {:#x} is not a multiple of 4 KiB", ram_bytes);
  }
  if (ram_bytes < kMinRamBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "memory size {} MiB is too small: the x86 layout needs at least {} MiB",
                      ram_bytes / kMiB, kMinRamBytes / kMiB);
  }
  if (ram_bytes > kMaxRamBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "memory size {} GiB is too large: at most {} GiB", ram_bytes / kGiB,
                      kMaxRamBytes / kGiB);
  }
  MemoryLayout layout;
  layout.ram_bytes = ram_bytes;
  layout.low_ram_end = std::min(ram_bytes, kMmioHoleStart);
  layout.high_ram_bytes = ram_bytes - layout.low_ram_end;
  return layout;
}

}  // namespace cvm::vmm::x86
