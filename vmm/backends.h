// SPDX-License-Identifier: Apache-2.0
// The composition point of the TEE backends: the only place that knows every backend, so
// generic code (the machine, host-check) never names one. Lives in cvmm_launch, above the
// backend libraries.
#pragma once

#include <memory>
#include <vector>

#include "base/result.h"
#include "vmm/config/vm_config.h"
#include "vmm/tee_backend.h"

namespace cvm::vmm {

/// The backend for `platform.tee` (plain KVM for TeeKind::kNone).
/// Errors: kNotSupportedByHost when this build has no backend for that TEE.
[[nodiscard]] Result<std::unique_ptr<TeeBackend>> make_backend(const PlatformConfig& platform);

/// One backend of every kind this build has, plain first (for host-check).
std::vector<std::unique_ptr<TeeBackend>> all_backends();

}  // namespace cvm::vmm
