// SPDX-License-Identifier: Apache-2.0
// The hosted test guest's vsock driver (hosted_world.h) against cvmm's own VsockDevice behind
// its MmioTransport, with the host end on the device's hybrid-vsock Unix sockets exactly as in
// the KVM tests (cvmm_guest_test.cc): "CONNECT <port>" for host->guest, `<socket>_<port>`
// listeners for guest->host. The guest program runs on a thread of this process; the
// device's event loop writes into the driver's buffers. No KVM needed (label unit).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/vsock/vsock_device.h"
#include "tests/guest/hosted_world.h"

namespace cvm::test::guest {
namespace {

namespace virtio = devices::virtio;

constexpr uint64_t kGuestCid = 3;
constexpr auto kTimeout = std::chrono::seconds(60);

/// cvmm's vsock device in slot 0 and the guest program running against it on a thread.
class HostedCvmmVsockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("cvmm-hosted-vsock-");
    ASSERT_TRUE(dir) << dir.error().message();
    dir_.emplace(std::move(*dir));
    auto device = virtio::vsock::VsockDevice::create(kGuestCid, socket().string());
    ASSERT_TRUE(device) << device.error().message();
    device_ = std::move(*device);
    transport_.emplace(*device_, memory_, irq_, virtio::MmioTransport::Hooks{},
                       virtio::MmioTransport::Options{});
  }

  void TearDown() override {
    if (guest_.joinable()) {
      guest_.join();
    }
    if (device_) {
      device_->reset();
    }
  }

  void start_guest(const std::string& program_args) {
    hosted_attach(0, *transport_);
    guest_ = std::thread([this, program_args] { report_ = hosted_run(program_args); });
  }
  GuestReport finish_guest() {
    guest_.join();
    return report_;
  }

  std::filesystem::path socket() const { return dir_->path() / "vsock.sock"; }

  std::optional<TempDir> dir_;
  HostDataMemory memory_;
  NullLine irq_;
  std::unique_ptr<virtio::vsock::VsockDevice> device_;
  std::optional<virtio::MmioTransport> transport_;
  std::thread guest_;
  GuestReport report_;
};

TEST_F(HostedCvmmVsockTest, GuestToHostStreamArrivesIntact) {
  constexpr uint32_t kPort = 5000;
  constexpr uint64_t kBytes = 16 << 20;
  auto listener = unix_listen(socket().string() + "_" + std::to_string(kPort));
  ASSERT_TRUE(listener) << listener.error().message();
  start_guest(
      fmt::format("cvmmtest=vsock-send vsock.port={} vsock.bytes={} vsock.seed=9 "
                  "vsock.timeout=60000",
                  kPort, kBytes));
  auto connection = accept_connection(*listener, std::chrono::seconds(20));
  ASSERT_TRUE(connection) << connection.error().message();
  auto stream = read_to_eof(connection->get(), kTimeout);
  connection->reset();
  const GuestReport r = finish_guest();
  ASSERT_TRUE(stream) << stream.error().message() << r.full_output;
  EXPECT_EQ(stream->bytes, kBytes) << r.full_output;
  const std::string expected = crc32_hex(pattern_crc(kBytes, 9));
  EXPECT_EQ(crc32_hex(stream->crc), expected);
  EXPECT_EQ(r.value("vsock-send port", "crc32"), expected) << r.full_output;
  EXPECT_TRUE(r.has_line("vsock-send ok")) << r.full_output;
}

TEST_F(HostedCvmmVsockTest, HostToGuestEchoReturnsEveryByte) {
  constexpr uint64_t kBytes = 4 << 20;
  start_guest("cvmmtest=vsock-echo vsock.port=1024 vsock.timeout=60000");
  auto connection = hybrid_vsock_connect(socket(), 1024, std::chrono::seconds(20));
  ASSERT_TRUE(connection) << connection.error().message();
  Result<void> sent = ok();
  std::thread writer([&] {
    constexpr std::size_t kChunk = 1 << 20;
    for (uint64_t at = 0; at < kBytes && sent; at += kChunk) {
      sent = write_all(connection->get(), pattern_bytes(at, kChunk, 4));
    }
    ::shutdown(connection->get(), SHUT_WR);
  });
  auto echo = read_to_eof(connection->get(), kTimeout);
  writer.join();
  connection->reset();
  const GuestReport r = finish_guest();
  ASSERT_TRUE(sent) << sent.error().message();
  ASSERT_TRUE(echo) << echo.error().message() << r.full_output;
  const std::string expected = crc32_hex(pattern_crc(kBytes, 4));
  EXPECT_EQ(echo->bytes, kBytes) << r.full_output;
  EXPECT_EQ(crc32_hex(echo->crc), expected);
  EXPECT_EQ(r.value("vsock-echo conn", "crc32"), expected) << r.full_output;
  EXPECT_TRUE(r.has_line("vsock-echo connections=1 ok")) << r.full_output;
}

TEST_F(HostedCvmmVsockTest, SixtyFourConcurrentGuestConnections) {
  constexpr uint32_t kPort = 5001, kConnections = 64, kBytes = 64 * 1024;
  auto listener = unix_listen(socket().string() + "_" + std::to_string(kPort));
  ASSERT_TRUE(listener) << listener.error().message();
  start_guest(
      fmt::format("cvmmtest=vsock-multi vsock.port={} vsock.count={} vsock.bytes={} "
                  "vsock.timeout=60000",
                  kPort, kConnections, kBytes));
  std::vector<UniqueFd> connections;
  for (uint32_t i = 0; i < kConnections; ++i) {
    auto connection = accept_connection(*listener, std::chrono::seconds(20));
    ASSERT_TRUE(connection) << "connection " << i << ": " << connection.error().message();
    connections.push_back(std::move(*connection));
  }
  const auto streams = read_all_to_eof(connections, kTimeout, kBytes);
  connections.clear();
  const GuestReport r = finish_guest();
  std::vector<bool> seen(kConnections, false);
  for (uint32_t i = 0; i < kConnections; ++i) {
    ASSERT_TRUE(streams[i]) << streams[i].error().message();
    ASSERT_EQ(streams[i]->bytes, kBytes) << r.full_output;
    uint32_t index = 0;
    for (int b = 3; b >= 0; --b) {
      index = index << 8 | static_cast<uint8_t>(streams[i]->head[static_cast<std::size_t>(b)]);
    }
    ASSERT_LT(index, kConnections);
    EXPECT_FALSE(seen[index]);
    seen[index] = true;
    const auto body = pattern_bytes(0, kBytes - 4, index);
    EXPECT_TRUE(std::equal(body.begin(), body.end(), streams[i]->head.begin() + 4)) << index;
  }
  EXPECT_TRUE(r.has_line("vsock-multi connections=64 ok")) << r.full_output;
}

TEST_F(HostedCvmmVsockTest, ConnectionToAPortWithoutListenerIsReset) {
  start_guest("cvmmtest=vsock-noport vsock.port=4321 vsock.timeout=20000");
  const GuestReport r = finish_guest();
  EXPECT_TRUE(r.has_line("vsock-noport port=4321 rst")) << r.full_output;
  EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
}

}  // namespace
}  // namespace cvm::test::guest
