// SPDX-License-Identifier: Apache-2.0
// The benchmark programs under the real `cvmm run` on KVM (label kvm; skipped when /dev/kvm
// does not exist): the runs bench/guest_io_bench makes, on small sizes, with every data check
// on: blk-bench's lines, SHA-256 and image file, vsock-bench's CRC-32s both ways and echoes.
#include <gtest/gtest.h>

#include "base/file.h"
#include "tests/guest/bench_host.h"
#include "tests/guest/vmm_launch.h"

namespace cvm::test::guest {
namespace {

constexpr auto kTimeout = std::chrono::seconds(120);

#define REQUIRE_KVM_AND_CVMM()                                                  \
  do {                                                                          \
    CVM_GUEST_REQUIRE_KVM();                                                    \
    if (std::string_view(CVMM_BINARY).empty()) {                                \
      GTEST_SKIP() << "the cvmm binary is not part of this build (tools/cvmm)"; \
    }                                                                           \
  } while (false)

class CvmmBenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("cvmm-bench-test-");
    ASSERT_TRUE(dir) << dir.error().message();
    dir_.emplace(std::move(*dir));
  }
  CvmmLaunch launch(const std::string& append) const {
    CvmmLaunch l;
    l.binary = CVMM_BINARY;
    l.append = append;
    l.serial = dir_->path() / "serial.txt";
    return l;
  }
  std::string output() const {
    auto serial = read_file((dir_->path() / "serial.txt").string());
    auto cvmm = read_file((dir_->path() / "cvmm.txt").string());
    const auto text = [](const Result<std::vector<std::byte>>& r) {
      return r ? std::string(reinterpret_cast<const char*>(r->data()), r->size()) : "";
    };
    return "guest console:\n" + text(serial) + "\ncvmm output:\n" + text(cvmm);
  }
  std::optional<TempDir> dir_;
};

TEST_F(CvmmBenchTest, BlkBenchWithEightInFlightLeavesTheExpectedImage) {
  REQUIRE_KVM_AND_CVMM();
  const bench::BlkBenchParams params{.bytes = 8 << 20, .chunk = 64 * 1024, .qd = 8,
                                     .ops = 1000, .seed = 6};
  const auto image = dir_->path() / "disk.img";
  const std::vector<std::byte> original = disk_content(params.bytes, 3);
  ASSERT_TRUE(write_file(image, original));
  CvmmLaunch l = launch(bench::blk_bench_args(params));
  l.disks = disks_of(image.string());
  auto status = run_process(cvmm_run_argv(l), dir_->path() / "cvmm.txt", kTimeout);
  ASSERT_TRUE(status) << status.error().message();
  EXPECT_EQ(*status, 0) << output();
  auto report = read_report(dir_->path() / "serial.txt");
  ASSERT_TRUE(report) << report.error().message();
  auto tsc = bench::parse_blk_bench(*report, params);
  ASSERT_TRUE(tsc) << tsc.error().message() << "\n" << output();
  const std::vector<std::byte> expected = bench::blk_bench_expected_image(original, params);
  EXPECT_EQ(report->value("blk-bench verify", "sha256"), sha256_hex(expected)) << output();
  auto on_disk = read_file(image.string());
  ASSERT_TRUE(on_disk) << on_disk.error().message();
  EXPECT_TRUE(*on_disk == expected);
}

TEST_F(CvmmBenchTest, VsockBenchOverHybridVsockChecksBothDirections) {
  REQUIRE_KVM_AND_CVMM();
  constexpr uint32_t kPort = 5300;
  const bench::VsockBenchParams params{.bytes = 16 << 20, .rounds = 500, .verify = true};
  auto listener = unix_listen(dir_->path() / ("vsock.sock_" + std::to_string(kPort)));
  ASSERT_TRUE(listener) << listener.error().message();
  CvmmLaunch l = launch(bench::vsock_bench_args(params, kPort));
  l.vsock_socket = dir_->path() / "vsock.sock";
  auto child = ChildProcess::spawn(cvmm_run_argv(l), dir_->path() / "cvmm.txt");
  ASSERT_TRUE(child) << child.error().message();
  auto connection = accept_connection(*listener, std::chrono::seconds(30));
  ASSERT_TRUE(connection) << connection.error().message() << "\n" << output();
  auto times = bench::vsock_bench_host(connection->get(), params, kTimeout);
  connection->reset();
  auto status = child->wait(kTimeout);
  ASSERT_TRUE(times) << times.error().message() << "\n" << output();
  auto report = read_report(dir_->path() / "serial.txt");
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(crc32_hex(times->g2h_crc),
            crc32_hex(bench::window_stream_crc(params.seed, params.bytes)));
  EXPECT_EQ(report->value("vsock-bench h2g", "crc32"), crc32_hex(times->h2g_crc)) << output();
  EXPECT_EQ(times->rtt_us.size(), params.rounds);
  EXPECT_TRUE(report->has_line("vsock-bench ok")) << output();
  ASSERT_TRUE(status) << status.error().message();
  EXPECT_EQ(*status, 0) << output();
}

}  // namespace
}  // namespace cvm::test::guest
