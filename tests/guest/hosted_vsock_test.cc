// SPDX-License-Identifier: Apache-2.0
// The hosted test guest's vsock driver and programs against a host-peer double: a virtio-vsock
// device model (behind cvmm's MmioTransport) that plays a Linux host at CID 2 with its own
// small receive buffer, so the guest must follow the credit rules (§5.10.6.3) to get data
// through. It is a test double written for this test, not an independent implementation: it
// proves the driver's state machine and credit accounting run to completion and stay within
// credit; QEMU's vhost-vsock (tests labelled qemu, where /dev/vhost-vsock exists) and cvmm's
// device (label kvm) are the real counterparts.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <mutex>

#include "base/byte_reader.h"
#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/virtio_device.h"
#include "tests/guest/hosted_world.h"

namespace cvm::test::guest {
namespace {

namespace virtio = devices::virtio;

// §5.10.6 header field offsets and values (see src/vsock.h).
constexpr std::size_t kHeaderBytes = 44;
constexpr uint16_t kOpRequest = 1, kOpResponse = 2, kOpRst = 3, kOpShutdown = 4, kOpRw = 5,
                   kOpCreditUpdate = 6, kOpCreditRequest = 7;
constexpr uint32_t kShutdownBoth = 3, kShutdownSend = 2;
constexpr uint64_t kHostCid = 2;
constexpr uint64_t kGuestCid = 3;
constexpr uint32_t kMaxPayload = 4096;

struct Header {
  uint64_t src_cid = 0, dst_cid = 0;
  uint32_t src_port = 0, dst_port = 0, len = 0;
  uint16_t type = 1, op = 0;
  uint32_t flags = 0, buf_alloc = 0, fwd_cnt = 0;
};

Header decode(std::span<const std::byte> b) {
  auto u64 = [&](std::size_t at) { return load_le<uint64_t>(b.subspan(at).first<8>()); };
  auto u32 = [&](std::size_t at) { return load_le<uint32_t>(b.subspan(at).first<4>()); };
  auto u16 = [&](std::size_t at) { return load_le<uint16_t>(b.subspan(at).first<2>()); };
  return Header{u64(0),  u64(8),  u32(16), u32(20), u32(24),
                u16(28), u16(30), u32(32), u32(36), u32(40)};
}

std::vector<std::byte> encode(const Header& h, std::span<const std::byte> payload) {
  std::vector<std::byte> b(kHeaderBytes + payload.size());
  std::span<std::byte> s(b);
  store_le<uint64_t>(s.subspan(0).first<8>(), h.src_cid);
  store_le<uint64_t>(s.subspan(8).first<8>(), h.dst_cid);
  store_le<uint32_t>(s.subspan(16).first<4>(), h.src_port);
  store_le<uint32_t>(s.subspan(20).first<4>(), h.dst_port);
  store_le<uint32_t>(s.subspan(24).first<4>(), static_cast<uint32_t>(payload.size()));
  store_le<uint16_t>(s.subspan(28).first<2>(), h.type);
  store_le<uint16_t>(s.subspan(30).first<2>(), h.op);
  store_le<uint32_t>(s.subspan(32).first<4>(), h.flags);
  store_le<uint32_t>(s.subspan(36).first<4>(), h.buf_alloc);
  store_le<uint32_t>(s.subspan(40).first<4>(), h.fwd_cnt);
  std::copy(payload.begin(), payload.end(), b.begin() + kHeaderBytes);
  return b;
}

/// One connection as the host sees it.
struct HostStream {
  uint32_t guest_port = 0, host_port = 0;
  bool closed = false, guest_reset = false;
  uint32_t guest_shutdown = 0;
  // guest -> host
  uint64_t received = 0;
  uint32_t crc = 0;
  std::vector<std::byte> head;  // first kKeep bytes
  uint32_t fwd_cnt = 0, fwd_cnt_sent = 0;
  uint32_t fwd_cnt_delivered = 0;  // newest fwd_cnt that reached a guest rx buffer
  // host -> guest
  uint64_t to_send = 0, sent = 0;
  uint32_t seed = 0;
  bool connected = false, shutdown_sent = false;
  uint32_t guest_buf_alloc = 0, guest_fwd_cnt = 0, tx_cnt = 0;
};

/// The host-peer double. All calls arrive on the guest's thread (trapped notifications).
class HostPeerVsock final : public virtio::VirtioDevice {
 public:
  static constexpr std::size_t kKeep = 64 * 1024;

  explicit HostPeerVsock(uint32_t host_buf_alloc) : host_buf_alloc_(host_buf_alloc) {}

