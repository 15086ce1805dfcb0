// SPDX-License-Identifier: Apache-2.0
// The test guest under the real `cvmm run` binary on KVM (label kvm): virtio-blk through cvmm's
// virtio-mmio transport and BlkDevice, and virtio-vsock through cvmm's hybrid vsock (a Unix
// socket; "CONNECT <port>" for host->guest, `<socket>_<port>` listeners for guest->host).
// The guest finds its devices on the command line: with acpi=off, cvmm adds
// virtio_mmio.device=4K@0xd0000000:5 (slot n: 0xd0000000 + n * 4 KiB, IRQ 5 + n).
// Every test skips only when /dev/kvm does not exist.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "base/file.h"
#include "tests/guest/guest_harness.h"
#include "tests/guest/vmm_launch.h"

namespace cvm::test::guest {
namespace {

constexpr auto kTimeout = std::chrono::seconds(120);
constexpr std::size_t kDiskBytes = 1 << 20;

GuestDisk disk(const std::filesystem::path& path, bool readonly = false, std::string id = "") {
  return GuestDisk{path.string(), readonly, std::move(id)};
}

struct CvmmRun {
  Result<int> status = 0;
  GuestReport report;       // from the serial file
  std::string cvmm_output;  // cvmm's own stdout+stderr
};

/// The argv of `cvmm run` for the test guest.
std::vector<std::string> cvmm_argv(const TempDir& dir, const std::string& program_args,
                                   const std::vector<GuestDisk>& disks, bool vsock) {
  CvmmLaunch launch{.binary = CVMM_BINARY,
                    .append = program_args,
                    .serial = dir.path() / "serial.txt",
                    .disks = disks,
                    .vsock_socket = std::nullopt};
  if (vsock) {
    launch.vsock_socket = dir.path() / "vsock.sock";
  }
  return cvmm_run_argv(launch);
}

CvmmRun finish(const TempDir& dir, Result<int> status) {
  CvmmRun run;
  run.status = std::move(status);
  if (auto report = read_report(dir.path() / "serial.txt")) {
    run.report = std::move(*report);
  }
  if (auto output = read_file((dir.path() / "cvmm.txt").string())) {
    run.cvmm_output.assign(reinterpret_cast<const char*>(output->data()), output->size());
  }
  return run;
}

CvmmRun run_cvmm(const TempDir& dir, const std::string& program_args,
                 const std::vector<GuestDisk>& disks = {}) {
  return finish(dir, run_process(cvmm_argv(dir, program_args, disks, false),
                                 dir.path() / "cvmm.txt", kTimeout));
}

std::string describe(const CvmmRun& run) {
  return "guest console:\n" + run.report.full_output + "\ncvmm output:\n" + run.cvmm_output;
}

bool has_cvmm_binary() { return std::string_view(CVMM_BINARY) != ""; }

#define REQUIRE_KVM_AND_CVMM()                                                  \
  do {                                                                          \
    CVM_GUEST_REQUIRE_KVM();                                                    \
    if (!has_cvmm_binary()) {                                                   \
      GTEST_SKIP() << "the cvmm binary is not part of this build (tools/cvmm)"; \
    }                                                                           \
  } while (false)

class CvmmGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("cvmm-guest-");
    ASSERT_TRUE(dir) << dir.error().message();
    dir_.emplace(std::move(*dir));
  }
  std::filesystem::path path(const char* name) const { return dir_->path() / name; }
  std::optional<TempDir> dir_;
};

TEST_F(CvmmGuestTest, BootsThroughTheLinux64EntryAndFindsTheDiskSlot) {
  REQUIRE_KVM_AND_CVMM();
  ASSERT_TRUE(write_file(path("disk.img"), disk_content(64 * 1024, 1)));
  const CvmmRun run = run_cvmm(*dir_, "cvmmtest=blk-id", {disk(path("disk.img"))});
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_EQ(*run.status, 0) << describe(run);
  EXPECT_TRUE(run.report.has_line("boot entry=linux64")) << describe(run);
  EXPECT_TRUE(run.report.has_line("device index=0 id=2 base=0xd0000000 irq=5")) << describe(run);
  EXPECT_TRUE(run.report.has_line("done pass")) << describe(run);
}

