// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/pvh.h"

namespace cvm::vmm::x86 {

Result<std::vector<GuestBlob>> build_pvh_start_info(const PvhSpec& spec) {
  const std::size_t max_entries = kPageSize / kHvmMemmapEntrySize;
  if (spec.memmap.size() > max_entries) {
    return make_error(ErrorCode::kInvalidArgument,
                      "pvh memory map has {} entries; at most {} fit its page",
                      spec.memmap.size(), max_entries);
  }
  const bool has_module = spec.initrd_size != 0;
  GuestBlob info{.gpa = spec.start_info_gpa,
                 .bytes = std::vector<std::byte>(kHvmModlistOffset + kHvmModlistEntrySize),
                 .label = "pvh start info"};
  std::span<std::byte> s(info.bytes);
  put_le<uint32_t>(s, 0, kHvmStartMagic);
  put_le<uint32_t>(s, 4, kHvmStartVersion);
  put_le<uint32_t>(s, 8, 0);  // flags: none of SIF_* apply to an HVM/PVH domU
  put_le<uint32_t>(s, 12, has_module ? 1 : 0);
  put_le<uint64_t>(s, 16, has_module ? spec.start_info_gpa + kHvmModlistOffset : 0);
  put_le<uint64_t>(s, 24, spec.cmdline_gpa);
  put_le<uint64_t>(s, 32, spec.rsdp_gpa);
  put_le<uint64_t>(s, 40, spec.memmap_gpa);
  put_le<uint32_t>(s, 48, static_cast<uint32_t>(spec.memmap.size()));
  if (has_module) {
    put_le<uint64_t>(s, kHvmModlistOffset + 0, spec.initrd_gpa);
    put_le<uint64_t>(s, kHvmModlistOffset + 8, spec.initrd_size);
    put_le<uint64_t>(s, kHvmModlistOffset + 16, 0);  // no per-module command line
  }

  GuestBlob memmap{.gpa = spec.memmap_gpa,
                   .bytes = std::vector<std::byte>(spec.memmap.size() * kHvmMemmapEntrySize),
                   .label = "pvh memory map"};
  std::span<std::byte> m(memmap.bytes);
  for (std::size_t i = 0; i < spec.memmap.size(); ++i) {
    const std::size_t at = i * kHvmMemmapEntrySize;
    put_le<uint64_t>(m, at, spec.memmap[i].addr);
    put_le<uint64_t>(m, at + 8, spec.memmap[i].size);
    put_le<uint32_t>(m, at + 16, static_cast<uint32_t>(spec.memmap[i].type));
  }
  std::vector<GuestBlob> blobs;
  blobs.push_back(std::move(info));
  blobs.push_back(std::move(memmap));
  return blobs;
}

}  // namespace cvm::vmm::x86
