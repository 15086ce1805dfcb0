// SPDX-License-Identifier: Apache-2.0
// FlexArray<Header, Entry>: zeroed storage for a KVM struct that ends in a flexible array
// (kvm_cpuid2, kvm_msrs, kvm_irq_routing, kvm_tdx_init_vm, ...), header followed by n entries.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

namespace cvm::kvm {

template <typename Header, typename Entry>
class FlexArray final {
 public:
  /// Zero-initialised storage for the header and `count` entries.
  explicit FlexArray(std::size_t count)
      : count_(count),
        bytes_(std::make_unique<std::byte[]>(sizeof(Header) + count * sizeof(Entry))) {}

  // Invariant: operator new[] aligns to __STDCPP_DEFAULT_NEW_ALIGNMENT__ (16), and a byte
  // array implicitly creates the implicit-lifetime KVM structs accessed through it (C++20).
  static_assert(alignof(Header) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  static_assert(sizeof(Header) % alignof(Entry) == 0);

  Header* header() noexcept { return reinterpret_cast<Header*>(bytes_.get()); }
  const Header* header() const noexcept { return reinterpret_cast<const Header*>(bytes_.get()); }
  /// The `count` entries that follow the header (Bounds: allocated in the constructor).
  std::span<Entry> entries() noexcept {
    return {reinterpret_cast<Entry*>(bytes_.get() + sizeof(Header)), count_};
  }
  std::span<const Entry> entries() const noexcept {
    return {reinterpret_cast<const Entry*>(bytes_.get() + sizeof(Header)), count_};
  }
  std::size_t count() const noexcept { return count_; }

 private:
  std::size_t count_;
  std::unique_ptr<std::byte[]> bytes_;
};

}  // namespace cvm::kvm
