// SPDX-License-Identifier: Apache-2.0
// Fuzzes the hybrid-vsock connection state machine with sequences of guest packets: each
// 12-byte record picks an op, ports (from small sets so packets hit live connections), flags,
// credit fields and a payload length. Host services listen on PATH_1 and PATH_2 and are
// accepted and written to between packets; rx packets are pulled after every step.
// Invariants: no crash; every rx packet comes from CID 2 to the guest CID, is a STREAM
// packet with a known op and len <= the room given; connections and buffered bytes stay
// within their bounds.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "devices/virtio/vsock/vsock_muxer.h"
#include "tests/unit/virtio/vsock_test_util.h"

using namespace cvm;
using namespace cvm::devices::virtio::vsock;
namespace testing = cvm::devices::virtio::testing;

namespace {

constexpr uint64_t kGuestCid = 3;
constexpr uint32_t kMaxConnections = 8;
constexpr uint32_t kBufAlloc = 64 * 1024;

struct World {
  World() {
    char dir[] = "/tmp/cvmm-vsock-fuzz-XXXXXX";
    path = std::string(::mkdtemp(dir)) + "/vm.sock";
    epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    services[0] = testing::listen_unix(path + "_1");
    services[1] = testing::listen_unix(path + "_2");
    for (UniqueFd& service : services) {
      ::fcntl(service.get(), F_SETFL, O_NONBLOCK);  // serve() polls them
    }
  }
  std::string path;
  UniqueFd epoll;
  std::array<UniqueFd, 2> services;
};

World& world() {
  static World w;
  return w;
}

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

// Host side: accept what connected to the services and write a little to each.
void serve(std::vector<UniqueFd>& accepted, uint8_t seed) {
  for (UniqueFd& service : world().services) {
    UniqueFd fd(::accept4(service.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (fd.valid()) {
      accepted.push_back(std::move(fd));
    }
  }
  for (UniqueFd& fd : accepted) {
    const std::array<char, 3> bytes{'a', 'b', static_cast<char>(seed)};
    (void)::send(fd.get(), bytes.data(), 1 + seed % 3, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  if (seed % 7 == 0 && !accepted.empty()) {
    accepted.pop_back();  // a service closes its end
  }
}

void pump(VsockMuxer& muxer, uint8_t room_seed) {
  std::array<epoll_event, 16> events{};
  const int n = ::epoll_wait(world().epoll.get(), events.data(), events.size(), 0);
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == VsockMuxer::kListenerId) {
      muxer.accept_clients();
    } else {
      muxer.on_socket_event(events[i].data.u64, events[i].events);
    }
  }
  std::vector<std::byte> room(1 + room_seed * 16);
  // The room as up to three iovecs, like rx buffers split across descriptors or regions.
  const std::size_t cut1 = room.size() / 3;
  const std::size_t cut2 = room.size() - room_seed % 5;
  std::array<iovec, 3> iov{iovec{room.data(), cut1},
                           iovec{room.data() + cut1, cut2 - cut1},
                           iovec{room.data() + cut2, room.size() - cut2}};
  for (int i = 0; i < 64; ++i) {
    auto packet = muxer.next_rx_packet(iov);
    check(iov[0].iov_len == cut1 && iov[1].iov_len == cut2 - cut1 &&
          iov[2].iov_len == room.size() - cut2);  // restored
    if (!packet) {
      break;
    }
    check(packet->src_cid == kHostCid && packet->dst_cid == kGuestCid &&
          packet->type == kTypeStream && packet->op >= 1 && packet->op <= 7 &&
          packet->len <= room.size());
    check(packet->op == static_cast<uint16_t>(Op::kRw) || packet->len == 0);
  }
}

VsockHeader record_header(const uint8_t* r) {
  VsockHeader h;
  h.src_cid = kGuestCid;
  h.dst_cid = kHostCid;
  h.type = kTypeStream;
  h.op = static_cast<uint16_t>(1 + r[0] % 7);
  h.src_port = 1000 + r[1] % 4;
  h.dst_port = 1 + r[2] % 3;  // 1 and 2 have services, 3 has none
  h.flags = r[3] % 4;
  h.buf_alloc = static_cast<uint32_t>(r[4]) << 12;
  h.fwd_cnt = static_cast<uint32_t>(r[5]) << 10 | r[6];
  h.len = static_cast<uint32_t>(r[7]) << 8 | r[8];
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto muxer = VsockMuxer::create(world().epoll.get(), world().path, kGuestCid,
                                  VsockOptions{.conn_buffer_bytes = kBufAlloc,
                                               .max_connections = kMaxConnections});
  check(muxer.has_value());
  (*muxer)->set_active(true);
  std::vector<UniqueFd> accepted;
  std::vector<std::byte> payload(kMaxPayloadBytes, std::byte{0x42});  // any content
  for (std::size_t at = 0; at + 12 <= size && at < 12 * 256; at += 12) {
    const uint8_t* r = data + at;
    VsockHeader h = record_header(r);
    h.len %= kMaxPayloadBytes + 1;  // the device delivers exactly len bytes (<= 64 KiB)
    // The payload as two iovecs split where the record says (tx buffers over descriptors).
    const std::size_t cut = std::min<std::size_t>(h.len, std::size_t{r[9]} * 257);
    const std::array<iovec, 2> iov{iovec{payload.data(), cut},
                                   iovec{payload.data() + cut, h.len - cut}};
    (*muxer)->on_guest_packet(h, iov);
    serve(accepted, r[9]);
    pump(**muxer, r[10]);
    check((*muxer)->connection_count() <= kMaxConnections);
    check((*muxer)->peak_buffered_bytes() <= uint64_t{kMaxConnections} * (kBufAlloc + 64));
    if (r[11] == 0xff) {
      (*muxer)->set_active(false);
      (*muxer)->set_active(true);
    }
  }
  return 0;
}
