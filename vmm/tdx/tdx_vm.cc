// SPDX-License-Identifier: Apache-2.0
#include "vmm/tdx/tdx_vm.h"

#include <cerrno>
#include <cstring>

#include "vmm/kvm/flex_array.h"
#include "vmm/tdx/tdx_status.h"

namespace cvm::vmm::tdx {
namespace {

constexpr std::size_t kInitialCpuidEntries = 6;  // QEMU's start value (§2.2)
constexpr std::size_t kMaxCpuidEntries = 1024;
constexpr int kMaxStalledRetries = 10000;

/// "KVM_TDX_INIT_VM: KVM_MEMORY_ENCRYPT_OP: Invalid argument, TDX module status ..."; kTeeFirmware
/// when the module reported a status, kKvm otherwise. Keeps errno and the status.
Error command_error(std::string_view name, const Error& cause, uint64_t hw_error) {
  if (hw_error == 0) {
    return Error(ErrorCode::kKvm, fmt::format("{}: {}", name, cause.message()), cause.sys_errno());
  }
  return Error(ErrorCode::kTeeFirmware,
               fmt::format("{}: {}, TDX module status {}", name, cause.message(),
                           describe_tdx_status(hw_error)),
               cause.sys_errno(), hw_error);
}

/// One kvm_tdx_cmd on a VM or vCPU fd. hw_error starts at 0 (§2.1).
template <typename Target>
Result<void> tdx_command(const Target& target, uint32_t id, uint32_t flags, uint64_t data,
                         std::string_view name) {
  kvm_tdx_cmd command{};
  command.id = id;
  command.flags = flags;
  command.data = data;
  command.hw_error = 0;
  auto result = target.memory_encrypt_op(&command);
  if (!result) {
    return command_error(name, result.error(), command.hw_error);
  }
  return ok();
}

bool is_retry(const Error& error) {
  return error.sys_errno() == EAGAIN || error.sys_errno() == EINTR;
}

}  // namespace

Result<TdxCapabilities> query_capabilities(const kvm::Vm& vm) {
  for (std::size_t count = kInitialCpuidEntries; count <= kMaxCpuidEntries; count *= 2) {
    kvm::FlexArray<kvm_tdx_capabilities, kvm_cpuid_entry2> caps(count);
    caps.header()->cpuid.nent = static_cast<uint32_t>(count);
    auto result = tdx_command(vm, KVM_TDX_CAPABILITIES, 0,
                              reinterpret_cast<uint64_t>(caps.header()), "KVM_TDX_CAPABILITIES");
    if (!result && result.error().sys_errno() == E2BIG) {
      continue;
    }
    CVM_TRY(result);
    const kvm_tdx_capabilities& h = *caps.header();
    if (h.cpuid.nent > count) {
      return make_error(ErrorCode::kKvm, "KVM_TDX_CAPABILITIES: {} CPUID entries returned for {}",
                        h.cpuid.nent, count);
    }
    TdxCapabilities out;
    out.supported_attrs = h.supported_attrs;
    out.supported_xfam = h.supported_xfam;
    out.kernel_tdvmcallinfo_1_r11 = h.kernel_tdvmcallinfo_1_r11;
    out.user_tdvmcallinfo_1_r11 = h.user_tdvmcallinfo_1_r11;
    out.kernel_tdvmcallinfo_1_r12 = h.kernel_tdvmcallinfo_1_r12;
    out.user_tdvmcallinfo_1_r12 = h.user_tdvmcallinfo_1_r12;
    const auto entries = caps.entries().first(h.cpuid.nent);
    out.configurable_cpuid.assign(entries.begin(), entries.end());
    return out;
  }
  return make_error(ErrorCode::kKvm, "KVM_TDX_CAPABILITIES: more than {} CPUID entries",
                    kMaxCpuidEntries);
}

Result<void> init_td(const kvm::Vm& vm, const TdInitParams& params, int max_attempts) {
  kvm::FlexArray<kvm_tdx_init_vm, kvm_cpuid_entry2> init(params.cpuid.size());
  kvm_tdx_init_vm& h = *init.header();
  h.attributes = params.attributes;
  h.xfam = params.xfam;
  std::memcpy(h.mrconfigid, params.mrconfigid.data(), sizeof(h.mrconfigid));
  std::memcpy(h.mrowner, params.mrowner.data(), sizeof(h.mrowner));
  std::memcpy(h.mrownerconfig, params.mrownerconfig.data(), sizeof(h.mrownerconfig));
  h.cpuid.nent = static_cast<uint32_t>(params.cpuid.size());
  std::copy(params.cpuid.begin(), params.cpuid.end(), init.entries().begin());
  for (int attempt = 1;; ++attempt) {
    auto result =
        tdx_command(vm, KVM_TDX_INIT_VM, 0, reinterpret_cast<uint64_t>(&h), "KVM_TDX_INIT_VM");
    if (result || result.error().sys_errno() != EAGAIN || attempt >= max_attempts) {
      if (!result && result.error().sys_errno() == EAGAIN) {
        return std::move(result).error().context(
            fmt::format("still busy after {} attempts", attempt));
      }
      return result;
    }
  }
}

Result<void> init_td_vcpu(const kvm::Vcpu& vcpu, uint64_t td_hob_gpa) {
  auto result = tdx_command(vcpu, KVM_TDX_INIT_VCPU, 0, td_hob_gpa, "KVM_TDX_INIT_VCPU");
  if (!result) {
    return std::move(result).error().context(fmt::format("vCPU {}", vcpu.id()));
  }
  return ok();
}

Result<std::vector<kvm_cpuid_entry2>> td_vcpu_cpuid(const kvm::Vcpu& vcpu) {
  std::size_t count = 64;
  for (int attempt = 0; attempt < 4; ++attempt) {
    kvm::FlexArray<kvm_cpuid2, kvm_cpuid_entry2> cpuid(count);
    cpuid.header()->nent = static_cast<uint32_t>(count);
    auto result = tdx_command(vcpu, KVM_TDX_GET_CPUID, 0,
                              reinterpret_cast<uint64_t>(cpuid.header()), "KVM_TDX_GET_CPUID");
    // E2BIG: KVM wrote the number of entries it needs into nent (§2.1).
    if (!result && result.error().sys_errno() == E2BIG && cpuid.header()->nent > count &&
        cpuid.header()->nent <= kMaxCpuidEntries) {
      count = cpuid.header()->nent;
      continue;
    }
    CVM_TRY(result);
    const auto entries = cpuid.entries().first(std::min<std::size_t>(cpuid.header()->nent, count));
    return std::vector<kvm_cpuid_entry2>(entries.begin(), entries.end());
  }
  return make_error(ErrorCode::kKvm, "KVM_TDX_GET_CPUID: vCPU {}: entry count keeps growing",
                    vcpu.id());
}

Result<void> init_mem_region(const kvm::Vcpu& vcpu, const std::byte* source, uint64_t gpa,
                             uint64_t nr_pages, bool measure) {
  kvm_tdx_init_mem_region region{};
  region.source_addr = reinterpret_cast<uint64_t>(source);
  region.gpa = gpa;
  region.nr_pages = nr_pages;
  const uint32_t flags = measure ? KVM_TDX_MEASURE_MEMORY_REGION : 0;
  int stalled = 0;
  while (region.nr_pages > 0) {
    const uint64_t before = region.nr_pages;
    auto result = tdx_command(vcpu, KVM_TDX_INIT_MEM_REGION, flags,
                              reinterpret_cast<uint64_t>(&region), "KVM_TDX_INIT_MEM_REGION");
    if (result) {
      return ok();
    }
    // Interrupted: KVM wrote back the advanced source/gpa/nr_pages; continue from there.
    if (!is_retry(result.error()) || region.nr_pages > before ||
        (region.nr_pages == before && ++stalled > kMaxStalledRetries)) {
      return std::move(result).error().context(
          fmt::format("gpa {:#x}, {} pages{}", gpa, nr_pages, measure ? ", measured" : ""));
    }
    if (region.nr_pages < before) {
      stalled = 0;
    }
  }
  return ok();
}

Result<void> finalize_td(const kvm::Vm& vm) {
  return tdx_command(vm, KVM_TDX_FINALIZE_VM, 0, 0, "KVM_TDX_FINALIZE_VM");
}

std::vector<kvm_cpuid_entry2> filter_cpuid_for_td(std::span<const kvm_cpuid_entry2> wanted,
                                                  std::span<const kvm_cpuid_entry2> configurable) {
  std::vector<kvm_cpuid_entry2> out;
  for (const kvm_cpuid_entry2& mask : configurable) {
    const bool by_index = (mask.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0;
    for (const kvm_cpuid_entry2& entry : wanted) {
      if (entry.function != mask.function || (by_index && entry.index != mask.index)) {
        continue;
      }
      kvm_cpuid_entry2 filtered{};
      filtered.function = mask.function;
      filtered.index = mask.index;
      filtered.flags = mask.flags;
      filtered.eax = entry.eax & mask.eax;
      filtered.ebx = entry.ebx & mask.ebx;
      filtered.ecx = entry.ecx & mask.ecx;
      filtered.edx = entry.edx & mask.edx;
      out.push_back(filtered);
      break;
    }
  }
  return out;
}

uint64_t choose_xfam(std::span<const kvm_cpuid_entry2> supported_cpuid, uint64_t supported_xfam) {
  uint64_t wanted = 0;
  for (const kvm_cpuid_entry2& entry : supported_cpuid) {
    if (entry.function != 0xd) {
      continue;
    }
    if (entry.index == 0) {
      wanted |= entry.eax | (uint64_t{entry.edx} << 32);  // XCR0-managed features
    } else if (entry.index == 1) {
      wanted |= entry.ecx | (uint64_t{entry.edx} << 32);  // IA32_XSS-managed features
    }
  }
  return wanted & supported_xfam;
}

}  // namespace cvm::vmm::tdx
