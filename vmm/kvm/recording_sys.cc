// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/recording_sys.h"

#include <sys/eventfd.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <initializer_list>

#include "vmm/kvm/ioctl.h"
#include "vmm/kvm/uapi.h"

namespace cvm::kvm {
namespace {

/// Bytes to copy for a pointer ioctl: the encoded size, plus the flexible array for the
/// requests whose size covers only a header, plus the 24-byte vendor command for ENCRYPT_OP.
std::size_t argument_size(unsigned long request, std::uintptr_t arg) {
  const auto* words = reinterpret_cast<const uint32_t*>(arg);
  switch (request) {
    case KVM_SET_CPUID2:
    case KVM_GET_SUPPORTED_CPUID:
      return sizeof(kvm_cpuid2) + words[0] * sizeof(kvm_cpuid_entry2);
    case KVM_SET_MSRS:
    case KVM_GET_MSRS:
      return sizeof(kvm_msrs) + words[0] * sizeof(kvm_msr_entry);
    case KVM_SET_GSI_ROUTING:
      return sizeof(kvm_irq_routing) + words[0] * sizeof(kvm_irq_routing_entry);
    case KVM_GET_MSR_INDEX_LIST:
      return sizeof(kvm_msr_list) + words[0] * sizeof(uint32_t);
    case KVM_MEMORY_ENCRYPT_OP:
      return 24;
    default:
      return _IOC_SIZE(request);
  }
}

}  // namespace

std::vector<std::byte> RecordingSys::copy_arg(unsigned long request, std::uintptr_t arg) {
  if (_IOC_SIZE(request) == 0 || arg == 0) {
    return {};
  }
  const std::size_t size = argument_size(request, arg);
  // Bounds: the caller passed a pointer to at least `size` bytes, as the ABI requires.
  const auto* bytes = reinterpret_cast<const std::byte*>(arg);
  return std::vector<std::byte>(bytes, bytes + size);
}

int RecordingSys::new_fd(const std::string& role) {
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  if (fd >= 0) {
    roles_[fd] = role;
  }
  return fd < 0 ? -errno : fd;
}

std::string RecordingSys::role_of(int fd) const {
  std::lock_guard lock(mutex_);
  return role_of_locked(fd);
}

std::string RecordingSys::role_of_locked(int fd) const {
  auto it = roles_.find(fd);
  return it != roles_.end() ? it->second : fmt::format("fd {}", fd);
}

long RecordingSys::default_result(int fd, unsigned long request, std::uintptr_t arg) {
  switch (request) {
    case KVM_GET_API_VERSION:
      return 12;
    case KVM_GET_VCPU_MMAP_SIZE:
      return 3 * 4096;
    case KVM_CHECK_EXTENSION: {
      auto it = extensions_.find(static_cast<long>(arg));
      return it != extensions_.end() ? it->second : 0;
    }
    case KVM_CREATE_VM:
      return new_fd("vm");
    case KVM_CREATE_VCPU:
      return new_fd(fmt::format("vcpu{}", arg));
    case KVM_CREATE_GUEST_MEMFD:
      return new_fd(fmt::format("gmem{}", guest_memfds_++));
    case KVM_SET_MSRS:
    case KVM_GET_MSRS:
      return reinterpret_cast<const kvm_msrs*>(arg)->nmsrs;
    default:
      (void)fd;
      return 0;
  }
}

long RecordingSys::ioctl(int fd, unsigned long request, std::uintptr_t arg) {
  Handler handler;
  {
    std::lock_guard lock(mutex_);
    calls_.push_back(RecordedCall{role_of_locked(fd), ioctl_name(request), request, arg,
                                  copy_arg(request, arg)});
    auto failure = failures_.find(request);
    if (failure != failures_.end() && !failure->second.empty()) {
      const int err = failure->second.front();
      failure->second.pop_front();
      return -err;
    }
    auto it = handlers_.find(request);
    if (it == handlers_.end()) {
      return default_result(fd, request, arg);
    }
    handler = it->second;
  }
  return handler(fd, arg);
}

int RecordingSys::open(const char* path, int flags) {
  std::lock_guard lock(mutex_);
  calls_.push_back(RecordedCall{path, "open", 0, static_cast<std::uintptr_t>(flags), {}});
  if (open_error_ != 0) {
    return -open_error_;
  }
  return new_fd("kvm");
}

void* RecordingSys::mmap(std::size_t length, int prot, int flags, int fd, off_t offset,
                         int* error) {
  std::lock_guard lock(mutex_);
  calls_.push_back(RecordedCall{role_of_locked(fd), "mmap", 0, length, {}});
  (void)prot;
  (void)offset;
  if (mmap_error_ != 0) {
    *error = mmap_error_;
    return nullptr;
  }
  // Anonymous memory stands in for whatever the fd would map; MAP_HUGETLB is dropped so the
  // test does not depend on the host's hugepage pool.
  const int anonymous = MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_NORESERVE);
  void* addr = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, anonymous, -1, 0);
  if (addr == MAP_FAILED) {
    *error = errno;
    return nullptr;
  }
  live_mappings_[addr] = length;
  return addr;
}

void RecordingSys::munmap(void* addr, std::size_t length) noexcept {
  std::lock_guard lock(mutex_);
  calls_.push_back(RecordedCall{"", "munmap", 0, length, {}});
  live_mappings_.erase(addr);
  ::munmap(addr, length);
}

namespace {

std::vector<std::byte> pack_u64s(std::initializer_list<uint64_t> values) {
  std::vector<std::byte> bytes(values.size() * sizeof(uint64_t));
  std::size_t at = 0;
  for (const uint64_t value : values) {
    std::memcpy(bytes.data() + at, &value, sizeof(value));
    at += sizeof(value);
  }
  return bytes;
}

}  // namespace

int RecordingSys::fallocate(int fd, int mode, off_t offset, off_t length) {
  std::lock_guard lock(mutex_);
  calls_.push_back(RecordedCall{role_of_locked(fd), "fallocate", 0,
                                static_cast<std::uintptr_t>(offset),
                                pack_u64s({static_cast<uint64_t>(mode),
                                           static_cast<uint64_t>(offset),
                                           static_cast<uint64_t>(length)})});
  return fallocate_error_ != 0 ? -fallocate_error_ : 0;
}

int RecordingSys::madvise(void* addr, std::size_t length, int advice) {
  const auto address = reinterpret_cast<std::uintptr_t>(addr);
  {
    std::lock_guard lock(mutex_);
    calls_.push_back(RecordedCall{"", "madvise", 0, address,
                                  pack_u64s({address, length, static_cast<uint64_t>(advice)})});
  }
  return ::madvise(addr, length, advice) < 0 ? -errno : 0;
}

std::vector<RecordedCall> RecordingSys::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::size_t RecordingSys::live_mappings() const {
  std::lock_guard lock(mutex_);
  return live_mappings_.size();
}

std::vector<std::string> RecordingSys::call_names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  names.reserve(calls_.size());
  for (const auto& call : calls_) {
    names.push_back(call.name);
  }
  return names;
}

std::vector<RecordedCall> RecordingSys::calls_named(const std::string& name) const {
  std::lock_guard lock(mutex_);
  std::vector<RecordedCall> out;
  std::copy_if(calls_.begin(), calls_.end(), std::back_inserter(out),
               [&](const RecordedCall& call) { return call.name == name; });
  return out;
}

}  // namespace cvm::kvm
