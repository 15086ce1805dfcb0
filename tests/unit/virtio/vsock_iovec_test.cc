// SPDX-License-Identifier: Apache-2.0
// The vsock direct data path: descriptor buffers resolved to host iovecs, and a Connection
// doing partial socket writes and credit-limited reads straight on those iovecs.
#include "devices/virtio/guest_iovecs.h"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "devices/virtio/vsock/vsock_connection.h"
#include "tests/unit/virtio/vsock_test_util.h"

namespace cvm::devices::virtio::vsock {
namespace {

using testing::pattern;

TEST(GuestIovecsTest, BuffersResolveFromAnOffsetAcrossDescriptors) {
  BufferGuestMemory memory(0x1000, 0x4000);
  const GuestBuffer buffers[] = {{0x1000, 44}, {0x2000, 100}, {0x3000, 200}};
  std::array<iovec, 4> out{};
  auto used = buffers_to_iovecs(memory, buffers, 44 + 10, 150, out);
  ASSERT_TRUE(used.has_value()) << used.error().message();
  ASSERT_EQ(*used, 2u);
  EXPECT_EQ(out[0].iov_base, memory.bytes().data() + 0x1000 + 10);
  EXPECT_EQ(out[0].iov_len, 90u);
  EXPECT_EQ(out[1].iov_base, memory.bytes().data() + 0x2000);
  EXPECT_EQ(out[1].iov_len, 60u);
}

TEST(GuestIovecsTest, TooFewIovecsGiveAPrefixAndShortBuffersAnError) {
  BufferGuestMemory memory(0, 0x4000);
  const GuestBuffer buffers[] = {{0x100, 10}, {0x200, 10}, {0x300, 10}};
  std::array<iovec, 2> out{};
  auto used = buffers_to_iovecs(memory, buffers, 0, 30, out);
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(*used, 2u);
  EXPECT_EQ(iovec_bytes(std::span(out).first(*used)), 20u);
  std::array<iovec, 8> enough{};
  auto short_chain = buffers_to_iovecs(memory, buffers, 5, 30, enough);
  ASSERT_FALSE(short_chain.has_value());
  EXPECT_EQ(short_chain.error().code(), ErrorCode::kGuest);
  EXPECT_EQ(short_chain.error().message(), "descriptor buffers are 0x5 bytes too short");
  const GuestBuffer outside[] = {{0x3ff0, 0x20}};
  auto bad = buffers_to_iovecs(memory, outside, 0, 0x20, out);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kGuest);
}

TEST(GuestIovecsTest, PrefixShortensForOneCallAndRestores) {
  std::array<std::byte, 30> bytes{};
  std::array<iovec, 3> iov{iovec{bytes.data(), 10}, iovec{bytes.data() + 10, 10},
                           iovec{bytes.data() + 20, 10}};
  {
    const IovecPrefix prefix(iov, 15);
    ASSERT_EQ(prefix.get().size(), 2u);
    EXPECT_EQ(iovec_bytes(prefix.get()), 15u);
  }
  EXPECT_EQ(iov[1].iov_len, 10u);
  {
    const IovecPrefix whole(iov, 1000);
    EXPECT_EQ(whole.get().size(), 3u);
    EXPECT_EQ(iovec_bytes(whole.get()), 30u);
  }
  EXPECT_EQ(iovec_bytes(iov), 30u);
}

TEST(GuestIovecsTest, CopiesSkipAcrossEntries) {
  const auto data = pattern(30, 4);
  std::array<std::byte, 30> target{};
  std::array<iovec, 3> iov{iovec{target.data(), 7}, iovec{target.data() + 7, 13},
                           iovec{target.data() + 20, 10}};
  copy_to_iovecs(iov, data);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), target.begin()));
  std::vector<std::byte> tail(18);
  copy_from_iovecs(iov, 12, tail);
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), data.begin() + 12));
}

