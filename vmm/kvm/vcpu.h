// SPDX-License-Identifier: Apache-2.0
// kvm::Vcpu: one vCPU fd plus its mmap()ed kvm_run area (architecture-anchors §B.5). Register
// and state accessors are thin ioctl wrappers. Created by Vm::create_vcpu(); non-copyable,
// movable.
// Thread-safety: run() and the state accessors belong to the vCPU's own thread;
// request_immediate_exit() may be called from any thread (it is how a vCPU is kicked).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "vmm/kvm/host_mapping.h"
#include "vmm/kvm/sys.h"
#include "vmm/kvm/uapi.h"

namespace cvm::kvm {

/// How a KVM_RUN call ended.
enum class RunOutcome {
  kExit,         // kvm_run.exit_reason describes the exit (incl. KVM_EXIT_MEMORY_FAULT)
  kInterrupted,  // EINTR/EAGAIN: a signal or immediate_exit; no exit to handle
};

class Vcpu final {
 public:
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;
  Vcpu(Vcpu&&) noexcept = default;
  Vcpu& operator=(Vcpu&&) noexcept = default;
  ~Vcpu() = default;

  /// KVM_RUN. EINTR/EAGAIN give kInterrupted; EFAULT/EHWPOISON with exit reason
  /// KVM_EXIT_MEMORY_FAULT give kExit (tee-kvm-reference.md §1.6); other errors are kKvm.
  [[nodiscard]] Result<RunOutcome> run();

  /// The kvm_run structure; valid for the lifetime of this object.
  kvm_run& run_data() const noexcept { return *reinterpret_cast<kvm_run*>(run_.data()); }
  /// The whole kvm_run mapping (KVM_EXIT_IO data lives at io.data_offset inside it).
  std::span<std::byte> run_area() const noexcept { return run_.span(); }
  /// Sets or clears kvm_run.immediate_exit (atomically; callable from any thread).
  void set_immediate_exit(bool value) noexcept;

  [[nodiscard]] Result<kvm_regs> get_regs() const;
  [[nodiscard]] Result<void> set_regs(const kvm_regs& regs) const;
  [[nodiscard]] Result<kvm_sregs> get_sregs() const;
  [[nodiscard]] Result<void> set_sregs(const kvm_sregs& sregs) const;
  [[nodiscard]] Result<kvm_fpu> get_fpu() const;
  [[nodiscard]] Result<void> set_fpu(const kvm_fpu& fpu) const;
  /// KVM_SET_MSRS; an error names the first MSR index KVM did not accept.
  [[nodiscard]] Result<void> set_msrs(std::span<const kvm_msr_entry> msrs) const;
  /// KVM_GET_MSRS for the indices in `msrs`; fills in their data.
  [[nodiscard]] Result<void> get_msrs(std::span<kvm_msr_entry> msrs) const;
  /// KVM_SET_CPUID2 with the given entries.
  [[nodiscard]] Result<void> set_cpuid2(std::span<const kvm_cpuid_entry2> entries) const;
  [[nodiscard]] Result<kvm_lapic_state> get_lapic() const;
  [[nodiscard]] Result<void> set_lapic(const kvm_lapic_state& lapic) const;
  [[nodiscard]] Result<kvm_mp_state> get_mp_state() const;
  [[nodiscard]] Result<void> set_mp_state(uint32_t mp_state) const;
  /// KVM_GET_TSC_KHZ: the vCPU's TSC frequency in kHz.
  [[nodiscard]] Result<uint32_t> get_tsc_khz() const;
  /// KVM_SET_TSC_KHZ on the vCPU fd (KVM_CAP_TSC_CONTROL). Not for TDs: KVM refuses it once
  /// the TDX module owns the TSC (Vm::set_tsc_khz before KVM_TDX_INIT_VM instead).
  [[nodiscard]] Result<void> set_tsc_khz(uint32_t khz) const;
  /// KVM_MEMORY_ENCRYPT_OP on the vCPU fd (TDX INIT_VCPU/INIT_MEM_REGION/GET_CPUID).
  [[nodiscard]] Result<long> memory_encrypt_op(void* command) const;

  uint32_t id() const noexcept { return id_; }
  int fd() const noexcept { return fd_.get(); }

 private:
  friend class Vm;
  Vcpu(Sys* sys, UniqueFd fd, HostMapping run, uint32_t id) noexcept
      : sys_(sys), fd_(std::move(fd)), run_(std::move(run)), id_(id) {}

  Sys* sys_;
  UniqueFd fd_;
  HostMapping run_;  // Invariant: at least sizeof(kvm_run) bytes (checked by System::open)
  uint32_t id_;
};

}  // namespace cvm::kvm
