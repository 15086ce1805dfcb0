// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/cpuid.h"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cvm::vmm::x86 {
namespace {

using ::testing::HasSubstr;

constexpr uint32_t kSig = kCpuidFlagSignificantIndex;

/// A small "KVM_GET_SUPPORTED_CPUID" result of an Intel host.
std::vector<CpuidEntry> intel_supported() {
  return {
      {0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69},  // GenuineIntel
      {1, 0, 0, 0x000906ea, 0x00000800, 0xf6fa3203 | (1u << 13) | (1u << 23) | (1u << 26),
       0x0f8bfbff},
      {4, 0, kSig, 0x00000121, 0, 0, 0},  // L1 data
      {4, 3, kSig, 0x00000163, 0, 0, 0},  // L3 unified
      {7, 0, kSig, 0, 0x009c6fbf | 1u | (1u << 5), 1u << 22, 0},
      {0xb, 0, kSig, 1, 1, 0x100, 0},
      {0xd, 0, kSig, 0x7, 0x340, 0x340, 0},
      {0xd, 1, kSig, 0xf, 0, 0, 0},
      {0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d},
      {0x40000001, 0, 0, 0x01007afb, 0, 0, 0},
      {0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800 | (1u << 27)},
  };
}

const CpuidEntry* find(const std::vector<CpuidEntry>& t, uint32_t fn, uint32_t index = 0) {
  auto it = std::find_if(t.begin(), t.end(), [&](const CpuidEntry& e) {
    return e.function == fn && e.index == index;
  });
  return it == t.end() ? nullptr : &*it;
}

TEST(CpuidTest, SetsHypervisorBitApicIdAndCount) {
  auto t = build_vcpu_cpuid(intel_supported(), {.vcpu_count = 4}, 2);
  ASSERT_TRUE(t) << t.error().message();
  const CpuidEntry* leaf1 = find(*t, 1);
  ASSERT_NE(leaf1, nullptr);
  EXPECT_NE(leaf1->ecx & (1u << 31), 0u);
  EXPECT_EQ(leaf1->ebx >> 24, 2u);
  EXPECT_EQ((leaf1->ebx >> 16) & 0xff, 4u);
  EXPECT_EQ(leaf1->ebx & 0xffff, 0x0800u);  // CLFLUSH size kept
  EXPECT_NE(leaf1->edx & (1u << 28), 0u);   // HTT
}

TEST(CpuidTest, SingleVcpuHasNoHtt) {
  auto t = build_vcpu_cpuid(intel_supported(), {.vcpu_count = 1}, 0);
  ASSERT_TRUE(t);
  EXPECT_EQ(find(*t, 1)->edx & (1u << 28), 0u);
}

TEST(CpuidTest, TopologyLeavesDescribeOneThreadPerCore) {
  auto t = build_vcpu_cpuid(intel_supported(), {.vcpu_count = 3}, 1);
  ASSERT_TRUE(t);
  const CpuidEntry* smt = find(*t, 0xb, 0);
  const CpuidEntry* core = find(*t, 0xb, 1);
  const CpuidEntry* end = find(*t, 0xb, 2);
  ASSERT_TRUE(smt && core && end);
  EXPECT_EQ(*smt, (CpuidEntry{0xb, 0, kSig, 0, 1, 0x100, 1}));
  EXPECT_EQ(*core, (CpuidEntry{0xb, 1, kSig, 2, 3, 0x201, 1}));
  EXPECT_EQ(*end, (CpuidEntry{0xb, 2, kSig, 0, 0, 2, 1}));
  EXPECT_EQ(find(*t, 0x1f), nullptr);  // not reported by KVM: not invented
  EXPECT_EQ(find(*t, 4, 0)->eax >> 26, 2u);
  EXPECT_EQ((find(*t, 4, 3)->eax >> 14) & 0xfff, 2u);  // L3 shared by all
  EXPECT_EQ((find(*t, 4, 0)->eax >> 14) & 0xfff, 0u);  // L1 per core
}

TEST(CpuidTest, KvmSignatureAndFeaturesKept) {
  auto t = build_vcpu_cpuid(intel_supported(), {.vcpu_count = 1}, 0);
  ASSERT_TRUE(t);
  EXPECT_EQ(*find(*t, 0x40000000), (CpuidEntry{0x40000000, 0, 0, 0x40000001, 0x4b4d564b,
                                               0x564b4d56, 0x4d}));
  EXPECT_EQ(find(*t, 0x40000001)->eax, 0x01007afbu);
  EXPECT_EQ(find(*t, 0x40000010), nullptr);
}

TEST(CpuidTest, TscLeafAddedWhenFrequencyKnown) {
  auto t = build_vcpu_cpuid(intel_supported(), {.vcpu_count = 1, .tsc_khz = 2596000}, 0);
  ASSERT_TRUE(t);
  EXPECT_EQ(find(*t, 0x40000000)->eax, 0x40000010u);
  EXPECT_EQ(*find(*t, 0x40000010), (CpuidEntry{0x40000010, 0, 0, 2596000, 1000000, 0, 0}));
}

TEST(CpuidTest, HidesNestedHostFeaturesAndZeroesLeafD) {
  const std::vector<CpuFeature> hidden(std::begin(kNestedHostHidden),
                                       std::end(kNestedHostHidden));
  auto t = build_vcpu_cpuid(intel_supported(), {.vcpu_count = 1, .hidden = hidden}, 0);
  ASSERT_TRUE(t);
  const CpuidEntry* leaf1 = find(*t, 1);
  EXPECT_EQ(leaf1->ecx & (1u << 13), 0u);  // cx16
  EXPECT_EQ(leaf1->ecx & (1u << 23), 0u);  // popcnt
  EXPECT_EQ(leaf1->ecx & (1u << 26), 0u);  // xsave
  EXPECT_EQ(leaf1->ecx & (1u << 28), 0u);  // avx follows xsave
  EXPECT_EQ(leaf1->ecx & (1u << 30), 0u);  // rdrand
  EXPECT_NE(leaf1->ecx & (1u << 31), 0u);  // hypervisor still set
  const CpuidEntry* leaf7 = find(*t, 7);
  EXPECT_EQ(leaf7->ebx & 1u, 0u);          // fsgsbase
  EXPECT_EQ(leaf7->ebx & (1u << 5), 0u);   // avx2 follows xsave
  EXPECT_EQ(leaf7->ecx & (1u << 22), 0u);  // rdpid
  EXPECT_EQ(*find(*t, 0xd, 0), (CpuidEntry{0xd, 0, kSig, 0, 0, 0, 0}));
  EXPECT_EQ(*find(*t, 0xd, 1), (CpuidEntry{0xd, 1, kSig, 0, 0, 0, 0}));
  EXPECT_EQ(find(*t, 0x80000001)->edx & (1u << 27), 0u);  // rdtscp
}

TEST(CpuidTest, LeafDKeptWithoutXsaveHiding) {
  auto t = build_vcpu_cpuid(intel_supported(), {.vcpu_count = 1, .hidden = {CpuFeature::kCx16}},
                            0);
  ASSERT_TRUE(t);
  EXPECT_EQ(find(*t, 0xd, 0)->eax, 0x7u);
  EXPECT_NE(find(*t, 1)->ecx & (1u << 26), 0u);
  EXPECT_EQ(find(*t, 1)->ecx & (1u << 13), 0u);
}

TEST(CpuidTest, BadVcpuNumbersAreRejected) {
  EXPECT_FALSE(build_vcpu_cpuid(intel_supported(), {.vcpu_count = 0}, 0));
  EXPECT_FALSE(build_vcpu_cpuid(intel_supported(), {.vcpu_count = 256}, 0));
  auto r = build_vcpu_cpuid(intel_supported(), {.vcpu_count = 2}, 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "vcpu index 2 is not below the count 2");
}

TEST(CpuFeaturesTest, ParsesNamesAndBuildsClearcpuid) {
  auto f = parse_cpu_features("cx16,popcnt,xsave,cx16");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(*f, (std::vector<CpuFeature>{CpuFeature::kCx16, CpuFeature::kPopcnt,
                                         CpuFeature::kXsave}));
  EXPECT_EQ(clearcpuid_argument(*f), "clearcpuid=cx16,popcnt,xsave");
  EXPECT_EQ(clearcpuid_argument({}), "");
  EXPECT_TRUE(parse_cpu_features("")->empty());
  auto bad = parse_cpu_features("cx16,avx9");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message(), HasSubstr("unknown cpu feature \"avx9\""));
}

TEST(BootMsrsTest, OnlyMsrsTheHostListsAreSet) {
  const uint32_t supported[] = {kMsrStar, kMsrIa32MiscEnable, 0x10 /* TSC */, kMsrLstar};
  const auto msrs = boot_msrs(supported);
  EXPECT_EQ(msrs, (std::vector<MsrEntry>{{kMsrStar, 0}, {kMsrLstar, 0}, {kMsrIa32MiscEnable, 1}}));
  EXPECT_TRUE(boot_msrs({}).empty());
}

}  // namespace
}  // namespace cvm::vmm::x86
