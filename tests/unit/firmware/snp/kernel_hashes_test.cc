// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/kernel_hashes.h"

#include <span>

#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "base/hex.h"
#include "tests/unit/firmware/snp/test_inputs.h"

namespace cvm::firmware::snp {
namespace {

TEST(KernelHashesTest, CmdlineHashIncludesTheNul) {
  // SHA-256("\0") and SHA-256("console=ttyS0\0").
  EXPECT_EQ(to_hex(hash_cmdline("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(to_hex(hash_cmdline("a")), to_hex(sha256(as_bytes(std::string_view("a\0", 2)))));
}

TEST(KernelHashesTest, EmptyInitrdHashesTheEmptyString) {
  const KernelHashes hashes = compute_kernel_hashes(testing::synthetic_kernel(), {}, "");
  EXPECT_EQ(to_hex(hashes.initrd),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// Header and entry GUIDs (mixed-endian), lengths and hash positions of the 176-byte table.
TEST(KernelHashesTest, TableLayout) {
  const KernelHashes hashes = compute_kernel_hashes(
      testing::synthetic_kernel(), testing::synthetic_initrd(), testing::kSyntheticCmdline);
  const KernelHashesTable table = build_kernel_hashes_table(hashes);
  const std::span<const std::byte> t(table);
  EXPECT_EQ(to_hex(t.subspan(0, 16)), "06d63894224fc94cb479a793d411fd21");  // 9438d606-...
  EXPECT_EQ(load_le<uint16_t>(t.subspan<16, 2>()), 168);
  EXPECT_EQ(to_hex(t.subspan(18, 16)), "d82dd09720bd944caa78e7714d36ab2a");  // cmdline GUID
  EXPECT_EQ(load_le<uint16_t>(t.subspan<34, 2>()), 50);
  EXPECT_EQ(to_hex(t.subspan(36, 32)), to_hex(hashes.cmdline));
  EXPECT_EQ(to_hex(t.subspan(68, 16)), "31f7ba442f3ad74b9af141e29169781d");  // initrd GUID
  EXPECT_EQ(to_hex(t.subspan(86, 32)), to_hex(hashes.initrd));
  EXPECT_EQ(to_hex(t.subspan(118, 16)), "3794e74dd2ab7f42b835d5b172d2045b");  // kernel GUID
  EXPECT_EQ(to_hex(t.subspan(136, 32)), to_hex(hashes.kernel));
  EXPECT_EQ(to_hex(t.subspan(168, 8)), "0000000000000000");
}

// The whole table for the synthetic inputs, as virtee/sev-snp-measure sev_hashes.py builds it
// for the same files (cross-checked when this test was written).
TEST(KernelHashesTest, TableMatchesReferenceImplementation) {
  const KernelHashes hashes = compute_kernel_hashes(
      testing::synthetic_kernel(), testing::synthetic_initrd(), testing::kSyntheticCmdline);
  EXPECT_EQ(to_hex(build_kernel_hashes_table(hashes)),
            "06d63894224fc94cb479a793d411fd21a800d82dd09720bd944caa78e7714d36ab2a3200f18aae9b"
            "3c09e55bc3047ad361e2442d7c53372470b2958fb83293209a784f7131f7ba442f3ad74b9af141e2"
            "9169781d320096ea84fe273826ec7aa63983712d2fb4eb4e666e3cd4b8749bf6d60eff14c9bf3794"
            "e74dd2ab7f42b835d5b172d2045b320082a894eaac118c23dca1b5262b0b4fe80a1ec500ca6c8073"
            "5176150fc199afec0000000000000000");
}

TEST(KernelHashesTest, PagePlacesTableAtOffset) {
  const KernelHashesTable table = build_kernel_hashes_table(KernelHashes{});
  auto page = build_kernel_hashes_page(table, 0xc00);
  ASSERT_TRUE(page.has_value()) << page.error().message();
  ASSERT_EQ(page->size(), 4096u);
  EXPECT_EQ(to_hex(std::span<const std::byte>(*page).subspan(0xc00, 16)),
            "06d63894224fc94cb479a793d411fd21");
  EXPECT_EQ((*page)[0xbff], std::byte{0});
  EXPECT_EQ((*page)[0xc00 + 176], std::byte{0});
}

TEST(KernelHashesTest, PageRejectsTableCrossingThePageEnd) {
  const KernelHashesTable table = build_kernel_hashes_table(KernelHashes{});
  EXPECT_TRUE(build_kernel_hashes_page(table, 4096 - 176).has_value());
  auto page = build_kernel_hashes_page(table, 4096 - 175);
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cvm::firmware::snp
