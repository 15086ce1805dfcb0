// SPDX-License-Identifier: Apache-2.0
// kvm::Vm: one KVM VM fd (architecture-anchors §B.5). Thin RAII wrappers over the VM ioctls:
// memory slots (v1 and v2), guest_memfd, memory attributes, split irqchip, GSI/MSI routing,
// irqfd/ioeventfd, TSS/identity-map addresses, TSC frequency, and the raw TEE entry point.
// Holds no policy and no TEE knowledge. Created by System::create_vm(); non-copyable, movable.
// Thread-safety: KVM serialises VM ioctls itself; this class has no mutable state of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>

#include "base/result.h"
#include "base/unique_fd.h"
#include "vmm/kvm/guest_memfd.h"
#include "vmm/kvm/sys.h"
#include "vmm/kvm/uapi.h"
#include "vmm/kvm/vcpu.h"

namespace cvm::kvm {

/// Number of IOAPIC pins KVM routes with a split irqchip (QEMU's and our choice, §1.2).
inline constexpr uint32_t kSplitIrqchipPins = 24;

/// An ioeventfd registration: a guest write to `addr` (port or MMIO) signals `event_fd`.
struct IoEventFdSpec {
  uint64_t addr = 0;
  uint32_t len = 0;                  // 0 (any), 1, 2, 4 or 8 bytes
  bool pio = false;                  // port I/O instead of MMIO
  std::optional<uint64_t> datamatch; // only writes of this value signal
  int event_fd = -1;
};

class Vm final {
 public:
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;
  Vm(Vm&&) noexcept = default;
  Vm& operator=(Vm&&) noexcept = default;
  ~Vm() = default;

  /// KVM_CHECK_EXTENSION on the VM fd (answers may differ per VM type).
  [[nodiscard]] Result<long> check_extension(long capability) const;
  /// KVM_ENABLE_CAP(capability, args...) on the VM fd; at most 4 args.
  [[nodiscard]] Result<void> enable_cap(uint32_t capability,
                                        std::initializer_list<uint64_t> args) const;
  /// KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP, pins): LAPICs in KVM, IOAPIC/PIC in userspace.
  [[nodiscard]] Result<void> enable_split_irqchip(uint32_t pins = kSplitIrqchipPins) const;
  /// KVM_SET_TSS_ADDR: three pages KVM needs below 4 GiB on Intel (outside RAM and MMIO).
  [[nodiscard]] Result<void> set_tss_addr(uint64_t gpa) const;
  /// KVM_SET_IDENTITY_MAP_ADDR: one page for the EPT identity map on Intel.
  [[nodiscard]] Result<void> set_identity_map_addr(uint64_t gpa) const;
  /// KVM_SET_TSC_KHZ on the VM fd (KVM_CAP_VM_TSC_CONTROL, Linux 5.19): the TSC frequency of
  /// vCPUs created afterwards, and of a TD (TD_PARAMS at KVM_TDX_INIT_VM). Call it before the
  /// first KVM_CREATE_VCPU: kernels with "KVM: x86: Reject KVM_SET_TSC_KHZ VM ioctl when vCPUs
  /// have been created" (2025) answer EINVAL afterwards, older ones accept it and apply it only
  /// to vCPUs created later (x86.c kvm_arch_vm_ioctl).
  [[nodiscard]] Result<void> set_tsc_khz(uint32_t khz) const;

  /// KVM_SET_USER_MEMORY_REGION (v1). The host range must stay mapped while the slot exists.
  [[nodiscard]] Result<void> set_user_memory_region(const kvm_userspace_memory_region& r) const;
  /// KVM_SET_USER_MEMORY_REGION2 (with KVM_MEM_GUEST_MEMFD for gmem-backed slots).
  [[nodiscard]] Result<void> set_user_memory_region2(const kvm_userspace_memory_region2& r) const;
  /// KVM_CREATE_GUEST_MEMFD(size, flags). `size` must be page-aligned and non-zero.
  [[nodiscard]] Result<GuestMemfd> create_guest_memfd(uint64_t size, uint64_t flags) const;
  /// KVM_SET_MEMORY_ATTRIBUTES over [gpa, gpa+size): KVM_MEMORY_ATTRIBUTE_PRIVATE or 0.
  [[nodiscard]] Result<void> set_memory_attributes(uint64_t gpa, uint64_t size,
                                                   uint64_t attributes) const;

  /// KVM_SET_GSI_ROUTING: replaces the whole routing table with `entries`.
  [[nodiscard]] Result<void> set_gsi_routing(std::span<const kvm_irq_routing_entry> entries) const;
  /// KVM_SIGNAL_MSI. Returns true if delivered, false if the guest blocked it.
  [[nodiscard]] Result<bool> signal_msi(uint64_t address, uint32_t data) const;
  /// KVM_IRQFD: signalling `event_fd` raises `gsi` (edge), or deassigns with `deassign`.
  [[nodiscard]] Result<void> irqfd(int event_fd, uint32_t gsi, bool deassign = false) const;
  /// KVM_IOEVENTFD: registers (or with `deassign` removes) a write-notification fd.
  [[nodiscard]] Result<void> ioeventfd(const IoEventFdSpec& spec, bool deassign = false) const;

  /// KVM_MEMORY_ENCRYPT_OP on the VM fd with a kvm_sev_cmd/kvm_tdx_cmd built by vmm/<tee>.
  /// Returns the ioctl result; the error carries errno, the caller adds the firmware status.
  [[nodiscard]] Result<long> memory_encrypt_op(void* command) const;

  /// KVM_CREATE_VCPU(id) and mmap of its kvm_run area.
  [[nodiscard]] Result<Vcpu> create_vcpu(uint32_t id) const;

  uint64_t type() const noexcept { return type_; }
  int fd() const noexcept { return fd_.get(); }
  Sys& sys() const noexcept { return *sys_; }

 private:
  friend class System;
  Vm(Sys* sys, UniqueFd fd, uint64_t type, std::size_t vcpu_mmap_size) noexcept
      : sys_(sys), fd_(std::move(fd)), type_(type), vcpu_mmap_size_(vcpu_mmap_size) {}

  Sys* sys_;
  UniqueFd fd_;
  uint64_t type_;
  std::size_t vcpu_mmap_size_;
};

}  // namespace cvm::kvm
