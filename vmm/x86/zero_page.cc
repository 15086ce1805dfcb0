// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/zero_page.h"

#include "vmm/x86/setup_header.h"

namespace cvm::vmm::x86 {
namespace {

using namespace boot;  // NOLINT: offsets only

uint32_t low32(uint64_t v) { return static_cast<uint32_t>(v & 0xffffffffu); }
uint32_t high32(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

Result<void> write_header(std::span<std::byte> page, std::span<const std::byte> header) {
  if (header.empty()) {
    // ELF vmlinux: no header in the image. The kernel only checks these fields.
    put_le<uint16_t>(page, kBootFlag, kBootFlagMagic);
    put_le<uint32_t>(page, kHeader, kHeaderMagic);
    put_le<uint32_t>(page, kKernelAlignment, 0x01000000);  // 16 MiB, CONFIG_PHYSICAL_ALIGN
    return ok();
  }
  if (header.size() > kSetupHeaderLimit - kSetupSects) {
    return make_error(ErrorCode::kInvalidArgument,
                      "setup header of {:#x} bytes does not fit the zero page (at most {:#x})",
                      header.size(), kSetupHeaderLimit - kSetupSects);
  }
  put_bytes(page, kSetupSects, header);
  return ok();
}

void write_e820(std::span<std::byte> page, std::span<const E820Entry> e820) {
  put_le<uint8_t>(page, kE820Entries, static_cast<uint8_t>(e820.size()));
  for (std::size_t i = 0; i < e820.size(); ++i) {
    const std::size_t at = kE820Table + i * kE820EntrySize;
    put_le<uint64_t>(page, at, e820[i].addr);
    put_le<uint64_t>(page, at + 8, e820[i].size);
    put_le<uint32_t>(page, at + 16, static_cast<uint32_t>(e820[i].type));
  }
}

}  // namespace

Result<GuestBlob> build_zero_page(const ZeroPageSpec& spec) {
  if (spec.e820.size() > kE820MaxEntries) {
    return make_error(ErrorCode::kInvalidArgument,
                      "e820 map has {} entries; the zero page holds at most {}",
                      spec.e820.size(), kE820MaxEntries);
  }
  GuestBlob blob{.gpa = spec.gpa, .bytes = std::vector<std::byte>(kZeroPageSize),
                 .label = "zero page"};
  std::span<std::byte> page(blob.bytes);
  CVM_TRY(write_header(page, spec.setup_header));

  put_le<uint8_t>(page, kTypeOfLoader, kTypeOfLoaderUndefined);
  const auto loadflags = static_cast<uint8_t>(page[kLoadflags]);
  put_le<uint8_t>(page, kLoadflags, static_cast<uint8_t>(loadflags | kCanUseHeap));
  put_le<uint16_t>(page, kHeapEndPtr, kHeapEnd);

  put_le<uint32_t>(page, kCmdLinePtr, low32(spec.cmdline_gpa));
  put_le<uint32_t>(page, kExtCmdLinePtr, high32(spec.cmdline_gpa));
  put_le<uint32_t>(page, kCmdlineSize, spec.cmdline_size);

  put_le<uint32_t>(page, kRamdiskImage, low32(spec.initrd_gpa));
  put_le<uint32_t>(page, kExtRamdiskImage, high32(spec.initrd_gpa));
  put_le<uint32_t>(page, kRamdiskSize, low32(spec.initrd_size));
  put_le<uint32_t>(page, kExtRamdiskSize, high32(spec.initrd_size));

  put_le<uint64_t>(page, kAcpiRsdpAddr, spec.acpi_rsdp_gpa);
  write_e820(page, spec.e820);
  return blob;
}

}  // namespace cvm::vmm::x86
