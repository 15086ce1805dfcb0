// SPDX-License-Identifier: Apache-2.0
// The reset-vector test firmware under QEMU TCG `-M pc` (i440FX/PIIX, label qemu): the values
// it reads from QEMU's platform are the reference cvmm's emulation is held to
// (firmware_boot_cvmm_test.cc checks the same lines), and QEMU powering off on the firmware's
// PM1a_CNT write proves the PIIX4 S5 encoding (SLP_TYP 0).
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/file.h"
#include "tests/firmware_boot/firmware_boot_expect.h"
#include "tests/guest/guest_harness.h"

namespace cvm::test::firmware_boot {
namespace {

constexpr const char* kQemu = "/usr/bin/qemu-system-x86_64";

TEST(FirmwareBootQemuTest, ResetVectorFirmwareReadsTheI440fxPlatform) {
  if (::access(kQemu, X_OK) != 0) {
    GTEST_SKIP() << kQemu << " is absent (scripts/setup-host.sh installs qemu-system-x86)";
  }
  auto dir = guest::TempDir::create("cvmm-fw-qemu");
  ASSERT_TRUE(dir.has_value()) << dir.error().message();
  const auto serial = dir->path() / "serial.txt";
  const std::vector<std::string> argv = {
      kQemu,     "-M",       "pc,accel=tcg", "-m",   "128",          "-smp",
      "1",       "-bios",    kResetVectorFirmware, "-nodefaults", "-display", "none",
      "-serial", "file:" + serial.string(), "-net", "none", "-no-reboot"};
  auto status = guest::run_process(argv, dir->path() / "qemu.txt", std::chrono::seconds(60));
  ASSERT_TRUE(status.has_value()) << status.error().message();
  EXPECT_EQ(*status, 0);  // QEMU exits 0 on the guest's ACPI power-off
  auto bytes = read_file(serial.string());
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message();
  const std::string text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  EXPECT_EQ(firmware_lines(text), expected_report()) << text;
}

}  // namespace
}  // namespace cvm::test::firmware_boot
