// SPDX-License-Identifier: Apache-2.0
// VsockDevice end to end: the test thread plays a Linux guest (GuestVsockStack over
// VsockGuestDriver rings) and the host clients/servers on real Unix sockets, while the
// device runs its own event loop in between.
#include "devices/virtio/vsock/vsock_device.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "devices/virtio/mmio_transport.h"
#include "tests/unit/virtio/vsock_fixture.h"

namespace cvm::devices::virtio::vsock {
namespace {

TEST_F(VsockDeviceTest, CreateRejectsReservedCids) {
  for (uint64_t cid : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{0xffffffff},
                       uint64_t{0x100000000}}) {
    auto created = VsockDevice::create(cid, path_);
    ASSERT_FALSE(created.has_value()) << cid;
    EXPECT_EQ(created.error().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(VsockDevice::create(0xfffffffe, path_).has_value());
}

TEST_F(VsockDeviceTest, CreateRefusesNonSocketsAndLiveSocketsNamingThePath) {
  std::ofstream(path_) << "precious";
  auto created = VsockDevice::create(3, path_);
  ASSERT_FALSE(created.has_value());
  EXPECT_NE(created.error().message().find(path_), std::string::npos);
  EXPECT_NE(created.error().message().find("is not a socket"), std::string::npos);
  std::filesystem::remove(path_);

  auto first = VsockDevice::create(3, path_);
  ASSERT_TRUE(first.has_value());
  auto second = VsockDevice::create(4, path_);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message().find("in use"), std::string::npos);

  auto too_long = VsockDevice::create(3, "/tmp/" + std::string(120, 'x'));
  ASSERT_FALSE(too_long.has_value());
  auto missing_dir = VsockDevice::create(3, dir_ + "/no/such/dir.sock");
  ASSERT_FALSE(missing_dir.has_value());
  EXPECT_NE(missing_dir.error().message().find(dir_ + "/no/such/dir.sock"), std::string::npos);
}

TEST_F(VsockDeviceTest, StaleSocketIsReplacedAndOursRemovedOnDestruction) {
  {
    testing::listen_unix(path_);  // bound, then closed: a stale socket file remains
  }
  struct stat st{};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  auto created = VsockDevice::create(3, path_);
  ASSERT_TRUE(created.has_value()) << created.error().message();
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  created->reset();
  EXPECT_NE(::stat(path_.c_str(), &st), 0);
}

TEST_F(VsockDeviceTest, ConfigHoldsGuestCidAndFeaturesOfferStream) {
  auto created = VsockDevice::create(0x1234567, path_);
  ASSERT_TRUE(created.has_value());
  std::array<std::byte, 8> cid{};
  (*created)->read_config(0, cid);
  EXPECT_EQ(load_le<uint64_t>(cid), 0x1234567u);
  std::array<std::byte, 4> high{};
  (*created)->read_config(4, high);
  EXPECT_EQ(load_le<uint32_t>(high), 0u);
  (*created)->read_config(8, high);
  EXPECT_EQ(load_le<uint32_t>(high), 0u);
  EXPECT_EQ((*created)->device_features(), 1u);
  EXPECT_EQ((*created)->device_type(), DeviceType::kVsock);
  EXPECT_EQ((*created)->queue_max_sizes().size(), 3u);
}

TEST_F(VsockDeviceTest, HostConnectGetsOkAfterResponseAndDataFlowsBothWays) {
  start();
  stack->listen(1024);
  HostEnd client = handshake(1024, "hello");  // bytes after '\n' belong to the stream
  ASSERT_EQ(client.input_text(), "OK 1073741824\n");
  ASSERT_EQ(stack->accepted().size(), 1u);
  const Key key = stack->accepted()[0];
  EXPECT_EQ(key, Key(1024, kFirstHostPort));
  const GuestPacket& request = stack->log().at(0);
  EXPECT_EQ(request.header.op, static_cast<uint16_t>(Op::kRequest));
  EXPECT_EQ(request.header.src_cid, 2u);
  EXPECT_EQ(request.header.dst_cid, 3u);
  EXPECT_EQ(request.header.src_port, kFirstHostPort);
  EXPECT_EQ(request.header.dst_port, 1024u);
  EXPECT_EQ(request.header.buf_alloc, kBufAlloc);

  ASSERT_TRUE(run_until([&] { return stack->conns()[key].data.size() == 5; }));
  EXPECT_EQ(text(stack->conns()[key].data), "hello");
  client.queue(" more");
  client.pump_out();
  ASSERT_TRUE(run_until([&] { return stack->conns()[key].data.size() == 10; }));
  EXPECT_EQ(text(stack->conns()[key].data), "hello more");
  stack->write(key, bytes_of("world"));
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.in_total == 19; }));
  EXPECT_EQ(client.input_text(), "OK 1073741824\nworld");

  HostEnd lower(HostEnd::connect(path_));
  lower.queue("connect 1024\n");  // runtime-rs spelling
  lower.pump_out();
  ASSERT_TRUE(run_until([&] { lower.pump_in(); return lower.in_total == 14; }));
  EXPECT_EQ(lower.input_text(), "OK 1073741825\n");
  EXPECT_EQ(device->connection_count(), 2u);
  EXPECT_EQ(stack->errors, 0);
  EXPECT_EQ(driver->protocol_errors, 0);
}