TEST_F(CvmmGuestTest, BlkReadWriteReachesTheHostFile) {
  REQUIRE_KVM_AND_CVMM();
  const std::vector<std::byte> original = disk_content(kDiskBytes, 1);
  ASSERT_TRUE(write_file(path("disk.img"), original));
  constexpr uint64_t kOffset = 8192, kLength = 69632;
  std::vector<std::byte> expected = original;
  const auto written = pattern_bytes(0, kLength, 3);
  std::copy(written.begin(), written.end(), expected.begin() + kOffset);

  const CvmmRun run = run_cvmm(*dir_, "cvmmtest=blk-rw blk.offset=8192 blk.length=69632 blk.seed=3",
                               {disk(path("disk.img"))});
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_EQ(*run.status, 0) << describe(run);
  const GuestReport& r = run.report;
  EXPECT_TRUE(r.has_line("blk-rw capacity=2048 readonly=0 flush=1")) << describe(run);
  EXPECT_EQ(r.value("blk-rw read", "sha256"), sha256_hex(original)) << describe(run);
  EXPECT_TRUE(r.has_line("blk-rw flush status=0")) << describe(run);
  EXPECT_TRUE(r.has_line("blk-rw readback ok")) << describe(run);
  EXPECT_EQ(r.value("blk-rw after", "sha256"), sha256_hex(expected)) << describe(run);
  EXPECT_TRUE(r.has_line("blk-rw ok")) << describe(run);
  auto on_disk = read_file(path("disk.img").string());
  ASSERT_TRUE(on_disk) << on_disk.error().message();
  EXPECT_TRUE(*on_disk == expected) << "the host file differs after cvmm exited";
}

TEST_F(CvmmGuestTest, BlkReadOnlyDiskRefusesWrites) {
  REQUIRE_KVM_AND_CVMM();
  const std::vector<std::byte> original = disk_content(kDiskBytes, 2);
  ASSERT_TRUE(write_file(path("disk.img"), original));
  const CvmmRun run = run_cvmm(*dir_, "cvmmtest=blk-ro", {disk(path("disk.img"), true)});
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_EQ(*run.status, 0) << describe(run);
  EXPECT_TRUE(run.report.has_line("blk-ro capacity=2048 readonly=1 flush=1")) << describe(run);
  EXPECT_TRUE(run.report.has_line("blk-ro write status=1")) << describe(run);
  EXPECT_EQ(run.report.value("blk-ro after", "sha256"), sha256_hex(original)) << describe(run);
  EXPECT_TRUE(run.report.has_line("blk-ro ok")) << describe(run);
  auto on_disk = read_file(path("disk.img").string());
  ASSERT_TRUE(on_disk) << on_disk.error().message();
  EXPECT_TRUE(*on_disk == original);
}

TEST_F(CvmmGuestTest, BlkSerialIsTheDiskId) {
  REQUIRE_KVM_AND_CVMM();
  ASSERT_TRUE(write_file(path("disk.img"), disk_content(64 * 1024, 3)));
  const CvmmRun run =
      run_cvmm(*dir_, "cvmmtest=blk-id", {disk(path("disk.img"), false, "cvmm-serial-42")});
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_TRUE(run.report.has_line("blk-id serial=cvmm-serial-42")) << describe(run);
  EXPECT_TRUE(run.report.has_line("blk-id ok")) << describe(run);
}

TEST_F(CvmmGuestTest, SecondDiskIsTheSecondSlotAndOnlyItChanges) {
  REQUIRE_KVM_AND_CVMM();
  const auto first = disk_content(kDiskBytes, 4);
  const auto second = disk_content(kDiskBytes, 5);
  ASSERT_TRUE(write_file(path("a.img"), first));
  ASSERT_TRUE(write_file(path("b.img"), second));
  const CvmmRun run = run_cvmm(*dir_, "cvmmtest=blk-rw blk.index=1 blk.offset=0 blk.length=512",
                               {disk(path("a.img")), disk(path("b.img"))});
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_TRUE(run.report.has_line("device index=1 id=2 base=0xd0001000 irq=6")) << describe(run);
  EXPECT_EQ(run.report.value("blk-rw read", "sha256"), sha256_hex(second)) << describe(run);
  EXPECT_TRUE(run.report.has_line("blk-rw ok")) << describe(run);
  auto a = read_file(path("a.img").string());
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_TRUE(*a == first);
}

