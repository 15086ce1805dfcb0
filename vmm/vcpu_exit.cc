// SPDX-License-Identifier: Apache-2.0
#include "vmm/vcpu_exit.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "base/checked.h"
#include "base/hex.h"

namespace cvm::vmm {
namespace {

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

constexpr std::size_t kMaxData = 16;  // kvm_run.internal.data[16], system_event.data[16]

std::vector<uint64_t> copy_data(const __u64* data, uint32_t ndata) {
  const std::size_t n = std::min<std::size_t>(ndata, kMaxData);
  return std::vector<uint64_t>(data, data + n);
}

InternalErrorExit decode_internal_error(const kvm_run& run) {
  InternalErrorExit exit;
  exit.suberror = run.internal.suberror;
  exit.data = copy_data(run.internal.data, run.internal.ndata);
  const auto& emulation = run.emulation_failure;
  // The instruction bytes are valid only for emulation failures that set the flag, and the
  // flag's fields are counted in ndata (api.rst KVM_EXIT_INTERNAL_ERROR).
  if (exit.suberror == KVM_INTERNAL_ERROR_EMULATION && emulation.ndata >= 3 &&
      (emulation.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) != 0) {
    const std::size_t n = std::min<std::size_t>(emulation.insn_size, sizeof(emulation.insn_bytes));
    const auto* bytes = reinterpret_cast<const std::byte*>(emulation.insn_bytes);
    exit.instruction.assign(bytes, bytes + n);
  }
  return exit;
}

MemoryFaultExitInfo decode_memory_fault(const kvm_run& run) {
  kvm::MemoryFaultExit raw{};
  // Bounds: the overlay is 24 bytes of the 256-byte exit union (uapi.h).
  std::memcpy(&raw, reinterpret_cast<const std::byte*>(&run) + kvm::kKvmRunExitUnionOffset,
              sizeof(raw));
  return MemoryFaultExitInfo{raw.flags, raw.gpa, raw.size};
}

SnpCertsRequestExit decode_snp_certs_request(const kvm_run& run) {
  kvm::SnpReqCertsExit raw{};
  // Bounds: the overlay is 24 bytes of the 256-byte exit union (uapi.h).
  std::memcpy(&raw, reinterpret_cast<const std::byte*>(&run) + kvm::kKvmRunExitUnionOffset,
              sizeof(raw));
  return SnpCertsRequestExit{raw.gpa, raw.npages};
}

MmioExit decode_mmio(const kvm_run& run) {
  MmioExit exit;
  exit.address = run.mmio.phys_addr;
  exit.length = std::min<uint32_t>(run.mmio.len, sizeof(run.mmio.data));
  exit.is_write = run.mmio.is_write != 0;
  std::memcpy(exit.data.data(), run.mmio.data, sizeof(run.mmio.data));
  return exit;
}

std::string suberror_name(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION:
      return "emulation failure";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
      return "simultaneous exceptions";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
      return "exit during event delivery";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
      return "unexpected exit reason";
    default:
      return "unknown suberror";
  }
}

std::string describe_internal_error(const InternalErrorExit& e) {
  std::string text = fmt::format("KVM internal error: suberror {} ({})", e.suberror,
                                 suberror_name(e.suberror));
  if (!e.instruction.empty()) {
    std::string bytes;
    for (std::byte b : e.instruction) {
      bytes += fmt::format("{}{:02x}", bytes.empty() ? "" : " ", static_cast<unsigned>(b));
    }
    text += fmt::format(", instruction bytes {}", bytes);
  }
  if (!e.data.empty()) {
    text += fmt::format(", data {:#x}", fmt::join(e.data, " "));
  }
  return text;
}

std::string system_event_name(uint32_t type) {
  switch (type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
      return "shutdown";
    case KVM_SYSTEM_EVENT_RESET:
      return "reset";
    case KVM_SYSTEM_EVENT_CRASH:
      return "crash";
    case KVM_SYSTEM_EVENT_SEV_TERM:
      return "SEV termination request";
    case KVM_SYSTEM_EVENT_TDX_FATAL:
      return "TDX fatal error";
    default:
      return fmt::format("type {}", type);
  }
}

}  // namespace

