// SPDX-License-Identifier: Apache-2.0
// The TDX backend against the host's real KVM and TDX module: host check, then the TeeBackend
// steps of vmm/tee_backend.h up to KVM_TDX_FINALIZE_VM with the Debian OVMF.fd (no vCPU runs).
// Skips when /dev/kvm is absent, when the host cannot run TDs (with check_host's reason), or
// when OVMF.fd has no TDVF metadata. On a TDX host this is the test that shows the CPUID,
// attributes and XFAM the backend chooses are accepted by a real TDX module.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "base/file.h"
#include "firmware/tdx/td_hob.h"
#include "firmware/tdx/tdvf_metadata.h"
#include "tests/kvm/test_vm.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/system.h"
#include "vmm/tdx/tdx_backend.h"

namespace cvm::test {
namespace {

TEST(TdxKvmTest, LaunchesAndFinalizesATd) {
  CVM_REQUIRE_KVM();
  auto system = kvm::System::open();
  ASSERT_TRUE(system.has_value()) << system.error().message();
  vmm::PlatformConfig platform;
  platform.tee = vmm::TeeKind::kTdx;
  auto backend = vmm::tdx::make_tdx_backend(platform);
  const vmm::HostSupport support = backend->check_host(*system);
  if (!support.available) {
    GTEST_SKIP() << "this host cannot run a TD: " << support.reason;
  }
  auto firmware = read_file("/usr/share/ovmf/OVMF.fd");
  if (!firmware || !firmware::tdx::parse_tdvf_metadata(*firmware)) {
    GTEST_SKIP() << "/usr/share/ovmf/OVMF.fd is absent or has no TDVF metadata";
  }
  constexpr uint64_t kMemory = 256ull << 20;
  vmm::TeeLaunchInputs inputs;
  inputs.firmware = std::make_shared<const std::vector<std::byte>>(std::move(*firmware));
  inputs.memory_bytes = kMemory;
  inputs.vcpu_count = 2;
  auto plan = backend->build_launch_plan(inputs);
  ASSERT_TRUE(plan.has_value()) << plan.error().message();

  auto vm = system->create_vm(backend->requirements().vm_type);
  ASSERT_TRUE(vm.has_value()) << vm.error().message();
  ASSERT_TRUE(vm->enable_split_irqchip().has_value());
  auto init = backend->init_vm(*system, *vm, *plan);
  ASSERT_TRUE(init.has_value()) << init.error().message();
  const vmm::RamRange ram[] = {{0, kMemory}};
  auto memory = vmm::GuestMemory::create(*vm, ram, vmm::RamBacking::kPrivate);
  ASSERT_TRUE(memory.has_value()) << memory.error().message();
  std::vector<kvm::Vcpu> vcpus;
  for (uint32_t i = 0; i < inputs.vcpu_count; ++i) {
    auto vcpu = vm->create_vcpu(i);
    ASSERT_TRUE(vcpu.has_value()) << vcpu.error().message();
    vcpus.push_back(std::move(*vcpu));
    auto vcpu_init = backend->init_vcpu(*vm, vcpus.back(), *plan);
    ASSERT_TRUE(vcpu_init.has_value()) << vcpu_init.error().message();
  }
  auto launched = backend->launch(*vm, **memory, vcpus, *plan);
  ASSERT_TRUE(launched.has_value()) << launched.error().message();
}

}  // namespace
}  // namespace cvm::test
