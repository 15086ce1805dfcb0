// SPDX-License-Identifier: Apache-2.0
// Models of the launch digests the AMD secure processor computes:
//  - SEV-SNP: GCTX.LD, updated once per page by SNP_LAUNCH_UPDATE with SHA-384 over a
//    PAGE_INFO structure (SEV-SNP ABI spec §8.17.2, table "PAGE_INFO"; tee-kvm-reference
//    §3.10; the same model as sev-snp-measure gctx.py);
//  - SEV / SEV-ES: SHA-256 over every byte passed to LAUNCH_UPDATE_DATA and
//    LAUNCH_UPDATE_VMSA, in order (the GCTX.LD part of the SEV MEASUREMENT; as
//    sev-snp-measure guest.py sev/seves_calc_launch_digest).
// Folding a LaunchPlan streams over its shared blobs; nothing is copied except one
// zero-padded tail page. Pure; included by firmware/snp/ and tools/measure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "firmware/launch_plan.h"
#include "firmware/sha.h"

namespace cvm::firmware::snp {

/// PAGE_TYPE of SNP_LAUNCH_UPDATE (SEV-SNP ABI spec §8.17, table "Page Types").
enum class SnpPageType : uint8_t {
  kNormal = 1,
  kVmsa = 2,
  kZero = 3,
  kUnmeasured = 4,
  kSecrets = 5,
  kCpuid = 6,
};

/// The SNP page type a plan range kind lowers to.
SnpPageType snp_page_type(PageKind kind) noexcept;

/// The GPA the PSP records for VMSA pages (KVM passes GPA -1; the firmware keeps the page
/// address bits 51:12 only).
inline constexpr uint64_t kVmsaGpa = 0xFFFFFFFFF000;
inline constexpr std::size_t kSnpPageSize = 4096;

/// PAGE_INFO (SEV-SNP ABI spec §8.17.2), 0x70 bytes:
///   @0x00 DIGEST_CUR[48]  @0x30 CONTENTS[48]  @0x60 LENGTH u16 = 0x70  @0x62 PAGE_TYPE u8
///   @0x63 IMI_PAGE u8 = 0  @0x64 VMPL3_PERMS, @0x65 VMPL2_PERMS, @0x66 VMPL1_PERMS u8 = 0
///   @0x67 reserved u8 = 0  @0x68 GPA u64
inline constexpr std::size_t kPageInfoSize = 0x70;
using PageInfo = std::array<std::byte, kPageInfoSize>;
PageInfo encode_page_info(const Sha384Digest& current, const Sha384Digest& contents,
                          SnpPageType type, uint64_t gpa) noexcept;

/// GCTX.LD: starts as 48 zero bytes (SNP_LAUNCH_START) or at a given seed.
class SnpLaunchDigest final {
 public:
  SnpLaunchDigest() = default;
  explicit SnpLaunchDigest(const Sha384Digest& seed) : digest_(seed) {}

  /// LD := SHA-384(PAGE_INFO(LD, contents, type, gpa)).
  void update(SnpPageType type, uint64_t gpa, const Sha384Digest& contents);
  /// Adds one 4 KiB page. NORMAL and VMSA pages contribute SHA-384 of `page` (which must be
  /// exactly 4096 bytes for them); the other types contribute 48 zero bytes and ignore it.
  void update_page(SnpPageType type, uint64_t gpa, std::span<const std::byte> page);
  /// Adds every page of `range` (its blob bytes zero-filled to `size`), in ascending GPA
  /// order; VMSA pages are recorded at kVmsaGpa.
  void update_range(const PlanRange& range);

  const Sha384Digest& digest() const noexcept { return digest_; }

 private:
  Sha384Digest digest_{};
};

/// The SNP launch digest of `plan`: every range in order, from a zero GCTX.LD.
Sha384Digest measure_snp(const LaunchPlan& plan);
/// The same, but with the firmware ranges (the first plan.firmware_ranges) replaced by
/// their precomputed digest `firmware_digest` (sev-snp-measure --snp-ovmf-hash).
Sha384Digest measure_snp(const LaunchPlan& plan, const Sha384Digest& firmware_digest);
/// GCTX.LD after the firmware ranges only (sev-snp-measure --mode snp:ovmf-hash).
Sha384Digest measure_snp_firmware(const LaunchPlan& plan);

/// The SEV / SEV-ES launch digest of `plan`: SHA-256 over the bytes of every kNormal and
/// kVmsa range, each zero-filled to its `size`, in order. SEV plans hold no other kinds.
Sha256Digest measure_sev(const LaunchPlan& plan);

}  // namespace cvm::firmware::snp
