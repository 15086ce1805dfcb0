// SPDX-License-Identifier: Apache-2.0
// The initial SEV-ES/SNP VMSA (VM save area) of each vCPU: which register values each VMM
// type starts its vCPUs with, and the page encoding of AMD APM vol. 2, table B-4
// "VMSA Layout, State Save Area for SEV-ES". KVM measures this page (SNP: page type VMSA;
// SEV-ES: LAUNCH_UPDATE_VMSA), so every field here is part of the launch digest.
// Pure; included by firmware/snp/, tools/measure and (later) vmm/snp/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace cvm::firmware::snp {

/// Whose vCPU reset state the VMSAs reproduce. The names follow sev-snp-measure's
/// --vmm-type (QEMU, ec2, gce) plus cvmm itself.
enum class VmmType : uint8_t {
  /// cvmm's SNP backend. It programs the vCPUs through KVM exactly like QEMU (see
  /// vcpu_reset_state), so its VMSAs are byte-identical to kQemu's.
  kCvmm,
  /// QEMU + upstream KVM.
  kQemu,
  /// AWS EC2 (its own VMM).
  kEc2,
  /// Google Compute Engine.
  kGce,
};

/// Parses "cvmm", "qemu" (also "QEMU"), "ec2" or "gce".
std::optional<VmmType> parse_vmm_type(std::string_view text) noexcept;
std::string_view vmm_type_name(VmmType type) noexcept;

inline constexpr std::size_t kVmsaSize = 4096;
/// Where the BSP starts: CS base 0xffff0000 + IP 0xfff0 (the architectural reset vector).
inline constexpr uint32_t kBspResetAddress = 0xfffffff0;
/// SEV_FEATURES bit 0, SNPActive (APM vol. 2, "SEV_FEATURES"); KVM sets it for SNP guests.
inline constexpr uint64_t kSevFeatureSnpActive = 1;

/// One segment register as the VMSA stores it (struct vmcb_seg, 16 bytes):
///   @0 selector u16, @2 attrib u16 (VMCB packed attribute format), @4 limit u32, @8 base u64.
struct VmsaSegment {
  uint16_t selector = 0;
  uint16_t attrib = 0;
  uint32_t limit = 0;
  uint64_t base = 0;
};

/// The register state a vCPU starts with, as it ends up in the VMSA. Fields not listed are 0.
struct VcpuResetState {
  VmsaSegment es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr;
  uint64_t efer = 0;
  uint64_t cr4 = 0;
  uint64_t cr0 = 0;
  uint64_t dr7 = 0;
  uint64_t dr6 = 0;
  uint64_t rflags = 0;
  uint64_t rip = 0;
  uint64_t g_pat = 0;
  uint64_t rdx = 0;
  uint64_t sev_features = 0;
  uint64_t xcr0 = 0;
  uint32_t mxcsr = 0;
  uint16_t x87_fcw = 0;
};

struct VcpuResetParams {
  VmmType vmm = VmmType::kCvmm;
  /// The start address: kBspResetAddress for the BSP, the firmware's SEV-ES AP reset
  /// address for APs. CS base = address & 0xffff0000, RIP = address & 0xffff.
  uint32_t reset_address = kBspResetAddress;
  /// CPUID Fn0000_0001_EAX of the vCPU model (cpu_models.h); QEMU and cvmm put it in RDX.
  uint32_t cpu_signature = 0;
  /// SEV_FEATURES (VMSA offset 0x3b0). SNP: must include kSevFeatureSnpActive.
  uint64_t sev_features = 0;
};

/// The reset state of one vCPU for `params.vmm` (values from sev-snp-measure vmsa.py
/// build_save_area, which records what each VMM + KVM produce).
VcpuResetState vcpu_reset_state(const VcpuResetParams& params) noexcept;

/// Encodes `state` as a 4096-byte VMSA page (APM vol. 2 table B-4 offsets, see vmsa.cc).
std::vector<std::byte> encode_vmsa(const VcpuResetState& state);

}  // namespace cvm::firmware::snp
