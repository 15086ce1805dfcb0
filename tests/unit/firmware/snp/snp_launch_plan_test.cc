// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/snp_launch_plan.h"

#include <memory>

#include <gtest/gtest.h>

#include "base/file.h"
#include "base/hex.h"
#include "firmware/snp/cpu_models.h"
#include "firmware/snp/launch_digest.h"
#include "tests/unit/firmware/snp/synthetic_ovmf.h"
#include "tests/unit/firmware/snp/test_inputs.h"

namespace cvm::firmware::snp {
namespace {

using testing::build_synthetic_ovmf;
using testing::SyntheticOvmfOptions;

Blob make_blob(std::vector<std::byte> bytes) {
  return std::make_shared<const std::vector<std::byte>>(std::move(bytes));
}

Blob debian_ovmf() {
  auto image = read_file(CVMM_OVMF_FD);
  return image ? make_blob(std::move(*image)) : nullptr;
}

#define SKIP_WITHOUT_DEBIAN_OVMF(blob)                                              \
  if (!(blob)) {                                                                    \
    GTEST_SKIP() << CVMM_OVMF_FD << " is absent: install Debian's ovmf package";    \
  }

KernelHashes synthetic_kernel_hashes() {
  return compute_kernel_hashes(testing::synthetic_kernel(), testing::synthetic_initrd(),
                               testing::kSyntheticCmdline);
}

SnpLaunchInputs synthetic_inputs(VmmType vmm, bool with_kernel) {
  SnpLaunchInputs in;
  in.firmware = make_blob(build_synthetic_ovmf());
  in.vcpus = 2;
  in.vmm = vmm;
  in.cpu_signature = find_cpu_model("EPYC-Milan")->signature();
  if (with_kernel) {
    in.kernel_hashes = synthetic_kernel_hashes();
  }
  return in;
}

std::string measure(const SnpLaunchInputs& in) {
  auto plan = build_snp_launch_plan(in);
  EXPECT_TRUE(plan.has_value()) << plan.error().message();
  if (!plan) {
    return "";
  }
  return in.mode == SevMode::kSnp ? to_hex(measure_snp(*plan)) : to_hex(measure_sev(*plan));
}

void expect_error(const SnpLaunchInputs& in, ErrorCode code, std::string_view needle) {
  auto plan = build_snp_launch_plan(in);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code(), code);
  EXPECT_NE(plan.error().message().find(needle), std::string::npos) << plan.error().message();
}

// The reference value of the task: Debian's OVMF.fd (sha256 7b456907...), SNP, vmm-type qemu,
// EPYC-v4, 1 vCPU, default guest features. It equals sev-snp-measure's output for the same
// inputs; no constant in the model was derived from it.
TEST(SnpLaunchPlanTest, DebianOvmfReferenceMeasurement) {
  const Blob firmware = debian_ovmf();
  SKIP_WITHOUT_DEBIAN_OVMF(firmware);
  ASSERT_EQ(to_hex(sha256(*firmware)),
            "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773");
  SnpLaunchInputs in;
  in.firmware = firmware;
  in.vcpus = 1;
  in.vmm = VmmType::kQemu;
  in.cpu_signature = find_cpu_model("EPYC-v4")->signature();
  EXPECT_EQ(measure(in),
            "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22"
            "a9beede8fe7a97e3");
  in.vmm = VmmType::kCvmm;  // cvmm's VMSAs equal QEMU's, so does the measurement
  EXPECT_EQ(measure(in),
            "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22"
            "a9beede8fe7a97e3");
}

// Values for other modes on the same image, cross-checked with sev-snp-measure.
TEST(SnpLaunchPlanTest, DebianOvmfOtherModes) {
  const Blob firmware = debian_ovmf();
  SKIP_WITHOUT_DEBIAN_OVMF(firmware);
  SnpLaunchInputs in;
  in.firmware = firmware;
  in.vcpus = 2;
  in.vmm = VmmType::kQemu;
  in.cpu_signature = find_cpu_model("EPYC-v4")->signature();
  in.mode = SevMode::kSevEs;
  EXPECT_EQ(measure(in), "5b1d28d8e8b3c2c9939d39bf18a7f05b16935279425c1c1e1ab19109acca9ffd");
  in.mode = SevMode::kSev;
  EXPECT_EQ(measure(in), to_hex(sha256(*firmware)));
  in.mode = SevMode::kSnp;
  auto plan = build_snp_launch_plan(in);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(to_hex(measure_snp_firmware(*plan)),
            "ba2c811512ef868474f239a21f7d7057d65a20de87a003c4f116e4fb1573183bfbcd75c3e99b2f55"
            "8575a5d0094f73c6");
}

TEST(SnpLaunchPlanTest, DebianOvmfRejectsKernel) {
  const Blob firmware = debian_ovmf();
  SKIP_WITHOUT_DEBIAN_OVMF(firmware);
  SnpLaunchInputs in;
  in.firmware = firmware;
  in.vmm = VmmType::kQemu;
  in.kernel_hashes = synthetic_kernel_hashes();
  expect_error(in, ErrorCode::kInvalidArgument, "no SNP_KERNEL_HASHES section");
  in.mode = SevMode::kSevEs;
  expect_error(in, ErrorCode::kInvalidArgument, "SEV hashes area is unusable (base 0x0 size 0x0)");
}

TEST(SnpLaunchPlanTest, SyntheticImageIsStable) {
  // Guards the cross-checked values below: the Python rebuild has this SHA-256.
  EXPECT_EQ(to_hex(sha256(build_synthetic_ovmf())),
            "c0e22070ef8de76bdf046edd2528090bbe7341d08a818dede96a4be53b03cd64");
}

TEST(SnpLaunchPlanTest, QemuPlanOrderAndKinds) {
  auto plan = build_snp_launch_plan(synthetic_inputs(VmmType::kQemu, /*with_kernel=*/true));
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  const std::vector<std::pair<uint64_t, PageKind>> expected = {
      {0xffff0000, PageKind::kNormal},  {0x800000, PageKind::kZero},
      {0x809000, PageKind::kSecrets},   {0x80a000, PageKind::kCpuid},
      {0x80b000, PageKind::kZero},      {0x810000, PageKind::kNormal},
      {0x811000, PageKind::kZero},      {kVmsaGpa, PageKind::kVmsa},
      {kVmsaGpa, PageKind::kVmsa},
  };
  ASSERT_EQ(plan->ranges.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(plan->ranges[i].gpa, expected[i].first) << i;
    EXPECT_EQ(plan->ranges[i].kind, expected[i].second) << i;
  }
  EXPECT_EQ(plan->firmware_ranges, 1u);
  EXPECT_EQ(plan->ranges[0].size, 64u * 1024);
  EXPECT_EQ(plan->ranges[0].blob.get(), plan->ranges[0].blob.get());
  // The kernel-hashes page carries the table at hashes base & 0xfff.
  const auto page = plan->ranges[5].contents();
  ASSERT_EQ(page.size(), 4096u);
  EXPECT_EQ(to_hex(page.subspan(0xc00, 4)), "06d63894");
  // BSP at the reset vector, the AP at the firmware's AP reset address.
  ASSERT_EQ(plan->vcpus.size(), 2u);
  EXPECT_EQ(plan->vcpus[0].cs_base, 0xffff0000u);
  EXPECT_EQ(plan->vcpus[0].rip, 0xfff0u);
  EXPECT_EQ(plan->vcpus[1].cs_base, 0x00800000u);
  EXPECT_EQ(plan->vcpus[1].rip, 0xb004u);
}

TEST(SnpLaunchPlanTest, FirmwareBlobIsSharedNotCopied) {
  const SnpLaunchInputs in = synthetic_inputs(VmmType::kQemu, false);
  auto plan = build_snp_launch_plan(in);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->ranges[0].blob, in.firmware);
  // Every AP shares one VMSA page.
  SnpLaunchInputs four = in;
  four.vcpus = 4;
  auto plan4 = build_snp_launch_plan(four);
  ASSERT_TRUE(plan4.has_value());
  const std::size_t n = plan4->ranges.size();
  EXPECT_EQ(plan4->ranges[n - 1].blob, plan4->ranges[n - 3].blob);
  EXPECT_NE(plan4->ranges[n - 1].blob, plan4->ranges[n - 4].blob);
}

