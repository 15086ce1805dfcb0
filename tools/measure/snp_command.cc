// SPDX-License-Identifier: Apache-2.0
// cvmm-measure snp: owned by the snp measurement work; replaced when it lands.
#include <cstdio>

#include "tools/measure/commands.h"

namespace cvm::tools::measure {

int run_snp(std::span<const std::string_view>) {
  std::fputs("cvmm-measure: 'snp' is not available in this build yet\n", stderr);
  return 2;
}

}  // namespace cvm::tools::measure
