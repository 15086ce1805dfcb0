// SPDX-License-Identifier: Apache-2.0
// The SEV-SNP guest policy passed to KVM_SEV_SNP_LAUNCH_START (SEV-SNP ABI spec #56860 §4.3
// "Guest Policy"; tee-kvm-reference §3.3) and what KVM accepts of it. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"

namespace cvm::vmm::snp {

// Policy bits (SNP ABI §4.3, table "Guest Policy Structure").
inline constexpr uint64_t kPolicyAbiMinorMask = 0xff;       // 7:0 minimum ABI minor
inline constexpr uint64_t kPolicyAbiMajorMask = 0xff00;     // 15:8 minimum ABI major
inline constexpr uint64_t kPolicySmt = 1ull << 16;          // SMT may be enabled
inline constexpr uint64_t kPolicyReservedMbo = 1ull << 17;  // reserved, must be one
inline constexpr uint64_t kPolicyMigrateMa = 1ull << 18;    // migration agent allowed
inline constexpr uint64_t kPolicyDebug = 1ull << 19;        // SNP_DBG_* allowed
inline constexpr uint64_t kPolicySingleSocket = 1ull << 20;
inline constexpr uint64_t kPolicyCxlAllow = 1ull << 21;
inline constexpr uint64_t kPolicyMemAes256Xts = 1ull << 22;
inline constexpr uint64_t kPolicyRaplDis = 1ull << 23;
inline constexpr uint64_t kPolicyCiphertextHiding = 1ull << 24;
inline constexpr uint64_t kPolicyPageSwapDisable = 1ull << 25;
/// Every bit some SNP ABI revision defines (0-25).
inline constexpr uint64_t kPolicyDefinedBits = (1ull << 26) - 1;

/// The policy used when the configuration gives none: SMT allowed + the must-be-one bit,
/// QEMU's DEFAULT_SEV_SNP_POLICY. Every KVM since 6.11 accepts it (6.11-6.12 require SMT).
inline constexpr uint64_t kDefaultSnpPolicy = kPolicySmt | kPolicyReservedMbo;

/// What KVM accepts when it does not publish KVM_X86_SNP_POLICY_BITS (kernels before ≈6.19,
/// arch/x86/kvm/svm/sev.c KVM_SNP_POLICY_MASK_VALID): ABI version, SMT, the must-be-one bit,
/// DEBUG and SINGLE_SOCKET. 6.11-6.12 additionally require SMT and reject SINGLE_SOCKET;
/// that is left to KVM (the kernel version is not known here).
inline constexpr uint64_t kPolicyBitsBeforePolicyAttr =
    kPolicyAbiMinorMask | kPolicyAbiMajorMask | kPolicySmt | kPolicyReservedMbo | kPolicyDebug |
    kPolicySingleSocket;

/// Checks `policy` before LAUNCH_START. `kvm_supported` is the KVM_X86_SNP_POLICY_BITS mask
/// when the host reports it; otherwise kPolicyBitsBeforePolicyAttr applies.
/// Errors: kInvalidArgument naming the policy and the offending bits (bit 17 clear, bits no
/// ABI defines, bits this KVM does not accept).
[[nodiscard]] Result<void> check_snp_policy(uint64_t policy,
                                            std::optional<uint64_t> kvm_supported);

/// "0x30000 (ABI >= 0.0, SMT, reserved-1)" for logs and errors.
std::string describe_snp_policy(uint64_t policy);

}  // namespace cvm::vmm::snp
