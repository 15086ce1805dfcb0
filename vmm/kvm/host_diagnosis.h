// SPDX-License-Identifier: Apache-2.0
// Why /dev/kvm is missing: what the host shows about hardware virtualization (CPU flags,
// loaded KVM modules), turned into one sentence that says what to do. The probe reads
// /proc/cpuinfo and /sys/module; the explanation is a pure function, unit-tested.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cvm::kvm {

struct KvmHostFacts {
  bool cpu_has_vmx = false;        // Intel VT-x ("vmx" in /proc/cpuinfo flags)
  bool cpu_has_svm = false;        // AMD-V ("svm")
  bool cpu_is_virtual = false;     // "hypervisor": this machine is itself a VM
  std::vector<std::string> kvm_modules;  // those of kvm, kvm_intel, kvm_amd, kvm_pvm loaded
};

/// Reads /proc/cpuinfo (first "flags" line) and /sys/module/<name> for the KVM modules;
/// what cannot be read counts as absent.
KvmHostFacts probe_kvm_host_facts();

/// Parses the "flags" line of /proc/cpuinfo text into `facts` (pure; the probe's core).
void parse_cpuinfo_flags(std::string_view cpuinfo, KvmHostFacts& facts);

/// Why /dev/kvm does not exist on a host with these facts and what to do, lower case, no
/// trailing period, e.g. "no kvm module is loaded (modprobe kvm_intel)".
std::string explain_missing_dev_kvm(const KvmHostFacts& facts);

}  // namespace cvm::kvm
