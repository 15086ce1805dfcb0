// SPDX-License-Identifier: Apache-2.0
// VsockDevice streams under load and abuse: a large checksummed transfer, 64 concurrent
// connections, back-pressure on both sides with bounded device memory, SHUTDOWN/RST in both
// directions, device reset with open connections, and hostile tx packets.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/virtio/vsock_fixture.h"

namespace cvm::devices::virtio::vsock {
namespace {

// 32 MiB each way at once (64 MiB through the device): 8k 4 KiB rx packets and 512 64 KiB
// tx packets; ~3 s in a release build and ~10 s under ASan on this loaded 2-core host.
constexpr std::size_t kLargeTransferBytes = 32u << 20;

// The transfer below, once with kicks through process_queue() and once through eventfds the
// device adopted (cvmm's path: KVM's ioeventfds wake the event loop directly).
class VsockKickPathTest : public VsockDeviceTest, public ::testing::WithParamInterface<bool> {};
INSTANTIATE_TEST_SUITE_P(Kicks, VsockKickPathTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "AdoptedEventfds" : "ProcessQueue";
                         });

TEST_P(VsockKickPathTest, LargeTransferBothWaysKeepsEveryByteInOrder) {
  start({}, VsockGuestDriver::Config{.kick_through_eventfds = GetParam()});
  EXPECT_EQ(driver->adopted_queues, GetParam() ? 3 : 0);
  stack->listen(1024);
  stack->keep_data = false;
  stack->keep_log = false;
  HostEnd client = handshake(1024);
  ASSERT_EQ(client.input_text(), "OK 1073741824\n");
  const Key key = key_for(client, 1024);
  client.in.clear();
  client.in_total = 0;
  client.fnv = testing::fnv1a({});
  client.keep_input = false;
  const auto up = pattern(kLargeTransferBytes, 1);
  const auto down = pattern(kLargeTransferBytes, 2);
  client.queue(up);
  stack->write(key, down);
  ASSERT_TRUE(run_until(
      [&] {
        EXPECT_TRUE(client.pump_out());
        client.pump_in();
        return client.in_total == kLargeTransferBytes &&
               stack->conns()[key].received == kLargeTransferBytes;
      },
      std::chrono::seconds(60)));
  EXPECT_EQ(stack->conns()[key].fnv, testing::fnv1a(up));
  EXPECT_EQ(client.fnv, testing::fnv1a(down));
  EXPECT_EQ(stack->errors, 0);
  EXPECT_EQ(driver->protocol_errors, 0);
  EXPECT_LE(device->peak_buffered_bytes(), kBufAlloc);
  EXPECT_FALSE(driver->interrupt().needs_reset);
  if (GetParam()) {
    // The event loop itself drained every kick (nothing else reads those eventfds).
    EXPECT_GT(driver->kicks, 0u);
    EXPECT_TRUE(run_until([&] {
      return !driver->kick_unread(0) && !driver->kick_unread(1) && !driver->kick_unread(2);
    }));
  }
}

TEST_F(VsockDeviceTest, SixtyFourConcurrentConnectionsStayApart) {
  constexpr int kConns = 64;
  constexpr std::size_t kBytes = 48 * 1024;
  start();
  stack->listen(1024);
  std::vector<HostEnd> clients;
  for (int i = 0; i < kConns; ++i) {
    clients.push_back(HostEnd::connect(path_));
    clients.back().queue("CONNECT 1024\n");
    clients.back().queue(pattern(kBytes, i));
    clients.back().pump_out();
  }
  ASSERT_TRUE(run_until([&] {
    bool all = stack->accepted().size() == kConns;
    for (HostEnd& c : clients) {
      all = c.pump_out() && all;
    }
    return all;
  }));
  std::vector<Key> keys(kConns);
  ASSERT_TRUE(run_until([&] {
    bool all = true;
    for (int i = 0; i < kConns; ++i) {
      clients[i].pump_in();
      const std::string t = clients[i].input_text();
      if (t.find('\n') == std::string::npos) {
        all = false;
      } else if (keys[i].second == 0) {
        keys[i] = key_for(clients[i], 1024);
        stack->write(keys[i], pattern(kBytes, 1000 + i));
      }
    }
    return all;
  }));
  ASSERT_TRUE(run_until([&] {
    bool all = true;
    for (int i = 0; i < kConns; ++i) {
      clients[i].pump_out();
      clients[i].pump_in();
      all = all && stack->conns()[keys[i]].received == kBytes &&
            clients[i].in_total == kBytes + fmt::format("OK {}\n", keys[i].second).size();
    }
    return all;
  }));
  for (int i = 0; i < kConns; ++i) {
    EXPECT_EQ(stack->conns()[keys[i]].data, pattern(kBytes, i)) << i;
    const std::vector<std::byte> expected = pattern(kBytes, 1000 + i);
    const std::size_t line = clients[i].in.size() - kBytes;
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), clients[i].in.begin() + line)) << i;
  }
  EXPECT_EQ(device->connection_count(), static_cast<std::size_t>(kConns));
  std::set<uint32_t> ports;
  for (const Key& k : keys) {
    ports.insert(k.second);
  }
  EXPECT_EQ(ports.size(), static_cast<std::size_t>(kConns));
}

