// SPDX-License-Identifier: Apache-2.0
// Format detection, dispatch and initrd placement.
#include <algorithm>
#include <array>

#include "base/checked.h"
#include "vmm/x86/kernel_image.h"
#include "vmm/x86/layout.h"
#include "vmm/x86/setup_header.h"

namespace cvm::vmm::x86 {

Result<KernelFormat> detect_kernel_format(std::span<const std::byte> image) {
  constexpr std::array<char, 4> kElfMagic = {'\x7f', 'E', 'L', 'F'};
  constexpr std::array<char, 4> kHdrS = {'H', 'd', 'r', 'S'};
  auto has_at = [&](std::size_t offset, const std::array<char, 4>& magic) {
    if (!range_within<std::size_t>(offset, magic.size(), image.size())) {
      return false;
    }
    return std::equal(magic.begin(), magic.end(), image.begin() + static_cast<long>(offset),
                      [](char c, std::byte b) { return static_cast<std::byte>(c) == b; });
  };
  if (has_at(boot::kHeader, kHdrS)) {
    return KernelFormat::kBzImage;
  }
  if (has_at(0, kElfMagic)) {
    return KernelFormat::kElf;
  }
  return make_error(ErrorCode::kMalformedImage,
                    "kernel image is neither a bzImage nor an ELF vmlinux");
}

Result<LoadedKernel> load_kernel(std::span<const std::byte> image, std::span<std::byte> ram) {
  CVM_ASSIGN_OR_RETURN(auto format, detect_kernel_format(image));
  if (format == KernelFormat::kBzImage) {
    return load_bzimage(image, ram);
  }
  return load_elf_kernel(image, ram);
}

Result<uint64_t> place_initrd(uint64_t size, const LoadedKernel& kernel, uint64_t ram_end) {
  auto limit = checked_add<uint64_t>(kernel.initrd_addr_max, 1);
  const uint64_t top = std::min(ram_end, limit.value_or(ram_end));
  const uint64_t floor = checked_align_up<uint64_t>(std::max(kernel.end, kKernelMinAddress),
                                                    kPageSize)
                             .value_or(UINT64_MAX);
  auto start = checked_sub<uint64_t>(top, size);
  if (size == 0 || !start || (*start & ~(kPageSize - 1)) < floor) {
    return make_error(ErrorCode::kInvalidArgument,
                      "initrd of {} bytes does not fit between the kernel end {:#x} and "
                      "{:#x} (min of low ram end and initrd_addr_max + 1)",
                      size, floor, top);
  }
  return *start & ~(kPageSize - 1);
}

}  // namespace cvm::vmm::x86
