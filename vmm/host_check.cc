// SPDX-License-Identifier: Apache-2.0
#include "vmm/host_check.h"

#include <fmt/format.h>

#include "vmm/kvm/system.h"

namespace cvm::vmm {

std::vector<HostSupport> check_host_support(std::span<const std::unique_ptr<TeeBackend>> backends,
                                            kvm::Sys& sys, const char* kvm_path) {
  std::vector<HostSupport> entries;
  auto system = kvm::System::open(sys, kvm_path);
  for (const auto& backend : backends) {
    if (!system) {
      const std::string reason = system.error().message();
      entries.push_back(HostSupport{.tee = std::string(backend->name()),
                                    .available = false,
                                    .findings = {},
                                    .reason = reason});
      continue;
    }
    entries.push_back(backend->check_host(*system));
  }
  return entries;
}

std::string format_host_support(std::span<const HostSupport> entries) {
  std::string text;
  for (const HostSupport& entry : entries) {
    if (entry.available) {
      text += fmt::format("{:<8} available\n", entry.tee);
    } else {
      text += fmt::format("{:<8} unavailable: {}\n", entry.tee, entry.reason);
    }
    for (const std::string& finding : entry.findings) {
      text += fmt::format("    {}\n", finding);
    }
  }
  return text;
}

}  // namespace cvm::vmm
