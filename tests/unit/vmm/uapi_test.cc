// SPDX-License-Identifier: Apache-2.0
// The UAPI layouts are checked at compile time in vmm/kvm/uapi.h; this test makes the build of
// a test binary depend on them and spot-checks values that are easy to get subtly wrong.
#include "vmm/kvm/uapi.h"

#include <gtest/gtest.h>

namespace {

// The 6.1 C++ flexible-array bug (see uapi.h) would move these entries.
static_assert(offsetof(kvm_cpuid2, entries) == 8);
static_assert(offsetof(kvm_msrs, entries) == 8);
static_assert(KVM_GET_SUPPORTED_CPUID == 0xC008AE05);

TEST(KvmUapiTest, FlexibleArrayRequestsEncodeHeaderSize) {
  EXPECT_EQ(_IOC_SIZE(KVM_SET_CPUID2), 8u);
  EXPECT_EQ(_IOC_SIZE(KVM_SET_MSRS), 8u);
  EXPECT_EQ(_IOC_SIZE(KVM_SET_GSI_ROUTING), 8u);
}

TEST(KvmUapiTest, NewIoctlNumbersMatchKernel) {
  EXPECT_EQ(KVM_CREATE_GUEST_MEMFD, 0xC040AED4u);
  EXPECT_EQ(KVM_SET_USER_MEMORY_REGION2, 0x40A0AE49u);
  EXPECT_EQ(KVM_SET_MEMORY_ATTRIBUTES, 0x4020AED2u);
  EXPECT_EQ(KVM_MEMORY_ENCRYPT_OP, 0xC008AEBAu);
}

TEST(KvmUapiTest, ExitOverlaysFitTheRunUnion) {
  EXPECT_LE(sizeof(cvm::kvm::MemoryFaultExit), 256u);
  EXPECT_LE(sizeof(cvm::kvm::TdxExit), 256u);
  EXPECT_EQ(cvm::kvm::kKvmRunExitUnionOffset, offsetof(kvm_run, io));
}

}  // namespace
