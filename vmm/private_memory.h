// SPDX-License-Identifier: Apache-2.0
// Private/shared conversions of confidential guest RAM (tee-kvm-reference §1.5-§1.7), shared
// by the TDX and SEV-SNP backends.
//
// Guest RAM with RamBacking::kPrivate has two sides per page: the guest_memfd (private) and an
// anonymous mapping (shared). KVM picks the side from the page's memory attribute. A
// conversion sets the attribute with KVM_SET_MEMORY_ATTRIBUTES and then discards the side that
// just became stale, so that a page never holds memory on both sides:
//   to shared:  fallocate(PUNCH_HOLE | KEEP_SIZE) on the guest_memfd (QEMU does the same)
//   to private: madvise(MADV_DONTNEED) on the shared mapping (the next host/guest read of the
//               shared side sees zeroes, never stale data)
//
// Conversions are requested by the guest in two ways, both handled by
// MemoryConversionHandler:
//   implicit  KVM_EXIT_MEMORY_FAULT (exit 39): the guest accessed a page whose attribute does
//             not match; convert to the kind of access (flag KVM_MEMORY_EXIT_FLAG_PRIVATE)
//   explicit  KVM_EXIT_HYPERCALL with KVM_HC_MAP_GPA_RANGE (TDX MapGPA, SNP page-state
//             changes): args[0] GPA, args[1] 4 KiB pages, args[2] attributes (bit 4 = to
//             private); the result goes to kvm_run.hypercall.ret (0 = success, else a
//             positive errno, §5.5) and the guest decides what to do with a failure.
#pragma once

#include <cstdint>
#include <optional>

#include "base/result.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/kvm/vm.h"
#include "vmm/vcpu_exit.h"
#include "vmm/vcpu_runner.h"

namespace cvm::vmm {

/// Page granularity of memory attributes and conversions.
inline constexpr uint64_t kConversionPageSize = 4096;

/// KVM_ENABLE_CAP(KVM_CAP_EXIT_HYPERCALL, 1 << KVM_HC_MAP_GPA_RANGE) on `vm`, so that MapGPA
/// and SNP page-state changes reach userspace (§1.7). Call in TeeBackend::init_vm.
/// Errors: kNotSupportedByHost if KVM_CHECK_EXTENSION(KVM_CAP_EXIT_HYPERCALL) on the VM lacks
/// the MAP_GPA_RANGE bit; kKvm naming the ioctl otherwise.
[[nodiscard]] Result<void> enable_map_gpa_range_exit(const kvm::Vm& vm);

/// Converts [gpa, gpa + size) of `memory` to private (`to_private`) or shared: sets the
/// memory attribute over the whole range, then discards the stale side of every page.
/// The range may span adjacent regions but must be covered completely by kPrivate regions.
/// Errors: kInvalidArgument (nothing changed) when `memory` is not kPrivate, the size is
/// zero, gpa/size are not 4 KiB aligned, the range wraps or is not inside private-capable
/// memory; kKvm / kIo naming the failing call (the attribute may already have changed).
/// Thread-safe for concurrent conversions of any ranges (KVM serialises attribute updates).
[[nodiscard]] Result<void> convert_guest_memory(const kvm::Vm& vm, GuestMemory& memory,
                                                uint64_t gpa, uint64_t size, bool to_private);

/// Handles KVM_EXIT_MEMORY_FAULT and KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) for a
/// confidential VM. TEE backends own one and call handle() first from their interceptor;
/// it can also be installed on a VcpuRunner on its own. Memory is attached at launch (the
/// backend learns it then); an exit before attach() fails the VM.
class MemoryConversionHandler final : public ExitInterceptor {
 public:
  MemoryConversionHandler() = default;
  MemoryConversionHandler(const MemoryConversionHandler&) = delete;
  MemoryConversionHandler& operator=(const MemoryConversionHandler&) = delete;
  ~MemoryConversionHandler() override = default;

  /// Sets the VM and memory to convert; both must outlive the handler's use. Call before
  /// any vCPU runs.
  void attach(const kvm::Vm& vm, GuestMemory& memory) noexcept {
    vm_ = &vm;
    memory_ = &memory;
  }

  /// The policy for a memory-fault or MapGPA exit, std::nullopt for any other exit.
  ///  - memory fault: converts; kContinue, or kFailVm naming the range if that fails (the
  ///    vCPU cannot make progress without it).
  ///  - MapGPA: validates the guest's arguments, converts, writes hypercall.ret (0 or a
  ///    positive errno: EINVAL for hostile or out-of-RAM ranges); always kContinue.
  std::optional<ExitPolicy> handle(kvm::Vcpu& vcpu, const VcpuExit& exit);

  std::optional<ExitPolicy> intercept(kvm::Vcpu& vcpu, const VcpuExit& exit) override {
    return handle(vcpu, exit);
  }

 private:
  ExitPolicy handle_memory_fault(const MemoryFaultExitInfo& fault);
  uint64_t map_gpa_range(const HypercallExit& call);

  const kvm::Vm* vm_ = nullptr;
  GuestMemory* memory_ = nullptr;
};

/// A KVM_HC_MAP_GPA_RANGE request after validation.
struct MapGpaRequest {
  uint64_t gpa = 0;
  uint64_t size = 0;
  bool to_private = false;
};

/// Validates the guest-controlled MapGPA arguments (§1.7): non-zero page count, no
/// overflow, 4 KiB-aligned GPA, known attribute bits only (page size 0-2 in bits 0-3,
/// bit 4 ENCRYPTED). The page-size hint is not an alignment requirement (KVM's own MapGPA
/// check ignores it, and SNP 2 MiB entries arrive aligned already). Pure.
/// Errors: kGuest describing the bad argument.
[[nodiscard]] Result<MapGpaRequest> parse_map_gpa_range(uint64_t gpa, uint64_t npages,
                                                        uint64_t attributes);

}  // namespace cvm::vmm
