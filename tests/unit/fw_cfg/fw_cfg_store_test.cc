// SPDX-License-Identifier: Apache-2.0
// FwCfgStoreBuilder's build-time errors and item encodings; the table-loader script format
// byte for byte and its parser.
#include "devices/fw_cfg/fw_cfg_store.h"

#include <gtest/gtest.h>

#include <string>

#include "devices/fw_cfg/table_loader.h"

namespace cvm::devices::fw_cfg {
namespace {

TEST(FwCfgStoreTest, DuplicateAndOverlongFileNamesAreBuildErrors) {
  FwCfgStoreBuilder builder;
  ASSERT_TRUE(builder.add_file("etc/e820", FwCfgBytes(std::vector<std::byte>{std::byte{1}})).has_value());
  auto dup = builder.add_file("etc/e820", FwCfgBytes(std::vector<std::byte>{}));
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().message(), "fw_cfg file \"etc/e820\" is added twice");
  EXPECT_TRUE(builder.add_file(std::string(55, 'a'), FwCfgBytes(std::vector<std::byte>{})).has_value());
  auto longer = builder.add_file(std::string(56, 'b'), FwCfgBytes(std::vector<std::byte>{}));
  ASSERT_FALSE(longer.has_value());
  EXPECT_EQ(longer.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(builder.add_file("", FwCfgBytes(std::vector<std::byte>{})).has_value());
  EXPECT_FALSE(builder.add_file(std::string("a\0b", 3), FwCfgBytes(std::vector<std::byte>{})).has_value());
}

TEST(FwCfgStoreTest, NumberedItemsRejectReservedFileAndRepeatedKeys) {
  FwCfgStoreBuilder builder;
  EXPECT_FALSE(builder.add_item(kKeySignature, le32_item(0)).has_value());
  EXPECT_FALSE(builder.add_item(kKeyId, le32_item(0)).has_value());
  EXPECT_FALSE(builder.add_item(kKeyFileDir, le32_item(0)).has_value());
  EXPECT_FALSE(builder.add_item(kKeyFileFirst, le32_item(0)).has_value());
  EXPECT_FALSE(builder.add_item(kKeyNbCpus | kKeyWriteFlag, le32_item(0)).has_value());
  ASSERT_TRUE(builder.add_item(kKeyRamSize, le64_item(0x0102030405060708)).has_value());
  auto twice = builder.add_item(kKeyRamSize, le64_item(0));
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().message(), "fw_cfg key 0x0003 is set twice");
  EXPECT_TRUE(builder.add_item(kKeyArchLocal | 0x20, le16_item(1)).has_value());
  auto store = std::move(builder).build();
  ASSERT_TRUE(store.has_value());
  EXPECT_EQ(store->keys(), (std::vector<uint16_t>{0x00, 0x01, 0x03, 0x19, 0x8020}));
  const auto ram = store->find(kKeyRamSize)->span();
  EXPECT_EQ(std::vector<std::byte>(ram.begin(), ram.end()),
            (std::vector<std::byte>{std::byte{8}, std::byte{7}, std::byte{6}, std::byte{5},
                                    std::byte{4}, std::byte{3}, std::byte{2}, std::byte{1}}));
  EXPECT_EQ(store->find(kKeyFileDir)->size(), 4u);  // count 0
  EXPECT_EQ(store->find(0x0030), nullptr);
}

TEST(FwCfgStoreTest, SlicesShareTheirOwnerAndAreBoundsChecked) {
  auto owner = std::make_shared<const std::vector<std::byte>>(10, std::byte{7});
  auto slice = FwCfgBytes::slice(owner, 4, 6);
  ASSERT_TRUE(slice.has_value());
  EXPECT_EQ(slice->span().data(), owner->data() + 4);
  EXPECT_FALSE(FwCfgBytes::slice(owner, 5, 6).has_value());
  EXPECT_FALSE(FwCfgBytes::slice(owner, 1, ~std::size_t{0}).has_value());
}

std::vector<std::byte> command_bytes(uint32_t command) {
  std::vector<std::byte> c(128);
  c[0] = static_cast<std::byte>(command);
  return c;
}

void put(std::vector<std::byte>& c, std::size_t at, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    c[at + i] = static_cast<std::byte>(text[i]);
  }
}

TEST(TableLoaderTest, EncodesEachCommandAsQemuLaysItOut) {
  const std::vector<LoaderCommand> commands = {
      LoaderAllocate{"etc/acpi/rsdp", 16, LoaderZone::kFseg},
      LoaderAddPointer{"etc/acpi/rsdp", "etc/acpi/tables", 0x18, 8},
      LoaderAddChecksum{"etc/acpi/tables", 0x109, 0x100, 0x1234},
  };
  auto script = encode_table_loader(commands);
  ASSERT_TRUE(script.has_value()) << script.error().message();
  ASSERT_EQ(script->size(), 3 * 128u);

  auto alloc = command_bytes(1);
  put(alloc, 4, "etc/acpi/rsdp");
  alloc[60] = std::byte{16};
  alloc[64] = std::byte{2};
  auto pointer = command_bytes(2);
  put(pointer, 4, "etc/acpi/rsdp");
  put(pointer, 60, "etc/acpi/tables");
  pointer[116] = std::byte{0x18};
  pointer[120] = std::byte{8};
  auto checksum = command_bytes(3);
  put(checksum, 4, "etc/acpi/tables");
  checksum[60] = std::byte{0x09};
  checksum[61] = std::byte{0x01};
  checksum[65] = std::byte{0x01};
  checksum[68] = std::byte{0x34};
  checksum[69] = std::byte{0x12};
  std::vector<std::byte> expected = alloc;
  expected.insert(expected.end(), pointer.begin(), pointer.end());
  expected.insert(expected.end(), checksum.begin(), checksum.end());
  EXPECT_EQ(*script, expected);

  auto parsed = parse_table_loader(*script);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, commands);
}

TEST(TableLoaderTest, EncoderRefusesWhatFirmwareWouldReject) {
  const LoaderCommand bad[] = {
      LoaderAllocate{"x", 8192, LoaderZone::kHigh},
      LoaderAllocate{"x", 3, LoaderZone::kHigh},
      LoaderAllocate{std::string(56, 'n'), 16, LoaderZone::kHigh},
      LoaderAddPointer{"a", "b", 0, 3},
      LoaderAddChecksum{"", 0, 0, 0},
  };
  for (const LoaderCommand& command : bad) {
    EXPECT_FALSE(encode_table_loader(std::span(&command, 1)).has_value());
  }
}

TEST(TableLoaderTest, ParserSkipsUnknownCommandsAndRejectsMalformedScripts) {
  auto unknown = command_bytes(4);  // WRITE_POINTER: not produced, skipped like OVMF does
  auto parsed = parse_table_loader(unknown);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->empty());
  EXPECT_FALSE(parse_table_loader(std::vector<std::byte>(127)).has_value());
  auto unterminated = command_bytes(1);
  put(unterminated, 4, std::string(56, 'f'));
  auto error = parse_table_loader(unterminated);
  ASSERT_FALSE(error.has_value());
  EXPECT_EQ(error.error().message(),
            "command at 0x0: table-loader: file name at offset 0x4 is not NUL-terminated");
}

}  // namespace
}  // namespace cvm::devices::fw_cfg
