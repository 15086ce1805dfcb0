// SPDX-License-Identifier: Apache-2.0
// Formats x86 vCPU registers for failure reports (triple fault, emulation failure, failed
// entry). Pure.
#pragma once

#include <string>

#include "vmm/kvm/uapi.h"

namespace cvm::vmm {

/// Multi-line dump: general registers, RIP/RFLAGS, segment selectors and bases, control
/// registers and EFER. Every line starts with two spaces.
std::string format_registers(const kvm_regs& regs, const kvm_sregs& sregs);

}  // namespace cvm::vmm
