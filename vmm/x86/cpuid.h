// SPDX-License-Identifier: Apache-2.0
// The guest CPUID table for one vCPU, computed from what KVM supports
// (KVM_GET_SUPPORTED_CPUID) and cvmm's policy, and the MSRs set at boot. Pure: the KVM layer
// converts CpuidEntry to struct kvm_cpuid_entry2 and applies the table with KVM_SET_CPUID2,
// and applies boot_msrs() with KVM_SET_MSRS.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "vmm/x86/cpu_features.h"

namespace cvm::vmm::x86 {

/// One CPUID leaf/subleaf (mirrors struct kvm_cpuid_entry2 without padding).
struct CpuidEntry {
  uint32_t function = 0;
  uint32_t index = 0;
  uint32_t flags = 0;  // kCpuidFlagSignificantIndex when `index` selects a subleaf
  uint32_t eax = 0;
  uint32_t ebx = 0;
  uint32_t ecx = 0;
  uint32_t edx = 0;
  friend bool operator==(const CpuidEntry&, const CpuidEntry&) = default;
};

/// KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic, <linux/kvm.h>).
inline constexpr uint32_t kCpuidFlagSignificantIndex = 1;
/// KVM paravirt leaves (Documentation/virt/kvm/x86/cpuid.rst).
inline constexpr uint32_t kCpuidKvmSignatureLeaf = 0x40000000;
inline constexpr uint32_t kCpuidKvmFeaturesLeaf = 0x40000001;
/// Timing leaf: EAX = TSC frequency in kHz, EBX = APIC bus frequency in kHz (the VMware
/// convention, also read by Linux guests of other hypervisors).
inline constexpr uint32_t kCpuidTimingLeaf = 0x40000010;
/// KVM's emulated APIC bus runs at 1 GHz (APIC_BUS_CYCLE_NS = 1).
inline constexpr uint32_t kKvmApicBusKhz = 1000000;

/// What cvmm changes in the CPUID table.
struct CpuidPolicy {
  uint32_t vcpu_count = 1;
  /// Features to hide (see cpu_features.h); xsave also hides everything that needs XSAVE and
  /// zeroes leaf 0xD, so the table stays self-consistent.
  std::vector<CpuFeature> hidden{};
  /// Adds leaf 0x40000010 when set.
  std::optional<uint32_t> tsc_khz{};
};

/// The CPUID table for vCPU `vcpu_index` (APIC id = vcpu_index):
///   - leaf 1: hypervisor bit (ECX[31]), EBX[31:24] = APIC id, EBX[23:16] = vcpu_count,
///     HTT (EDX[28]) iff vcpu_count > 1;
///   - leaf 4: cores per package (EAX[31:26]) and L3 sharing; leaves 0xB/0x1F: one thread per
///     core, vcpu_count cores, x2APIC id in EDX; AMD 0x80000008 ECX[7:0] = vcpu_count - 1;
///   - 0x40000000 "KVMKVMKVM" with the KVM feature leaf kept from `supported` and
///     0x40000010 when tsc_khz is set;
///   - policy.hidden features cleared.
/// Entries KVM did not report are not invented, except the hypervisor leaves.
/// Errors: kInvalidArgument if vcpu_count is 0 or above 255 (8-bit APIC ids: our MADT uses
/// xAPIC entries for ids < 255) or vcpu_index >= vcpu_count.
[[nodiscard]] Result<std::vector<CpuidEntry>> build_vcpu_cpuid(
    std::span<const CpuidEntry> supported, const CpuidPolicy& policy, uint32_t vcpu_index);

/// An MSR value to set at boot (mirrors struct kvm_msr_entry).
struct MsrEntry {
  uint32_t index = 0;
  uint64_t value = 0;
  friend bool operator==(const MsrEntry&, const MsrEntry&) = default;
};

inline constexpr uint32_t kMsrIa32SysenterCs = 0x174;
inline constexpr uint32_t kMsrIa32SysenterEsp = 0x175;
inline constexpr uint32_t kMsrIa32SysenterEip = 0x176;
inline constexpr uint32_t kMsrIa32MiscEnable = 0x1a0;
inline constexpr uint32_t kMsrMtrrDefType = 0x2ff;
inline constexpr uint32_t kMsrStar = 0xc0000081;
inline constexpr uint32_t kMsrLstar = 0xc0000082;
inline constexpr uint32_t kMsrCstar = 0xc0000083;
inline constexpr uint32_t kMsrSyscallMask = 0xc0000084;
inline constexpr uint32_t kMsrKernelGsBase = 0xc0000102;
/// IA32_MISC_ENABLE bit 0: fast-string operations (SDM Vol. 4 Table 2-2); set by every BIOS.
inline constexpr uint64_t kMiscEnableFastStrings = 1;
/// IA32_MTRR_DEF_TYPE: MTRRs enabled (bit 11), default type writeback (6).
inline constexpr uint64_t kMtrrDefTypeEnabledWriteback = (1u << 11) | 6;

/// The boot MSR values, in a fixed order, keeping only MSRs in `supported`
/// (KVM_GET_MSR_INDEX_LIST): never write an MSR the host cannot take. The syscall/sysenter
/// MSRs are zeroed (state a BIOS would leave); IA32_TSC is deliberately not written so KVM's
/// own TSC synchronisation across vCPUs stays intact.
std::vector<MsrEntry> boot_msrs(std::span<const uint32_t> supported);

}  // namespace cvm::vmm::x86
