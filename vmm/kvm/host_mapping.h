// SPDX-License-Identifier: Apache-2.0
// HostMapping: owner of one mmap() made through the kvm::Sys seam (the kvm_run page of a vCPU,
// guest RAM, a guest_memfd mapping). Like base::Mapping, but unmapped through the same Sys
// that mapped it, so recorded tests see the whole lifetime.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <utility>

#include "base/result.h"
#include "vmm/kvm/sys.h"

namespace cvm::kvm {

class HostMapping final {
 public:
  HostMapping() noexcept = default;
  HostMapping(const HostMapping&) = delete;
  HostMapping& operator=(const HostMapping&) = delete;
  HostMapping(HostMapping&& other) noexcept
      : sys_(std::exchange(other.sys_, nullptr)),
        addr_(std::exchange(other.addr_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  HostMapping& operator=(HostMapping&& other) noexcept {
    if (this != &other) {
      reset();
      sys_ = std::exchange(other.sys_, nullptr);
      addr_ = std::exchange(other.addr_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~HostMapping() { reset(); }

  /// mmap(size, prot, flags, fd, offset) through `sys`. Errors read
  /// "mmap <what> (<size> bytes): <strerror>" with code kIo and the errno attached.
  [[nodiscard]] static Result<HostMapping> map(Sys& sys, std::size_t size, int prot, int flags,
                                               int fd, off_t offset, std::string_view what);

  std::byte* data() const noexcept { return static_cast<std::byte*>(addr_); }
  std::size_t size() const noexcept { return size_; }
  std::span<std::byte> span() const noexcept { return {data(), size_}; }
  bool valid() const noexcept { return addr_ != nullptr; }

 private:
  HostMapping(Sys* sys, void* addr, std::size_t size) noexcept
      : sys_(sys), addr_(addr), size_(size) {}
  void reset() noexcept;

  Sys* sys_ = nullptr;
  void* addr_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace cvm::kvm
