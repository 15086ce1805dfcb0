// SPDX-License-Identifier: Apache-2.0
#include "vmm/config/value_parsers.h"

#include <gtest/gtest.h>

namespace cvm::vmm::config {
namespace {

template <typename T>
std::string error_of(const Result<T>& result) {
  return result ? std::string("<ok>") : result.error().message();
}

std::vector<uint8_t> bytes_of(std::string_view text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

TEST(ParseSizeTest, AcceptsBytesAndBinarySuffixes) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("0"), 0u);
  EXPECT_EQ(*parse_size("2K"), 2048u);
  EXPECT_EQ(*parse_size("2k"), 2048u);
  EXPECT_EQ(*parse_size("512M"), uint64_t{512} << 20);
  EXPECT_EQ(*parse_size("512m"), uint64_t{512} << 20);
  EXPECT_EQ(*parse_size("3G"), uint64_t{3} << 30);
  EXPECT_EQ(*parse_size("18446744073709551615"), UINT64_MAX);
}

TEST(ParseSizeTest, RejectsMalformedText) {
  EXPECT_EQ(error_of(parse_size("")), "empty size");
  EXPECT_EQ(error_of(parse_size("12X")),
            "'12X' is not a size (expected bytes or a number with K, M or G)");
  EXPECT_EQ(error_of(parse_size("M")),
            "'M' is not a size (expected bytes or a number with K, M or G)");
  EXPECT_FALSE(parse_size("-1M"));
  EXPECT_FALSE(parse_size("1.5G"));
  EXPECT_FALSE(parse_size(" 1G"));
  EXPECT_FALSE(parse_size("1T"));
  EXPECT_FALSE(parse_size("1MB"));
}

TEST(ParseSizeTest, RejectsOverflow) {
  EXPECT_EQ(error_of(parse_size("18446744073709551616")), "18446744073709551616 is out of range");
  EXPECT_EQ(error_of(parse_size("17179869184G")), "17179869184G is out of range");
  EXPECT_EQ(*parse_size("17179869183G"), uint64_t{17179869183} << 30);
}

TEST(ParseBoolTest, AcceptsOnOffTrueFalse) {
  EXPECT_TRUE(*parse_bool("on"));
  EXPECT_TRUE(*parse_bool("true"));
  EXPECT_FALSE(*parse_bool("off"));
  EXPECT_FALSE(*parse_bool("false"));
  EXPECT_EQ(error_of(parse_bool("yes")),
            "'yes' is not a boolean (expected on, off, true or false)");
  EXPECT_FALSE(parse_bool("ON"));
  EXPECT_FALSE(parse_bool(""));
}

TEST(ParseDecimalTest, ChecksDigitsAndRange) {
  EXPECT_EQ(*parse_decimal("255"), 255u);
  EXPECT_EQ(*parse_decimal("007"), 7u);
  EXPECT_EQ(error_of(parse_decimal("+1")), "'+1' is not a decimal number");
  EXPECT_EQ(error_of(parse_decimal("0x10")), "'0x10' is not a decimal number");
  EXPECT_EQ(error_of(parse_decimal("")), "'' is not a decimal number");
  EXPECT_EQ(error_of(parse_decimal("4294967296", UINT32_MAX)),
            "4294967296 is out of range (maximum 4294967295)");
  EXPECT_EQ(error_of(parse_decimal("99999999999999999999")),
            "99999999999999999999 is out of range (maximum 18446744073709551615)");
}

TEST(ParseHexU64Test, AcceptsWithAndWithoutPrefix) {
  EXPECT_EQ(*parse_hex_u64("0x30000"), 0x30000u);
  EXPECT_EQ(*parse_hex_u64("30000"), 0x30000u);
  EXPECT_EQ(*parse_hex_u64("0XfFfF"), 0xffffu);
  EXPECT_EQ(*parse_hex_u64("ffffffffffffffff"), UINT64_MAX);
  EXPECT_EQ(error_of(parse_hex_u64("0x")), "'0x' is not a hex number");
  EXPECT_EQ(error_of(parse_hex_u64("0x3g")), "'0x3g' is not a hex number");
  EXPECT_EQ(error_of(parse_hex_u64("0x10000000000000000")),
            "0x10000000000000000 is out of range (more than 64 bits)");
}

TEST(DecodeBase64Test, MatchesRfc4648Vectors) {
  // RFC 4648 §10 test vectors, padded and unpadded.
  EXPECT_EQ(*decode_base64(""), bytes_of(""));
  EXPECT_EQ(*decode_base64("Zg=="), bytes_of("f"));
  EXPECT_EQ(*decode_base64("Zg"), bytes_of("f"));
  EXPECT_EQ(*decode_base64("Zm8="), bytes_of("fo"));
  EXPECT_EQ(*decode_base64("Zm9v"), bytes_of("foo"));
  EXPECT_EQ(*decode_base64("Zm9vYg=="), bytes_of("foob"));
  EXPECT_EQ(*decode_base64("Zm9vYmE"), bytes_of("fooba"));
  EXPECT_EQ(*decode_base64("Zm9vYmFy"), bytes_of("foobar"));
  EXPECT_EQ(*decode_base64("+/8="), (std::vector<uint8_t>{0xfb, 0xff}));
}

TEST(DecodeBase64Test, RejectsBadInput) {
  EXPECT_EQ(error_of(decode_base64("Z")), "invalid base64 length");
  EXPECT_EQ(error_of(decode_base64("Zg=")), "invalid base64 length");
  EXPECT_EQ(error_of(decode_base64("Zm9v=")), "invalid base64 length");
  EXPECT_EQ(error_of(decode_base64("Zm9v!A==")), "invalid base64 character at position 4");
  EXPECT_EQ(error_of(decode_base64("Zh==")), "non-canonical base64 (unused bits are not zero)");
  EXPECT_FALSE(decode_base64("Zg===="));
  EXPECT_FALSE(decode_base64("Z=g="));
}

TEST(ParseHexOrBase64Test, AcceptsHexOfTheExactLength) {
  const std::string hex(64, 'a');
  auto bytes = parse_hex_or_base64(hex, 32);
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(*bytes, std::vector<uint8_t>(32, 0xaa));
  EXPECT_EQ(*parse_hex_or_base64("0x" + hex, 32), std::vector<uint8_t>(32, 0xaa));
}

TEST(ParseHexOrBase64Test, AcceptsBase64OfTheExactLength) {
  // 32 zero bytes: 43 'A' + '=' ; 48 bytes of 0xff: 64 '/' (no padding).
  auto host_data = parse_hex_or_base64(std::string(43, 'A') + "=", 32);
  ASSERT_TRUE(host_data) << host_data.error().message();
  EXPECT_EQ(*host_data, std::vector<uint8_t>(32, 0));
  auto mrconfigid = parse_hex_or_base64(std::string(64, '/'), 48);
  ASSERT_TRUE(mrconfigid) << mrconfigid.error().message();
  EXPECT_EQ(*mrconfigid, std::vector<uint8_t>(48, 0xff));
  // 64 hex digits are 32 bytes as hex but 48 bytes as base64: the expected length decides.
  EXPECT_EQ(parse_hex_or_base64(std::string(64, 'a'), 48)->size(), 48u);
}

TEST(ParseHexOrBase64Test, RejectsOtherLengths) {
  EXPECT_EQ(error_of(parse_hex_or_base64("abcd", 32)),
            "'abcd' is neither 64 hex digits nor base64 of 32 bytes");
  EXPECT_EQ(error_of(parse_hex_or_base64(std::string(30, 'a'), 48)),
            "'aaaaaaaaaaaaaaaaaaaaaaaa'... is neither 96 hex digits nor base64 of 48 bytes");
  EXPECT_FALSE(parse_hex_or_base64("", 32));
}

TEST(FormatSizeTest, UsesTheLargestExactUnit) {
  EXPECT_EQ(format_size(uint64_t{32} << 20), "32 MiB");
  EXPECT_EQ(format_size(uint64_t{3} << 30), "3 GiB");
  EXPECT_EQ(format_size(uint64_t{1} << 40), "1 TiB");
  EXPECT_EQ(format_size(4096), "4 KiB");
  EXPECT_EQ(format_size(1000), "1000 bytes");
  EXPECT_EQ(format_size(0), "0 bytes");
  EXPECT_EQ(format_size(1), "1 byte");
}

TEST(Utf8Test, AcceptsWellFormedAndRejectsMalformed) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("console=ttyS0"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // e-acute, euro, emoji
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));                         // U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\x80"));                  // lone continuation byte
  EXPECT_FALSE(is_valid_utf8("\xc3"));                  // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));              // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));          // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));      // U+110000
  EXPECT_FALSE(is_valid_utf8("\xe2\x28\xa1"));          // bad continuation
}

TEST(QuoteTest, EscapesUnprintableBytes) {
  EXPECT_EQ(quote("a b"), "'a b'");
  EXPECT_EQ(quote(std::string_view("a\nb\0c", 5)), "'a\\x0ab\\x00c'");
  EXPECT_EQ(quote("it's"), "'it\\x27s'");
  EXPECT_EQ(quote("\xc3\xa9"), "'\\xc3\\xa9'");
}

}  // namespace
}  // namespace cvm::vmm::config
