// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmm/x86/e820.h"

namespace cvm::vmm::x86 {
namespace {

using ::testing::HasSubstr;

TEST(MemoryLayoutTest, SmallRamIsAllLow) {
  auto layout = compute_memory_layout(512 * kMiB);
  ASSERT_TRUE(layout) << layout.error().message();
  EXPECT_EQ(layout->low_ram_end, 512 * kMiB);
  EXPECT_EQ(layout->high_ram_bytes, 0u);
  const auto regions = layout->ram_regions();
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].gpa, 0u);
  EXPECT_EQ(regions[0].size, 512 * kMiB);
}

TEST(MemoryLayoutTest, LargeRamSplitsAroundTheHole) {
  auto layout = compute_memory_layout(6 * kGiB);
  ASSERT_TRUE(layout) << layout.error().message();
  EXPECT_EQ(layout->low_ram_end, 3 * kGiB);
  EXPECT_EQ(layout->high_ram_bytes, 3 * kGiB);
  const auto regions = layout->ram_regions();
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[1].gpa, 4 * kGiB);
  EXPECT_EQ(regions[1].end(), 7 * kGiB);
}

TEST(MemoryLayoutTest, ExactlyThreeGiBHasNoHighRam) {
  auto layout = compute_memory_layout(3 * kGiB);
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->high_ram_bytes, 0u);
  EXPECT_EQ(layout->ram_regions().size(), 1u);
}

TEST(MemoryLayoutTest, TooSmallRamIsRejected) {
  auto layout = compute_memory_layout(8 * kMiB);
  ASSERT_FALSE(layout);
  EXPECT_EQ(layout.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(layout.error().message(), HasSubstr("8 MiB is too small"));
}

TEST(MemoryLayoutTest, UnalignedRamIsRejected) {
  auto layout = compute_memory_layout(64 * kMiB + 1);
  ASSERT_FALSE(layout);
  EXPECT_THAT(layout.error().message(), HasSubstr("not a multiple of 4 KiB"));
}

TEST(MemoryLayoutTest, HugeRamIsRejected) {
  auto layout = compute_memory_layout(1ull << 40);
  ASSERT_FALSE(layout);
  EXPECT_THAT(layout.error().message(), HasSubstr("too large"));
}

TEST(MemoryLayoutTest, FixedAddressesAvoidEachOtherAndTheHole) {
  EXPECT_EQ(kIoapicAddress, 0xfec00000u);
  EXPECT_EQ(kLapicAddress, 0xfee00000u);
  EXPECT_GE(kIoapicAddress, kMmioHoleStart);
  EXPECT_LT(kLapicAddress, kFirmwareStart);
  EXPECT_EQ(kAcpiTablesAddress, 0xe0000u);
}

TEST(VirtioMmioSlotTest, SlotsAreConsecutivePagesWithIrqsFromFive) {
  auto first = virtio_mmio_slot(0);
  auto last = virtio_mmio_slot(kVirtioMmioMaxSlots - 1);
  ASSERT_TRUE(first && last);
  EXPECT_EQ(first->base, 0xd0000000u);
  EXPECT_EQ(first->size, 0x1000u);
  EXPECT_EQ(first->irq, 5u);
  EXPECT_EQ(last->base, 0xd0000000u + 18 * 0x1000u);
  EXPECT_EQ(last->irq, 23u);
  auto bad = virtio_mmio_slot(kVirtioMmioMaxSlots);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("at most 19 devices"));
}

TEST(E820Test, SmallRamMap) {
  auto layout = compute_memory_layout(256 * kMiB);
  ASSERT_TRUE(layout);
  const std::vector<E820Entry> expected = {
      {0, 0x9fc00, E820Type::kRam},
      {0x9fc00, 0x400, E820Type::kReserved},
      {0xe0000, 0x20000, E820Type::kReserved},
      {0x100000, 256 * kMiB - 0x100000, E820Type::kRam},
  };
  EXPECT_EQ(build_e820_map(*layout), expected);
}

TEST(E820Test, HighRamEntryStartsAtFourGiB) {
  auto layout = compute_memory_layout(5 * kGiB);
  ASSERT_TRUE(layout);
  const auto map = build_e820_map(*layout);
  ASSERT_EQ(map.size(), 5u);
  EXPECT_EQ(map[3], (E820Entry{0x100000, 3 * kGiB - 0x100000, E820Type::kRam}));
  EXPECT_EQ(map[4], (E820Entry{4 * kGiB, 2 * kGiB, E820Type::kRam}));
}

}  // namespace
}  // namespace cvm::vmm::x86
