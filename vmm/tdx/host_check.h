// SPDX-License-Identifier: Apache-2.0
// Whether this host can run a TD (tee-kvm-reference §2.5 steps 1-3), one finding per fact, in
// check order; the reason is the first failing one. Creates one probe TD VM to ask the
// TDX module for its capabilities; never maps guest memory.
#pragma once

#include <string>

#include "vmm/kvm/system.h"
#include "vmm/tee_backend.h"

namespace cvm::vmm::tdx {

/// `module_parameter` is kvm_intel's "tdx" parameter file (normally
/// /sys/module/kvm_intel/parameters/tdx).
HostSupport check_tdx_host(const kvm::System& system, const std::string& module_parameter);

}  // namespace cvm::vmm::tdx