// ---- vsock (hybrid: the host end is cvmm's Unix socket)

/// Skips while `cvmm run --vsock` is not wired in (cvmm says so and exits 2).
#define SKIP_IF_VSOCK_UNWIRED(run)                                             \
  do {                                                                         \
    if ((run).cvmm_output.find("--vsock is not wired") != std::string::npos) { \
      GTEST_SKIP() << "cvmm run --vsock is not wired into this cvmm yet";      \
    }                                                                          \
  } while (false)

/// Bytes for the bulk vsock tests: 1 GiB, or 64 MiB on the nested kvm_pvm host, where most
/// guest instructions after each exit are emulated; CVMM_GUEST_VSOCK_BYTES overrides.
uint64_t bulk_bytes() {
  if (const char* text = std::getenv("CVMM_GUEST_VSOCK_BYTES")) {
    return std::strtoull(text, nullptr, 0);
  }
  return emulating_kvm_host() ? 64ull << 20 : 1ull << 30;
}

TEST_F(CvmmGuestTest, VsockGuestToHostBulkStreamArrivesIntact) {
  REQUIRE_KVM_AND_CVMM();
  constexpr uint32_t kPort = 5000;
  const uint64_t bytes = bulk_bytes();
  auto listener = unix_listen(dir_->path() / ("vsock.sock_" + std::to_string(kPort)));
  ASSERT_TRUE(listener) << listener.error().message();
  auto child = ChildProcess::spawn(
      cvmm_argv(*dir_,
                fmt::format("cvmmtest=vsock-send vsock.port={} vsock.bytes={} vsock.seed=9", kPort,
                            bytes),
                {}, true),
      path("cvmm.txt"));
  ASSERT_TRUE(child) << child.error().message();
  auto connection = accept_connection(*listener, std::chrono::seconds(30));
  if (!connection) {
    const CvmmRun run = finish(*dir_, child->wait(std::chrono::seconds(5)));
    SKIP_IF_VSOCK_UNWIRED(run);
    FAIL() << connection.error().message() << "\n" << describe(run);
  }
  auto stream = read_to_eof(connection->get(), kTimeout);
  connection->reset();  // close: the guest waits for the host to close before powering off
  const CvmmRun run = finish(*dir_, child->wait(kTimeout));
  ASSERT_TRUE(stream) << stream.error().message() << "\n" << describe(run);
  EXPECT_EQ(stream->bytes, bytes);
  const std::string expected_crc = crc32_hex(pattern_crc(bytes, 9));
  EXPECT_EQ(crc32_hex(stream->crc), expected_crc);
  EXPECT_EQ(run.report.value("vsock-send port", "crc32"), expected_crc) << describe(run);
  EXPECT_TRUE(run.report.has_line("vsock-send ok")) << describe(run);
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_EQ(*run.status, 0) << describe(run);
}

TEST_F(CvmmGuestTest, VsockHostToGuestEchoReturnsEveryByte) {
  REQUIRE_KVM_AND_CVMM();
  const uint64_t bytes = bulk_bytes() / 4;
  auto child = ChildProcess::spawn(
      cvmm_argv(*dir_, "cvmmtest=vsock-echo vsock.port=1024", {}, true), path("cvmm.txt"));
  ASSERT_TRUE(child) << child.error().message();
  auto connection =
      hybrid_vsock_connect(dir_->path() / "vsock.sock", 1024, std::chrono::seconds(30));
  if (!connection) {
    const CvmmRun run = finish(*dir_, child->wait(std::chrono::seconds(5)));
    SKIP_IF_VSOCK_UNWIRED(run);
    FAIL() << connection.error().message() << "\n" << describe(run);
  }
  // Writer thread: the pattern, then half-close; the reader takes the echo until EOF.
  Result<void> sent = ok();
  std::thread writer([&] {
    constexpr std::size_t kChunk = 1 << 20;
    for (uint64_t at = 0; at < bytes && sent; at += kChunk) {
      sent = write_all(
          connection->get(),
          pattern_bytes(at, static_cast<std::size_t>(std::min<uint64_t>(kChunk, bytes - at)), 4));
    }
    ::shutdown(connection->get(), SHUT_WR);
  });
  auto echo = read_to_eof(connection->get(), kTimeout);
  writer.join();
  connection->reset();
  const CvmmRun run = finish(*dir_, child->wait(kTimeout));
  ASSERT_TRUE(sent) << sent.error().message() << "\n" << describe(run);
  ASSERT_TRUE(echo) << echo.error().message() << "\n" << describe(run);
  const std::string expected_crc = crc32_hex(pattern_crc(bytes, 4));
  EXPECT_EQ(echo->bytes, bytes);
  EXPECT_EQ(crc32_hex(echo->crc), expected_crc);
  EXPECT_EQ(run.report.value("vsock-echo conn", "crc32"), expected_crc) << describe(run);
  EXPECT_EQ(run.report.value("vsock-echo conn", "bytes"), std::to_string(bytes)) << describe(run);
  EXPECT_TRUE(run.report.has_line("vsock-echo connections=1 ok")) << describe(run);
}

