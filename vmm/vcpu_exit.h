// SPDX-License-Identifier: Apache-2.0
// Decoding of KVM exits into plain values, and the generic exit policy (architecture-anchors
// §B.4 "exit chain"). Pure: decode_exit() reads a kvm_run copy, describe_exit() formats it,
// exit_policy() says what the VMM does next. Guest-controlled fields (data offsets, counts,
// lengths) are range-checked here, so nothing downstream trusts them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "vmm/kvm/uapi.h"

namespace cvm::vmm {

/// KVM_EXIT_IO: `count` accesses of `size` bytes at kvm_run + data_offset.
struct IoExit {
  bool in = false;
  uint16_t port = 0;
  uint8_t size = 0;
  uint32_t count = 0;
  uint64_t data_offset = 0;
};
/// KVM_EXIT_MMIO: `data` holds the written bytes (writes) or receives the read ones.
struct MmioExit {
  uint64_t address = 0;
  uint32_t length = 0;
  bool is_write = false;
  std::array<std::byte, 8> data{};
};
struct HltExit {};
/// KVM_EXIT_SHUTDOWN: the guest triple-faulted (or hit a shutdown condition).
struct ShutdownExit {};
/// KVM_EXIT_SYSTEM_EVENT (type KVM_SYSTEM_EVENT_*; data valid up to ndata, capped at 16).
struct SystemEventExit {
  uint32_t type = 0;
  std::vector<uint64_t> data;
};
/// KVM_EXIT_INTERNAL_ERROR; for KVM_INTERNAL_ERROR_EMULATION with the instruction-bytes flag,
/// `instruction` holds the bytes KVM failed to emulate.
struct InternalErrorExit {
  uint32_t suberror = 0;
  std::vector<uint64_t> data;
  std::vector<std::byte> instruction;
};
/// KVM_EXIT_FAIL_ENTRY: VM entry failed (bad guest state).
struct FailEntryExit {
  uint64_t hardware_reason = 0;
  uint32_t cpu = 0;
};
/// KVM_EXIT_INTR: a signal interrupted the guest; nothing to handle.
struct InterruptExit {};
/// KVM_EXIT_MEMORY_FAULT (tee-kvm-reference §1.6).
struct MemoryFaultExitInfo {
  uint64_t flags = 0;
  uint64_t gpa = 0;
  uint64_t size = 0;
};
/// KVM_EXIT_HYPERCALL (e.g. KVM_HC_MAP_GPA_RANGE, §1.7).
struct HypercallExit {
  uint64_t nr = 0;
  std::array<uint64_t, 6> args{};
};
/// KVM_EXIT_IOAPIC_EOI: with a split irqchip, the guest EOIed a level-triggered vector that
/// the userspace IOAPIC routes (api.rst, "KVM_EXIT_IOAPIC_EOI").
struct IoapicEoiExit {
  uint8_t vector = 0;
};
/// KVM_EXIT_SNP_REQ_CERTS (≈7.0, tee-kvm-reference §3.11): an SEV-SNP guest's Extended Guest
/// Request for an attestation report asks the host for its certificate table. Both fields are
/// guest-controlled (RAX/RBX of the request); the answer goes into kvm_run.snp_req_certs.
struct SnpCertsRequestExit {
  uint64_t gpa = 0;
  uint64_t npages = 0;
};
/// Anything else, with the raw reason.
struct UnknownExit {
  uint32_t reason = 0;
  uint64_t hardware_reason = 0;  // kvm_run.hw (meaningful for KVM_EXIT_UNKNOWN)
};

using VcpuExit = std::variant<IoExit, MmioExit, HltExit, ShutdownExit, SystemEventExit,
                              InternalErrorExit, FailEntryExit, InterruptExit,
                              MemoryFaultExitInfo, HypercallExit, IoapicEoiExit,
                              SnpCertsRequestExit, UnknownExit>;

/// Decodes kvm_run.exit_reason and its union member.
VcpuExit decode_exit(const kvm_run& run);

/// The data bytes of an IO exit inside the kvm_run area, or an empty span if the
/// guest-/kernel-provided offset and size*count do not fit the area (never trusted blindly).
std::span<std::byte> io_data(const IoExit& io, std::span<std::byte> run_area);

/// What the vCPU loop does after an exit the generic policy decides.
enum class ExitVerdict {
  kContinue,     // handled (or nothing to do): re-enter the guest
  kDispatch,     // IO/MMIO/IOAPIC EOI: hand to the ExitDispatcher, then re-enter
  kVcpuHalted,   // HLT reached userspace (no in-kernel LAPIC): this vCPU is finished
  kStopVm,       // orderly VM stop with exit status 0 (guest reset/shutdown request)
  kFailVm,       // guest or KVM failure: VM stops with a non-zero status and a register dump
};

struct ExitPolicy {
  ExitVerdict verdict = ExitVerdict::kContinue;
  std::string reason;  // for kStopVm/kFailVm/kVcpuHalted: one line, e.g. "guest triple fault"
};

/// The generic exit policy (exit chain step 1 of §B.4). TEE-specific exits (memory fault,
/// hypercall) fail the VM here; a TEE backend intercepts them before this is consulted.
ExitPolicy exit_policy(const VcpuExit& exit);

/// One-line human description of an exit ("internal error: suberror 1 (emulation failure),
/// instruction bytes 0f c7 0e"), used in failure reports.
std::string describe_exit(const VcpuExit& exit);

}  // namespace cvm::vmm
