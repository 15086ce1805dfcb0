// SPDX-License-Identifier: Apache-2.0
#include "firmware/tdx/tdvf_metadata.h"

#include "base/file.h"
#include "tests/unit/firmware/tdx/tdvf_test_image.h"

#include <gtest/gtest.h>

namespace cvm::firmware::tdx {
namespace {

using testing::default_sections;
using testing::kDescriptorOffset;
using testing::make_image;
using testing::RawSection;

std::string error_of(const std::vector<std::byte>& image) {
  auto parsed = parse_tdvf_metadata(image);
  EXPECT_FALSE(parsed.has_value());
  return parsed.has_value() ? std::string() : parsed.error().message();
}

TEST(TdvfMetadataTest, ParsesSyntheticImageViaFooterTable) {
  auto parsed = parse_tdvf_metadata(make_image(default_sections()));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  EXPECT_EQ(parsed->locator, TdvfLocator::kFooterTable);
  EXPECT_EQ(parsed->descriptor_offset, kDescriptorOffset);
  ASSERT_EQ(parsed->sections.size(), 4u);
  const TdvfSection& bfv = parsed->sections[0];
  EXPECT_EQ(bfv.type, TdvfSectionType::kBfv);
  EXPECT_EQ(bfv.data_offset, 0x8000u);
  EXPECT_EQ(bfv.raw_data_size, 0x8000u);
  EXPECT_EQ(bfv.memory_address, 0xffff8000u);
  EXPECT_TRUE(bfv.mr_extend());
  EXPECT_FALSE(parsed->sections[1].mr_extend());
  ASSERT_NE(parsed->td_hob(), nullptr);
  EXPECT_EQ(parsed->td_hob()->memory_address, 0x3000u);
}

TEST(TdvfMetadataTest, LegacyOffsetIsAFileOffset) {
  auto parsed = parse_tdvf_metadata(make_image(default_sections(), /*footer=*/false));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  EXPECT_EQ(parsed->locator, TdvfLocator::kLegacyOffset);
  EXPECT_EQ(parsed->descriptor_offset, kDescriptorOffset);
}

TEST(TdvfMetadataTest, ImageWithoutMetadataIsNotFound) {
  std::vector<std::byte> image(0x10000);
  auto parsed = parse_tdvf_metadata(image);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code(), ErrorCode::kNotFound);
}

TEST(TdvfMetadataTest, TruncatedDescriptorIsMalformed) {
  auto image = make_image(default_sections());
  // A valid GUID and descriptor header in the last 16 bytes: the 4 sections run past the end.
  const std::size_t descriptor = image.size() - 16;
  testing::put_guid(image, descriptor - 16, kTdvfMetadataGuid);
  testing::put_u32(image, descriptor, kTdvfSignature);
  testing::put_u32(image, descriptor + 4, 16 + 32 * 4);
  testing::put_u32(image, descriptor + 8, 1);
  testing::put_u32(image, descriptor + 12, 4);
  testing::put_u32(image, image.size() - 0x30 - 2 - 16 - 6, 16);
  auto parsed = parse_tdvf_metadata(image);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code(), ErrorCode::kMalformedImage);
  EXPECT_EQ(parsed.error().message(),
            "TDVF metadata: descriptor and sections at offset 0xfff0 length 0x90 runs past the "
            "end (size 0x10000)");
}

TEST(TdvfMetadataTest, OffsetBeyondImageIsMalformed) {
  auto image = make_image(default_sections());
  testing::put_u32(image, image.size() - 0x30 - 2 - 16 - 6, 0x20000);
  EXPECT_NE(error_of(image).find("does not fit the 0x10000-byte image"), std::string::npos);
}

TEST(TdvfMetadataTest, BadGuidIsMalformed) {
  auto image = make_image(default_sections());
  image[kDescriptorOffset - 1] ^= std::byte{0xff};
  EXPECT_NE(error_of(image).find("TDVF metadata GUID"), std::string::npos);
}

TEST(TdvfMetadataTest, BadSignatureIsMalformed) {
  auto image = make_image(default_sections());
  testing::put_u32(image, kDescriptorOffset, 0x46564455);
  EXPECT_NE(error_of(image).find("Signature 0x46564455"), std::string::npos);
}

TEST(TdvfMetadataTest, BadVersionIsMalformed) {
  auto image = make_image(default_sections());
  testing::put_u32(image, kDescriptorOffset + 8, 2);
  EXPECT_NE(error_of(image).find("Version 2 is not supported"), std::string::npos);
}

TEST(TdvfMetadataTest, LengthMismatchIsMalformed) {
  auto image = make_image(default_sections());
  testing::put_u32(image, kDescriptorOffset + 4, 16 + 32 * 3);
  EXPECT_NE(error_of(image).find("Length 0x70 does not match"), std::string::npos);
}

TEST(TdvfMetadataTest, OverlappingSectionsNameBoth) {
  auto sections = default_sections();
  sections[3].memory_address = 0x2000;  // TD_HOB now inside TempMem 0x1000+0x2000
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF section 3 (TD_HOB) at 0x2000+0x1000 overlaps section 2 (TempMem) at "
            "0x1000+0x2000");
}

TEST(TdvfMetadataTest, UnalignedAddressNamesSectionAndField) {
  auto sections = default_sections();
  sections[2].memory_address = 0x1800;
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF section 2 (TempMem): MemoryAddress 0x1800 is not 4 KiB aligned");
}

