// SPDX-License-Identifier: Apache-2.0
#include "base/result.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cvm {

Error errno_error(ErrorCode code, std::string_view what, int err) {
  return Error(code, fmt::format("{}: {}", what, std::strerror(err)), err);
}

namespace detail {
void check_failed(const char* file, int line, const char* cond, const char* msg) {
  std::fprintf(stderr, "cvmm: internal invariant broken at %s:%d: %s (%s)\n", file, line, cond,
               msg);
  std::abort();
}
}  // namespace detail

}  // namespace cvm
