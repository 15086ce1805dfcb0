// SPDX-License-Identifier: Apache-2.0
// kvm::GuestMemfd: a KVM_CREATE_GUEST_MEMFD file (tee-kvm-reference.md §1.3). Created by
// Vm::create_guest_memfd(). With GUEST_MEMFD_FLAG_MMAP it can be mmap()ed by the host; with
// INIT_SHARED its pages start shared (readable). Non-copyable, movable.
#pragma once

#include <cstdint>

#include "base/unique_fd.h"

namespace cvm::kvm {

class GuestMemfd final {
 public:
  GuestMemfd(const GuestMemfd&) = delete;
  GuestMemfd& operator=(const GuestMemfd&) = delete;
  GuestMemfd(GuestMemfd&&) noexcept = default;
  GuestMemfd& operator=(GuestMemfd&&) noexcept = default;
  ~GuestMemfd() = default;

  int fd() const noexcept { return fd_.get(); }
  uint64_t size() const noexcept { return size_; }
  uint64_t flags() const noexcept { return flags_; }

 private:
  friend class Vm;
  GuestMemfd(UniqueFd fd, uint64_t size, uint64_t flags) noexcept
      : fd_(std::move(fd)), size_(size), flags_(flags) {}

  UniqueFd fd_;
  uint64_t size_;
  uint64_t flags_;
};

}  // namespace cvm::kvm
