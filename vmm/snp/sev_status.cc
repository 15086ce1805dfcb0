// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/sev_status.h"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace cvm::vmm::snp {
namespace {

struct NamedStatus {
  uint32_t code;
  std::string_view name;
};

// SEV API spec #55766 §4.4 and SEV-SNP ABI spec #56860 table "Status Codes". 0x1e is not
// assigned. SEV_RET_INAVLID_CONFIG (sic) is the kernel's spelling of INVALID_CONFIG.
constexpr std::array kStatusNames = {
    NamedStatus{0x00, "SEV_RET_SUCCESS"},
    NamedStatus{0x01, "SEV_RET_INVALID_PLATFORM_STATE"},
    NamedStatus{0x02, "SEV_RET_INVALID_GUEST_STATE"},
    NamedStatus{0x03, "SEV_RET_INVALID_CONFIG"},
    NamedStatus{0x04, "SEV_RET_INVALID_LEN"},
    NamedStatus{0x05, "SEV_RET_ALREADY_OWNED"},
    NamedStatus{0x06, "SEV_RET_INVALID_CERTIFICATE"},
    NamedStatus{0x07, "SEV_RET_POLICY_FAILURE"},
    NamedStatus{0x08, "SEV_RET_INACTIVE"},
    NamedStatus{0x09, "SEV_RET_INVALID_ADDRESS"},
    NamedStatus{0x0a, "SEV_RET_BAD_SIGNATURE"},
    NamedStatus{0x0b, "SEV_RET_BAD_MEASUREMENT"},
    NamedStatus{0x0c, "SEV_RET_ASID_OWNED"},
    NamedStatus{0x0d, "SEV_RET_INVALID_ASID"},
    NamedStatus{0x0e, "SEV_RET_WBINVD_REQUIRED"},
    NamedStatus{0x0f, "SEV_RET_DFFLUSH_REQUIRED"},
    NamedStatus{0x10, "SEV_RET_INVALID_GUEST"},
    NamedStatus{0x11, "SEV_RET_INVALID_COMMAND"},
    NamedStatus{0x12, "SEV_RET_ACTIVE"},
    NamedStatus{0x13, "SEV_RET_HWSEV_RET_PLATFORM"},
    NamedStatus{0x14, "SEV_RET_HWSEV_RET_UNSAFE"},
    NamedStatus{0x15, "SEV_RET_UNSUPPORTED"},
    NamedStatus{0x16, "SEV_RET_INVALID_PARAM"},
    NamedStatus{0x17, "SEV_RET_RESOURCE_LIMIT"},
    NamedStatus{0x18, "SEV_RET_SECURE_DATA_INVALID"},
    NamedStatus{0x19, "SEV_RET_INVALID_PAGE_SIZE"},
    NamedStatus{0x1a, "SEV_RET_INVALID_PAGE_STATE"},
    NamedStatus{0x1b, "SEV_RET_INVALID_MDATA_ENTRY"},
    NamedStatus{0x1c, "SEV_RET_INVALID_PAGE_OWNER"},
    NamedStatus{0x1d, "SEV_RET_AEAD_OFLOW"},
    NamedStatus{0x1f, "SEV_RET_EXIT_RING_BUFFER"},
    NamedStatus{0x20, "SEV_RET_RMP_INIT_REQUIRED"},
    NamedStatus{0x21, "SEV_RET_BAD_SVN"},
    NamedStatus{0x22, "SEV_RET_BAD_VERSION"},
    NamedStatus{0x23, "SEV_RET_SHUTDOWN_REQUIRED"},
    NamedStatus{0x24, "SEV_RET_UPDATE_FAILED"},
    NamedStatus{0x25, "SEV_RET_RESTORE_REQUIRED"},
    NamedStatus{0x26, "SEV_RET_RMP_INITIALIZATION_FAILED"},
    NamedStatus{0x27, "SEV_RET_INVALID_KEY"},
};

}  // namespace

std::optional<std::string_view> sev_status_name(uint32_t status) noexcept {
  if (status == kSevRetNoFirmwareCall) {
    return "SEV_RET_NO_FW_CALL";
  }
  for (const NamedStatus& entry : kStatusNames) {
    if (entry.code == status) {
      return entry.name;
    }
  }
  return std::nullopt;
}

std::string describe_sev_status(uint32_t status) {
  if (status == kSevRetNoFirmwareCall) {
    return "no firmware call (SEV_RET_NO_FW_CALL)";
  }
  if (const auto name = sev_status_name(status)) {
    return fmt::format("{} ({:#x})", *name, status);
  }
  return fmt::format("unknown SEV firmware status {:#x}", status);
}

}  // namespace cvm::vmm::snp