TEST_F(VsockDeviceTest, SlowGuestReaderStopsHostReadsAtTheGrantedCredit) {
  constexpr std::size_t kBytes = 4u << 20;
  start();
  stack->listen(1024);
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  stack->set_consume(key, false);
  const auto data = pattern(kBytes, 7);
  client.queue(data);
  ASSERT_TRUE(run_until([&] {
    client.pump_out();
    return stack->conns()[key].received == kBufAlloc;
  }));
  run_for(std::chrono::milliseconds(200), [&] { client.pump_out(); });
  // Exactly the credit: not one byte more went to the guest, the rest waits in the client.
  EXPECT_EQ(stack->conns()[key].received, kBufAlloc);
  EXPECT_LT(client.out_pos, kBytes);
  EXPECT_EQ(device->buffered_bytes(), 0u);  // host -> guest data is never held by the device
  stack->set_consume(key, true);
  ASSERT_TRUE(run_until([&] {
    client.pump_out();
    return stack->conns()[key].received == kBytes;
  }));
  EXPECT_EQ(stack->conns()[key].data, data);
  EXPECT_EQ(stack->conns()[key].max_unread, kBufAlloc);
  EXPECT_EQ(stack->errors, 0);
}

TEST_F(VsockDeviceTest, SlowHostReaderBoundsDeviceMemoryAndThrottlesTheGuest) {
  constexpr std::size_t kBytes = 8u << 20;
  start();
  stack->listen(1024);
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  client.in.clear();
  client.in_total = 0;
  const auto data = pattern(kBytes, 9);
  stack->write(key, data);
  run_for(std::chrono::milliseconds(300));
  // The client reads nothing: the device holds at most one connection buffer and the guest
  // is out of credit with most of its data unsent.
  EXPECT_LE(device->peak_buffered_bytes(), kBufAlloc);
  EXPECT_GT(device->buffered_bytes(), 0u);
  const std::size_t stalled_at = stack->conns()[key].out_pos;
  EXPECT_LT(stalled_at, kBytes / 2);
  run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(stack->conns()[key].out_pos, stalled_at);
  ASSERT_TRUE(run_until([&] {
    client.pump_in(64 * 1024 + client.in_total);  // a slow reader: 64 KiB per round
    return client.in_total == kBytes;
  }));
  EXPECT_EQ(client.in, data);
  EXPECT_LE(device->peak_buffered_bytes(), kBufAlloc);
  EXPECT_EQ(device->buffered_bytes(), 0u);
}

