// SPDX-License-Identifier: Apache-2.0
// Whole-file reads for images and configs, with the path in every error.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/result.h"

namespace cvm {

/// Reads a regular file completely. kNotFound if it does not exist, kInvalidArgument if it is
/// not a regular file or larger than `max_size`, kIo otherwise. Errors name the path.
Result<std::vector<std::byte>> read_file(const std::string& path,
                                         std::size_t max_size = std::size_t{1} << 32);

/// Same, as text.
Result<std::string> read_text_file(const std::string& path,
                                   std::size_t max_size = std::size_t{16} << 20);

}  // namespace cvm