// A Connection over a socketpair whose peer reads nothing: a small send buffer makes the
// first sendmsg of a three-piece payload partial.
struct ConnectionPair {
  ConnectionPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    const int small = 4096;
    ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    peer.reset(fds[1]);
    conn.emplace(UniqueFd(fds[0]), 7, Connection::State::kEstablished, 256 * 1024);
  }
  std::vector<std::byte> drain() {
    std::vector<std::byte> got;
    std::array<std::byte, 4096> buf{};
    for (;;) {
      const ssize_t n = ::recv(peer.get(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) {
        return got;
      }
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
  }
  UniqueFd peer;
  std::optional<Connection> conn;
};

TEST(ConnectionDirectIoTest, PartialSendKeepsTheRestAndCreditIsExact) {
  ConnectionPair pair;
  Connection& conn = *pair.conn;
  auto data = pattern(200'000, 8);
  const std::array<iovec, 3> iov{iovec{data.data(), 1000}, iovec{data.data() + 1000, 99'000},
                                 iovec{data.data() + 100'000, 100'000}};
  ASSERT_EQ(conn.accept_guest_data(iov), Connection::Io::kOk);
  const std::size_t kept = conn.buffered_to_host();
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, data.size());
  VsockHeader h;
  conn.stamp_credit(h);
  EXPECT_EQ(h.fwd_cnt, data.size() - kept);  // fwd_cnt counts what the socket took
  std::vector<std::byte> got = pair.drain();
  while (conn.buffered_to_host() > 0) {
    ASSERT_EQ(conn.flush_to_host(), Connection::Io::kOk);
    const auto more = pair.drain();
    got.insert(got.end(), more.begin(), more.end());
  }
  EXPECT_EQ(got, data);
  conn.stamp_credit(h);
  EXPECT_EQ(h.fwd_cnt, data.size());
}

TEST(ConnectionDirectIoTest, EmptyIovecsAmongDataAreSkipped) {
  ConnectionPair pair;
  auto data = pattern(3000, 6);
  const std::array<iovec, 4> iov{iovec{data.data(), 0}, iovec{data.data(), 1000},
                                 iovec{data.data() + 1000, 0}, iovec{data.data() + 1000, 2000}};
  ASSERT_EQ(pair.conn->accept_guest_data(iov), Connection::Io::kOk);
  EXPECT_EQ(pair.conn->buffered_to_host(), 0u);
  EXPECT_EQ(pair.drain(), data);
  const std::array<iovec, 2> empty{iovec{data.data(), 0}, iovec{data.data(), 0}};
  ASSERT_EQ(pair.conn->accept_guest_data(empty), Connection::Io::kOk);
  EXPECT_EQ(pair.conn->buffered_to_host(), 0u);
}

TEST(ConnectionDirectIoTest, GuestBeyondItsCreditIsRefusedWithNothingTaken) {
  ConnectionPair pair;
  Connection& conn = *pair.conn;
  std::vector<std::byte> data(256 * 1024 + 1);
  const std::array<iovec, 2> iov{iovec{data.data(), 100}, iovec{data.data() + 100,
                                                                 data.size() - 100}};
  EXPECT_EQ(conn.accept_guest_data(iov), Connection::Io::kCreditExceeded);
  EXPECT_EQ(conn.buffered_to_host(), 0u);
  EXPECT_TRUE(pair.drain().empty());
}

TEST(ConnectionDirectIoTest, ReadStopsAtTheGuestsCreditAcrossIovecsAndRestoresThem) {
  ConnectionPair pair;
  Connection& conn = *pair.conn;
  VsockHeader credit;
  credit.buf_alloc = 1000;
  credit.fwd_cnt = 0;
  conn.update_peer_credit(credit);
  const auto data = pattern(5000, 5);
  ASSERT_EQ(::send(pair.peer.get(), data.data(), data.size(), 0), 5000);
  std::array<std::byte, 1800> guest{};
  std::array<iovec, 3> iov{iovec{guest.data(), 600}, iovec{guest.data() + 600, 600},
                           iovec{guest.data() + 1200, 600}};
  const auto read = conn.read_from_host(iov);
  EXPECT_EQ(read.bytes, 1000u);
  EXPECT_FALSE(read.eof);
  EXPECT_FALSE(read.error);
  EXPECT_TRUE(std::equal(guest.begin(), guest.begin() + 1000, data.begin()));
  EXPECT_EQ(guest[1000], std::byte{0});
  EXPECT_EQ(iov[1].iov_len, 600u);  // restored for the next connection
  conn.note_sent_to_guest(1000);
  EXPECT_EQ(conn.peer_credit(), 0u);
  EXPECT_EQ(conn.read_from_host(iov).bytes, 0u);
}

}  // namespace
}  // namespace cvm::devices::virtio::vsock
