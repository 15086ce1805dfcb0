// SPDX-License-Identifier: Apache-2.0
// ELF64 vmlinux parsing and loading (System V gABI ch. 4-5; x86-64 psABI; Xen
// xen/include/public/elfnote.h for XEN_ELFNOTE_PHYS32_ENTRY).
//
// Ehdr64 (64 bytes): e_ident[16] @0, e_type u16 @16, e_machine u16 @18, e_version u32 @20,
//   e_entry u64 @24, e_phoff u64 @32, e_shoff u64 @40, e_flags u32 @48, e_ehsize u16 @52,
//   e_phentsize u16 @54, e_phnum u16 @56, ...
// Phdr64 (56 bytes): p_type u32 @0, p_flags u32 @4, p_offset u64 @8, p_vaddr u64 @16,
//   p_paddr u64 @24, p_filesz u64 @32, p_memsz u64 @40, p_align u64 @48
// Note: n_namesz u32 @0, n_descsz u32 @4, n_type u32 @8, name (4-byte padded), desc (padded)
#include <algorithm>

#include "base/byte_reader.h"
#include "base/checked.h"
#include "vmm/x86/kernel_image.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm::x86 {
namespace {

constexpr std::size_t kEhdrSize = 64;
constexpr std::size_t kPhdrSize = 56;
constexpr uint8_t kElfClass64 = 2;
constexpr uint8_t kElfDataLsb = 1;
constexpr uint16_t kEtExec = 2;
constexpr uint16_t kEmX86_64 = 62;
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtNote = 4;
constexpr uint32_t kXenElfnotePhys32Entry = 18;

Result<void> check_ident(const ByteReader& r) {
  CVM_ASSIGN_OR_RETURN(auto ident, r.slice(0, kEhdrSize, "ELF header"));
  if (static_cast<uint8_t>(ident[4]) != kElfClass64) {
    return make_error(ErrorCode::kMalformedImage, "vmlinux: e_ident[EI_CLASS] is {}, not ELF64",
                      static_cast<uint8_t>(ident[4]));
  }
  if (static_cast<uint8_t>(ident[5]) != kElfDataLsb) {
    return make_error(ErrorCode::kMalformedImage,
                      "vmlinux: e_ident[EI_DATA] is {}, not little-endian",
                      static_cast<uint8_t>(ident[5]));
  }
  CVM_ASSIGN_OR_RETURN(auto type, r.le<uint16_t>(16, "e_type"));
  if (type != kEtExec) {
    return make_error(ErrorCode::kMalformedImage, "vmlinux: e_type is {}, not ET_EXEC", type);
  }
  CVM_ASSIGN_OR_RETURN(auto machine, r.le<uint16_t>(18, "e_machine"));
  if (machine != kEmX86_64) {
    return make_error(ErrorCode::kMalformedImage, "vmlinux: e_machine is {}, not x86-64",
                      machine);
  }
  return ok();
}

/// Scans one PT_NOTE segment's bytes for the Xen PHYS32_ENTRY note.
Result<std::optional<uint32_t>> find_pvh_note(std::span<const std::byte> notes) {
  const ByteReader r(notes, "vmlinux PT_NOTE");
  std::size_t at = 0;
  while (r.size() - at >= 12) {
    CVM_ASSIGN_OR_RETURN(auto namesz, r.le<uint32_t>(at, "n_namesz"));
    CVM_ASSIGN_OR_RETURN(auto descsz, r.le<uint32_t>(at + 4, "n_descsz"));
    CVM_ASSIGN_OR_RETURN(auto type, r.le<uint32_t>(at + 8, "n_type"));
    auto name_end = checked_add<uint64_t>(at + 12, namesz);
    auto desc_at = name_end ? checked_align_up<uint64_t>(*name_end, 4) : std::nullopt;
    auto desc_end = desc_at ? checked_add<uint64_t>(*desc_at, descsz) : std::nullopt;
    auto next = desc_end ? checked_align_up<uint64_t>(*desc_end, 4) : std::nullopt;
    if (!next || *desc_end > r.size()) {
      return make_error(ErrorCode::kMalformedImage,
                        "vmlinux: note at offset {:#x} (namesz {:#x}, descsz {:#x}) runs past "
                        "its PT_NOTE segment (size {:#x})",
                        at, namesz, descsz, r.size());
    }
    CVM_ASSIGN_OR_RETURN(auto name, r.slice(at + 12, namesz, "n_name"));
    const bool is_xen = namesz == 4 && std::equal(name.begin(), name.end(),
                                                  as_bytes(std::string_view("Xen\0", 4)).begin());
    if (is_xen && type == kXenElfnotePhys32Entry) {
      if (descsz == 4) {
        CVM_ASSIGN_OR_RETURN(auto entry, r.le<uint32_t>(*desc_at, "PHYS32_ENTRY"));
        return std::optional<uint32_t>(entry);
      }
      CVM_ASSIGN_OR_RETURN(auto entry, r.le<uint64_t>(*desc_at, "PHYS32_ENTRY"));
      if (descsz != 8 || entry > 0xffffffffu) {
        return make_error(ErrorCode::kMalformedImage,
                          "vmlinux: XEN_ELFNOTE_PHYS32_ENTRY (descsz {}) value {:#x} is not "
                          "a 32-bit address",
                          descsz, entry);
      }
      return std::optional<uint32_t>(static_cast<uint32_t>(entry));
    }
    at = static_cast<std::size_t>(std::min<uint64_t>(*next, r.size()));
  }
  return std::optional<uint32_t>();
}

/// Reads one program header into `info` (PT_LOAD recorded, PT_NOTE searched).
Result<void> read_phdr(const ByteReader& r, std::size_t at, ElfKernelInfo& info) {
  CVM_ASSIGN_OR_RETURN(auto type, r.le<uint32_t>(at, "p_type"));
  if (type != kPtLoad && type != kPtNote) {
    return ok();
  }
  ElfSegment seg;
  CVM_ASSIGN_OR_RETURN(seg.file_offset, r.le<uint64_t>(at + 8, "p_offset"));
  CVM_ASSIGN_OR_RETURN(seg.paddr, r.le<uint64_t>(at + 24, "p_paddr"));
  CVM_ASSIGN_OR_RETURN(seg.file_size, r.le<uint64_t>(at + 32, "p_filesz"));
  CVM_ASSIGN_OR_RETURN(seg.mem_size, r.le<uint64_t>(at + 40, "p_memsz"));
  if (!range_within<uint64_t>(seg.file_offset, seg.file_size, r.size())) {
    return make_error(ErrorCode::kMalformedImage,
                      "vmlinux: segment data [p_offset {:#x}, +p_filesz {:#x}) runs past the "
                      "end (size {:#x})",
                      seg.file_offset, seg.file_size, r.size());
  }
  if (type == kPtNote) {
    if (info.pvh_entry) {
      return ok();
    }
    CVM_ASSIGN_OR_RETURN(info.pvh_entry,
                         find_pvh_note(r.bytes().subspan(seg.file_offset, seg.file_size)));
    return ok();
  }
  if (seg.file_size > seg.mem_size || !checked_add<uint64_t>(seg.paddr, seg.mem_size)) {
    return make_error(ErrorCode::kMalformedImage,
                      "vmlinux: PT_LOAD at p_paddr {:#x} has p_filesz {:#x} > p_memsz {:#x} "
                      "or wraps around",
                      seg.paddr, seg.file_size, seg.mem_size);
  }
  info.segments.push_back(seg);
  return ok();
}

}  // namespace

