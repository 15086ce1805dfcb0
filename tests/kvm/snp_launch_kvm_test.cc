// SPDX-License-Identifier: Apache-2.0
// The SEV-SNP backend against the host's real KVM and PSP: host check, then the TeeBackend
// steps of vmm/tee_backend.h up to KVM_SEV_SNP_LAUNCH_FINISH with the Debian OVMF.fd (no vCPU
// runs). Skips when /dev/kvm is absent, when the host cannot run SNP guests (with check_host's
// reason), or when OVMF.fd has no SEV metadata. On an SNP host this is the test that shows the
// policy, the CPUID page (firmware validation) and the LAUNCH_UPDATE sequence are accepted by
// a real PSP; the launch digest itself is covered by tests/unit/snp against cvmm-measure.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "base/file.h"
#include "tests/kvm/test_vm.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/system.h"
#include "vmm/snp/snp_backend.h"
#include "vmm/x86_vcpu.h"

namespace cvm::test {
namespace {

TEST(SnpKvmTest, LaunchesAndFinishesAnSnpGuest) {
  CVM_REQUIRE_KVM();
  auto system = kvm::System::open();
  ASSERT_TRUE(system.has_value()) << system.error().message();
  vmm::PlatformConfig platform;
  platform.tee = vmm::TeeKind::kSevSnp;
  platform.host_data.assign(32, 0x5a);
  auto backend = vmm::snp::make_snp_backend(platform);
  const vmm::HostSupport support = backend->check_host(*system);
  if (!support.available) {
    GTEST_SKIP() << "this host cannot run an SEV-SNP guest: " << support.reason;
  }
  auto firmware = read_file("/usr/share/ovmf/OVMF.fd");
  if (!firmware) {
    GTEST_SKIP() << "/usr/share/ovmf/OVMF.fd is absent";
  }
  constexpr uint64_t kMemory = 256ull << 20;
  vmm::TeeLaunchInputs inputs;
  inputs.firmware = std::make_shared<const std::vector<std::byte>>(std::move(*firmware));
  inputs.memory_bytes = kMemory;
  inputs.vcpu_count = 2;
  inputs.platform = platform;
  auto plan = backend->build_launch_plan(inputs);
  if (!plan && plan.error().code() == ErrorCode::kMalformedImage) {
    GTEST_SKIP() << "OVMF.fd cannot launch SNP: " << plan.error().message();
  }
  ASSERT_TRUE(plan.has_value()) << plan.error().message();

  auto vm = system->create_vm(backend->requirements().vm_type);
  ASSERT_TRUE(vm.has_value()) << vm.error().message();
  ASSERT_TRUE(vm->enable_split_irqchip().has_value());
  auto init = backend->init_vm(*system, *vm, *plan);
  ASSERT_TRUE(init.has_value()) << init.error().message();
  const uint64_t firmware_size = inputs.firmware->size();
  const vmm::RamRange ram[] = {{0, kMemory}, {(4ull << 30) - firmware_size, firmware_size}};
  auto memory = vmm::GuestMemory::create(*vm, ram, vmm::RamBacking::kPrivate);
  ASSERT_TRUE(memory.has_value()) << memory.error().message();

  auto cpuid = system->supported_cpuid();
  ASSERT_TRUE(cpuid.has_value()) << cpuid.error().message();
  auto msrs = system->supported_msrs();
  ASSERT_TRUE(msrs.has_value()) << msrs.error().message();
  vmm::VcpuSetup setup{*cpuid, *msrs, {}};
  setup.cpuid_policy.vcpu_count = inputs.vcpu_count;
  std::vector<kvm::Vcpu> vcpus;
  for (uint32_t i = 0; i < inputs.vcpu_count; ++i) {
    auto vcpu = vm->create_vcpu(i);
    ASSERT_TRUE(vcpu.has_value()) << vcpu.error().message();
    ASSERT_TRUE(vmm::configure_vcpu(*vcpu, setup).has_value());
    auto vcpu_init = backend->init_vcpu(*vm, *vcpu, *plan);
    ASSERT_TRUE(vcpu_init.has_value()) << vcpu_init.error().message();
    vcpus.push_back(std::move(*vcpu));
  }
  auto launched = backend->launch(*vm, **memory, vcpus, *plan);
  ASSERT_TRUE(launched.has_value()) << launched.error().message();
  EXPECT_NE(backend->exit_interceptor(), nullptr);
}

}  // namespace
}  // namespace cvm::test