  void listen(uint32_t port) { listening_.push_back(port); }
  /// A host->guest connection opened when the driver starts: `bytes` of pattern `seed`, then
  /// SHUTDOWN(SEND), as a host application's write() + shutdown(SHUT_WR) would.
  void connect_at_start(uint32_t guest_port, uint64_t bytes, uint32_t seed) {
    HostStream& s = streams_[{guest_port, 7000}];
    s.guest_port = guest_port;
    s.host_port = 7000;
    s.to_send = bytes;
    s.seed = seed;
  }

  virtio::DeviceType device_type() const override { return virtio::DeviceType::kVsock; }
  uint64_t device_features() const override { return 1; }  // VIRTIO_VSOCK_F_STREAM
  std::span<const uint16_t> queue_max_sizes() const override { return kQueueSizes; }
  void read_config(uint64_t offset, std::span<std::byte> out) const override {
    std::array<std::byte, 8> cid{};
    store_le<uint64_t>(std::span<std::byte, 8>(cid), kGuestCid);
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = offset + i < cid.size() ? cid[offset + i] : std::byte{0};
    }
  }
  void write_config(uint64_t, std::span<const std::byte>) override {}

  Result<void> activate(GuestMemoryView& memory, virtio::VirtioInterrupt&, uint64_t,
                        std::vector<std::optional<virtio::SplitVirtqueue>> queues) override {
    const std::lock_guard lock(mutex_);
    memory_ = &memory;
    queues_ = std::move(queues);
    for (auto& [key, s] : streams_) {
      if (s.to_send > 0) {  // host-initiated: REQUEST
        send(s, kOpRequest, 0);
      }
    }
    deliver();
    return ok();
  }
  void reset() override {
    const std::lock_guard lock(mutex_);
    queues_.clear();
    memory_ = nullptr;
  }
  void process_queue(uint16_t index) override {
    const std::lock_guard lock(mutex_);
    if (memory_ == nullptr || queues_.size() != 3 || !queues_[0] || !queues_[1]) {
      return;
    }
    if (index == 1) {
      take_guest_packets();
    }
    pump();
    deliver();
  }

  const std::map<std::pair<uint32_t, uint32_t>, HostStream>& streams() const { return streams_; }
  uint32_t credit_violations() const { return credit_violations_; }
  uint32_t malformed() const { return malformed_; }

 private:
  static constexpr std::array<uint16_t, 3> kQueueSizes = {128, 128, 16};

  void send(HostStream& s, uint16_t op, uint32_t flags, std::span<const std::byte> payload = {}) {
    Header h{kHostCid, kGuestCid, s.host_port, s.guest_port,    0,
             1,        op,        flags,       host_buf_alloc_, s.fwd_cnt};
    s.fwd_cnt_sent = s.fwd_cnt;
    pending_.push_back(Pending{encode(h, payload), &s, s.fwd_cnt});
  }
  void reply_rst(const Header& to) {
    Header h{kHostCid, to.src_cid, to.dst_port, to.src_port, 0, 1, kOpRst, 0, 0, 0};
    pending_.push_back(Pending{encode(h, {}), nullptr, 0});
  }

  /// Host -> guest data within the guest's credit, a bounded number of packets at a time.
  void pump() {
    for (auto& [key, s] : streams_) {
      while (s.connected && !s.closed && s.sent < s.to_send && pending_.size() < 64) {
        const uint32_t in_flight = s.tx_cnt - s.guest_fwd_cnt;
        const uint32_t credit = in_flight >= s.guest_buf_alloc ? 0 : s.guest_buf_alloc - in_flight;
        const uint64_t len = std::min<uint64_t>({credit, kMaxPayload, s.to_send - s.sent});
        if (len == 0) {
          break;
        }
        send(s, kOpRw, 0, pattern_bytes(s.sent, static_cast<std::size_t>(len), s.seed));
        s.sent += len;
        s.tx_cnt += static_cast<uint32_t>(len);
      }
      if (s.connected && !s.closed && s.sent == s.to_send && s.to_send > 0 && !s.shutdown_sent) {
        send(s, kOpShutdown, kShutdownSend);
        s.shutdown_sent = true;
      }
    }
  }

  void take_guest_packets() {
    for (;;) {
      auto chain = queues_[1]->pop();
      if (!chain || !*chain) {
        return;
      }
      std::vector<std::byte> bytes((*chain)->readable_bytes);
      std::size_t at = 0;
      for (const virtio::GuestBuffer& b : (*chain)->readable) {
        (void)memory_->read(b.addr, std::span(bytes).subspan(at, b.len));
        at += b.len;
      }
      (void)queues_[1]->add_used((*chain)->head, 0);
      if (bytes.size() < kHeaderBytes || decode(bytes).len != bytes.size() - kHeaderBytes) {
        ++malformed_;
        continue;
      }
      handle(decode(bytes), std::span(bytes).subspan(kHeaderBytes));
    }
  }

