// SPDX-License-Identifier: Apache-2.0
// The SEV-SNP backend driven end to end through the ABI model (snp_kvm_model.h). What these
// tests prove: the backend issues the SNP ioctls in the documented order with well-formed
// arguments (every rule the model checks), and what it hands to KVM (the LAUNCH_UPDATE pages as
// KVM would copy them from uaddr, plus the VMSAs KVM would build from the registers it set)
// folds to the same launch digest cvmm-measure computes. What they cannot prove: that a real
// kernel and PSP behave like the model (tee-kvm-reference §3.12).
#include <gtest/gtest.h>

#include "base/hex.h"
#include "firmware/snp/launch_digest.h"
#include "firmware/snp/snp_launch_plan.h"
#include "tests/unit/firmware/snp/synthetic_ovmf.h"
#include "tests/unit/snp/snp_launch_harness.h"
#include "vmm/snp/snp_policy.h"

namespace cvm::vmm::snp::testing {
namespace {

constexpr const char* kDebianReference =
    "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3";

LaunchConfig synthetic_config(uint32_t vcpus = 1) {
  LaunchConfig config;
  config.firmware = make_blob(firmware::testing::build_synthetic_ovmf());
  config.vcpus = vcpus;
  return config;
}

TEST(SnpBackendAbiTest, FullLaunchFollowsTheAbi) {
  LaunchHarness h;
  LaunchConfig config = synthetic_config(2);
  config.platform.host_data.assign(32, 0xab);
  auto result = h.run(config);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(h.model.violations().empty()) << h.model.violations().front();
  EXPECT_TRUE(h.model.finished());
  EXPECT_EQ(h.model.launch_policy(), 0x30000u);
  EXPECT_EQ(h.model.init2_vmsa_features(), 0u);
  const auto commands = h.model.sev_commands();
  ASSERT_GE(commands.size(), 4u);
  EXPECT_EQ(commands[0], 22u);   // KVM_SEV_INIT2
  EXPECT_EQ(commands[1], 100u);  // SNP_LAUNCH_START
  EXPECT_EQ(commands.back(), 102u);
  EXPECT_TRUE(std::all_of(commands.begin() + 2, commands.end() - 1,
                          [](uint32_t id) { return id == 101; }));
  // One LAUNCH_UPDATE per lowered update (no partial progress scripted): firmware + 6 sections.
  EXPECT_EQ(commands.size(), 2u + 7u + 1u);
  std::array<uint8_t, 32> expected_host_data;
  expected_host_data.fill(0xab);
  EXPECT_EQ(h.model.host_data(), expected_host_data);
  EXPECT_NE(h.backend->exit_interceptor(), nullptr);
}

TEST(SnpBackendAbiTest, RequirementsNameTheSnpVm) {
  auto backend = make_snp_backend(LaunchConfig::default_platform());
  EXPECT_EQ(backend->name(), "sev-snp");
  const TeeRequirements r = backend->requirements();
  EXPECT_EQ(r.vm_type, 4u);
  EXPECT_TRUE(r.private_memory);
  EXPECT_TRUE(r.firmware_boot);
  EXPECT_TRUE(r.vmm_sets_vcpu_registers);
  EXPECT_FALSE(r.legacy_vmx_pages);
}

TEST(SnpBackendAbiTest, EveryVcpuGetsItsRegistersBeforeFinish) {
  LaunchHarness h;
  ASSERT_TRUE(h.run(synthetic_config(3)));
  // The VMSAs the model built at FINISH from each vCPU's registers are the plan's VMSAs.
  const auto measured = h.model.measured();
  ASSERT_GE(measured.size(), 3u);
  std::size_t vmsa = 0;
  for (const auto& range : h.plan->ranges) {
    if (range.kind != firmware::PageKind::kVmsa) {
      continue;
    }
    const auto& page = measured[measured.size() - 3 + vmsa++];
    EXPECT_EQ(page.type, firmware::snp::SnpPageType::kVmsa);
    EXPECT_EQ(page.gpa, firmware::snp::kVmsaGpa);
    EXPECT_TRUE(std::equal(page.contents.begin(), page.contents.end(),
                           range.contents().begin(), range.contents().end()))
        << range.label;
  }
  EXPECT_EQ(vmsa, 3u);
}

TEST(SnpBackendAbiTest, PartialProgressAndEagainAreResumed) {
  LaunchHarness plain;
  ASSERT_TRUE(plain.run(synthetic_config()));
  LaunchHarness h;
  h.model.set_pages_per_update(3);
  h.model.set_eagain_every(2);
  auto result = h.run(synthetic_config());
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(h.model.violations().empty());
  EXPECT_GT(h.model.sev_commands().size(), plain.model.sev_commands().size());
  EXPECT_EQ(to_hex(h.model.digest()), to_hex(plain.model.digest()));
}

TEST(SnpBackendAbiTest, LaunchBeforeInitVmIsRefused) {
  auto backend = make_snp_backend(LaunchConfig::default_platform());
  SnpKvmModel model;
  auto system = kvm::System::open(model);
  ASSERT_TRUE(system);
  auto vm = system->create_vm(KVM_X86_SNP_VM);
  ASSERT_TRUE(vm);
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu);
  firmware::LaunchPlan plan;
  auto result = backend->init_vcpu(*vm, *vcpu, plan);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInternal);
  EXPECT_EQ(result.error().message(), "sev-snp: init_vcpu outside init_vm..launch");
  EXPECT_TRUE(model.sev_commands().empty());
}

