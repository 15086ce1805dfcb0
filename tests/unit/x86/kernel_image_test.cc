// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/kernel_image.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/x86/synthetic_images.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm::x86 {
namespace {

using ::testing::HasSubstr;
using testing::BzImageOptions;
using testing::ElfOptions;
using testing::ElfSegmentSpec;
using testing::make_bzimage;
using testing::make_elf;
using testing::pattern_byte;
using testing::poke;

constexpr std::size_t kRam = 64 * kMiB;

TEST(KernelFormatTest, DetectsBzImageElfAndRejectsOthers) {
  EXPECT_EQ(*detect_kernel_format(make_bzimage()), KernelFormat::kBzImage);
  EXPECT_EQ(*detect_kernel_format(make_elf()), KernelFormat::kElf);
  const std::vector<std::byte> junk(4096, std::byte{0x90});
  auto r = detect_kernel_format(junk);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformedImage);
  EXPECT_EQ(r.error().message(), "kernel image is neither a bzImage nor an ELF vmlinux");
  EXPECT_FALSE(detect_kernel_format({}));
}

TEST(BzImageTest, ParsesHeaderFields) {
  const auto img = make_bzimage();
  auto info = parse_bzimage(img);
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->version, 0x020f);
  EXPECT_EQ(info->setup_bytes, 5u * 512u);
  EXPECT_EQ(info->syssize, 0x400u);
  EXPECT_EQ(info->pref_address, 0x1000000u);
  EXPECT_EQ(info->init_size, 0x800000u);
  EXPECT_EQ(info->cmdline_size, 2047u);
  EXPECT_EQ(info->initrd_addr_max, 0x7fffffffu);
  EXPECT_TRUE(info->relocatable);
  EXPECT_EQ(info->payload.size(), 0x4000u);
  EXPECT_EQ(info->setup_header.size(), 0x26cu - 0x1f1u);
}

TEST(BzImageTest, SetupSectsZeroMeansFour) {
  auto info = parse_bzimage(make_bzimage({.setup_sects = 0}));
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->setup_bytes, 5u * 512u);
}

TEST(BzImageTest, LoadsPayloadAtPrefAddressWithEntryPlus0x200) {
  const auto img = make_bzimage();
  std::vector<std::byte> ram(kRam);
  auto k = load_kernel(img, ram);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->format, KernelFormat::kBzImage);
  EXPECT_EQ(k->start, 0x1000000u);
  EXPECT_EQ(k->entry64, 0x1000200u);
  EXPECT_EQ(k->end, 0x1000000u + 0x800000u);  // init_size > payload
  EXPECT_FALSE(k->pvh_entry);
  EXPECT_EQ(k->cmdline_max, 2047u);
  EXPECT_EQ(ram[0x1000000], pattern_byte(0, 0xb2));
  EXPECT_EQ(ram[0x1000000 + 0x3fff], pattern_byte(0x3fff, 0xb2));
  EXPECT_EQ(ram[0x1000000 + 0x4000], std::byte{0});
  EXPECT_EQ(k->setup_header.size(), 0x26cu - 0x1f1u);
}

TEST(BzImageTest, RelocatesToAlignedAddressWhenPrefAddressDoesNotFit) {
  const auto img = make_bzimage({.pref_address = 0x10000000, .init_size = 0x100000});
  std::vector<std::byte> ram(32 * kMiB);
  auto k = load_kernel(img, ram);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->start, 0x200000u);  // 1 MiB aligned up to kernel_alignment 2 MiB
}

TEST(BzImageTest, NonRelocatableKernelThatDoesNotFitIsRejected) {
  const auto img = make_bzimage({.relocatable = 0, .pref_address = 0x10000000});
  std::vector<std::byte> ram(32 * kMiB);
  auto k = load_kernel(img, ram);
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(k.error().message(), HasSubstr("low guest ram ends at 0x2000000"));
}

TEST(BzImageTest, BadMagicIsMalformed) {
  auto img = make_bzimage();
  poke(img, 0x1fe, 0x1234, 2);
  auto r = parse_bzimage(img);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformedImage);
  EXPECT_THAT(r.error().message(), HasSubstr("boot_flag is 0x1234"));
}

