// SPDX-License-Identifier: Apache-2.0
// Builds a minimal ELF64 x86-64 "vmlinux" around hand-assembled code: one PT_LOAD segment at
// physical `load_gpa` (also e_entry, as for a real vmlinux) and optionally a PVH note
// (XEN_ELFNOTE_PHYS32_ENTRY, type 18, name "Xen"). Used by machine tests, which need a kernel
// image that the vmm/x86 loaders accept. ELF-64 Object File Format v1.5, §3-§4 (layouts).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

namespace cvm::test {

inline std::vector<std::byte> tiny_elf_kernel(std::span<const uint8_t> code, uint64_t load_gpa,
                                              std::optional<uint32_t> pvh_entry = std::nullopt) {
  constexpr std::size_t kEhdrSize = 64, kPhdrSize = 56, kCodeOffset = 0x1000;
  const std::size_t phnum = pvh_entry ? 2 : 1;
  const std::size_t note_offset = kEhdrSize + phnum * kPhdrSize;
  std::vector<std::byte> image(kCodeOffset + code.size());
  auto put = [&](std::size_t offset, uint64_t value, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      image[offset + i] = static_cast<std::byte>((value >> (8 * i)) & 0xff);
    }
  };
  const uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2 /*ELFCLASS64*/, 1 /*LSB*/, 1 /*EV_CURRENT*/};
  std::memcpy(image.data(), ident, sizeof(ident));
  put(16, 2, 2);              // e_type ET_EXEC
  put(18, 62, 2);             // e_machine EM_X86_64
  put(20, 1, 4);              // e_version
  put(24, load_gpa, 8);       // e_entry (physical for vmlinux)
  put(32, kEhdrSize, 8);      // e_phoff
  put(52, kEhdrSize, 2);      // e_ehsize
  put(54, kPhdrSize, 2);      // e_phentsize
  put(56, phnum, 2);          // e_phnum
  // PT_LOAD: p_type @0, p_flags @4, p_offset @8, p_vaddr @16, p_paddr @24, p_filesz @32,
  // p_memsz @40, p_align @48.
  put(kEhdrSize + 0, 1, 4);
  put(kEhdrSize + 4, 7, 4);
  put(kEhdrSize + 8, kCodeOffset, 8);
  put(kEhdrSize + 16, load_gpa, 8);
  put(kEhdrSize + 24, load_gpa, 8);
  put(kEhdrSize + 32, code.size(), 8);
  put(kEhdrSize + 40, code.size(), 8);
  put(kEhdrSize + 48, 0x1000, 8);
  if (pvh_entry) {
    // PT_NOTE with one note: namesz 4, descsz 4, type 18, "Xen\0", entry (u32).
    const std::size_t ph = kEhdrSize + kPhdrSize;
    put(ph + 0, 4, 4);
    put(ph + 8, note_offset, 8);
    put(ph + 32, 20, 8);
    put(ph + 40, 20, 8);
    put(ph + 48, 4, 8);
    put(note_offset + 0, 4, 4);
    put(note_offset + 4, 4, 4);
    put(note_offset + 8, 18, 4);
    std::memcpy(image.data() + note_offset + 12, "Xen", 4);
    put(note_offset + 16, *pvh_entry, 4);
  }
  std::memcpy(image.data() + kCodeOffset, code.data(), code.size());
  return image;
}

}  // namespace cvm::test