  void handle(const Header& h, std::span<const std::byte> payload) {
    if (h.src_cid != kGuestCid || h.dst_cid != kHostCid || h.type != 1) {
      ++malformed_;
      return;
    }
    const std::pair<uint32_t, uint32_t> key{h.src_port, h.dst_port};
    auto it = streams_.find(key);
    if (it == streams_.end() || it->second.closed) {
      if (h.op == kOpRequest &&
          std::find(listening_.begin(), listening_.end(), h.dst_port) != listening_.end()) {
        HostStream& s = streams_[key];
        s = HostStream{};
        s.guest_port = h.src_port;
        s.host_port = h.dst_port;
        s.guest_buf_alloc = h.buf_alloc;
        s.guest_fwd_cnt = h.fwd_cnt;
        s.connected = true;
        send(s, kOpResponse, 0);
      } else if (h.op != kOpRst) {
        reply_rst(h);
      }
      return;
    }
    HostStream& s = it->second;
    s.guest_buf_alloc = h.buf_alloc;
    s.guest_fwd_cnt = h.fwd_cnt;
    switch (h.op) {
      case kOpResponse:
        s.connected = true;
        break;
      case kOpRw:
        receive(s, payload);
        break;
      case kOpCreditRequest:
        send(s, kOpCreditUpdate, 0);
        break;
      case kOpShutdown:
        s.guest_shutdown |= h.flags;
        if (s.guest_shutdown == kShutdownBoth) {  // Linux: both sides done, nothing unread
          send(s, kOpRst, 0);
          s.closed = true;
        }
        break;
      case kOpRst:
        s.closed = true;
        s.guest_reset = true;
        break;
      case kOpCreditUpdate:
        break;
      default:
        ++malformed_;
    }
  }

  void receive(HostStream& s, std::span<const std::byte> payload) {
    // §5.10.6.3: the guest may have sent at most buf_alloc bytes beyond the newest fwd_cnt it
    // can know, the one in the last packet already copied into its rx buffers.
    if (static_cast<uint32_t>(s.received + payload.size()) - s.fwd_cnt_delivered >
        host_buf_alloc_) {
      ++credit_violations_;
    }
    s.crc = crc32(payload, s.crc);
    const std::size_t keep = std::min(payload.size(), kKeep - std::min(kKeep, s.head.size()));
    s.head.insert(s.head.end(), payload.begin(),
                  payload.begin() + static_cast<std::ptrdiff_t>(keep));
    s.received += payload.size();
    s.fwd_cnt += static_cast<uint32_t>(payload.size());  // consumed at once
    if (s.fwd_cnt - s.fwd_cnt_sent >= host_buf_alloc_ / 2) {
      send(s, kOpCreditUpdate, 0);
    }
  }

  /// Copies pending host packets into the guest's rx buffers.
  void deliver() {
    while (!pending_.empty()) {
      auto chain = queues_[0]->pop();
      if (!chain || !*chain) {
        return;
      }
      const std::vector<std::byte>& packet = pending_.front().bytes;
      if ((*chain)->writable_bytes < packet.size()) {
        ++malformed_;  // rx buffer too small for a full packet
      }
      std::size_t at = 0;
      for (const virtio::GuestBuffer& b : (*chain)->writable) {
        const std::size_t n = std::min<std::size_t>(b.len, packet.size() - at);
        (void)memory_->write(b.addr, std::span(packet).subspan(at, n));
        at += n;
      }
      (void)queues_[0]->add_used((*chain)->head, static_cast<uint32_t>(at));
      if (pending_.front().stream != nullptr) {
        pending_.front().stream->fwd_cnt_delivered = pending_.front().fwd_cnt;
      }
      pending_.pop_front();
    }
  }

