// SPDX-License-Identifier: Apache-2.0
#include "firmware/ovmf/sev_metadata.h"

#include <gtest/gtest.h>

#include "base/file.h"
#include "tests/unit/firmware/snp/synthetic_ovmf.h"

namespace cvm::firmware::ovmf {
namespace {

using testing::build_synthetic_ovmf;
using testing::put_u32;
using testing::synthetic_metadata_offset;
using testing::SyntheticOvmfOptions;

Result<SevFirmwareInfo> parse(const std::vector<std::byte>& image) {
  return parse_sev_firmware(image);
}

void expect_malformed(const std::vector<std::byte>& image, std::string_view needle) {
  auto info = parse(image);
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code(), ErrorCode::kMalformedImage);
  EXPECT_NE(info.error().message().find(needle), std::string::npos) << info.error().message();
}

TEST(SevMetadataTest, ParsesSyntheticImage) {
  const SyntheticOvmfOptions options;
  auto info = parse(build_synthetic_ovmf(options));
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_TRUE(info->has_metadata);
  EXPECT_EQ(info->sections, options.sections);
  ASSERT_TRUE(info->ap_reset_address.has_value());
  EXPECT_EQ(*info->ap_reset_address, 0x0080b004u);
  ASSERT_TRUE(info->hashes_area.has_value());
  EXPECT_EQ(info->hashes_area->base, 0x00810c00u);
  EXPECT_EQ(info->hashes_area->size, 0x400u);
}

TEST(SevMetadataTest, ParsesDebianOvmf) {
  auto image = read_file(CVMM_OVMF_FD);
  if (!image && image.error().code() == ErrorCode::kNotFound) {
    GTEST_SKIP() << CVMM_OVMF_FD << " is absent: install Debian's ovmf package";
  }
  ASSERT_TRUE(image.has_value()) << image.error().message();
  auto info = parse(*image);
  ASSERT_TRUE(info.has_value()) << info.error().message();
  const std::vector<SevMetadataSection> expected = {
      {0x800000, 0x9000, SevSectionType::kSnpSecMem},
      {0x80a000, 0x3000, SevSectionType::kSnpSecMem},
      {0x80d000, 0x1000, SevSectionType::kSnpSecrets},
      {0x80e000, 0x1000, SevSectionType::kCpuid},
      {0x80f000, 0x11000, SevSectionType::kSnpSecMem},
  };
  EXPECT_EQ(info->sections, expected);
  EXPECT_EQ(info->ap_reset_address, std::optional<uint32_t>(0x0080b004));
  // This build has no measured direct boot: the GUID is present with base 0, size 0.
  ASSERT_TRUE(info->hashes_area.has_value());
  EXPECT_EQ(info->hashes_area->base, 0u);
  EXPECT_EQ(info->hashes_area->size, 0u);
}

TEST(SevMetadataTest, ImageWithoutFooterTableHasNoMetadata) {
  std::vector<std::byte> image(8192);
  auto info = parse(image);
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_FALSE(info->has_metadata);
  EXPECT_TRUE(info->sections.empty());
  EXPECT_FALSE(info->ap_reset_address.has_value());
  EXPECT_FALSE(info->hashes_area.has_value());
}

TEST(SevMetadataTest, TableWithoutSevEntriesHasNoMetadata) {
  SyntheticOvmfOptions options;
  options.with_metadata = false;
  options.with_reset_block = false;
  options.with_hashes_area = false;
  auto info = parse(build_synthetic_ovmf(options));
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_FALSE(info->has_metadata);
  EXPECT_FALSE(info->ap_reset_address.has_value());
}

TEST(SevMetadataTest, OffsetBeyondImageIsMalformed) {
  SyntheticOvmfOptions options;
  options.metadata_offset_from_end = 0x20000;  // image is 64 KiB
  // The builder would write the header out of bounds; point the entry there afterwards.
  SyntheticOvmfOptions in_bounds = options;
  in_bounds.metadata_offset_from_end = 0x1000;
  auto image = build_synthetic_ovmf(in_bounds);
  auto table = parse_footer_table(image);
  ASSERT_TRUE(table.has_value());
  const FooterEntry* entry = table->find(kSevMetadataOffsetGuid);
  ASSERT_NE(entry, nullptr);
  put_u32(image, entry->data_offset, options.metadata_offset_from_end);
  expect_malformed(image, "outside the image");
}

TEST(SevMetadataTest, TruncatedSectionTableIsMalformed) {
  // The header claims 0x2000 bytes but starts 0x1000 bytes before the end of the image.
  auto image = build_synthetic_ovmf();
  put_u32(image, synthetic_metadata_offset() + 4, 0x2000);
  expect_malformed(image, "length 0x2000 at 0xf000 is out of range");
}

TEST(SevMetadataTest, SectionCountBeyondLengthIsMalformed) {
  auto image = build_synthetic_ovmf();
  put_u32(image, synthetic_metadata_offset() + 12, 7);  // 7 sections, length fits 6
  expect_malformed(image, "section count 7 does not fit");
}

TEST(SevMetadataTest, HugeSectionCountIsMalformed) {
  auto image = build_synthetic_ovmf();
  put_u32(image, synthetic_metadata_offset() + 12, 0xffffffff);
  expect_malformed(image, "section count");
}

TEST(SevMetadataTest, BadSignatureIsMalformed) {
  auto image = build_synthetic_ovmf();
  image[synthetic_metadata_offset()] = std::byte{'X'};
  expect_malformed(image, "signature");
}

TEST(SevMetadataTest, BadVersionIsMalformed) {
  auto image = build_synthetic_ovmf();
  put_u32(image, synthetic_metadata_offset() + 8, 2);
  expect_malformed(image, "version 2 is not 1");
}

TEST(SevMetadataTest, OverlappingSectionsAreMalformed) {
  SyntheticOvmfOptions options;
  options.sections[1].gpa = 0x808000;  // inside section 0 [0x800000, 0x809000)
  expect_malformed(build_synthetic_ovmf(options), "section 1 [0x808000, 0x809000) overlaps section 0");
}

TEST(SevMetadataTest, UnknownSectionTypeIsMalformed) {
  auto image = build_synthetic_ovmf();
  put_u32(image, synthetic_metadata_offset() + 16 + 8, 0x7);
  expect_malformed(image, "section 0 has unknown type 0x7");
}

TEST(SevMetadataTest, UnalignedOrEmptySectionsAreMalformed) {
  SyntheticOvmfOptions unaligned;
  unaligned.sections[2].gpa = 0x80a800;
  expect_malformed(build_synthetic_ovmf(unaligned), "base 0x80a800 is not 4 KiB aligned");
  SyntheticOvmfOptions empty;
  empty.sections[3].size = 0;
  expect_malformed(build_synthetic_ovmf(empty), "section 3 (SNP_SEC_MEM) size 0x0");
  SyntheticOvmfOptions high;
  high.sections = {{0xfffff000, 0x2000, SevSectionType::kSnpSecMem}};
  expect_malformed(build_synthetic_ovmf(high), "ends above 4 GiB");
}

TEST(SevMetadataTest, ShortOffsetEntryIsMalformed) {
  // A footer table whose only entry is the metadata offset with 2 data bytes instead of 4.
  std::vector<std::byte> image(4096);
  const std::size_t footer_guid = image.size() - 0x30;
  std::copy(kFooterTableGuid.bytes().begin(), kFooterTableGuid.bytes().end(),
            image.begin() + static_cast<long>(footer_guid));
  testing::put_u16(image, footer_guid - 2, 18 + 20);
  const std::size_t entry_guid = footer_guid - 2 - 16;
  std::copy(kSevMetadataOffsetGuid.bytes().begin(), kSevMetadataOffsetGuid.bytes().end(),
            image.begin() + static_cast<long>(entry_guid));
  testing::put_u16(image, entry_guid - 2, 20);
  expect_malformed(image, "dc886566-984a-4798-a75e-5585a7bf67cc");
}

// QEMU's original layout: the reset block GUID alone at end-0x30, length at end-0x32, data
// below (QEMU target/i386/sev.c sev_es_find_reset_vector).
TEST(SevEsResetVectorTest, FindsLegacyBlock) {
  std::vector<std::byte> image(4096);
  const std::size_t guid_at = image.size() - 0x30;
  std::copy(kSevEsResetBlockGuid.bytes().begin(), kSevEsResetBlockGuid.bytes().end(),
            image.begin() + static_cast<long>(guid_at));
  testing::put_u16(image, guid_at - 2, 18 + 4);
  put_u32(image, guid_at - 2 - 4, 0x00ff1234);
  auto address = find_sev_es_reset_address(image, nullptr);
  ASSERT_TRUE(address.has_value()) << address.error().message();
  EXPECT_EQ(*address, std::optional<uint32_t>(0x00ff1234));
  // The same image through parse_sev_firmware (no footer table) finds it too.
  auto info = parse(image);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->ap_reset_address, std::optional<uint32_t>(0x00ff1234));
}

TEST(SevEsResetVectorTest, LegacyBlockWithBadLengthIsMalformed) {
  std::vector<std::byte> image(4096);
  const std::size_t guid_at = image.size() - 0x30;
  std::copy(kSevEsResetBlockGuid.bytes().begin(), kSevEsResetBlockGuid.bytes().end(),
            image.begin() + static_cast<long>(guid_at));
  testing::put_u16(image, guid_at - 2, 0xffff);
  auto address = find_sev_es_reset_address(image, nullptr);
  ASSERT_FALSE(address.has_value());
  EXPECT_EQ(address.error().code(), ErrorCode::kMalformedImage);
}

TEST(SevEsResetVectorTest, TinyImageHasNoBlock) {
  std::vector<std::byte> image(16);
  auto address = find_sev_es_reset_address(image, nullptr);
  ASSERT_TRUE(address.has_value());
  EXPECT_FALSE(address->has_value());
}

}  // namespace
}  // namespace cvm::firmware::ovmf