TEST(SnpBackendAbiTest, SecondLaunchIsRefused) {
  LaunchHarness h;
  ASSERT_TRUE(h.run(synthetic_config()));
  auto again = h.backend->launch(*h.vm, *h.memory, h.vcpus, *h.plan);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(), "sev-snp: launch outside init_vm..launch");
  EXPECT_TRUE(h.model.violations().empty());
}

TEST(SnpBackendPolicyTest, MissingMustBeOneBitStopsBeforeLaunchStart) {
  LaunchHarness h;
  LaunchConfig config = synthetic_config();
  config.platform.snp_policy = 0x10000;
  auto result = h.run(config);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(result.error().message(),
            "init_vm: SNP policy 0x10000 (ABI >= 0.0, SMT): bit 17 is reserved and must be one "
            "(SNP ABI §4.3)");
  EXPECT_TRUE(h.model.sev_commands().empty());
}

TEST(SnpBackendPolicyTest, PolicyBitsAttributeIsHonoured) {
  SnpHostModel host;
  host.policy_bits = 0xffff | kPolicySmt | kPolicyReservedMbo | kPolicySingleSocket;
  LaunchHarness allowed(host);
  LaunchConfig config = synthetic_config();
  config.platform.snp_policy = 0x30000 | kPolicySingleSocket;
  ASSERT_TRUE(allowed.run(config));
  EXPECT_EQ(allowed.model.launch_policy(), 0x130000u);
  LaunchHarness refused(host);
  config.platform.snp_policy = 0x30000 | kPolicyDebug;
  auto result = refused.run(config);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message().find("bits 0x80000 are not accepted by this KVM (supported "
                                          "policy bits 0x13ffff, KVM_X86_SNP_POLICY_BITS)"),
            std::string::npos)
      << result.error().message();
}

TEST(SnpBackendPolicyTest, UnsupportedVmsaFeaturesAreRefused) {
  SnpHostModel host;
  host.vmsa_features = 0;
  LaunchHarness h(host);
  LaunchConfig config = synthetic_config();
  config.platform.snp_vmsa_features = 0x20;
  auto result = h.run(config);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(),
            "init_vm: SNP VMSA features 0x20: bits 0x20 are not supported by this host "
            "(KVM_X86_SEV_VMSA_FEATURES = 0x0)");
}

TEST(SnpBackendFinishTest, IdBlockAndAuthArePassed) {
  LaunchHarness h;
  LaunchConfig config = synthetic_config();
  config.platform.snp_id_block.assign(96, 0);
  config.platform.snp_id_block[88 + 2] = 0x03;  // POLICY 0x30000 at offset 88
  config.platform.snp_id_auth.assign(4096, 0);
  config.platform.snp_author_key_enabled = true;
  auto result = h.run(config);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(h.model.violations().empty());
}

TEST(SnpBackendFinishTest, IdBlockPolicyMustMatch) {
  LaunchHarness h;
  LaunchConfig config = synthetic_config();
  config.platform.snp_id_block.assign(96, 0);
  config.platform.snp_id_auth.assign(4096, 0);
  auto result = h.run(config);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(),
            "init_vm: SNP ID block: POLICY 0x0 differs from the launch policy 0x30000");
}

TEST(SnpBackendFinishTest, HostDataMustBe32Bytes) {
  LaunchHarness h;
  LaunchConfig config = synthetic_config();
  config.platform.host_data.assign(31, 1);
  auto result = h.run(config);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(), "init_vm: SNP HOST_DATA: 31 bytes, expected 32");
}