TEST(SnpLaunchPlanTest, Ec2AddsCpuidPagesLast) {
  auto plan = build_snp_launch_plan(synthetic_inputs(VmmType::kEc2, false));
  ASSERT_TRUE(plan.has_value());
  // firmware, 5 sections in order without CPUID, CPUID, 2 VMSAs
  EXPECT_EQ(plan->ranges[3].gpa, 0x80b000u);
  EXPECT_EQ(plan->ranges[6].gpa, 0x80a000u);
  EXPECT_EQ(plan->ranges[6].kind, PageKind::kCpuid);
  EXPECT_EQ(plan->ranges[5].kind, PageKind::kZero);  // kernel hashes page without a kernel
}

TEST(SnpLaunchPlanTest, GceLeavesSecMemUnmeasured) {
  auto plan = build_snp_launch_plan(synthetic_inputs(VmmType::kGce, false));
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->ranges[1].kind, PageKind::kUnmeasured);
  EXPECT_EQ(plan->ranges[4].kind, PageKind::kUnmeasured);
  EXPECT_EQ(plan->ranges[6].kind, PageKind::kZero);  // SVSM_CAA stays ZERO
}

// Expected values: virtee/sev-snp-measure on the same synthetic image and input files.
TEST(SnpLaunchPlanTest, SyntheticMeasurementsMatchReferenceImplementation) {
  EXPECT_EQ(measure(synthetic_inputs(VmmType::kQemu, false)),
            "f323c55c03a072750ce27978830f36a6f2c2a510bde487f677e6b9af635c81505224cf61b34204a1"
            "1cb775a1ec9a146c");
  EXPECT_EQ(measure(synthetic_inputs(VmmType::kQemu, true)),
            "3d0bdfe4a9bc2099d81ad2dc2a18a1ac3ce7fbb10660cc2290eddaddb30fd145cbbd811197dc96ed"
            "49864d0b7ee3ae79");
  EXPECT_EQ(measure(synthetic_inputs(VmmType::kEc2, false)),
            "65c66365a30a69ce52be5b93f25f074744299941787577c192ae73d2135fdb03fde9c80e5ebdfee9"
            "05f740659f9f8a1b");
  EXPECT_EQ(measure(synthetic_inputs(VmmType::kEc2, true)),
            "02c472885958ae0f7a23dfb73865424fbc490456fbc3be277c1169b9c1ea3667f8879465fde05437"
            "2c63485d87f388f8");
  EXPECT_EQ(measure(synthetic_inputs(VmmType::kGce, false)),
            "f4e058ff8359a88801d004725e45996221f165bce5f08b3a5aa7d043383fd49d1abe6875f29ea9ef"
            "72afa335f75b5f5e");
  EXPECT_EQ(measure(synthetic_inputs(VmmType::kGce, true)),
            "5a0ba93744f70edf8e7aef3bd74a9fc005ee6e488523657dbcd433c62ba0cb72e4631d83d2a2370b"
            "f5f965a9efb55e47");
  SnpLaunchInputs seves = synthetic_inputs(VmmType::kQemu, true);
  seves.mode = SevMode::kSevEs;
  EXPECT_EQ(measure(seves), "0cc2b7e82848db3b8eea1b2de137f1ec8f442acd7a7ee8b3f853f71d84d396d2");
  SnpLaunchInputs sev = seves;
  sev.mode = SevMode::kSev;
  EXPECT_EQ(measure(sev), "f0a1158e74fbf7a0c02f03c68b940ddbdcd94412aba031e0efe720552479390d");
}

