// SPDX-License-Identifier: Apache-2.0
// ByteReader: bounds-checked little/big-endian reads from untrusted bytes. Parsers never
// reinterpret_cast image bytes; they read each field through this (architecture-anchors §B.7).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "base/checked.h"
#include "base/result.h"

namespace cvm {

/// Reads an unsigned little-endian integer of sizeof(T) bytes; caller guarantees bounds.
template <std::unsigned_integral T>
constexpr T load_le(std::span<const std::byte, sizeof(T)> bytes) noexcept {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<T>(value | (static_cast<T>(bytes[i]) << (8 * i)));
  }
  return value;
}

/// Reads an unsigned big-endian integer of sizeof(T) bytes; caller guarantees bounds.
template <std::unsigned_integral T>
constexpr T load_be(std::span<const std::byte, sizeof(T)> bytes) noexcept {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<T>((value << 8) | static_cast<T>(bytes[i]));
  }
  return value;
}

/// Appends/stores little-endian integers into a byte buffer.
template <std::unsigned_integral T>
constexpr void store_le(std::span<std::byte, sizeof(T)> out, T value) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[i] = static_cast<std::byte>((value >> (8 * i)) & 0xff);
  }
}

/// A view over bytes with checked random-access and sequential reads. Every read names
/// the field it is for, so errors read "<what>: <field> at offset 0x.. runs past end (size 0x..)".
class ByteReader final {
 public:
  ByteReader(std::span<const std::byte> bytes, std::string_view what) noexcept
      : bytes_(bytes), what_(what) {}

  std::size_t size() const noexcept { return bytes_.size(); }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

  /// Bytes [offset, offset+length), or kMalformedImage naming `field`.
  Result<std::span<const std::byte>> slice(std::size_t offset, std::size_t length,
                                           std::string_view field) const {
    if (!range_within<std::size_t>(offset, length, bytes_.size())) {
      return make_error(ErrorCode::kMalformedImage,
                        "{}: {} at offset {:#x} length {:#x} runs past the end (size {:#x})",
                        what_, field, offset, length, bytes_.size());
    }
    return bytes_.subspan(offset, length);
  }

  template <std::unsigned_integral T>
  Result<T> le(std::size_t offset, std::string_view field) const {
    CVM_ASSIGN_OR_RETURN(auto s, slice(offset, sizeof(T), field));
    return load_le<T>(s.template first<sizeof(T)>());
  }

  template <std::unsigned_integral T>
  Result<T> be(std::size_t offset, std::string_view field) const {
    CVM_ASSIGN_OR_RETURN(auto s, slice(offset, sizeof(T), field));
    return load_be<T>(s.template first<sizeof(T)>());
  }

 private:
  std::span<const std::byte> bytes_;
  std::string_view what_;
};

/// Views a string's characters as bytes (for hashing text inputs).
inline std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

}  // namespace cvm
