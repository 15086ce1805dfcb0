// SPDX-License-Identifier: Apache-2.0
// Parsing and loading of x86-64 Linux kernel images into guest RAM:
//   - bzImage (Documentation/arch/x86/boot.rst): setup header checks, protected-mode payload
//     copied to its load address, 64-bit entry = load address + 0x200 (XLF_KERNEL_64);
//   - ELF64 vmlinux: PT_LOAD segments copied to p_paddr, e_entry (physical, the linker script
//     sets ENTRY(phys_startup_64)) is the 64-bit entry, and the PVH entry comes from the
//     PT_NOTE XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen").
// Every field read from the image is bounds-checked and all arithmetic on it is checked; a
// corrupt image yields kMalformedImage naming the field, never a crash. Pure: the image is a
// byte span and guest RAM is a byte span mapping guest-physical [0, ram.size()).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"

namespace cvm::vmm::x86 {

enum class KernelFormat : uint8_t { kBzImage, kElf };

/// The setup-header facts cvmm uses, from a validated bzImage.
struct BzImageInfo {
  uint16_t version = 0;           // boot protocol, e.g. 0x020f
  uint32_t setup_bytes = 0;       // (setup_sects + 1) * 512: where the payload starts
  uint32_t syssize = 0;           // protected-mode size in 16-byte units
  uint8_t loadflags = 0;
  uint16_t xloadflags = 0;        // 0 before protocol 2.12
  bool relocatable = false;
  uint32_t kernel_alignment = 0;
  uint64_t pref_address = 0;      // 0x100000 before protocol 2.10
  uint32_t init_size = 0;         // bytes needed from the load address; 0 before 2.10
  uint32_t initrd_addr_max = 0;   // highest byte an initrd may occupy
  uint32_t cmdline_size = 0;      // max command line length without NUL
  std::span<const std::byte> setup_header{};  // image bytes [0x1f1, end of header)
  std::span<const std::byte> payload{};       // protected-mode kernel: [setup_bytes, end)
};

/// Validates a bzImage. Requires boot flag 0xaa55, "HdrS" at 0x202, protocol >= 2.06,
/// LOADED_HIGH, a payload of at least syssize * 16 bytes.
/// Errors: kMalformedImage naming the field (truncated header, bad magic, old protocol,
/// setup_sects beyond the image, syssize overflowing or beyond the image, ...).
[[nodiscard]] Result<BzImageInfo> parse_bzimage(std::span<const std::byte> image);

/// One PT_LOAD segment.
struct ElfSegment {
  uint64_t paddr = 0;
  uint64_t file_offset = 0;
  uint64_t file_size = 0;
  uint64_t mem_size = 0;
};

struct ElfKernelInfo {
  uint64_t entry = 0;                  // e_entry (physical for vmlinux)
  std::optional<uint32_t> pvh_entry{};   // XEN_ELFNOTE_PHYS32_ENTRY, if present
  std::vector<ElfSegment> segments{};    // PT_LOAD only, in program-header order
};

/// Validates an ELF64 little-endian x86-64 executable and reads its PT_LOAD segments and
/// the PVH note. Errors: kMalformedImage naming the field (class, data, machine, phentsize,
/// program headers or segment data beyond the file, p_filesz > p_memsz, overflowing
/// offsets, malformed notes, a PVH entry >= 4 GiB, no PT_LOAD segment).
[[nodiscard]] Result<ElfKernelInfo> parse_elf_kernel(std::span<const std::byte> image);

/// bzImage if "HdrS" is at 0x202, ELF if the file starts with "\x7fELF".
/// Errors: kMalformedImage "kernel image is neither a bzImage nor an ELF vmlinux".
[[nodiscard]] Result<KernelFormat> detect_kernel_format(std::span<const std::byte> image);

/// What load_kernel put in guest RAM and what the boot needs from the image.
struct LoadedKernel {
  KernelFormat format = KernelFormat::kBzImage;
  uint64_t entry64 = 0;                // Linux 64-bit entry (guest-physical)
  std::optional<uint32_t> pvh_entry{};   // PVH 32-bit entry (ELF with the Xen note only)
  uint64_t start = 0;                  // lowest guest-physical byte the kernel occupies
  uint64_t end = 0;                    // exclusive; includes init_size / p_memsz
  std::vector<std::byte> setup_header{};  // bzImage header bytes for the zero page; ELF: empty
  uint32_t cmdline_max = 0;            // longest command line the kernel takes (no NUL)
  uint64_t initrd_addr_max = 0;        // highest byte an initrd may occupy
};

/// Linux's x86 COMMAND_LINE_SIZE (2048 including NUL): the limit for an ELF vmlinux, which
/// has no cmdline_size field.
inline constexpr uint32_t kDefaultCmdlineMax = 2047;
/// initrd_addr_max for an ELF vmlinux (the bzImage default since protocol 2.03).
inline constexpr uint64_t kDefaultInitrdAddrMax = 0x7fffffff;

/// Detects the format and copies the kernel into `ram` (guest-physical [0, ram.size()), i.e.
/// low RAM). bzImage: loaded at pref_address (or the next kernel_alignment boundary at or
/// above 1 MiB when relocatable); the range [load, load + max(init_size, payload)) must lie
/// in [kKernelMinAddress, ram.size()). ELF: every PT_LOAD segment must lie there too;
/// bytes past p_filesz are zeroed. Errors: kMalformedImage from parsing, kInvalidArgument
/// when the kernel does not fit guest RAM (naming the range) or has no 64-bit entry.
[[nodiscard]] Result<LoadedKernel> load_kernel(std::span<const std::byte> image,
                                               std::span<std::byte> ram);

/// load_kernel for a bzImage (format already known). Same errors as load_kernel.
[[nodiscard]] Result<LoadedKernel> load_bzimage(std::span<const std::byte> image,
                                                std::span<std::byte> ram);
/// load_kernel for an ELF vmlinux (format already known). Same errors as load_kernel.
[[nodiscard]] Result<LoadedKernel> load_elf_kernel(std::span<const std::byte> image,
                                                   std::span<std::byte> ram);

/// Where to put an initrd of `size` bytes: page aligned, as high as possible below
/// min(ram_end, kernel.initrd_addr_max + 1), above kernel.end.
/// Errors: kInvalidArgument "initrd of N bytes does not fit ..." when there is no room.
[[nodiscard]] Result<uint64_t> place_initrd(uint64_t size, const LoadedKernel& kernel,
                                            uint64_t ram_end);

}  // namespace cvm::vmm::x86
