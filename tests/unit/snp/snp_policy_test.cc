// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_policy.h"

#include <gtest/gtest.h>

namespace cvm::vmm::snp {
namespace {

TEST(SnpPolicyTest, DefaultIsQemusAndAccepted) {
  EXPECT_EQ(kDefaultSnpPolicy, 0x30000u);
  EXPECT_TRUE(check_snp_policy(kDefaultSnpPolicy, std::nullopt));
  EXPECT_EQ(describe_snp_policy(kDefaultSnpPolicy), "0x30000 (ABI >= 0.0, SMT, reserved-1)");
}

TEST(SnpPolicyTest, MustBeOneBitIsRequired) {
  auto result = check_snp_policy(0x10000, std::nullopt);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(result.error().message(),
            "SNP policy 0x10000 (ABI >= 0.0, SMT): bit 17 is reserved and must be one (SNP ABI "
            "§4.3)");
}

TEST(SnpPolicyTest, UndefinedBitsAreRejected) {
  auto result = check_snp_policy(0x30000 | (1ull << 40), 0xffffffffffffffffull);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(),
            "SNP policy 0x10000030000: bits 0x10000000000 are not defined by the SNP ABI");
}

TEST(SnpPolicyTest, WithoutPolicyBitsAttributeOnlyThe611MaskPasses) {
  EXPECT_TRUE(check_snp_policy(0x30000 | kPolicyDebug | kPolicySingleSocket | 0x0105, std::nullopt));
  auto result = check_snp_policy(0x30000 | kPolicyMigrateMa, std::nullopt);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(),
            "SNP policy 0x70000 (ABI >= 0.0, SMT, reserved-1, MIGRATE_MA): bits 0x40000 are not "
            "accepted by this KVM (supported policy bits 0x1bffff; the host does not report "
            "KVM_X86_SNP_POLICY_BITS)");
}

TEST(SnpPolicyTest, PolicyBitsAttributeDecides) {
  const uint64_t supported = 0xffff | kPolicySmt | kPolicyReservedMbo | kPolicyCiphertextHiding;
  EXPECT_TRUE(check_snp_policy(0x30000 | kPolicyCiphertextHiding, supported));
  auto result = check_snp_policy(0x30000 | kPolicyDebug, supported);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(),
            "SNP policy 0xb0000 (ABI >= 0.0, SMT, reserved-1, DEBUG): bits 0x80000 are not "
            "accepted by this KVM (supported policy bits 0x103ffff, KVM_X86_SNP_POLICY_BITS)");
}

TEST(SnpPolicyTest, DescribesAbiVersion) {
  EXPECT_EQ(describe_snp_policy(0x20000 | 0x0105), "0x20105 (ABI >= 1.5, reserved-1)");
}

}  // namespace
}  // namespace cvm::vmm::snp
