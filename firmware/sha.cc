// SPDX-License-Identifier: Apache-2.0
#include "firmware/sha.h"

#include <openssl/evp.h>

#include "base/result.h"

namespace cvm::firmware {

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  std::size_t digest_size = 0;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(HashAlgorithm algorithm) : impl_(std::make_unique<Impl>()) {
  const EVP_MD* md = algorithm == HashAlgorithm::kSha256 ? EVP_sha256() : EVP_sha384();
  impl_->ctx = EVP_MD_CTX_new();
  impl_->digest_size = static_cast<std::size_t>(EVP_MD_get_size(md));
  // Allocation failure of a digest context is not recoverable in any useful way.
  CVM_CHECK(impl_->ctx != nullptr && EVP_DigestInit_ex(impl_->ctx, md, nullptr) == 1,
            "OpenSSL digest initialisation failed");
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

Hasher& Hasher::update(std::span<const std::byte> bytes) {
  CVM_CHECK(EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size()) == 1,
            "OpenSSL digest update failed");
  return *this;
}

void Hasher::finish(std::span<std::byte> out) {
  CVM_CHECK(out.size() == impl_->digest_size, "digest buffer size mismatch");
  unsigned int length = 0;
  CVM_CHECK(EVP_DigestFinal_ex(impl_->ctx, reinterpret_cast<unsigned char*>(out.data()),
                               &length) == 1,
            "OpenSSL digest final failed");
}

Sha256Digest sha256(std::span<const std::byte> bytes) {
  Sha256Digest out{};
  Hasher(HashAlgorithm::kSha256).update(bytes).finish(out);
  return out;
}

Sha384Digest sha384(std::span<const std::byte> bytes) {
  Sha384Digest out{};
  Hasher(HashAlgorithm::kSha384).update(bytes).finish(out);
  return out;
}

}  // namespace cvm::firmware