TEST_F(VsockDeviceTest, OkIsSentOnlyAfterTheGuestResponds) {
  start();
  stack->answer_requests = false;
  HostEnd client(HostEnd::connect(path_));
  client.queue("CONNECT 77\n");
  client.pump_out();
  ASSERT_TRUE(run_until([&] { return !stack->log().empty(); }));
  run_for(std::chrono::milliseconds(100), [&] { client.pump_in(); });
  EXPECT_EQ(client.in_total, 0u);
  EXPECT_FALSE(client.eof);
  VsockHeader response = stack->log()[0].header;
  response.src_port = stack->log()[0].header.dst_port;
  response.dst_port = stack->log()[0].header.src_port;
  response.src_cid = 3;
  response.dst_cid = 2;
  response.op = static_cast<uint16_t>(Op::kResponse);
  response.buf_alloc = 4096;
  stack->send_raw(response);
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.in_total == 14; }));
  EXPECT_EQ(client.input_text(), "OK 1073741824\n");
}

TEST_F(VsockDeviceTest, ConnectToAPortNobodyListensOnClosesTheClient) {
  start();
  HostEnd client(HostEnd::connect(path_));
  client.queue("CONNECT 1025\n");
  client.pump_out();
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.eof; }));
  EXPECT_EQ(client.in_total, 0u);
  ASSERT_TRUE(run_until([&] { return device->connection_count() == 0; }));
}

TEST_F(VsockDeviceTest, GarbageOrOverlongHandshakeClosesTheClient) {
  start();
  stack->listen(1024);
  for (std::string line : {std::string("HELLO 1024\n"), std::string("CONNECT 1024x\n"),
                           std::string(200, 'A')}) {
    HostEnd client(HostEnd::connect(path_));
    client.queue(line);
    client.pump_out();
    ASSERT_TRUE(run_until([&] { client.pump_in(); return client.eof; })) << line;
    EXPECT_EQ(client.in_total, 0u) << line;
  }
  EXPECT_TRUE(stack->log().empty());
}

TEST_F(VsockDeviceTest, HandshakeTimesOut) {
  start(VsockOptions{.handshake_timeout = std::chrono::milliseconds(200)});
  HostEnd client(HostEnd::connect(path_));
  client.queue("CONNECT 10");  // never finished
  client.pump_out();
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.eof; }));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(150));
}

// A client dialling while the guest still boots (Kata's agent connection races the guest
// kernel) is answered once the driver is up, as Firecracker does; a device reset before
// DRIVER_OK (Linux resets the device while probing it) does not drop it.
TEST_F(VsockDeviceTest, ConnectBeforeTheDriverIsReadyIsDeliveredOnceItIs) {
  auto created = VsockDevice::create(3, path_);
  ASSERT_TRUE(created.has_value()) << created.error().message();
  device = std::move(*created);
  HostEnd client(HostEnd::connect(path_));
  ASSERT_TRUE(client.valid());
  client.queue("CONNECT 1024\nearly");
  client.pump_out();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  client.pump_in();
  EXPECT_FALSE(client.eof);
  EXPECT_EQ(client.in_total, 0u);
  EXPECT_EQ(device->connection_count(), 1u);
  device->reset();
  EXPECT_EQ(device->connection_count(), 1u);
  start();
  stack->listen(1024);
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.in_total == 14 || client.eof; }));
  EXPECT_EQ(client.input_text(), "OK 1073741824\n");
  const Key key = key_for(client, 1024);
  ASSERT_TRUE(run_until([&] { return stack->conns()[key].data.size() == 5; }));
  EXPECT_EQ(text(stack->conns()[key].data), "early");
  stack->write(key, bytes_of("late"));
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.in_total == 18; }));
  EXPECT_EQ(client.input_text(), "OK 1073741824\nlate");
}

TEST_F(VsockDeviceTest, ConnectWhileTheDriverNeverComesUpIsClosedAfterTheTimeout) {
  auto created = VsockDevice::create(
      3, path_, VsockOptions{.driver_ready_timeout = std::chrono::milliseconds(300)});
  ASSERT_TRUE(created.has_value()) << created.error().message();
  device = std::move(*created);
  HostEnd client(HostEnd::connect(path_));
  ASSERT_TRUE(client.valid());
  client.queue("CONNECT 1024\n");
  client.pump_out();
  const auto begin = std::chrono::steady_clock::now();
  while (!client.eof && std::chrono::steady_clock::now() - begin < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    client.pump_in();
  }
  const auto waited = std::chrono::steady_clock::now() - begin;
  ASSERT_TRUE(client.eof);
  EXPECT_EQ(client.in_total, 0u);
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(2));
  EXPECT_EQ(device->connection_count(), 0u);
  // The driver coming up later sends nothing for the closed client.
  start();
  stack->listen(1024);
  run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(stack->log().empty());
  HostEnd later = handshake(1024);
  EXPECT_EQ(later.input_text(), "OK 1073741824\n");
}

