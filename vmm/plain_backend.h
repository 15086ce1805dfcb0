// SPDX-License-Identifier: Apache-2.0
// The plain-KVM backend: an ordinary VM (KVM_X86_DEFAULT_VM) whose memory the host can read,
// booted directly from a kernel. It has no launch plan and no TEE exits; its host check is
// what every cvmm VM needs from KVM, and so the baseline of `cvmm host-check`.
#pragma once

#include <memory>

#include "vmm/tee_backend.h"

namespace cvm::vmm {

/// Capabilities every cvmm VM needs (missing one makes the host unusable), with their names.
struct RequiredCapability {
  long capability;
  const char* name;
  const char* why;
};
inline constexpr RequiredCapability kPlainRequiredCapabilities[] = {
    {KVM_CAP_SPLIT_IRQCHIP, "KVM_CAP_SPLIT_IRQCHIP", "LAPIC in KVM, IOAPIC in cvmm"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "race-free vCPU stop"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM slots"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "virtio interrupts"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "virtio notifications"},
};

/// Capabilities only some configurations need; reported, never fatal.
inline constexpr RequiredCapability kPlainOptionalCapabilities[] = {
    {KVM_CAP_GUEST_MEMFD, "KVM_CAP_GUEST_MEMFD", "--memory guest_memfd=on"},
    {KVM_CAP_USER_MEMORY2, "KVM_CAP_USER_MEMORY2", "--memory guest_memfd=on"},
    {KVM_CAP_MEMORY_ATTRIBUTES, "KVM_CAP_MEMORY_ATTRIBUTES", "private/shared conversion"},
    {KVM_CAP_VM_TYPES, "KVM_CAP_VM_TYPES", "confidential VM types"},
};

/// The plain-KVM backend. Its launch steps do nothing (the machine loads the kernel itself);
/// not final, so tests can derive a backend that changes only the step they are about.
class PlainBackend : public TeeBackend {
 public:
  std::string_view name() const noexcept override { return "plain"; }
  TeeRequirements requirements() const noexcept override { return TeeRequirements{}; }
  HostSupport check_host(const kvm::System& system) const override;
  Result<firmware::LaunchPlan> build_launch_plan(const TeeLaunchInputs& inputs) const override;
  Result<void> init_vm(const kvm::System& system, const kvm::Vm& vm,
                       const firmware::LaunchPlan& plan) override;
  Result<void> init_vcpu(const kvm::Vm& vm, const kvm::Vcpu& vcpu,
                         const firmware::LaunchPlan& plan) override;
  Result<void> launch(const kvm::Vm& vm, GuestMemory& memory, std::span<kvm::Vcpu> vcpus,
                      const firmware::LaunchPlan& plan) override;
  ExitInterceptor* exit_interceptor() noexcept override { return nullptr; }
};

std::unique_ptr<TeeBackend> make_plain_backend();

}  // namespace cvm::vmm
