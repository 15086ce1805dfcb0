// SPDX-License-Identifier: Apache-2.0
#include "base/hex.h"

namespace cvm {

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    const auto v = static_cast<unsigned>(b);
    out.push_back(kDigits[v >> 4]);
    out.push_back(kDigits[v & 0xf]);
  }
  return out;
}

Result<std::vector<std::byte>> from_hex(std::string_view text, std::string_view what) {
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
  }
  if (text.size() % 2 != 0) {
    return make_error(ErrorCode::kInvalidArgument, "{}: odd number of hex digits ({})", what,
                      text.size());
  }
  std::vector<std::byte> out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_digit_value(text[i]);
    const int lo = hex_digit_value(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return make_error(ErrorCode::kInvalidArgument, "{}: invalid hex digit at position {}", what,
                        hi < 0 ? i : i + 1);
    }
    out.push_back(static_cast<std::byte>((hi << 4) | lo));
  }
  return out;
}

}  // namespace cvm
