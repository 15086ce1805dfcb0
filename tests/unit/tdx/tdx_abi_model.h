// SPDX-License-Identifier: Apache-2.0
// TdxAbiModel: a kvm::Sys that behaves like a Linux 6.16+ KVM with a TDX module, as far as the
// rules of tee-kvm-reference §1.3-§1.5 and §2.1-§2.5 describe it, and records every rule the
// caller breaks. It wraps RecordingSys (fds, mmap, the call log) and answers the TDX
// subcommands itself:
//   - struct rules: hw_error 0 on input, flags only where defined, reserved/pad fields zero,
//     INIT_VM attributes/XFAM subsets of the capabilities, CPUID only configurable leaves with
//     only configurable bits, guest_memfd flags 0, slots with KVM_MEM_GUEST_MEMFD only
//   - order: split irqchip before KVM_CREATE_VCPU; CAPABILITIES before INIT_VM; APIC bus
//     cycles and VM TSC before INIT_VM; INIT_VM once and before any KVM_CREATE_VCPU (6.16
//     fails that with EIO); INIT_VCPU once per vCPU, then SET_CPUID2; INIT_VCPU of every vCPU
//     before the first INIT_MEM_REGION; INIT_MEM_REGION only before FINALIZE_VM; FINALIZE once
//   - TSC: the VM-scoped KVM_SET_TSC_KHZ only before any KVM_CREATE_VCPU (any VM type: KVM
//     answers EINVAL, x86.c kvm_arch_vm_ioctl) and, on a TD, before INIT_VM (real KVM accepts
//     it there and the TD keeps the old TSC: a silent misconfiguration the model refuses); no
//     vCPU-scoped KVM_SET_TSC_KHZ on a TD (KVM: EINVAL, the TSC is guest_tsc_protected); at
//     INIT_VM, TD_PARAMS.TSC_FREQUENCY = VM TSC kHz / 25000 (KVM truncates: a remainder is a
//     violation) and 4..400 units (100 MHz..10 GHz) or the TDX module's TDX_OPERAND_INVALID
//   - INIT_MEM_REGION: source 4 KiB aligned, gpa aligned and without the shared bit, inside
//     a guest_memfd slot, every page private (attribute set) and not added before
//   - no register writes (SET_REGS/SREGS/MSRS/FPU/LAPIC), no TSS/identity-map pages
// A broken rule fails the call with EINVAL (EIO for early vCPU creation) and is added to
// violations(). Pages added are kept (bytes copied from the source at call time) so tests can
// fold them into MRTD in issue order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/uapi.h"

namespace cvm::tdx_test {

/// One KVM_TDX_INIT_MEM_REGION call as the TDX module executed it.
struct AddedRegion {
  uint64_t gpa = 0;
  uint64_t nr_pages = 0;
  bool measure = false;
  std::vector<std::byte> bytes;  // nr_pages * 4096 bytes copied from the source
};

struct TdxModelConfig {
  uint64_t vm_types = (1u << KVM_X86_DEFAULT_VM) | (1u << KVM_X86_TDX_VM);
  uint64_t supported_attrs = (1ull << 28) | (1ull << 30) | (1ull << 63);
  uint64_t supported_xfam = 0x6e7;  // x87 SSE AVX (opmask zmm) PKRU-free subset
  /// Pages INIT_MEM_REGION handles per call before returning EAGAIN (0: all at once).
  uint64_t pages_per_call = 0;
  /// Calls of INIT_VM answered with EAGAIN before one succeeds.
  int init_vm_busy = 0;
  /// The host TSC frequency: KVM's default VM TSC (a multiple of 25 MHz on TDX hosts).
  uint32_t host_tsc_khz = 2'100'000;
  /// KVM refuses a VM TSC at or above this with EINVAL (kvm_caps.max_guest_tsc_khz; with VMX
  /// TSC scaling it is capped at 0xffffffff). Not a violation: cvmm cannot know it.
  uint32_t max_guest_tsc_khz = UINT32_MAX;
};

class TdxAbiModel final : public kvm::Sys {
 public:
  explicit TdxAbiModel(TdxModelConfig config = {});

