// SPDX-License-Identifier: Apache-2.0
#include "tests/unit/tdx/tdx_abi_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

namespace cvm::tdx_test {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kSharedBit = 1ull << 47;  // GPAW 48 (§2.3)
// TD_PARAMS.TSC_FREQUENCY: units of 25 MHz, 100 MHz..10 GHz (Linux vmx/tdx_arch.h).
constexpr uint32_t kTscUnitKhz = 25'000;
constexpr uint32_t kMinTscUnits = 4, kMaxTscUnits = 400;
constexpr uint64_t kTdxOperandInvalid = 0xC000010000000000;

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index, uint32_t flags, uint32_t eax, uint32_t ebx,
                      uint32_t ecx, uint32_t edx) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.flags = flags;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

bool all_zero(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  return std::all_of(bytes, bytes + size, [](unsigned char b) { return b == 0; });
}

std::optional<uint32_t> vcpu_of(const std::string& role) {
  if (role.rfind("vcpu", 0) != 0) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(std::stoul(role.substr(4)));
}

}  // namespace

TdxAbiModel::TdxAbiModel(TdxModelConfig config)
    : config_(config),
      init_vm_busy_left_(config.init_vm_busy),
      vm_tsc_khz_(config.host_tsc_khz) {
  inner_.set_extension(KVM_CAP_VM_TYPES, static_cast<long>(config_.vm_types));
  inner_.set_extension(KVM_CAP_SPLIT_IRQCHIP, 1);
  inner_.set_extension(KVM_CAP_GUEST_MEMFD, 1);
  inner_.set_extension(KVM_CAP_USER_MEMORY2, 1);
  inner_.set_extension(KVM_CAP_MEMORY_ATTRIBUTES, KVM_MEMORY_ATTRIBUTE_PRIVATE);
  inner_.set_extension(KVM_CAP_EXIT_HYPERCALL, 1 << KVM_HC_MAP_GPA_RANGE);
  inner_.set_extension(KVM_CAP_X86_APIC_BUS_CYCLES_NS, 1);
  inner_.set_extension(KVM_CAP_VM_TSC_CONTROL, 1);
}

std::vector<kvm_cpuid_entry2> TdxAbiModel::configurable_cpuid() {
  // Eight entries, so that QEMU's initial 6 forces one E2BIG round.
  return {
      leaf(0x1, 0, 0, 0x0fff3fff, 0, 0x31fa3203, 0x0fdbfbff),
      leaf(0x7, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0, 0xdc3fafbf, 0x18417f5e, 0xac004410),
      leaf(0x7, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x00201c30, 0, 0, 0),
      leaf(0xd, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x000602e7, 0, 0, 0),
      leaf(0xd, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x0000000f, 0, 0x00019800, 0),
      leaf(0x14, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0xffffffff, 0, 0, 0),
      leaf(0x80000001, 0, 0, 0, 0, 0x00000121, 0x2c100800),
      leaf(0x80000008, 0, 0, 0x000000ff, 0, 0, 0),
  };
}

std::vector<kvm_cpuid_entry2> TdxAbiModel::host_cpuid() {
  return {
      leaf(0x0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69),
      leaf(0x1, 0, 0, 0x000806f8, 0x00010800, 0xfffa3223, 0x0f8bfbff),
      leaf(0x7, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x2, 0xf3bfbfbf, 0x1b415f6e, 0xbc10c410),
      leaf(0x7, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x00001c30, 0, 0, 0),
      leaf(0xd, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x000602e7, 0x2b00, 0x2b00, 0),
      leaf(0xd, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0x0000001f, 0x240, 0x00019900, 0),
      leaf(0x80000001, 0, 0, 0, 0, 0x00000121, 0x2c100800),
      leaf(0x80000008, 0, 0, 0x00003034, 0, 0, 0),
  };
}

long TdxAbiModel::violation(std::string text, long result) {
  violations_.push_back(std::move(text));
  return result;
}

