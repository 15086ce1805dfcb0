// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_exits.h"

#include <cerrno>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace cvm::vmm::snp {
namespace {

// Reason set 0 (GHCB spec #56421 §2.3.6, "general"); set 1 is Linux's own
// (arch/x86/include/asm/sev-common.h SEV_TERM_SET_LINUX, GHCB_TERM_*).
std::string_view reason_name(uint64_t set, uint64_t code) {
  if (set == 0) {
    switch (code) {
      case 0: return "general termination request";
      case 1: return "the GHCB protocol version is not supported";
      case 2: return "SEV-SNP features are not supported";
      default: return "";
    }
  }
  if (set == 1) {
    switch (code) {
      case 0: return "GHCB GPA registration failed";
      case 1: return "page state change failed";
      case 2: return "PVALIDATE failed";
      case 3: return "not running at VMPL0";
      case 4: return "CPUID page validation failed";
      case 5: return "CPUID request to the hypervisor failed";
      case 6: return "secrets page problem";
      case 7: return "no SVSM";
      case 8: return "SVSM at VMPL0";
      case 9: return "SVSM calling area problem";
      case 10: return "Secure TSC problem";
      default: return "";
    }
  }
  return "";
}

}  // namespace

std::string describe_sev_termination(std::span<const uint64_t> data) {
  if (data.empty()) {
    return "SEV guest requested termination (KVM passed no GHCB data)";
  }
  const uint64_t value = data[0];
  if ((value & 0xfff) != kGhcbMsrTermRequest) {
    return fmt::format("SEV guest requested termination through its GHCB at gpa {:#x} (KVM "
                       "does not pass the reason of GHCB-page requests)",
                       value);
  }
  const uint64_t set = (value >> 12) & 0xf;
  const uint64_t code = (value >> 16) & 0xff;
  const std::string_view name = reason_name(set, code);
  return fmt::format("SEV guest requested termination: GHCB reason set {} code {:#x}{}{}", set,
                     code, name.empty() ? "" : ": ", name);
}

std::optional<ExitPolicy> SnpExitInterceptor::intercept(kvm::Vcpu& vcpu, const VcpuExit& exit) {
  if (const auto* event = std::get_if<SystemEventExit>(&exit);
      event != nullptr && event->type == KVM_SYSTEM_EVENT_SEV_TERM) {
    return ExitPolicy{ExitVerdict::kFailVm,
                      fmt::format("vCPU {}: {}", vcpu.id(), describe_sev_termination(event->data))};
  }
  if (const auto* request = std::get_if<SnpCertsRequestExit>(&exit)) {
    CertRequestReply reply{EIO, request->npages, "no certificate table or guest memory"};
    if (memory_ != nullptr && !certificates_.empty()) {
      reply = answer_cert_request(certificates_, request->gpa, request->npages, *memory_);
    }
    kvm::SnpReqCertsExit answer{request->gpa, reply.npages, reply.ret};
    // Bounds: the overlay is 24 bytes of the 256-byte exit union (uapi.h).
    std::memcpy(reinterpret_cast<std::byte*>(&vcpu.run_data()) + kvm::kKvmRunExitUnionOffset,
                &answer, sizeof(answer));
    return ExitPolicy{ExitVerdict::kContinue, {}};
  }
  return conversions_.handle(vcpu, exit);
}

}  // namespace cvm::vmm::snp