TEST(BzImageTest, OldProtocolIsRejected) {
  auto r = parse_bzimage(make_bzimage({.version = 0x0205}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("boot protocol 2.05 is too old"));
}

TEST(BzImageTest, ShortHeaderIsRejected) {
  auto r = parse_bzimage(make_bzimage({.header_len = 0x30}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("setup header ends at 0x232"));
}

TEST(BzImageTest, TruncatedImageNamesTheField) {
  auto img = make_bzimage();
  img.resize(0x204);
  auto r = parse_bzimage(img);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformedImage);
  EXPECT_THAT(r.error().message(), HasSubstr("header magic"));
}

TEST(BzImageTest, SetupSectsBeyondImageIsRejected) {
  auto img = make_bzimage();
  poke(img, 0x1f1, 200, 1);
  auto r = parse_bzimage(img);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("setup_sects 200"));
}

TEST(BzImageTest, OverflowingSyssizeIsRejected) {
  auto img = make_bzimage();
  poke(img, 0x1f4, 0xffffffff, 4);
  auto r = parse_bzimage(img);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("syssize 0xffffffff"));
}

TEST(BzImageTest, ZImageWithoutLoadedHighIsRejected) {
  auto r = parse_bzimage(make_bzimage({.loadflags = 0}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("LOADED_HIGH"));
}

TEST(BzImageTest, MissingKernel64FlagIsRejectedAtLoad) {
  std::vector<std::byte> ram(kRam);
  auto k = load_kernel(make_bzimage({.xloadflags = 0}), ram);
  ASSERT_FALSE(k);
  EXPECT_THAT(k.error().message(), HasSubstr("XLF_KERNEL_64"));
}

TEST(ElfKernelTest, LoadsSegmentsZeroFillsBssAndReadsPvhNote) {
  const auto img = make_elf();
  std::vector<std::byte> ram(kRam, std::byte{0xcc});
  auto k = load_kernel(img, ram);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->format, KernelFormat::kElf);
  EXPECT_EQ(k->entry64, 0x1000000u);
  ASSERT_TRUE(k->pvh_entry);
  EXPECT_EQ(*k->pvh_entry, 0x1000100u);
  EXPECT_EQ(k->start, 0x1000000u);
  EXPECT_EQ(k->end, 0x1002000u);
  EXPECT_EQ(ram[0x1000000], pattern_byte(0, 0x11));
  EXPECT_EQ(ram[0x1000fff], pattern_byte(0xfff, 0x11));
  EXPECT_EQ(ram[0x1001000], std::byte{0});     // p_memsz > p_filesz: zeroed
  EXPECT_EQ(ram[0x1001fff], std::byte{0});
  EXPECT_EQ(ram[0x1002000], std::byte{0xcc});  // untouched past p_memsz
  EXPECT_EQ(k->cmdline_max, kDefaultCmdlineMax);
  EXPECT_TRUE(k->setup_header.empty());
}

TEST(ElfKernelTest, FourBytePvhNoteIsAccepted) {
  auto info = parse_elf_kernel(make_elf({.pvh_descsz = 4}));
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->pvh_entry, 0x1000100u);
}

TEST(ElfKernelTest, MissingPvhNoteLeavesNoPvhEntry) {
  auto info = parse_elf_kernel(make_elf({.pvh_entry = std::nullopt}));
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_FALSE(info->pvh_entry);
}

