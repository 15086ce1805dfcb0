// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/host_diagnosis.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace cvm::kvm {
namespace {

bool has_module(const KvmHostFacts& facts, std::string_view name) {
  return std::find(facts.kvm_modules.begin(), facts.kvm_modules.end(), name) !=
         facts.kvm_modules.end();
}

}  // namespace

void parse_cpuinfo_flags(std::string_view cpuinfo, KvmHostFacts& facts) {
  std::size_t at = 0;
  while (at < cpuinfo.size()) {
    const std::size_t end = std::min(cpuinfo.find('\n', at), cpuinfo.size());
    std::string_view line = cpuinfo.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with("flags")) {
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::istringstream words{std::string(line.substr(colon + 1))};
    for (std::string word; words >> word;) {
      facts.cpu_has_vmx = facts.cpu_has_vmx || word == "vmx";
      facts.cpu_has_svm = facts.cpu_has_svm || word == "svm";
      facts.cpu_is_virtual = facts.cpu_is_virtual || word == "hypervisor";
    }
    return;  // every CPU lists the same flags
  }
}

KvmHostFacts probe_kvm_host_facts() {
  KvmHostFacts facts;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::stringstream text;
  text << cpuinfo.rdbuf();
  parse_cpuinfo_flags(text.str(), facts);
  for (const char* name : {"kvm", "kvm_intel", "kvm_amd", "kvm_pvm"}) {
    struct stat st{};
    if (::stat(fmt::format("/sys/module/{}", name).c_str(), &st) == 0) {
      facts.kvm_modules.emplace_back(name);
    }
  }
  return facts;
}

std::string explain_missing_dev_kvm(const KvmHostFacts& facts) {
  // A vendor module that is loaded but left no /dev/kvm refused the hardware at load time;
  // the kernel log says why (kvm_pvm, for one, does not bind inside a kvm-pvm guest).
  for (const char* vendor : {"kvm_pvm", "kvm_intel", "kvm_amd"}) {
    if (has_module(facts, vendor)) {
      return fmt::format("{} is loaded but did not register /dev/kvm (the kernel log, dmesg, "
                         "says why)",
                         vendor);
    }
  }
  if (facts.cpu_has_vmx || facts.cpu_has_svm) {
    return fmt::format("no kvm module is loaded (modprobe {})",
                       facts.cpu_has_vmx ? "kvm_intel" : "kvm_amd");
  }
  if (facts.cpu_is_virtual) {
    return "this machine is a VM and its CPU offers no hardware virtualization (no vmx or svm "
           "flag): enable nested virtualization on its host";
  }
  return "the CPU offers no hardware virtualization (no vmx or svm flag), or it is disabled "
         "in the firmware settings";
}

}  // namespace cvm::kvm
