// SPDX-License-Identifier: Apache-2.0
// SHA-256 / SHA-384 through OpenSSL's EVP interface, streaming, for measurements.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>

namespace cvm::firmware {

using Sha256Digest = std::array<std::byte, 32>;
using Sha384Digest = std::array<std::byte, 48>;

enum class HashAlgorithm { kSha256, kSha384 };

/// An incremental hash. Not thread-safe; movable.
class Hasher final {
 public:
  explicit Hasher(HashAlgorithm algorithm);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  Hasher& update(std::span<const std::byte> bytes);
  /// Writes the digest (32 or 48 bytes) into `out`, whose size must match.
  void finish(std::span<std::byte> out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Sha256Digest sha256(std::span<const std::byte> bytes);
Sha384Digest sha384(std::span<const std::byte> bytes);

}  // namespace cvm::firmware
