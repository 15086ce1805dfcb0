// SPDX-License-Identifier: Apache-2.0
// Builders of small synthetic kernel images (bzImage and ELF64 vmlinux) for the loader tests
// and the kernel-loader fuzz seeds. Only the fields the loaders read are filled in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace cvm::vmm::x86::testing {

inline void poke(std::vector<std::byte>& v, std::size_t at, uint64_t value, std::size_t size) {
  if (v.size() < at + size) {
    v.resize(at + size);
  }
  for (std::size_t i = 0; i < size; ++i) {
    v[at + i] = static_cast<std::byte>((value >> (8 * i)) & 0xff);
  }
}

inline uint64_t peek(const std::vector<std::byte>& v, std::size_t at, std::size_t size) {
  uint64_t value = 0;
  for (std::size_t i = 0; i < size; ++i) {
    value |= static_cast<uint64_t>(v.at(at + i)) << (8 * i);
  }
  return value;
}

/// A recognisable byte pattern so tests can check where bytes were copied.
inline std::byte pattern_byte(std::size_t i, uint8_t seed) {
  return static_cast<std::byte>(((i * 7) ^ seed) & 0xff);
}

struct BzImageOptions {
  uint8_t setup_sects = 4;
  uint16_t version = 0x020f;
  uint8_t header_len = 0x6a;  // byte at 0x201: header ends at 0x202 + header_len
  uint32_t payload_size = 0x4000;
  uint8_t loadflags = 0x01;      // LOADED_HIGH
  uint16_t xloadflags = 0x0003;  // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  uint8_t relocatable = 1;
  uint32_t kernel_alignment = 0x200000;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x800000;
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t cmdline_size = 2047;
};

inline std::vector<std::byte> make_bzimage(const BzImageOptions& o = {}) {
  const std::size_t setup_bytes = (std::size_t{o.setup_sects == 0 ? 4u : o.setup_sects} + 1) * 512;
  std::vector<std::byte> img(setup_bytes + o.payload_size);
  poke(img, 0x1f1, o.setup_sects, 1);
  poke(img, 0x1f4, o.payload_size / 16, 4);
  poke(img, 0x1fe, 0xaa55, 2);
  poke(img, 0x200, 0xeb, 1);
  poke(img, 0x201, o.header_len, 1);
  poke(img, 0x202, 0x53726448, 4);
  poke(img, 0x206, o.version, 2);
  poke(img, 0x211, o.loadflags, 1);
  poke(img, 0x214, 0x100000, 4);
  poke(img, 0x22c, o.initrd_addr_max, 4);
  poke(img, 0x230, o.kernel_alignment, 4);
  poke(img, 0x234, o.relocatable, 1);
  poke(img, 0x236, o.xloadflags, 2);
  poke(img, 0x238, o.cmdline_size, 4);
  poke(img, 0x258, o.pref_address, 8);
  poke(img, 0x260, o.init_size, 4);
  for (std::size_t i = 0; i < o.payload_size; ++i) {
    img[setup_bytes + i] = pattern_byte(i, 0xb2);
  }
  return img;
}

struct ElfSegmentSpec {
  uint64_t paddr = 0x1000000;
  uint32_t file_size = 0x1000;
  uint64_t mem_size = 0x2000;
  uint8_t seed = 0x11;
};

struct ElfOptions {
  uint64_t entry = 0x1000000;
  std::vector<ElfSegmentSpec> segments = {ElfSegmentSpec{}};
  std::optional<uint64_t> pvh_entry = 0x1000100;
  uint32_t pvh_descsz = 8;
  bool other_note_first = true;  // a GNU build-id style note before the Xen one
  uint8_t elf_class = 2;
  uint16_t machine = 62;
};

/// ELF64: header, program headers (PT_NOTE first if any, then PT_LOADs), notes, segments.
inline std::vector<std::byte> make_elf(const ElfOptions& o = {}) {
  std::vector<std::byte> notes;
  if (o.pvh_entry) {
    if (o.other_note_first) {
      poke(notes, 0, 4, 4);   // namesz "GNU\0"
      poke(notes, 4, 20, 4);  // descsz
      poke(notes, 8, 3, 4);   // NT_GNU_BUILD_ID
      poke(notes, 12, 0x00554e47, 4);
      poke(notes, 16 + 19, 0xee, 1);
    }
    const std::size_t at = notes.size();
    poke(notes, at, 4, 4);
    poke(notes, at + 4, o.pvh_descsz, 4);
    poke(notes, at + 8, 18, 4);  // XEN_ELFNOTE_PHYS32_ENTRY
    poke(notes, at + 12, 0x006e6558, 4);  // "Xen\0"
    poke(notes, at + 16, *o.pvh_entry, o.pvh_descsz == 4 ? 4 : 8);
  }
  const std::size_t phnum = o.segments.size() + (notes.empty() ? 0 : 1);
  std::size_t data_at = 64 + phnum * 56;
  std::vector<std::byte> img(data_at);
  img[0] = std::byte{0x7f};
  img[1] = std::byte{'E'};
  img[2] = std::byte{'L'};
  img[3] = std::byte{'F'};
  poke(img, 4, o.elf_class, 1);
  poke(img, 5, 1, 1);  // little-endian
  poke(img, 6, 1, 1);  // EV_CURRENT
  poke(img, 16, 2, 2);  // ET_EXEC
  poke(img, 18, o.machine, 2);
  poke(img, 20, 1, 4);
  poke(img, 24, o.entry, 8);
  poke(img, 32, 64, 8);  // e_phoff
  poke(img, 52, 64, 2);
  poke(img, 54, 56, 2);
  poke(img, 56, phnum, 2);
  std::size_t ph = 64;
  if (!notes.empty()) {
    poke(img, ph, 4, 4);  // PT_NOTE
    poke(img, ph + 8, data_at, 8);
    poke(img, ph + 32, notes.size(), 8);
    poke(img, ph + 40, notes.size(), 8);
    img.insert(img.end(), notes.begin(), notes.end());
    data_at += notes.size();
    ph += 56;
  }
  for (const ElfSegmentSpec& s : o.segments) {
    poke(img, ph, 1, 4);  // PT_LOAD
    poke(img, ph + 8, data_at, 8);
    poke(img, ph + 16, 0xffffffff80000000ull + s.paddr, 8);
    poke(img, ph + 24, s.paddr, 8);
    poke(img, ph + 32, s.file_size, 8);
    poke(img, ph + 40, s.mem_size, 8);
    poke(img, ph + 48, 0x200000, 8);
    for (std::size_t i = 0; i < s.file_size; ++i) {
      img.push_back(pattern_byte(i, s.seed));
    }
    data_at += s.file_size;
    ph += 56;
  }
  return img;
}

}  // namespace cvm::vmm::x86::testing
