// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_policy.h"

#include <array>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace cvm::vmm::snp {
namespace {

constexpr std::array<std::pair<uint64_t, std::string_view>, 10> kFlagNames = {{
    {kPolicySmt, "SMT"},
    {kPolicyReservedMbo, "reserved-1"},
    {kPolicyMigrateMa, "MIGRATE_MA"},
    {kPolicyDebug, "DEBUG"},
    {kPolicySingleSocket, "SINGLE_SOCKET"},
    {kPolicyCxlAllow, "CXL_ALLOW"},
    {kPolicyMemAes256Xts, "MEM_AES_256_XTS"},
    {kPolicyRaplDis, "RAPL_DIS"},
    {kPolicyCiphertextHiding, "CIPHERTEXT_HIDING_DRAM"},
    {kPolicyPageSwapDisable, "PAGE_SWAP_DISABLE"},
}};

}  // namespace

std::string describe_snp_policy(uint64_t policy) {
  std::string text = fmt::format("{:#x} (ABI >= {}.{}", policy, (policy >> 8) & 0xff,
                                 policy & 0xff);
  for (const auto& [bit, name] : kFlagNames) {
    if ((policy & bit) != 0) {
      text += fmt::format(", {}", name);
    }
  }
  if (const uint64_t unknown = policy & ~kPolicyDefinedBits; unknown != 0) {
    text += fmt::format(", undefined bits {:#x}", unknown);
  }
  return text + ")";
}

Result<void> check_snp_policy(uint64_t policy, std::optional<uint64_t> kvm_supported) {
  if ((policy & kPolicyReservedMbo) == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP policy {}: bit 17 is reserved and must be one (SNP ABI §4.3)",
                      describe_snp_policy(policy));
  }
  if (const uint64_t unknown = policy & ~kPolicyDefinedBits; unknown != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP policy {:#x}: bits {:#x} are not defined by the SNP ABI", policy,
                      unknown);
  }
  const uint64_t accepted = kvm_supported.value_or(kPolicyBitsBeforePolicyAttr);
  if (const uint64_t refused = policy & ~accepted; refused != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP policy {}: bits {:#x} are not accepted by this KVM (supported policy "
                      "bits {:#x}{})",
                      describe_snp_policy(policy), refused, accepted,
                      kvm_supported ? ", KVM_X86_SNP_POLICY_BITS"
                                    : "; the host does not report KVM_X86_SNP_POLICY_BITS");
  }
  return ok();
}

}  // namespace cvm::vmm::snp
