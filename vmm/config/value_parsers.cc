// SPDX-License-Identifier: Apache-2.0
#include "vmm/config/value_parsers.h"

#include <array>
#include <charconv>
#include <optional>
#include <span>

#include "base/checked.h"
#include "base/hex.h"

namespace cvm::vmm::config {
namespace {

Error invalid(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

bool all_decimal_digits(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool all_hex_digits(std::string_view text) {
  for (char c : text) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) {
      return false;
    }
  }
  return true;
}

/// Value of one base64 character, or -1.
int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

}  // namespace

Result<uint64_t> parse_decimal(std::string_view text, uint64_t max) {
  if (!all_decimal_digits(text)) {
    return invalid(fmt::format("{} is not a decimal number", quote(text)));
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && value > max)) {
    return invalid(fmt::format("{} is out of range (maximum {})", text, max));
  }
  if (ec != std::errc() || end != text.data() + text.size()) {
    return invalid(fmt::format("{} is not a decimal number", quote(text)));
  }
  return value;
}

Result<uint64_t> parse_size(std::string_view text) {
  if (text.empty()) {
    return invalid("empty size");
  }
  uint64_t multiplier = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 'K':
    case 'k':
      multiplier = uint64_t{1} << 10;
      break;
    case 'M':
    case 'm':
      multiplier = uint64_t{1} << 20;
      break;
    case 'G':
    case 'g':
      multiplier = uint64_t{1} << 30;
      break;
    default:
      break;
  }
  if (multiplier != 1) {
    digits.remove_suffix(1);
  }
  if (!all_decimal_digits(digits)) {
    return invalid(fmt::format("{} is not a size (expected bytes or a number with K, M or G)",
                               quote(text)));
  }
  auto number = parse_decimal(digits);
  auto bytes = number ? checked_mul<uint64_t>(*number, multiplier) : std::nullopt;
  if (!bytes) {
    return invalid(fmt::format("{} is out of range", text));
  }
  return *bytes;
}

Result<bool> parse_bool(std::string_view text) {
  if (text == "on" || text == "true") {
    return true;
  }
  if (text == "off" || text == "false") {
    return false;
  }
  return invalid(fmt::format("{} is not a boolean (expected on, off, true or false)", quote(text)));
}

Result<uint64_t> parse_hex_u64(std::string_view text) {
  std::string_view digits = text;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    digits.remove_prefix(2);
  }
  if (digits.empty() || !all_hex_digits(digits)) {
    return invalid(fmt::format("{} is not a hex number", quote(text)));
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
  if (ec == std::errc::result_out_of_range) {
    return invalid(fmt::format("{} is out of range (more than 64 bits)", text));
  }
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return invalid(fmt::format("{} is not a hex number", quote(text)));
  }
  return value;
}

Result<std::vector<uint8_t>> decode_base64(std::string_view text) {
  std::size_t padding = 0;
  while (!text.empty() && text.back() == '=' && padding < 2) {
    text.remove_suffix(1);
    ++padding;
  }
  // A base64 group of 4 characters carries 3 bytes; a final group of 1 character is invalid.
  const std::size_t tail = text.size() % 4;
  if (tail == 1 || (padding != 0 && tail + padding != 4)) {
    return invalid("invalid base64 length");
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int value = base64_value(text[i]);
    if (value < 0) {
      return invalid(fmt::format("invalid base64 character at position {}", i));
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<uint8_t>(bits >> bit_count));
    }
  }
  // RFC 4648 §3.5: the unused low bits of the last character must be zero (canonical form).
  if (bit_count > 0 && (bits & ((uint32_t{1} << bit_count) - 1)) != 0) {
    return invalid("non-canonical base64 (unused bits are not zero)");
  }
  return out;
}

Result<std::vector<uint8_t>> parse_hex_or_base64(std::string_view text,
                                                 std::size_t expected_bytes) {
  std::string_view hex = text;
  if (hex.starts_with("0x") || hex.starts_with("0X")) {
    hex.remove_prefix(2);
  }
  if (hex.size() == 2 * expected_bytes && all_hex_digits(hex)) {
    CVM_ASSIGN_OR_RETURN(auto bytes, from_hex(hex, "hex value"));
    std::vector<uint8_t> out;
    out.reserve(bytes.size());
    for (std::byte b : bytes) {
      out.push_back(static_cast<uint8_t>(b));
    }
    return out;
  }
  auto decoded = decode_base64(text);
  if (decoded && decoded->size() == expected_bytes) {
    return std::move(decoded).value();
  }
  const std::size_t shown = std::min<std::size_t>(text.size(), 24);
  return invalid(fmt::format(
      "{}{} is neither {} hex digits nor base64 of {} bytes", quote(text.substr(0, shown)),
      shown < text.size() ? "..." : "", 2 * expected_bytes, expected_bytes));
}

std::size_t decode_utf8(std::string_view text, std::size_t at, uint32_t& code_point) {
  const auto lead = static_cast<unsigned char>(text[at]);
  std::size_t length = 0;
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;  // a continuation byte or 0xF8-0xFF as lead byte
  }
  if (text.size() - at < length) {
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[at + k]);
    if ((next & 0xC0) != 0x80) {
      return 0;
    }
    code_point = (code_point << 6) | (next & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kMinForLength[length] || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

bool is_valid_utf8(std::string_view text) {
  uint32_t code_point = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = decode_utf8(text, i, code_point);
    if (length == 0) {
      return false;
    }
    i += length;
  }
  return true;
}

std::string format_size(uint64_t bytes) {
  static constexpr std::array<std::pair<int, const char*>, 4> kUnits = {
      {{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}}};
  for (const auto& [shift, unit] : kUnits) {
    const uint64_t unit_bytes = uint64_t{1} << shift;
    if (bytes != 0 && bytes % unit_bytes == 0) {
      return fmt::format("{} {}", bytes >> shift, unit);
    }
  }
  return fmt::format("{} byte{}", bytes, bytes == 1 ? "" : "s");
}

std::string bytes_to_hex(const std::vector<uint8_t>& bytes) {
  return to_hex(std::as_bytes(std::span<const uint8_t>(bytes)));
}

std::string quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '\'' || c == '\\') {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

}  // namespace cvm::vmm::config