long TdxAbiModel::ioctl(int fd, unsigned long request, std::uintptr_t arg) {
  const std::string role = inner_.role_of(fd);
  std::optional<long> answer;
  {
    std::lock_guard lock(mutex_);
    const long result = handle(fd, role, request, arg);
    if (result != LONG_MIN) {
      answer = result;
    }
  }
  if (!answer) {
    const long result = inner_.ioctl(fd, request, arg);
    std::lock_guard lock(mutex_);
    if (request == KVM_CREATE_VCPU && result >= 0) {
      created_vcpus_.insert(static_cast<uint32_t>(arg));
    }
    if (request == KVM_CREATE_GUEST_MEMFD && result >= 0) {
      gmem_sizes_[static_cast<int>(result)] =
          reinterpret_cast<const kvm_create_guest_memfd*>(arg)->size;
    }
    return result;
  }
  if (*answer < 0) {
    inner_.fail_next(request, static_cast<int>(-*answer));
  }
  const long recorded = inner_.ioctl(fd, request, arg);  // records the call
  return *answer < 0 ? recorded : *answer;
}

/// LONG_MIN: not the model's business, RecordingSys answers.
long TdxAbiModel::handle(int fd, const std::string& role, unsigned long request,
                         std::uintptr_t arg) {
  switch (request) {
    case KVM_CREATE_VM:
      td_vm_ = arg == KVM_X86_TDX_VM;
      return LONG_MIN;
    case KVM_CREATE_VCPU:
      return create_vcpu(fd, arg);
    case KVM_ENABLE_CAP:
      return enable_cap(*reinterpret_cast<const kvm_enable_cap*>(arg));
    case KVM_SET_TSC_KHZ:
      return set_tsc_khz(role, arg);
    case KVM_CREATE_GUEST_MEMFD:
      return create_guest_memfd(fd, arg);
    case KVM_SET_USER_MEMORY_REGION:
      return td_vm_ ? violation("KVM_SET_USER_MEMORY_REGION (v1) on a TD: no guest_memfd")
                    : LONG_MIN;
    case KVM_SET_USER_MEMORY_REGION2:
      return set_region2(*reinterpret_cast<const kvm_userspace_memory_region2*>(arg));
    case KVM_SET_MEMORY_ATTRIBUTES:
      return set_attributes(*reinterpret_cast<const kvm_memory_attributes*>(arg));
    case KVM_GET_SUPPORTED_CPUID:
      return supported_cpuid(reinterpret_cast<kvm_cpuid2*>(arg));
    case KVM_SET_CPUID2: {
      const auto vcpu = vcpu_of(role);
      if (td_vm_ && vcpu && initialized_vcpus_.count(*vcpu) == 0) {
        return violation(fmt::format("KVM_SET_CPUID2 on vCPU {} before KVM_TDX_INIT_VCPU", *vcpu));
      }
      if (vcpu) {
        cpuid_set_vcpus_.insert(*vcpu);
      }
      return LONG_MIN;
    }
    case KVM_SET_REGS:
    case KVM_SET_SREGS:
    case KVM_SET_MSRS:
    case KVM_SET_FPU:
    case KVM_SET_LAPIC:
      return td_vm_ ? violation("vCPU register write on a TD (state owned by the TDX module)")
                    : LONG_MIN;
    case KVM_SET_TSS_ADDR:
    case KVM_SET_IDENTITY_MAP_ADDR:
      return td_vm_ ? violation("TSS/identity-map pages on a TD") : LONG_MIN;
    case KVM_MEMORY_ENCRYPT_OP:
      if (!td_vm_) {
        return violation("KVM_MEMORY_ENCRYPT_OP on a VM that is not a TD");
      }
      return tdx_command(role, *reinterpret_cast<kvm_tdx_cmd*>(arg));
    default:
      return LONG_MIN;
  }
}

long TdxAbiModel::create_vcpu(int /*fd*/, std::uintptr_t arg) {
  if (!td_vm_) {
    return LONG_MIN;
  }
  if (!split_irqchip_) {
    return violation("KVM_CREATE_VCPU on a TD without a split irqchip");
  }
  if (!init_vm_done_) {
    return violation(fmt::format("KVM_CREATE_VCPU {} before KVM_TDX_INIT_VM", arg), -EIO);
  }
  return LONG_MIN;
}

