// SPDX-License-Identifier: Apache-2.0
// The test guest under QEMU (label qemu): `qemu-system-x86_64 -M microvm,accel=tcg` (software
// emulation, no KVM) boots the same ELF through its PVH note, with QEMU's own virtio-mmio
// transport and virtio-blk / vhost-vsock devices. These tests prove the guest's drivers
// against an implementation independent of cvmm, on hosts without /dev/kvm.
#include <gtest/gtest.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "base/file.h"
#include "tests/guest/guest_harness.h"

namespace cvm::test::guest {
namespace {

constexpr const char* kQemu = "/usr/bin/qemu-system-x86_64";
constexpr auto kTimeout = std::chrono::seconds(30);
// isa-debug-exit turns the guest's "passed" write of 0 into QEMU exit status (0 << 1) | 1.
constexpr int kQemuPassStatus = 1;
constexpr int kQemuFailStatus = 3;
constexpr std::size_t kDiskBytes = 1 << 20;

bool qemu_missing() { return ::access(kQemu, X_OK) != 0; }

#define REQUIRE_QEMU()                                                                    \
  do {                                                                                    \
    if (qemu_missing()) {                                                                 \
      GTEST_SKIP() << kQemu << " is absent (scripts/setup-host.sh installs qemu-system-x86)"; \
    }                                                                                     \
  } while (false)

struct QemuDisk {
  std::string path;
  bool readonly = false;
  std::string serial;
};

struct QemuRun {
  int status = -1;
  GuestReport report;
};

/// microvm without ACPI: QEMU then names each virtio-mmio transport on the kernel command
/// line (virtio_mmio.device=512@0xfeb00e00:12, ...), which is how the guest finds devices.
/// force-legacy=false: microvm's transports default to the legacy (version 1) register layout.
std::vector<std::string> qemu_argv(const std::string& append, const std::vector<QemuDisk>& disks,
                                   std::optional<uint32_t> vsock_cid) {
  std::vector<std::string> argv = {
      kQemu, "-M", "microvm,accel=tcg,x-option-roms=off,pit=off,pic=off,rtc=off,acpi=off",
      "-global", "virtio-mmio.force-legacy=false", "-m", "64M", "-smp", "1", "-nodefaults",
      "-no-user-config", "-display", "none", "-monitor", "none", "-no-reboot", "-serial",
      "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", guest_elf_path(),
      "-append", append};
  for (std::size_t i = 0; i < disks.size(); ++i) {
    const std::string id = "disk" + std::to_string(i);
    argv.push_back("-drive");
    argv.push_back("id=" + id + ",file=" + disks[i].path + ",format=raw,if=none" +
                   (disks[i].readonly ? ",readonly=on" : ""));
    argv.push_back("-device");
    argv.push_back("virtio-blk-device,drive=" + id +
                   (disks[i].serial.empty() ? "" : ",serial=" + disks[i].serial));
  }
  if (vsock_cid) {
    argv.push_back("-device");
    argv.push_back("vhost-vsock-device,guest-cid=" + std::to_string(*vsock_cid));
  }
  return argv;
}

QemuRun run_qemu(const TempDir& dir, const std::string& append,
                 const std::vector<QemuDisk>& disks = {},
                 std::optional<uint32_t> vsock_cid = std::nullopt) {
  const auto output = dir.path() / "console.txt";
  QemuRun run;
  auto status = run_process(qemu_argv(append, disks, vsock_cid), output, kTimeout);
  auto report = read_report(output);
  EXPECT_TRUE(status.has_value()) << status.error().message();
  EXPECT_TRUE(report.has_value()) << report.error().message();
  run.status = status.has_value() ? *status : -1;
  if (report) {
    run.report = std::move(*report);
  }
  return run;
}

TEST(QemuGuestTest, BootsThroughPvhAndReadsItsCommandLine) {
  REQUIRE_QEMU();
  auto dir = TempDir::create("cvmm-qemu-guest-");
  ASSERT_TRUE(dir) << dir.error().message();
  const QemuRun run = run_qemu(*dir, "cvmmtest=no-such-program");
  EXPECT_TRUE(run.report.has_line("boot entry=pvh")) << run.report.full_output;
  EXPECT_TRUE(run.report.has_line("main FAIL unknown program no-such-program"))
      << run.report.full_output;
  EXPECT_TRUE(run.report.has_line("done fail")) << run.report.full_output;
  EXPECT_EQ(run.status, kQemuFailStatus);
}

TEST(QemuGuestTest, BlkReadWriteMatchesTheHostImage) {
  REQUIRE_QEMU();
  auto dir = TempDir::create("cvmm-qemu-guest-");
  ASSERT_TRUE(dir) << dir.error().message();
  const auto disk = dir->path() / "disk.img";
  const std::vector<std::byte> original = disk_content(kDiskBytes, 1);
  ASSERT_TRUE(write_file(disk, original));
  // 68 KiB at 8 KiB: more than one 64 KiB request, not chunk aligned.
  constexpr uint64_t kOffset = 8192, kLength = 69632;
  constexpr uint32_t kSeed = 3;
  std::vector<std::byte> expected = original;
  const auto written = pattern_bytes(0, kLength, kSeed);
  std::copy(written.begin(), written.end(), expected.begin() + kOffset);

  const QemuRun run = run_qemu(*dir,
                               "cvmmtest=blk-rw blk.offset=8192 blk.length=69632 blk.seed=3",
                               {{disk.string(), false, ""}});
  const GuestReport& r = run.report;
  EXPECT_TRUE(r.has_line("blk-rw capacity=2048 readonly=0 flush=1")) << r.full_output;
  EXPECT_EQ(r.value("blk-rw read", "sha256"), sha256_hex(original)) << r.full_output;
  EXPECT_TRUE(r.has_line("blk-rw wrote offset=8192 length=69632 seed=3")) << r.full_output;
  EXPECT_TRUE(r.has_line("blk-rw flush status=0")) << r.full_output;
  EXPECT_TRUE(r.has_line("blk-rw readback ok")) << r.full_output;
  EXPECT_EQ(r.value("blk-rw after", "sha256"), sha256_hex(expected)) << r.full_output;
  EXPECT_TRUE(r.has_line("blk-rw ok")) << r.full_output;
  EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
  EXPECT_EQ(run.status, kQemuPassStatus);
  auto on_disk = read_file(disk.string());
  ASSERT_TRUE(on_disk) << on_disk.error().message();
  EXPECT_TRUE(*on_disk == expected) << "the image on the host differs from the expected bytes";
}

TEST(QemuGuestTest, BlkReadOnlyDiskRefusesWritesWithIoErr) {
  REQUIRE_QEMU();
  auto dir = TempDir::create("cvmm-qemu-guest-");
  ASSERT_TRUE(dir) << dir.error().message();
  const auto disk = dir->path() / "disk.img";
  const std::vector<std::byte> original = disk_content(kDiskBytes, 2);
  ASSERT_TRUE(write_file(disk, original));
  const QemuRun run = run_qemu(*dir, "cvmmtest=blk-ro", {{disk.string(), true, ""}});
  const GuestReport& r = run.report;
  EXPECT_TRUE(r.has_line("blk-ro capacity=2048 readonly=1 flush=1")) << r.full_output;
  EXPECT_TRUE(r.has_line("blk-ro write status=1")) << r.full_output;
  EXPECT_EQ(r.value("blk-ro read", "sha256"), sha256_hex(original)) << r.full_output;
  EXPECT_EQ(r.value("blk-ro after", "sha256"), sha256_hex(original)) << r.full_output;
  EXPECT_TRUE(r.has_line("blk-ro ok")) << r.full_output;
  EXPECT_EQ(run.status, kQemuPassStatus);
  auto on_disk = read_file(disk.string());
  ASSERT_TRUE(on_disk) << on_disk.error().message();
  EXPECT_TRUE(*on_disk == original);
}

TEST(QemuGuestTest, BlkGetIdReturnsTheSerial) {
  REQUIRE_QEMU();
  auto dir = TempDir::create("cvmm-qemu-guest-");
  ASSERT_TRUE(dir) << dir.error().message();
  const auto disk = dir->path() / "disk.img";
  ASSERT_TRUE(write_file(disk, disk_content(64 * 1024, 3)));
  const QemuRun run = run_qemu(*dir, "cvmmtest=blk-id", {{disk.string(), false, "cvmm-serial-42"}});
  EXPECT_TRUE(run.report.has_line("blk-id serial=cvmm-serial-42")) << run.report.full_output;
  EXPECT_TRUE(run.report.has_line("blk-id ok")) << run.report.full_output;
  EXPECT_EQ(run.status, kQemuPassStatus);
}

}  // namespace
}  // namespace cvm::test::guest