// The direct path with payloads over two descriptors and a host socket that takes only part
// of a packet: the rest is copied from the second iovec onwards into the bounded buffer.
TEST_F(VsockDeviceTest, SplitTxPayloadToASlowHostReaderKeepsEveryByteInOrder) {
  constexpr std::size_t kBytes = 4u << 20;
  start({}, VsockGuestDriver::Config{.tx_payload_split = true});
  stack->listen(1024);
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  client.in.clear();
  client.in_total = 0;
  const auto data = pattern(kBytes, 21);
  stack->write(key, data);
  run_for(std::chrono::milliseconds(200));
  EXPECT_GT(device->buffered_bytes(), 0u);  // the socket is full: partial writes were kept
  ASSERT_TRUE(run_until([&] {
    client.pump_in(10'000 + client.in_total);  // odd-sized reads
    return client.in_total == kBytes;
  }));
  EXPECT_EQ(client.in, data);
  EXPECT_LE(device->peak_buffered_bytes(), kBufAlloc);
  EXPECT_EQ(device->buffered_bytes(), 0u);
  EXPECT_EQ(driver->protocol_errors, 0);
}

TEST_F(VsockDeviceTest, GuestShutdownSendGivesClientEofButKeepsTheOtherDirection) {
  start();
  stack->listen(1024);
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  stack->write(key, bytes_of("last words"));
  ASSERT_TRUE(run_until([&] { return stack->conns()[key].out_pos == 10; }));
  stack->shutdown(key, kShutdownSend);
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.eof; }));
  EXPECT_EQ(client.input_text(), "OK 1073741824\nlast words");
  client.queue("still here");
  client.pump_out();
  ASSERT_TRUE(run_until([&] { return stack->conns()[key].data.size() == 10; }));
  EXPECT_EQ(text(stack->conns()[key].data), "still here");
  stack->rst(key);
  ASSERT_TRUE(run_until([&] { return device->connection_count() == 0; }));
}

TEST_F(VsockDeviceTest, GuestFullShutdownIsAnsweredWithRstAndClosesTheClient) {
  start();
  stack->listen(1024);
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  stack->shutdown(key, kShutdownSend | kShutdownRcv);
  ASSERT_TRUE(run_until([&] { return stack->conns()[key].reset; }));
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.eof; }));
  EXPECT_EQ(device->connection_count(), 0u);
}

TEST_F(VsockDeviceTest, GuestRstClosesTheClient) {
  start();
  stack->listen(1024);
  HostEnd client = handshake(1024);
  stack->rst(key_for(client, 1024));
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.eof; }));
  EXPECT_EQ(device->connection_count(), 0u);
}

TEST_F(VsockDeviceTest, ClientHalfCloseThenCloseReachesTheGuestAsShutdowns) {
  start();
  stack->listen(1024);
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  client.queue("request");
  client.pump_out();
  ::shutdown(client.fd(), SHUT_WR);
  ASSERT_TRUE(run_until([&] { return stack->conns()[key].host_shutdown != 0; }));
  EXPECT_EQ(stack->conns()[key].host_shutdown, kShutdownSend);
  EXPECT_EQ(text(stack->conns()[key].data), "request");  // data before the SHUTDOWN
  stack->write(key, bytes_of("response"));
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.in_total == 22; }));
  EXPECT_EQ(client.input_text(), "OK 1073741824\nresponse");
  client.close();
  ASSERT_TRUE(run_until([&] { return stack->conns()[key].host_shutdown == 3; }));
  // The guest answers SHUTDOWN(both) with RST (like Linux) and the device forgets it.
  ASSERT_TRUE(run_until([&] { return device->connection_count() == 0; }));
}

TEST_F(VsockDeviceTest, ClientCloseWithoutGuestRstTimesOut) {
  start(VsockOptions{.close_timeout = std::chrono::milliseconds(200)});
  stack->listen(1024);
  stack->auto_rst_on_full_shutdown = false;
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  client.close();
  ASSERT_TRUE(run_until([&] { return stack->conns()[key].host_shutdown == 3; }));
  EXPECT_EQ(device->connection_count(), 1u);
  ASSERT_TRUE(run_until([&] { return stack->conns()[key].reset; }));
  EXPECT_EQ(device->connection_count(), 0u);
}

