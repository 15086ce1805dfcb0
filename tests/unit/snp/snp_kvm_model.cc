// SPDX-License-Identifier: Apache-2.0
#include "tests/unit/snp/snp_kvm_model.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "firmware/snp/vmsa.h"
#include "tests/unit/snp/snp_launch_harness.h"
#include "vmm/snp/snp_vcpu_state.h"
#include "vmm/x86_vcpu.h"

namespace cvm::vmm::snp::testing {
namespace {

constexpr uint64_t kPage = 4096;

template <typename T>
T read_user(std::uintptr_t arg) {
  T value{};
  std::memcpy(&value, reinterpret_cast<const void*>(arg), sizeof(T));
  return value;
}

template <typename T>
void write_user(std::uintptr_t arg, const T& value) {
  std::memcpy(reinterpret_cast<void*>(arg), &value, sizeof(T));
}

template <typename T>
bool all_zero(const T& field) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&field);
  return std::all_of(bytes, bytes + sizeof(field), [](unsigned char b) { return b == 0; });
}

}  // namespace

long SnpKvmModel::violation(std::string what) {
  violations_.push_back(std::move(what));
  return -EINVAL;
}

int SnpKvmModel::new_fd(FdInfo info) {
  const int fd = ::eventfd(0, EFD_CLOEXEC);
  if (fd < 0) {
    return -errno;
  }
  fds_[fd] = info;
  return fd;
}

int SnpKvmModel::open(const char* path, int /*flags*/) {
  std::lock_guard lock(mutex_);
  const std::string name(path);
  if (name == "/dev/kvm") {
    return new_fd({Role::kKvm});
  }
  if (name == "/dev/sev") {
    return host_.sev_device ? new_fd({Role::kSev}) : -ENOENT;
  }
  return -ENOENT;
}

void* SnpKvmModel::mmap(std::size_t length, int /*prot*/, int flags, int /*fd*/, off_t /*offset*/,
                        int* error) {
  std::lock_guard lock(mutex_);
  void* addr = ::mmap(nullptr, length, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_NORESERVE), -1, 0);
  if (addr == MAP_FAILED) {
    *error = errno;
    return nullptr;
  }
  mappings_[addr] = length;
  return addr;
}

void SnpKvmModel::munmap(void* addr, std::size_t length) noexcept {
  std::lock_guard lock(mutex_);
  mappings_.erase(addr);
  ::munmap(addr, length);
}


int SnpKvmModel::fallocate(int fd, int mode, off_t offset, off_t length) {
  std::lock_guard lock(mutex_);
  const auto gmem = gmem_sizes_.find(fd);
  if (gmem == gmem_sizes_.end() || offset < 0 || length <= 0 ||
      static_cast<uint64_t>(offset + length) > gmem->second || (mode & FALLOC_FL_PUNCH_HOLE) == 0) {
    return static_cast<int>(violation(fmt::format("fallocate(fd {}, mode {:#x}, {:#x}, {:#x})", fd,
                                                  mode, offset, length)));
  }
  ++punched_holes_;
  return 0;
}

int SnpKvmModel::madvise(void* addr, std::size_t length, int advice) {
  return ::madvise(addr, length, advice) == 0 ? 0 : -errno;
}

long SnpKvmModel::ioctl(int fd, unsigned long request, std::uintptr_t arg) {
  std::lock_guard lock(mutex_);
  const auto it = fds_.find(fd);
  if (it == fds_.end()) {
    return violation(fmt::format("ioctl {:#x} on fd {} that no model call handed out", request, fd));
  }
  switch (it->second.role) {
    case Role::kKvm:
      return kvm_ioctl(request, arg);
    case Role::kVm:
      return vm_ioctl(request, arg);
    case Role::kVcpu:
      return vcpu_ioctl(it->second.index, request, arg);
    default:
      return violation(fmt::format("ioctl {:#x} on a /dev/sev or guest_memfd fd", request));
  }
}

