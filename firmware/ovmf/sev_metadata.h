// SPDX-License-Identifier: Apache-2.0
// What an OVMF image tells an SEV / SEV-ES / SEV-SNP VMM (tee-kvm-reference §3.7, §3.8):
//  - the "ASEV" SEV metadata: the guest ranges SNP must pre-validate, with their types
//    (edk2 OvmfPkg/ResetVector/X64/OvmfSevMetadata.nasm.inc; QEMU
//    hw/i386/pc_sysfw_ovmf.c pc_system_parse_sev_metadata);
//  - the SEV-ES AP reset address (footer GUID 00f771de-..., or QEMU's legacy layout);
//  - the SEV kernel-hashes area (footer GUID 7255371f-...).
// Pure parsing of an untrusted image; every offset and length is checked. Included by
// firmware/snp/ and tools/measure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "firmware/ovmf/footer_table.h"

namespace cvm::firmware::ovmf {

/// Section types of the ASEV table (OvmfSevMetadata.nasm.inc; QEMU OvmfSevMetadataDesc).
enum class SevSectionType : uint32_t {
  kSnpSecMem = 1,           // pre-validated RAM used by the SEC phase
  kSnpSecrets = 2,          // the SNP secrets page, filled by the PSP
  kCpuid = 3,               // the SNP CPUID page
  kSvsmCaa = 4,             // the SVSM calling-area page
  kSnpKernelHashes = 0x10,  // the page holding the kernel-hashes table (§3.8)
};

/// Short name for errors and --json output, e.g. "SNP_SEC_MEM".
std::string_view sev_section_type_name(SevSectionType type) noexcept;

/// One ASEV section descriptor (12 bytes on the wire, tee-kvm-reference §3.7):
///   @0 base GPA u32, @4 size u32, @8 type u32.
struct SevMetadataSection {
  uint32_t gpa = 0;
  uint32_t size = 0;
  SevSectionType type = SevSectionType::kSnpSecMem;

  friend bool operator==(const SevMetadataSection&, const SevMetadataSection&) = default;
};
inline constexpr std::size_t kSevMetadataHeaderSize = 16;
inline constexpr std::size_t kSevMetadataSectionSize = 12;

/// The {base, size} of the area OVMF reserves for the SEV kernel-hashes table.
struct SevHashesArea {
  uint32_t base = 0;
  uint32_t size = 0;
};

/// Everything SEV-related found in one firmware image.
struct SevFirmwareInfo {
  /// ASEV sections in table order; empty when the image has no ASEV metadata.
  std::vector<SevMetadataSection> sections;
  /// True when the footer table points at an ASEV header (even one with zero sections).
  bool has_metadata = false;
  /// The SEV-ES AP reset address (high 16 bits: CS base >> 16; low 16 bits: IP), from the
  /// footer table or the legacy block; nullopt when neither exists. May be 0 (QEMU rejects
  /// that for SEV-ES/SNP; see firmware/snp/launch_plan.cc).
  std::optional<uint32_t> ap_reset_address;
  /// The kernel-hashes area; nullopt without the GUID. OVMF builds without measured direct
  /// boot publish the GUID with base 0 / size 0.
  std::optional<SevHashesArea> hashes_area;
};

/// Parses the ASEV metadata that `table` points at inside `image`, sections in table order.
/// nullopt when `table` has no dc886566-... entry. kMalformedImage naming the field when: the offset entry is short,
/// the offset points outside the image, the signature is not "ASEV", the version is not 1,
/// the length is out of range or too small for the section count, a section has an
/// unknown type, a zero or non-4KiB-multiple size, an unaligned base, ends above 4 GiB, or
/// overlaps an earlier section.
Result<std::optional<std::vector<SevMetadataSection>>> parse_sev_metadata(
    std::span<const std::byte> image, const FooterTable& table);

/// The SEV-ES AP reset address: the footer-table entry 00f771de-... first; when `table` is
/// null or lacks it, QEMU's original layout (the same GUID at end-0x30, a u16 length at
/// end-0x32, the data at end-0x20-length; QEMU target/i386/sev.c
/// sev_es_find_reset_vector). nullopt when neither is present; kMalformedImage when the
/// entry is too short or the legacy length is out of range.
Result<std::optional<uint32_t>> find_sev_es_reset_address(std::span<const std::byte> image,
                                                          const FooterTable* table);

/// Parses all of the above. An image without a footer table is not an error (it yields no
/// metadata and no hashes area); a malformed one is.
Result<SevFirmwareInfo> parse_sev_firmware(std::span<const std::byte> image);

}  // namespace cvm::firmware::ovmf
