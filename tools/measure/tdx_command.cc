// SPDX-License-Identifier: Apache-2.0
// cvmm-measure tdx: owned by the tdx measurement work; replaced when it lands.
#include <cstdio>

#include "tools/measure/commands.h"

namespace cvm::tools::measure {

int run_tdx(std::span<const std::string_view>) {
  std::fputs("cvmm-measure: 'tdx' is not available in this build yet\n", stderr);
  return 2;
}

}  // namespace cvm::tools::measure
