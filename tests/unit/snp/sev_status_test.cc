// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/sev_status.h"

#include <gtest/gtest.h>

namespace cvm::vmm::snp {
namespace {

TEST(SevStatusTest, NamesEveryDefinedCode) {
  // Linux include/uapi/linux/psp-sev.h enum sev_ret_code, after the SNP renumbering.
  EXPECT_EQ(sev_status_name(0x00), "SEV_RET_SUCCESS");
  EXPECT_EQ(sev_status_name(0x03), "SEV_RET_INVALID_CONFIG");
  EXPECT_EQ(sev_status_name(0x07), "SEV_RET_POLICY_FAILURE");
  EXPECT_EQ(sev_status_name(0x16), "SEV_RET_INVALID_PARAM");
  EXPECT_EQ(sev_status_name(0x17), "SEV_RET_RESOURCE_LIMIT");
  EXPECT_EQ(sev_status_name(0x18), "SEV_RET_SECURE_DATA_INVALID");
  EXPECT_EQ(sev_status_name(0x19), "SEV_RET_INVALID_PAGE_SIZE");
  EXPECT_EQ(sev_status_name(0x1a), "SEV_RET_INVALID_PAGE_STATE");
  EXPECT_EQ(sev_status_name(0x1d), "SEV_RET_AEAD_OFLOW");
  EXPECT_EQ(sev_status_name(0x1f), "SEV_RET_EXIT_RING_BUFFER");
  EXPECT_EQ(sev_status_name(0x20), "SEV_RET_RMP_INIT_REQUIRED");
  EXPECT_EQ(sev_status_name(0x26), "SEV_RET_RMP_INITIALIZATION_FAILED");
  EXPECT_EQ(sev_status_name(0x27), "SEV_RET_INVALID_KEY");
  EXPECT_EQ(sev_status_name(0xffffffff), "SEV_RET_NO_FW_CALL");
  int named = 0;
  for (uint32_t code = 0; code < 0x100; ++code) {
    named += sev_status_name(code).has_value() ? 1 : 0;
  }
  EXPECT_EQ(named, 39);  // 0x00-0x27 without the unassigned 0x1e
}

TEST(SevStatusTest, UnassignedCodesHaveNoName) {
  EXPECT_FALSE(sev_status_name(0x1e).has_value());
  EXPECT_FALSE(sev_status_name(0x28).has_value());
  EXPECT_EQ(describe_sev_status(0x1e), "unknown SEV firmware status 0x1e");
}

TEST(SevStatusTest, DescribesWithNameAndNumber) {
  EXPECT_EQ(describe_sev_status(0x16), "SEV_RET_INVALID_PARAM (0x16)");
  EXPECT_EQ(describe_sev_status(kSevRetNoFirmwareCall), "no firmware call (SEV_RET_NO_FW_CALL)");
}

}  // namespace
}  // namespace cvm::vmm::snp
