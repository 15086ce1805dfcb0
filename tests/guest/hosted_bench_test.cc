// SPDX-License-Identifier: Apache-2.0
// The benchmark programs as hosted code (hosted_world.h) against cvmm's own devices, no KVM
// (label unit): blk-bench with several requests in flight against MmioTransport + BlkDevice
// (the image afterwards, the guest's hash and the host's parsing of its lines), vsock-bench
// against VsockDevice with the host end (bench_host.h) on its hybrid-vsock Unix socket, as
// bench/guest_io_bench does with `cvmm run`.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "base/file.h"
#include "devices/virtio/blk/blk_device.h"
#include "devices/virtio/blk/disk_file.h"
#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/vsock/vsock_device.h"
#include "tests/guest/bench_host.h"
#include "tests/guest/hosted_world.h"

namespace cvm::test::guest {
namespace {

namespace virtio = devices::virtio;
namespace blk = devices::virtio::blk;

class HostedBenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("cvmm-hosted-bench-");
    ASSERT_TRUE(dir) << dir.error().message();
    dir_.emplace(std::move(*dir));
  }

  GuestReport run_blk_bench(const std::filesystem::path& image, const std::string& args) {
    auto disk = blk::DiskFile::open(image.string(), false);
    EXPECT_TRUE(disk) << disk.error().message();
    if (!disk) {
      return {};
    }
    blk::BlkDevice device(std::move(*disk), blk::BlkOptions{});
    HostDataMemory memory;
    NullLine irq;
    virtio::MmioTransport transport(device, memory, irq, virtio::MmioTransport::Hooks{},
                                    virtio::MmioTransport::Options{});
    hosted_attach(0, transport);
    GuestReport report = hosted_run(args);
    device.reset();  // stop the worker before the transport and device go away
    return report;
  }

  void check_blk_bench(const bench::BlkBenchParams& params) {
    const auto image = dir_->path() / "disk.img";
    const std::vector<std::byte> original = disk_content(params.bytes, 5);
    ASSERT_TRUE(write_file(image, original));
    const GuestReport r = run_blk_bench(image, bench::blk_bench_args(params));
    auto tsc = bench::parse_blk_bench(r, params);
    ASSERT_TRUE(tsc) << tsc.error().message() << "\n" << r.full_output;
    EXPECT_TRUE(r.has_line(fmt::format("blk-bench capacity={} bytes={} chunk={} qd={} ops={} "
                                       "seed={}",
                                       params.bytes / 512, params.bytes, params.chunk,
                                       params.qd, params.ops, params.seed)))
        << r.full_output;
    EXPECT_TRUE(r.has_line("blk-bench flush status=0 tsc=" + std::to_string(tsc->flush)));
    const std::vector<std::byte> expected = bench::blk_bench_expected_image(original, params);
    EXPECT_EQ(r.value("blk-bench verify", "sha256"), sha256_hex(expected)) << r.full_output;
    EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
    auto on_disk = read_file(image.string());
    ASSERT_TRUE(on_disk) << on_disk.error().message();
    EXPECT_TRUE(*on_disk == expected);
  }

  std::optional<TempDir> dir_;
};

TEST_F(HostedBenchTest, BlkBenchSixteenInFlightAgainstCvmmBlkDevice) {
  check_blk_bench({.bytes = 4 << 20, .chunk = 128 * 1024, .qd = 16, .ops = 2000, .seed = 2});
}

TEST_F(HostedBenchTest, BlkBenchOneInFlightAgainstCvmmBlkDevice) {
  check_blk_bench({.bytes = 1 << 20, .chunk = 4096, .qd = 1, .ops = 500, .seed = 4});
}

TEST_F(HostedBenchTest, BlkBenchRefusesAQueueDepthBeyondSixteen) {
  const auto image = dir_->path() / "disk.img";
  ASSERT_TRUE(write_file(image, disk_content(1 << 20, 1)));
  const GuestReport r = run_blk_bench(image, "cvmmtest=blk-bench bench.qd=17");
  EXPECT_TRUE(r.has_line("blk-bench FAIL bench.qd=17 is not supported")) << r.full_output;
  EXPECT_TRUE(r.has_line("done fail")) << r.full_output;
}

