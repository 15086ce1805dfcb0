// SPDX-License-Identifier: Apache-2.0
// A small synthetic OVMF image for SEV/SNP tests: a deterministic body, an OVMF footer GUID
// table with the SEV metadata offset, the SEV-ES reset block and the SEV hashes area, and an
// "ASEV" table whose sections mirror an AmdSev OVMF build (with SNP_KERNEL_HASHES).
// The same bytes are rebuilt by a Python script to cross-check measurements against
// virtee/sev-snp-measure; SyntheticOvmfTest pins the image's SHA-256 so the two cannot drift.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "firmware/ovmf/sev_metadata.h"

namespace cvm::firmware::testing {

struct SyntheticOvmfOptions {
  std::size_t size = 64 * 1024;
  /// Distance of the ASEV header from the end of the image.
  uint32_t metadata_offset_from_end = 0x1000;
  std::vector<ovmf::SevMetadataSection> sections = {
      {0x800000, 0x9000, ovmf::SevSectionType::kSnpSecMem},
      {0x809000, 0x1000, ovmf::SevSectionType::kSnpSecrets},
      {0x80a000, 0x1000, ovmf::SevSectionType::kCpuid},
      {0x80b000, 0x5000, ovmf::SevSectionType::kSnpSecMem},
      {0x810000, 0x1000, ovmf::SevSectionType::kSnpKernelHashes},
      {0x811000, 0x1000, ovmf::SevSectionType::kSvsmCaa},
  };
  uint32_t ap_reset_address = 0x0080b004;
  uint32_t hashes_base = 0x00810c00;
  uint32_t hashes_size = 0x400;
  bool with_metadata = true;
  bool with_reset_block = true;
  bool with_hashes_area = true;
};

/// Builds the image. Body byte i is (i * 7 + 3) & 0xff.
std::vector<std::byte> build_synthetic_ovmf(const SyntheticOvmfOptions& options = {});

/// Absolute offset of the ASEV header in an image built with `options`.
std::size_t synthetic_metadata_offset(const SyntheticOvmfOptions& options = {});

/// Writes a little-endian u32 / u16 into `image` at `at` (test helper).
void put_u32(std::vector<std::byte>& image, std::size_t at, uint32_t value);
void put_u16(std::vector<std::byte>& image, std::size_t at, uint16_t value);

}  // namespace cvm::firmware::testing
