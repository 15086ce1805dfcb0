// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/vcpu.h"

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "vmm/kvm/flex_array.h"
#include "vmm/kvm/ioctl.h"

namespace cvm::kvm {

Result<RunOutcome> Vcpu::run() {
  const long ret = sys_->ioctl(fd_.get(), KVM_RUN, 0);
  if (ret >= 0) {
    return RunOutcome::kExit;
  }
  const int err = static_cast<int>(-ret);
  if (err == EINTR || err == EAGAIN) {
    return RunOutcome::kInterrupted;
  }
  if ((err == EFAULT || err == EHWPOISON) && run_data().exit_reason == KVM_EXIT_MEMORY_FAULT) {
    return RunOutcome::kExit;
  }
  return errno_error(ErrorCode::kKvm, fmt::format("KVM_RUN on vCPU {}", id_), err);
}

void Vcpu::set_immediate_exit(bool value) noexcept {
  // Invariant: another thread may kick this vCPU while it is inside KVM_RUN; KVM reads the
  // byte on entry, and the release store orders it after any state the kicker wrote first.
  std::atomic_ref<uint8_t>(run_data().immediate_exit).store(value ? 1 : 0,
                                                           std::memory_order_release);
}

Result<kvm_regs> Vcpu::get_regs() const {
  kvm_regs regs{};
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_GET_REGS, &regs));
  return regs;
}

Result<void> Vcpu::set_regs(const kvm_regs& regs) const {
  kvm_regs copy = regs;
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_REGS, &copy));
  return ok();
}

Result<kvm_sregs> Vcpu::get_sregs() const {
  kvm_sregs sregs{};
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_GET_SREGS, &sregs));
  return sregs;
}

Result<void> Vcpu::set_sregs(const kvm_sregs& sregs) const {
  kvm_sregs copy = sregs;
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_SREGS, &copy));
  return ok();
}

Result<kvm_fpu> Vcpu::get_fpu() const {
  kvm_fpu fpu{};
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_GET_FPU, &fpu));
  return fpu;
}

Result<void> Vcpu::set_fpu(const kvm_fpu& fpu) const {
  kvm_fpu copy = fpu;
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_FPU, &copy));
  return ok();
}

Result<void> Vcpu::set_msrs(std::span<const kvm_msr_entry> msrs) const {
  FlexArray<kvm_msrs, kvm_msr_entry> request(msrs.size());
  request.header()->nmsrs = static_cast<uint32_t>(msrs.size());
  std::copy(msrs.begin(), msrs.end(), request.entries().begin());
  CVM_ASSIGN_OR_RETURN(const long written,
                       CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_MSRS, request.header()));
  // KVM_SET_MSRS stops at the first MSR it refuses and returns how many it wrote.
  if (static_cast<std::size_t>(written) < msrs.size()) {
    return make_error(ErrorCode::kKvm, "KVM_SET_MSRS: MSR {:#x} not accepted on vCPU {}",
                      msrs[static_cast<std::size_t>(written)].index, id_);
  }
  return ok();
}

Result<void> Vcpu::get_msrs(std::span<kvm_msr_entry> msrs) const {
  FlexArray<kvm_msrs, kvm_msr_entry> request(msrs.size());
  request.header()->nmsrs = static_cast<uint32_t>(msrs.size());
  std::copy(msrs.begin(), msrs.end(), request.entries().begin());
  CVM_ASSIGN_OR_RETURN(const long read,
                       CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_GET_MSRS, request.header()));
  if (static_cast<std::size_t>(read) < msrs.size()) {
    return make_error(ErrorCode::kKvm, "KVM_GET_MSRS: MSR {:#x} not readable on vCPU {}",
                      msrs[static_cast<std::size_t>(read)].index, id_);
  }
  std::copy(request.entries().begin(), request.entries().end(), msrs.begin());
  return ok();
}

Result<void> Vcpu::set_cpuid2(std::span<const kvm_cpuid_entry2> entries) const {
  FlexArray<kvm_cpuid2, kvm_cpuid_entry2> cpuid(entries.size());
  cpuid.header()->nent = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), cpuid.entries().begin());
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_CPUID2, cpuid.header()));
  return ok();
}

Result<kvm_lapic_state> Vcpu::get_lapic() const {
  kvm_lapic_state lapic{};
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_GET_LAPIC, &lapic));
  return lapic;
}

Result<void> Vcpu::set_lapic(const kvm_lapic_state& lapic) const {
  kvm_lapic_state copy = lapic;
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_LAPIC, &copy));
  return ok();
}

Result<kvm_mp_state> Vcpu::get_mp_state() const {
  kvm_mp_state state{};
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_GET_MP_STATE, &state));
  return state;
}

Result<void> Vcpu::set_mp_state(uint32_t mp_state) const {
  kvm_mp_state state{};
  state.mp_state = mp_state;
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_MP_STATE, &state));
  return ok();
}

Result<uint32_t> Vcpu::get_tsc_khz() const {
  CVM_ASSIGN_OR_RETURN(const long khz, CVM_KVM_IOCTL_VALUE(*sys_, fd_.get(), KVM_GET_TSC_KHZ, 0));
  return static_cast<uint32_t>(khz);
}

Result<void> Vcpu::set_tsc_khz(uint32_t khz) const {
  CVM_TRY(CVM_KVM_IOCTL_VALUE(*sys_, fd_.get(), KVM_SET_TSC_KHZ, khz));
  return ok();
}

Result<long> Vcpu::memory_encrypt_op(void* command) const {
  struct Raw24 {
    unsigned char bytes[24];
  };
  return ioctl_encrypt_op(*sys_, fd_.get(), static_cast<Raw24*>(command),
                          "KVM_MEMORY_ENCRYPT_OP");
}

}  // namespace cvm::kvm