TEST_F(HostedBenchTest, VsockBenchAgainstCvmmVsockDevice) {
  constexpr uint32_t kPort = 5200;
  const std::filesystem::path socket = dir_->path() / "vsock.sock";
  auto device = virtio::vsock::VsockDevice::create(3, socket.string());
  ASSERT_TRUE(device) << device.error().message();
  HostDataMemory memory;
  NullLine irq;
  virtio::MmioTransport transport(**device, memory, irq, virtio::MmioTransport::Hooks{},
                                  virtio::MmioTransport::Options{});
  auto listener = unix_listen(socket.string() + "_" + std::to_string(kPort));
  ASSERT_TRUE(listener) << listener.error().message();
  const bench::VsockBenchParams params{.bytes = 8 << 20, .rounds = 200, .verify = true};
  hosted_attach(0, transport);
  GuestReport r;
  std::thread guest([&] {
    r = hosted_run(bench::vsock_bench_args(params, kPort) + " vsock.timeout=60000");
  });
  auto connection = accept_connection(*listener, std::chrono::seconds(20));
  Result<bench::VsockBenchTimes> times =
      connection ? bench::vsock_bench_host(connection->get(), params, std::chrono::seconds(60))
                 : Result<bench::VsockBenchTimes>(connection.error());
  if (connection) {
    connection->reset();
  }
  guest.join();
  (*device)->reset();
  ASSERT_TRUE(times) << times.error().message() << "\n" << r.full_output;
  EXPECT_EQ(crc32_hex(times->g2h_crc),
            crc32_hex(bench::window_stream_crc(params.seed, params.bytes)));
  EXPECT_EQ(r.value("vsock-bench h2g", "crc32"), crc32_hex(times->h2g_crc)) << r.full_output;
  EXPECT_EQ(r.value("vsock-bench h2g", "bytes"), std::to_string(params.bytes));
  EXPECT_TRUE(r.has_line("vsock-bench g2h bytes=8388608 guest-tsc=" +
                         r.value("vsock-bench g2h", "guest-tsc").value_or("?")));
  EXPECT_EQ(times->rtt_us.size(), params.rounds);
  EXPECT_GT(times->g2h_seconds, 0);
  EXPECT_GT(times->h2g_seconds, 0);
  EXPECT_TRUE(r.has_line("vsock-bench rtt rounds=200 msg=64 guest-tsc=" +
                         r.value("vsock-bench rtt", "guest-tsc").value_or("?")))
      << r.full_output;
  EXPECT_TRUE(r.has_line("vsock-bench ok")) << r.full_output;
  EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
}

TEST(VsockBenchPeerTest, HostPeerAndHostEndAgreeOnASocketPair) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd host(fds[0]), peer(fds[1]);
  const bench::VsockBenchParams params{.bytes = 3 << 20, .rounds = 100, .verify = true};
  Result<void> peer_result = ok();
  std::thread other([&] {
    peer_result = bench::vsock_bench_peer(peer.get(), params);
    peer.reset();
  });
  auto times = bench::vsock_bench_host(host.get(), params, std::chrono::seconds(30));
  other.join();
  ASSERT_TRUE(peer_result) << peer_result.error().message();
  ASSERT_TRUE(times) << times.error().message();
  EXPECT_EQ(times->g2h_crc, bench::window_stream_crc(params.seed, params.bytes));
  EXPECT_EQ(times->rtt_us.size(), 100u);
}

TEST(BlkBenchExpectationTest, ValidateAcceptsWhatTheGuestAcceptsOnly) {
  EXPECT_TRUE(bench::validate({.bytes = 1 << 20, .chunk = 4096, .qd = 16, .ops = 1}));
  EXPECT_FALSE(bench::validate({.bytes = 1 << 20, .chunk = 12288, .qd = 1, .ops = 1}));
  EXPECT_FALSE(bench::validate({.bytes = (1 << 20) + 4096, .chunk = 8192, .qd = 1, .ops = 1}));
  EXPECT_FALSE(bench::validate({.bytes = 1 << 20, .chunk = 4096, .qd = 17, .ops = 1}));
  EXPECT_FALSE(bench::validate({.bytes = 1 << 20, .chunk = 2 << 20, .qd = 1, .ops = 1}));
}

TEST(BlkBenchExpectationTest, RandomBlocksAreDeterministicAndInRange) {
  const auto first = bench::bench_random_blocks(7, 256, 1000);
  EXPECT_EQ(first, bench::bench_random_blocks(7, 256, 1000));
  EXPECT_NE(first, bench::bench_random_blocks(8, 256, 1000));
  for (const uint64_t block : first) {
    EXPECT_LT(block, 256u);
  }
}

}  // namespace
}  // namespace cvm::test::guest
