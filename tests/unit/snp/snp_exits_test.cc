// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_exits.h"

#include <gtest/gtest.h>

#include "tests/unit/snp/snp_kvm_model.h"
#include "vmm/kvm/system.h"

namespace cvm::vmm::snp::testing {
namespace {

uint64_t msr_term(uint64_t set, uint64_t code) { return 0x100 | (set << 12) | (code << 16); }

TEST(SnpExitsTest, DescribesMsrProtocolTermination) {
  const uint64_t general[] = {msr_term(0, 0)};
  EXPECT_EQ(describe_sev_termination(general),
            "SEV guest requested termination: GHCB reason set 0 code 0x0: general termination "
            "request");
  const uint64_t cpuid[] = {msr_term(1, 4)};
  EXPECT_EQ(describe_sev_termination(cpuid),
            "SEV guest requested termination: GHCB reason set 1 code 0x4: CPUID page validation "
            "failed");
  const uint64_t unknown[] = {msr_term(3, 0x2a)};
  EXPECT_EQ(describe_sev_termination(unknown),
            "SEV guest requested termination: GHCB reason set 3 code 0x2a");
}

TEST(SnpExitsTest, DescribesGhcbPageTerminationAndMissingData) {
  const uint64_t ghcb[] = {0x7f5000};
  EXPECT_EQ(describe_sev_termination(ghcb),
            "SEV guest requested termination through its GHCB at gpa 0x7f5000 (KVM does not pass "
            "the reason of GHCB-page requests)");
  EXPECT_EQ(describe_sev_termination({}),
            "SEV guest requested termination (KVM passed no GHCB data)");
}

TEST(SnpExitsTest, InterceptorStopsTheVmOnTermination) {
  SnpKvmModel model;
  auto system = kvm::System::open(model);
  ASSERT_TRUE(system);
  auto vm = system->create_vm(KVM_X86_SNP_VM);
  ASSERT_TRUE(vm);
  auto vcpu = vm->create_vcpu(1);
  ASSERT_TRUE(vcpu);
  SnpExitInterceptor interceptor;
  const VcpuExit term = SystemEventExit{KVM_SYSTEM_EVENT_SEV_TERM, {msr_term(0, 2)}};
  const auto policy = interceptor.intercept(*vcpu, term);
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->verdict, ExitVerdict::kFailVm);
  EXPECT_EQ(policy->reason,
            "vCPU 1: SEV guest requested termination: GHCB reason set 0 code 0x2: SEV-SNP features "
            "are not supported");
  // Other exits go on to the generic policy.
  EXPECT_FALSE(interceptor.intercept(*vcpu, VcpuExit{HltExit{}}));
  EXPECT_FALSE(interceptor.intercept(*vcpu, VcpuExit{SystemEventExit{KVM_SYSTEM_EVENT_SHUTDOWN, {}}}));
}

}  // namespace
}  // namespace cvm::vmm::snp::testing
