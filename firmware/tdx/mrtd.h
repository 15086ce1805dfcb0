// SPDX-License-Identifier: Apache-2.0
// The TDX launch plan built from a TDVF image, and MRTD computed from that plan.
//
// Plan (tee-kvm-reference.md §2.5 step 13, §2.7): one range per TDVF section, in metadata order:
//   BFV/CFV  bytes image[DataOffset, +RawDataSize), zero to MemoryDataSize; measured = MR.EXTEND
//   TD_HOB   the HOB built by td_hob.h for the TD's memory size; never MR.EXTENDed
//   TempMem  zero pages (PageKind::kZero)
// PermMem (PAGE.AUG) and TD_INFO sections add no range: upstream KVM has no TDVF-level PAGE.AUG,
// the TD accepts that memory itself. Payload/PayloadParam (td-shim) are refused.
// lower_tdx_plan turns each range into one KVM_TDX_INIT_MEM_REGION call (flags = MEASURE iff
// `measured`); the TDX backend executes exactly that list and passes `td_hob_gpa` to
// KVM_TDX_INIT_VCPU, and measure_mrtd folds the same list, so the two cannot drift apart.
//
// MRTD (§2.9; TDX module ABI TDH.MEM.PAGE.ADD / TDH.MR.EXTEND): SHA-384 over, per page in plan
// order, the 128-byte PAGE.ADD record, then - when the range is measured - for each of the
// page's 16 chunks of 256 bytes the 128-byte MR.EXTEND record followed by the chunk. Records:
//   @0 ASCII "MEM.PAGE.ADD" (12 bytes) or "MR.EXTEND" (9 bytes), @16 GPA u64 LE, rest zero.
// This is the page-interleaved order of upstream KVM 6.16+ (tdx_gmem_post_populate).
#pragma once

#include "base/result.h"
#include "firmware/launch_plan.h"
#include "firmware/sha.h"
#include "firmware/tdx/td_hob.h"
#include "firmware/tdx/tdvf_metadata.h"

#include <cstdint>
#include <span>
#include <vector>

namespace cvm::firmware::tdx {

inline constexpr std::size_t kMrRecordSize = 128;
inline constexpr std::size_t kMrExtendChunkSize = 256;

struct TdxLaunchInputs {
  /// The whole TDVF image (e.g. the unified OVMF.fd); shared with the plan, never copied.
  Blob firmware;
  /// Guest RAM in bytes (layout in td_hob.h).
  uint64_t memory_size = 0;
  uint32_t vcpus = 1;
};

/// The plan together with what it was derived from, for the RTMR model and --json output.
struct TdxLaunch {
  LaunchPlan plan;
  TdvfMetadata metadata;
  std::vector<TdRamRange> ram;
  /// The HOB list bytes (the TD_HOB section is zero past them); null without a TD_HOB section.
  Blob td_hob;
};

/// Parses the TDVF metadata, lays out RAM, builds the HOB and the plan.
Result<TdxLaunch> build_tdx_launch(const TdxLaunchInputs& inputs);

/// Just the plan of build_tdx_launch.
Result<LaunchPlan> build_tdx_launch_plan(const TdxLaunchInputs& inputs);

/// One KVM_TDX_INIT_MEM_REGION call (tee-kvm-reference.md §2.4): `nr_pages` pages at `gpa`,
/// their first contents.size() bytes from `contents`, the rest zero; flags =
/// KVM_TDX_MEASURE_MEMORY_REGION iff `measure`. `contents` views the plan's blobs.
struct TdxInitMemRegion {
  uint64_t gpa = 0;
  uint64_t nr_pages = 0;
  bool measure = false;
  std::span<const std::byte> contents;
};

/// Lowers a TDX plan into the INIT_MEM_REGION calls the backend issues, in order. Pure; the
/// views stay valid while `plan` lives. Invariants (page alignment, contents within the blob)
/// are CVM_CHECKed: plans come from build_tdx_launch_plan.
std::vector<TdxInitMemRegion> lower_tdx_plan(const LaunchPlan& plan);

/// MRTD after the TDX module has executed `regions` (PAGE.ADD per page, then 16 MR.EXTENDs if
/// measured) and TDH.MR.FINALIZE.
Sha384Digest measure_mrtd(std::span<const TdxInitMemRegion> regions);

/// measure_mrtd(lower_tdx_plan(plan)).
Sha384Digest measure_mrtd(const LaunchPlan& plan);

}  // namespace cvm::firmware::tdx
