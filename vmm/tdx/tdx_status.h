// SPDX-License-Identifier: Apache-2.0
// TDX module status codes (the SEAMCALL completion status KVM returns in kvm_tdx_cmd.hw_error)
// and TDVMCALL status codes, decoded into names for error messages. Pure.
//
// Status layout (Intel TDX module ABI specification, "Function Completion Status Codes"):
//   bit 63      error        bit 62  non-recoverable     bits 61:48  severity/class details
//   bits 47:32  status class and code, e.g. 0x0100 = OPERAND_INVALID (the identity we match)
//   bits 31:0   details, usually the operand id (0 RAX, 1 RCX, 2 RDX, 8 R8, ...; 0x92 SEPT)
// Bits 63:48 of the same code differ between module versions and headers (for example
// NON_RECOVERABLE_TD appears as 0x4000000200000000 and 0x6000000200000000), so the name is
// looked up by bits 47:32 only. Codes with bits 47:40 = 0xFF are Linux's software codes
// (SEAMCALL VMfailInvalid, #GP, #UD), not TDX module statuses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cvm::vmm::tdx {

/// The TDX module status name ("TDX_OPERAND_INVALID") for `status`, or nullopt if the code in
/// bits 47:32 is unknown. 0 is "TDX_SUCCESS".
std::optional<std::string_view> tdx_status_name(uint64_t status) noexcept;

/// "TDX_OPERAND_INVALID (0xc000010000000001, operand RCX)"; unknown codes read
/// "unknown TDX status 0x...". Used in every error that carries kvm_tdx_cmd.hw_error.
std::string describe_tdx_status(uint64_t status);

// TDVMCALL completion status, written to kvm_run.tdx.ret (GHCI; tee-kvm-reference §2.10).
inline constexpr uint64_t kTdvmcallSuccess = 0;
inline constexpr uint64_t kTdvmcallRetry = 1;
inline constexpr uint64_t kTdvmcallInvalidOperand = 0x8000000000000000;
inline constexpr uint64_t kTdvmcallGpaInUse = 0x8000000000000001;
inline constexpr uint64_t kTdvmcallAlignError = 0x8000000000000002;
inline constexpr uint64_t kTdvmcallSubfuncUnsupported = 0x8000000000000003;

/// "SUCCESS", "INVALID_OPERAND", ...; "unknown TDVMCALL status 0x..." otherwise.
std::string describe_tdvmcall_status(uint64_t status);

}  // namespace cvm::vmm::tdx