long SnpKvmModel::check_extension(long capability) const {
  switch (capability) {
    case KVM_CAP_VM_TYPES:
      return static_cast<long>(host_.vm_types);
    case KVM_CAP_GUEST_MEMFD:
      return host_.guest_memfd;
    case KVM_CAP_MEMORY_ATTRIBUTES:
      return host_.memory_attributes;
    case KVM_CAP_EXIT_HYPERCALL:
      return host_.exit_hypercall;
    case KVM_CAP_USER_MEMORY2:
    case KVM_CAP_SPLIT_IRQCHIP:
      return 1;
    default:
      return 0;
  }
}

long SnpKvmModel::device_attr(std::uintptr_t arg) {
  const auto attr = read_user<kvm_device_attr>(arg);
  if (attr.flags != 0 || attr.group != KVM_X86_GRP_SEV || attr.addr == 0) {
    return violation(fmt::format("KVM_GET_DEVICE_ATTR: flags {} group {} addr {:#x}", attr.flags,
                                 attr.group, attr.addr));
  }
  std::optional<uint64_t> value;
  if (attr.attr == KVM_X86_SEV_VMSA_FEATURES) {
    value = host_.vmsa_features;
  } else if (attr.attr == KVM_X86_SNP_POLICY_BITS) {
    value = host_.policy_bits;
  } else if (attr.attr == KVM_X86_SEV_SNP_REQ_CERTS) {
    value = host_.req_certs;
  }
  if (!value) {
    return -ENXIO;
  }
  write_user(static_cast<std::uintptr_t>(attr.addr), *value);
  return 0;
}

long SnpKvmModel::kvm_ioctl(unsigned long request, std::uintptr_t arg) {
  switch (request) {
    case KVM_GET_API_VERSION:
      return 12;
    case KVM_GET_VCPU_MMAP_SIZE:
      return 3 * kPage;
    case KVM_CHECK_EXTENSION:
      return check_extension(static_cast<long>(arg));
    case KVM_GET_DEVICE_ATTR:
      return device_attr(arg);
    case KVM_GET_SUPPORTED_CPUID: {
      // The machine's generic vCPU set-up asks for the host's table (what sample_vcpu_cpuid()
      // stands for); the CPUID page is then built from what it programs into vCPU 0.
      auto* header = reinterpret_cast<kvm_cpuid2*>(arg);
      const auto table = to_kvm_cpuid(sample_vcpu_cpuid());
      if (header->nent < table.size()) {
        header->nent = static_cast<uint32_t>(table.size());
        return -E2BIG;
      }
      header->nent = static_cast<uint32_t>(table.size());
      std::copy(table.begin(), table.end(), header->entries);
      return 0;
    }
    case KVM_GET_MSR_INDEX_LIST: {
      auto* list = reinterpret_cast<kvm_msr_list*>(arg);
      constexpr uint32_t kMsrs[] = {0x174, 0x175, 0x176, kMsrIa32Pat};  // SYSENTER_*, PAT
      if (list->nmsrs < std::size(kMsrs)) {
        list->nmsrs = std::size(kMsrs);
        return -E2BIG;
      }
      list->nmsrs = std::size(kMsrs);
      std::copy(std::begin(kMsrs), std::end(kMsrs), list->indices);
      return 0;
    }
    case KVM_CREATE_VM:
      if (arg != KVM_X86_SNP_VM || vm_created_) {
        return violation(fmt::format("KVM_CREATE_VM({}): the model is one SNP VM", arg));
      }
      vm_created_ = true;
      return new_fd({Role::kVm});
    default:
      return violation(fmt::format("unexpected /dev/kvm ioctl {:#x}", request));
  }
}

