// SPDX-License-Identifier: Apache-2.0
// Shared set-up of the machine tests that run vmm::Machine against the recording KVM seam:
// a scripted host with the capabilities every cvmm VM needs (plus those of a confidential VM
// type), and temporary files for kernels and firmware images.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <string_view>

#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/uapi.h"

namespace cvm::vmm::testing {

/// The capabilities every cvmm VM needs (vmm/plain_backend.h kPlainRequiredCapabilities), and
/// KVM_GET_MSR_INDEX_LIST answering SYSENTER_CS (a boot MSR) and `other_msr` (one that the
/// test checks cvmm does or does not write).
inline void script_plain_host(kvm::RecordingSys& sys, uint32_t other_msr) {
  sys.set_extension(KVM_CAP_SPLIT_IRQCHIP, 1);
  sys.set_extension(KVM_CAP_IMMEDIATE_EXIT, 1);
  sys.set_extension(KVM_CAP_USER_MEMORY, 1);
  sys.set_extension(KVM_CAP_IRQFD, 1);
  sys.set_extension(KVM_CAP_IOEVENTFD, 1);
  sys.on(KVM_GET_MSR_INDEX_LIST, [other_msr](int, std::uintptr_t arg) {
    auto* list = reinterpret_cast<kvm_msr_list*>(arg);
    list->nmsrs = 2;
    list->indices[0] = 0x174;
    list->indices[1] = other_msr;
    return 0L;
  });
}

/// A plain host that also offers the TDX VM type, guest_memfd and private memory attributes.
inline void script_confidential_host(kvm::RecordingSys& sys, uint32_t other_msr) {
  script_plain_host(sys, other_msr);
  sys.set_extension(KVM_CAP_VM_TYPES, (1 << KVM_X86_DEFAULT_VM) | (1 << KVM_X86_TDX_VM));
  sys.set_extension(KVM_CAP_GUEST_MEMFD, 1);
  sys.set_extension(KVM_CAP_USER_MEMORY2, 1);
  sys.set_extension(KVM_CAP_MEMORY_ATTRIBUTES, KVM_MEMORY_ATTRIBUTE_PRIVATE);
}

/// A path in gtest's temporary directory unique to this process, `prefix` and `name`.
inline std::string temp_path(std::string_view prefix, const std::string& name) {
  return ::testing::TempDir() + std::string(prefix) + "_" + std::to_string(::getpid()) + "_" +
         name;
}

/// Writes `bytes` to temp_path(prefix, name) and returns that path.
inline std::string write_temp_file(std::string_view prefix, const std::string& name,
                                   std::span<const std::byte> bytes) {
  const std::string path = temp_path(prefix, name);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return path;
}

}  // namespace cvm::vmm::testing
