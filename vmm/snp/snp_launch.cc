// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_launch.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/mapping.h"
#include "vmm/kvm/flex_array.h"
#include "vmm/kvm/ioctl.h"
#include "vmm/snp/sev_command.h"
#include "vmm/snp/sev_status.h"
#include "vmm/x86_vcpu.h"

namespace cvm::vmm::snp {
namespace {

using firmware::snp::SnpLaunchUpdate;
using firmware::snp::SnpPageType;

constexpr uint64_t kPageSize = 4096;

std::string describe_update(const SnpLaunchUpdate& update) {
  return fmt::format("KVM_SEV_SNP_LAUNCH_UPDATE {} (gpa {:#x}, {:#x} bytes, type {})",
                     update.label, update.gfn_start * kPageSize, update.len,
                     static_cast<unsigned>(update.type));
}

// The zero-filled, page-aligned source buffer KVM copies from.
Result<Mapping> source_buffer(const SnpLaunchUpdate& update,
                              std::span<const SnpCpuidFunction> cpuid) {
  CVM_ASSIGN_OR_RETURN(Mapping buffer,
                       Mapping::anonymous(update.len, MAP_NORESERVE, describe_update(update)));
  if (update.type == SnpPageType::kCpuid) {
    const std::vector<std::byte> page = encode_snp_cpuid_page(cpuid);
    std::copy(page.begin(), page.end(), buffer.data());
  } else {
    const std::size_t length = std::min<std::size_t>(update.contents.size(), update.len);
    std::copy_n(update.contents.begin(), length, buffer.data());
  }
  return buffer;
}

// Logs what the PSP changed in the CPUID page (QEMU sev_snp_cpuid_report_mismatches).
void log_cpuid_corrections(std::span<const SnpCpuidFunction> offered,
                           std::span<const std::byte> corrected_page, const SnpLog& log) {
  auto corrected = decode_snp_cpuid_page(corrected_page);
  if (!corrected) {
    log(fmt::format("sev-snp: the PSP rejected the CPUID page; its corrected page is "
                    "unreadable: {}",
                    corrected.error().message()));
    return;
  }
  const auto lines = diff_snp_cpuid_pages(offered, *corrected);
  log(fmt::format("sev-snp: the PSP corrected {} CPUID page value(s); retrying with its page",
                  lines.size()));
  for (const std::string& line : lines) {
    log(fmt::format("sev-snp:   CPUID {}", line));
  }
}

}  // namespace

Result<void> check_update_memory(const GuestMemory& memory, const SnpLaunchUpdate& update) {
  const uint64_t gpa = update.gfn_start * kPageSize;
  for (const GuestMemory::Region& region : memory.regions()) {
    if (gpa >= region.gpa && gpa - region.gpa <= region.size &&
        update.len <= region.size - (gpa - region.gpa)) {
      if (!region.guest_memfd) {
        break;
      }
      return ok();
    }
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "SNP launch range {} [{:#x}, {:#x}) is not inside one guest_memfd-backed "
                    "memory region",
                    update.label, gpa, gpa + update.len);
}

Result<std::vector<SnpCpuidFunction>> vcpu_cpuid_functions(kvm::Sys& sys, const kvm::Vcpu& vcpu) {
  for (std::size_t count = 64; count <= 1024; count *= 4) {
    kvm::FlexArray<kvm_cpuid2, kvm_cpuid_entry2> cpuid(count);
    cpuid.header()->nent = static_cast<uint32_t>(count);
    auto result = CVM_KVM_IOCTL(sys, vcpu.fd(), KVM_GET_CPUID2, cpuid.header());
    if (!result && result.error().sys_errno() == E2BIG) {
      continue;
    }
    if (!result) {
      return std::move(result).error().context(fmt::format("vCPU {}", vcpu.id()));
    }
    const auto entries = cpuid.entries().first(std::min<std::size_t>(cpuid.header()->nent, count));
    const std::vector<x86::CpuidEntry> table = from_kvm_cpuid(entries);
    return snp_cpuid_functions(table);
  }
  return make_error(ErrorCode::kKvm, "KVM_GET_CPUID2: vCPU {} has more than 1024 entries",
                    vcpu.id());
}

Result<void> snp_launch_update(const kvm::Vm& vm, int sev_fd, const SnpLaunchUpdate& update,
                               std::span<const SnpCpuidFunction> cpuid, const SnpLog& log) {
  const bool zero = update.type == SnpPageType::kZero;
  Mapping buffer;
  if (!zero) {
    CVM_ASSIGN_OR_RETURN(buffer, source_buffer(update, cpuid));
  }
  kvm_sev_snp_launch_update request{};
  request.gfn_start = update.gfn_start;
  request.uaddr = zero ? 0 : reinterpret_cast<uint64_t>(buffer.data());
  request.len = update.len;
  request.type = static_cast<uint8_t>(update.type);
  bool cpuid_retried = false;
  int stalls = 0;
  while (request.len != 0) {
    const uint64_t len_before = request.len;
    const SevCallOutcome outcome =
        issue_sev_command(vm, sev_fd, KVM_SEV_SNP_LAUNCH_UPDATE, &request);
    if (outcome.ok() && request.len < len_before) {
      stalls = 0;
      continue;
    }
    const bool retryable = outcome.ok() || outcome.error_number == EAGAIN ||
                           outcome.error_number == EINTR;
    if (retryable && ++stalls <= kMaxLaunchUpdateStalls) {
      continue;
    }
    if (!outcome.ok() && update.type == SnpPageType::kCpuid && !cpuid_retried &&
        outcome.firmware_status == kSevRetInvalidParam) {
      // KVM copied the PSP's corrected page over the page it failed on (request.uaddr).
      cpuid_retried = true;
      log_cpuid_corrections(
          cpuid, std::span<const std::byte>(reinterpret_cast<const std::byte*>(request.uaddr),
                                            kSnpCpuidPageSize),
          log);
      continue;
    }
    if (outcome.ok() || retryable) {
      return make_error(ErrorCode::kKvm, "{}: no progress after {} attempts ({:#x} bytes left)",
                        describe_update(update), kMaxLaunchUpdateStalls, request.len);
    }
    return sev_command_error(describe_update(update), outcome);
  }
  return ok();
}

Result<void> check_finish_inputs(const SnpFinishInputs& inputs) {
  if (!inputs.host_data.empty() && inputs.host_data.size() != kHostDataSize) {
    return make_error(ErrorCode::kInvalidArgument, "SNP HOST_DATA: {} bytes, expected {}",
                      inputs.host_data.size(), kHostDataSize);
  }
  if (!inputs.id_block.empty() && inputs.id_block.size() != kIdBlockSize) {
    return make_error(ErrorCode::kInvalidArgument, "SNP ID block: {} bytes, expected {}",
                      inputs.id_block.size(), kIdBlockSize);
  }
  if (!inputs.id_auth.empty() && inputs.id_auth.size() != kIdAuthSize) {
    return make_error(ErrorCode::kInvalidArgument, "SNP ID auth: {} bytes, expected {}",
                      inputs.id_auth.size(), kIdAuthSize);
  }
  if (inputs.id_block.empty() != inputs.id_auth.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP ID block and ID auth must be given together (the PSP verifies the "
                      "block's signature with the auth's key)");
  }
  if (inputs.author_key_enabled && inputs.id_auth.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP author key enabled without an ID auth structure to carry it");
  }
  if (!inputs.id_block.empty()) {
    uint64_t policy = 0;
    std::memcpy(&policy, inputs.id_block.data() + kIdBlockPolicyOffset, sizeof(policy));
    if (policy != inputs.policy) {
      return make_error(ErrorCode::kInvalidArgument,
                        "SNP ID block: POLICY {:#x} differs from the launch policy {:#x}", policy,
                        inputs.policy);
    }
  }
  return ok();
}

Result<void> snp_launch_finish(const kvm::Vm& vm, int sev_fd, const SnpFinishInputs& inputs) {
  CVM_TRY(check_finish_inputs(inputs));
  kvm_sev_snp_launch_finish request{};
  if (!inputs.id_block.empty()) {
    request.id_block_uaddr = reinterpret_cast<uint64_t>(inputs.id_block.data());
    request.id_auth_uaddr = reinterpret_cast<uint64_t>(inputs.id_auth.data());
    request.id_block_en = 1;
    request.auth_key_en = inputs.author_key_enabled ? 1 : 0;
  }
  std::copy(inputs.host_data.begin(), inputs.host_data.end(), request.host_data);
  return run_sev_command(vm, sev_fd, KVM_SEV_SNP_LAUNCH_FINISH, &request,
                         "KVM_SEV_SNP_LAUNCH_FINISH");
}

}  // namespace cvm::vmm::snp
