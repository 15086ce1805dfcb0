// SPDX-License-Identifier: Apache-2.0
// Names of the status codes the AMD secure processor (PSP) returns for SEV and SEV-SNP
// commands. KVM passes the status of the last firmware call back in kvm_sev_cmd.error
// (tee-kvm-reference §3.1); cvmm prints it by name in every SEV error.
// Values: SEV API spec (#55766) and SEV-SNP firmware ABI spec (#56860), "Status Codes",
// as listed in Linux include/uapi/linux/psp-sev.h enum sev_ret_code (numbering fixed by
// "crypto: ccp: Fix SNP status codes", where SNP codes start at 0x19). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cvm::vmm::snp {

/// SEV_RET_NO_FW_CALL (-1 as u32): the kernel never reached the firmware. cvmm initialises
/// kvm_sev_cmd.error with it, so a failure without a firmware status is recognisable.
inline constexpr uint32_t kSevRetNoFirmwareCall = 0xffffffff;
inline constexpr uint32_t kSevRetSuccess = 0x00;
inline constexpr uint32_t kSevRetInvalidParam = 0x16;

/// "SEV_RET_INVALID_PARAM" for 0x16, or nullopt for a code no spec revision defines.
std::optional<std::string_view> sev_status_name(uint32_t status) noexcept;

/// "SEV_RET_INVALID_PARAM (0x16)", "unknown SEV firmware status 0x1e", or for
/// kSevRetNoFirmwareCall "no firmware call (SEV_RET_NO_FW_CALL)".
std::string describe_sev_status(uint32_t status);

}  // namespace cvm::vmm::snp
