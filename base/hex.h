// SPDX-License-Identifier: Apache-2.0
// Hex encoding/decoding for digests and user-supplied byte strings.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace cvm {

/// Value of one hex digit (either case), or -1 if `c` is not one.
constexpr int hex_digit_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/// Lower-case hex of `bytes`, no separators.
std::string to_hex(std::span<const std::byte> bytes);

/// Parses hex (optional "0x" prefix, even length, either case). kInvalidArgument on bad input;
/// `what` names the input in the error.
Result<std::vector<std::byte>> from_hex(std::string_view text, std::string_view what);

}  // namespace cvm
