// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/zero_page.h"

#include <asm/bootparam.h>

#include <cstddef>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/x86/synthetic_images.h"
#include "vmm/x86/pvh.h"
#include "vmm/x86/setup_header.h"

namespace cvm::vmm::x86 {
namespace {

using testing::peek;

// Our offsets must match the kernel's UAPI definition of struct boot_params.
static_assert(offsetof(boot_params, acpi_rsdp_addr) == boot::kAcpiRsdpAddr);
static_assert(offsetof(boot_params, ext_ramdisk_image) == boot::kExtRamdiskImage);
static_assert(offsetof(boot_params, ext_ramdisk_size) == boot::kExtRamdiskSize);
static_assert(offsetof(boot_params, ext_cmd_line_ptr) == boot::kExtCmdLinePtr);
static_assert(offsetof(boot_params, e820_entries) == boot::kE820Entries);
static_assert(offsetof(boot_params, hdr) == boot::kSetupSects);
static_assert(offsetof(boot_params, e820_table) == boot::kE820Table);
static_assert(sizeof(boot_e820_entry) == boot::kE820EntrySize);
static_assert(E820_MAX_ENTRIES_ZEROPAGE == boot::kE820MaxEntries);
static_assert(sizeof(boot_params) == boot::kZeroPageSize);
#define CVM_HDR_OFFSET(field) (offsetof(boot_params, hdr) + offsetof(setup_header, field))
static_assert(CVM_HDR_OFFSET(syssize) == boot::kSyssize);
static_assert(CVM_HDR_OFFSET(boot_flag) == boot::kBootFlag);
static_assert(CVM_HDR_OFFSET(header) == boot::kHeader);
static_assert(CVM_HDR_OFFSET(version) == boot::kVersion);
static_assert(CVM_HDR_OFFSET(type_of_loader) == boot::kTypeOfLoader);
static_assert(CVM_HDR_OFFSET(loadflags) == boot::kLoadflags);
static_assert(CVM_HDR_OFFSET(code32_start) == boot::kCode32Start);
static_assert(CVM_HDR_OFFSET(ramdisk_image) == boot::kRamdiskImage);
static_assert(CVM_HDR_OFFSET(ramdisk_size) == boot::kRamdiskSize);
static_assert(CVM_HDR_OFFSET(heap_end_ptr) == boot::kHeapEndPtr);
static_assert(CVM_HDR_OFFSET(cmd_line_ptr) == boot::kCmdLinePtr);
static_assert(CVM_HDR_OFFSET(initrd_addr_max) == boot::kInitrdAddrMax);
static_assert(CVM_HDR_OFFSET(kernel_alignment) == boot::kKernelAlignment);
static_assert(CVM_HDR_OFFSET(relocatable_kernel) == boot::kRelocatableKernel);
static_assert(CVM_HDR_OFFSET(xloadflags) == boot::kXloadflags);
static_assert(CVM_HDR_OFFSET(cmdline_size) == boot::kCmdlineSize);
static_assert(CVM_HDR_OFFSET(pref_address) == boot::kPrefAddress);
static_assert(CVM_HDR_OFFSET(init_size) == boot::kInitSize);
#undef CVM_HDR_OFFSET

const std::vector<E820Entry> kMap = {
    {0, 0x9fc00, E820Type::kRam},
    {0x100000, 0x7f00000, E820Type::kRam},
    {0x100000000ull, 0x40000000, E820Type::kRam},
};

TEST(ZeroPageTest, WritesBootProtocolFieldsAtTheirOffsets) {
  auto page = build_zero_page({.cmdline_gpa = 0x20000,
                               .cmdline_size = 42,
                               .initrd_gpa = 0x7000000,
                               .initrd_size = 0x123456,
                               .acpi_rsdp_gpa = 0xe0000,
                               .e820 = kMap});
  ASSERT_TRUE(page) << page.error().message();
  const auto& b = page->bytes;
  ASSERT_EQ(b.size(), 4096u);
  EXPECT_EQ(page->gpa, kZeroPageAddress);
  EXPECT_EQ(peek(b, 0x1e8, 1), 3u);           // e820_entries
  EXPECT_EQ(peek(b, 0x228, 4), 0x20000u);     // cmd_line_ptr
  EXPECT_EQ(peek(b, 0x0c8, 4), 0u);           // ext_cmd_line_ptr
  EXPECT_EQ(peek(b, 0x238, 4), 42u);          // cmdline_size
  EXPECT_EQ(peek(b, 0x218, 4), 0x7000000u);   // ramdisk_image
  EXPECT_EQ(peek(b, 0x21c, 4), 0x123456u);    // ramdisk_size
  EXPECT_EQ(peek(b, 0x210, 1), 0xffu);        // type_of_loader
  EXPECT_EQ(peek(b, 0x211, 1), 0x80u);        // loadflags: CAN_USE_HEAP
  EXPECT_EQ(peek(b, 0x224, 2), 0xfe00u);      // heap_end_ptr
  EXPECT_EQ(peek(b, 0x070, 8), 0xe0000u);     // acpi_rsdp_addr
  EXPECT_EQ(peek(b, 0x1fe, 2), 0xaa55u);      // synthesised for ELF
  EXPECT_EQ(peek(b, 0x202, 4), 0x53726448u);  // "HdrS"
  // e820_table[0..2] at 0x2d0, 20 bytes each
  EXPECT_EQ(peek(b, 0x2d0 + 0, 8), 0u);
  EXPECT_EQ(peek(b, 0x2d0 + 8, 8), 0x9fc00u);
  EXPECT_EQ(peek(b, 0x2d0 + 16, 4), 1u);
  EXPECT_EQ(peek(b, 0x2d0 + 40, 8), 0x100000000u);
  EXPECT_EQ(peek(b, 0x2d0 + 48, 8), 0x40000000u);
  EXPECT_EQ(peek(b, 0x2d0 + 56, 4), 1u);
  EXPECT_EQ(peek(b, 0x2d0 + 60, 8), 0u);  // entry 3 unused
}

TEST(ZeroPageTest, HighAddressesUseTheExtFields) {
  auto page = build_zero_page({.cmdline_gpa = 0x123456789ull,
                               .initrd_gpa = 0x200000000ull,
                               .initrd_size = 0x100000001ull});
  ASSERT_TRUE(page);
  const auto& b = page->bytes;
  EXPECT_EQ(peek(b, 0x228, 4), 0x23456789u);
  EXPECT_EQ(peek(b, 0x0c8, 4), 0x1u);
  EXPECT_EQ(peek(b, 0x218, 4), 0u);
  EXPECT_EQ(peek(b, 0x0c0, 4), 2u);
  EXPECT_EQ(peek(b, 0x21c, 4), 1u);
  EXPECT_EQ(peek(b, 0x0c4, 4), 1u);
}

TEST(ZeroPageTest, CopiesTheBzImageSetupHeaderAndKeepsItsLoadflags) {
  const auto image = testing::make_bzimage();
  const std::span<const std::byte> header = std::span(image).subspan(0x1f1, 0x26c - 0x1f1);
  auto page = build_zero_page({.setup_header = header, .cmdline_gpa = 0x20000});
  ASSERT_TRUE(page);
  const auto& b = page->bytes;
  EXPECT_EQ(peek(b, 0x206, 2), 0x020fu);          // version copied from the image
  EXPECT_EQ(peek(b, 0x258, 8), 0x1000000u);       // pref_address copied
  EXPECT_EQ(peek(b, 0x211, 1), 0x81u);            // LOADED_HIGH kept, CAN_USE_HEAP added
  EXPECT_EQ(peek(b, 0x230, 4), 0x200000u);        // kernel_alignment from the image
}

TEST(ZeroPageTest, TooManyE820EntriesAreRejected) {
  const std::vector<E820Entry> map(129);
  auto page = build_zero_page({.e820 = map});
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().message(), "e820 map has 129 entries; the zero page holds at most 128");
}

TEST(ZeroPageTest, OversizedSetupHeaderIsRejected) {
  const std::vector<std::byte> header(0x290 - 0x1f1 + 1);
  auto page = build_zero_page({.setup_header = header});
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().code(), ErrorCode::kInvalidArgument);
}