long SnpKvmModel::vm_ioctl(unsigned long request, std::uintptr_t arg) {
  switch (request) {
    case KVM_CHECK_EXTENSION:
      return check_extension(static_cast<long>(arg));
    case KVM_ENABLE_CAP: {
      const auto cap = read_user<kvm_enable_cap>(arg);
      if (cap.flags != 0 || (cap.cap != KVM_CAP_SPLIT_IRQCHIP && cap.cap != KVM_CAP_EXIT_HYPERCALL)) {
        return violation(fmt::format("KVM_ENABLE_CAP {} flags {}", cap.cap, cap.flags));
      }
      if (cap.cap == KVM_CAP_EXIT_HYPERCALL &&
          (cap.args[0] & ~static_cast<uint64_t>(host_.exit_hypercall)) != 0) {
        return violation(fmt::format("KVM_CAP_EXIT_HYPERCALL args[0] {:#x}", cap.args[0]));
      }
      return 0;
    }
    case KVM_CREATE_GUEST_MEMFD:
      return create_guest_memfd(arg);
    case KVM_SET_USER_MEMORY_REGION2:
      return set_memory_region2(arg);
    case KVM_SET_USER_MEMORY_REGION:
      return violation("KVM_SET_USER_MEMORY_REGION (v1): SNP RAM must be guest_memfd-backed");
    case KVM_SET_MEMORY_ATTRIBUTES:
      return set_memory_attributes(arg);
    case KVM_CREATE_VCPU:
      return create_vcpu(arg);
    case KVM_MEMORY_ENCRYPT_OP:
      return sev_command(arg);
    case KVM_SET_GSI_ROUTING:
    case KVM_IRQFD:
    case KVM_IOEVENTFD:
      return 0;  // interrupt and notification plumbing of the split irqchip and virtio
    default:
      return violation(fmt::format("unexpected VM ioctl {:#x}", request));
  }
}

long SnpKvmModel::create_guest_memfd(std::uintptr_t arg) {
  const auto request = read_user<kvm_create_guest_memfd>(arg);
  if (request.flags != 0) {
    return violation(fmt::format("KVM_CREATE_GUEST_MEMFD flags {:#x}: SNP private memory takes "
                                 "no flags (§1.3)",
                                 request.flags));
  }
  if (!all_zero(request.reserved) || request.size == 0 || request.size % kPage != 0) {
    return violation(fmt::format("KVM_CREATE_GUEST_MEMFD size {:#x} / reserved", request.size));
  }
  const int fd = new_fd({Role::kGmem, static_cast<uint32_t>(gmem_count_++)});
  gmem_sizes_[fd] = request.size;
  return fd;
}

long SnpKvmModel::set_memory_region2(std::uintptr_t arg) {
  const auto r = read_user<kvm_userspace_memory_region2>(arg);
  if (r.flags != KVM_MEM_GUEST_MEMFD || r.pad1 != 0 || !all_zero(r.pad2)) {
    return violation(fmt::format("KVM_SET_USER_MEMORY_REGION2 slot {}: flags {:#x} or pads", r.slot,
                                 r.flags));
  }
  const auto gmem = gmem_sizes_.find(static_cast<int>(r.guest_memfd));
  if (gmem == gmem_sizes_.end() || r.guest_memfd_offset % kPage != 0 ||
      r.memory_size % kPage != 0 || r.guest_phys_addr % kPage != 0 ||
      r.guest_memfd_offset + r.memory_size > gmem->second) {
    return violation(fmt::format("KVM_SET_USER_MEMORY_REGION2 slot {}: bad guest_memfd range",
                                 r.slot));
  }
  slots_.push_back(Slot{r.guest_phys_addr, r.memory_size, static_cast<int>(r.guest_memfd)});
  return 0;
}

long SnpKvmModel::set_memory_attributes(std::uintptr_t arg) {
  const auto a = read_user<kvm_memory_attributes>(arg);
  if (a.flags != 0 || (a.attributes != 0 && a.attributes != KVM_MEMORY_ATTRIBUTE_PRIVATE) ||
      a.size == 0 || a.size % kPage != 0 || a.address % kPage != 0) {
    return violation(fmt::format("KVM_SET_MEMORY_ATTRIBUTES {:#x}+{:#x} attributes {:#x} flags {}",
                                 a.address, a.size, a.attributes, a.flags));
  }
  for (uint64_t gfn = a.address / kPage; gfn < (a.address + a.size) / kPage; ++gfn) {
    if (a.attributes != 0) {
      private_gfns_.insert(gfn);
    } else {
      private_gfns_.erase(gfn);
    }
  }
  return 0;
}