long TdxAbiModel::set_tsc_khz(const std::string& role, std::uintptr_t arg) {
  const auto khz = static_cast<uint32_t>(arg);
  if (role != "vm") {
    return td_vm_ ? violation(fmt::format("KVM_SET_TSC_KHZ on {} of a TD (the TDX module owns "
                                          "the TSC; only the VM-scoped call sets it)",
                                          role))
                  : LONG_MIN;
  }
  if (td_vm_ && init_vm_done_) {
    return violation("KVM_SET_TSC_KHZ on the VM after KVM_TDX_INIT_VM (goes into TD_PARAMS)");
  }
  if (khz >= config_.max_guest_tsc_khz) {
    return -EINVAL;  // beyond the host's TSC scaling: KVM's answer, not a rule cvmm broke
  }
  if (!created_vcpus_.empty()) {
    return violation(fmt::format("KVM_SET_TSC_KHZ on the VM after KVM_CREATE_VCPU ({} vCPUs)",
                                 created_vcpus_.size()));
  }
  vm_tsc_khz_ = khz == 0 ? config_.host_tsc_khz : khz;  // 0: the host's frequency
  return 0;
}

/// What KVM and the TDX module make of the VM TSC at INIT_VM (tdx.c setup_tdparams).
long TdxAbiModel::td_tsc_frequency(kvm_tdx_cmd& command) {
  const uint32_t units = vm_tsc_khz_ / kTscUnitKhz;
  if (vm_tsc_khz_ % kTscUnitKhz != 0) {
    return violation(fmt::format("KVM_TDX_INIT_VM with a VM TSC of {} kHz: KVM truncates it to "
                                 "{} kHz (25 MHz units)",
                                 vm_tsc_khz_, units * kTscUnitKhz));
  }
  if (units < kMinTscUnits || units > kMaxTscUnits) {
    command.hw_error = kTdxOperandInvalid;
    return violation(fmt::format("KVM_TDX_INIT_VM with a VM TSC of {} kHz: TDH.MNG.INIT "
                                 "refuses TSC_FREQUENCY {} (4 to 400)",
                                 vm_tsc_khz_, units));
  }
  td_tsc_khz_ = units * kTscUnitKhz;
  return 0;
}

long TdxAbiModel::enable_cap(const kvm_enable_cap& cap) {
  if (cap.flags != 0) {
    return violation("KVM_ENABLE_CAP with non-zero flags");
  }
  switch (cap.cap) {
    case KVM_CAP_SPLIT_IRQCHIP:
      split_irqchip_ = cap.args[0] == 24;
      return split_irqchip_ ? LONG_MIN : violation("split irqchip with other than 24 pins");
    case KVM_CAP_EXIT_HYPERCALL:
      return cap.args[0] == (1u << KVM_HC_MAP_GPA_RANGE)
                 ? LONG_MIN
                 : violation(fmt::format("KVM_CAP_EXIT_HYPERCALL args[0] {:#x}", cap.args[0]));
    case KVM_CAP_X86_APIC_BUS_CYCLES_NS:
      if (init_vm_done_) {
        return violation("APIC bus cycles set after KVM_TDX_INIT_VM");
      }
      if (cap.args[0] != 40) {
        return violation(
            fmt::format("APIC bus cycles {} ns, the TDX module fixes 40", cap.args[0]));
      }
      apic_bus_set_ = true;
      return LONG_MIN;
    default:
      return LONG_MIN;
  }
}

long TdxAbiModel::create_guest_memfd(int /*fd*/, std::uintptr_t arg) {
  const auto& request = *reinterpret_cast<const kvm_create_guest_memfd*>(arg);
  if (request.size == 0 || request.size % kPage != 0) {
    return violation(fmt::format("guest_memfd size {:#x}", request.size));
  }
  if (td_vm_ && request.flags != 0) {
    return violation(
        fmt::format("guest_memfd flags {:#x} on a TD (private memory)", request.flags));
  }
  if (!all_zero(request.reserved, sizeof(request.reserved))) {
    return violation("guest_memfd reserved fields not zero");
  }
  return LONG_MIN;  // ioctl() remembers the size of the fd RecordingSys hands out
}

long TdxAbiModel::set_region2(const kvm_userspace_memory_region2& region) {
  if (!td_vm_) {
    return LONG_MIN;
  }
  if ((region.flags & KVM_MEM_GUEST_MEMFD) == 0 || (region.flags & KVM_MEM_READONLY) != 0) {
    return violation(fmt::format("TD slot {} flags {:#x}: needs GUEST_MEMFD, no READONLY",
                                 region.slot, region.flags));
  }
  auto gmem = gmem_sizes_.find(static_cast<int>(region.guest_memfd));
  if (gmem == gmem_sizes_.end()) {
    return violation(
        fmt::format("TD slot {}: fd {} is not a guest_memfd", region.slot, region.guest_memfd));
  }
  if (region.guest_phys_addr % kPage != 0 || region.memory_size % kPage != 0 ||
      region.guest_memfd_offset % kPage != 0 ||
      region.guest_memfd_offset + region.memory_size > gmem->second) {
    return violation(fmt::format("TD slot {}: unaligned or outside its guest_memfd", region.slot));
  }
  if (region.pad1 != 0 || !all_zero(region.pad2, sizeof(region.pad2))) {
    return violation(fmt::format("TD slot {}: padding not zero", region.slot));
  }
  slots_.push_back({region.guest_phys_addr, region.memory_size});
  return LONG_MIN;
}