TEST_F(VsockDeviceTest, GuestConnectReachesPathUnderscorePort) {
  start();
  UniqueFd listener = testing::listen_unix(path_ + "_4050");
  ASSERT_TRUE(listener.valid());
  stack->connect(5000, 4050);
  ASSERT_TRUE(run_until([&] { return stack->conns()[Key(5000, 4050)].established; }));
  HostEnd server = HostEnd::accept_from(listener.get());
  ASSERT_TRUE(server.valid());
  stack->write(Key(5000, 4050), bytes_of("quote request"));
  ASSERT_TRUE(run_until([&] { server.pump_in(); return server.in_total == 13; }));
  EXPECT_EQ(server.input_text(), "quote request");
  server.queue("quote");
  server.pump_out();
  ASSERT_TRUE(run_until([&] { return stack->conns()[Key(5000, 4050)].data.size() == 5; }));
  EXPECT_EQ(text(stack->conns()[Key(5000, 4050)].data), "quote");
}

TEST_F(VsockDeviceTest, GuestConnectToMissingPathPortGetsRst) {
  start();
  stack->connect(5001, 4051);
  ASSERT_TRUE(run_until([&] { return stack->conns()[Key(5001, 4051)].reset; }));
  EXPECT_FALSE(stack->conns()[Key(5001, 4051)].established);
  EXPECT_EQ(device->connection_count(), 0u);
}

class CountingLine final : public InterruptLine {
 public:
  void trigger() override { ++triggers; }
  void set_level(bool /*asserted*/) override {}
  std::atomic<int> triggers{0};
};

// The machine's view: VsockDevice behind virtio-mmio, configured through registers only.
TEST_F(VsockDeviceTest, WorksBehindTheMmioTransport) {
  auto created = VsockDevice::create(0x87654321, path_);
  ASSERT_TRUE(created.has_value());
  device = std::move(*created);
  driver = std::make_unique<VsockGuestDriver>(*device, VsockGuestDriver::Config{.cid = 0x87654321});
  CountingLine line;
  MmioTransport mmio(*device, driver->memory(), line, {}, {});
  auto rd = [&](uint64_t offset) {
    std::array<std::byte, 4> raw{};
    mmio.read(offset, raw);
    return load_le<uint32_t>(raw);
  };
  auto wr = [&](uint64_t offset, uint32_t value) {
    std::array<std::byte, 4> raw{};
    store_le<uint32_t>(raw, value);
    mmio.write(offset, raw);
  };
  EXPECT_EQ(rd(mmio_reg::kDeviceId), 19u);
  EXPECT_EQ(rd(mmio_reg::kConfig), 0x87654321u);
  EXPECT_EQ(rd(mmio_reg::kConfig + 4), 0u);
  wr(mmio_reg::kDeviceFeaturesSel, 0);
  EXPECT_EQ(rd(mmio_reg::kDeviceFeatures) & 0xffffffu, 1u);  // VIRTIO_VSOCK_F_STREAM only
  const uint32_t features_ok = status::kAcknowledge | status::kDriver | status::kFeaturesOk;
  wr(mmio_reg::kStatus, status::kAcknowledge | status::kDriver);
  wr(mmio_reg::kDriverFeaturesSel, 0);
  wr(mmio_reg::kDriverFeatures, 1u | (1u << feature::kEventIdx));
  wr(mmio_reg::kDriverFeaturesSel, 1);
  wr(mmio_reg::kDriverFeatures, 1);  // VERSION_1
  wr(mmio_reg::kStatus, features_ok);
  const auto layouts = driver->layouts();
  for (uint32_t q = 0; q < 3; ++q) {
    wr(mmio_reg::kQueueSel, q);
    wr(mmio_reg::kQueueNum, layouts[q].size);
    wr(mmio_reg::kQueueDescLow, static_cast<uint32_t>(layouts[q].desc_table));
    wr(mmio_reg::kQueueDriverLow, static_cast<uint32_t>(layouts[q].avail_ring));
    wr(mmio_reg::kQueueDeviceLow, static_cast<uint32_t>(layouts[q].used_ring));
    wr(mmio_reg::kQueueReady, 1);
  }
  wr(mmio_reg::kStatus, features_ok | status::kDriverOk);
  ASSERT_EQ(rd(mmio_reg::kStatus), features_ok | status::kDriverOk);
  driver->post_all_rx();
  stack = std::make_unique<GuestVsockStack>(*driver);
  stack->listen(1024);
  HostEnd client = handshake(1024);
  EXPECT_EQ(client.input_text(), "OK 1073741824\n");
  EXPECT_GT(line.triggers.load(), 0);  // used-buffer interrupts reach the line
  wr(mmio_reg::kStatus, 0);  // driver reset: the device drops the connection
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.eof; }));
  EXPECT_EQ(device->connection_count(), 0u);
  device.reset();  // stop the event loop before the transport (its VirtioInterrupt) goes
}

}  // namespace
}  // namespace cvm::devices::virtio::vsock
