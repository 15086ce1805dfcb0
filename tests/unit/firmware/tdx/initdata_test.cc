// SPDX-License-Identifier: Apache-2.0
#include "firmware/initdata.h"

#include "base/byte_reader.h"
#include "base/hex.h"
#include "firmware/sha.h"

#include <gtest/gtest.h>

namespace cvm::firmware {
namespace {

constexpr std::string_view kDocument =
    "algorithm = \"sha384\"\n"
    "version = \"0.1.0\"\n"
    "\n"
    "[data]\n"
    "\"aa.toml\" = '''\n"
    "algorithm = \"sha256\"\n"
    "'''\n";

std::string error_of(std::string_view document) {
  auto parsed = parse_initdata_algorithm(document);
  EXPECT_FALSE(parsed.has_value());
  return parsed.has_value() ? std::string() : parsed.error().message();
}

TEST(InitdataTest, Sha384FillsMrconfigidExactly) {
  auto digest = initdata_digest(kDocument);
  ASSERT_TRUE(digest.has_value()) << digest.error().message();
  EXPECT_EQ(digest->algorithm, InitdataAlgorithm::kSha384);
  const Sha384Digest expected = sha384(cvm::as_bytes(kDocument));
  EXPECT_EQ(to_hex(digest->mrconfigid()), to_hex(expected));
  EXPECT_EQ(to_hex(digest->host_data()), to_hex(std::span(expected).first(32)));
}

TEST(InitdataTest, Sha256IsZeroPaddedForMrconfigid) {
  const std::string document = "# comment\n  algorithm='sha256' # trailing\n[data]\n";
  auto digest = initdata_digest(document);
  ASSERT_TRUE(digest.has_value()) << digest.error().message();
  const std::string hash = to_hex(sha256(cvm::as_bytes(document)));
  EXPECT_EQ(to_hex(digest->mrconfigid()), hash + std::string(32, '0'));
  EXPECT_EQ(to_hex(digest->host_data()), hash);
}

TEST(InitdataTest, Sha512IsTruncated) {
  // sha512("algorithm = \"sha512\"\n"), computed with coreutils sha512sum.
  auto digest = initdata_digest("algorithm = \"sha512\"\n");
  ASSERT_TRUE(digest.has_value()) << digest.error().message();
  ASSERT_EQ(digest->digest.size(), 64u);
  EXPECT_EQ(to_hex(digest->mrconfigid()), to_hex(std::span(digest->digest).first(48)));
  EXPECT_EQ(to_hex(digest->digest),
            "aa5cf76449fcb74eaa8e3c4b14a06b4c231fcb4dafde0792087d6567976952d0"
            "e55f177db24ac09997960bcb01ebc2b871694ce967d32125ea9f02a319e3754d");
}

TEST(InitdataTest, KeyInsideTableIsIgnored) {
  EXPECT_EQ(error_of("version = \"0.1.0\"\n[data]\nalgorithm = \"sha384\"\n"),
            "initdata has no top-level algorithm key (sha256, sha384 or sha512)");
}

TEST(InitdataTest, UnsupportedAlgorithmIsRejected) {
  EXPECT_EQ(error_of("algorithm = \"md5\"\n"),
            "initdata algorithm 'md5' is not supported (sha256, sha384 or sha512)");
}

TEST(InitdataTest, MalformedValuesAreRejected) {
  EXPECT_EQ(error_of("algorithm = sha384\n"), "initdata line 1: algorithm must be a quoted string");
  EXPECT_EQ(error_of("algorithm = \"sha384\n"),
            "initdata line 1: algorithm has an unterminated string");
  EXPECT_EQ(error_of("algorithm \"sha384\"\n"),
            "initdata line 1: algorithm is not followed by '='");
  EXPECT_EQ(error_of("algorithm = \"sha384\" x\n"),
            "initdata line 1: algorithm has trailing characters after the string");
  EXPECT_EQ(error_of("algorithm = \"sha384\"\r\nalgorithm = \"sha256\"\r\n"),
            "initdata line 2: algorithm is defined twice");
  EXPECT_EQ(error_of(""), "initdata has no top-level algorithm key (sha256, sha384 or sha512)");
}

}  // namespace
}  // namespace cvm::firmware