TEST(SnpBackendCpuidTest, CorrectedPageIsLoggedAndRetriedOnce) {
  LaunchHarness h;
  int calls = 0;
  h.model.set_cpuid_check([&calls](std::span<std::byte> page) {
    if (calls++ > 0) {
      return false;
    }
    // "Correct" leaf 7.0 EBX (entry 2 of the sample table: offset 16 + 2*48 + 28).
    page[16 + 2 * 48 + 28] &= std::byte{0xf7};
    return true;
  });
  auto result = h.run(synthetic_config());
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(h.model.cpuid_updates_failed(), 1u);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(h.log, (std::vector<std::string>{
                       "sev-snp: the PSP corrected 1 CPUID page value(s); retrying with its page",
                       "sev-snp:   CPUID leaf 0x7.0: ebx 0x219c07a9 -> 0x219c07a1"}));
  // The page issued on the retry is the corrected one.
  for (const auto& page : h.model.measured()) {
    if (page.type == firmware::snp::SnpPageType::kCpuid) {
      EXPECT_EQ(page.contents[16 + 2 * 48 + 28], std::byte{0xa1});
    }
  }
  EXPECT_TRUE(h.model.violations().empty());
}

TEST(SnpBackendCpuidTest, SecondRejectionFailsWithTheFirmwareStatus) {
  LaunchHarness h;
  h.model.set_cpuid_check([](std::span<std::byte>) { return true; });
  auto result = h.run(synthetic_config());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kTeeFirmware);
  EXPECT_EQ(result.error().fw_status(), 0x16u);
  EXPECT_EQ(result.error().message(),
            "launch: KVM_SEV_SNP_LAUNCH_UPDATE ASEV #2 CPUID (gpa 0x80a000, 0x1000 bytes, type 6): "
            "Input/output error, firmware status SEV_RET_INVALID_PARAM (0x16)");
  EXPECT_EQ(h.model.cpuid_updates_failed(), 2u);
}

}  // namespace
}  // namespace cvm::vmm::snp::testing

namespace cvm::vmm::snp::testing {
namespace {

// After launch the backend's interceptor converts memory for the guest: a page-state change
// (MapGPA) to shared and back, and an implicit conversion on a memory fault.
TEST(SnpBackendExitTest, ConversionsAfterLaunch) {
  LaunchHarness h;
  ASSERT_TRUE(h.run(synthetic_config()));
  ExitInterceptor* interceptor = h.backend->exit_interceptor();
  ASSERT_NE(interceptor, nullptr);
  kvm::Vcpu& vcpu = h.vcpus[0];
  constexpr uint64_t kGpa = 0x200000;
  ASSERT_TRUE(h.model.is_private(kGpa));

  HypercallExit to_shared{KVM_HC_MAP_GPA_RANGE, {kGpa, 2, 0, 0, 0, 0}};
  vcpu.run_data().hypercall.ret = 99;
  auto policy = interceptor->intercept(vcpu, VcpuExit{to_shared});
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->verdict, ExitVerdict::kContinue);
  EXPECT_EQ(vcpu.run_data().hypercall.ret, 0u);
  EXPECT_FALSE(h.model.is_private(kGpa));
  EXPECT_FALSE(h.model.is_private(kGpa + 0x1000));
  EXPECT_TRUE(h.model.is_private(kGpa + 0x2000));
  EXPECT_EQ(h.model.punched_holes(), 1u);

  const VcpuExit fault = MemoryFaultExitInfo{KVM_MEMORY_EXIT_FLAG_PRIVATE, kGpa, 0x1000};
  policy = interceptor->intercept(vcpu, fault);
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->verdict, ExitVerdict::kContinue);
  EXPECT_TRUE(h.model.is_private(kGpa));

  // A guest asking for memory that does not exist gets an error back, the VM goes on.
  HypercallExit outside{KVM_HC_MAP_GPA_RANGE, {0x40000000, 1, KVM_MAP_GPA_RANGE_ENCRYPTED, 0, 0, 0}};
  policy = interceptor->intercept(vcpu, VcpuExit{outside});
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->verdict, ExitVerdict::kContinue);
  EXPECT_EQ(vcpu.run_data().hypercall.ret, static_cast<uint64_t>(EINVAL));
  EXPECT_TRUE(h.model.violations().empty()) << h.model.violations().front();
}

TEST(SnpBackendExitTest, TerminationStopsTheVm) {
  LaunchHarness h;
  ASSERT_TRUE(h.run(synthetic_config()));
  const VcpuExit term = SystemEventExit{KVM_SYSTEM_EVENT_SEV_TERM, {0x100 | (1u << 12) | (1u << 16)}};
  auto policy = h.backend->exit_interceptor()->intercept(h.vcpus[0], term);
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->verdict, ExitVerdict::kFailVm);
  EXPECT_EQ(policy->reason,
            "vCPU 0: SEV guest requested termination: GHCB reason set 1 code 0x1: page state "
            "change failed");
}

}  // namespace
}  // namespace cvm::vmm::snp::testing
