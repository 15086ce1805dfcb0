// SPDX-License-Identifier: Apache-2.0
#include "tests/unit/snp/snp_launch_harness.h"

#include <fmt/format.h>

#include "base/file.h"
#include "vmm/x86_vcpu.h"

namespace cvm::vmm::snp::testing {

std::vector<x86::CpuidEntry> sample_vcpu_cpuid() {
  return {
      {0x0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65},
      {0x1, 0, 0, 0x00800f12, 0x00800800, 0xfed83203, 0x178bfbff},
      {0x7, 0, 1, 0x0, 0x219c07ab, 0x0040068c, 0x10},
      {0xd, 0, 1, 0x7, 0x340, 0x340, 0x0},
      {0xd, 1, 1, 0xf, 0x340, 0x0, 0x0},
      {0xd, 2, 1, 0x100, 0x240, 0x0, 0x0},
      {0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d},
      {0x40000001, 0, 0, 0x01007afb, 0, 0, 0},
      {0x80000000, 0, 0, 0x80000021, 0x68747541, 0x444d4163, 0x69746e65},
      {0x80000008, 0, 0, 0x3030, 0x791ef257, 0x0, 0x10000},
  };
}

firmware::Blob make_blob(std::vector<std::byte> bytes) {
  return std::make_shared<const std::vector<std::byte>>(std::move(bytes));
}

firmware::Blob load_blob(const std::string& path) {
  auto bytes = read_file(path);
  return bytes ? make_blob(std::move(*bytes)) : nullptr;
}

HostFileReader snp_enabled_files() {
  return [](const std::string& path) -> Result<std::string> {
    if (path == kSevSnpParameterPath) {
      return std::string("Y\n");
    }
    return make_error(ErrorCode::kNotFound, "{}: No such file or directory", path);
  };
}

Result<void> LaunchHarness::create_memory(uint64_t firmware_size) {
  // Low RAM holding the ASEV sections (0x800000...), and the firmware just below 4 GiB, both
  // guest_memfd-backed as an SNP machine maps them (§3.6 step 6).
  const RamRange ranges[] = {{0, 16ull << 20}, {(4ull << 30) - firmware_size, firmware_size}};
  CVM_ASSIGN_OR_RETURN(memory, GuestMemory::create(*vm, ranges, RamBacking::kPrivate));
  return ok();
}

Result<void> LaunchHarness::create_vcpus(uint32_t count) {
  const std::vector<kvm_cpuid_entry2> cpuid = to_kvm_cpuid(sample_vcpu_cpuid());
  for (uint32_t id = 0; id < count; ++id) {
    CVM_ASSIGN_OR_RETURN(kvm::Vcpu vcpu, vm->create_vcpu(id));
    CVM_TRY(vcpu.set_cpuid2(cpuid));
    auto initialised = backend->init_vcpu(*vm, vcpu, *plan);
    if (!initialised) {
      return std::move(initialised).error().context("init_vcpu");
    }
    vcpus.push_back(std::move(vcpu));
  }
  return ok();
}

Result<void> LaunchHarness::run(const LaunchConfig& config) {
  SnpBackendHooks hooks;
  hooks.read_host_file = snp_enabled_files();
  hooks.log = [this](std::string_view line) { log.emplace_back(line); };
  backend = make_snp_backend(config.platform, hooks);
  CVM_ASSIGN_OR_RETURN(kvm::System opened, kvm::System::open(model));
  system.emplace(std::move(opened));
  host = backend->check_host(*system);
  if (!host->available) {
    return make_error(ErrorCode::kNotSupportedByHost, "check_host: {}", host->reason);
  }
  TeeLaunchInputs inputs{config.firmware, config.kernel,   config.initrd, config.cmdline,
                         config.vcpus,    16ull << 20,     config.platform};
  auto built = backend->build_launch_plan(inputs);
  if (!built) {
    return std::move(built).error().context("build_launch_plan");
  }
  plan = std::move(*built);
  CVM_ASSIGN_OR_RETURN(kvm::Vm created, system->create_vm(backend->requirements().vm_type));
  vm.emplace(std::move(created));
  CVM_TRY(vm->enable_split_irqchip());
  auto initialised = backend->init_vm(*system, *vm, *plan);
  if (!initialised) {
    return std::move(initialised).error().context("init_vm");
  }
  CVM_TRY(create_memory(config.firmware->size()));
  CVM_TRY(create_vcpus(config.vcpus));
  auto launched = backend->launch(*vm, *memory, vcpus, *plan);
  if (!launched) {
    return std::move(launched).error().context("launch");
  }
  return ok();
}

}  // namespace cvm::vmm::snp::testing
