// SPDX-License-Identifier: Apache-2.0
// CoCo initdata (runtime-integration.md §4.5; confidential-containers/trustee
// kbs/docs/initdata.md; kata-types initdata.rs; guest-components attester): the digest of the
// initdata TOML document that binds it to the TEE evidence.
//
//   digest = <algorithm>(exact document bytes), algorithm = sha256 | sha384 | sha512 from the
//            document's top-level `algorithm = "..."` key
//   TDX MRCONFIGID (48 bytes) / SNP HOST_DATA (32 bytes) = digest truncated to the field size,
//            or zero-padded when shorter (kata adjust_digest; the attester's pad() compares
//            exactly this value against the report and refuses on mismatch)
//
// Only the `algorithm` key is interpreted; the rest of the document is hashed, not parsed.
#pragma once

#include "base/result.h"

#include <array>
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace cvm::firmware {

enum class InitdataAlgorithm { kSha256, kSha384, kSha512 };

/// "sha256", "sha384", "sha512".
std::string_view initdata_algorithm_name(InitdataAlgorithm algorithm) noexcept;

struct InitdataDigest {
  InitdataAlgorithm algorithm = InitdataAlgorithm::kSha384;
  /// 32, 48 or 64 bytes.
  std::vector<std::byte> digest;

  /// The value for TDX MRCONFIGID.
  std::array<std::byte, 48> mrconfigid() const noexcept;
  /// The value for SEV-SNP HOST_DATA.
  std::array<std::byte, 32> host_data() const noexcept;
};

/// Reads the top-level `algorithm` key of an initdata TOML document. kInvalidArgument when the
/// key is missing, appears after the first table header, is not a basic or literal string, or
/// names an unsupported algorithm.
Result<InitdataAlgorithm> parse_initdata_algorithm(std::string_view document);

/// Digest of the exact document bytes with the document's own algorithm.
Result<InitdataDigest> initdata_digest(std::string_view document);

}  // namespace cvm::firmware
