// SPDX-License-Identifier: Apache-2.0
// Deterministic kernel / initrd / command-line inputs for the SNP measurement tests. The
// same bytes were written to files to cross-check the expected values with
// virtee/sev-snp-measure: kernel byte i = (i * 13 + 1) & 0xff (10000 bytes), initrd byte
// i = (i * 31 + 5) & 0xff (7000 bytes).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace cvm::firmware::testing {

inline constexpr std::string_view kSyntheticCmdline = "console=ttyS0";

inline std::vector<std::byte> pattern_bytes(std::size_t size, unsigned mul, unsigned add) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<std::byte>((i * mul + add) & 0xff);
  }
  return bytes;
}

inline std::vector<std::byte> synthetic_kernel() { return pattern_bytes(10000, 13, 1); }
inline std::vector<std::byte> synthetic_initrd() { return pattern_bytes(7000, 31, 5); }

}  // namespace cvm::firmware::testing
