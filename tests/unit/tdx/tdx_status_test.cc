// SPDX-License-Identifier: Apache-2.0
// TDX module and TDVMCALL status decoding (vmm/tdx/tdx_status.h).
#include "vmm/tdx/tdx_status.h"

#include <gtest/gtest.h>

namespace cvm::vmm::tdx {
namespace {

TEST(TdxStatusTest, KnownCodesAreNamedWithTheirOperand) {
  EXPECT_EQ(describe_tdx_status(0xC000010000000001),
            "TDX_OPERAND_INVALID (0xc000010000000001, operand RCX)");
  EXPECT_EQ(describe_tdx_status(0x8000020000000092),
            "TDX_OPERAND_BUSY (0x8000020000000092, operand SEPT)");
  EXPECT_EQ(describe_tdx_status(0xC0000B0D00000000),
            "TDX_EPT_ENTRY_STATE_INCORRECT (0xc0000b0d00000000)");
  EXPECT_EQ(describe_tdx_status(0x8000020300000000), "TDX_RND_NO_ENTROPY (0x8000020300000000)");
  EXPECT_EQ(describe_tdx_status(0xC000090000000123),
            "TDX_INCORRECT_CPUID_VALUE (0xc000090000000123, detail 0x123)");
  EXPECT_EQ(describe_tdx_status(0), "TDX_SUCCESS (0x0)");
}

TEST(TdxStatusTest, NameIgnoresTheClassBitsThatDifferBetweenVersions) {
  EXPECT_EQ(tdx_status_name(0x4000000200000000), "TDX_NON_RECOVERABLE_TD");
  EXPECT_EQ(tdx_status_name(0x6000000200000000), "TDX_NON_RECOVERABLE_TD");
  EXPECT_EQ(tdx_status_name(0xC000060300000000), "TDX_TD_FINALIZED");
  EXPECT_EQ(tdx_status_name(0xC000060200000000), "TDX_TD_NOT_FINALIZED");
}

TEST(TdxStatusTest, UnknownAndSoftwareCodes) {
  EXPECT_FALSE(tdx_status_name(0xC0007F0000000000).has_value());
  EXPECT_EQ(describe_tdx_status(0xC0007F0000000000), "unknown TDX status 0xc0007f0000000000");
  EXPECT_EQ(describe_tdx_status(0x8000FF00FFFF0000),
            "SEAMCALL VMfailInvalid, no TDX module loaded (0x8000ff00ffff0000)");
  EXPECT_EQ(describe_tdx_status(0x8000FF000000000D), "SEAMCALL raised #GP (0x8000ff000000000d)");
  EXPECT_FALSE(tdx_status_name(0x8000FF000000000D).has_value());
}

TEST(TdxStatusTest, TdvmcallStatuses) {
  EXPECT_EQ(describe_tdvmcall_status(kTdvmcallSuccess), "SUCCESS");
  EXPECT_EQ(describe_tdvmcall_status(0x8000000000000000), "INVALID_OPERAND");
  EXPECT_EQ(describe_tdvmcall_status(0x8000000000000002), "ALIGN_ERROR");
  EXPECT_EQ(describe_tdvmcall_status(0x8000000000000003), "SUBFUNC_UNSUPPORTED");
  EXPECT_EQ(describe_tdvmcall_status(7), "unknown TDVMCALL status 0x7");
}

}  // namespace
}  // namespace cvm::vmm::tdx