TEST(SnpLaunchPlanTest, KernelNeedsKernelHashesSection) {
  SyntheticOvmfOptions options;
  options.sections.erase(options.sections.begin() + 4);
  SnpLaunchInputs in = synthetic_inputs(VmmType::kQemu, true);
  in.firmware = make_blob(build_synthetic_ovmf(options));
  expect_error(in, ErrorCode::kInvalidArgument, "no SNP_KERNEL_HASHES section");
}

TEST(SnpLaunchPlanTest, KernelNeedsHashesGuid) {
  SyntheticOvmfOptions options;
  options.with_hashes_area = false;
  SnpLaunchInputs in = synthetic_inputs(VmmType::kQemu, true);
  in.firmware = make_blob(build_synthetic_ovmf(options));
  expect_error(in, ErrorCode::kInvalidArgument, "no SEV hashes table GUID");
  in.mode = SevMode::kSevEs;
  expect_error(in, ErrorCode::kInvalidArgument, "no SEV hashes table GUID");
}

TEST(SnpLaunchPlanTest, HashesAreaOutsideSectionIsMalformed) {
  SyntheticOvmfOptions options;
  options.hashes_base = 0x811c00;
  SnpLaunchInputs in = synthetic_inputs(VmmType::kQemu, true);
  in.firmware = make_blob(build_synthetic_ovmf(options));
  expect_error(in, ErrorCode::kMalformedImage, "is not the 4 KiB page holding");
}

