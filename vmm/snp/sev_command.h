// SPDX-License-Identifier: Apache-2.0
// Issuing SEV commands through KVM_MEMORY_ENCRYPT_OP (tee-kvm-reference §3.1): one
// struct kvm_sev_cmd per call, with kvm_sev_cmd.error initialised to SEV_RET_NO_FW_CALL so
// that a failure KVM reports before reaching the firmware is told apart from a firmware
// status, and every error naming the command, errno and the firmware status by name.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"
#include "vmm/kvm/vm.h"

namespace cvm::vmm::snp {

/// The outcome of one KVM_MEMORY_ENCRYPT_OP: the errno (0 on success) and the firmware status
/// KVM left in kvm_sev_cmd.error.
struct SevCallOutcome {
  int error_number = 0;
  uint32_t firmware_status = 0;
  bool ok() const noexcept { return error_number == 0; }
};

/// Issues SEV command `id` on `vm` with `data` (a pointer to the command's struct, or null) and
/// the /dev/sev fd. Never fails itself; see SevCallOutcome.
SevCallOutcome issue_sev_command(const kvm::Vm& vm, int sev_fd, uint32_t id, void* data);

/// The error for a failed call: kTeeFirmware when the firmware returned a status, else kKvm;
/// "<name>: <strerror>, firmware status SEV_RET_INVALID_PARAM (0x16)".
Error sev_command_error(std::string_view name, const SevCallOutcome& outcome);

/// issue_sev_command() turned into a Result.
[[nodiscard]] Result<void> run_sev_command(const kvm::Vm& vm, int sev_fd, uint32_t id,
                                           void* data, std::string_view name);

}  // namespace cvm::vmm::snp