TEST(ElfKernelTest, PvhEntryAbove4GiBIsMalformed) {
  auto r = parse_elf_kernel(make_elf({.pvh_entry = 0x100000000ull}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("not a 32-bit address"));
}

TEST(ElfKernelTest, Elf32IsRejected) {
  auto r = parse_elf_kernel(make_elf({.elf_class = 1}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("EI_CLASS"));
}

TEST(ElfKernelTest, WrongMachineIsRejected) {
  auto r = parse_elf_kernel(make_elf({.machine = 3}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("e_machine is 3"));
}

TEST(ElfKernelTest, TruncatedSegmentDataIsRejected) {
  auto img = make_elf();
  img.resize(img.size() - 1);
  auto r = parse_elf_kernel(img);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformedImage);
  EXPECT_THAT(r.error().message(), HasSubstr("p_offset"));
}

TEST(ElfKernelTest, ProgramHeadersPastEndAreRejected) {
  auto img = make_elf();
  poke(img, 56, 0xffff, 2);  // e_phnum
  auto r = parse_elf_kernel(img);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("program headers"));
}

TEST(ElfKernelTest, OverflowingOffsetIsRejected) {
  auto img = make_elf({.pvh_entry = std::nullopt});
  poke(img, 64 + 8, 0xfffffffffffffff0ull, 8);  // p_offset of the PT_LOAD
  auto r = parse_elf_kernel(img);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("runs past the end"));
}

TEST(ElfKernelTest, FileSizeAboveMemSizeIsRejected) {
  auto r = parse_elf_kernel(
      make_elf({.segments = {ElfSegmentSpec{.file_size = 0x1000, .mem_size = 0x800}}}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("p_filesz 0x1000 > p_memsz 0x800"));
}

TEST(ElfKernelTest, OversizedNoteIsRejected) {
  auto img = make_elf();
  const std::size_t note = 64 + 2 * 56;
  poke(img, note + 4, 0xfffffff0, 4);  // descsz of the first note
  auto r = parse_elf_kernel(img);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("runs past its PT_NOTE segment"));
}

TEST(ElfKernelTest, NoLoadSegmentIsRejected) {
  auto r = parse_elf_kernel(make_elf({.segments = {}}));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("no PT_LOAD segment"));
}

TEST(ElfKernelTest, SegmentBelowOneMiBIsRejected) {
  std::vector<std::byte> ram(kRam);
  auto k = load_kernel(make_elf({.entry = 0x8000,
                                 .segments = {ElfSegmentSpec{.paddr = 0x8000}},
                                 .pvh_entry = std::nullopt}),
                       ram);
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(k.error().message(), HasSubstr("outside low guest ram"));
}

TEST(ElfKernelTest, SegmentBeyondRamIsRejected) {
  std::vector<std::byte> ram(16 * kMiB);
  auto k = load_kernel(make_elf(), ram);  // segment at 16 MiB
  ASSERT_FALSE(k);
  EXPECT_THAT(k.error().message(), HasSubstr("[0x1000000, 0x1002000)"));
}

TEST(ElfKernelTest, EntryOutsideSegmentsIsRejected) {
  std::vector<std::byte> ram(kRam);
  auto k = load_kernel(make_elf({.entry = 0x2000000}), ram);
  ASSERT_FALSE(k);
  EXPECT_THAT(k.error().message(), HasSubstr("e_entry 0x2000000"));
}

TEST(InitrdPlacementTest, GoesToTopOfLowRamPageAligned) {
  LoadedKernel kernel{.end = 0x1800000, .initrd_addr_max = 0x7fffffff};
  auto at = place_initrd(0x12345, kernel, 64 * kMiB);
  ASSERT_TRUE(at) << at.error().message();
  EXPECT_EQ(*at, ((64 * kMiB - 0x12345) & ~0xfffull));
  EXPECT_EQ(*at % kPageSize, 0u);
}

TEST(InitrdPlacementTest, RespectsInitrdAddrMax) {
  LoadedKernel kernel{.end = 0x1800000, .initrd_addr_max = 0x1ffffff};
  auto at = place_initrd(0x100000, kernel, 64 * kMiB);
  ASSERT_TRUE(at) << at.error().message();
  EXPECT_EQ(*at, 0x2000000u - 0x100000u);
}

TEST(InitrdPlacementTest, TooBigIsRejected) {
  LoadedKernel kernel{.end = 0x1800000, .initrd_addr_max = 0x7fffffff};
  auto at = place_initrd(40 * kMiB + 1, kernel, 64 * kMiB);
  ASSERT_FALSE(at);
  EXPECT_EQ(at.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(at.error().message(), HasSubstr("initrd of 41943041 bytes does not fit"));
}

}  // namespace
}  // namespace cvm::vmm::x86
