// SPDX-License-Identifier: Apache-2.0
// cvmm-measure subcommands. Each takes the arguments after the subcommand name, prints its
// result to stdout and errors to stderr, and returns the process exit status.
#pragma once

#include <span>
#include <string_view>

namespace cvm::tools::measure {

int run_snp(std::span<const std::string_view> args);
int run_tdx(std::span<const std::string_view> args);

}  // namespace cvm::tools::measure
