// SPDX-License-Identifier: Apache-2.0
#include "vmm/backends.h"

#include "vmm/plain_backend.h"
#include "vmm/snp/snp_backend.h"
#include "vmm/tdx/tdx_backend.h"

namespace cvm::vmm {

Result<std::unique_ptr<TeeBackend>> make_backend(const PlatformConfig& platform) {
  switch (platform.tee) {
    case TeeKind::kNone:
      return make_plain_backend();
    case TeeKind::kTdx:
      return tdx::make_tdx_backend(platform);
    case TeeKind::kSevSnp:
      return snp::make_snp_backend(platform);
  }
  return make_error(ErrorCode::kInternal, "unknown TEE kind");
}

std::vector<std::unique_ptr<TeeBackend>> all_backends() {
  std::vector<std::unique_ptr<TeeBackend>> backends;
  backends.push_back(make_plain_backend());
  backends.push_back(tdx::make_tdx_backend(PlatformConfig{}));
  backends.push_back(snp::make_snp_backend(PlatformConfig{}));
  return backends;
}

}  // namespace cvm::vmm
