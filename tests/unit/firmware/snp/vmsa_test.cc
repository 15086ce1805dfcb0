// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/vmsa.h"

#include <span>

#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "firmware/snp/cpu_models.h"

namespace cvm::firmware::snp {
namespace {

template <std::unsigned_integral T>
T at(const std::vector<std::byte>& page, std::size_t offset) {
  return load_le<T>(std::span<const std::byte>(page).subspan(offset).first<sizeof(T)>());
}

std::vector<std::byte> vmsa(VmmType vmm, uint32_t address, uint64_t features = 1) {
  return encode_vmsa(vcpu_reset_state({vmm, address, cpu_signature(25, 1, 1), features}));
}

// Offsets from AMD APM vol. 2 table B-4 (struct sev_es_save_area).
TEST(VmsaTest, QemuBspFieldsAtTheirOffsets) {
  const auto page = vmsa(VmmType::kQemu, kBspResetAddress, 0x21);
  ASSERT_EQ(page.size(), 4096u);
  EXPECT_EQ(at<uint16_t>(page, 0x010), 0xf000);      // CS selector
  EXPECT_EQ(at<uint16_t>(page, 0x012), 0x9b);        // CS attrib
  EXPECT_EQ(at<uint32_t>(page, 0x014), 0xffffu);     // CS limit
  EXPECT_EQ(at<uint64_t>(page, 0x018), 0xffff0000u); // CS base
  EXPECT_EQ(at<uint16_t>(page, 0x002), 0x93);        // ES attrib
  EXPECT_EQ(at<uint16_t>(page, 0x022), 0x93);        // SS attrib
  EXPECT_EQ(at<uint32_t>(page, 0x064), 0xffffu);     // GDTR limit
  EXPECT_EQ(at<uint16_t>(page, 0x062), 0);           // GDTR attrib
  EXPECT_EQ(at<uint16_t>(page, 0x072), 0x82);        // LDTR attrib
  EXPECT_EQ(at<uint16_t>(page, 0x092), 0x8b);        // TR attrib
  EXPECT_EQ(at<uint64_t>(page, 0x0d0), 0x1000u);     // EFER
  EXPECT_EQ(at<uint64_t>(page, 0x148), 0x40u);       // CR4
  EXPECT_EQ(at<uint64_t>(page, 0x158), 0x10u);       // CR0
  EXPECT_EQ(at<uint64_t>(page, 0x160), 0x400u);      // DR7
  EXPECT_EQ(at<uint64_t>(page, 0x168), 0xffff0ff0u); // DR6
  EXPECT_EQ(at<uint64_t>(page, 0x170), 0x2u);        // RFLAGS
  EXPECT_EQ(at<uint64_t>(page, 0x178), 0xfff0u);     // RIP
  EXPECT_EQ(at<uint64_t>(page, 0x268), 0x0007040600070406u);  // G_PAT
  EXPECT_EQ(at<uint64_t>(page, 0x310), 0x00a00f11u); // RDX = EPYC-Milan signature
  EXPECT_EQ(at<uint64_t>(page, 0x3b0), 0x21u);       // SEV_FEATURES
  EXPECT_EQ(at<uint64_t>(page, 0x3e8), 0x1u);        // XCR0
  EXPECT_EQ(at<uint32_t>(page, 0x408), 0x1f80u);     // MXCSR
  EXPECT_EQ(at<uint16_t>(page, 0x410), 0x37f);       // x87 FCW
}

TEST(VmsaTest, OnlyTheDocumentedBytesAreNonZero) {
  const auto page = vmsa(VmmType::kQemu, kBspResetAddress);
  std::size_t nonzero = 0;
  for (std::size_t i = 0x420; i < page.size(); ++i) {
    nonzero += page[i] != std::byte{0};
  }
  EXPECT_EQ(nonzero, 0u);  // nothing after the x87 control state
}

TEST(VmsaTest, ApStartsAtTheResetAddress) {
  const auto page = vmsa(VmmType::kQemu, 0x0080b004);
  EXPECT_EQ(at<uint64_t>(page, 0x018), 0x00800000u);  // CS base
  EXPECT_EQ(at<uint16_t>(page, 0x010), 0xf000);       // CS selector
  EXPECT_EQ(at<uint64_t>(page, 0x178), 0xb004u);      // RIP
}

// cvmm's SNP backend programs the vCPUs exactly like QEMU (vmsa.cc explains why), so its
// VMSAs must be byte-identical to QEMU's for the BSP and the APs.
TEST(VmsaTest, CvmmResetStateEqualsQemu) {
  EXPECT_EQ(vmsa(VmmType::kCvmm, kBspResetAddress), vmsa(VmmType::kQemu, kBspResetAddress));
  EXPECT_EQ(vmsa(VmmType::kCvmm, 0x0080b004), vmsa(VmmType::kQemu, 0x0080b004));
}

TEST(VmsaTest, Ec2Differences) {
  const auto bsp = vmsa(VmmType::kEc2, kBspResetAddress);
  EXPECT_EQ(at<uint16_t>(bsp, 0x012), 0x9a);     // CS not accessed for the BSP
  EXPECT_EQ(at<uint16_t>(bsp, 0x022), 0x92);     // SS
  EXPECT_EQ(at<uint16_t>(bsp, 0x092), 0x83);     // TR
  EXPECT_EQ(at<uint64_t>(bsp, 0x310), 0x600u);   // fixed RDX, not the model signature
  EXPECT_EQ(at<uint32_t>(bsp, 0x408), 0u);       // MXCSR
  EXPECT_EQ(at<uint16_t>(bsp, 0x410), 0);        // FCW
  EXPECT_EQ(at<uint64_t>(bsp, 0x268), 0x0007040600070406u);
  const auto ap = vmsa(VmmType::kEc2, 0x0080b004);
  EXPECT_EQ(at<uint16_t>(ap, 0x012), 0x9b);
}

TEST(VmsaTest, GceDifferences) {
  const auto page = vmsa(VmmType::kGce, kBspResetAddress);
  EXPECT_EQ(at<uint16_t>(page, 0x012), 0x9b);
  EXPECT_EQ(at<uint16_t>(page, 0x092), 0x8b);
  EXPECT_EQ(at<uint64_t>(page, 0x268), 0x00070106u);  // GCE's PAT
  EXPECT_EQ(at<uint64_t>(page, 0x310), 0x600u);
  EXPECT_EQ(at<uint32_t>(page, 0x408), 0u);
}

TEST(VmmTypeTest, ParsesNames) {
  EXPECT_EQ(parse_vmm_type("cvmm"), VmmType::kCvmm);
  EXPECT_EQ(parse_vmm_type("qemu"), VmmType::kQemu);
  EXPECT_EQ(parse_vmm_type("QEMU"), VmmType::kQemu);
  EXPECT_EQ(parse_vmm_type("ec2"), VmmType::kEc2);
  EXPECT_EQ(parse_vmm_type("gce"), VmmType::kGce);
  EXPECT_FALSE(parse_vmm_type("xen").has_value());
  EXPECT_EQ(vmm_type_name(VmmType::kGce), "gce");
}

// Signatures as QEMU's builtin_x86_defs family/model/stepping encode them.
TEST(CpuModelTest, SignaturesMatchQemuModels) {
  EXPECT_EQ(find_cpu_model("EPYC")->signature(), 0x00800f12u);
  EXPECT_EQ(find_cpu_model("EPYC-v4")->signature(), 0x00800f12u);
  EXPECT_EQ(find_cpu_model("EPYC-IBPB")->signature(), 0x00800f12u);
  EXPECT_EQ(find_cpu_model("EPYC-Rome")->signature(), 0x00830f10u);
  EXPECT_EQ(find_cpu_model("EPYC-Rome-v4")->signature(), 0x00830f10u);
  EXPECT_EQ(find_cpu_model("EPYC-Milan")->signature(), 0x00a00f11u);
  EXPECT_EQ(find_cpu_model("EPYC-Milan-v2")->signature(), 0x00a00f11u);
  EXPECT_EQ(find_cpu_model("EPYC-Genoa")->signature(), 0x00a10f10u);
  EXPECT_EQ(find_cpu_model("EPYC-Turin")->signature(), 0x00b00f00u);
  EXPECT_FALSE(find_cpu_model("epyc").has_value());
  EXPECT_FALSE(find_cpu_model("Skylake-Server").has_value());
  EXPECT_NE(known_cpu_model_names().find("EPYC-Genoa-v1"), std::string::npos);
}

TEST(CpuModelTest, EncodesExtendedFamilyAndModel) {
  EXPECT_EQ(cpu_signature(6, 0x55, 4), 0x00050654u);   // family <= 0xf: no extended family
  EXPECT_EQ(cpu_signature(0x19, 0x11, 0), 0x00a10f10u);
}

}  // namespace
}  // namespace cvm::firmware::snp
