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

/// Lower-case hex of `bytes`, no separators.
std::string to_hex(std::span<const std::byte> bytes);

/// Parses hex (optional "0x" prefix, even length, either case). kInvalidArgument on bad input;
/// `what` names the input in the error.
Result<std::vector<std::byte>> from_hex(std::string_view text, std::string_view what);

}  // namespace cvm
