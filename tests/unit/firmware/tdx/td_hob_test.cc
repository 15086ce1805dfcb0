// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/td_hob.h"

#include "base/hex.h"
#include "tests/unit/firmware/tdx/tdvf_test_image.h"

#include <gtest/gtest.h>

namespace cvm::firmware::tdx {
namespace {

TdvfMetadata synthetic_metadata() {
  auto parsed = parse_tdvf_metadata(testing::make_image(testing::default_sections()));
  EXPECT_TRUE(parsed.has_value());
  return *parsed;
}

TEST(TdHobTest, RamRangesSplitAroundAcceptedSections) {
  auto ranges = td_ram_ranges(0x100'0000, synthetic_metadata());
  ASSERT_TRUE(ranges.has_value()) << ranges.error().message();
  const std::vector<TdRamRange> expected = {
      {0x0, 0x1000, false},
      {0x1000, 0x2000, true},  // TempMem
      {0x3000, 0x1000, true},  // TD_HOB
      {0x4000, 0xffc000, false},
  };
  EXPECT_EQ(*ranges, expected);
}

TEST(TdHobTest, MemoryAboveThreeGibMovesAboveFourGib) {
  auto ranges = td_ram_ranges(0x1'0000'0000, synthetic_metadata());  // 4 GiB of RAM
  ASSERT_TRUE(ranges.has_value()) << ranges.error().message();
  ASSERT_EQ(ranges->size(), 5u);
  EXPECT_EQ((*ranges)[3], (TdRamRange{0x4000, 0xC000'0000 - 0x4000, false}));
  EXPECT_EQ((*ranges)[4], (TdRamRange{0x1'0000'0000, 0x4000'0000, false}));
}

TEST(TdHobTest, TooLittleMemoryForSectionsIsAnError) {
  auto ranges = td_ram_ranges(0x2000, synthetic_metadata());
  ASSERT_FALSE(ranges.has_value());
  EXPECT_EQ(ranges.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ranges.error().message(),
            "TDVF memory section at 0x1000+0x2000 is outside the TD's RAM (0x2000 bytes); give the "
            "TD more memory");
}

TEST(TdHobTest, UnalignedMemorySizeIsAnError) {
  auto ranges = td_ram_ranges(0x100'0800, synthetic_metadata());
  ASSERT_FALSE(ranges.has_value());
  EXPECT_EQ(ranges.error().code(), ErrorCode::kInvalidArgument);
}

// The expected bytes are written out field by field from the PI spec layouts.
TEST(TdHobTest, BytesForSyntheticLayout) {
  auto ranges = td_ram_ranges(0x100'0000, synthetic_metadata());
  ASSERT_TRUE(ranges.has_value());
  auto hob = build_td_hob(0x3000, 0x1000, *ranges);
  ASSERT_TRUE(hob.has_value()) << hob.error().message();
  ASSERT_EQ(hob->size(), 0x100u);
  // clang-format off
  const std::string expected =
      // PHIT: type 1, length 0x38, reserved; version 9, boot mode 0; 4x u64 0; end = 0x3100
      "0100" "3800" "00000000" "09000000" "00000000"
      "0000000000000000" "0000000000000000" "0000000000000000" "0000000000000000"
      "0031000000000000"
      // resource: type 3, length 0x30, owner 0, unaccepted (7), attr 7, [0, 0x1000)
      "0300" "3000" "00000000" "00000000000000000000000000000000" "07000000" "07000000"
      "0000000000000000" "0010000000000000"
      // system memory (0), [0x1000, +0x2000)
      "0300" "3000" "00000000" "00000000000000000000000000000000" "00000000" "07000000"
      "0010000000000000" "0020000000000000"
      // system memory (0), [0x3000, +0x1000)
      "0300" "3000" "00000000" "00000000000000000000000000000000" "00000000" "07000000"
      "0030000000000000" "0010000000000000"
      // unaccepted, [0x4000, +0xffc000)
      "0300" "3000" "00000000" "00000000000000000000000000000000" "07000000" "07000000"
      "0040000000000000" "00c0ff0000000000"
      // End of HOB list
      "ffff" "0800" "00000000";
  // clang-format on
  ASSERT_EQ(expected.size(), 2u * 0x100);
  EXPECT_EQ(to_hex(*hob), expected);
}

TEST(TdHobTest, IsDeterministic) {
  auto ranges = td_ram_ranges(0x2'0000'0000, synthetic_metadata());
  ASSERT_TRUE(ranges.has_value());
  EXPECT_EQ(*build_td_hob(0x3000, 0x1000, *ranges), *build_td_hob(0x3000, 0x1000, *ranges));
}

TEST(TdHobTest, OverflowingSectionIsAnError) {
  std::vector<TdRamRange> ranges(100, TdRamRange{0, 0x1000, false});
  auto hob = build_td_hob(0x3000, 0x1000, ranges);
  ASSERT_FALSE(hob.has_value());
  EXPECT_EQ(hob.error().message(),
            "TD HOB needs 0x1300 bytes for 100 RAM ranges but the TD_HOB section holds 0x1000");
}

}  // namespace
}  // namespace cvm::firmware::tdx
