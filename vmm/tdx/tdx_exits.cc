// SPDX-License-Identifier: Apache-2.0
#include "vmm/tdx/tdx_exits.h"

#include <array>
#include <cstring>
#include <variant>
#include <vector>

#include "base/byte_reader.h"
#include "vmm/tdx/tdx_status.h"

namespace cvm::vmm::tdx {
namespace {

constexpr uint64_t kPage = 4096;
constexpr std::size_t kFatalErrorCodeRegister = 12;  // R12
constexpr std::size_t kFatalGpaRegister = 13;        // R13
constexpr std::size_t kFatalMaskRegister = 1;        // RCX
constexpr uint64_t kFatalGpaValid = 1ull << 63;
// Registers carrying the message, in message order (GHCI ReportFatalError; QEMU
// tdx_handle_report_fatal_error): R14, R15, RBX, RDI, RSI, R8, R9, RDX.
constexpr std::array<std::size_t, 8> kFatalMessageRegisters = {14, 15, 3, 7, 6, 8, 9, 2};
constexpr uint64_t kMsiAddressBase = 0xfee00000;

kvm::TdxExit read_tdx_exit(const kvm::Vcpu& vcpu) {
  kvm::TdxExit exit{};
  std::memcpy(&exit, vcpu.run_area().data() + kvm::kKvmRunExitUnionOffset, sizeof(exit));
  return exit;
}

void write_tdx_exit(kvm::Vcpu& vcpu, const kvm::TdxExit& exit) {
  std::memcpy(vcpu.run_area().data() + kvm::kKvmRunExitUnionOffset, &exit, sizeof(exit));
}

}  // namespace

TdFatalError decode_fatal_error(std::span<const uint64_t> registers) {
  TdFatalError out;
  const auto reg = [&](std::size_t index) -> uint64_t {
    return index < registers.size() ? registers[index] : 0;
  };
  out.error_code = reg(kFatalErrorCodeRegister);
  if ((out.error_code & kFatalGpaValid) != 0) {
    out.gpa = reg(kFatalGpaRegister);
  }
  const uint64_t mask = reg(kFatalMaskRegister);
  for (const std::size_t index : kFatalMessageRegisters) {
    if ((mask & (uint64_t{1} << index)) == 0) {
      break;
    }
    const uint64_t value = reg(index);
    for (int byte = 0; byte < 8; ++byte) {
      const auto c = static_cast<char>(value >> (8 * byte));
      if (c == '\0') {
        return out;
      }
      out.message.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    }
  }
  return out;
}

std::string describe_fatal_error(const TdFatalError& error) {
  std::string text = fmt::format("TD reported a fatal error: code {:#x}", error.error_code);
  if (error.gpa) {
    text += fmt::format(", gpa {:#x}", *error.gpa);
  }
  if (!error.message.empty()) {
    text += fmt::format(", message \"{}\"", error.message);
  }
  return text;
}

void TdxExitHandler::set_capabilities(const TdxCapabilities& caps) noexcept {
  kernel_r11_ = caps.kernel_tdvmcallinfo_1_r11;
  user_r11_ = caps.user_tdvmcallinfo_1_r11;
  kernel_r12_ = caps.kernel_tdvmcallinfo_1_r12;
}

void TdxExitHandler::attach(const kvm::Vm& vm, GuestMemory& memory) noexcept {
  vm_ = &vm;
  memory_ = &memory;
  conversions_.attach(vm, memory);
}

std::optional<ExitPolicy> TdxExitHandler::intercept(kvm::Vcpu& vcpu, const VcpuExit& exit) {
  if (auto policy = conversions_.handle(vcpu, exit)) {
    return policy;
  }
  if (const auto* event = std::get_if<SystemEventExit>(&exit)) {
    if (event->type != KVM_SYSTEM_EVENT_TDX_FATAL) {
      return std::nullopt;
    }
    return ExitPolicy{ExitVerdict::kFailVm, describe_fatal_error(decode_fatal_error(event->data))};
  }
  const auto* unknown = std::get_if<UnknownExit>(&exit);
  if (unknown == nullptr || unknown->reason != KVM_EXIT_TDX) {
    return std::nullopt;
  }
  return handle_tdvmcall(vcpu);
}

ExitPolicy TdxExitHandler::handle_tdvmcall(kvm::Vcpu& vcpu) {
  kvm::TdxExit call = read_tdx_exit(vcpu);
  switch (call.nr) {
    case kTdvmcallGetTdVmCallInfo:
      if (call.data[0] != 1) {
        call.ret = kTdvmcallInvalidOperand;
        break;
      }
      call.data[1] =
          kernel_r11_ | (user_r11_ & (kTdvmcallInfoGetQuote | kTdvmcallInfoSetupEventNotify));
      call.data[2] = kernel_r12_;
      call.data[3] = 0;
      call.data[4] = 0;
      call.ret = kTdvmcallSuccess;
      break;
    case kTdvmcallGetQuote:
      call.ret = get_quote(call.data[0], call.data[1]);
      break;
    case kTdvmcallSetupEventNotifyInterrupt:
      if (call.data[0] < 32 || call.data[0] > 255) {
        call.ret = kTdvmcallInvalidOperand;
        break;
      }
      notify_apic_id_.store(vcpu.id());
      notify_vector_.store(static_cast<uint32_t>(call.data[0]));
      call.ret = kTdvmcallSuccess;
      break;
    default:
      // KVM preset SUBFUNC_UNSUPPORTED (§2.10); leave it for leaves cvmm does not implement.
      return {ExitVerdict::kContinue, {}};
  }
  write_tdx_exit(vcpu, call);
  return {ExitVerdict::kContinue, {}};
}

uint64_t TdxExitHandler::get_quote(uint64_t gpa, uint64_t size) {
  if (gpa % kPage != 0 || size % kPage != 0) {
    return kTdvmcallAlignError;
  }
  if (size == 0 || size > kGetQuoteMaxBuffer || memory_ == nullptr ||
      !memory_->contains(gpa, size)) {
    return kTdvmcallInvalidOperand;
  }
  std::array<std::byte, kGetQuoteHeaderSize> header{};
  if (!memory_->read(gpa, header)) {
    return kTdvmcallInvalidOperand;
  }
  const auto version = load_le<uint64_t>(std::span<const std::byte>(header).first<8>());
  const auto in_len = load_le<uint32_t>(std::span<const std::byte>(header).subspan<16, 4>());
  if (version != kGetQuoteStructureVersion || in_len > size - kGetQuoteHeaderSize) {
    return kTdvmcallInvalidOperand;
  }
  complete_quote(gpa, size, in_len);
  return kTdvmcallSuccess;
}

void TdxExitHandler::complete_quote(uint64_t gpa, uint64_t size, uint64_t in_len) {
  uint64_t status = kGetQuoteStatusServiceUnavailable;
  std::vector<std::byte> answer;
  if (quotes_) {
    std::vector<std::byte> request(in_len);
    status = kGetQuoteStatusError;
    if (memory_->read(gpa + kGetQuoteHeaderSize, request)) {
      // A framed QGS request gets a framed response; a raw TDREPORT gets the raw quote.
      const auto framed = framed_qgs_request_report(request);
      std::lock_guard lock(quote_mutex_);
      auto quote = quotes_->get_quote(framed ? *framed : std::span<const std::byte>(request));
      if (quote) {
        answer = framed ? encode_qgs_get_quote_response(*quote) : std::move(quote).value();
        status = kGetQuoteStatusSuccess;
      }
    }
    if (answer.size() > size - kGetQuoteHeaderSize) {
      answer.clear();
      status = kGetQuoteStatusError;
    }
  }
  // Bounds: contains(gpa, size) was checked and the answer fits size - header.
  std::array<std::byte, 12> fields{};
  store_le<uint64_t>(std::span<std::byte>(fields).first<8>(), status);
  store_le<uint32_t>(std::span<std::byte>(fields).subspan<8, 4>(),
                     static_cast<uint32_t>(answer.size()));
  (void)memory_->write(gpa + kGetQuoteHeaderSize, answer);
  // out_len @20 before status @8: a guest polling the status then sees a complete answer.
  (void)memory_->write(gpa + 20, std::span<const std::byte>(fields).subspan<8, 4>());
  (void)memory_->write(gpa + 8, std::span<const std::byte>(fields).first<8>());
  if (quotes_) {
    notify_guest();
  }
}

void TdxExitHandler::notify_guest() {
  const uint32_t vector = notify_vector_.load();
  if (vector == 0 || vm_ == nullptr) {
    return;
  }
  const uint64_t address = kMsiAddressBase | (uint64_t{notify_apic_id_.load() & 0xff} << 12);
  (void)vm_->signal_msi(address, vector);
}

}  // namespace cvm::vmm::tdx
