// SPDX-License-Identifier: Apache-2.0
// The reset-vector test firmware through the real `cvmm run --firmware` on KVM (label kvm):
// vCPU 0 starts at KVM's reset state (0xfffffff0 in real mode) inside the image cvmm maps
// below 4 GiB, and the firmware must read exactly what it reads on QEMU's i440FX machine
// (firmware_boot_expect.cc): PCI identities and config-mechanism offsets, CMOS memory bytes
// for --memory size=128M, the PM timer at the PMBA it programmed; its PM1a_CNT power-off
// must end cvmm with status 0 (a failed power-off would add the firmware's "resetting" line).
// Skips only when /dev/kvm does not exist.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "base/file.h"
#include "tests/firmware_boot/firmware_boot_expect.h"
#include "tests/guest/guest_harness.h"

namespace cvm::test::firmware_boot {
namespace {

TEST(FirmwareBootCvmmTest, ResetVectorFirmwareSeesTheSamePlatformAsOnQemu) {
  if (guest::dev_kvm_absent()) {
    GTEST_SKIP() << "/dev/kvm is absent: this test boots a reset-vector firmware under cvmm";
  }
  if (std::string(CVMM_BINARY).empty()) {
    GTEST_SKIP() << "the cvmm binary is not part of this build";
  }
  auto dir = guest::TempDir::create("cvmm-fw-kvm");
  ASSERT_TRUE(dir.has_value()) << dir.error().message();
  const auto serial = dir->path() / "serial.txt";
  const std::vector<std::string> argv = {
      CVMM_BINARY, "run",      "--firmware", kResetVectorFirmware, "--memory", "size=128M",
      "--cpus",    "boot=1",   "--serial",   "file=" + serial.string()};
  const auto output = dir->path() / "cvmm.txt";
  auto status = guest::run_process(argv, output, std::chrono::seconds(60));
  ASSERT_TRUE(status.has_value()) << status.error().message();
  auto log = read_file(output.string());
  const std::string cvmm_text =
      log ? std::string(reinterpret_cast<const char*>(log->data()), log->size()) : "";
  EXPECT_EQ(*status, 0) << cvmm_text;
  auto bytes = read_file(serial.string());
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message() << "\n" << cvmm_text;
  const std::string text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  EXPECT_EQ(firmware_lines(text), expected_report()) << text << "\n" << cvmm_text;
}

constexpr const char* kDebianOvmf = "/usr/share/ovmf/OVMF.fd";

std::string file_text(const std::filesystem::path& path) {
  auto bytes = read_file(path.string());
  return bytes ? std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size()) : "";
}

// Debian's OVMF (edk2-stable202211 OvmfPkgX64) on cvmm's i440FX/PIIX platform and fw_cfg,
// without a kernel: it must get through SEC, PEI (host bridge, PM timer, memory) and DXE
// (PCI enumeration, serial console on the PIIX3 ISA bridge) to BDS, which on QEMU prints
// "BdsDxe:" and starts the UEFI shell. The shell then waits for input, so the test stops
// cvmm once the marker is on the serial console (or after five minutes).
TEST(FirmwareBootCvmmTest, DebianOvmfReachesBds) {
  if (guest::dev_kvm_absent()) {
    GTEST_SKIP() << "/dev/kvm is absent: this test boots Debian's OVMF under cvmm";
  }
  if (std::string(CVMM_BINARY).empty() || ::access(kDebianOvmf, R_OK) != 0) {
    GTEST_SKIP() << "needs the cvmm binary and " << kDebianOvmf << " (package ovmf)";
  }
  auto dir = guest::TempDir::create("cvmm-ovmf-kvm");
  ASSERT_TRUE(dir.has_value()) << dir.error().message();
  const auto serial = dir->path() / "serial.txt";
  const auto output = dir->path() / "cvmm.txt";
  auto child = guest::ChildProcess::spawn(
      {CVMM_BINARY, "run", "--firmware", kDebianOvmf, "--memory", "size=256M", "--cpus",
       "boot=2", "--serial", "file=" + serial.string()},
      output);
  ASSERT_TRUE(child.has_value()) << child.error().message();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  std::string text;
  while (std::chrono::steady_clock::now() < deadline) {
    text = file_text(serial);
    if (text.find("BdsDxe:") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }  // the ChildProcess destructor kills cvmm (the shell would wait for input forever)
  EXPECT_NE(text.find("BdsDxe:"), std::string::npos) << text << "\n" << file_text(output);
}

}  // namespace
}  // namespace cvm::test::firmware_boot