VcpuExit decode_exit(const kvm_run& run) {
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return IoExit{run.io.direction == KVM_EXIT_IO_IN, run.io.port, run.io.size, run.io.count,
                    run.io.data_offset};
    case KVM_EXIT_MMIO:
      return decode_mmio(run);
    case KVM_EXIT_HLT:
      return HltExit{};
    case KVM_EXIT_SHUTDOWN:
      return ShutdownExit{};
    case KVM_EXIT_SYSTEM_EVENT:
      return SystemEventExit{run.system_event.type,
                             copy_data(run.system_event.data, run.system_event.ndata)};
    case KVM_EXIT_INTERNAL_ERROR:
      return decode_internal_error(run);
    case KVM_EXIT_FAIL_ENTRY:
      return FailEntryExit{run.fail_entry.hardware_entry_failure_reason, run.fail_entry.cpu};
    case KVM_EXIT_INTR:
      return InterruptExit{};
    case KVM_EXIT_MEMORY_FAULT:
      return decode_memory_fault(run);
    case KVM_EXIT_IOAPIC_EOI:
      return IoapicEoiExit{run.eoi.vector};
    case KVM_EXIT_SNP_REQ_CERTS:
      return decode_snp_certs_request(run);
    case KVM_EXIT_HYPERCALL: {
      HypercallExit exit{run.hypercall.nr, {}};
      std::copy(std::begin(run.hypercall.args), std::end(run.hypercall.args), exit.args.begin());
      return exit;
    }
    default:
      return UnknownExit{run.exit_reason, run.hw.hardware_exit_reason};
  }
}

std::span<std::byte> io_data(const IoExit& io, std::span<std::byte> run_area) {
  const auto length = checked_mul<uint64_t>(io.size, io.count);
  if (io.size == 0 || io.size > 8 || !length ||
      !range_within<uint64_t>(io.data_offset, *length, run_area.size())) {
    return {};
  }
  return run_area.subspan(io.data_offset, *length);
}

ExitPolicy exit_policy(const VcpuExit& exit) {
  return std::visit(
      Overloaded{
          [](const IoExit&) { return ExitPolicy{ExitVerdict::kDispatch, ""}; },
          [](const MmioExit&) { return ExitPolicy{ExitVerdict::kDispatch, ""}; },
          [](const IoapicEoiExit&) { return ExitPolicy{ExitVerdict::kDispatch, ""}; },
          [](const InterruptExit&) { return ExitPolicy{ExitVerdict::kContinue, ""}; },
          [](const HltExit&) { return ExitPolicy{ExitVerdict::kVcpuHalted, "vCPU halted"}; },
          [](const SystemEventExit& e) {
            if (e.type == KVM_SYSTEM_EVENT_SHUTDOWN || e.type == KVM_SYSTEM_EVENT_RESET) {
              return ExitPolicy{ExitVerdict::kStopVm,
                                fmt::format("guest requested {}", system_event_name(e.type))};
            }
            return ExitPolicy{ExitVerdict::kFailVm,
                              fmt::format("guest system event: {}", system_event_name(e.type))};
          },
          [](const auto& other) {
            return ExitPolicy{ExitVerdict::kFailVm, describe_exit(VcpuExit(other))};
          },
      },
      exit);
}

std::string describe_exit(const VcpuExit& exit) {
  return std::visit(
      Overloaded{
          [](const IoExit& e) {
            return fmt::format("port I/O {} port {:#x} size {} count {}", e.in ? "in" : "out",
                               e.port, e.size, e.count);
          },
          [](const MmioExit& e) {
            return fmt::format("MMIO {} at {:#x} length {}", e.is_write ? "write" : "read",
                               e.address, e.length);
          },
          [](const HltExit&) { return std::string("HLT"); },
          [](const ShutdownExit&) {
            return std::string("guest triple fault (KVM_EXIT_SHUTDOWN)");
          },
          [](const SystemEventExit& e) {
            return fmt::format("system event: {}", system_event_name(e.type));
          },
          [](const InternalErrorExit& e) { return describe_internal_error(e); },
          [](const FailEntryExit& e) {
            return fmt::format("VM entry failed: hardware reason {:#x} on host CPU {}",
                               e.hardware_reason, e.cpu);
          },
          [](const InterruptExit&) { return std::string("interrupted"); },
          [](const MemoryFaultExitInfo& e) {
            return fmt::format("memory fault at gpa {:#x} size {:#x} ({})", e.gpa, e.size,
                               (e.flags & KVM_MEMORY_EXIT_FLAG_PRIVATE) ? "private" : "shared");
          },
          [](const HypercallExit& e) { return fmt::format("unhandled hypercall {}", e.nr); },
          [](const IoapicEoiExit& e) { return fmt::format("IOAPIC EOI of vector {}", e.vector); },
          [](const SnpCertsRequestExit& e) {
            return fmt::format("unhandled SNP certificate request (buffer at gpa {:#x}, {} pages)",
                               e.gpa, e.npages);
          },
          [](const UnknownExit& e) {
            return fmt::format("unhandled exit reason {} (hardware reason {:#x})", e.reason,
                               e.hardware_reason);
          },
      },
      exit);
}

}  // namespace cvm::vmm
