// SPDX-License-Identifier: Apache-2.0
// Lowering an SEV-SNP LaunchPlan into the commands KVM executes (architecture-anchors §B.4
// "plan, lower, execute"; tee-kvm-reference §3.4-§3.6):
//  - every non-VMSA range becomes one KVM_SEV_SNP_LAUNCH_UPDATE {gfn_start, len, type} with
//    its source bytes (zero-filled to len);
//  - VMSA ranges are not LAUNCH_UPDATE commands: KVM builds and measures each vCPU's VMSA
//    itself at KVM_SEV_SNP_LAUNCH_FINISH, in vCPU index order, after every LAUNCH_UPDATE.
//    So a plan is executable only if its VMSA ranges come last, one per vCPU.
// Pure; included by vmm/snp/ (the executor) and tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "firmware/launch_plan.h"
#include "firmware/snp/launch_digest.h"

namespace cvm::firmware::snp {

/// One KVM_SEV_SNP_LAUNCH_UPDATE call (struct kvm_sev_snp_launch_update, §3.4).
struct SnpLaunchUpdate {
  /// First GPA >> 12.
  uint64_t gfn_start = 0;
  /// Bytes, a multiple of 4 KiB.
  uint64_t len = 0;
  SnpPageType type = SnpPageType::kNormal;
  /// Source bytes (views into the plan's blobs, valid while the plan lives); the executor
  /// zero-fills them to `len`. Empty for ZERO pages; KVM ignores uaddr for them.
  std::span<const std::byte> contents;
  /// The plan range's label, for logs and errors.
  std::string_view label;
};

struct SnpLaunchCommands {
  /// In plan order; the order is part of the measurement.
  std::vector<SnpLaunchUpdate> updates;
  /// The VMSA pages KVM must end up measuring at LAUNCH_FINISH, vCPU 0 first. The executor
  /// programs each vCPU so that KVM's VMSA equals these bytes.
  std::vector<std::span<const std::byte>> vmsas;
};

/// Lowers `plan`. kInvalidArgument (naming the range) when a range's GPA or size is not
/// 4 KiB aligned or is empty, a non-VMSA range follows a VMSA range, a VMSA range is not one
/// page, or the number of VMSA ranges differs from plan.vcpus.
Result<SnpLaunchCommands> lower_snp_plan(const LaunchPlan& plan);

/// The launch digest KVM + the PSP compute when executing `commands`: every update's pages in
/// order, then the VMSAs at kVmsaGpa. Equals measure_snp(plan) for the plan they came from.
Sha384Digest measure_snp_commands(const SnpLaunchCommands& commands);

}  // namespace cvm::firmware::snp
