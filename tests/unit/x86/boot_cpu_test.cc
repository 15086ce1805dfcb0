// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/boot_cpu.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/x86/synthetic_images.h"

namespace cvm::vmm::x86 {
namespace {

using testing::peek;

TEST(GdtTest, EncodesDescriptorsLikeLinuxGdtEntry) {
  EXPECT_EQ(gdt_entry(0xa09b, 0, 0xfffff), 0x00af9b000000ffffull);
  EXPECT_EQ(gdt_entry(0xc09b, 0, 0xfffff), 0x00cf9b000000ffffull);
  EXPECT_EQ(gdt_entry(0xc093, 0, 0xfffff), 0x00cf93000000ffffull);
  EXPECT_EQ(gdt_entry(0x008b, 0, 0x67), 0x00008b0000000067ull);
  EXPECT_EQ(gdt_entry(0x0093, 0x12345678, 0xabcde), 0x120a93345678bcdeull);
}

TEST(GdtTest, SegmentFromDescriptorDecodesHiddenState) {
  const Segment code = segment_from_descriptor(0x00af9b000000ffffull, 0x10);
  EXPECT_EQ(code.base, 0u);
  EXPECT_EQ(code.limit, 0xffffffffu);
  EXPECT_EQ(code.selector, 0x10);
  EXPECT_EQ(code.type, 0xb);
  EXPECT_EQ(code.present, 1);
  EXPECT_EQ(code.dpl, 0);
  EXPECT_EQ(code.s, 1);
  EXPECT_EQ(code.l, 1);
  EXPECT_EQ(code.db, 0);
  EXPECT_EQ(code.g, 1);
  const Segment odd = segment_from_descriptor(0x120a93345678bcdeull, 0x18);
  EXPECT_EQ(odd.base, 0x12345678u);
  EXPECT_EQ(odd.limit, 0xabcdeu);  // G=0: byte granular
  const Segment tss = segment_from_descriptor(0x00008b0000000067ull, 0x20);
  EXPECT_EQ(tss.type, 0xb);
  EXPECT_EQ(tss.s, 0);
  EXPECT_EQ(tss.limit, 0x67u);
}

TEST(GdtTest, BootGdtHasCodeDataAndTssAtLinuxSelectors) {
  const GuestBlob gdt64 = build_boot_gdt(BootEntry::kLinux64);
  EXPECT_EQ(gdt64.gpa, kGdtAddress);
  ASSERT_EQ(gdt64.bytes.size(), 48u);
  EXPECT_EQ(peek(gdt64.bytes, 0x00, 8), 0u);
  EXPECT_EQ(peek(gdt64.bytes, 0x10, 8), 0x00af9b000000ffffull);
  EXPECT_EQ(peek(gdt64.bytes, 0x18, 8), 0x00cf93000000ffffull);
  EXPECT_EQ(peek(gdt64.bytes, 0x20, 8), 0x00008b0000000067ull);
  const GuestBlob gdt32 = build_boot_gdt(BootEntry::kPvh32);
  EXPECT_EQ(peek(gdt32.bytes, 0x10, 8), 0x00cf9b000000ffffull);
}

TEST(PageTablesTest, TwoMiBIdentityMapOfFourGiB) {
  auto pt = build_identity_page_tables(4, IdentityPageSize::k2MiB);
  ASSERT_TRUE(pt) << pt.error().message();
  EXPECT_EQ(pt->gpa, 0x2000u);
  ASSERT_EQ(pt->bytes.size(), 6u * 4096u);
  EXPECT_EQ(peek(pt->bytes, 0, 8), 0x3003u);             // PML4[0] -> PDPT
  EXPECT_EQ(peek(pt->bytes, 8, 8), 0u);                  // PML4[1] empty
  EXPECT_EQ(peek(pt->bytes, 0x1000, 8), 0x4003u);        // PDPT[0] -> PD0
  EXPECT_EQ(peek(pt->bytes, 0x1000 + 3 * 8, 8), 0x7003u);  // PDPT[3] -> PD3
  EXPECT_EQ(peek(pt->bytes, 0x1000 + 4 * 8, 8), 0u);
  EXPECT_EQ(peek(pt->bytes, 0x2000, 8), 0x83u);           // 2 MiB page at 0
  EXPECT_EQ(peek(pt->bytes, 0x2008, 8), 0x200083u);
  EXPECT_EQ(peek(pt->bytes, 0x5000 + 511 * 8, 8), 0xffe00083u);  // last page below 4 GiB
}

TEST(PageTablesTest, OneGiBPagesNeedOnlyTwoTables) {
  auto pt = build_identity_page_tables(8, IdentityPageSize::k1GiB);
  ASSERT_TRUE(pt);
  ASSERT_EQ(pt->bytes.size(), 2u * 4096u);
  EXPECT_EQ(peek(pt->bytes, 0x1000, 8), 0x83u);
  EXPECT_EQ(peek(pt->bytes, 0x1000 + 7 * 8, 8), 0x1c0000083u);
}

TEST(PageTablesTest, OutOfRangeSizesAreRejected) {
  EXPECT_FALSE(build_identity_page_tables(0, IdentityPageSize::k2MiB));
  auto r = build_identity_page_tables(5, IdentityPageSize::k2MiB);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "identity map of 5 GiB is out of range: 1 to 4 GiB with this page size");
  EXPECT_FALSE(build_identity_page_tables(513, IdentityPageSize::k1GiB));
}

TEST(BootStateTest, Linux64EntryIsLongModeWithZeroPageInRsi) {
  const BootCpuState s = linux64_boot_state(0x1000200, kZeroPageAddress);
  EXPECT_EQ(s.sregs.cr0, 0x80000011u);
  EXPECT_EQ(s.sregs.cr3, 0x2000u);
  EXPECT_EQ(s.sregs.cr4, 0x20u);
  EXPECT_EQ(s.sregs.efer, 0x500u);
  EXPECT_EQ(s.sregs.cs.selector, 0x10);
  EXPECT_EQ(s.sregs.cs.l, 1);
  EXPECT_EQ(s.sregs.cs.db, 0);
  EXPECT_EQ(s.sregs.ss.selector, 0x18);
  EXPECT_EQ(s.sregs.ds, s.sregs.es);
  EXPECT_EQ(s.sregs.tr.selector, 0x20);
  EXPECT_EQ(s.sregs.tr.type, 0xb);
  EXPECT_EQ(s.sregs.gdt.base, kGdtAddress);
  EXPECT_EQ(s.sregs.gdt.limit, 47);
  EXPECT_EQ(s.regs.rip, 0x1000200u);
  EXPECT_EQ(s.regs.rsi, kZeroPageAddress);
  EXPECT_EQ(s.regs.rflags, 0x2u);
}

TEST(BootStateTest, PvhEntryIsFlatProtectedModeWithStartInfoInRbx) {
  const BootCpuState s = pvh_boot_state(0x1000100, 0x8000);
  EXPECT_EQ(s.sregs.cr0, 0x11u);
  EXPECT_EQ(s.sregs.cr4, 0u);
  EXPECT_EQ(s.sregs.efer, 0u);
  EXPECT_EQ(s.sregs.cs.db, 1);
  EXPECT_EQ(s.sregs.cs.l, 0);
  EXPECT_EQ(s.sregs.cs.limit, 0xffffffffu);
  EXPECT_EQ(s.sregs.ds.type, 0x3);
  EXPECT_EQ(s.regs.rip, 0x1000100u);
  EXPECT_EQ(s.regs.rbx, 0x8000u);
}

}  // namespace
}  // namespace cvm::vmm::x86
