// SPDX-License-Identifier: Apache-2.0
#include "vmm/tdx/tdx_status.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace cvm::vmm::tdx {
namespace {

struct StatusName {
  uint16_t code;  // bits 47:32 of the status
  std::string_view name;
};

// Bits 47:32 of the TDX module completion status codes (TDX module ABI specification,
// "Function Completion Status Codes"; the same values appear in Linux's tdx_errno.h).
// Sorted by code for binary search.
constexpr auto kStatusNames = std::to_array<StatusName>({
    {0x0000, "TDX_SUCCESS"},
    {0x0001, "TDX_NON_RECOVERABLE_VCPU"},
    {0x0002, "TDX_NON_RECOVERABLE_TD"},
    {0x0003, "TDX_INTERRUPTED_RESUMABLE"},
    {0x0004, "TDX_INTERRUPTED_RESTARTABLE"},
    {0x0005, "TDX_NON_RECOVERABLE_TD_NON_ACCESSIBLE"},
    {0x0006, "TDX_INVALID_RESUMPTION"},
    {0x0007, "TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE"},
    {0x0008, "TDX_CROSS_TD_FAULT"},
    {0x0009, "TDX_CROSS_TD_TRAP"},
    {0x000A, "TDX_NON_RECOVERABLE_TD_CORRUPTED_MD"},
    {0x0100, "TDX_OPERAND_INVALID"},
    {0x0101, "TDX_OPERAND_ADDR_RANGE_ERROR"},
    {0x0200, "TDX_OPERAND_BUSY"},
    {0x0201, "TDX_PREVIOUS_TLB_EPOCH_BUSY"},
    {0x0202, "TDX_SYS_BUSY"},
    {0x0203, "TDX_RND_NO_ENTROPY"},
    {0x0204, "TDX_OPERAND_BUSY_HOST_PRIORITY"},
    {0x0205, "TDX_HOST_PRIORITY_BUSY_TIMEOUT"},
    {0x0300, "TDX_PAGE_METADATA_INCORRECT"},
    {0x0301, "TDX_PAGE_ALREADY_FREE"},
    {0x0302, "TDX_PAGE_NOT_OWNED_BY_TD"},
    {0x0303, "TDX_PAGE_NOT_FREE"},
    {0x0400, "TDX_TD_ASSOCIATED_PAGES_EXIST"},
    {0x0500, "TDX_SYS_INIT_NOT_PENDING"},
    {0x0502, "TDX_SYS_LP_INIT_NOT_DONE"},
    {0x0503, "TDX_SYS_LP_INIT_DONE"},
    {0x0505, "TDX_SYS_NOT_READY"},
    {0x0506, "TDX_SYS_SHUTDOWN"},
    {0x0507, "TDX_SYS_KEY_CONFIG_NOT_PENDING"},
    {0x0508, "TDX_SYS_STATE_INCORRECT"},
    {0x0600, "TDX_TD_NOT_INITIALIZED"},
    {0x0601, "TDX_TD_INITIALIZED"},
    {0x0602, "TDX_TD_NOT_FINALIZED"},
    {0x0603, "TDX_TD_FINALIZED"},
    {0x0604, "TDX_TD_FATAL"},
    {0x0605, "TDX_TD_NON_DEBUG"},
    {0x0606, "TDX_TDCS_NOT_ALLOCATED"},
    {0x0607, "TDX_LIFECYCLE_STATE_INCORRECT"},
    {0x0608, "TDX_OP_STATE_INCORRECT"},
    {0x0609, "TDX_NO_VCPUS"},
    {0x0610, "TDX_TDCX_NUM_INCORRECT"},
    {0x0621, "TDX_X2APIC_ID_NOT_UNIQUE"},
    {0x0700, "TDX_VCPU_STATE_INCORRECT"},
    {0x0701, "TDX_VCPU_ASSOCIATED"},
    {0x0702, "TDX_VCPU_NOT_ASSOCIATED"},
    {0x0704, "TDX_NO_VALID_VE_INFO"},
    {0x0705, "TDX_MAX_VCPUS_EXCEEDED"},
    {0x0706, "TDX_TSC_ROLLBACK"},
    {0x0707, "TDX_INTERRUPTIBILITY_BLOCKED"},
    {0x0730, "TDX_TD_VMCS_FIELD_NOT_INITIALIZED"},
    {0x0731, "TDX_TD_VMCS_FIELD_ERROR"},
    {0x0800, "TDX_KEY_GENERATION_FAILED"},
    {0x0810, "TDX_TD_KEYS_NOT_CONFIGURED"},
    {0x0811, "TDX_KEY_STATE_INCORRECT"},
    {0x0815, "TDX_KEY_CONFIGURED"},
    {0x0817, "TDX_WBCACHE_NOT_COMPLETE"},
    {0x0820, "TDX_HKID_NOT_FREE"},
    {0x0821, "TDX_NO_HKID_READY_TO_WBCACHE"},
    {0x0823, "TDX_WBCACHE_RESUME_ERROR"},
    {0x0824, "TDX_FLUSHVP_NOT_DONE"},
    {0x0825, "TDX_NUM_ACTIVATED_HKIDS_NOT_SUPPORTED"},
    {0x0900, "TDX_INCORRECT_CPUID_VALUE"},
    {0x0901, "TDX_LIMIT_CPUID_MAXVAL_SET"},
    {0x0902, "TDX_INCONSISTENT_CPUID_FIELD"},
    {0x0903, "TDX_CPUID_MAX_SUBLEAVES_UNRECOGNIZED"},
    {0x0904, "TDX_CPUID_LEAF_1F_FORMAT_UNRECOGNIZED"},
    {0x0908, "TDX_CPUID_LEAF_NOT_SUPPORTED"},
    {0x0920, "TDX_INCONSISTENT_MSR"},
    {0x0921, "TDX_INCORRECT_MSR_VALUE"},
    {0x0B00, "TDX_EPT_WALK_FAILED"},
    {0x0B01, "TDX_EPT_ENTRY_FREE"},
    {0x0B02, "TDX_EPT_ENTRY_NOT_FREE"},
    {0x0B03, "TDX_EPT_ENTRY_NOT_PRESENT"},
    {0x0B04, "TDX_EPT_ENTRY_NOT_LEAF"},
    {0x0B05, "TDX_EPT_ENTRY_LEAF"},
    {0x0B06, "TDX_GPA_RANGE_NOT_BLOCKED"},
    {0x0B07, "TDX_GPA_RANGE_ALREADY_BLOCKED"},
    {0x0B08, "TDX_TLB_TRACKING_NOT_DONE"},
    {0x0B09, "TDX_EPT_INVALID_PROMOTE_CONDITIONS"},
    {0x0B0A, "TDX_PAGE_ALREADY_ACCEPTED"},
    {0x0B0B, "TDX_PAGE_SIZE_MISMATCH"},
    {0x0B0C, "TDX_GPA_RANGE_BLOCKED"},
    {0x0B0D, "TDX_EPT_ENTRY_STATE_INCORRECT"},
    {0x0B0E, "TDX_EPT_PAGE_NOT_FREE"},
    {0x0B11, "TDX_PAGE_ATTR_INVALID"},
    {0x0C00, "TDX_METADATA_FIELD_ID_INCORRECT"},
    {0x0C01, "TDX_METADATA_FIELD_NOT_WRITABLE"},
    {0x0C02, "TDX_METADATA_FIELD_NOT_READABLE"},
    {0x0C03, "TDX_METADATA_FIELD_VALUE_NOT_VALID"},
    {0x1000, "TDX_INVALID_CPUSVN"},
    {0x1001, "TDX_INVALID_REPORTMACSTRUCT"},
});

constexpr bool sorted_by_code() {
  for (std::size_t i = 1; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i - 1].code >= kStatusNames[i].code) {
      return false;
    }
  }
  return true;
}
static_assert(sorted_by_code());

