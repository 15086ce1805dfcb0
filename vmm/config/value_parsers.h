// SPDX-License-Identifier: Apache-2.0
// Scalar value syntax shared by the CLI and the JSON reader: sizes ("512M"), booleans
// ("on"/"off"), decimal and hex integers, and TEE byte strings given as hex or base64.
// Errors are kInvalidArgument and describe the bad text; callers prepend the flag or key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace cvm::vmm::config {

/// Parses a byte count: plain decimal bytes, or decimal with a binary suffix K, M or G
/// (also lower case; 1K = 1024), as Cloud Hypervisor's `--memory size=` does.
Result<uint64_t> parse_size(std::string_view text);

/// Parses "on", "off", "true" or "false".
Result<bool> parse_bool(std::string_view text);

/// Parses a decimal integer in [0, max] (no sign, no spaces, no leading "+").
Result<uint64_t> parse_decimal(std::string_view text, uint64_t max = UINT64_MAX);

/// Parses a hexadecimal u64 with or without a "0x" prefix (e.g. an SNP policy "0x30000").
Result<uint64_t> parse_hex_u64(std::string_view text);

/// Decodes exactly `expected_bytes` bytes given either as 2*expected_bytes hex digits
/// (optional "0x") or as standard base64 (RFC 4648 §4, padding optional). Kata sends
/// base64 for host_data/mrconfigid while Cloud Hypervisor expects hex; we take both.
Result<std::vector<uint8_t>> parse_hex_or_base64(std::string_view text,
                                                 std::size_t expected_bytes);

/// Decodes standard base64 (RFC 4648 §4); padding is optional but must be correct if given.
Result<std::vector<uint8_t>> decode_base64(std::string_view text);

/// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at
/// most U+10FFFF). JSON strings must be; so every string in a VmConfig must be.
bool is_valid_utf8(std::string_view text);

/// Decodes the UTF-8 sequence at text[at] (at < text.size()) by the same rules: returns its
/// length in bytes (1 for ASCII) and sets `code_point`, or returns 0 when it is not
/// well-formed there.
std::size_t decode_utf8(std::string_view text, std::size_t at, uint32_t& code_point);

/// Human-readable size for messages: "32 MiB", "4 KiB", "1 TiB" when exact, else "N bytes".
std::string format_size(uint64_t bytes);

/// Lower-case hex of bytes (for to_json and messages).
std::string bytes_to_hex(const std::vector<uint8_t>& bytes);

/// Quotes a user string for an error message, escaping control characters and non-ASCII
/// bytes so an error line stays one printable line.
std::string quote(std::string_view text);

}  // namespace cvm::vmm::config
