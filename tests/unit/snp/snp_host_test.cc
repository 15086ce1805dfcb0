// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_host.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/unit/snp/snp_launch_harness.h"
#include "vmm/kvm/sys.h"

namespace cvm::vmm::snp::testing {
namespace {

HostSupport check(SnpHostModel host, HostFileReader files = snp_enabled_files()) {
  SnpKvmModel model(host);
  return probe_snp_host(model, files);
}

TEST(SnpHostTest, CapableHostPassesWithOneFindingPerCheck) {
  const HostSupport support = check({});
  EXPECT_TRUE(support.available) << support.reason;
  EXPECT_EQ(support.tee, "sev-snp");
  EXPECT_EQ(support.reason, "");
  EXPECT_EQ(support.findings,
            (std::vector<std::string>{
                "KVM VM type KVM_X86_SNP_VM (4): offered (KVM_CAP_VM_TYPES = 0x11)",
                "kvm_amd parameter sev_snp: enabled (/sys/module/kvm_amd/parameters/sev_snp)",
                "/dev/sev: present",
                "SEV VMSA features (KVM_X86_SEV_VMSA_FEATURES): 0x20",
                "SNP policy bits (KVM_X86_SNP_POLICY_BITS): not reported (kernel before ≈6.19); "
                "policies are checked against the 6.11 rules",
                "KVM_CAP_GUEST_MEMFD = 0x1: guest_memfd private memory",
                "KVM_CAP_MEMORY_ATTRIBUTES = 0x8: KVM_MEMORY_ATTRIBUTE_PRIVATE",
                "KVM_CAP_EXIT_HYPERCALL = 0x1000: KVM_HC_MAP_GPA_RANGE exits",
            }));
}

TEST(SnpHostTest, NoSnpVmTypeIsTheReason) {
  SnpHostModel host;
  host.vm_types = 1;
  host.exit_hypercall = 0;
  const HostSupport support = check(host);
  EXPECT_FALSE(support.available);
  EXPECT_EQ(support.reason, "KVM VM type KVM_X86_SNP_VM (4): not offered (KVM_CAP_VM_TYPES = 0x1)");
  EXPECT_EQ(support.findings.size(), 8u);
  EXPECT_EQ(support.findings[7], "KVM_CAP_EXIT_HYPERCALL = 0x0: no KVM_HC_MAP_GPA_RANGE exits");
}

TEST(SnpHostTest, DisabledModuleParameterIsTheReason) {
  const HostSupport support = check({}, [](const std::string&) -> Result<std::string> {
    return std::string("N\n");
  });
  EXPECT_FALSE(support.available);
  EXPECT_EQ(support.reason,
            "kvm_amd parameter sev_snp: disabled (/sys/module/kvm_amd/parameters/sev_snp)");
}

TEST(SnpHostTest, MissingSevDeviceIsTheReason) {
  SnpHostModel host;
  host.sev_device = false;
  const HostSupport support = check(host);
  EXPECT_FALSE(support.available);
  EXPECT_EQ(support.reason,
            "/dev/sev: cannot be opened (No such file or directory); the ccp driver has no SEV "
            "firmware or the user lacks access");
}

TEST(SnpHostTest, KernelWithoutInit2IsTheReason) {
  SnpHostModel host;
  host.vmsa_features.reset();
  host.policy_bits = 0x13ffff;
  const HostSupport support = check(host);
  EXPECT_FALSE(support.available);
  EXPECT_EQ(support.reason,
            "SEV VMSA features (KVM_X86_SEV_VMSA_FEATURES): not reported (KVM before 6.10 has no "
            "KVM_SEV_INIT2)");
  EXPECT_EQ(support.findings[4], "SNP policy bits (KVM_X86_SNP_POLICY_BITS): 0x13ffff");
}

TEST(SnpHostTest, ThisMachineWithoutKvmSaysSo) {
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    GTEST_SKIP() << "/dev/kvm exists here; this test covers hosts without it";
  }
  const HostSupport support = probe_snp_host(kvm::real_sys(), real_host_file_reader());
  EXPECT_FALSE(support.available);
  EXPECT_EQ(support.reason.rfind("/dev/kvm", 0), 0u) << support.reason;
  EXPECT_EQ(support.findings, std::vector<std::string>{support.reason});
}

}  // namespace
}  // namespace cvm::vmm::snp::testing