TEST(PvhStartInfoTest, WritesStartInfoModuleAndMemmap) {
  auto blobs = build_pvh_start_info({.cmdline_gpa = 0x20000,
                                     .initrd_gpa = 0x7000000,
                                     .initrd_size = 0x5000,
                                     .rsdp_gpa = 0xe0000,
                                     .memmap = kMap});
  ASSERT_TRUE(blobs) << blobs.error().message();
  ASSERT_EQ(blobs->size(), 2u);
  const auto& info = (*blobs)[0];
  EXPECT_EQ(info.gpa, 0x8000u);
  EXPECT_EQ(peek(info.bytes, 0, 4), 0x336ec578u);  // magic
  EXPECT_EQ(peek(info.bytes, 4, 4), 1u);           // version
  EXPECT_EQ(peek(info.bytes, 12, 4), 1u);          // nr_modules
  EXPECT_EQ(peek(info.bytes, 16, 8), 0x8040u);     // modlist_paddr
  EXPECT_EQ(peek(info.bytes, 24, 8), 0x20000u);    // cmdline_paddr
  EXPECT_EQ(peek(info.bytes, 32, 8), 0xe0000u);    // rsdp_paddr
  EXPECT_EQ(peek(info.bytes, 40, 8), 0x9000u);     // memmap_paddr
  EXPECT_EQ(peek(info.bytes, 48, 4), 3u);          // memmap_entries
  EXPECT_EQ(peek(info.bytes, 0x40, 8), 0x7000000u);  // modlist[0].paddr
  EXPECT_EQ(peek(info.bytes, 0x48, 8), 0x5000u);     // modlist[0].size
  const auto& memmap = (*blobs)[1];
  EXPECT_EQ(memmap.gpa, 0x9000u);
  ASSERT_EQ(memmap.bytes.size(), 3u * 24u);
  EXPECT_EQ(peek(memmap.bytes, 24, 8), 0x100000u);
  EXPECT_EQ(peek(memmap.bytes, 32, 8), 0x7f00000u);
  EXPECT_EQ(peek(memmap.bytes, 40, 4), 1u);
  EXPECT_EQ(peek(memmap.bytes, 48, 8), 0x100000000u);
}

