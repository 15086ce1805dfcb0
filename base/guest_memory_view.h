// SPDX-License-Identifier: Apache-2.0
// GuestMemoryView: how device models reach guest RAM without seeing vmm/ types
// (architecture-anchors §B.3). Every access is bounds-checked and copies bytes in or out;
// there are no long-lived pointers into guest memory. Implemented by vmm::GuestMemory and by
// test fakes. Included by devices/ and vmm/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "base/result.h"

namespace cvm {

class GuestMemoryView {
 public:
  virtual ~GuestMemoryView() = default;

  /// Copies guest-physical [gpa, gpa + out.size()) into `out`.
  /// Errors: kGuest "gpa range [a, b) is not guest RAM" when any byte lies outside RAM (or in
  /// memory the host cannot read, e.g. private TEE memory); `out` is then unspecified.
  /// Thread-safety: safe from any thread; the guest may change the bytes concurrently, so
  /// callers validate the copy, never the guest memory itself.
  [[nodiscard]] virtual Result<void> read(uint64_t gpa, std::span<std::byte> out) const = 0;

  /// Copies `data` to guest-physical [gpa, gpa + data.size()). Errors as for read(); nothing
  /// is written on error.
  [[nodiscard]] virtual Result<void> write(uint64_t gpa, std::span<const std::byte> data) = 0;

  /// Reads a trivially copyable value (little-endian host layout) from `gpa`.
  template <typename T>
  [[nodiscard]] Result<T> read_obj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value{};
    CVM_TRY(read(gpa, std::as_writable_bytes(std::span<T, 1>(&value, 1))));
    return value;
  }

  /// Writes a trivially copyable value to `gpa`.
  template <typename T>
  [[nodiscard]] Result<void> write_obj(uint64_t gpa, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(gpa, std::as_bytes(std::span<const T, 1>(&value, 1)));
  }
};

}  // namespace cvm