Result<ElfKernelInfo> parse_elf_kernel(std::span<const std::byte> image) {
  const ByteReader r(image, "vmlinux");
  CVM_TRY(check_ident(r));
  ElfKernelInfo info;
  CVM_ASSIGN_OR_RETURN(info.entry, r.le<uint64_t>(24, "e_entry"));
  CVM_ASSIGN_OR_RETURN(auto phoff, r.le<uint64_t>(32, "e_phoff"));
  CVM_ASSIGN_OR_RETURN(auto phentsize, r.le<uint16_t>(54, "e_phentsize"));
  CVM_ASSIGN_OR_RETURN(auto phnum, r.le<uint16_t>(56, "e_phnum"));
  if (phentsize != kPhdrSize) {
    return make_error(ErrorCode::kMalformedImage, "vmlinux: e_phentsize is {}, not {}",
                      phentsize, kPhdrSize);
  }
  if (!range_within<uint64_t>(phoff, uint64_t{phnum} * kPhdrSize, image.size())) {
    return make_error(ErrorCode::kMalformedImage,
                      "vmlinux: program headers (e_phoff {:#x}, e_phnum {}) run past the end "
                      "(size {:#x})",
                      phoff, phnum, image.size());
  }
  for (uint16_t i = 0; i < phnum; ++i) {
    CVM_TRY(read_phdr(r, static_cast<std::size_t>(phoff) + i * kPhdrSize, info));
  }
  if (info.segments.empty()) {
    return make_error(ErrorCode::kMalformedImage, "vmlinux: no PT_LOAD segment");
  }
  return info;
}

