// SPDX-License-Identifier: Apache-2.0
// The KVM_MEMORY_ENCRYPT_OP(kvm_tdx_cmd) subcommands of upstream Linux 6.16+
// (tee-kvm-reference §2.1-§2.5), one function each, plus the pure choices that feed them
// (CPUID filtering, XFAM). Errors name the subcommand, errno, and the decoded TDX module
// status from kvm_tdx_cmd.hw_error (tdx_status.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "vmm/kvm/uapi.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"

namespace cvm::vmm::tdx {

// TD attributes (TD_PARAMS.ATTRIBUTES, §2.3).
inline constexpr uint64_t kTdAttributeDebug = 1ull << 0;
inline constexpr uint64_t kTdAttributeSeptVeDisable = 1ull << 28;
// APIC bus frequency the TDX module fixes: 25 MHz = 40 ns per cycle (§2.5 step 7).
inline constexpr uint64_t kTdxApicBusCyclesNs = 40;

/// KVM_TDX_CAPABILITIES, decoded.
struct TdxCapabilities {
  uint64_t supported_attrs = 0;
  uint64_t supported_xfam = 0;
  uint64_t kernel_tdvmcallinfo_1_r11 = 0;
  uint64_t user_tdvmcallinfo_1_r11 = 0;
  uint64_t kernel_tdvmcallinfo_1_r12 = 0;
  uint64_t user_tdvmcallinfo_1_r12 = 0;
  /// The configurable CPUID leaves; each register value is the mask of configurable bits.
  std::vector<kvm_cpuid_entry2> configurable_cpuid;
};

/// Everything KVM_TDX_INIT_VM takes (§2.3).
struct TdInitParams {
  uint64_t attributes = 0;
  uint64_t xfam = 0;
  std::array<std::byte, 48> mrconfigid{};
  std::array<std::byte, 48> mrowner{};
  std::array<std::byte, 48> mrownerconfig{};
  std::vector<kvm_cpuid_entry2> cpuid;
};

/// KVM_TDX_CAPABILITIES on `vm` (a VM of type KVM_X86_TDX_VM), growing the CPUID array from
/// 6 entries on E2BIG as QEMU does (§2.2).
[[nodiscard]] Result<TdxCapabilities> query_capabilities(const kvm::Vm& vm);

/// KVM_TDX_INIT_VM, retried on EAGAIN (the TDX module's RNG may be busy; §2.3) up to
/// `max_attempts` times.
[[nodiscard]] Result<void> init_td(const kvm::Vm& vm, const TdInitParams& params,
                                   int max_attempts = 10000);

/// KVM_TDX_INIT_VCPU with the TD HOB GPA (loaded into the vCPU's RCX, §2.1).
[[nodiscard]] Result<void> init_td_vcpu(const kvm::Vcpu& vcpu, uint64_t td_hob_gpa);

/// KVM_TDX_GET_CPUID: the CPUID the TDX module presents to this vCPU (after INIT_VCPU).
[[nodiscard]] Result<std::vector<kvm_cpuid_entry2>> td_vcpu_cpuid(const kvm::Vcpu& vcpu);

/// KVM_TDX_INIT_MEM_REGION of `nr_pages` pages from the page-aligned host `source` to `gpa`
/// (TDH.MEM.PAGE.ADD, then TDH.MR.EXTEND per 256 bytes when `measure`), re-issued with the
/// struct KVM advanced while it returns EAGAIN/EINTR (§2.4).
[[nodiscard]] Result<void> init_mem_region(const kvm::Vcpu& vcpu, const std::byte* source,
                                           uint64_t gpa, uint64_t nr_pages, bool measure);

/// KVM_TDX_FINALIZE_VM (TDH.MR.FINALIZE): MRTD is fixed from here on.
[[nodiscard]] Result<void> finalize_td(const kvm::Vm& vm);

/// The CPUID to pass to INIT_VM: only the leaves the TDX module lists as configurable, each
/// register of `wanted` ANDed with the configurable mask; leaves `wanted` lacks are dropped
/// (§2.3, QEMU tdx_filter_cpuid). Matches (function, index) when the configurable leaf has
/// KVM_CPUID_FLAG_SIGNIFCANT_INDEX, else function alone. Pure.
std::vector<kvm_cpuid_entry2> filter_cpuid_for_td(std::span<const kvm_cpuid_entry2> wanted,
                                                  std::span<const kvm_cpuid_entry2> configurable);

/// XFAM from the host's supported CPUID leaf 0xD (XCR0 bits from subleaf 0 EDX:EAX, IA32_XSS
/// bits from subleaf 1 EDX:ECX), limited to `supported_xfam`. Pure.
uint64_t choose_xfam(std::span<const kvm_cpuid_entry2> supported_cpuid, uint64_t supported_xfam);

}  // namespace cvm::vmm::tdx