  long ioctl(int fd, unsigned long request, std::uintptr_t arg) override;
  int open(const char* path, int flags) override { return inner_.open(path, flags); }
  void* mmap(std::size_t length, int prot, int flags, int fd, off_t offset, int* error) override {
    return inner_.mmap(length, prot, flags, fd, offset, error);
  }
  void munmap(void* addr, std::size_t length) noexcept override { inner_.munmap(addr, length); }
  int fallocate(int fd, int mode, off_t offset, off_t length) override {
    return inner_.fallocate(fd, mode, offset, length);
  }
  int madvise(void* addr, std::size_t length, int advice) override {
    return inner_.madvise(addr, length, advice);
  }

  kvm::RecordingSys& recorder() { return inner_; }
  std::vector<std::string> violations() const;
  std::vector<AddedRegion> added_regions() const;
  bool finalized() const;
  /// The TD HOB GPA each vCPU's INIT_VCPU passed, by vCPU id.
  std::map<uint32_t, uint64_t> vcpu_hob_gpas() const;
  /// The last INIT_VM's CPUID entries, attributes and XFAM.
  std::vector<kvm_cpuid_entry2> init_vm_cpuid() const;
  kvm_tdx_init_vm init_vm_header() const;
  /// The TD's TSC frequency as the TDX module set it at INIT_VM (TSC_FREQUENCY * 25000 kHz);
  /// 0 before INIT_VM.
  uint32_t td_tsc_khz() const;
  /// The configurable CPUID the model reports (also what KVM_TDX_GET_CPUID returns).
  static std::vector<kvm_cpuid_entry2> configurable_cpuid();
  static std::vector<kvm_cpuid_entry2> host_cpuid();

 private:
  long handle(int fd, const std::string& role, unsigned long request, std::uintptr_t arg);
  long tdx_command(const std::string& role, kvm_tdx_cmd& command);
  long capabilities(kvm_tdx_cmd& command);
  long init_vm(kvm_tdx_cmd& command);
  long init_vcpu(uint32_t vcpu, kvm_tdx_cmd& command);
  long get_cpuid(uint32_t vcpu, kvm_tdx_cmd& command);
  long init_mem_region(uint32_t vcpu, kvm_tdx_cmd& command);
  long finalize(kvm_tdx_cmd& command);
  long create_vcpu(int fd, std::uintptr_t arg);
  long set_tsc_khz(const std::string& role, std::uintptr_t arg);
  long td_tsc_frequency(kvm_tdx_cmd& command);
  long enable_cap(const kvm_enable_cap& cap);
  long create_guest_memfd(int fd, std::uintptr_t arg);
  long set_region2(const kvm_userspace_memory_region2& region);
  long set_attributes(const kvm_memory_attributes& attributes);
  long supported_cpuid(kvm_cpuid2* cpuid);
  bool range_private(uint64_t gpa, uint64_t size) const;
  bool range_in_gmem_slot(uint64_t gpa, uint64_t size) const;
  long violation(std::string text, long result = -22);

  struct Slot {
    uint64_t gpa, size;
  };

  TdxModelConfig config_;
  kvm::RecordingSys inner_;
  mutable std::mutex mutex_;
  std::vector<std::string> violations_;
  std::vector<AddedRegion> added_;
  std::set<uint64_t> added_pages_;
  std::map<uint64_t, uint64_t> private_;  // start -> end of private intervals
  std::vector<Slot> slots_;
  std::map<int, uint64_t> gmem_sizes_;
  std::set<uint32_t> created_vcpus_, initialized_vcpus_, cpuid_set_vcpus_;
  std::map<uint32_t, uint64_t> hob_gpas_;
  std::vector<kvm_cpuid_entry2> init_vm_cpuid_;
  kvm_tdx_init_vm init_vm_header_{};
  bool td_vm_ = false, split_irqchip_ = false, capabilities_ = false, init_vm_done_ = false;
  bool apic_bus_set_ = false, finalized_ = false;
  int init_vm_busy_left_ = 0;
  uint32_t vm_tsc_khz_ = 0;  // KVM's kvm->arch.default_tsc_khz
  uint32_t td_tsc_khz_ = 0;
};

}  // namespace cvm::tdx_test