TEST_F(CvmmGuestTest, VsockSixtyFourConcurrentGuestConnections) {
  REQUIRE_KVM_AND_CVMM();
  constexpr uint32_t kPort = 5001, kConnections = 64, kBytes = 256 * 1024;
  auto listener = unix_listen(dir_->path() / ("vsock.sock_" + std::to_string(kPort)));
  ASSERT_TRUE(listener) << listener.error().message();
  auto child =
      ChildProcess::spawn(cvmm_argv(*dir_,
                                    fmt::format("cvmmtest=vsock-multi vsock.port={} vsock.count={} "
                                                "vsock.bytes={}",
                                                kPort, kConnections, kBytes),
                                    {}, true),
                          path("cvmm.txt"));
  ASSERT_TRUE(child) << child.error().message();
  // Accept all 64 before reading any: the guest opens them all before sending.
  std::vector<UniqueFd> connections;
  for (uint32_t i = 0; i < kConnections; ++i) {
    auto connection = accept_connection(*listener, std::chrono::seconds(30));
    if (!connection) {
      const CvmmRun run = finish(*dir_, child->wait(std::chrono::seconds(5)));
      SKIP_IF_VSOCK_UNWIRED(run);
      FAIL() << "connection " << i << ": " << connection.error().message() << "\n" << describe(run);
    }
    connections.push_back(std::move(*connection));
  }
  const auto streams = read_all_to_eof(connections, kTimeout, kBytes);
  connections.clear();
  const CvmmRun run = finish(*dir_, child->wait(kTimeout));
  std::vector<bool> seen(kConnections, false);
  for (uint32_t i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(streams[i]) << streams[i].error().message() << "\n" << describe(run);
    ASSERT_EQ(streams[i]->bytes, kBytes);
    // The stream names its guest-side index in its first 4 bytes (little-endian).
    uint32_t index = 0;
    for (int b = 3; b >= 0; --b) {
      index = index << 8 | static_cast<uint8_t>(streams[i]->head[static_cast<std::size_t>(b)]);
    }
    ASSERT_LT(index, kConnections);
    EXPECT_FALSE(seen[index]) << "two connections carry index " << index;
    seen[index] = true;
    const auto body = pattern_bytes(0, kBytes - 4, index);
    EXPECT_TRUE(std::equal(body.begin(), body.end(), streams[i]->head.begin() + 4))
        << "connection with index " << index << " carries the wrong bytes";
    EXPECT_EQ(run.report.value(fmt::format("vsock-multi conn={} ", index), "crc32"),
              crc32_hex(streams[i]->crc))
        << describe(run);
  }
  EXPECT_TRUE(run.report.has_line("vsock-multi connections=64 ok")) << describe(run);
}

TEST_F(CvmmGuestTest, VsockConnectToAPortWithoutListenerIsReset) {
  REQUIRE_KVM_AND_CVMM();
  const CvmmRun run =
      finish(*dir_, run_process(cvmm_argv(*dir_, "cvmmtest=vsock-noport vsock.port=4321", {}, true),
                                path("cvmm.txt"), kTimeout));
  SKIP_IF_VSOCK_UNWIRED(run);
  EXPECT_TRUE(run.report.has_line("vsock-noport port=4321 rst")) << describe(run);
  EXPECT_TRUE(run.report.has_line("vsock-noport ok")) << describe(run);
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_EQ(*run.status, 0) << describe(run);
}

}  // namespace
}  // namespace cvm::test::guest
