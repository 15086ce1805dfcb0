// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/system.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

#include "vmm/kvm/flex_array.h"
#include "vmm/kvm/host_diagnosis.h"
#include "vmm/kvm/ioctl.h"

namespace cvm::kvm {
namespace {

Error open_error(const char* path, int err) {
  if (err == ENOENT) {
    return Error(ErrorCode::kNotSupportedByHost,
                 fmt::format("{} is absent: {}", path,
                             explain_missing_dev_kvm(probe_kvm_host_facts())),
                 err);
  }
  if (err == EACCES || err == EPERM) {
    return Error(ErrorCode::kNotSupportedByHost,
                 fmt::format("{}: permission denied: add this user to the group that owns {} "
                             "(usually 'kvm')",
                             path, path),
                 err);
  }
  return errno_error(ErrorCode::kIo, fmt::format("open {}", path), err);
}

}  // namespace

Result<System> System::open(Sys& sys, const char* path) {
  const int fd = sys.open(path, O_RDWR);
  if (fd < 0) {
    return open_error(path, -fd);
  }
  UniqueFd kvm_fd(fd);
  CVM_ASSIGN_OR_RETURN(const long version,
                       CVM_KVM_IOCTL_VALUE(sys, kvm_fd.get(), KVM_GET_API_VERSION, 0));
  if (version != kKvmApiVersion) {
    return make_error(ErrorCode::kNotSupportedByHost, "{}: KVM API version {}, expected {}", path,
                      version, kKvmApiVersion);
  }
  CVM_ASSIGN_OR_RETURN(const long mmap_size,
                       CVM_KVM_IOCTL_VALUE(sys, kvm_fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0));
  if (static_cast<std::size_t>(mmap_size) < sizeof(kvm_run)) {
    return make_error(ErrorCode::kKvm, "KVM_GET_VCPU_MMAP_SIZE: {} is smaller than kvm_run",
                      mmap_size);
  }
  return System(&sys, std::move(kvm_fd), static_cast<std::size_t>(mmap_size));
}

Result<long> System::check_extension(long capability) const {
  auto result = CVM_KVM_IOCTL_VALUE(*sys_, fd_.get(), KVM_CHECK_EXTENSION,
                                    static_cast<unsigned long>(capability));
  if (!result) {
    return std::move(result).error().context(fmt::format("capability {}", capability));
  }
  return result;
}

Result<uint64_t> System::supported_vm_types() const {
  CVM_ASSIGN_OR_RETURN(const long types, check_extension(KVM_CAP_VM_TYPES));
  if (types <= 0) {
    return uint64_t{1} << KVM_X86_DEFAULT_VM;
  }
  return static_cast<uint64_t>(types);
}

Result<std::vector<kvm_cpuid_entry2>> System::supported_cpuid() const {
  for (std::size_t count = 256; count <= 1024; count *= 2) {
    FlexArray<kvm_cpuid2, kvm_cpuid_entry2> cpuid(count);
    cpuid.header()->nent = static_cast<uint32_t>(count);
    auto result = CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_GET_SUPPORTED_CPUID, cpuid.header());
    if (!result && result.error().sys_errno() == E2BIG) {
      continue;
    }
    CVM_TRY(result);
    const uint32_t returned = cpuid.header()->nent;
    if (returned > count) {
      return make_error(ErrorCode::kKvm, "KVM_GET_SUPPORTED_CPUID: {} entries returned for {}",
                        returned, count);
    }
    auto entries = cpuid.entries().first(returned);
    return std::vector<kvm_cpuid_entry2>(entries.begin(), entries.end());
  }
  return make_error(ErrorCode::kKvm, "KVM_GET_SUPPORTED_CPUID: more than 1024 entries");
}

Result<std::vector<uint32_t>> System::supported_msrs() const {
  // With nmsrs too small KVM fails with E2BIG and writes the count it needs into nmsrs.
  uint32_t count = 64;
  for (int attempt = 0; attempt < 2; ++attempt) {
    FlexArray<kvm_msr_list, uint32_t> list(count);
    list.header()->nmsrs = count;
    auto result = CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_GET_MSR_INDEX_LIST, list.header());
    if (!result && result.error().sys_errno() == E2BIG && list.header()->nmsrs > count) {
      count = list.header()->nmsrs;
      continue;
    }
    CVM_TRY(result);
    auto indices = list.entries().first(std::min<std::size_t>(list.header()->nmsrs, count));
    return std::vector<uint32_t>(indices.begin(), indices.end());
  }
  return make_error(ErrorCode::kKvm, "KVM_GET_MSR_INDEX_LIST: list keeps growing");
}

Result<Vm> System::create_vm(uint64_t type) const {
  CVM_ASSIGN_OR_RETURN(const uint64_t types, supported_vm_types());
  if (type >= 64 || (types & (uint64_t{1} << type)) == 0) {
    return make_error(ErrorCode::kNotSupportedByHost,
                      "KVM_CREATE_VM: VM type {} is not supported by this host (types {:#x})", type,
                      types);
  }
  auto fd = CVM_KVM_IOCTL_VALUE(*sys_, fd_.get(), KVM_CREATE_VM, type);
  if (!fd) {
    return std::move(fd).error().context(fmt::format("creating VM of type {}", type));
  }
  return Vm(sys_, UniqueFd(static_cast<int>(*fd)), type, vcpu_mmap_size_);
}

}  // namespace cvm::kvm
