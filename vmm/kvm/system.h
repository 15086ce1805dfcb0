// SPDX-License-Identifier: Apache-2.0
// kvm::System: the open /dev/kvm (architecture-anchors §B.5). Queries host capabilities and
// creates VMs. Holds no policy. Non-copyable, movable; all methods are thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "vmm/kvm/sys.h"
#include "vmm/kvm/uapi.h"
#include "vmm/kvm/vm.h"

namespace cvm::kvm {

/// The KVM API version every supported kernel reports (KVM_GET_API_VERSION).
inline constexpr long kKvmApiVersion = 12;

class System final {
 public:
  System(const System&) = delete;
  System& operator=(const System&) = delete;
  System(System&&) noexcept = default;
  System& operator=(System&&) noexcept = default;
  ~System() = default;

  /// Opens `path` (normally /dev/kvm), checks the API version and reads the vCPU mmap size.
  /// Errors: kNotSupportedByHost "/dev/kvm is absent: <why, from host_diagnosis.h>" (ENOENT)
  /// or "... permission denied"
  /// (EACCES/EPERM) with the errno attached; kNotSupportedByHost on an API version other than
  /// 12; kKvm naming the ioctl otherwise.
  [[nodiscard]] static Result<System> open(Sys& sys = real_sys(),
                                           const char* path = "/dev/kvm");

  /// KVM_CHECK_EXTENSION on /dev/kvm: 0 if absent, else a capability-specific value.
  [[nodiscard]] Result<long> check_extension(long capability) const;

  /// Bitmap of accepted KVM_CREATE_VM types (bit n = type n). Without KVM_CAP_VM_TYPES only
  /// KVM_X86_DEFAULT_VM (bit 0) exists.
  [[nodiscard]] Result<uint64_t> supported_vm_types() const;

  /// KVM_GET_SUPPORTED_CPUID, growing the buffer on E2BIG (up to 1024 entries).
  [[nodiscard]] Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;

  /// KVM_GET_MSR_INDEX_LIST: the MSRs this host's KVM can save and restore (and so accepts).
  [[nodiscard]] Result<std::vector<uint32_t>> supported_msrs() const;

  /// KVM_CREATE_VM(type). Errors name the type; kNotSupportedByHost if the type is not in
  /// supported_vm_types().
  [[nodiscard]] Result<Vm> create_vm(uint64_t type) const;

  /// Size of each vCPU's kvm_run mapping (KVM_GET_VCPU_MMAP_SIZE, read at open()).
  std::size_t vcpu_mmap_size() const noexcept { return vcpu_mmap_size_; }
  int fd() const noexcept { return fd_.get(); }
  Sys& sys() const noexcept { return *sys_; }

 private:
  System(Sys* sys, UniqueFd fd, std::size_t vcpu_mmap_size) noexcept
      : sys_(sys), fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

  Sys* sys_;
  UniqueFd fd_;
  std::size_t vcpu_mmap_size_;
};

}  // namespace cvm::kvm
