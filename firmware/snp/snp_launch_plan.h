// SPDX-License-Identifier: Apache-2.0
// build_snp_launch_plan: the single place that decides what an SEV, SEV-ES or SEV-SNP guest
// launch puts into guest memory and measures, and in which order (architecture-anchors
// §B.4). cvmm-measure folds the plan with launch_digest.h; the SNP backend lowers the same
// plan (lower.h lower_snp_plan) into KVM_SEV_SNP_LAUNCH_UPDATE calls and the per-vCPU VMSA
// state KVM measures at LAUNCH_FINISH.
// Pure; included by tools/measure and vmm/snp/.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/result.h"
#include "firmware/launch_plan.h"
#include "firmware/snp/kernel_hashes.h"
#include "firmware/snp/vmsa.h"

namespace cvm::firmware::snp {

enum class SevMode : uint8_t { kSev, kSevEs, kSnp };

/// Parses "sev", "seves" (also "sev-es") or "snp" (also "sev-snp").
std::optional<SevMode> parse_sev_mode(std::string_view text) noexcept;
std::string_view sev_mode_name(SevMode mode) noexcept;

/// SEV_FEATURES when the caller gives none: SNPActive (0x1) for SNP, as sev-snp-measure's
/// --guest-features default and what KVM's KVM_SEV_INIT2 with vmsa_features = 0 yields;
/// 0 for SEV-ES (sev-snp-measure always uses 0 there); 0 for SEV (no VMSA).
uint64_t default_guest_features(SevMode mode) noexcept;

/// The largest vCPU count accepted (KVM_MAX_VCPUS on x86_64).
inline constexpr uint32_t kMaxSnpVcpus = 4096;

struct SnpLaunchInputs {
  SevMode mode = SevMode::kSnp;
  /// The whole OVMF image; it is mapped so that it ends at 4 GiB.
  Blob firmware;
  /// Number of vCPUs (one VMSA each for SEV-ES and SNP). Ignored for SEV.
  uint32_t vcpus = 1;
  VmmType vmm = VmmType::kCvmm;
  /// CPUID Fn0000_0001_EAX of the vCPU model (cpu_models.h); only cvmm/qemu use it.
  uint32_t cpu_signature = 0;
  /// SEV_FEATURES of every VMSA; default_guest_features(mode) when unset.
  std::optional<uint64_t> guest_features;
  /// Measured direct boot: the hashes of kernel, initrd and command line.
  std::optional<KernelHashes> kernel_hashes;
};

/// Builds the plan:
///  - SNP: the firmware as NORMAL pages at 4 GiB - size; then each ASEV section in table
///    order (SNP_SEC_MEM: ZERO, or UNMEASURED for gce; SNP_SECRETS: SECRETS; CPUID: CPUID,
///    moved after all other sections for ec2; SVSM_CAA: ZERO; SNP_KERNEL_HASHES: a NORMAL
///    page with the hashes table at (hashes-area base & 0xfff) when kernel_hashes is set,
///    else ZERO); then one VMSA per vCPU (BSP at the reset vector, APs at the firmware's
///    SEV-ES AP reset address).
///  - SEV-ES: the firmware, the 176-byte hashes table at the hashes-area base (if
///    kernel_hashes), one VMSA per vCPU.
///  - SEV: the firmware and the hashes table (if kernel_hashes).
/// Errors (kInvalidArgument for inputs, kMalformedImage for the firmware), each naming the
/// field: no firmware; a firmware size that is 0, not a 4 KiB multiple or above 4 GiB; any
/// parse error of sev_metadata.h; SNP without ASEV metadata; a section overlapping the
/// firmware; SEV-ES/SNP without an AP reset address, or with address 0; vcpus 0 or above
/// kMaxSnpVcpus; SNP guest features without SNPActive; kernel_hashes with a firmware that
/// has no (or an empty, base 0 / too small) hashes area, or (SNP) no SNP_KERNEL_HASHES
/// section, or a section that is not the one 4 KiB page holding the hashes area.
Result<LaunchPlan> build_snp_launch_plan(const SnpLaunchInputs& inputs);

}  // namespace cvm::firmware::snp