TEST_F(VsockDeviceTest, ResetWithOpenConnectionsClosesThemAndTheDeviceWorksAgain) {
  start();
  stack->listen(1024);
  std::vector<HostEnd> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(handshake(1024));
    ASSERT_EQ(clients.back().input_text().substr(0, 3), "OK ");
  }
  EXPECT_EQ(device->connection_count(), 3u);
  device->reset();
  EXPECT_EQ(device->connection_count(), 0u);
  for (HostEnd& c : clients) {
    ASSERT_TRUE(run_until([&] { c.pump_in(); return c.eof; }));
  }
  HostEnd early(HostEnd::connect(path_));  // no driver: the request waits for one
  early.queue("CONNECT 1024\n");
  early.pump_out();
  run_for(std::chrono::milliseconds(100), [&] { early.pump_in(); });
  EXPECT_FALSE(early.eof);
  EXPECT_EQ(early.in_total, 0u);

  device->reset();
  stack.reset();
  driver.reset();
  start();
  stack->listen(1024);
  ASSERT_TRUE(run_until([&] { early.pump_in(); return early.in_total == 14 || early.eof; }));
  EXPECT_EQ(early.input_text(), "OK 1073741827\n");  // ports keep rotating
  HostEnd again = handshake(1024);
  EXPECT_EQ(again.input_text(), "OK 1073741828\n");
}

VsockHeader guest_header(Op op, uint32_t src_port, uint32_t dst_port) {
  VsockHeader h;
  h.src_cid = 3;
  h.dst_cid = kHostCid;
  h.src_port = src_port;
  h.dst_port = dst_port;
  h.type = kTypeStream;
  h.op = static_cast<uint16_t>(op);
  h.buf_alloc = kBufAlloc;
  return h;
}

std::vector<GuestPacket> packets_to(GuestVsockStack& stack, Op op, uint32_t port) {
  std::vector<GuestPacket> out;
  for (const GuestPacket& p : stack.log()) {
    if (p.header.op == static_cast<uint16_t>(op) && p.header.dst_port == port) {
      out.push_back(p);
    }
  }
  return out;
}

TEST_F(VsockDeviceTest, HostilePacketsGetRstAndNeverBreakTheDevice) {
  start();
  // RW for a connection that does not exist.
  stack->send_raw(guest_header(Op::kRw, 600, 700), std::vector<std::byte>(3));
  // SEQPACKET connect, spoofed source CID, unknown op, header-only chain shorter than 44.
  VsockHeader seq = guest_header(Op::kRequest, 601, 700);
  seq.type = kTypeSeqpacket;
  stack->send_raw(seq);
  VsockHeader spoofed = guest_header(Op::kRequest, 602, 700);
  spoofed.src_cid = 9;
  stack->send_raw(spoofed);
  VsockHeader unknown = guest_header(Op::kRw, 603, 700);
  unknown.op = 42;
  stack->send_raw(unknown);
  ASSERT_TRUE(run_until([&] {
    return !packets_to(*stack, Op::kRst, 600).empty() && !packets_to(*stack, Op::kRst, 601).empty() &&
           !packets_to(*stack, Op::kRst, 602).empty() && !packets_to(*stack, Op::kRst, 603).empty();
  }));
  const GuestPacket rst = packets_to(*stack, Op::kRst, 600)[0];
  EXPECT_EQ(rst.header.src_port, 700u);
  EXPECT_EQ(rst.header.src_cid, kHostCid);
  EXPECT_EQ(rst.header.dst_cid, 3u);
  // An RST for nothing is not answered.
  stack->send_raw(guest_header(Op::kRst, 604, 700));
  run_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(packets_to(*stack, Op::kRst, 604).empty());
  EXPECT_FALSE(driver->interrupt().needs_reset);

  // The device still works, including a header split across two descriptors.
  stack->listen(1024);
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  VsockHeader rw = guest_header(Op::kRw, key.first, key.second);
  rw.len = 5;
  ASSERT_TRUE(driver->send(rw, bytes_of("split"), 13));
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.in_total == 19; }));
  EXPECT_EQ(client.input_text(), "OK 1073741824\nsplit");
}

