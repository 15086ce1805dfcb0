// SPDX-License-Identifier: Apache-2.0
// The test guest under QEMU (label qemu): `qemu-system-x86_64 -M microvm,accel=tcg` (software
// emulation, no KVM) boots the same ELF through its PVH note, with QEMU's own virtio-mmio
// transport and virtio-blk / vhost-vsock devices. These tests prove the guest's drivers
// against an implementation independent of cvmm, on hosts without /dev/kvm.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "base/file.h"
#include "tests/guest/guest_harness.h"
#include "tests/guest/vmm_launch.h"

namespace cvm::test::guest {
namespace {

constexpr const char* kQemu = kQemuBinary;
constexpr auto kTimeout = std::chrono::seconds(30);
constexpr int kQemuFailStatus = 3;  // the guest's "failed" write of 1: (1 << 1) | 1
constexpr std::size_t kDiskBytes = 1 << 20;

bool qemu_missing() { return ::access(kQemu, X_OK) != 0; }

#define REQUIRE_QEMU()                                                                        \
  do {                                                                                        \
    if (qemu_missing()) {                                                                     \
      GTEST_SKIP() << kQemu << " is absent (scripts/setup-host.sh installs qemu-system-x86)"; \
    }                                                                                         \
  } while (false)

struct QemuRun {
  int status = -1;
  GuestReport report;
};

/// The guest under microvm with TCG (vmm_launch.h has the flags and why).
std::vector<std::string> qemu_argv(const std::string& append, const std::vector<GuestDisk>& disks,
                                   std::optional<uint32_t> vsock_cid) {
  return qemu_microvm_argv(
      {.kvm = false, .append = append, .disks = disks, .vsock_cid = vsock_cid});
}

QemuRun run_qemu(const TempDir& dir, const std::string& append,
                 const std::vector<GuestDisk>& disks = {},
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

  const QemuRun run = run_qemu(*dir, "cvmmtest=blk-rw blk.offset=8192 blk.length=69632 blk.seed=3",
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

// ---- vsock through QEMU's vhost-vsock-device: the host end is the host kernel's AF_VSOCK.

bool vhost_vsock_missing() { return ::access("/dev/vhost-vsock", R_OK | W_OK) != 0; }

#define REQUIRE_VHOST_VSOCK()                                                             \
  do {                                                                                    \
    REQUIRE_QEMU();                                                                       \
    if (vhost_vsock_missing()) {                                                          \
      GTEST_SKIP() << "/dev/vhost-vsock is absent (host kernel without vhost-vsock), so " \
                      "QEMU's vhost-vsock-device cannot run";                             \
    }                                                                                     \
  } while (false)

/// A guest CID no other test process uses at the same time.
uint32_t unique_cid() { return 1000 + static_cast<uint32_t>(::getpid()); }

/// Connects to the guest, retrying while it boots and starts listening.
Result<UniqueFd> vsock_connect_guest(uint32_t cid, uint32_t port,
                                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_vm address{};
    address.svm_family = AF_VSOCK;
    address.svm_cid = cid;
    address.svm_port = port;
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
      return fd;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return errno_error(ErrorCode::kIo, fmt::format("AF_VSOCK connect {}:{}", cid, port), errno);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// Starts QEMU with a vhost-vsock device; the console goes to <dir>/console.txt.
Result<ChildProcess> start_qemu_vsock(const TempDir& dir, const std::string& append, uint32_t cid) {
  return ChildProcess::spawn(qemu_argv(append, {}, cid), dir.path() / "console.txt");
}

QemuRun finish_qemu(const TempDir& dir, ChildProcess& child) {
  QemuRun run;
  auto status = child.wait(kTimeout);
  run.status = status ? *status : -1;
  if (auto report = read_report(dir.path() / "console.txt")) {
    run.report = std::move(*report);
  }
  return run;
}

TEST(QemuGuestTest, VsockGuestToHostStreamArrivesIntact) {
  REQUIRE_VHOST_VSOCK();
  auto dir = TempDir::create("cvmm-qemu-guest-");
  ASSERT_TRUE(dir) << dir.error().message();
  constexpr uint32_t kPort = 5000;
  constexpr uint64_t kBytes = 4 << 20;
  auto listener = af_vsock_listen(kPort);
  ASSERT_TRUE(listener) << listener.error().message();
  auto child = start_qemu_vsock(*dir,
                                fmt::format("cvmmtest=vsock-send vsock.port={} vsock.bytes={} "
                                            "vsock.seed=9",
                                            kPort, kBytes),
                                unique_cid());
  ASSERT_TRUE(child) << child.error().message();
  auto connection = accept_connection(*listener, std::chrono::seconds(20));
  ASSERT_TRUE(connection) << connection.error().message();
  auto stream = read_to_eof(connection->get(), kTimeout);
  connection->reset();
  const QemuRun run = finish_qemu(*dir, *child);
  ASSERT_TRUE(stream) << stream.error().message() << run.report.full_output;
  EXPECT_EQ(stream->bytes, kBytes);
  EXPECT_EQ(crc32_hex(stream->crc), crc32_hex(pattern_crc(kBytes, 9)));
  EXPECT_EQ(run.report.value("vsock-send port", "crc32"), crc32_hex(stream->crc))
      << run.report.full_output;
  EXPECT_TRUE(run.report.has_line("vsock-send ok")) << run.report.full_output;
}

TEST(QemuGuestTest, VsockHostToGuestEchoReturnsEveryByte) {
  REQUIRE_VHOST_VSOCK();
  auto dir = TempDir::create("cvmm-qemu-guest-");
  ASSERT_TRUE(dir) << dir.error().message();
  constexpr uint64_t kBytes = 1 << 20;
  const uint32_t cid = unique_cid();
  auto child = start_qemu_vsock(*dir, "cvmmtest=vsock-echo vsock.port=1024", cid);
  ASSERT_TRUE(child) << child.error().message();
  auto connection = vsock_connect_guest(cid, 1024, std::chrono::seconds(20));
  ASSERT_TRUE(connection) << connection.error().message();
  Result<void> sent = ok();
  std::thread writer([&] {
    sent = write_all(connection->get(), pattern_bytes(0, kBytes, 4));
    ::shutdown(connection->get(), SHUT_WR);
  });
  auto echo = read_to_eof(connection->get(), kTimeout);
  writer.join();
  connection->reset();
  const QemuRun run = finish_qemu(*dir, *child);
  ASSERT_TRUE(sent) << sent.error().message();
  ASSERT_TRUE(echo) << echo.error().message() << run.report.full_output;
  EXPECT_EQ(echo->bytes, kBytes);
  EXPECT_EQ(crc32_hex(echo->crc), crc32_hex(pattern_crc(kBytes, 4)));
  EXPECT_TRUE(run.report.has_line("vsock-echo connections=1 ok")) << run.report.full_output;
}

TEST(QemuGuestTest, VsockSixtyFourConcurrentGuestConnections) {
  REQUIRE_VHOST_VSOCK();
  auto dir = TempDir::create("cvmm-qemu-guest-");
  ASSERT_TRUE(dir) << dir.error().message();
  constexpr uint32_t kPort = 5001, kConnections = 64, kBytes = 16 * 1024;
  auto listener = af_vsock_listen(kPort);
  ASSERT_TRUE(listener) << listener.error().message();
  auto child = start_qemu_vsock(*dir,
                                fmt::format("cvmmtest=vsock-multi vsock.port={} vsock.count={} "
                                            "vsock.bytes={}",
                                            kPort, kConnections, kBytes),
                                unique_cid());
  ASSERT_TRUE(child) << child.error().message();
  std::vector<UniqueFd> connections;
  for (uint32_t i = 0; i < kConnections; ++i) {
    auto connection = accept_connection(*listener, std::chrono::seconds(20));
    ASSERT_TRUE(connection) << "connection " << i << ": " << connection.error().message();
    connections.push_back(std::move(*connection));
  }
  const auto streams = read_all_to_eof(connections, kTimeout);
  connections.clear();
  const QemuRun run = finish_qemu(*dir, *child);
  for (uint32_t i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(streams[i]) << streams[i].error().message();
    EXPECT_EQ(streams[i]->bytes, kBytes);
  }
  EXPECT_TRUE(run.report.has_line("vsock-multi connections=64 ok")) << run.report.full_output;
}

TEST(QemuGuestTest, VsockConnectToAPortWithoutListenerIsReset) {
  REQUIRE_VHOST_VSOCK();
  auto dir = TempDir::create("cvmm-qemu-guest-");
  ASSERT_TRUE(dir) << dir.error().message();
  const QemuRun run = run_qemu(*dir, "cvmmtest=vsock-noport vsock.port=4321", {}, unique_cid());
  EXPECT_TRUE(run.report.has_line("vsock-noport port=4321 rst")) << run.report.full_output;
  EXPECT_EQ(run.status, kQemuPassStatus);
}

}  // namespace
}  // namespace cvm::test::guest