TEST(PvhStartInfoTest, NoInitrdMeansNoModules) {
  auto blobs = build_pvh_start_info({.cmdline_gpa = 0x20000, .memmap = kMap});
  ASSERT_TRUE(blobs);
  EXPECT_EQ(peek((*blobs)[0].bytes, 12, 4), 0u);
  EXPECT_EQ(peek((*blobs)[0].bytes, 16, 8), 0u);
}

TEST(PvhStartInfoTest, MemmapLargerThanAPageIsRejected) {
  const std::vector<E820Entry> map(171);
  auto blobs = build_pvh_start_info({.memmap = map});
  ASSERT_FALSE(blobs);
  EXPECT_EQ(blobs.error().message(), "pvh memory map has 171 entries; at most 170 fit its page");
}

TEST(WriteBlobTest, RejectsBlobsOutsideRam) {
  std::vector<std::byte> ram(0x1000);
  GuestBlob blob{.gpa = 0xff0, .bytes = std::vector<std::byte>(0x20), .label = "thing"};
  auto r = write_blob(ram, 0, blob);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "thing at 0xff0 (size 0x20) lies outside guest ram [0x0, 0x1000)");
  blob.gpa = 0xfe0;
  EXPECT_TRUE(write_blob(ram, 0, blob));
}

}  // namespace
}  // namespace cvm::vmm::x86
