// SPDX-License-Identifier: Apache-2.0
// The exits an SEV-SNP guest produces in userspace (tee-kvm-reference §3.11) and cvmm's
// handling of them:
//   KVM_EXIT_MEMORY_FAULT, KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE)
//       shared/private conversions (page-state changes arrive as MapGPA exits, one per PSC
//       entry), by the shared vmm/private_memory.h MemoryConversionHandler;
//   KVM_EXIT_SYSTEM_EVENT(KVM_SYSTEM_EVENT_SEV_TERM)
//       the guest asked to be terminated: the VM stops with the GHCB reason set and code.
//   KVM_EXIT_SNP_REQ_CERTS (≈7.0; only after KVM_SEV_SNP_ENABLE_REQ_CERTS, which the backend
//       issues when --platform snp_certs is set)
//       an Extended Guest Request for an attestation report wants the host's certificate
//       table: cvmm copies the configured table into the guest's buffer, or asks for a bigger
//       one (ENOSPC + npages), or reports EIO when the buffer is not shared guest memory
//       (snp_certs.h).
// Everything else a SNP guest asks through the GHCB ends in KVM: MMIO/IO/MSR NAE events
// arrive as the ordinary exits, AP creation and the guest messages for attestation
// (SNP_GUEST_REQUEST) are handled in the kernel with the PSP. Without snp_certs, or on kernels
// before ≈7.0, KVM answers Extended Guest Requests itself with an empty certificate table.
// The file-locking scheme amd-memory-encryption.rst suggests for keeping certificates in step
// with firmware updates (F_OFD_SETLK held until the request reached the firmware) is not
// implemented: cvmm reads the table once, when the VM is set up.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "vmm/guest_memory.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"
#include "vmm/private_memory.h"
#include "vmm/snp/snp_certs.h"
#include "vmm/vcpu_exit.h"
#include "vmm/vcpu_runner.h"

namespace cvm::vmm::snp {

/// GHCB MSR protocol termination request (GHCB spec #56421 §2.3.6 "Termination Request":
/// GHCBInfo 0x100 in bits 11:0, reason code set in 15:12, reason code in 23:16).
inline constexpr uint64_t kGhcbMsrTermRequest = 0x100;

/// One line for KVM_SYSTEM_EVENT_SEV_TERM. KVM reports data[0] = the GHCB MSR value: for an
/// MSR-protocol request that carries the reason set and code; for a request made through the
/// GHCB page (SVM_VMGEXIT_TERM_REQUEST) it is the GHCB's GPA and KVM passes no reason. Pure;
/// `data` is guest-influenced and may be empty.
std::string describe_sev_termination(std::span<const uint64_t> data);

/// The SNP backend's ExitInterceptor.
class SnpExitInterceptor final : public ExitInterceptor {
 public:
  SnpExitInterceptor() = default;
  SnpExitInterceptor(const SnpExitInterceptor&) = delete;
  SnpExitInterceptor& operator=(const SnpExitInterceptor&) = delete;
  ~SnpExitInterceptor() override = default;

  /// The VM and memory conversions apply to; set at launch, before any vCPU runs.
  void attach(const kvm::Vm& vm, GuestMemory& memory) noexcept {
    conversions_.attach(vm, memory);
    memory_ = &memory;
  }

  /// The certificate table to serve; `blob` must outlive the interceptor. Empty: none.
  void serve_certificates(std::span<const std::byte> blob) noexcept { certificates_ = blob; }

  /// SEV_TERM: kFailVm with describe_sev_termination(); SNP_REQ_CERTS: answered in kvm_run
  /// (answer_cert_request(), EIO without a table or memory), kContinue; memory faults and
  /// MapGPA: the conversion handler's policy; anything else: std::nullopt (generic policy).
  std::optional<ExitPolicy> intercept(kvm::Vcpu& vcpu, const VcpuExit& exit) override;

 private:
  MemoryConversionHandler conversions_;
  GuestMemory* memory_ = nullptr;
  std::span<const std::byte> certificates_;
};

}  // namespace cvm::vmm::snp