long SnpKvmModel::create_vcpu(std::uintptr_t id) {
  if (finished_) {
    return violation(fmt::format("KVM_CREATE_VCPU {} after LAUNCH_FINISH", id));
  }
  if (vcpus_.count(static_cast<uint32_t>(id)) != 0) {
    return -EEXIST;
  }
  // KVM's reset state: the architectural reset registers, RDX = 0x600 without a CPUID table.
  VcpuState state;
  const SnpVcpuProgram reset = snp_vcpu_program(firmware::VcpuStart{}, 0x600);
  state.regs = reset.regs;
  state.sregs = reset.sregs;
  state.fpu = reset.fpu;
  vcpus_[static_cast<uint32_t>(id)] = state;
  return new_fd({Role::kVcpu, static_cast<uint32_t>(id)});
}

long SnpKvmModel::vcpu_ioctl(uint32_t id, unsigned long request, std::uintptr_t arg) {
  VcpuState& vcpu = vcpus_[id];
  switch (request) {
    case KVM_GET_SREGS:
      write_user(arg, vcpu.sregs);
      return 0;
    case KVM_GET_REGS:
      write_user(arg, vcpu.regs);
      return 0;
    case KVM_GET_TSC_KHZ:
      return 2'000'000;
    case KVM_GET_LAPIC:
      write_user(arg, kvm_lapic_state{});
      return 0;
    case KVM_GET_CPUID2: {
      auto* header = reinterpret_cast<kvm_cpuid2*>(arg);
      if (header->nent < vcpu.cpuid.size()) {
        header->nent = static_cast<uint32_t>(vcpu.cpuid.size());
        return -E2BIG;
      }
      header->nent = static_cast<uint32_t>(vcpu.cpuid.size());
      std::copy(vcpu.cpuid.begin(), vcpu.cpuid.end(), header->entries);
      return 0;
    }
    default:
      return vcpu_set_state(id, request, arg);
  }
}

long SnpKvmModel::vcpu_set_state(uint32_t id, unsigned long request, std::uintptr_t arg) {
  VcpuState& vcpu = vcpus_[id];
  if (finished_) {
    return violation(fmt::format("vCPU {}: ioctl {:#x} after LAUNCH_FINISH (state is protected)",
                                 id, request));
  }
  switch (request) {
    case KVM_SET_SREGS:
      vcpu.sregs = read_user<kvm_sregs>(arg);
      return 0;
    case KVM_SET_REGS:
      vcpu.regs = read_user<kvm_regs>(arg);
      return 0;
    case KVM_SET_FPU:
      vcpu.fpu = read_user<kvm_fpu>(arg);
      return 0;
    case KVM_SET_XCRS: {
      const auto xcrs = read_user<kvm_xcrs>(arg);
      if (xcrs.flags != 0 || xcrs.nr_xcrs > KVM_MAX_XCRS || !all_zero(xcrs.padding)) {
        return violation(fmt::format("vCPU {}: KVM_SET_XCRS nr {} flags {}", id, xcrs.nr_xcrs,
                                     xcrs.flags));
      }
      for (uint32_t i = 0; i < xcrs.nr_xcrs; ++i) {
        if (xcrs.xcrs[i].xcr == 0) {
          vcpu.xcr0 = xcrs.xcrs[i].value;
        }
      }
      return 0;
    }
    case KVM_SET_MSRS: {
      const auto* msrs = reinterpret_cast<const kvm_msrs*>(arg);
      for (uint32_t i = 0; i < msrs->nmsrs; ++i) {
        if (msrs->entries[i].index == kMsrIa32Pat) {
          vcpu.pat = msrs->entries[i].data;
        }
      }
      return msrs->nmsrs;
    }
    case KVM_SET_CPUID2: {
      const auto* cpuid = reinterpret_cast<const kvm_cpuid2*>(arg);
      vcpu.cpuid.assign(cpuid->entries, cpuid->entries + cpuid->nent);
      return 0;
    }
    case KVM_SET_LAPIC:
    case KVM_SET_MP_STATE:
      return 0;
    default:
      return violation(fmt::format("vCPU {}: unexpected ioctl {:#x}", id, request));
  }
}

}  // namespace cvm::vmm::snp::testing
