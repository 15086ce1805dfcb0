// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_cpuid_page.h"

#include <gtest/gtest.h>

#include "base/byte_reader.h"

namespace cvm::vmm::snp {
namespace {

using x86::CpuidEntry;

uint32_t u32_at(const std::vector<std::byte>& page, std::size_t at) {
  return load_le<uint32_t>(std::span<const std::byte>(page).subspan(at).first<4>());
}
uint64_t u64_at(const std::vector<std::byte>& page, std::size_t at) {
  return load_le<uint64_t>(std::span<const std::byte>(page).subspan(at).first<8>());
}

std::vector<CpuidEntry> sample_cpuid() {
  return {
      {0x0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65},
      {0x1, 0, 0, 0x00a00f11, 0x00800800, 0xfff83203 | (1u << 24), 0x178bfbff},
      {0x7, 0, 1, 0x1, 0x219c07ab, 0x0040068c, 0xfc000010},
      {0x7, 1, 1, 0x0, 0x0, 0x0, 0x0},
      {0xd, 0, 1, 0x7, 0x988, 0x988, 0x0},
      {0xd, 1, 1, 0xf, 0x988, 0x0, 0x0},
      {0xd, 2, 1, 0x100, 0x240, 0x0, 0x0},
      {0x80000008, 0, 0, 0x3030, 0x791ef257 | (1u << 25), 0x0, 0x10000},
  };
}

TEST(SnpCpuidPageTest, FillsEntriesLikeQemu) {
  auto functions = snp_cpuid_functions(sample_cpuid());
  ASSERT_TRUE(functions);
  ASSERT_EQ(functions->size(), 8u);
  // Leaf 1: TSC-deadline cleared; others untouched; no subleaf (index not significant).
  EXPECT_EQ((*functions)[1], (SnpCpuidFunction{1, 0, 0, 0, 0x00a00f11, 0x00800800, 0xfef83203,
                                               0x178bfbff}));
  // Leaf 7.0: TSC_ADJUST and EDX[31:26] cleared.
  EXPECT_EQ((*functions)[2].ebx, 0x219c07a9u);
  EXPECT_EQ((*functions)[2].edx, 0x10u);
  EXPECT_EQ((*functions)[3].ecx_in, 1u);
  // Leaf 0xD subleaves 0 and 1: xcr0_in = 1, ebx = 0x240; subleaf 2 unchanged.
  EXPECT_EQ((*functions)[4].xcr0_in, 1u);
  EXPECT_EQ((*functions)[4].ebx, 0x240u);
  EXPECT_EQ((*functions)[5].xcr0_in, 1u);
  EXPECT_EQ((*functions)[5].ebx, 0x240u);
  EXPECT_EQ((*functions)[6].xcr0_in, 0u);
  EXPECT_EQ((*functions)[6].ebx, 0x240u);
  EXPECT_EQ((*functions)[6].ecx_in, 2u);
  // 0x80000008: VIRT_SSBD cleared.
  EXPECT_EQ((*functions)[7].ebx, 0x791ef257u);
}

TEST(SnpCpuidPageTest, EncodesTheAbiLayout) {
  auto functions = snp_cpuid_functions(sample_cpuid());
  ASSERT_TRUE(functions);
  const std::vector<std::byte> page = encode_snp_cpuid_page(*functions);
  ASSERT_EQ(page.size(), 4096u);
  EXPECT_EQ(u32_at(page, 0), 8u);  // count
  EXPECT_EQ(u32_at(page, 4), 0u);
  const std::size_t e4 = 16 + 4 * 48;  // leaf 0xD.0
  EXPECT_EQ(u32_at(page, e4 + 0), 0xdu);
  EXPECT_EQ(u32_at(page, e4 + 4), 0u);
  EXPECT_EQ(u64_at(page, e4 + 8), 1u);
  EXPECT_EQ(u64_at(page, e4 + 16), 0u);
  EXPECT_EQ(u32_at(page, e4 + 24), 0x7u);
  EXPECT_EQ(u32_at(page, e4 + 28), 0x240u);
  EXPECT_EQ(u32_at(page, e4 + 32), 0x988u);
  EXPECT_EQ(u32_at(page, e4 + 36), 0u);
  const std::size_t e7 = 16 + 7 * 48;
  EXPECT_EQ(u32_at(page, e7), 0x80000008u);
  EXPECT_EQ(u32_at(page, e7 + 36), 0x10000u);
  for (std::size_t i = 16 + 8 * 48; i < page.size(); ++i) {
    ASSERT_EQ(page[i], std::byte{0}) << i;
  }
  auto decoded = decode_snp_cpuid_page(page);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, *functions);
}

TEST(SnpCpuidPageTest, MoreThan64EntriesDoNotFit) {
  std::vector<CpuidEntry> many(65, CpuidEntry{0x1});
  auto result = snp_cpuid_functions(many);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_EQ(result.error().message(),
            "the vCPU has 65 CPUID entries; the SNP CPUID page holds at most 64");
}

TEST(SnpCpuidPageTest, DecodeRejectsBadCount) {
  std::vector<std::byte> page(4096);
  page[0] = std::byte{65};
  auto result = decode_snp_cpuid_page(page);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(), "SNP CPUID page: count 65 exceeds 64");
  EXPECT_FALSE(decode_snp_cpuid_page(std::span<const std::byte>(page).first(100)));
}

TEST(SnpCpuidPageTest, DiffNamesEveryChangedField) {
  auto offered = snp_cpuid_functions(sample_cpuid());
  ASSERT_TRUE(offered);
  auto corrected = *offered;
  corrected[2].ebx &= ~(1u << 3);
  corrected[7].ecx = 0x5;
  EXPECT_EQ(diff_snp_cpuid_pages(*offered, corrected),
            (std::vector<std::string>{"leaf 0x7.0: ebx 0x219c07a9 -> 0x219c07a1",
                                      "leaf 0x80000008.0: ecx 0x0 -> 0x5"}));
  EXPECT_TRUE(diff_snp_cpuid_pages(*offered, *offered).empty());
}

}  // namespace
}  // namespace cvm::vmm::snp