TEST_F(VsockDeviceTest, GuestIgnoringCreditIsReset) {
  start();
  stack->listen(1024);
  HostEnd client = handshake(1024);  // never reads again
  const Key key = key_for(client, 1024);
  const std::vector<std::byte> chunk(kMaxPayloadBytes, std::byte{0x42});
  int sent = 0;
  ASSERT_TRUE(run_until([&] {
    if (sent < 64) {
      VsockHeader rw = guest_header(Op::kRw, key.first, key.second);
      rw.len = kMaxPayloadBytes;
      sent += driver->send(rw, chunk) ? 1 : 0;
    }
    return stack->conns()[key].reset;
  }));
  EXPECT_LE(device->peak_buffered_bytes(), kBufAlloc);
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.eof; }));
  EXPECT_EQ(device->connection_count(), 0u);
}

TEST_F(VsockDeviceTest, CreditRequestIsAnsweredWithOurBufferState) {
  start();
  stack->listen(1024);
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  stack->write(key, bytes_of("0123456789"));
  ASSERT_TRUE(run_until([&] { client.pump_in(); return client.in_total == 24; }));
  stack->log().clear();
  stack->send_raw(guest_header(Op::kCreditRequest, key.first, key.second));
  ASSERT_TRUE(run_until([&] { return !packets_to(*stack, Op::kCreditUpdate, 1024).empty(); }));
  const GuestPacket update = packets_to(*stack, Op::kCreditUpdate, 1024)[0];
  EXPECT_EQ(update.header.buf_alloc, kBufAlloc);
  EXPECT_EQ(update.header.fwd_cnt, 10u);
  EXPECT_EQ(update.header.src_port, key.second);
}

// Linux never sends CREDIT_REQUEST and updates by itself when its reader drains, so the
// device asks only when a guest leaves it without credit for credit_request_delay.
TEST_F(VsockDeviceTest, CreditRequestOnlyWhenTheGuestStaysSilent) {
  for (const auto delay : {std::chrono::milliseconds(3'600'000), std::chrono::milliseconds(20)}) {
    SCOPED_TRACE(delay.count());
    device.reset();
    start(VsockOptions{.credit_request_delay = delay});
    stack->listen(1024);
    HostEnd client = handshake(1024);
    const Key key = key_for(client, 1024);
    stack->set_consume(key, false);  // a reader that stopped: no updates from the guest
    client.queue(pattern(kBufAlloc + 4096, 3));
    ASSERT_TRUE(run_until([&] {
      client.pump_out();
      return stack->conns()[key].received == kBufAlloc;
    }));
    run_for(std::chrono::milliseconds(300), [&] { client.pump_out(); });
    const std::size_t requests = packets_to(*stack, Op::kCreditRequest, 1024).size();
    EXPECT_EQ(requests, delay.count() < 1000 ? 1u : 0u);  // once per starvation, not per wake
  }
}

TEST_F(VsockDeviceTest, CorruptTxRingSetsNeedsReset) {
  start();
  driver->tx_driver().publish(1000);  // head index beyond the 128-entry queue
  device->process_queue(kTxQueue);
  ASSERT_TRUE(run_until([&] { return driver->interrupt().needs_reset.load(); }));
}

TEST_F(VsockDeviceTest, SplitRxBuffersLikeOlderLinux) {
  start({}, VsockGuestDriver::Config{.rx_split = true});
  stack->listen(1024);
  HostEnd client = handshake(1024);
  const Key key = key_for(client, 1024);
  const auto data = pattern(100000, 3);
  client.queue(data);
  ASSERT_TRUE(run_until([&] {
    client.pump_out();
    return stack->conns()[key].received == data.size();
  }));
  EXPECT_EQ(stack->conns()[key].data, data);
}

}  // namespace
}  // namespace cvm::devices::virtio::vsock