long TdxAbiModel::set_attributes(const kvm_memory_attributes& a) {
  if (a.flags != 0 || a.size == 0 || a.address % kPage != 0 || a.size % kPage != 0 ||
      (a.attributes & ~uint64_t{KVM_MEMORY_ATTRIBUTE_PRIVATE}) != 0) {
    return violation(
        fmt::format("KVM_SET_MEMORY_ATTRIBUTES gpa {:#x} size {:#x} attributes {:#x} "
                    "flags {:#x}",
                    a.address, a.size, a.attributes, a.flags));
  }
  // Remove [start, end) from the private intervals, then add it back if private.
  const uint64_t start = a.address, end = a.address + a.size;
  std::map<uint64_t, uint64_t> updated;
  for (const auto& [s, e] : private_) {
    if (e <= start || s >= end) {
      updated[s] = e;
      continue;
    }
    if (s < start) updated[s] = start;
    if (e > end) updated[end] = e;
  }
  if (a.attributes != 0) {
    updated[start] = end;
  }
  private_ = std::move(updated);
  return LONG_MIN;
}

bool TdxAbiModel::range_private(uint64_t gpa, uint64_t size) const {
  uint64_t cursor = gpa;
  const uint64_t end = gpa + size;
  while (cursor < end) {
    auto it = private_.upper_bound(cursor);
    if (it == private_.begin()) return false;
    --it;
    if (it->second <= cursor) return false;
    cursor = it->second;
  }
  return true;
}

bool TdxAbiModel::range_in_gmem_slot(uint64_t gpa, uint64_t size) const {
  return std::any_of(slots_.begin(), slots_.end(),
                     [&](const Slot& s) { return gpa >= s.gpa && gpa + size <= s.gpa + s.size; });
}

long TdxAbiModel::supported_cpuid(kvm_cpuid2* cpuid) {
  const auto entries = host_cpuid();
  if (cpuid->nent < entries.size()) {
    return -E2BIG;
  }
  cpuid->nent = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), cpuid->entries);
  return 0;
}

long TdxAbiModel::tdx_command(const std::string& role, kvm_tdx_cmd& command) {
  if (command.hw_error != 0) {
    return violation(
        fmt::format("kvm_tdx_cmd {}: hw_error {:#x} on input", command.id, command.hw_error));
  }
  if (command.flags != 0 && command.id != KVM_TDX_INIT_MEM_REGION) {
    return violation(fmt::format("kvm_tdx_cmd {}: flags {:#x}", command.id, command.flags));
  }
  const auto vcpu = vcpu_of(role);
  const bool vm_scope = command.id == KVM_TDX_CAPABILITIES || command.id == KVM_TDX_INIT_VM ||
                        command.id == KVM_TDX_FINALIZE_VM;
  if (vm_scope != (role == "vm") || (!vm_scope && !vcpu)) {
    return violation(fmt::format("kvm_tdx_cmd {} issued on the {} fd", command.id, role));
  }
  switch (command.id) {
    case KVM_TDX_CAPABILITIES:
      return capabilities(command);
    case KVM_TDX_INIT_VM:
      return init_vm(command);
    case KVM_TDX_INIT_VCPU:
      return init_vcpu(*vcpu, command);
    case KVM_TDX_GET_CPUID:
      return get_cpuid(*vcpu, command);
    case KVM_TDX_INIT_MEM_REGION:
      return init_mem_region(*vcpu, command);
    case KVM_TDX_FINALIZE_VM:
      return finalize(command);
    default:
      return violation(fmt::format("unknown kvm_tdx_cmd id {}", command.id));
  }
}

