// SPDX-License-Identifier: Apache-2.0
// Applies the pure x86 boot builders' results (vmm/x86: boot CPU state, CPUID table, boot MSRs)
// to KVM vCPUs, plus the LAPIC and FPU defaults a split-irqchip machine needs. The conversions
// are pure functions (unit-tested); configure_vcpu()/apply_boot_state() issue the ioctls.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "vmm/kvm/uapi.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/x86/boot_cpu.h"
#include "vmm/x86/cpuid.h"

namespace cvm::vmm {

kvm_segment to_kvm_segment(const x86::Segment& segment) noexcept;
/// Overwrites the fields the boot state defines, keeping the rest (APIC base, ...).
void apply_special_registers(kvm_sregs& sregs, const x86::SpecialRegisters& boot) noexcept;
kvm_regs to_kvm_regs(const x86::GeneralRegisters& boot) noexcept;

std::vector<x86::CpuidEntry> from_kvm_cpuid(std::span<const kvm_cpuid_entry2> entries);
std::vector<kvm_cpuid_entry2> to_kvm_cpuid(std::span<const x86::CpuidEntry> entries);

/// LVT LINT0 = ExtINT and LINT1 = NMI (the PC wiring of the local APIC pins, Intel SDM
/// Vol. 3A §11.5.1), leaving the other LVT bits (mask) as they are.
void set_lapic_lint_wiring(kvm_lapic_state& lapic) noexcept;

/// What every vCPU gets (besides its index).
struct VcpuSetup {
  std::span<const kvm_cpuid_entry2> supported_cpuid;  // KVM_GET_SUPPORTED_CPUID
  std::span<const uint32_t> supported_msrs;           // KVM_GET_MSR_INDEX_LIST
  x86::CpuidPolicy cpuid_policy;
  /// False for a firmware boot: KVM's reset MSR values stay, notably IA32_MTRR_DEF_TYPE = 0
  /// (MTRRs disabled), which OVMF asserts before programming MTRRs itself
  /// (OvmfPkg/Library/PlatformInitLib/MemDetect.c, PlatformQemuInitializeRam).
  bool set_boot_msrs = true;
};

/// KVM_SET_CPUID2 (built by x86::build_vcpu_cpuid for `vcpu.id()`), KVM_SET_MSRS (boot MSRs,
/// unless setup.set_boot_msrs is false),
/// KVM_SET_LAPIC (LINT wiring) and KVM_SET_FPU (FCW 0x37f, MXCSR 0x1f80: the reset values).
/// Errors name the ioctl and the vCPU.
[[nodiscard]] Result<void> configure_vcpu(const kvm::Vcpu& vcpu, const VcpuSetup& setup);

/// Loads the boot CPU's registers (KVM_GET_SREGS, apply, KVM_SET_SREGS, KVM_SET_REGS).
[[nodiscard]] Result<void> apply_boot_state(const kvm::Vcpu& vcpu,
                                            const x86::BootCpuState& state);

}  // namespace cvm::vmm