TEST(SnpLaunchPlanTest, SnpNeedsMetadataAndResetBlock) {
  SyntheticOvmfOptions no_metadata;
  no_metadata.with_metadata = false;
  SnpLaunchInputs in = synthetic_inputs(VmmType::kQemu, false);
  in.firmware = make_blob(build_synthetic_ovmf(no_metadata));
  expect_error(in, ErrorCode::kMalformedImage, "no SEV metadata");
  SyntheticOvmfOptions no_reset;
  no_reset.with_reset_block = false;
  in.firmware = make_blob(build_synthetic_ovmf(no_reset));
  expect_error(in, ErrorCode::kMalformedImage, "no SEV-ES AP reset block");
  SyntheticOvmfOptions zero_reset;
  zero_reset.ap_reset_address = 0;
  in.firmware = make_blob(build_synthetic_ovmf(zero_reset));
  expect_error(in, ErrorCode::kMalformedImage, "reset address is 0");
  // Plain SEV needs neither.
  in.mode = SevMode::kSev;
  in.firmware = make_blob(build_synthetic_ovmf(no_metadata));
  EXPECT_TRUE(build_snp_launch_plan(in).has_value());
}

TEST(SnpLaunchPlanTest, RejectsBadInputs) {
  SnpLaunchInputs in = synthetic_inputs(VmmType::kQemu, false);
  in.vcpus = 0;
  expect_error(in, ErrorCode::kInvalidArgument, "vCPU count 0");
  in.vcpus = 1;
  in.guest_features = 0x20;
  expect_error(in, ErrorCode::kInvalidArgument, "lack SNPActive");
  in.guest_features.reset();
  in.firmware = make_blob(std::vector<std::byte>(4097));
  expect_error(in, ErrorCode::kMalformedImage, "firmware size 0x1001");
  in.firmware = nullptr;
  expect_error(in, ErrorCode::kInvalidArgument, "no firmware");
}

TEST(SnpLaunchPlanTest, SectionOverlappingFirmwareIsMalformed) {
  SyntheticOvmfOptions options;
  options.sections.push_back({0xffff8000, 0x1000, ovmf::SevSectionType::kSnpSecMem});
  SnpLaunchInputs in = synthetic_inputs(VmmType::kQemu, false);
  in.firmware = make_blob(build_synthetic_ovmf(options));
  expect_error(in, ErrorCode::kMalformedImage, "overlaps the firmware image");
}

TEST(SnpLaunchPlanTest, DefaultGuestFeatures) {
  EXPECT_EQ(default_guest_features(SevMode::kSnp), 0x1u);
  EXPECT_EQ(default_guest_features(SevMode::kSevEs), 0x0u);
  EXPECT_EQ(parse_sev_mode("sev-es"), SevMode::kSevEs);
  EXPECT_EQ(parse_sev_mode("snp"), SevMode::kSnp);
  EXPECT_FALSE(parse_sev_mode("tdx").has_value());
}

}  // namespace
}  // namespace cvm::firmware::snp
