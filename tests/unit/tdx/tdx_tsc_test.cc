// SPDX-License-Identifier: Apache-2.0
// The TD's TSC frequency against TdxAbiModel, with the real TDX backend doing KVM_TDX_INIT_VM:
// where the VM-scoped KVM_SET_TSC_KHZ may go and what KVM and the TDX module make of the value
// (the rules and their sources are listed in tdx_abi_model.h). Proves that a wrong order or a
// value the module cannot program makes the model fail, so the machine test (tdx_machine_test.cc)
// passing means cvmm's order is the allowed one. Cannot prove what a real TDX module does.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/firmware/tdx/tdvf_test_image.h"
#include "tests/unit/tdx/tdx_abi_model.h"
#include "vmm/tdx/tdx_backend.h"

namespace cvm::tdx_test {
namespace {

namespace fwtdx = cvm::firmware::tdx;

/// The TD launch up to KVM_TDX_INIT_VM, in the machine's order (vmm/tee_backend.h steps 2-4).
struct TdUpToInitVm {
  explicit TdUpToInitVm(TdxModelConfig config = {})
      : model(config), backend(vmm::tdx::make_tdx_backend(tdx_platform())) {}

  static vmm::PlatformConfig tdx_platform() {
    vmm::PlatformConfig platform;
    platform.tee = vmm::TeeKind::kTdx;
    return platform;
  }

  /// KVM_CREATE_VM(TDX) and the split irqchip, with the launch plan of a synthetic TDVF.
  Result<void> create_vm(uint64_t type = KVM_X86_TDX_VM) {
    CVM_ASSIGN_OR_RETURN(system, kvm::System::open(model));
    vmm::TeeLaunchInputs inputs;
    inputs.firmware = std::make_shared<const std::vector<std::byte>>(
        fwtdx::testing::make_image(fwtdx::testing::default_sections()));
    inputs.vcpu_count = 1;
    inputs.memory_bytes = 128ull << 20;
    CVM_ASSIGN_OR_RETURN(plan, backend->build_launch_plan(inputs));
    CVM_ASSIGN_OR_RETURN(vm, system->create_vm(type));
    return vm->enable_split_irqchip();
  }
  Result<void> init_vm() { return backend->init_vm(*system, *vm, plan); }

  TdxAbiModel model;
  std::unique_ptr<vmm::TeeBackend> backend;
  std::optional<kvm::System> system;
  firmware::LaunchPlan plan;
  std::optional<kvm::Vm> vm;
};

TEST(TdxTscTest, VmTscBeforeInitVmBecomesTheTdTsc) {
  TdUpToInitVm t;
  ASSERT_TRUE(t.create_vm().has_value());
  ASSERT_TRUE(t.vm->set_tsc_khz(1'500'000).has_value());
  auto init = t.init_vm();
  ASSERT_TRUE(init.has_value()) << init.error().message();
  EXPECT_EQ(t.model.violations(), std::vector<std::string>{});
  EXPECT_EQ(t.model.td_tsc_khz(), 1'500'000u);
}

TEST(TdxTscTest, WithoutVmTscTheTdRunsAtTheHostFrequency) {
  TdUpToInitVm t({.host_tsc_khz = 2'400'000});
  ASSERT_TRUE(t.create_vm().has_value());
  ASSERT_TRUE(t.init_vm().has_value());
  EXPECT_EQ(t.model.td_tsc_khz(), 2'400'000u);
  EXPECT_TRUE(t.model.recorder().calls_named("KVM_SET_TSC_KHZ").empty());
}

TEST(TdxTscTest, TheModuleRangeEndsAreAccepted) {
  for (const uint32_t khz : {100'000u, 10'000'000u}) {
    TdUpToInitVm t;
    ASSERT_TRUE(t.create_vm().has_value());
    ASSERT_TRUE(t.vm->set_tsc_khz(khz).has_value());
    ASSERT_TRUE(t.init_vm().has_value()) << khz;
    EXPECT_EQ(t.model.td_tsc_khz(), khz);
  }
}

TEST(TdxTscTest, VmTscAfterInitVmIsAViolation) {
  TdUpToInitVm t;
  ASSERT_TRUE(t.create_vm().has_value());
  ASSERT_TRUE(t.init_vm().has_value());
  auto late = t.vm->set_tsc_khz(1'500'000);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().message(), "KVM_SET_TSC_KHZ: Invalid argument");
  EXPECT_EQ(t.model.violations(),
            std::vector<std::string>{
                "KVM_SET_TSC_KHZ on the VM after KVM_TDX_INIT_VM (goes into TD_PARAMS)"});
  EXPECT_EQ(t.model.td_tsc_khz(), 2'100'000u);  // the TD keeps what INIT_VM fixed
}

TEST(TdxTscTest, VmTscAfterVcpuCreationIsRefusedOnAnyVm) {
  TdUpToInitVm t;
  ASSERT_TRUE(t.create_vm(KVM_X86_DEFAULT_VM).has_value());
  auto vcpu = t.vm->create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value()) << vcpu.error().message();
  auto late = t.vm->set_tsc_khz(1'500'000);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(t.model.violations(),
            std::vector<std::string>{"KVM_SET_TSC_KHZ on the VM after KVM_CREATE_VCPU (1 vCPUs)"});
}

TEST(TdxTscTest, VcpuScopedTscOnATdIsAViolation) {
  TdUpToInitVm t;
  ASSERT_TRUE(t.create_vm().has_value());
  ASSERT_TRUE(t.init_vm().has_value());
  auto vcpu = t.vm->create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value()) << vcpu.error().message();
  ASSERT_FALSE(vcpu->set_tsc_khz(1'500'000).has_value());
  EXPECT_EQ(t.model.violations(),
            std::vector<std::string>{"KVM_SET_TSC_KHZ on vcpu0 of a TD (the TDX module owns the "
                                     "TSC; only the VM-scoped call sets it)"});
}

TEST(TdxTscTest, VmTscThatIsNotA25MhzMultipleFailsInitVm) {
  TdUpToInitVm t;
  ASSERT_TRUE(t.create_vm().has_value());
  ASSERT_TRUE(t.vm->set_tsc_khz(2'010'000).has_value());  // KVM itself does not check
  ASSERT_FALSE(t.init_vm().has_value());
  EXPECT_EQ(t.model.violations(),
            std::vector<std::string>{"KVM_TDX_INIT_VM with a VM TSC of 2010000 kHz: KVM "
                                     "truncates it to 2000000 kHz (25 MHz units)"});
  EXPECT_EQ(t.model.td_tsc_khz(), 0u);
}

TEST(TdxTscTest, VmTscOutsideTheModuleRangeFailsInitVm) {
  for (const auto& [khz, units] :
       std::vector<std::pair<uint32_t, uint32_t>>{{75'000, 3}, {10'025'000, 401}}) {
    TdUpToInitVm t;
    ASSERT_TRUE(t.create_vm().has_value());
    ASSERT_TRUE(t.vm->set_tsc_khz(khz).has_value());
    auto init = t.init_vm();
    ASSERT_FALSE(init.has_value()) << khz;
    EXPECT_EQ(t.model.violations(),
              std::vector<std::string>{fmt::format("KVM_TDX_INIT_VM with a VM TSC of {} kHz: "
                                                   "TDH.MNG.INIT refuses TSC_FREQUENCY {} (4 to "
                                                   "400)",
                                                   khz, units)});
  }
}

}  // namespace
}  // namespace cvm::tdx_test
