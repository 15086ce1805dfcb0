// SPDX-License-Identifier: Apache-2.0
// The guest's fw_cfg driver against QEMU's fw_cfg (label qemu): microvm under TCG has the
// device at 0x510 with DMA; `-fw_cfg name=opt/cvmm/test,string=...` adds the file. Same
// expectations as the hosted test against cvmm's device (hosted_fw_cfg_test.cc).
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/guest/fw_cfg_expectations.h"

namespace cvm::test::guest {
namespace {

constexpr const char* kQemu = "/usr/bin/qemu-system-x86_64";

TEST(QemuFwCfgTest, GuestDriverReadsQemusDevice) {
  if (::access(kQemu, X_OK) != 0) {
    GTEST_SKIP() << kQemu << " is absent (scripts/setup-host.sh installs qemu-system-x86)";
  }
  auto dir = TempDir::create("cvmm-qemu-fw-cfg-");
  ASSERT_TRUE(dir) << dir.error().message();
  const std::string content = "hello from the fw_cfg test served by qemu";
  const std::vector<std::string> argv = {
      kQemu, "-M", "microvm,accel=tcg,x-option-roms=off,pit=off,pic=off,rtc=off,acpi=off",
      "-m", "64M", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
      "-monitor", "none", "-no-reboot", "-serial", "stdio", "-device",
      "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", guest_elf_path(), "-append",
      std::string("cvmmtest=fw-cfg fwcfg.file=") + kFwCfgTestFile, "-fw_cfg",
      std::string("name=") + kFwCfgTestFile + ",string=" + content};
  const auto output = dir->path() / "console.txt";
  auto status = run_process(argv, output, std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << status.error().message();
  auto report = read_report(output);
  ASSERT_TRUE(report.has_value()) << report.error().message();
  expect_fw_cfg_report(*report, content);
  EXPECT_EQ(*status, 1) << report->full_output;  // isa-debug-exit: (0 << 1) | 1 = pass
}

}  // namespace
}  // namespace cvm::test::guest
