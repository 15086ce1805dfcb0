// SPDX-License-Identifier: Apache-2.0
// The TDX backend's exit interceptor (tee-kvm-reference §1.6-§1.7, §2.10):
//   KVM_EXIT_MEMORY_FAULT, KVM_EXIT_HYPERCALL(MAP_GPA_RANGE)  -> MemoryConversionHandler
//   KVM_EXIT_TDX (40), TDVMCALL leaf in kvm_run.tdx.nr:
//     0x10000 GetTdVmCallInfo   leaf 1: report the TDVMCALLs KVM and cvmm implement
//     0x10002 GetQuote          forward the TDREPORT (raw, or inside a framed QGS request, which
//                               then gets a framed response) to the quote service, or report
//                               the service absent
//     0x10004 SetupEventNotifyInterrupt   remember the vector and the vCPU
//     others                    left at KVM's preset SUBFUNC_UNSUPPORTED
//   KVM_EXIT_SYSTEM_EVENT type KVM_SYSTEM_EVENT_TDX_FATAL (ReportFatalError): stop the VM with
//     the guest's error code and message.
// Every guest-supplied value is validated; bad requests get a TDVMCALL error, never a crash.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "vmm/guest_memory.h"
#include "vmm/kvm/vm.h"
#include "vmm/private_memory.h"
#include "vmm/tdx/quote_service.h"
#include "vmm/tdx/tdx_vm.h"
#include "vmm/vcpu_runner.h"

namespace cvm::vmm::tdx {

// TDVMCALL leaves that reach userspace as KVM_EXIT_TDX (§2.10).
inline constexpr uint64_t kTdvmcallGetTdVmCallInfo = 0x10000;
inline constexpr uint64_t kTdvmcallGetQuote = 0x10002;
inline constexpr uint64_t kTdvmcallReportFatalError = 0x10003;
inline constexpr uint64_t kTdvmcallSetupEventNotifyInterrupt = 0x10004;

// GetTdVmCallInfo leaf 1, R11: TDVMCALLs userspace implements (GHCI 1.5 "GetTdVmCallInfo").
inline constexpr uint64_t kTdvmcallInfoGetQuote = 1ull << 0;
inline constexpr uint64_t kTdvmcallInfoSetupEventNotify = 1ull << 1;

// GetQuote shared buffer (§2.10, QEMU tdx-quote-generator.h): 24-byte header, then the message.
inline constexpr std::size_t kGetQuoteHeaderSize = 24;
inline constexpr uint64_t kGetQuoteMaxBuffer = 128 * 1024;
inline constexpr uint64_t kGetQuoteStructureVersion = 1;
inline constexpr uint64_t kGetQuoteStatusSuccess = 0;
inline constexpr uint64_t kGetQuoteStatusInFlight = ~uint64_t{0};
inline constexpr uint64_t kGetQuoteStatusError = 0x8000000000000000;
inline constexpr uint64_t kGetQuoteStatusServiceUnavailable = 0x8000000000000001;

/// ReportFatalError as KVM reports it (KVM_SYSTEM_EVENT_TDX_FATAL, §2.10).
struct TdFatalError {
  uint64_t error_code = 0;      // guest R12
  std::optional<uint64_t> gpa;  // guest R13 when R12 bit 63 is set
  std::string message;          // ASCII from the registers RCX selects, printable only
};

/// Decodes system_event.data (guest GPRs in x86 encoding order). Fewer than 16 entries give
/// what is present. Pure.
TdFatalError decode_fatal_error(std::span<const uint64_t> registers);

/// "TD reported a fatal error: code 0x..., gpa 0x..., message \"...\"".
std::string describe_fatal_error(const TdFatalError& error);

class TdxExitHandler final : public ExitInterceptor {
 public:
  /// `quotes` may be null: GetQuote then reports QGS_UNAVAILABLE in the guest's buffer.
  explicit TdxExitHandler(std::unique_ptr<QuoteService> quotes) : quotes_(std::move(quotes)) {}

  /// After KVM_TDX_CAPABILITIES: the tdvmcallinfo bits KVM reports (§2.2).
  void set_capabilities(const TdxCapabilities& caps) noexcept;
  /// At launch: the VM (for the notify MSI) and guest memory (conversions, GetQuote buffers).
  void attach(const kvm::Vm& vm, GuestMemory& memory) noexcept;

  std::optional<ExitPolicy> intercept(kvm::Vcpu& vcpu, const VcpuExit& exit) override;

 private:
  ExitPolicy handle_tdvmcall(kvm::Vcpu& vcpu);
  uint64_t get_quote(uint64_t gpa, uint64_t size);
  void complete_quote(uint64_t gpa, uint64_t size, uint64_t in_len);
  void notify_guest();

  MemoryConversionHandler conversions_;
  std::unique_ptr<QuoteService> quotes_;
  std::mutex quote_mutex_;  // one GetQuote at a time (the service is not re-entrant)
  const kvm::Vm* vm_ = nullptr;
  GuestMemory* memory_ = nullptr;
  uint64_t kernel_r11_ = 0, user_r11_ = 0, kernel_r12_ = 0;
  std::atomic<uint32_t> notify_vector_{0};  // 0: none registered
  std::atomic<uint32_t> notify_apic_id_{0};
};

}  // namespace cvm::vmm::tdx
