// SPDX-License-Identifier: Apache-2.0
#include "vmm/tdx/host_check.h"

#include <fmt/format.h>

#include "base/file.h"
#include "vmm/tdx/tdx_vm.h"

namespace cvm::vmm::tdx {
namespace {

/// Appends findings; the first failure becomes the reason.
class Findings {
 public:
  explicit Findings(HostSupport& support) : support_(support) {}
  void add(bool passed, std::string line) {
    if (!passed && support_.available) {
      support_.available = false;
      support_.reason = line;
    }
    support_.findings.push_back(std::move(line));
  }

 private:
  HostSupport& support_;
};

void check_vm_type(const kvm::System& system, Findings& findings) {
  auto types = system.supported_vm_types();
  if (!types) {
    findings.add(false, fmt::format("KVM_CAP_VM_TYPES: {}", types.error().message()));
    return;
  }
  const bool offered = (*types & (uint64_t{1} << KVM_X86_TDX_VM)) != 0;
  findings.add(offered,
               fmt::format("KVM VM type KVM_X86_TDX_VM ({}): {} (KVM_CAP_VM_TYPES = {:#x})",
                           KVM_X86_TDX_VM, offered ? "offered" : "not offered", *types));
}

void check_module_parameter(const std::string& path, Findings& findings) {
  auto text = read_text_file(path);
  if (!text) {
    findings.add(false, fmt::format("kvm_intel.tdx: {} cannot be read (kvm_intel not loaded, or a "
                                    "kernel without TDX host support)",
                                    path));
    return;
  }
  const bool enabled =
      !text->empty() && ((*text)[0] == 'Y' || (*text)[0] == 'y' || (*text)[0] == '1');
  findings.add(enabled, fmt::format("kvm_intel.tdx: {} (load kvm_intel with tdx=1 on a host whose "
                                    "BIOS enables TDX)",
                                    enabled ? "enabled" : "disabled"));
}

void check_capability(const kvm::Vm& vm, long capability, std::string_view name,
                      uint64_t required_bits, Findings& findings) {
  auto value = vm.check_extension(capability);
  if (!value) {
    findings.add(false, fmt::format("{}: {}", name, value.error().message()));
    return;
  }
  const bool passed = required_bits == 0
                          ? *value > 0
                          : (static_cast<uint64_t>(*value) & required_bits) == required_bits;
  findings.add(passed,
               fmt::format("{} on a TD: {:#x} ({})", name, *value, passed ? "ok" : "MISSING"));
}

/// KVM_TDX_CAPABILITIES and the private-memory capabilities, asked of a probe TD.
void check_probe_td(const kvm::System& system, Findings& findings) {
  auto vm = system.create_vm(KVM_X86_TDX_VM);
  if (!vm) {
    findings.add(false, fmt::format("probe TD: {}", vm.error().message()));
    return;
  }
  auto caps = query_capabilities(*vm);
  if (!caps) {
    findings.add(false, fmt::format("TDX module: {}", caps.error().message()));
  } else {
    findings.add(true, fmt::format("TDX module: attributes {:#x}, XFAM {:#x}, {} configurable "
                                   "CPUID leaves",
                                   caps->supported_attrs, caps->supported_xfam,
                                   caps->configurable_cpuid.size()));
  }
  check_capability(*vm, KVM_CAP_GUEST_MEMFD, "KVM_CAP_GUEST_MEMFD", 0, findings);
  check_capability(*vm, KVM_CAP_USER_MEMORY2, "KVM_CAP_USER_MEMORY2", 0, findings);
  check_capability(*vm, KVM_CAP_MEMORY_ATTRIBUTES, "KVM_CAP_MEMORY_ATTRIBUTES",
                   KVM_MEMORY_ATTRIBUTE_PRIVATE, findings);
  check_capability(*vm, KVM_CAP_EXIT_HYPERCALL, "KVM_CAP_EXIT_HYPERCALL",
                   uint64_t{1} << KVM_HC_MAP_GPA_RANGE, findings);
  check_capability(*vm, KVM_CAP_X86_APIC_BUS_CYCLES_NS, "KVM_CAP_X86_APIC_BUS_CYCLES_NS", 0,
                   findings);
}

}  // namespace

HostSupport check_tdx_host(const kvm::System& system, const std::string& module_parameter) {
  HostSupport support{.tee = "tdx", .available = true, .findings = {}, .reason = {}};
  Findings findings(support);
  check_vm_type(system, findings);
  check_module_parameter(module_parameter, findings);
  if (support.available) {
    check_probe_td(system, findings);
  } else {
    support.findings.push_back("probe TD: not created (see above)");
  }
  auto split = system.check_extension(KVM_CAP_SPLIT_IRQCHIP);
  const bool has_split = split && *split > 0;
  findings.add(has_split, fmt::format("KVM_CAP_SPLIT_IRQCHIP: {} (a TD needs its IOAPIC in "
                                      "userspace)",
                                      has_split ? "yes" : "MISSING"));
  return support;
}

}  // namespace cvm::vmm::tdx
