#include "base/byte_reader.h"

#include <array>

#include <gtest/gtest.h>

namespace cvm {
namespace {

TEST(ByteReaderTest, ReadsLittleAndBigEndian) {
  const std::array<std::byte, 4> bytes = {std::byte{0x01}, std::byte{0x02}, std::byte{0x03},
                                          std::byte{0x04}};
  ByteReader reader(bytes, "test");
  EXPECT_EQ(*reader.le<uint32_t>(0, "x"), 0x04030201u);
  EXPECT_EQ(*reader.be<uint32_t>(0, "x"), 0x01020304u);
  EXPECT_EQ(*reader.le<uint16_t>(2, "x"), 0x0403u);
}

TEST(ByteReaderTest, OutOfRangeReadNamesField) {
  const std::array<std::byte, 4> bytes{};
  ByteReader reader(bytes, "image");
  auto r = reader.le<uint32_t>(1, "length");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kMalformedImage);
  EXPECT_NE(r.error().message().find("length at offset 0x1"), std::string::npos);
  EXPECT_FALSE(reader.slice(SIZE_MAX, 2, "x").has_value());
}

TEST(ByteReaderTest, StoreLeRoundTrips) {
  std::array<std::byte, 8> out{};
  store_le<uint64_t>(out, 0x1122334455667788ull);
  EXPECT_EQ(load_le<uint64_t>(out), 0x1122334455667788ull);
}

}  // namespace
}  // namespace cvm
