// SPDX-License-Identifier: Apache-2.0
// Mapping: owner of one mmap()ed range (architecture-anchors §B.5).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <span>
#include <utility>

#include "base/result.h"

namespace cvm {

class Mapping final {
 public:
  Mapping() noexcept = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping(Mapping&& other) noexcept
      : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    if (this != &other) {
      unmap();
      addr_ = std::exchange(other.addr_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~Mapping() { unmap(); }

  /// mmap(nullptr, size, prot, flags, fd, offset); `what` names the mapping in errors.
  [[nodiscard]] static Result<Mapping> map(std::size_t size, int prot, int flags, int fd,
                                           off_t offset, std::string_view what);
  /// Anonymous private read/write mapping; `extra_flags` may add MAP_HUGETLB, MAP_NORESERVE.
  [[nodiscard]] static Result<Mapping> anonymous(std::size_t size, int extra_flags,
                                                 std::string_view what);

  std::byte* data() const noexcept { return static_cast<std::byte*>(addr_); }
  std::size_t size() const noexcept { return size_; }
  std::span<std::byte> span() const noexcept { return {data(), size_}; }
  bool valid() const noexcept { return addr_ != nullptr; }

 private:
  Mapping(void* addr, std::size_t size) noexcept : addr_(addr), size_(size) {}
  void unmap() noexcept;

  void* addr_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace cvm
