// SPDX-License-Identifier: Apache-2.0
// The guest's fw_cfg driver (src/fw_cfg.c, program fw-cfg) compiled for the host against
// cvmm's FwCfgDevice on ports 0x510-0x51b, DMA into the program's static buffers. The same
// expectations as the QEMU test (qemu_fw_cfg_test.cc).
#include <gtest/gtest.h>

#include "devices/fw_cfg/fw_cfg_device.h"
#include "tests/guest/fw_cfg_expectations.h"
#include "tests/guest/hosted_world.h"

namespace cvm::test::guest {
namespace {

namespace fw = devices::fw_cfg;

TEST(HostedFwCfgTest, GuestDriverReadsCvmmsDeviceLikeQemus) {
  const std::string content = "hello from the fw_cfg test served by cvmm";
  fw::FwCfgStoreBuilder builder;
  const auto bytes = as_bytes(content);
  ASSERT_TRUE(builder.add_file(kFwCfgTestFile,
                               fw::FwCfgBytes(std::vector<std::byte>(bytes.begin(), bytes.end()))));
  ASSERT_TRUE(builder.add_file("etc/e820", fw::FwCfgBytes(std::vector<std::byte>(20))));
  auto store = std::move(builder).build();
  ASSERT_TRUE(store.has_value());
  HostDataMemory memory;
  fw::FwCfgDevice device(std::move(*store), memory);
  hosted_attach_port(fw::kFwCfgPortBase, fw::kFwCfgPortCount, device);
  const GuestReport report = hosted_run(std::string("cvmmtest=fw-cfg fwcfg.file=") +
                                        kFwCfgTestFile);
  expect_fw_cfg_report(report, content);
  EXPECT_TRUE(report.has_line("fw-cfg files=2")) << report.full_output;
  // The DMA access structure lives in the program's .bss, above 4 GiB in this process: the
  // driver's high-half write reached the device.
  EXPECT_EQ(device.dma_stats().transfers, 4u);
  EXPECT_EQ(device.dma_stats().errors, 1u);  // the refused write
}

}  // namespace
}  // namespace cvm::test::guest
