// SPDX-License-Identifier: Apache-2.0
// Entry point of the VMM core: builds and runs the VM described by a validated VmConfig.
// Declared here by the config owner so tools/cvmm can call it; implemented by the kvm owner.
#pragma once

#include "base/result.h"
#include "vmm/config/vm_config.h"

namespace cvm::vmm { [[nodiscard]] Result<int> run_vm(const VmConfig& config); }
