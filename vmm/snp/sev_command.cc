// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/sev_command.h"

#include <cstring>

#include <fmt/format.h>

#include "vmm/kvm/uapi.h"
#include "vmm/snp/sev_status.h"

namespace cvm::vmm::snp {

SevCallOutcome issue_sev_command(const kvm::Vm& vm, int sev_fd, uint32_t id, void* data) {
  // The 6.1 struct has an implicit pad after `id`; memset so it is zero as well (aggregate
  // initialisation does not promise to clear padding).
  kvm_sev_cmd command;
  std::memset(&command, 0, sizeof(command));
  command.id = id;
  command.data = reinterpret_cast<uint64_t>(data);
  command.error = kSevRetNoFirmwareCall;
  command.sev_fd = static_cast<uint32_t>(sev_fd);
  auto result = vm.memory_encrypt_op(&command);
  SevCallOutcome outcome;
  outcome.firmware_status = command.error;
  if (!result) {
    outcome.error_number = result.error().sys_errno() != 0 ? result.error().sys_errno() : EIO;
  }
  return outcome;
}

Error sev_command_error(std::string_view name, const SevCallOutcome& outcome) {
  const bool firmware = outcome.firmware_status != kSevRetNoFirmwareCall &&
                        outcome.firmware_status != kSevRetSuccess;
  Error error(firmware ? ErrorCode::kTeeFirmware : ErrorCode::kKvm,
              fmt::format("{}: {}, firmware status {}", name, std::strerror(outcome.error_number),
                          describe_sev_status(outcome.firmware_status)),
              outcome.error_number, outcome.firmware_status);
  return error;
}

Result<void> run_sev_command(const kvm::Vm& vm, int sev_fd, uint32_t id, void* data,
                             std::string_view name) {
  const SevCallOutcome outcome = issue_sev_command(vm, sev_fd, id, data);
  if (!outcome.ok()) {
    return sev_command_error(name, outcome);
  }
  return ok();
}

}  // namespace cvm::vmm::snp
