#include "firmware/ovmf/footer_table.h"

#include <vector>

#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "base/file.h"

namespace cvm::firmware::ovmf {
namespace {

constexpr Guid kTestGuid = Guid::parse("11111111-2222-3333-4444-555555555555");

void put_u16(std::vector<std::byte>& image, std::size_t at, uint16_t v) {
  store_le<uint16_t>(std::span<std::byte>(image).subspan(at).first<2>(), v);
}
void put_guid(std::vector<std::byte>& image, std::size_t at, const Guid& g) {
  std::copy(g.bytes().begin(), g.bytes().end(), image.begin() + static_cast<long>(at));
}

// A 4 KiB image whose footer table holds one entry with 4 data bytes.
std::vector<std::byte> synthetic_image() {
  std::vector<std::byte> image(4096);
  const std::size_t footer_guid = image.size() - 0x30;
  put_guid(image, footer_guid, kFooterTableGuid);
  put_u16(image, footer_guid - 2, 18 + 22);  // footer + one entry of 4 data bytes
  const std::size_t entry_guid = footer_guid - 2 - 16;
  put_guid(image, entry_guid, kTestGuid);
  put_u16(image, entry_guid - 2, 22);
  store_le<uint32_t>(std::span<std::byte>(image).subspan(entry_guid - 6).first<4>(), 0xabcd);
  return image;
}

TEST(FooterTableTest, ParsesSyntheticEntry) {
  auto image = synthetic_image();
  auto table = parse_footer_table(image);
  ASSERT_TRUE(table.has_value()) << table.error().message();
  ASSERT_EQ(table->entries().size(), 1u);
  EXPECT_EQ(*table->u32(kTestGuid), 0xabcdu);
  EXPECT_EQ(table->u32(kSevEsResetBlockGuid).error().code(), ErrorCode::kNotFound);
}

TEST(FooterTableTest, MissingFooterIsNotFound) {
  std::vector<std::byte> image(4096);
  auto table = parse_footer_table(image);
  ASSERT_FALSE(table.has_value());
  EXPECT_EQ(table.error().code(), ErrorCode::kNotFound);
}

TEST(FooterTableTest, EntryLengthBeyondTableIsMalformed) {
  auto image = synthetic_image();
  put_u16(image, image.size() - 0x30 - 2 - 16 - 2, 200);
  auto table = parse_footer_table(image);
  ASSERT_FALSE(table.has_value());
  EXPECT_EQ(table.error().code(), ErrorCode::kMalformedImage);
}

TEST(FooterTableTest, TableLengthBeyondImageIsMalformed) {
  auto image = synthetic_image();
  put_u16(image, image.size() - 0x32, 0xffff);
  EXPECT_EQ(parse_footer_table(image).error().code(), ErrorCode::kMalformedImage);
}

TEST(FooterTableTest, TinyImageIsMalformed) {
  std::vector<std::byte> image(10);
  EXPECT_EQ(parse_footer_table(image).error().code(), ErrorCode::kMalformedImage);
}

TEST(FooterTableTest, DebianOvmfHasTdxAndSevEntries) {
  auto image = read_file(CVMM_OVMF_FD);
  if (!image) {
    GTEST_SKIP() << "reference firmware missing: " << image.error().message();
  }
  auto table = parse_footer_table(*image);
  ASSERT_TRUE(table.has_value()) << table.error().message();
  EXPECT_NE(table->find(kTdxMetadataOffsetGuid), nullptr);
  EXPECT_NE(table->find(kSevMetadataOffsetGuid), nullptr);
  EXPECT_NE(table->find(kSevEsResetBlockGuid), nullptr);
}

}  // namespace
}  // namespace cvm::firmware::ovmf
