// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/lower.h"

#include <memory>

#include <gtest/gtest.h>

#include "base/file.h"
#include "base/hex.h"
#include "firmware/snp/cpu_models.h"
#include "firmware/snp/snp_launch_plan.h"
#include "tests/unit/firmware/snp/synthetic_ovmf.h"
#include "tests/unit/firmware/snp/test_inputs.h"

namespace cvm::firmware::snp {
namespace {

LaunchPlan synthetic_plan(VmmType vmm, bool with_kernel) {
  SnpLaunchInputs in;
  in.firmware = std::make_shared<const std::vector<std::byte>>(testing::build_synthetic_ovmf());
  in.vcpus = 3;
  in.vmm = vmm;
  in.cpu_signature = find_cpu_model("EPYC-Genoa")->signature();
  if (with_kernel) {
    in.kernel_hashes = compute_kernel_hashes(testing::synthetic_kernel(),
                                             testing::synthetic_initrd(), "quiet");
  }
  auto plan = build_snp_launch_plan(in);
  EXPECT_TRUE(plan.has_value()) << plan.error().message();
  return plan ? std::move(*plan) : LaunchPlan{};
}

TEST(SnpLowerTest, UpdatesInPlanOrderAndVmsasLast) {
  const LaunchPlan plan = synthetic_plan(VmmType::kCvmm, true);
  auto commands = lower_snp_plan(plan);
  ASSERT_TRUE(commands.has_value()) << commands.error().message();
  ASSERT_EQ(commands->updates.size(), 7u);  // firmware + 6 ASEV sections
  EXPECT_EQ(commands->updates[0].gfn_start, 0xffff0u);
  EXPECT_EQ(commands->updates[0].len, 64u * 1024);
  EXPECT_EQ(commands->updates[0].type, SnpPageType::kNormal);
  EXPECT_EQ(commands->updates[0].contents.data(), plan.ranges[0].blob->data());  // no copy
  EXPECT_EQ(commands->updates[1].gfn_start, 0x800u);
  EXPECT_EQ(commands->updates[1].type, SnpPageType::kZero);
  EXPECT_TRUE(commands->updates[1].contents.empty());
  EXPECT_EQ(commands->updates[2].type, SnpPageType::kSecrets);
  EXPECT_EQ(commands->updates[3].type, SnpPageType::kCpuid);
  EXPECT_EQ(commands->updates[5].type, SnpPageType::kNormal);  // kernel hashes page
  EXPECT_EQ(commands->updates[5].label, "ASEV #4 SNP_KERNEL_HASHES");
  EXPECT_EQ(commands->vmsas.size(), 3u);
}

// Executing the lowered commands measures exactly what the plan fold predicts.
TEST(SnpLowerTest, CommandDigestEqualsPlanDigest) {
  for (const VmmType vmm : {VmmType::kCvmm, VmmType::kQemu, VmmType::kEc2, VmmType::kGce}) {
    for (const bool with_kernel : {false, true}) {
      const LaunchPlan plan = synthetic_plan(vmm, with_kernel);
      auto commands = lower_snp_plan(plan);
      ASSERT_TRUE(commands.has_value()) << commands.error().message();
      EXPECT_EQ(measure_snp_commands(*commands), measure_snp(plan))
          << vmm_type_name(vmm) << " kernel=" << with_kernel;
    }
  }
}

TEST(SnpLowerTest, DebianOvmfReferenceThroughCommands) {
  auto image = read_file(CVMM_OVMF_FD);
  if (!image) {
    GTEST_SKIP() << CVMM_OVMF_FD << " is absent: install Debian's ovmf package";
  }
  SnpLaunchInputs in;
  in.firmware = std::make_shared<const std::vector<std::byte>>(std::move(*image));
  in.vmm = VmmType::kCvmm;
  in.cpu_signature = find_cpu_model("EPYC-v4")->signature();
  auto plan = build_snp_launch_plan(in);
  ASSERT_TRUE(plan.has_value());
  auto commands = lower_snp_plan(*plan);
  ASSERT_TRUE(commands.has_value());
  EXPECT_EQ(to_hex(measure_snp_commands(*commands)),
            "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22"
            "a9beede8fe7a97e3");
}

TEST(SnpLowerTest, RejectsPageAfterVmsa) {
  LaunchPlan plan = synthetic_plan(VmmType::kCvmm, false);
  PlanRange zero;
  zero.gpa = 0x900000;
  zero.size = 4096;
  zero.kind = PageKind::kZero;
  zero.label = "late";
  plan.ranges.push_back(zero);
  auto commands = lower_snp_plan(plan);
  ASSERT_FALSE(commands.has_value());
  EXPECT_NE(commands.error().message().find("(late) follows a VMSA range"), std::string::npos);
}

TEST(SnpLowerTest, RejectsUnalignedRangeAndVcpuMismatch) {
  LaunchPlan plan = synthetic_plan(VmmType::kCvmm, false);
  plan.ranges[1].size = 0x1800;
  auto unaligned = lower_snp_plan(plan);
  ASSERT_FALSE(unaligned.has_value());
  EXPECT_NE(unaligned.error().message().find("not whole 4 KiB pages"), std::string::npos);

  LaunchPlan mismatch = synthetic_plan(VmmType::kCvmm, false);
  mismatch.vcpus.pop_back();
  auto commands = lower_snp_plan(mismatch);
  ASSERT_FALSE(commands.has_value());
  EXPECT_NE(commands.error().message().find("3 VMSA ranges for 2 vCPUs"), std::string::npos);
}

}  // namespace
}  // namespace cvm::firmware::snp