long TdxAbiModel::capabilities(kvm_tdx_cmd& command) {
  auto* caps = reinterpret_cast<kvm_tdx_capabilities*>(command.data);
  if (caps == nullptr) {
    return violation("KVM_TDX_CAPABILITIES without a buffer");
  }
  if (!all_zero(caps, offsetof(kvm_tdx_capabilities, cpuid))) {
    return violation("KVM_TDX_CAPABILITIES: input fields before cpuid not zero");
  }
  const auto entries = configurable_cpuid();
  if (caps->cpuid.nent < entries.size()) {
    return -E2BIG;
  }
  caps->supported_attrs = config_.supported_attrs;
  caps->supported_xfam = config_.supported_xfam;
  caps->kernel_tdvmcallinfo_1_r11 = 0;
  caps->user_tdvmcallinfo_1_r11 = 0x3;
  caps->cpuid.nent = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), caps->cpuid.entries);
  capabilities_ = true;
  return 0;
}

long TdxAbiModel::init_vm(kvm_tdx_cmd& command) {
  const auto* init = reinterpret_cast<const kvm_tdx_init_vm*>(command.data);
  if (init_vm_done_) {
    return violation("KVM_TDX_INIT_VM issued twice");
  }
  if (!capabilities_) {
    return violation("KVM_TDX_INIT_VM before KVM_TDX_CAPABILITIES");
  }
  if (!apic_bus_set_) {
    return violation("KVM_TDX_INIT_VM before KVM_CAP_X86_APIC_BUS_CYCLES_NS");
  }
  if ((init->attributes & ~config_.supported_attrs) != 0 ||
      (init->xfam & ~config_.supported_xfam) != 0) {
    command.hw_error = 0xC000010000000000;  // TDX_OPERAND_INVALID
    return violation(fmt::format("KVM_TDX_INIT_VM attributes {:#x} / xfam {:#x} not supported",
                                 init->attributes, init->xfam));
  }
  if (!all_zero(init->reserved, sizeof(init->reserved)) || init->cpuid.padding != 0) {
    return violation("KVM_TDX_INIT_VM reserved fields not zero");
  }
  const auto allowed = configurable_cpuid();
  for (uint32_t i = 0; i < init->cpuid.nent; ++i) {
    const kvm_cpuid_entry2& e = init->cpuid.entries[i];
    const auto match = std::find_if(allowed.begin(), allowed.end(), [&](const auto& c) {
      return c.function == e.function && c.index == e.index;
    });
    if (match == allowed.end() || (e.eax & ~match->eax) || (e.ebx & ~match->ebx) ||
        (e.ecx & ~match->ecx) || (e.edx & ~match->edx)) {
      return violation(fmt::format("KVM_TDX_INIT_VM CPUID {:#x}.{} not configurable as given",
                                   e.function, e.index));
    }
  }
  if (init_vm_busy_left_ > 0) {
    --init_vm_busy_left_;
    return -EAGAIN;
  }
  if (const long tsc = td_tsc_frequency(command); tsc != 0) {
    return tsc;
  }
  init_vm_header_ = *init;
  init_vm_cpuid_.assign(init->cpuid.entries, init->cpuid.entries + init->cpuid.nent);
  init_vm_done_ = true;
  return 0;
}

long TdxAbiModel::init_vcpu(uint32_t vcpu, kvm_tdx_cmd& command) {
  if (initialized_vcpus_.count(vcpu) != 0) {
    return violation(fmt::format("KVM_TDX_INIT_VCPU twice on vCPU {}", vcpu));
  }
  if (cpuid_set_vcpus_.count(vcpu) != 0) {
    return violation(fmt::format("KVM_TDX_INIT_VCPU on vCPU {} after KVM_SET_CPUID2", vcpu));
  }
  initialized_vcpus_.insert(vcpu);
  hob_gpas_[vcpu] = command.data;
  return 0;
}

long TdxAbiModel::get_cpuid(uint32_t vcpu, kvm_tdx_cmd& command) {
  if (initialized_vcpus_.count(vcpu) == 0) {
    return violation(fmt::format("KVM_TDX_GET_CPUID on vCPU {} before KVM_TDX_INIT_VCPU", vcpu));
  }
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(command.data);
  const auto entries = init_vm_cpuid_;
  if (cpuid->nent < entries.size()) {
    cpuid->nent = static_cast<uint32_t>(entries.size());
    return -E2BIG;
  }
  cpuid->nent = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), cpuid->entries);
  return 0;
}

