// SPDX-License-Identifier: Apache-2.0
// The vCPU programming and the KVM VMSA model (vmm/snp/snp_vcpu_state.h). The expected VMSA
// fields are the ones tee-kvm-reference §3.10 tabulates from sev-snp-measure vmsa.py (what QEMU
// + KVM produce on SNP hardware), so these tests tie cvmm's register programming to that
// independent record, through the model of KVM's sev_es_sync_vmsa.
#include "vmm/snp/snp_vcpu_state.h"

#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "firmware/snp/cpu_models.h"
#include "firmware/snp/vmsa.h"

namespace cvm::vmm::snp {
namespace {

namespace fw = firmware::snp;

template <std::unsigned_integral T>
T at(const std::vector<std::byte>& page, std::size_t offset) {
  return load_le<T>(std::span<const std::byte>(page).subspan(offset).first<sizeof(T)>());
}

std::vector<std::byte> model_vmsa(const firmware::VcpuStart& start, uint32_t signature,
                                  uint64_t features) {
  const SnpVcpuProgram p = snp_vcpu_program(start, signature);
  auto state = kvm_vmsa_state(p.regs, p.sregs, p.fpu, p.xcr0, p.pat, features);
  EXPECT_TRUE(state) << state.error().message();
  return fw::encode_vmsa(*state);
}

constexpr uint32_t kEpycV4 = fw::cpu_signature(0x17, 1, 2);

TEST(SnpVcpuStateTest, BspVmsaMatchesTheRecordedQemuKvmValues) {
  const auto page = model_vmsa(firmware::VcpuStart{}, kEpycV4, 1);
  EXPECT_EQ(at<uint16_t>(page, 0x10), 0xf000);       // CS selector
  EXPECT_EQ(at<uint16_t>(page, 0x12), 0x9b);         // CS attrib
  EXPECT_EQ(at<uint32_t>(page, 0x14), 0xffffu);      // CS limit
  EXPECT_EQ(at<uint64_t>(page, 0x18), 0xffff0000u);  // CS base
  EXPECT_EQ(at<uint16_t>(page, 0x22), 0x93);         // SS attrib
  EXPECT_EQ(at<uint16_t>(page, 0x02), 0x93);         // ES attrib
  EXPECT_EQ(at<uint32_t>(page, 0x64), 0xffffu);      // GDTR limit
  EXPECT_EQ(at<uint16_t>(page, 0x72), 0x82);         // LDTR attrib
  EXPECT_EQ(at<uint16_t>(page, 0x92), 0x8b);         // TR attrib
  EXPECT_EQ(at<uint64_t>(page, 0xd0), 0x1000u);      // EFER.SVME
  EXPECT_EQ(at<uint64_t>(page, 0x148), 0x40u);       // CR4.MCE
  EXPECT_EQ(at<uint64_t>(page, 0x158), 0x10u);       // CR0 without CD/NW
  EXPECT_EQ(at<uint64_t>(page, 0x160), 0x400u);      // DR7
  EXPECT_EQ(at<uint64_t>(page, 0x168), 0xffff0ff0u); // DR6
  EXPECT_EQ(at<uint64_t>(page, 0x170), 0x2u);        // RFLAGS
  EXPECT_EQ(at<uint64_t>(page, 0x178), 0xfff0u);     // RIP
  EXPECT_EQ(at<uint64_t>(page, 0x268), 0x0007040600070406u);  // G_PAT
  EXPECT_EQ(at<uint64_t>(page, 0x310), 0x800f12u);   // RDX = EPYC-v4 signature
  EXPECT_EQ(at<uint64_t>(page, 0x3b0), 0x1u);        // SEV_FEATURES
  EXPECT_EQ(at<uint64_t>(page, 0x3e8), 0x1u);        // XCR0
  EXPECT_EQ(at<uint32_t>(page, 0x408), 0x1f80u);     // MXCSR
  EXPECT_EQ(at<uint16_t>(page, 0x410), 0x37f);       // x87 FCW
}

TEST(SnpVcpuStateTest, ModelOfProgrammedStateEqualsThePlansCvmmVmsa) {
  const uint32_t ap_reset = 0x0080b004;
  const firmware::VcpuStart ap{ap_reset & 0xffff0000u, 0xf000, ap_reset & 0xffffu};
  for (const uint64_t features : {uint64_t{1}, uint64_t{0x21}}) {
    const auto bsp_plan = fw::encode_vmsa(fw::vcpu_reset_state(
        {fw::VmmType::kCvmm, fw::kBspResetAddress, kEpycV4, features}));
    const auto ap_plan =
        fw::encode_vmsa(fw::vcpu_reset_state({fw::VmmType::kCvmm, ap_reset, kEpycV4, features}));
    EXPECT_EQ(model_vmsa(firmware::VcpuStart{}, kEpycV4, features), bsp_plan);
    EXPECT_EQ(model_vmsa(ap, kEpycV4, features), ap_plan);
  }
}

TEST(SnpVcpuStateTest, KvmAdjustmentsAreApplied) {
  SnpVcpuProgram p = snp_vcpu_program(firmware::VcpuStart{}, 0);
  p.sregs.efer = 0x500;
  p.sregs.cr4 = 0x20;
  auto state = kvm_vmsa_state(p.regs, p.sregs, p.fpu, p.xcr0, p.pat, 1);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->efer, 0x1500u);
  EXPECT_EQ(state->cr4, 0x60u);
  EXPECT_EQ(state->cr0, 0x10u);
}

TEST(SnpVcpuStateTest, SegmentAttributesUseTheVmcbPacking) {
  SnpVcpuProgram p = snp_vcpu_program(firmware::VcpuStart{}, 0);
  p.sregs.fs.g = 1;
  p.sregs.fs.db = 1;
  p.sregs.fs.avl = 1;
  p.sregs.fs.dpl = 3;
  p.sregs.gs.unusable = 1;
  auto state = kvm_vmsa_state(p.regs, p.sregs, p.fpu, p.xcr0, p.pat, 1);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->fs.attrib, 0x93 | 0x60 | 0x100 | 0x400 | 0x800);
  EXPECT_EQ(state->gs.attrib, 0x13);  // unusable: not present
}

TEST(SnpVcpuStateTest, UnmodelledStateIsRefused) {
  SnpVcpuProgram p = snp_vcpu_program(firmware::VcpuStart{}, 0);
  p.regs.rax = 5;
  auto state = kvm_vmsa_state(p.regs, p.sregs, p.fpu, p.xcr0, p.pat, 1);
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().message(),
            "SNP VMSA model: rax = 0x5 is not carried by the modelled VMSA");
  p = snp_vcpu_program(firmware::VcpuStart{}, 0);
  p.fpu.xmm[3][0] = 1;
  EXPECT_FALSE(kvm_vmsa_state(p.regs, p.sregs, p.fpu, p.xcr0, p.pat, 1));
}

TEST(SnpVcpuStateTest, ApplyKeepsKvmsApicBase) {
  kvm_sregs from_kvm{};
  from_kvm.apic_base = 0xfee00900;
  from_kvm.interrupt_bitmap[1] = 4;
  const SnpVcpuProgram p = snp_vcpu_program(firmware::VcpuStart{}, 0);
  apply_program_sregs(from_kvm, p.sregs);
  EXPECT_EQ(from_kvm.apic_base, 0xfee00900u);
  EXPECT_EQ(from_kvm.interrupt_bitmap[1], 4u);
  EXPECT_EQ(from_kvm.cs.base, 0xffff0000u);
  EXPECT_EQ(from_kvm.cr0, 0x60000010u);
}

}  // namespace
}  // namespace cvm::vmm::snp
