// SPDX-License-Identifier: Apache-2.0
// `cvmm host-check` over a recorded KVM: the plain backend's verdict and findings, and what a
// host without /dev/kvm reports for every backend.
#include "vmm/host_check.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "vmm/backends.h"
#include "vmm/kvm/recording_sys.h"
#include "vmm/plain_backend.h"

namespace cvm::vmm {
namespace {

void offer_plain_capabilities(kvm::RecordingSys& sys) {
  for (const RequiredCapability& cap : kPlainRequiredCapabilities) {
    sys.set_extension(cap.capability, 1);
  }
}

TEST(HostCheckTest, PlainIsAvailableWithEveryRequiredCapability) {
  kvm::RecordingSys sys;
  offer_plain_capabilities(sys);
  sys.set_extension(KVM_CAP_GUEST_MEMFD, 1);
  std::vector<std::unique_ptr<TeeBackend>> backends;
  backends.push_back(make_plain_backend());
  const auto entries = check_host_support(backends, sys);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].available);
  const std::string text = format_host_support(entries);
  EXPECT_EQ(text.substr(0, text.find('\n')), "plain    available");
  EXPECT_NE(text.find("    KVM_CAP_IOEVENTFD: yes (virtio notifications)\n"), std::string::npos);
  EXPECT_NE(text.find("    KVM_CAP_GUEST_MEMFD: yes (optional: --memory guest_memfd=on)\n"),
            std::string::npos);
  EXPECT_NE(text.find("    KVM_CAP_MEMORY_ATTRIBUTES: no (optional"), std::string::npos);
}

TEST(HostCheckTest, FirstMissingRequiredCapabilityIsTheReason) {
  kvm::RecordingSys sys;
  offer_plain_capabilities(sys);
  sys.set_extension(KVM_CAP_IRQFD, 0);
  sys.set_extension(KVM_CAP_IOEVENTFD, 0);
  std::vector<std::unique_ptr<TeeBackend>> backends;
  backends.push_back(make_plain_backend());
  const auto entries = check_host_support(backends, sys);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_FALSE(entries[0].available);
  EXPECT_EQ(entries[0].reason, "this host's KVM lacks KVM_CAP_IRQFD");
  EXPECT_NE(format_host_support(entries).find("    KVM_CAP_IOEVENTFD: MISSING"),
            std::string::npos);
}

TEST(HostCheckTest, WithoutDevKvmEveryBackendIsUnavailableWithThatReason) {
  kvm::RecordingSys sys;
  sys.fail_open(ENOENT);
  const auto backends = all_backends();
  const auto entries = check_host_support(backends, sys);
  ASSERT_EQ(entries.size(), backends.size());
  for (const HostSupport& entry : entries) {
    EXPECT_FALSE(entry.available);
    EXPECT_EQ(entry.reason.rfind("/dev/kvm is absent", 0), 0u) << entry.reason;
  }
  EXPECT_EQ(entries.front().tee, "plain");
}

}  // namespace
}  // namespace cvm::vmm
