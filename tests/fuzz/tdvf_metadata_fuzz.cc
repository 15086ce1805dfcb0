// SPDX-License-Identifier: Apache-2.0
// Fuzzes the TDVF metadata locator/parser and, for images it accepts, the TDX launch plan and
// MRTD (firmware images are user input to cvmm-measure and the TDX backend).
#include "firmware/tdx/mrtd.h"
#include "firmware/tdx/tdvf_metadata.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tdx = cvm::firmware::tdx;
  const std::span<const std::byte> image(reinterpret_cast<const std::byte*>(data), size);
  auto metadata = tdx::parse_tdvf_metadata(image);
  if (!metadata) {
    return 0;
  }
  for (const tdx::TdvfSection& section : metadata->sections) {
    // Accepted raw bytes must lie inside the image.
    if (section.raw_data_size != 0 &&
        static_cast<uint64_t>(section.data_offset) + section.raw_data_size > size) {
      __builtin_trap();
    }
  }
  // Keep the MRTD work bounded: skip images whose measured pages are many.
  uint64_t pages = 0;
  for (const tdx::TdvfSection& section : metadata->sections) {
    pages += section.memory_data_size / tdx::kTdxPageSize;
  }
  if (pages > 4096) {
    return 0;
  }
  auto firmware = std::make_shared<const std::vector<std::byte>>(image.begin(), image.end());
  auto launch =
      tdx::build_tdx_launch({.firmware = firmware, .memory_size = 64ull << 20, .vcpus = 1});
  if (launch) {
    (void)tdx::measure_mrtd(launch->plan);
  }
  return 0;
}
