// SPDX-License-Identifier: Apache-2.0
#include "vmm/tdx/tdx_backend.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/file.h"
#include "base/mapping.h"
#include "firmware/tdx/mrtd.h"
#include "vmm/private_memory.h"
#include "vmm/tdx/host_check.h"
#include "vmm/tdx/tdx_exits.h"
#include "vmm/tdx/tdx_vm.h"

namespace cvm::vmm::tdx {
namespace {

constexpr uint64_t kPage = firmware::tdx::kTdxPageSize;
constexpr std::size_t kMeasurementRegisterBytes = 48;

/// `bytes` (empty or 48 long) as the 48-byte INIT_VM field `name`.
Result<std::array<std::byte, 48>> measurement_field(const std::vector<uint8_t>& bytes,
                                                    std::string_view name) {
  std::array<std::byte, 48> out{};
  if (bytes.empty()) {
    return out;
  }
  if (bytes.size() != kMeasurementRegisterBytes) {
    return make_error(ErrorCode::kInvalidArgument, "TDX {}: {} bytes, expected 48", name,
                      bytes.size());
  }
  std::memcpy(out.data(), bytes.data(), out.size());
  return out;
}

class TdxBackend final : public TeeBackend {
 public:
  TdxBackend(PlatformConfig platform, TdxBackendOptions options)
      : platform_(std::move(platform)),
        options_(std::move(options)),
        exits_(options_.quote_service_socket.empty()
                   ? nullptr
                   : make_qgs_socket_service(options_.quote_service_socket)) {}

  std::string_view name() const noexcept override { return "tdx"; }

  TeeRequirements requirements() const noexcept override {
    return TeeRequirements{.vm_type = KVM_X86_TDX_VM,
                           .private_memory = true,
                           .vmm_sets_vcpu_registers = false,
                           .firmware_boot = true,
                           .vm_tsc_khz = true,
                           .legacy_vmx_pages = false};
  }

  HostSupport check_host(const kvm::System& system) const override {
    return check_tdx_host(system, options_.tdx_module_parameter);
  }

  Result<firmware::LaunchPlan> build_launch_plan(const TeeLaunchInputs& inputs) const override {
    if (!inputs.firmware || inputs.firmware->empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a TD boots through TDVF firmware: no firmware image given");
    }
    // Exactly what cvmm-measure tdx folds (tools/measure/tdx_command.cc).
    return firmware::tdx::build_tdx_launch_plan({.firmware = inputs.firmware,
                                                 .memory_size = inputs.memory_bytes,
                                                 .vcpus = inputs.vcpu_count});
  }

  Result<void> init_vm(const kvm::System& system, const kvm::Vm& vm,
                       const firmware::LaunchPlan& plan) override;
  Result<void> init_vcpu(const kvm::Vm& vm, const kvm::Vcpu& vcpu,
                         const firmware::LaunchPlan& plan) override;
  Result<void> launch(const kvm::Vm& vm, GuestMemory& memory, std::span<kvm::Vcpu> vcpus,
                      const firmware::LaunchPlan& plan) override;

  ExitInterceptor* exit_interceptor() noexcept override { return &exits_; }

 private:
  Result<TdInitParams> td_params(const kvm::System& system, const TdxCapabilities& caps) const;

