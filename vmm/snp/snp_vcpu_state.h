// SPDX-License-Identifier: Apache-2.0
// The register state cvmm programs into each SEV-SNP vCPU before KVM_SEV_SNP_LAUNCH_FINISH,
// and a model of the VMSA KVM builds from it, so that the VMSA KVM measures equals the VMSA
// page of the launch plan (firmware/snp/vmsa.h, VmmType::kCvmm).
//
// How the equivalence is argued. At LAUNCH_FINISH KVM copies each vCPU's state into its VMSA
// (Linux arch/x86/kvm/svm/sev.c sev_es_sync_vmsa: the VMCB save area, GPRs, XCR0, the
// x87/SSE state from the guest FPU for KVM_X86_SNP_VM guests) and adds SEV_FEATURES. The
// VMCB fields pass through the SVM setters first (arch/x86/kvm/svm/svm.c):
//   svm_set_segment   attrib = type | S<<4 | DPL<<5 | P<<7 | AVL<<8 | L<<9 | DB<<10 | G<<11
//   svm_set_efer      EFER | SVME (0x1000)
//   svm_set_cr4       CR4 | the host's CR4.MCE (0x40; every SNP host runs with MCE on)
//   svm_set_cr0       CR0 with CD and NW cleared (KVM_X86_QUIRK_CD_NW_CLEARED, on by default)
// and KVM keeps DR6 = 0xffff0ff0 and DR7 = 0x400 (the values after vCPU reset; cvmm never
// calls KVM_SET_DEBUGREGS) and SEV_FEATURES = KVM_SEV_INIT2.vmsa_features | SNPActive.
// cvmm programs the rest explicitly (KVM_SET_SREGS, KVM_SET_REGS, KVM_SET_FPU, KVM_SET_XCRS,
// KVM_SET_MSRS(IA32_PAT)) with x86's architectural reset values, exactly as QEMU's
// x86_cpu_reset + kvm_arch_put_registers do, which is why VmmType::kCvmm's VMSA is QEMU's.
// kvm_vmsa_state() is that model; the backend checks model(programmed) == plan VMSA for every
// vCPU before it touches KVM, and the unit tests fold the model's output of the registers the
// backend actually issued. What the model cannot prove is that a given kernel behaves as
// described; that needs SNP hardware (tee-kvm-reference §3.12).
// Pure.
#pragma once

#include <cstdint>

#include "base/result.h"
#include "firmware/launch_plan.h"
#include "firmware/snp/vmsa.h"
#include "vmm/kvm/uapi.h"

namespace cvm::vmm::snp {

inline constexpr uint32_t kMsrIa32Pat = 0x277;
/// IA32_PAT power-on value (AMD APM vol. 2 §7.8.2).
inline constexpr uint64_t kResetPat = 0x0007040600070406;

/// What cvmm programs into one vCPU.
struct SnpVcpuProgram {
  kvm_regs regs{};
  /// The segment, descriptor-table, control-register and EFER fields; apic_base and the
  /// interrupt bitmap are taken from KVM_GET_SREGS (apply_program_sregs).
  kvm_sregs sregs{};
  kvm_fpu fpu{};
  uint64_t xcr0 = 0;
  uint64_t pat = 0;
};

/// The x86 reset state for a vCPU starting at `start` (CS selector/base, RIP) with
/// RDX = `cpu_signature`: CS attr 0x9b, data segments 0x93, LDTR 0x82, TR 0x8b, all limits
/// 0xffff, GDTR/IDTR limit 0xffff, CR0 0x60000010, CR4 0, EFER 0, RFLAGS 2, FCW 0x37f,
/// MXCSR 0x1f80, XCR0 1, PAT power-on value.
SnpVcpuProgram snp_vcpu_program(const firmware::VcpuStart& start, uint32_t cpu_signature);

/// Copies the fields SnpVcpuProgram defines from `program` into `sregs` (read from KVM),
/// leaving apic_base and interrupt_bitmap as KVM reported them.
void apply_program_sregs(kvm_sregs& sregs, const kvm_sregs& program) noexcept;

/// The VMSA KVM builds at LAUNCH_FINISH from this register state (see the header comment).
/// Errors: kInvalidArgument naming the field when the state sets something the VMSA model
/// does not carry (a GPR other than RDX, CR2/CR3/CR8, x87/SSE registers, FPU status words),
/// so a mismatch can never hide in an unmodelled field.
[[nodiscard]] Result<firmware::snp::VcpuResetState> kvm_vmsa_state(
    const kvm_regs& regs, const kvm_sregs& sregs, const kvm_fpu& fpu, uint64_t xcr0,
    uint64_t pat, uint64_t sev_features);

}  // namespace cvm::vmm::snp
