// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/lower.h"

#include <algorithm>

namespace cvm::firmware::snp {
namespace {

constexpr uint64_t kPageMask = kSnpPageSize - 1;

Result<void> check_range(const PlanRange& range, std::size_t index, bool after_vmsa) {
  if (range.size == 0 || (range.size & kPageMask) != 0 || (range.gpa & kPageMask) != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP plan range {} ({}): GPA {:#x} size {:#x} is not whole 4 KiB pages",
                      index, range.label, range.gpa, range.size);
  }
  if (range.contents().size() > range.size) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP plan range {} ({}): {:#x} content bytes exceed its size {:#x}", index,
                      range.label, range.contents().size(), range.size);
  }
  if (range.kind == PageKind::kVmsa && range.size != kSnpPageSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP plan range {} ({}): a VMSA range must be exactly one page", index,
                      range.label);
  }
  if (range.kind != PageKind::kVmsa && after_vmsa) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP plan range {} ({}) follows a VMSA range; KVM measures VMSAs after "
                      "every LAUNCH_UPDATE",
                      index, range.label);
  }
  return ok();
}

}  // namespace

Result<SnpLaunchCommands> lower_snp_plan(const LaunchPlan& plan) {
  SnpLaunchCommands commands;
  bool after_vmsa = false;
  for (std::size_t i = 0; i < plan.ranges.size(); ++i) {
    const PlanRange& range = plan.ranges[i];
    CVM_TRY(check_range(range, i, after_vmsa));
    if (range.kind == PageKind::kVmsa) {
      after_vmsa = true;
      commands.vmsas.push_back(range.contents());
      continue;
    }
    const SnpPageType type = snp_page_type(range.kind);
    commands.updates.push_back(SnpLaunchUpdate{
        range.gpa >> 12, range.size, type,
        type == SnpPageType::kZero ? std::span<const std::byte>() : range.contents(),
        range.label});
  }
  if (commands.vmsas.size() != plan.vcpus.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP plan has {} VMSA ranges for {} vCPUs", commands.vmsas.size(),
                      plan.vcpus.size());
  }
  return commands;
}

Sha384Digest measure_snp_commands(const SnpLaunchCommands& commands) {
  SnpLaunchDigest gctx;
  std::vector<std::byte> page(kSnpPageSize);
  for (const SnpLaunchUpdate& update : commands.updates) {
    for (uint64_t at = 0; at < update.len; at += kSnpPageSize) {
      std::fill(page.begin(), page.end(), std::byte{0});
      if (at < update.contents.size()) {
        const auto chunk = update.contents.subspan(
            at, std::min<uint64_t>(kSnpPageSize, update.contents.size() - at));
        std::copy(chunk.begin(), chunk.end(), page.begin());
      }
      gctx.update_page(update.type, (update.gfn_start << 12) + at, page);
    }
  }
  for (const std::span<const std::byte> vmsa : commands.vmsas) {
    std::fill(page.begin(), page.end(), std::byte{0});
    std::copy(vmsa.begin(), vmsa.end(), page.begin());
    gctx.update_page(SnpPageType::kVmsa, kVmsaGpa, page);
  }
  return gctx.digest();
}

}  // namespace cvm::firmware::snp