Result<LoadedKernel> load_elf_kernel(std::span<const std::byte> image, std::span<std::byte> ram) {
  CVM_ASSIGN_OR_RETURN(auto info, parse_elf_kernel(image));
  LoadedKernel kernel;
  kernel.format = KernelFormat::kElf;
  kernel.start = UINT64_MAX;
  for (const ElfSegment& seg : info.segments) {
    if (seg.paddr < kKernelMinAddress ||
        !range_within<uint64_t>(seg.paddr, seg.mem_size, ram.size())) {
      return make_error(ErrorCode::kInvalidArgument,
                        "vmlinux segment [{:#x}, {:#x}) lies outside low guest ram "
                        "[{:#x}, {:#x})",
                        seg.paddr, seg.paddr + seg.mem_size, kKernelMinAddress, ram.size());
    }
    // Bounds: file range checked in parse_elf_kernel, guest range just above.
    auto dst = ram.subspan(static_cast<std::size_t>(seg.paddr),
                           static_cast<std::size_t>(seg.mem_size));
    auto src = image.subspan(static_cast<std::size_t>(seg.file_offset),
                             static_cast<std::size_t>(seg.file_size));
    std::copy(src.begin(), src.end(), dst.begin());
    std::fill(dst.begin() + static_cast<long>(src.size()), dst.end(), std::byte{0});
    kernel.start = std::min(kernel.start, seg.paddr);
    kernel.end = std::max(kernel.end, seg.paddr + seg.mem_size);
  }
  auto inside = [&](uint64_t a) { return a >= kernel.start && a < kernel.end; };
  if (!inside(info.entry)) {
    return make_error(ErrorCode::kMalformedImage,
                      "vmlinux: e_entry {:#x} is outside the loaded segments [{:#x}, {:#x})",
                      info.entry, kernel.start, kernel.end);
  }
  if (info.pvh_entry && !inside(*info.pvh_entry)) {
    return make_error(ErrorCode::kMalformedImage,
                      "vmlinux: PVH entry {:#x} is outside the loaded segments [{:#x}, {:#x})",
                      *info.pvh_entry, kernel.start, kernel.end);
  }
  kernel.entry64 = info.entry;
  kernel.pvh_entry = info.pvh_entry;
  kernel.cmdline_max = kDefaultCmdlineMax;
  kernel.initrd_addr_max = kDefaultInitrdAddrMax;
  return kernel;
}

}  // namespace cvm::vmm::x86
