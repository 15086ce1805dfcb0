// SPDX-License-Identifier: Apache-2.0
#include "vmm/plain_backend.h"

#include <fmt/format.h>

namespace cvm::vmm {

HostSupport PlainBackend::check_host(const kvm::System& system) const {
  HostSupport support{.tee = "plain", .available = true, .findings = {}, .reason = {}};
  support.findings.push_back(fmt::format("/dev/kvm: open, KVM API version {}",
                                         kvm::kKvmApiVersion));
  for (const RequiredCapability& cap : kPlainRequiredCapabilities) {
    auto present = system.check_extension(cap.capability);
    const bool ok = present && *present > 0;
    support.findings.push_back(fmt::format("{}: {} ({})", cap.name, ok ? "yes" : "MISSING",
                                           cap.why));
    if (!ok && support.available) {
      support.available = false;
      support.reason = present ? fmt::format("this host's KVM lacks {}", cap.name)
                               : present.error().message();
    }
  }
  for (const RequiredCapability& cap : kPlainOptionalCapabilities) {
    auto present = system.check_extension(cap.capability);
    const bool ok = present && *present > 0;
    support.findings.push_back(fmt::format("{}: {} (optional: {})", cap.name,
                                           ok ? "yes" : "no", cap.why));
  }
  return support;
}

Result<firmware::LaunchPlan> PlainBackend::build_launch_plan(const TeeLaunchInputs&) const {
  // The host may read and write a plain guest's memory at any time: nothing is measured,
  // the machine loads the kernel itself.
  return firmware::LaunchPlan{};
}

Result<void> PlainBackend::init_vm(const kvm::System&, const kvm::Vm&,
                                   const firmware::LaunchPlan&) {
  return ok();
}

Result<void> PlainBackend::init_vcpu(const kvm::Vm&, const kvm::Vcpu&,
                                     const firmware::LaunchPlan&) {
  return ok();
}

Result<void> PlainBackend::launch(const kvm::Vm&, GuestMemory&, std::span<kvm::Vcpu>,
                                  const firmware::LaunchPlan&) {
  return ok();
}

std::unique_ptr<TeeBackend> make_plain_backend() { return std::make_unique<PlainBackend>(); }

}  // namespace cvm::vmm
