// SPDX-License-Identifier: Apache-2.0
// Internal to json.cc: Boost.JSON keeps the last of duplicate object keys silently, so a
// second pass over the (already syntax-checked) text reports them.
#pragma once

#include <string_view>

#include "base/result.h"

namespace cvm::vmm::config::detail {

/// kInvalidArgument "<json path>: duplicate key" for the first key repeated inside one object.
[[nodiscard]] Result<void> check_duplicate_keys(std::string_view text);

}  // namespace cvm::vmm::config::detail
