// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/cmdline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cvm::vmm::x86 {
namespace {

TEST(CmdlineTest, VmmPartsComeFirstAndUserLast) {
  auto line = build_kernel_cmdline({.virtio_devices = {*virtio_mmio_slot(0), *virtio_mmio_slot(1)},
                                    .clearcpuid = {CpuFeature::kCx16, CpuFeature::kXsave},
                                    .user = "  root=/dev/vda quiet "});
  ASSERT_TRUE(line) << line.error().message();
  EXPECT_EQ(*line,
            "console=ttyS0 8250.nr_uarts=1 reboot=k panic=-1 "
            "virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6 "
            "clearcpuid=cx16,xsave root=/dev/vda quiet");
}

TEST(CmdlineTest, EverythingOffGivesTheUserLine) {
  auto line = build_kernel_cmdline({.serial_console = false, .reboot_policy = false,
                                    .user = "init=/bin/sh"});
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "init=/bin/sh");
  auto empty = build_kernel_cmdline({.serial_console = false, .reboot_policy = false});
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
}

TEST(CmdlineTest, VirtioArgumentWithOddSize) {
  EXPECT_EQ(virtio_mmio_device_argument({.base = 0xd0000000, .size = 0x200, .irq = 7}),
            "virtio_mmio.device=512@0xd0000000:7");
}

TEST(CmdlineTest, TooLongIsRejectedWithBothLengths) {
  auto line = build_kernel_cmdline({.serial_console = false, .reboot_policy = false,
                                    .user = std::string(20, 'x'), .max_length = 19});
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(line.error().message(), "kernel command line is 20 bytes; the kernel takes at most 19");
  EXPECT_TRUE(build_kernel_cmdline({.serial_console = false, .reboot_policy = false,
                                    .user = std::string(19, 'x'), .max_length = 19}));
}

TEST(CmdlineTest, NulInUserLineIsRejected) {
  auto line = build_kernel_cmdline({.user = std::string("a\0b", 3)});
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().message(), "kernel command line contains a NUL byte");
}

}  // namespace
}  // namespace cvm::vmm::x86