long TdxAbiModel::init_mem_region(uint32_t vcpu, kvm_tdx_cmd& command) {
  auto* region = reinterpret_cast<kvm_tdx_init_mem_region*>(command.data);
  if (finalized_) {
    return violation("KVM_TDX_INIT_MEM_REGION after KVM_TDX_FINALIZE_VM");
  }
  if (initialized_vcpus_ != created_vcpus_ || initialized_vcpus_.count(vcpu) == 0) {
    return violation(
        fmt::format("KVM_TDX_INIT_MEM_REGION before KVM_TDX_INIT_VCPU of all {} "
                    "vCPUs ({} done)",
                    created_vcpus_.size(), initialized_vcpus_.size()));
  }
  if ((command.flags & ~uint32_t{KVM_TDX_MEASURE_MEMORY_REGION}) != 0) {
    return violation(fmt::format("KVM_TDX_INIT_MEM_REGION flags {:#x}", command.flags));
  }
  if (region->source_addr == 0 || region->source_addr % kPage != 0) {
    return violation(
        fmt::format("KVM_TDX_INIT_MEM_REGION source {:#x} not 4 KiB aligned", region->source_addr));
  }
  const uint64_t size = region->nr_pages * kPage;
  if (region->nr_pages == 0 || region->gpa % kPage != 0 || (region->gpa & kSharedBit) != 0) {
    return violation(
        fmt::format("KVM_TDX_INIT_MEM_REGION gpa {:#x} / {} pages", region->gpa, region->nr_pages));
  }
  if (!range_in_gmem_slot(region->gpa, size)) {
    return violation(
        fmt::format("KVM_TDX_INIT_MEM_REGION gpa {:#x}+{:#x} not in a guest_memfd "
                    "slot",
                    region->gpa, size));
  }
  if (!range_private(region->gpa, size)) {
    return violation(
        fmt::format("KVM_TDX_INIT_MEM_REGION gpa {:#x}+{:#x} is not private", region->gpa, size));
  }
  const uint64_t pages = config_.pages_per_call == 0
                             ? region->nr_pages
                             : std::min<uint64_t>(config_.pages_per_call, region->nr_pages);
  AddedRegion added{region->gpa, pages, (command.flags & KVM_TDX_MEASURE_MEMORY_REGION) != 0, {}};
  const auto* source = reinterpret_cast<const std::byte*>(region->source_addr);
  added.bytes.assign(source, source + pages * kPage);
  for (uint64_t i = 0; i < pages; ++i) {
    if (!added_pages_.insert(region->gpa + i * kPage).second) {
      return violation(fmt::format("page {:#x} added twice", region->gpa + i * kPage));
    }
  }
  added_.push_back(std::move(added));
  // Like KVM: write the advanced region back; EAGAIN while pages remain.
  region->source_addr += pages * kPage;
  region->gpa += pages * kPage;
  region->nr_pages -= pages;
  return region->nr_pages == 0 ? 0 : -EAGAIN;
}

long TdxAbiModel::finalize(kvm_tdx_cmd& command) {
  if (command.data != 0) {
    return violation("KVM_TDX_FINALIZE_VM data not 0");
  }
  if (!init_vm_done_ || finalized_) {
    return violation(finalized_ ? "KVM_TDX_FINALIZE_VM twice"
                                : "KVM_TDX_FINALIZE_VM before INIT_VM");
  }
  finalized_ = true;
  return 0;
}

std::vector<std::string> TdxAbiModel::violations() const {
  std::lock_guard lock(mutex_);
  return violations_;
}

std::vector<AddedRegion> TdxAbiModel::added_regions() const {
  std::lock_guard lock(mutex_);
  return added_;
}

bool TdxAbiModel::finalized() const {
  std::lock_guard lock(mutex_);
  return finalized_;
}

std::map<uint32_t, uint64_t> TdxAbiModel::vcpu_hob_gpas() const {
  std::lock_guard lock(mutex_);
  return hob_gpas_;
}

std::vector<kvm_cpuid_entry2> TdxAbiModel::init_vm_cpuid() const {
  std::lock_guard lock(mutex_);
  return init_vm_cpuid_;
}

uint32_t TdxAbiModel::td_tsc_khz() const {
  std::lock_guard lock(mutex_);
  return td_tsc_khz_;
}

kvm_tdx_init_vm TdxAbiModel::init_vm_header() const {
  std::lock_guard lock(mutex_);
  return init_vm_header_;
}

}  // namespace cvm::tdx_test