constexpr uint64_t kSoftwareClassMask = 0x0000FF0000000000;  // bits 47:40 = 0xFF: Linux codes

/// Names of the operand ids KVM's SEAMCALLs report in bits 31:0.
std::string_view operand_name(uint32_t id) {
  switch (id) {
    case 0x00:
      return "RAX";
    case 0x01:
      return "RCX";
    case 0x02:
      return "RDX";
    case 0x03:
      return "RBX";
    case 0x06:
      return "RSI";
    case 0x07:
      return "RDI";
    case 0x08:
      return "R8";
    case 0x09:
      return "R9";
    case 0x0A:
      return "R10";
    case 0x80:
      return "TDR";
    case 0x92:
      return "SEPT";
    case 0xA9:
      return "TD_EPOCH";
    default:
      return {};
  }
}

std::string software_status(uint64_t status) {
  const auto low = static_cast<uint32_t>(status);
  if (low == 0xFFFF0000) {
    return fmt::format("SEAMCALL VMfailInvalid, no TDX module loaded ({:#x})", status);
  }
  if (low == 13) {
    return fmt::format("SEAMCALL raised #GP ({:#x})", status);
  }
  if (low == 6) {
    return fmt::format("SEAMCALL raised #UD ({:#x})", status);
  }
  return fmt::format("Linux TDX software status {:#x}", status);
}

}  // namespace

std::optional<std::string_view> tdx_status_name(uint64_t status) noexcept {
  if (status != 0 && (status & kSoftwareClassMask) == kSoftwareClassMask) {
    return std::nullopt;
  }
  const auto code = static_cast<uint16_t>(status >> 32);
  const auto* it =
      std::lower_bound(kStatusNames.begin(), kStatusNames.end(), code,
                       [](const StatusName& entry, uint16_t value) { return entry.code < value; });
  if (it == kStatusNames.end() || it->code != code) {
    return std::nullopt;
  }
  return it->name;
}

std::string describe_tdx_status(uint64_t status) {
  if (status != 0 && (status & kSoftwareClassMask) == kSoftwareClassMask) {
    return software_status(status);
  }
  const auto name = tdx_status_name(status);
  if (!name) {
    return fmt::format("unknown TDX status {:#x}", status);
  }
  const auto detail = static_cast<uint32_t>(status);
  if (detail == 0) {
    return fmt::format("{} ({:#x})", *name, status);
  }
  const std::string_view operand = operand_name(detail);
  if (operand.empty()) {
    return fmt::format("{} ({:#x}, detail {:#x})", *name, status, detail);
  }
  return fmt::format("{} ({:#x}, operand {})", *name, status, operand);
}

std::string describe_tdvmcall_status(uint64_t status) {
  switch (status) {
    case kTdvmcallSuccess:
      return "SUCCESS";
    case kTdvmcallRetry:
      return "RETRY";
    case kTdvmcallInvalidOperand:
      return "INVALID_OPERAND";
    case kTdvmcallGpaInUse:
      return "GPA_INUSE";
    case kTdvmcallAlignError:
      return "ALIGN_ERROR";
    case kTdvmcallSubfuncUnsupported:
      return "SUBFUNC_UNSUPPORTED";
    default:
      return fmt::format("unknown TDVMCALL status {:#x}", status);
  }
}

}  // namespace cvm::vmm::tdx
