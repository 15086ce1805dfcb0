// SPDX-License-Identifier: Apache-2.0
// Overflow-checked arithmetic for every offset and size derived from untrusted input
// (images, guest requests). Returns std::nullopt on overflow.
#pragma once

#include <bit>
#include <concepts>
#include <optional>

namespace cvm {

template <std::unsigned_integral T>
[[nodiscard]] constexpr std::optional<T> checked_add(T a, T b) noexcept {
  T out{};
  if (__builtin_add_overflow(a, b, &out)) {
    return std::nullopt;
  }
  return out;
}

template <std::unsigned_integral T>
[[nodiscard]] constexpr std::optional<T> checked_mul(T a, T b) noexcept {
  T out{};
  if (__builtin_mul_overflow(a, b, &out)) {
    return std::nullopt;
  }
  return out;
}

template <std::unsigned_integral T>
[[nodiscard]] constexpr std::optional<T> checked_sub(T a, T b) noexcept {
  if (b > a) {
    return std::nullopt;
  }
  return static_cast<T>(a - b);
}

/// Rounds `value` up to a power-of-two `align`; nullopt on overflow or a bad alignment.
template <std::unsigned_integral T>
[[nodiscard]] constexpr std::optional<T> checked_align_up(T value, T align) noexcept {
  if (!std::has_single_bit(align)) {
    return std::nullopt;
  }
  auto sum = checked_add<T>(value, static_cast<T>(align - 1));
  if (!sum) {
    return std::nullopt;
  }
  return static_cast<T>(*sum & ~static_cast<T>(align - 1));
}

/// True when [offset, offset+length) lies inside [0, total).
template <std::unsigned_integral T>
[[nodiscard]] constexpr bool range_within(T offset, T length, T total) noexcept {
  auto end = checked_add<T>(offset, length);
  return end.has_value() && *end <= total;
}

}  // namespace cvm
