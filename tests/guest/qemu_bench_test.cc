// SPDX-License-Identifier: Apache-2.0
// The benchmark programs under QEMU microvm TCG (label qemu): blk-bench's data checks and the
// host's parsing of its lines, on small sizes (speed is irrelevant under TCG); vsock-bench
// through vhost-vsock when the host has /dev/vhost-vsock. Proves the programs that
// bench/guest_io_bench runs against an implementation of virtio independent of cvmm.
#include <gtest/gtest.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/file.h"
#include "tests/guest/bench_host.h"
#include "tests/guest/vmm_launch.h"

namespace cvm::test::guest {
namespace {

constexpr auto kTimeout = std::chrono::seconds(60);

#define REQUIRE_QEMU()                                                                  \
  do {                                                                                  \
    if (::access(kQemuBinary, X_OK) != 0) {                                             \
      GTEST_SKIP() << kQemuBinary << " is absent (apt-get install qemu-system-x86)"; \
    }                                                                                   \
  } while (false)

QemuLaunch tcg_launch(std::string append, std::string disk = "",
                      std::optional<uint32_t> vsock_cid = std::nullopt) {
  QemuLaunch launch;
  launch.append = std::move(append);
  launch.disks = disks_of(disk);
  launch.vsock_cid = vsock_cid;
  return launch;
}

class QemuBenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("cvmm-qemu-bench-");
    ASSERT_TRUE(dir) << dir.error().message();
    dir_.emplace(std::move(*dir));
  }

  /// Runs blk-bench on a fresh image and checks lines, the guest's hash and the file.
  void check_blk_bench(const bench::BlkBenchParams& params) {
    const auto image = dir_->path() / "disk.img";
    const std::vector<std::byte> original = disk_content(params.bytes, 7);
    ASSERT_TRUE(write_file(image, original));
    const auto console = dir_->path() / "console.txt";
    auto status = run_process(
        qemu_microvm_argv(tcg_launch(bench::blk_bench_args(params), image.string())),
        console, kTimeout);
    auto report = read_report(console);
    ASSERT_TRUE(status) << status.error().message();
    ASSERT_TRUE(report) << report.error().message();
    EXPECT_EQ(*status, kQemuPassStatus) << report->full_output;
    auto tsc = bench::parse_blk_bench(*report, params);
    ASSERT_TRUE(tsc) << tsc.error().message() << "\n" << report->full_output;
    EXPECT_GT(tsc->seq_write, 0u);
    EXPECT_GT(tsc->seq_read, 0u);
    EXPECT_GT(tsc->rand_read, 0u);
    EXPECT_GT(tsc->rand_write, 0u);
    const std::vector<std::byte> expected = bench::blk_bench_expected_image(original, params);
    EXPECT_NE(expected, original);
    EXPECT_EQ(report->value("blk-bench verify", "sha256"), sha256_hex(expected))
        << report->full_output;
    auto on_disk = read_file(image.string());
    ASSERT_TRUE(on_disk) << on_disk.error().message();
    EXPECT_TRUE(*on_disk == expected) << "the image differs from what blk-bench should leave";
  }

  std::optional<TempDir> dir_;
};

TEST_F(QemuBenchTest, BlkBenchWithEightRequestsInFlightLeavesTheExpectedImage) {
  REQUIRE_QEMU();
  check_blk_bench({.bytes = 2 << 20, .chunk = 64 * 1024, .qd = 8, .ops = 300, .seed = 3});
}

TEST_F(QemuBenchTest, BlkBenchOneRequestAtATimeWithLargeChunks) {
  REQUIRE_QEMU();
  check_blk_bench({.bytes = 2 << 20, .chunk = 256 * 1024, .qd = 1, .ops = 100, .seed = 9});
}

TEST_F(QemuBenchTest, BlkBenchRejectsAChunkThatDoesNotDivideTheWindow) {
  REQUIRE_QEMU();
  const auto image = dir_->path() / "disk.img";
  ASSERT_TRUE(write_file(image, disk_content(1 << 20, 1)));
  const auto console = dir_->path() / "console.txt";
  const bench::BlkBenchParams params{.bytes = 1 << 20, .chunk = 12288};
  auto status = run_process(
      qemu_microvm_argv(tcg_launch(bench::blk_bench_args(params), image.string())),
      console, kTimeout);
  auto report = read_report(console);
  ASSERT_TRUE(status && report);
  EXPECT_NE(*status, kQemuPassStatus);
  EXPECT_TRUE(report->has_line("done fail")) << report->full_output;
  EXPECT_FALSE(bench::parse_blk_bench(*report, params).has_value());
}

TEST_F(QemuBenchTest, VsockBenchThroughVhostVsockChecksBothDirections) {
  REQUIRE_QEMU();
  if (!device_usable("/dev/vhost-vsock")) {
    GTEST_SKIP() << "/dev/vhost-vsock is absent, so QEMU's vhost-vsock-device cannot run "
                    "(the hosted test runs vsock-bench against cvmm's VsockDevice)";
  }
  constexpr uint32_t kPort = 5100;
  const bench::VsockBenchParams params{.bytes = 2 << 20, .rounds = 50, .verify = true};
  auto listener = af_vsock_listen(kPort);
  ASSERT_TRUE(listener) << listener.error().message();
  auto child = ChildProcess::spawn(
      qemu_microvm_argv(tcg_launch(bench::vsock_bench_args(params, kPort), "",
                                   2000 + static_cast<uint32_t>(::getpid() % 100000))),
      dir_->path() / "console.txt");
  ASSERT_TRUE(child) << child.error().message();
  auto connection = accept_connection(*listener, std::chrono::seconds(20));
  ASSERT_TRUE(connection) << connection.error().message();
  auto times = bench::vsock_bench_host(connection->get(), params, kTimeout);
  connection->reset();
  auto status = child->wait(kTimeout);
  auto report = read_report(dir_->path() / "console.txt");
  ASSERT_TRUE(report) << report.error().message();
  ASSERT_TRUE(times) << times.error().message() << "\n" << report->full_output;
  EXPECT_EQ(crc32_hex(times->g2h_crc),
            crc32_hex(bench::window_stream_crc(params.seed, params.bytes)));
  EXPECT_EQ(report->value("vsock-bench h2g", "crc32"), crc32_hex(times->h2g_crc))
      << report->full_output;
  EXPECT_EQ(times->rtt_us.size(), params.rounds);
  EXPECT_TRUE(report->has_line("vsock-bench ok")) << report->full_output;
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, kQemuPassStatus);
}

}  // namespace
}  // namespace cvm::test::guest
