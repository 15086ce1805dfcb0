// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/vm.h"

#include <sys/mman.h>

#include <algorithm>

#include "vmm/kvm/flex_array.h"
#include "vmm/kvm/ioctl.h"

namespace cvm::kvm {

Result<long> Vm::check_extension(long capability) const {
  auto result = CVM_KVM_IOCTL_VALUE(*sys_, fd_.get(), KVM_CHECK_EXTENSION,
                                    static_cast<unsigned long>(capability));
  if (!result) {
    return std::move(result).error().context(fmt::format("capability {}", capability));
  }
  return result;
}

Result<void> Vm::enable_cap(uint32_t capability, std::initializer_list<uint64_t> args) const {
  kvm_enable_cap cap{};
  cap.cap = capability;
  if (args.size() > std::size(cap.args)) {
    return make_error(ErrorCode::kInternal, "KVM_ENABLE_CAP {}: {} arguments, at most 4",
                      capability, args.size());
  }
  std::copy(args.begin(), args.end(), cap.args);
  auto result = CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_ENABLE_CAP, &cap);
  if (!result) {
    return std::move(result).error().context(fmt::format("enabling capability {}", capability));
  }
  return ok();
}

Result<void> Vm::enable_split_irqchip(uint32_t pins) const {
  return enable_cap(KVM_CAP_SPLIT_IRQCHIP, {pins});
}

Result<void> Vm::set_tss_addr(uint64_t gpa) const {
  CVM_TRY(CVM_KVM_IOCTL_VALUE(*sys_, fd_.get(), KVM_SET_TSS_ADDR, gpa));
  return ok();
}

Result<void> Vm::set_identity_map_addr(uint64_t gpa) const {
  uint64_t address = gpa;
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &address));
  return ok();
}

Result<void> Vm::set_tsc_khz(uint32_t khz) const {
  CVM_TRY(CVM_KVM_IOCTL_VALUE(*sys_, fd_.get(), KVM_SET_TSC_KHZ, khz));
  return ok();
}

Result<void> Vm::set_user_memory_region(const kvm_userspace_memory_region& r) const {
  kvm_userspace_memory_region region = r;
  auto result = CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_USER_MEMORY_REGION, &region);
  if (!result) {
    return std::move(result).error().context(fmt::format(
        "slot {} gpa {:#x} size {:#x}", r.slot, r.guest_phys_addr, r.memory_size));
  }
  return ok();
}

Result<void> Vm::set_user_memory_region2(const kvm_userspace_memory_region2& r) const {
  kvm_userspace_memory_region2 region = r;
  auto result = CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_USER_MEMORY_REGION2, &region);
  if (!result) {
    return std::move(result).error().context(fmt::format(
        "slot {} gpa {:#x} size {:#x}", r.slot, r.guest_phys_addr, r.memory_size));
  }
  return ok();
}

Result<GuestMemfd> Vm::create_guest_memfd(uint64_t size, uint64_t flags) const {
  kvm_create_guest_memfd request{};
  request.size = size;
  request.flags = flags;
  auto fd = CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_CREATE_GUEST_MEMFD, &request);
  if (!fd) {
    return std::move(fd).error().context(
        fmt::format("guest_memfd of {:#x} bytes, flags {:#x}", size, flags));
  }
  return GuestMemfd(UniqueFd(static_cast<int>(*fd)), size, flags);
}

Result<void> Vm::set_memory_attributes(uint64_t gpa, uint64_t size, uint64_t attributes) const {
  kvm_memory_attributes request{};
  request.address = gpa;
  request.size = size;
  request.attributes = attributes;
  auto result = CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_MEMORY_ATTRIBUTES, &request);
  if (!result) {
    return std::move(result).error().context(
        fmt::format("gpa {:#x} size {:#x} attributes {:#x}", gpa, size, attributes));
  }
  return ok();
}

Result<void> Vm::set_gsi_routing(std::span<const kvm_irq_routing_entry> entries) const {
  FlexArray<kvm_irq_routing, kvm_irq_routing_entry> routing(entries.size());
  routing.header()->nr = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), routing.entries().begin());
  CVM_TRY(CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SET_GSI_ROUTING, routing.header()));
  return ok();
}

Result<bool> Vm::signal_msi(uint64_t address, uint32_t data) const {
  kvm_msi msi{};
  msi.address_lo = static_cast<uint32_t>(address);
  msi.address_hi = static_cast<uint32_t>(address >> 32);
  msi.data = data;
  CVM_ASSIGN_OR_RETURN(const long delivered, CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_SIGNAL_MSI, &msi));
  return delivered > 0;
}

Result<void> Vm::irqfd(int event_fd, uint32_t gsi, bool deassign) const {
  kvm_irqfd request{};
  request.fd = static_cast<uint32_t>(event_fd);
  request.gsi = gsi;
  request.flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0;
  auto result = CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_IRQFD, &request);
  if (!result) {
    return std::move(result).error().context(fmt::format("gsi {}", gsi));
  }
  return ok();
}

Result<void> Vm::ioeventfd(const IoEventFdSpec& spec, bool deassign) const {
  kvm_ioeventfd request{};
  request.addr = spec.addr;
  request.len = spec.len;
  request.fd = spec.event_fd;
  request.flags = (spec.pio ? KVM_IOEVENTFD_FLAG_PIO : 0u) |
                  (spec.datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0u) |
                  (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0u);
  request.datamatch = spec.datamatch.value_or(0);
  auto result = CVM_KVM_IOCTL(*sys_, fd_.get(), KVM_IOEVENTFD, &request);
  if (!result) {
    return std::move(result).error().context(
        fmt::format("{} {:#x} length {}", spec.pio ? "port" : "mmio", spec.addr, spec.len));
  }
  return ok();
}

Result<long> Vm::memory_encrypt_op(void* command) const {
  // Bounds: the vendor command is 24 bytes (kvm_sev_cmd and kvm_tdx_cmd alike).
  struct Raw24 {
    unsigned char bytes[24];
  };
  return ioctl_encrypt_op(*sys_, fd_.get(), static_cast<Raw24*>(command),
                          "KVM_MEMORY_ENCRYPT_OP");
}

Result<Vcpu> Vm::create_vcpu(uint32_t id) const {
  auto fd = CVM_KVM_IOCTL_VALUE(*sys_, fd_.get(), KVM_CREATE_VCPU, id);
  if (!fd) {
    return std::move(fd).error().context(fmt::format("vCPU {}", id));
  }
  UniqueFd vcpu_fd(static_cast<int>(*fd));
  CVM_ASSIGN_OR_RETURN(HostMapping run,
                       HostMapping::map(*sys_, vcpu_mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED,
                                        vcpu_fd.get(), 0, fmt::format("kvm_run of vCPU {}", id)));
  return Vcpu(sys_, std::move(vcpu_fd), std::move(run), id);
}

}  // namespace cvm::kvm
