// SPDX-License-Identifier: Apache-2.0
// The SEV-SNP CPUID page (LAUNCH_UPDATE page type CPUID; SEV-SNP ABI spec #56860 §7.1
// "CPUID Reporting", tee-kvm-reference §3.9). The guest reads CPUID from this page instead
// of trusting the hypervisor; the PSP checks each entry against its policy at LAUNCH_UPDATE
// and, when one is wrong, fails with SEV_RET_INVALID_PARAM after writing the corrected page
// back (KVM copies it to the caller's buffer).
//
// Layout (little-endian): @0 count u32 (<= 64), @4 reserved u32, @8 reserved u64,
// @16 entries[64] of 48 bytes: @0 eax_in u32, @4 ecx_in u32, @8 xcr0_in u64, @16 xss_in u64,
// @24 eax, @28 ebx, @32 ecx, @36 edx (u32 each), @40 reserved u64. The rest of the page is 0.
// Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "vmm/x86/cpuid.h"

namespace cvm::vmm::snp {

inline constexpr std::size_t kSnpCpuidPageSize = 4096;
inline constexpr std::size_t kSnpCpuidMaxEntries = 64;
inline constexpr std::size_t kSnpCpuidHeaderSize = 16;
inline constexpr std::size_t kSnpCpuidEntrySize = 48;
static_assert(kSnpCpuidHeaderSize + kSnpCpuidMaxEntries * kSnpCpuidEntrySize == 3088);

/// One CPUID page entry.
struct SnpCpuidFunction {
  uint32_t eax_in = 0;
  uint32_t ecx_in = 0;
  uint64_t xcr0_in = 0;
  uint64_t xss_in = 0;
  uint32_t eax = 0;
  uint32_t ebx = 0;
  uint32_t ecx = 0;
  uint32_t edx = 0;
  friend bool operator==(const SnpCpuidFunction&, const SnpCpuidFunction&) = default;
};

/// The page entries for a vCPU's CPUID table (what KVM_GET_CPUID2 returns for vCPU 0), the
/// way QEMU fills them (target/i386/sev.c sev_snp_cpuid_info_fill and
/// sev_snp_mask_cpuid_features):
///  - ecx_in = the subleaf for leaves with a significant index, else 0;
///  - leaf 0xD subleaves 0 and 1: xcr0_in = 1 and ebx = 0x240 (the XSAVE area size for
///    x87+SSE; the guest recomputes sizes for the XCR0 it enables);
///  - features the PSP refuses or KVM cannot give an SNP guest are cleared: TSC-deadline
///    (1.ECX[24]), TSC_ADJUST (7.0.EBX[1]), the SPEC_CTRL family (7.0.EDX[31:26]) and
///    VIRT_SSBD (0x80000008.EBX[25]).
/// Errors: kNotSupportedByHost when there are more than 64 entries.
[[nodiscard]] Result<std::vector<SnpCpuidFunction>> snp_cpuid_functions(
    std::span<const x86::CpuidEntry> cpuid);

/// Encodes `functions` (at most 64) as a 4096-byte page.
std::vector<std::byte> encode_snp_cpuid_page(std::span<const SnpCpuidFunction> functions);

/// Decodes a page. Errors: kInvalidArgument if it is not 4096 bytes or count exceeds 64.
[[nodiscard]] Result<std::vector<SnpCpuidFunction>> decode_snp_cpuid_page(
    std::span<const std::byte> page);

/// One line per difference between the page cvmm offered and the page the PSP corrected,
/// e.g. "leaf 0x7.0: ebx 0x219c07a9 -> 0x219c05a9", for the log before the retry.
std::vector<std::string> diff_snp_cpuid_pages(std::span<const SnpCpuidFunction> offered,
                                              std::span<const SnpCpuidFunction> corrected);

}  // namespace cvm::vmm::snp
