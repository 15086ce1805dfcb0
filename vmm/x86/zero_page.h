// SPDX-License-Identifier: Apache-2.0
// Builds the Linux zero page (struct boot_params) for the 64-bit boot protocol
// (Documentation/arch/x86/boot.rst "64-bit BOOT PROTOCOL", zero-page.rst). Pure: values in,
// one 4 KiB page of bytes out. Included by the x86 boot assembly and tests.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "vmm/x86/byte_writer.h"
#include "vmm/x86/e820.h"

namespace cvm::vmm::x86 {

/// Inputs of build_zero_page.
struct ZeroPageSpec {
  /// Setup header bytes from a bzImage, starting at image offset 0x1f1 (copied to the same
  /// offset, then patched). Empty for an ELF vmlinux: boot_flag, header magic and
  /// kernel_alignment are synthesised instead.
  std::span<const std::byte> setup_header{};
  uint64_t cmdline_gpa = 0;
  /// Command line length in bytes without the terminating NUL.
  uint32_t cmdline_size = 0;
  uint64_t initrd_gpa = 0;  // 0 with initrd_size 0: no initrd
  uint64_t initrd_size = 0;
  uint64_t acpi_rsdp_gpa = 0;  // 0: the kernel scans 0xe0000-0xfffff itself
  std::span<const E820Entry> e820{};
  uint64_t gpa = kZeroPageAddress;  // where the page will be placed (for the blob)
};

/// The zero page at spec.gpa. Sets type_of_loader 0xff, loadflags |= CAN_USE_HEAP,
/// heap_end_ptr 0xfe00, cmd_line_ptr (+ ext_cmd_line_ptr), ramdisk_image/size (+ ext_*),
/// acpi_rsdp_addr, e820_entries and e820_table.
/// cmdline_size is set to the actual length (as Firecracker does; the kernel does not read it
/// back). 64-bit addresses are split into the field and its ext_* high half.
/// Errors (kInvalidArgument): more than 128 e820 entries; a setup header longer than the zero
/// page's header area (0x1f1..0x290).
[[nodiscard]] Result<GuestBlob> build_zero_page(const ZeroPageSpec& spec);

}  // namespace cvm::vmm::x86
