// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_backend.h"

#include <fcntl.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "base/unique_fd.h"
#include "firmware/snp/cpu_models.h"
#include "firmware/snp/kernel_hashes.h"
#include "firmware/snp/lower.h"
#include "firmware/snp/snp_launch_plan.h"
#include "firmware/snp/vmsa.h"
#include "vmm/kvm/ioctl.h"
#include "vmm/private_memory.h"
#include "vmm/snp/sev_command.h"
#include "vmm/snp/snp_certs.h"
#include "vmm/snp/snp_exits.h"
#include "vmm/snp/snp_policy.h"
#include "vmm/snp/snp_vcpu_state.h"

namespace cvm::vmm::snp {
namespace {

namespace fw = firmware::snp;

Result<uint32_t> vcpu_signature(const PlatformConfig& platform) {
  const std::string_view name =
      platform.snp_vcpu_model.empty() ? kDefaultSnpVcpuModel : platform.snp_vcpu_model;
  const auto model = fw::find_cpu_model(name);
  if (!model) {
    return make_error(ErrorCode::kInvalidArgument, "unknown SNP vCPU model '{}'; known models: {}",
                      name, fw::known_cpu_model_names());
  }
  return model->signature();
}

// KVM_SEV_INIT2 vmsa_features: SEV_FEATURES without SNPActive, which KVM sets itself.
uint64_t init2_vmsa_features(const PlatformConfig& platform) {
  return platform.snp_vmsa_features.value_or(0) & ~fw::kSevFeatureSnpActive;
}

std::span<const uint8_t> bytes(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

class SnpBackend final : public TeeBackend {
 public:
  SnpBackend(PlatformConfig platform, SnpBackendHooks hooks)
      : platform_(std::move(platform)), hooks_(std::move(hooks)) {
    if (!hooks_.log) {
      hooks_.log = [](std::string_view line) {
        std::fprintf(stderr, "cvmm: %.*s\n", static_cast<int>(line.size()), line.data());
      };
    }
  }

  std::string_view name() const noexcept override { return "sev-snp"; }

  TeeRequirements requirements() const noexcept override {
    TeeRequirements r;
    r.vm_type = KVM_X86_SNP_VM;
    r.private_memory = true;
    r.vmm_sets_vcpu_registers = true;
    r.firmware_boot = true;
    r.vm_tsc_khz = false;
    r.legacy_vmx_pages = false;  // SVM needs no TSS / identity-map pages
    return r;
  }

  HostSupport check_host(const kvm::System& system) const override {
    HostSupport support = check_snp_host(system, hooks_.read_host_file);
    if (!platform_.snp_certs.empty()) {
      // Only a configured certificate table needs the ≈7.0 exit; a missing one is fatal here,
      // before any VM or guest memory exists.
      auto forwarding = check_cert_forwarding(system);
      support.findings.push_back(forwarding ? "SNP certificate requests (KVM_X86_SEV_SNP_REQ_CERTS): "
                                              "forwarded to userspace"
                                            : forwarding.error().message());
      if (!forwarding && support.reason.empty()) {
        support.reason = forwarding.error().message();
        support.available = false;
      }
    }
    return support;
  }

  Result<firmware::LaunchPlan> build_launch_plan(const TeeLaunchInputs& inputs) const override;
  Result<void> init_vm(const kvm::System& system, const kvm::Vm& vm,
                       const firmware::LaunchPlan& plan) override;
  Result<void> init_vcpu(const kvm::Vm& vm, const kvm::Vcpu& vcpu,
                         const firmware::LaunchPlan& plan) override;
  Result<void> launch(const kvm::Vm& vm, GuestMemory& memory, std::span<kvm::Vcpu> vcpus,
                      const firmware::LaunchPlan& plan) override;
  ExitInterceptor* exit_interceptor() noexcept override { return &interceptor_; }

 private:
  enum class Stage { kCreated, kVmInitialised, kLaunched };

  SnpFinishInputs finish_inputs() const {
    return SnpFinishInputs{policy_, bytes(platform_.host_data), bytes(platform_.snp_id_block),
                           bytes(platform_.snp_id_auth), platform_.snp_author_key_enabled};
  }
  Result<void> check_vm_inputs(const kvm::System& system);
  Result<void> start_launch(const kvm::Vm& vm);
  Result<void> program_vcpu(const kvm::Vm& vm, const kvm::Vcpu& vcpu,
                            const SnpVcpuProgram& program) const;

  PlatformConfig platform_;
  SnpBackendHooks hooks_;
  Stage stage_ = Stage::kCreated;
  UniqueFd sev_fd_;
  uint64_t policy_ = 0;
  std::optional<uint64_t> policy_bits_;
  SnpCertificates certificates_;  // the validated --platform snp_certs table, or empty
  SnpExitInterceptor interceptor_;
};

Result<firmware::LaunchPlan> SnpBackend::build_launch_plan(const TeeLaunchInputs& inputs) const {
  if (!inputs.firmware || inputs.firmware->empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SEV-SNP guests boot through firmware: --firmware (an OVMF image with SEV "
                      "metadata) is required");
  }
  CVM_ASSIGN_OR_RETURN(const uint32_t signature, vcpu_signature(inputs.platform));
  fw::SnpLaunchInputs snp;
  snp.mode = fw::SevMode::kSnp;
  snp.firmware = inputs.firmware;
  snp.vcpus = inputs.vcpu_count;
  snp.vmm = fw::VmmType::kCvmm;
  snp.cpu_signature = signature;
  snp.guest_features = init2_vmsa_features(inputs.platform) | fw::kSevFeatureSnpActive;
  if (inputs.kernel && !inputs.kernel->empty()) {
    const std::span<const std::byte> initrd =
        inputs.initrd ? std::span<const std::byte>(*inputs.initrd) : std::span<const std::byte>();
    snp.kernel_hashes = fw::compute_kernel_hashes(*inputs.kernel, initrd, inputs.cmdline);
  }
  return fw::build_snp_launch_plan(snp);
}

Result<void> SnpBackend::check_vm_inputs(const kvm::System& system) {
  CVM_ASSIGN_OR_RETURN(const auto supported, read_sev_attribute(system, KVM_X86_SEV_VMSA_FEATURES));
  if (!supported) {
    return make_error(ErrorCode::kNotSupportedByHost,
                      "KVM does not report KVM_X86_SEV_VMSA_FEATURES: KVM_SEV_INIT2 needs Linux "
                      "6.10+ (SNP 6.11+)");
  }
  const uint64_t features = init2_vmsa_features(platform_);
  if ((features & ~*supported) != 0) {
    return make_error(ErrorCode::kNotSupportedByHost,
                      "SNP VMSA features {:#x}: bits {:#x} are not supported by this host "
                      "(KVM_X86_SEV_VMSA_FEATURES = {:#x})",
                      features, features & ~*supported, *supported);
  }
  CVM_ASSIGN_OR_RETURN(policy_bits_, read_sev_attribute(system, KVM_X86_SNP_POLICY_BITS));
  policy_ = platform_.snp_policy.value_or(kDefaultSnpPolicy);
  CVM_TRY(check_snp_policy(policy_, policy_bits_));
  CVM_TRY(check_finish_inputs(finish_inputs()));
  if (!platform_.snp_certs.empty()) {
    CVM_TRY(check_cert_forwarding(system));
    CVM_ASSIGN_OR_RETURN(certificates_, load_snp_certificates(platform_.snp_certs));
  }
  return ok();
}

Result<void> SnpBackend::start_launch(const kvm::Vm& vm) {
  kvm_sev_init init{};
  init.vmsa_features = init2_vmsa_features(platform_);
  init.ghcb_version = kSnpGhcbVersion;
  CVM_TRY(run_sev_command(vm, sev_fd_.get(), KVM_SEV_INIT2, &init, "KVM_SEV_INIT2"));
  kvm_sev_snp_launch_start start{};
  start.policy = policy_;
  auto started = run_sev_command(vm, sev_fd_.get(), KVM_SEV_SNP_LAUNCH_START, &start,
                                 "KVM_SEV_SNP_LAUNCH_START");
  if (!started) {
    return std::move(started).error().context(fmt::format(
        "SNP policy {}{}", describe_snp_policy(policy_),
        policy_bits_ ? "" : " (Linux 6.11-6.12 also require SMT, bit 16, and refuse SINGLE_SOCKET)"));
  }
  if (!platform_.snp_certs.empty()) {
    // Before any vCPU exists (KVM refuses it afterwards with EINVAL); the command reads no
    // argument (amd-memory-encryption.rst §21).
    CVM_TRY(run_sev_command(vm, sev_fd_.get(), KVM_SEV_SNP_ENABLE_REQ_CERTS, nullptr,
                            "KVM_SEV_SNP_ENABLE_REQ_CERTS"));
  }
  // Page-state changes and MapGPA reach cvmm as KVM_EXIT_HYPERCALL (§1.7, §3.6 step 5).
  return enable_map_gpa_range_exit(vm);
}

Result<void> SnpBackend::init_vm(const kvm::System& system, const kvm::Vm& vm,
                                 const firmware::LaunchPlan& /*plan*/) {
  if (stage_ != Stage::kCreated) {
    return make_error(ErrorCode::kInternal, "sev-snp: init_vm called twice");
  }
  if (vm.type() != KVM_X86_SNP_VM) {
    return make_error(ErrorCode::kInternal, "sev-snp: VM type {} is not KVM_X86_SNP_VM ({})",
                      vm.type(), KVM_X86_SNP_VM);
  }
  CVM_TRY(check_vm_inputs(system));
  const int fd = vm.sys().open(kSevDevicePath, O_RDWR);
  if (fd < 0) {
    return errno_error(ErrorCode::kNotSupportedByHost, fmt::format("open {}", kSevDevicePath), -fd);
  }
  sev_fd_ = UniqueFd(fd);
  CVM_TRY(start_launch(vm));
  stage_ = Stage::kVmInitialised;
  return ok();
}

Result<void> SnpBackend::program_vcpu(const kvm::Vm& vm, const kvm::Vcpu& vcpu,
                                      const SnpVcpuProgram& program) const {
  CVM_ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.get_sregs());
  apply_program_sregs(sregs, program.sregs);
  CVM_TRY(vcpu.set_sregs(sregs));
  CVM_TRY(vcpu.set_regs(program.regs));
  CVM_TRY(vcpu.set_fpu(program.fpu));
  kvm_xcrs xcrs{};
  xcrs.nr_xcrs = 1;
  xcrs.xcrs[0].xcr = 0;
  xcrs.xcrs[0].value = program.xcr0;
  CVM_TRY(CVM_KVM_IOCTL(vm.sys(), vcpu.fd(), KVM_SET_XCRS, &xcrs));
  kvm_msr_entry pat{};
  pat.index = kMsrIa32Pat;
  pat.data = program.pat;
  return vcpu.set_msrs(std::span<const kvm_msr_entry>(&pat, 1));
}

Result<void> SnpBackend::init_vcpu(const kvm::Vm& vm, const kvm::Vcpu& vcpu,
                                   const firmware::LaunchPlan& plan) {
  if (stage_ != Stage::kVmInitialised) {
    return make_error(ErrorCode::kInternal, "sev-snp: init_vcpu outside init_vm..launch");
  }
  CVM_ASSIGN_OR_RETURN(const fw::SnpLaunchCommands commands, fw::lower_snp_plan(plan));
  const uint32_t id = vcpu.id();
  if (id >= commands.vmsas.size()) {
    return make_error(ErrorCode::kInvalidArgument, "sev-snp: vCPU {} has no VMSA in the plan ({})",
                      id, commands.vmsas.size());
  }
  CVM_ASSIGN_OR_RETURN(const uint32_t signature, vcpu_signature(platform_));
  const SnpVcpuProgram program = snp_vcpu_program(plan.vcpus[id], signature);
  CVM_ASSIGN_OR_RETURN(
      const fw::VcpuResetState state,
      kvm_vmsa_state(program.regs, program.sregs, program.fpu, program.xcr0, program.pat,
                     init2_vmsa_features(platform_) | fw::kSevFeatureSnpActive));
  const std::vector<std::byte> expected = fw::encode_vmsa(state);
  const std::span<const std::byte> planned = commands.vmsas[id];
  const auto mismatch = std::mismatch(expected.begin(), expected.end(), planned.begin(),
                                      planned.end());
  if (mismatch.first != expected.end() || mismatch.second != planned.end()) {
    return make_error(ErrorCode::kInternal,
                      "sev-snp: vCPU {}: the VMSA KVM would build differs from the launch plan's "
                      "at byte {:#x} (plan built for another configuration?)",
                      id, mismatch.first - expected.begin());
  }
  auto programmed = program_vcpu(vm, vcpu, program);
  if (!programmed) {
    return std::move(programmed).error().context(fmt::format("sev-snp: vCPU {}", id));
  }
  return ok();
}

Result<void> SnpBackend::launch(const kvm::Vm& vm, GuestMemory& memory,
                                std::span<kvm::Vcpu> vcpus, const firmware::LaunchPlan& plan) {
  if (stage_ != Stage::kVmInitialised) {
    return make_error(ErrorCode::kInternal, "sev-snp: launch outside init_vm..launch");
  }
  if (vcpus.size() != plan.vcpus.size() || vcpus.empty()) {
    return make_error(ErrorCode::kInternal, "sev-snp: {} vCPUs for a plan of {}", vcpus.size(),
                      plan.vcpus.size());
  }
  CVM_ASSIGN_OR_RETURN(const fw::SnpLaunchCommands commands, fw::lower_snp_plan(plan));
  for (const fw::SnpLaunchUpdate& update : commands.updates) {
    CVM_TRY(check_update_memory(memory, update));
  }
  std::vector<SnpCpuidFunction> cpuid;
  if (std::any_of(commands.updates.begin(), commands.updates.end(),
                  [](const auto& u) { return u.type == fw::SnpPageType::kCpuid; })) {
    CVM_ASSIGN_OR_RETURN(cpuid, vcpu_cpuid_functions(vm.sys(), vcpus[0]));
  }
  for (const fw::SnpLaunchUpdate& update : commands.updates) {
    // LAUNCH_UPDATE only populates private pages (§1.5, §3.4).
    CVM_TRY(vm.set_memory_attributes(update.gfn_start << 12, update.len,
                                     KVM_MEMORY_ATTRIBUTE_PRIVATE));
    CVM_TRY(snp_launch_update(vm, sev_fd_.get(), update, cpuid, hooks_.log));
  }
  CVM_TRY(snp_launch_finish(vm, sev_fd_.get(), finish_inputs()));
  interceptor_.attach(vm, memory);
  interceptor_.serve_certificates(certificates_.blob);
  stage_ = Stage::kLaunched;
  return ok();
}

}  // namespace

std::unique_ptr<TeeBackend> make_snp_backend(const PlatformConfig& platform) {
  return make_snp_backend(platform, SnpBackendHooks{});
}

std::unique_ptr<TeeBackend> make_snp_backend(const PlatformConfig& platform, SnpBackendHooks hooks) {
  return std::make_unique<SnpBackend>(platform, std::move(hooks));
}

}  // namespace cvm::vmm::snp