  std::mutex mutex_;
  uint32_t host_buf_alloc_;
  std::vector<uint32_t> listening_;
  std::map<std::pair<uint32_t, uint32_t>, HostStream> streams_;  // (guest port, host port)
  // A host packet waiting for a guest rx buffer; std::map keeps `stream` pointers stable.
  struct Pending {
    std::vector<std::byte> bytes;
    HostStream* stream;
    uint32_t fwd_cnt;
  };
  std::deque<Pending> pending_;
  GuestMemoryView* memory_ = nullptr;
  std::vector<std::optional<virtio::SplitVirtqueue>> queues_;
  uint32_t credit_violations_ = 0;
  uint32_t malformed_ = 0;
};

/// Runs a guest program against `peer` in slot 0.
GuestReport run_with(HostPeerVsock& peer, const std::string& program_args) {
  HostDataMemory memory;
  NullLine irq;
  virtio::MmioTransport transport(peer, memory, irq, virtio::MmioTransport::Hooks{},
                                  virtio::MmioTransport::Options{});
  hosted_attach(0, transport);
  return hosted_run(program_args);
}

TEST(HostedVsockTest, GuestStreamFitsASmallHostWindowAndArrivesIntact) {
  HostPeerVsock peer(16 * 1024);  // forces many credit updates for 1 MiB
  peer.listen(5000);
  constexpr uint64_t kBytes = 1 << 20;
  const GuestReport r =
      run_with(peer,
               "cvmmtest=vsock-send vsock.port=5000 vsock.bytes=1048576 vsock.seed=9 "
               "vsock.timeout=20000");
  ASSERT_EQ(peer.streams().size(), 1u) << r.full_output;
  const HostStream& s = peer.streams().begin()->second;
  EXPECT_EQ(s.received, kBytes) << r.full_output;
  EXPECT_EQ(crc32_hex(s.crc), crc32_hex(pattern_crc(kBytes, 9)));
  EXPECT_EQ(r.value("vsock-send port", "crc32"), crc32_hex(s.crc)) << r.full_output;
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.guest_shutdown, kShutdownBoth);
  EXPECT_EQ(peer.credit_violations(), 0u);
  EXPECT_EQ(peer.malformed(), 0u);
  EXPECT_TRUE(r.has_line("vsock-send ok")) << r.full_output;
  EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
}

TEST(HostedVsockTest, EchoReturnsEveryHostByteWithinTheGuestCredit) {
  HostPeerVsock peer(64 * 1024);
  constexpr uint64_t kBytes = 512 * 1024;
  peer.connect_at_start(1024, kBytes, 4);
  const GuestReport r = run_with(peer, "cvmmtest=vsock-echo vsock.port=1024 vsock.timeout=20000");
  ASSERT_EQ(peer.streams().size(), 1u) << r.full_output;
  const HostStream& s = peer.streams().begin()->second;
  EXPECT_EQ(s.sent, kBytes);
  EXPECT_EQ(s.received, kBytes) << r.full_output;
  EXPECT_EQ(crc32_hex(s.crc), crc32_hex(pattern_crc(kBytes, 4)));
  EXPECT_EQ(r.value("vsock-echo conn", "crc32"), crc32_hex(s.crc)) << r.full_output;
  EXPECT_EQ(peer.credit_violations(), 0u);
  EXPECT_EQ(peer.malformed(), 0u);
  EXPECT_TRUE(r.has_line("vsock-echo connections=1 ok")) << r.full_output;
}

TEST(HostedVsockTest, SixtyFourConcurrentConnectionsCarryTheirOwnStreams) {
  HostPeerVsock peer(32 * 1024);
  peer.listen(5001);
  constexpr uint32_t kBytes = 40000;
  const GuestReport r = run_with(peer,
                                 "cvmmtest=vsock-multi vsock.port=5001 vsock.count=64 "
                                 "vsock.bytes=40000 vsock.timeout=20000");
  ASSERT_EQ(peer.streams().size(), 64u) << r.full_output;
  std::vector<bool> seen(64, false);
  for (const auto& [key, s] : peer.streams()) {
    ASSERT_EQ(s.received, kBytes) << "guest port " << key.first;
    uint32_t index = 0;
    for (int b = 3; b >= 0; --b) {
      index = index << 8 | static_cast<uint8_t>(s.head[static_cast<std::size_t>(b)]);
    }
    ASSERT_LT(index, 64u);
    EXPECT_FALSE(seen[index]);
    seen[index] = true;
    const auto body = pattern_bytes(0, kBytes - 4, index);
    EXPECT_TRUE(std::equal(body.begin(), body.end(), s.head.begin() + 4)) << index;
    EXPECT_TRUE(s.closed);
  }
  EXPECT_EQ(peer.credit_violations(), 0u);
  EXPECT_TRUE(r.has_line("vsock-multi connections=64 ok")) << r.full_output;
}

TEST(HostedVsockTest, ConnectionToAPortWithoutListenerIsReset) {
  HostPeerVsock peer(64 * 1024);
  const GuestReport r = run_with(peer, "cvmmtest=vsock-noport vsock.port=4321 vsock.timeout=5000");
  EXPECT_TRUE(r.has_line("vsock-noport port=4321 rst")) << r.full_output;
  EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
}

}  // namespace
}  // namespace cvm::test::guest
