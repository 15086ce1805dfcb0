// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/boot_cpu.h"

namespace cvm::vmm::x86 {
namespace {

// Descriptor flag words (access byte | G/DB/L/AVL << 12), see gdt_entry().
constexpr uint16_t kCode64Flags = 0xa09b;  // G, L, present, DPL0, code exec/read accessed
constexpr uint16_t kCode32Flags = 0xc09b;  // G, D, present, DPL0, code exec/read accessed
constexpr uint16_t kDataFlags = 0xc093;    // G, B, present, DPL0, data read/write accessed
constexpr uint16_t kTssFlags = 0x008b;     // present, busy 32/64-bit TSS (type 11)
constexpr uint32_t kFlatLimit = 0xfffff;   // 4 GiB with G=1
constexpr uint32_t kTssLimit = 0x67;       // minimal 32-bit TSS (104 bytes)
constexpr std::size_t kGdtEntries = 6;     // 5 slots; the long-mode TSS takes slots 4 and 5

constexpr uint64_t kPtepresent = 1ull << 0;
constexpr uint64_t kPteWritable = 1ull << 1;
constexpr uint64_t kPteLargePage = 1ull << 7;  // PS bit: 2 MiB in a PDE, 1 GiB in a PDPTE

}  // namespace

uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit) noexcept {
  const uint64_t b = base;
  const uint64_t l = limit;
  const uint64_t f = flags;
  return ((b & 0xff000000ull) << 32) | ((b & 0x00ffffffull) << 16) | (l & 0x0000ffffull) |
         ((l & 0x000f0000ull) << 32) | ((f & 0xf0ffull) << 40);
}

Segment segment_from_descriptor(uint64_t d, uint16_t selector) noexcept {
  const auto raw_limit = static_cast<uint32_t>((d & 0xffff) | ((d >> 32) & 0xf0000));
  const auto g = static_cast<uint8_t>((d >> 55) & 1);
  return Segment{
      .base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24),
      .limit = g != 0 ? (raw_limit << 12) | 0xfff : raw_limit,
      .selector = selector,
      .type = static_cast<uint8_t>((d >> 40) & 0xf),
      .present = static_cast<uint8_t>((d >> 47) & 1),
      .dpl = static_cast<uint8_t>((d >> 45) & 3),
      .db = static_cast<uint8_t>((d >> 54) & 1),
      .s = static_cast<uint8_t>((d >> 44) & 1),
      .l = static_cast<uint8_t>((d >> 53) & 1),
      .g = g,
      .avl = static_cast<uint8_t>((d >> 52) & 1),
      .unusable = 0,
  };
}

GuestBlob build_boot_gdt(BootEntry entry, uint64_t gdt_gpa) {
  const uint16_t code = entry == BootEntry::kLinux64 ? kCode64Flags : kCode32Flags;
  const uint64_t descriptors[kGdtEntries] = {
      0,
      0,
      gdt_entry(code, 0, kFlatLimit),
      gdt_entry(kDataFlags, 0, kFlatLimit),
      gdt_entry(kTssFlags, 0, kTssLimit),
      0,  // long mode: upper half of the 16-byte TSS descriptor (base 63:32 = 0)
  };
  GuestBlob blob{.gpa = gdt_gpa, .bytes = std::vector<std::byte>(sizeof(descriptors)),
                 .label = "boot gdt"};
  for (std::size_t i = 0; i < kGdtEntries; ++i) {
    put_le<uint64_t>(blob.bytes, i * 8, descriptors[i]);
  }
  return blob;
}

Result<GuestBlob> build_identity_page_tables(uint32_t gib, IdentityPageSize size, uint64_t gpa) {
  const uint32_t max_gib = size == IdentityPageSize::k1GiB
                               ? 512
                               : static_cast<uint32_t>((kPageTablesEnd - kPageTablesAddress) /
                                                           kPageSize - 2);
  if (gib == 0 || gib > max_gib) {
    return make_error(ErrorCode::kInvalidArgument,
                      "identity map of {} GiB is out of range: 1 to {} GiB with this page size",
                      gib, max_gib);
  }
  const std::size_t directories = size == IdentityPageSize::k2MiB ? gib : 0;
  GuestBlob blob{.gpa = gpa, .bytes = std::vector<std::byte>((2 + directories) * kPageSize),
                 .label = "identity page tables"};
  std::span<std::byte> out(blob.bytes);
  const uint64_t pdpt = gpa + kPageSize;
  put_le<uint64_t>(out, 0, pdpt | kPteWritable | kPtepresent);
  for (uint64_t g = 0; g < gib; ++g) {
    const std::size_t pdpte = kPageSize + g * 8;
    if (size == IdentityPageSize::k1GiB) {
      put_le<uint64_t>(out, pdpte, (g * kGiB) | kPteLargePage | kPteWritable | kPtepresent);
      continue;
    }
    const uint64_t directory = pdpt + (g + 1) * kPageSize;
    put_le<uint64_t>(out, pdpte, directory | kPteWritable | kPtepresent);
    for (uint64_t e = 0; e < 512; ++e) {
      const uint64_t phys = g * kGiB + e * 2 * kMiB;
      put_le<uint64_t>(out, (2 + g) * kPageSize + e * 8,
                       phys | kPteLargePage | kPteWritable | kPtepresent);
    }
  }
  return blob;
}

namespace {

SpecialRegisters flat_segments(uint16_t code_flags, uint64_t gdt_gpa) {
  SpecialRegisters s;
  s.cs = segment_from_descriptor(gdt_entry(code_flags, 0, kFlatLimit), kBootCodeSelector);
  const Segment data = segment_from_descriptor(gdt_entry(kDataFlags, 0, kFlatLimit),
                                               kBootDataSelector);
  s.ds = s.es = s.fs = s.gs = s.ss = data;
  s.tr = segment_from_descriptor(gdt_entry(kTssFlags, 0, kTssLimit), kBootTssSelector);
  // LDT: none. VM entry requires an unusable or valid LDTR; mark it unusable.
  s.ldt = Segment{.type = 2, .present = 1, .unusable = 1};
  s.gdt = DescriptorTable{.base = gdt_gpa, .limit = kGdtEntries * 8 - 1};
  // IDT: empty. Any exception before the kernel loads its own IDT triple-faults, which the
  // VMM reports as a shutdown exit instead of jumping into garbage.
  s.idt = DescriptorTable{.base = 0, .limit = 0};
  return s;
}

}  // namespace

BootCpuState linux64_boot_state(uint64_t entry, uint64_t zero_page_gpa, uint64_t page_tables_gpa,
                                uint64_t gdt_gpa) {
  BootCpuState state;
  state.sregs = flat_segments(kCode64Flags, gdt_gpa);
  state.sregs.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
  state.sregs.cr3 = page_tables_gpa;
  state.sregs.cr4 = kCr4Pae;
  state.sregs.efer = kEferLme | kEferLma;
  state.regs = GeneralRegisters{.rip = entry, .rsp = kBootStackTop, .rsi = zero_page_gpa};
  return state;
}

BootCpuState pvh_boot_state(uint32_t entry, uint32_t start_info_gpa, uint64_t gdt_gpa) {
  BootCpuState state;
  state.sregs = flat_segments(kCode32Flags, gdt_gpa);
  state.sregs.cr0 = kCr0Pe | kCr0Et;
  state.regs = GeneralRegisters{.rip = entry, .rsp = kBootStackTop, .rbx = start_info_gpa};
  return state;
}

}  // namespace cvm::vmm::x86
