// SPDX-License-Identifier: Apache-2.0
// EFI GUIDs: parsed from their text form at compile time, compared against the 16-byte
// mixed-endian encoding that firmware images store (UEFI spec, Appendix A: the first three
// fields little-endian, the last eight bytes in order).
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "base/hex.h"

namespace cvm::firmware {

class Guid final {
 public:
  /// From the canonical text "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". A malformed literal
  /// fails constant evaluation (the function is consteval).
  static consteval Guid parse(std::string_view text) {
    Guid guid;
    if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
        text[23] != '-') {
      invalid_guid_literal();
    }
    std::array<unsigned, 16> canonical{};  // bytes in text order
    std::size_t pos = 0;
    for (unsigned& byte : canonical) {
      if (text[pos] == '-') {
        ++pos;
      }
      byte = static_cast<unsigned>(hex_value(text[pos]) * 16 + hex_value(text[pos + 1]));
      pos += 2;
    }
    // Mixed endian: Data1 (4 bytes), Data2 (2), Data3 (2) are little-endian.
    constexpr std::array<std::size_t, 16> kOrder = {3, 2, 1, 0, 5, 4, 7, 6,
                                                           8, 9, 10, 11, 12, 13, 14, 15};
    for (std::size_t i = 0; i < 16; ++i) {
      guid.bytes_[i] = static_cast<std::byte>(canonical[kOrder[i]]);
    }
    return guid;
  }

  /// From 16 bytes in image (mixed-endian) order.
  static Guid from_bytes(std::span<const std::byte, 16> bytes) {
    Guid guid;
    for (std::size_t i = 0; i < 16; ++i) {
      guid.bytes_[i] = bytes[i];
    }
    return guid;
  }

  /// The 16 bytes as stored in an image.
  const std::array<std::byte, 16>& bytes() const noexcept { return bytes_; }
  /// Canonical lower-case text form.
  std::string to_string() const;

  friend bool operator==(const Guid&, const Guid&) = default;

 private:
  static consteval int hex_value(char c) {
    const int value = hex_digit_value(c);
    if (value < 0) {
      invalid_guid_literal();
    }
    return value;
  }

  // Not constexpr on purpose: reaching it during constant evaluation (a malformed literal
  // passed to parse()) makes the program ill-formed, i.e. a compile error.
  static void invalid_guid_literal() {}

  std::array<std::byte, 16> bytes_{};
};

}  // namespace cvm::firmware
