// SPDX-License-Identifier: Apache-2.0
// TeeBackend: the one interface behind which each kind of guest is launched (issue 5; plain
// KVM is a backend too). The machine picks a backend at run time from the configuration and
// then only asks it questions (requirements()) and hands it the launch steps; generic code never
// asks "is this TDX?". Backends live in vmm/tdx/, vmm/snp/, vmm/s390-se/ and never include
// each other.
//
// Launch order the machine follows (each step is a no-op for backends that do not need it):
//   1. check_host(system)                      before any file is mapped or VM created
//   2. plan = build_launch_plan(inputs)         pure; the same builder cvmm-measure uses
//   3. vm = KVM_CREATE_VM(requirements().vm_type), split irqchip, TSC
//   4. init_vm(system, vm, plan)                TDX INIT_VM; SNP INIT2 + LAUNCH_START
//   5. guest memory (private when requirements().private_memory)
//   6. per vCPU: KVM_CREATE_VCPU, then init_vcpu(vm, vcpu, plan)   TDX INIT_VCPU(HOB)
//   7. launch(vm, memory, vcpus, plan)          TDX INIT_MEM_REGION.. FINALIZE_VM;
//                                                SNP LAUNCH_UPDATE.. LAUNCH_FINISH
//   8. vCPU threads run; the backend's ExitInterceptor sees every exit first.
// The measured content comes only from `plan` (architecture-anchors §B.4, plan/lower/execute).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "firmware/launch_plan.h"
#include "vmm/config/vm_config.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/system.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"
#include "vmm/vcpu_runner.h"

namespace cvm::vmm {

/// What a backend needs from the generic machine.
struct TeeRequirements {
  /// Argument of KVM_CREATE_VM (KVM_X86_DEFAULT_VM, KVM_X86_TDX_VM, KVM_X86_SNP_VM).
  uint64_t vm_type = KVM_X86_DEFAULT_VM;
  /// Guest RAM is guest_memfd-backed private memory with a shared twin mapping, converted
  /// on KVM_EXIT_MEMORY_FAULT and the guest's MapGPA / page-state-change requests.
  bool private_memory = false;
  /// The VMM may program vCPU registers (KVM_SET_REGS/SREGS/MSRS, CPUID). false for TDX,
  /// where the TDX module fixes the initial state and CPUID comes from INIT_VM.
  bool vmm_sets_vcpu_registers = true;
  /// Boots through firmware (--firmware) instead of entering a kernel directly.
  bool firmware_boot = false;
  /// KVM_SET_TSC_KHZ on the VM fd before any vCPU exists (TDX fixes the TD's TSC at INIT_VM).
  bool vm_tsc_khz = false;
  /// KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR are valid for this VM type (not for TDX).
  bool legacy_vmx_pages = true;
};

/// Whether this host can run one kind of guest, for `cvmm host-check` and for refusing a
/// configuration before any guest memory is touched.
struct HostSupport {
  std::string tee;                    // "plain", "tdx", "sev-snp"
  bool available = false;
  /// One line per fact checked, in check order, e.g.
  /// "KVM VM type KVM_X86_TDX_VM (5): not offered (KVM_CAP_VM_TYPES = 0x1)".
  std::vector<std::string> findings;
  /// When !available: the first finding that rules the TEE out (one line).
  std::string reason;
};

/// Everything a launch plan is built from: the same inputs cvmm-measure takes, so the VMM and
/// the measurement tool derive the measured content from one builder.
struct TeeLaunchInputs {
  firmware::Blob firmware;            // --firmware bytes (empty blob: none)
  firmware::Blob kernel;              // --kernel bytes (empty: none)
  firmware::Blob initrd;              // --initramfs bytes (empty: none)
  std::string cmdline;                // final kernel command line
  uint32_t vcpu_count = 1;
  uint64_t memory_bytes = 0;          // guest RAM size
  PlatformConfig platform;            // policy, HOST_DATA, MRCONFIGID, ...
};

class TeeBackend {
 public:
  virtual ~TeeBackend() = default;

  /// "plain", "tdx", "sev-snp" (as in host-check output and errors).
  virtual std::string_view name() const noexcept = 0;
  virtual TeeRequirements requirements() const noexcept = 0;

  /// Probes the host: VM types, capabilities, module parameters, firmware versions. Creates
  /// at most a throw-away VM to query capabilities; never maps guest memory.
  virtual HostSupport check_host(const kvm::System& system) const = 0;

  /// Builds the launch plan (pure; the same plan builder cvmm-measure folds).
  /// Errors: kInvalidArgument / kMalformedImage naming the input.
  [[nodiscard]] virtual Result<firmware::LaunchPlan> build_launch_plan(
      const TeeLaunchInputs& inputs) const = 0;

  /// After KVM_CREATE_VM and the split irqchip, before any vCPU exists.
  [[nodiscard]] virtual Result<void> init_vm(const kvm::System& system, const kvm::Vm& vm,
                                             const firmware::LaunchPlan& plan) = 0;
  /// After KVM_CREATE_VCPU of `vcpu`, before guest memory is populated.
  [[nodiscard]] virtual Result<void> init_vcpu(const kvm::Vm& vm, const kvm::Vcpu& vcpu,
                                               const firmware::LaunchPlan& plan) = 0;
  /// Copies (and measures) the plan's ranges into guest memory and seals the launch.
  [[nodiscard]] virtual Result<void> launch(const kvm::Vm& vm, GuestMemory& memory,
                                            std::span<kvm::Vcpu> vcpus,
                                            const firmware::LaunchPlan& plan) = 0;

  /// The backend's exit handler (TEE exits), or nullptr when it handles none. Lives as long
  /// as the backend; the machine installs it on the VcpuRunner.
  virtual ExitInterceptor* exit_interceptor() noexcept = 0;
};

}  // namespace cvm::vmm