TEST(TdvfMetadataTest, UnalignedSizeIsMalformed) {
  auto sections = default_sections();
  sections[2].memory_data_size = 0x2100;
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF section 2 (TempMem): MemoryDataSize 0x2100 is not 4 KiB aligned");
}

TEST(TdvfMetadataTest, RawLargerThanMemoryIsMalformed) {
  auto sections = default_sections();
  sections[1].memory_data_size = 0x3000;
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF section 1 (CFV): RawDataSize 0x4000 exceeds MemoryDataSize 0x3000");
}

TEST(TdvfMetadataTest, RawDataPastImageEndIsMalformed) {
  auto sections = default_sections();
  sections[0].data_offset = 0x9000;
  const std::string error = error_of(make_image(sections));
  EXPECT_NE(error.find("TDVF section 0 (BFV): DataOffset 0x9000 + RawDataSize 0x8000 runs past "
                       "the end of the 0x10000-byte image"),
            std::string::npos)
      << error;
}

TEST(TdvfMetadataTest, ReservedAttributeBitsAreMalformed) {
  auto sections = default_sections();
  sections[0].attributes = 0x5;
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF section 0 (BFV): Attributes 0x5 has reserved bits set");
}

TEST(TdvfMetadataTest, UnknownTypeIsMalformed) {
  auto sections = default_sections();
  sections[2].type = 8;
  EXPECT_EQ(error_of(make_image(sections)), "TDVF section 2: Type 8 is not a known section type");
}

TEST(TdvfMetadataTest, TwoTdHobsAreMalformed) {
  auto sections = default_sections();
  sections.push_back({0, 0, 0x8000, 0x1000, 2, 0});
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF metadata has 2 TD_HOB sections, at most one is allowed");
}

TEST(TdvfMetadataTest, MissingBfvIsMalformed) {
  auto sections = default_sections();
  sections[0].type = 1;  // a second CFV instead
  sections[0].attributes = 0;
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF metadata has 0 BFV sections, exactly one is required");
}

TEST(TdvfMetadataTest, TdHobWithRawDataIsMalformed) {
  auto sections = default_sections();
  sections[3].raw_data_size = 0x10;
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF section 3 (TD_HOB): RawDataSize 0x10 must be 0 for this section type");
}

TEST(TdvfMetadataTest, BfvWithoutRawDataIsMalformed) {
  auto sections = default_sections();
  sections[0].raw_data_size = 0;
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF section 0 (BFV): RawDataSize is 0 but this section type is copied from the "
            "image");
}

TEST(TdvfMetadataTest, MrExtendOnTempMemIsMalformed) {
  auto sections = default_sections();
  sections[2].attributes = 1;
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF section 2 (TempMem): attribute MR.EXTEND is not allowed for this section type");
}

TEST(TdvfMetadataTest, AddressOverflowIsMalformed) {
  auto sections = default_sections();
  sections[2].memory_address = 0xffff'ffff'ffff'f000;
  EXPECT_EQ(error_of(make_image(sections)),
            "TDVF section 2 (TempMem): MemoryAddress 0xfffffffffffff000 + MemoryDataSize 0x2000 "
            "overflows");
}

TEST(TdvfMetadataTest, EveryTruncationFailsCleanly) {
  const auto image = make_image(default_sections());
  for (std::size_t size = 0; size < image.size(); size += 0x100) {
    auto parsed = parse_tdvf_metadata(std::span(image).last(size));
    EXPECT_FALSE(parsed.has_value()) << "tail of " << size << " bytes";
  }
}

// Debian's ovmf 2022.11 unified image: 6 sections (BFV, CFV, 3x TempMem, TD_HOB).
TEST(TdvfMetadataTest, DebianOvmfLayout) {
  auto image = read_file(CVMM_OVMF_FD);
  if (!image.has_value()) {
    GTEST_SKIP() << "reference image absent: " << image.error().message();
  }
  auto parsed = parse_tdvf_metadata(*image);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  EXPECT_EQ(parsed->descriptor_offset, image->size() - 0x840);
  ASSERT_EQ(parsed->sections.size(), 6u);
  const TdvfSection& bfv = parsed->sections[0];
  EXPECT_EQ(bfv.data_offset, 0x20000u);
  EXPECT_EQ(bfv.raw_data_size, 0x1e0000u);
  EXPECT_EQ(bfv.memory_address, 0xffe20000u);
  const TdvfSection& hob = parsed->sections[4];
  EXPECT_EQ(hob.type, TdvfSectionType::kTdHob);
  EXPECT_EQ(hob.memory_address, 0x809000u);
  EXPECT_EQ(hob.memory_data_size, 0x2000u);
}

// The CODE half alone carries the unified image's offsets: a clear error, not a crash.
TEST(TdvfMetadataTest, CodeOnlyImageIsRejectedWithHint) {
  auto image = read_file(CVMM_OVMF_FD);
  if (!image.has_value()) {
    GTEST_SKIP() << "reference image absent: " << image.error().message();
  }
  const std::span<const std::byte> code_only = std::span(*image).last(0x1e0000);
  auto parsed = parse_tdvf_metadata(code_only);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().message(),
            "TDVF section 0 (BFV): DataOffset 0x20000 + RawDataSize 0x1e0000 runs past the end of "
            "the 0x1e0000-byte image (the metadata describes a larger image: a split "
            "OVMF_CODE.fd cannot be used for TDX, pass the unified OVMF.fd)");
}

}  // namespace
}  // namespace cvm::firmware::tdx
