// SPDX-License-Identifier: Apache-2.0
// The launch plan: the single description of what goes into a confidential guest's memory
// before it starts, and in which order (architecture-anchors §B.4 "plan, lower, execute").
// cvmm-measure folds a plan into a digest; the TEE backends in vmm/<tee>/ lower the same
// plan into KVM ioctls. No other code decides what is measured.
// Pure data: no I/O. Included by firmware/, vmm/<tee>/ and tools/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cvm::firmware {

/// How a range is handed to the TEE. Names follow the SEV-SNP ABI PAGE_TYPE (SNP ABI spec
/// §8.17 SNP_LAUNCH_UPDATE, Table "Page Types"); TDX uses kNormal (PAGE.ADD) and kZero
/// (PAGE.ADD of zero pages) and says per range whether MR.EXTEND applies (`measured`).
enum class PageKind : uint8_t {
  kNormal,      // bytes are copied in and their contents measured
  kVmsa,        // an SEV-ES/SNP VMSA page (one per vCPU)
  kZero,        // zero page; only its address/type is measured
  kUnmeasured,  // SNP: present but not measured (GCE style SEC_MEM)
  kSecrets,     // SNP secrets page, filled by the PSP
  kCpuid,       // SNP CPUID page, checked (and possibly corrected) by the PSP
};

/// Immutable bytes shared by the plan and whoever loaded them (firmware, kernel, initrd),
/// so a plan never copies a guest image.
using Blob = std::shared_ptr<const std::vector<std::byte>>;

/// One guest-physical range of the plan. Page-aligned `gpa` and `size`, except for SEV and
/// SEV-ES LAUNCH_UPDATE_DATA ranges, which are byte-granular (the 176-byte kernel-hashes
/// table).
struct PlanRange {
  uint64_t gpa = 0;
  /// Range size in bytes: a multiple of 4 KiB.
  uint64_t size = 0;
  /// Contents: `blob[offset, offset+length)`, zero-filled to `size`. Empty blob = all zero.
  Blob blob;
  std::size_t offset = 0;
  std::size_t length = 0;
  PageKind kind = PageKind::kNormal;
  /// TDX: MR.EXTEND the contents into MRTD (TDVF attribute bit 0). SNP ignores it (the page
  /// kind decides).
  bool measured = false;
  /// Human-readable origin for --json output and errors, e.g. "BFV", "ASEV SEC_MEM #2".
  std::string label;

  /// The bytes of the range that come from the blob (at most `size`); the rest is zero.
  std::span<const std::byte> contents() const noexcept {
    if (!blob) {
      return {};
    }
    return std::span<const std::byte>(*blob).subspan(offset, length);
  }
};

/// Where and how vCPUs start. Meaning depends on the TEE: for SNP this is what the VMSAs
/// encode; for TDX the TDX module fixes the reset state and only the HOB address is passed.
struct VcpuStart {
  /// Real-mode-style start (reset vector): CS base and IP. The BSP uses 0xffff0000/0xfff0.
  uint64_t cs_base = 0xffff0000;
  uint16_t cs_selector = 0xf000;
  uint64_t rip = 0xfff0;
};

/// The whole plan.
struct LaunchPlan {
  /// Ranges in the exact order the TEE must receive (and measure) them.
  std::vector<PlanRange> ranges;
  /// One entry per vCPU, BSP first.
  std::vector<VcpuStart> vcpus;
  /// TDX: GPA of the TD HOB handed to TDVF in RCX of every vCPU (0 when none).
  uint64_t td_hob_gpa = 0;
  /// How many leading `ranges` hold the firmware image itself. SEV-SNP: the launch digest
  /// after these ranges is the "OVMF hash" that cvmm-measure --ovmf-hash stands for.
  /// 0 when the plan builder does not say.
  std::size_t firmware_ranges = 0;
};

}  // namespace cvm::firmware
