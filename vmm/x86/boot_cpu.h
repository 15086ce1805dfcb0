// SPDX-License-Identifier: Apache-2.0
// The boot CPU's initial state for the two direct-kernel entries, as plain values:
//   - Linux 64-bit entry (boot.rst "64-bit BOOT PROTOCOL"): long mode, paging on with an
//     identity map, __BOOT_CS = 0x10 (64-bit code), __BOOT_DS = 0x18 (data), RSI = zero page.
//   - PVH 32-bit entry (Xen docs/misc/pvh.pandoc): protected mode, paging off, flat 4 GiB
//     code/data segments, TR = a 32-bit TSS, EBX = hvm_start_info.
// Also builds the GDT and identity page-table bytes those states point at. The KVM layer
// applies SpecialRegisters with KVM_SET_SREGS and GeneralRegisters with KVM_SET_REGS; the
// field names mirror struct kvm_segment / kvm_sregs / kvm_regs. Pure.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "vmm/x86/byte_writer.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm::x86 {

/// A segment register with its hidden part (mirrors struct kvm_segment).
struct Segment {
  uint64_t base = 0;
  uint32_t limit = 0;  // byte granular: 0xffffffff for a flat 4 GiB segment with G=1
  uint16_t selector = 0;
  uint8_t type = 0;
  uint8_t present = 0;
  uint8_t dpl = 0;
  uint8_t db = 0;
  uint8_t s = 0;
  uint8_t l = 0;
  uint8_t g = 0;
  uint8_t avl = 0;
  uint8_t unusable = 0;
  friend bool operator==(const Segment&, const Segment&) = default;
};

/// GDTR/IDTR (mirrors struct kvm_dtable).
struct DescriptorTable {
  uint64_t base = 0;
  uint16_t limit = 0;
  friend bool operator==(const DescriptorTable&, const DescriptorTable&) = default;
};

/// The subset of struct kvm_sregs the boot state defines; the KVM layer reads the vCPU's
/// current sregs, overwrites these fields and writes them back (so APIC base etc. stay).
struct SpecialRegisters {
  Segment cs{}, ds{}, es{}, fs{}, gs{}, ss{}, tr{}, ldt{};
  DescriptorTable gdt{}, idt{};
  uint64_t cr0 = 0;
  uint64_t cr3 = 0;
  uint64_t cr4 = 0;
  uint64_t efer = 0;
};

/// The subset of struct kvm_regs the boot state defines; all others are zero.
struct GeneralRegisters {
  uint64_t rip = 0;
  uint64_t rsp = 0;
  uint64_t rsi = 0;  // Linux 64-bit entry: zero page address
  uint64_t rbx = 0;  // PVH entry: hvm_start_info address
  uint64_t rflags = 0x2;  // bit 1 is reserved and must be 1; IF=0 (interrupts off)
};

struct BootCpuState {
  SpecialRegisters sregs{};
  GeneralRegisters regs{};
};

// Architectural bits (Intel SDM Vol. 3A §2.5 control registers, §2.2.1 EFER).
inline constexpr uint64_t kCr0Pe = 1ull << 0;
inline constexpr uint64_t kCr0Et = 1ull << 4;
inline constexpr uint64_t kCr0Pg = 1ull << 31;
inline constexpr uint64_t kCr4Pae = 1ull << 5;
inline constexpr uint64_t kEferLme = 1ull << 8;
inline constexpr uint64_t kEferLma = 1ull << 10;

/// GDT selectors used by both entries (Linux's __BOOT_CS/__BOOT_DS values).
inline constexpr uint16_t kBootCodeSelector = 0x10;
inline constexpr uint16_t kBootDataSelector = 0x18;
inline constexpr uint16_t kBootTssSelector = 0x20;

enum class BootEntry : uint8_t {
  kLinux64,  // 64-bit boot protocol entry (bzImage + 0x200, or vmlinux e_entry)
  kPvh32,    // PVH 32-bit entry (XEN_ELFNOTE_PHYS32_ENTRY)
};

/// Encodes a segment descriptor (Intel SDM Vol. 3A §3.4.5). `flags` packs the access byte in
/// bits 7:0 and the G/DB/L/AVL nibble in bits 15:12, as Linux's GDT_ENTRY does
/// (e.g. 0xa09b = 64-bit code, 0xc09b = 32-bit code, 0xc093 = data, 0x008b = busy 32-bit TSS).
uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit) noexcept;

/// The hidden segment state a CPU would load for `descriptor` under `selector`; keeps the
/// GDT bytes and KVM_SET_SREGS consistent by construction.
Segment segment_from_descriptor(uint64_t descriptor, uint16_t selector) noexcept;

/// The boot GDT for `entry`: null, null, code (0x10), data (0x18), TSS (0x20; 16 bytes in
/// long mode). TSS base 0 / limit 0x67: only there because VM entry needs a usable TR; the
/// kernel loads its own TSS before it could use it.
GuestBlob build_boot_gdt(BootEntry entry, uint64_t gdt_gpa = kGdtAddress);

/// Page size of the identity map.
enum class IdentityPageSize : uint8_t { k2MiB, k1GiB };

/// Identity page tables mapping guest-physical [0, gib GiB) read/write, supervisor,
/// writeback: PML4 at `gpa`, PDPT at gpa + 4 KiB, and for 2 MiB pages one page directory per
/// GiB after it. 1 GiB pages need CPUID pdpe1gb in the guest. CR3 = gpa.
/// Errors: kInvalidArgument if gib is 0, above 512, or (2 MiB pages) needs more page
/// directories than fit below kPageTablesEnd when gpa is kPageTablesAddress (i.e. gib > 4).
[[nodiscard]] Result<GuestBlob> build_identity_page_tables(uint32_t gib, IdentityPageSize size,
                                                           uint64_t gpa = kPageTablesAddress);

/// Register state for the Linux 64-bit entry: long mode (CR0.PE|ET|PG, CR4.PAE,
/// EFER.LME|LMA), CS = 64-bit code, DS/ES/FS/GS/SS = data, TR = TSS, from the boot GDT at
/// gdt_gpa; CR3 = page_tables_gpa; RIP = entry, RSI = zero_page_gpa, RSP = kBootStackTop.
BootCpuState linux64_boot_state(uint64_t entry, uint64_t zero_page_gpa,
                                uint64_t page_tables_gpa = kPageTablesAddress,
                                uint64_t gdt_gpa = kGdtAddress);

/// Register state for the PVH entry: CR0 = PE|ET, paging off, CR4 = 0, EFER = 0, flat 32-bit
/// CS/DS/ES/FS/GS/SS, TR = 32-bit TSS; RIP = entry, RBX = start_info_gpa.
BootCpuState pvh_boot_state(uint32_t entry, uint32_t start_info_gpa,
                            uint64_t gdt_gpa = kGdtAddress);

}  // namespace cvm::vmm::x86
