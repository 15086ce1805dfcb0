// SPDX-License-Identifier: Apache-2.0
// Executing a lowered SEV-SNP launch (firmware/snp/lower.h) with KVM (tee-kvm-reference
// §3.4-§3.6): one KVM_SEV_SNP_LAUNCH_UPDATE loop per update, the CPUID page with its one
// firmware-corrected retry, and KVM_SEV_SNP_LAUNCH_FINISH with the optional ID block.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "firmware/snp/lower.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"
#include "vmm/snp/snp_cpuid_page.h"

namespace cvm::vmm::snp {

/// Receives one log line (no trailing newline).
using SnpLog = std::function<void(std::string_view line)>;

/// How often a LAUNCH_UPDATE may end without progress (EAGAIN/EINTR, or success with `len`
/// unchanged) before cvmm gives up.
inline constexpr int kMaxLaunchUpdateStalls = 1000;

/// Checks that every page of `update` lies in one guest_memfd-backed region of `memory`
/// (LAUNCH_UPDATE populates the private side). Errors: kInvalidArgument naming the range.
[[nodiscard]] Result<void> check_update_memory(const GuestMemory& memory,
                                               const firmware::snp::SnpLaunchUpdate& update);

/// The CPUID entries of `vcpu` (KVM_GET_CPUID2, what the machine set with KVM_SET_CPUID2),
/// in the page's format (snp_cpuid_functions).
[[nodiscard]] Result<std::vector<SnpCpuidFunction>> vcpu_cpuid_functions(kvm::Sys& sys,
                                                                         const kvm::Vcpu& vcpu);

/// Issues `update` (KVM_SEV_SNP_LAUNCH_UPDATE) until KVM has consumed all of it: the source is
/// a 4 KiB-aligned buffer holding update.contents zero-filled to update.len (uaddr 0 for ZERO
/// pages, which KVM never reads), or `cpuid` encoded for the CPUID type. KVM writes progress
/// back (gfn_start, uaddr, len); EAGAIN/EINTR retry the rest. When the PSP rejects the CPUID
/// page with SEV_RET_INVALID_PARAM, KVM has copied the corrected page into the buffer: the
/// differences are logged and the corrected page is issued once more.
/// Errors: kTeeFirmware/kKvm naming the update (label, GPA), errno and firmware status.
[[nodiscard]] Result<void> snp_launch_update(const kvm::Vm& vm, int sev_fd,
                                             const firmware::snp::SnpLaunchUpdate& update,
                                             std::span<const SnpCpuidFunction> cpuid,
                                             const SnpLog& log);

inline constexpr std::size_t kIdBlockSize = 96;
inline constexpr std::size_t kIdAuthSize = 4096;
inline constexpr std::size_t kHostDataSize = 32;
/// POLICY inside the ID block (SNP ABI §8.18 "ID_BLOCK": @0 LD[48], @48 FAMILY_ID[16],
/// @64 IMAGE_ID[16], @80 VERSION u32, @84 GUEST_SVN u32, @88 POLICY u64).
inline constexpr std::size_t kIdBlockPolicyOffset = 88;

struct SnpFinishInputs {
  uint64_t policy = 0;
  std::span<const uint8_t> host_data;  // empty or 32 bytes
  std::span<const uint8_t> id_block;   // empty or 96 bytes
  std::span<const uint8_t> id_auth;    // empty or 4096 bytes (needs id_block)
  bool author_key_enabled = false;     // needs id_auth
};

/// Validates the LAUNCH_FINISH inputs (sizes, ID block POLICY == launch policy). Pure.
/// Errors: kInvalidArgument naming the field.
[[nodiscard]] Result<void> check_finish_inputs(const SnpFinishInputs& inputs);

/// KVM_SEV_SNP_LAUNCH_FINISH. KVM syncs and measures every vCPU's VMSA first.
[[nodiscard]] Result<void> snp_launch_finish(const kvm::Vm& vm, int sev_fd,
                                             const SnpFinishInputs& inputs);

}  // namespace cvm::vmm::snp