  PlatformConfig platform_;
  TdxBackendOptions options_;
  TdxExitHandler exits_;
};

Result<TdInitParams> TdxBackend::td_params(const kvm::System& system,
                                           const TdxCapabilities& caps) const {
  // Linux TD guests need #VE on EPT violations disabled; QEMU's default attributes are this
  // bit alone (§2.3). DEBUG is never set: it would let the host read TD memory.
  if ((caps.supported_attrs & kTdAttributeSeptVeDisable) == 0) {
    return make_error(ErrorCode::kNotSupportedByHost,
                      "TDX module does not offer the SEPT_VE_DISABLE attribute (supported {:#x})",
                      caps.supported_attrs);
  }
  TdInitParams params;
  params.attributes = kTdAttributeSeptVeDisable;
  CVM_ASSIGN_OR_RETURN(params.mrconfigid, measurement_field(platform_.mrconfigid, "MRCONFIGID"));
  CVM_ASSIGN_OR_RETURN(params.mrowner, measurement_field(platform_.mrowner, "MROWNER"));
  CVM_ASSIGN_OR_RETURN(params.mrownerconfig,
                       measurement_field(platform_.mrownerconfig, "MROWNERCONFIG"));
  CVM_ASSIGN_OR_RETURN(const auto supported, system.supported_cpuid());
  params.cpuid = filter_cpuid_for_td(supported, caps.configurable_cpuid);
  params.xfam = choose_xfam(supported, caps.supported_xfam);
  return params;
}

Result<void> TdxBackend::init_vm(const kvm::System& system, const kvm::Vm& vm,
                                 const firmware::LaunchPlan& /*plan*/) {
  if (vm.type() != KVM_X86_TDX_VM) {
    return make_error(ErrorCode::kInternal, "TDX init_vm on a VM of type {}", vm.type());
  }
  // §2.5 steps 4, 6, 7, 9 (the machine did the split irqchip and the TSC, steps 3 and 8).
  CVM_TRY(enable_map_gpa_range_exit(vm));
  CVM_ASSIGN_OR_RETURN(const TdxCapabilities caps, query_capabilities(vm));
  exits_.set_capabilities(caps);
  CVM_ASSIGN_OR_RETURN(const long apic_bus, vm.check_extension(KVM_CAP_X86_APIC_BUS_CYCLES_NS));
  if (apic_bus <= 0) {
    return make_error(ErrorCode::kNotSupportedByHost,
                      "KVM_CAP_X86_APIC_BUS_CYCLES_NS is missing; a TD's APIC runs at the 25 MHz "
                      "the TDX module fixes (Linux 6.12+)");
  }
  CVM_TRY(vm.enable_cap(KVM_CAP_X86_APIC_BUS_CYCLES_NS, {kTdxApicBusCyclesNs}));
  CVM_ASSIGN_OR_RETURN(const TdInitParams params, td_params(system, caps));
  return init_td(vm, params);
}

Result<void> TdxBackend::init_vcpu(const kvm::Vm& /*vm*/, const kvm::Vcpu& vcpu,
                                   const firmware::LaunchPlan& plan) {
  CVM_TRY(init_td_vcpu(vcpu, plan.td_hob_gpa));
  // KVM's view of the vCPU's CPUID must agree with what the TDX module presents (§2.5 step 11).
  CVM_ASSIGN_OR_RETURN(const auto cpuid, td_vcpu_cpuid(vcpu));
  return vcpu.set_cpuid2(cpuid);
}

Result<void> TdxBackend::launch(const kvm::Vm& vm, GuestMemory& memory, std::span<kvm::Vcpu> vcpus,
                                const firmware::LaunchPlan& plan) {
  if (memory.backing() != RamBacking::kPrivate) {
    return make_error(ErrorCode::kInternal, "TDX launch: guest RAM is {}, not private",
                      to_string(memory.backing()));
  }
  if (vcpus.empty()) {
    return make_error(ErrorCode::kInternal, "TDX launch: no vCPU to issue INIT_MEM_REGION on");
  }
  const auto regions = firmware::tdx::lower_tdx_plan(plan);
  // The TDVF image lives outside RAM (below 4 GiB); it still needs private slots (§2.5 step 10).
  std::vector<RamRange> written;
  for (const auto& region : regions) {
    written.push_back({region.gpa, region.nr_pages * kPage});
  }
  CVM_TRY(memory.cover(vm, written));
  exits_.attach(vm, memory);
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const auto& region = regions[i];
    // INIT_MEM_REGION copies whole 4 KiB pages from a page-aligned source (§2.4).
    CVM_ASSIGN_OR_RETURN(Mapping source,
                         Mapping::anonymous(region.nr_pages * kPage, 0, plan.ranges[i].label));
    std::copy(region.contents.begin(), region.contents.end(), source.data());
    auto added =
        init_mem_region(vcpus[0], source.data(), region.gpa, region.nr_pages, region.measure);
    if (!added) {
      return std::move(added).error().context(plan.ranges[i].label);
    }
  }
  return finalize_td(vm);
}

}  // namespace

std::unique_ptr<TeeBackend> make_tdx_backend(const PlatformConfig& platform) {
  TdxBackendOptions options;
  options.quote_service_socket = platform.quote_socket;
  return make_tdx_backend(platform, std::move(options));
}

std::unique_ptr<TeeBackend> make_tdx_backend(const PlatformConfig& platform,
                                             TdxBackendOptions options) {
  return std::make_unique<TdxBackend>(platform, std::move(options));
}

}  // namespace cvm::vmm::tdx
