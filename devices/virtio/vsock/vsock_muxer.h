// SPDX-License-Identifier: Apache-2.0
// VsockMuxer: the host side of hybrid vsock (Firecracker/Cloud Hypervisor protocol,
// runtime-integration.md §3.2-3.3). It owns the listening Unix socket PATH, every host
// connection (accepted clients and outgoing connections to PATH_<port>) and the connection
// state machines. It never parses guest memory: the device hands it validated tx packets
// (on_guest_packet) whose payload is host iovecs into the guest's tx buffers, and pulls rx
// packets from it (next_rx_packet) whose payload the muxer reads from the host socket
// straight into iovecs of the guest's rx buffers (no bounce buffer either way).
// All methods run on the device's event-loop thread with the device mutex held.
// Included by the vsock device and tests.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "base/result.h"
#include "base/unique_fd.h"
#include "base/unix_listener.h"
#include "devices/virtio/vsock/vsock_connection.h"
#include "devices/virtio/vsock/vsock_packet.h"

namespace cvm::devices::virtio::vsock {

struct VsockOptions {
  uint16_t queue_size = 256;  // QueueNumMax of each queue; a power of two
  /// buf_alloc advertised per connection = the most guest data buffered for one connection
  /// whose host socket does not drain, so a device holds at most max_connections x this
  /// (256 MiB by default). 1 MiB measured a third faster guest -> host but quadruples that
  /// bound (devices/virtio/README.md, "The credit window"); lower max_connections with it.
  uint32_t conn_buffer_bytes = 256 * 1024;
  /// Concurrent connections per device (Firecracker and Cloud Hypervisor: 1023).
  uint32_t max_connections = 1023;
  /// A client must complete `CONNECT <port>\n` and the guest must answer within this.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// A CONNECT that arrives before the guest driver is active (DRIVER_OK) waits this long
  /// for it (Firecracker bounds a pending connection request by 2 s as well); the REQUEST
  /// then waits for rx buffers within handshake_timeout. Expiry closes the client.
  std::chrono::milliseconds driver_ready_timeout{2'000};
  /// After a client closed both directions, the guest gets this long to send RST.
  std::chrono::milliseconds close_timeout{5'000};
  /// With host data waiting and no credit, the device asks with CREDIT_REQUEST only after
  /// the guest stayed silent this long: Linux sends CREDIT_UPDATE by itself whenever its
  /// reader drains, so asking at once only costs it an extra packet round trip per window.
  std::chrono::milliseconds credit_request_delay{50};
};

class VsockMuxer final {
 public:
  using Clock = std::chrono::steady_clock;
  /// epoll user data of the two non-connection fds the device registers.
  static constexpr uint64_t kKickId = 0;
  static constexpr uint64_t kListenerId = 1;
  /// Adopted queue notifiers (VsockDevice::adopt_queue_notifier): this + queue index. Far
  /// above any connection id, which count up from kListenerId + 1.
  static constexpr uint64_t kQueueNotifierId = uint64_t{1} << 62;
  /// Control packets (RST, RESPONSE, credit ...) waiting for rx buffers beyond which the
  /// device stops taking tx packets, so a guest that never posts rx buffers cannot grow it.
  static constexpr std::size_t kMaxControlBacklog = 512;
  /// Host-initiated connections get local ports round-robin in [2^30, 2^31) like FC/CH.
  static constexpr uint32_t kFirstEphemeralPort = 1u << 30;
  static constexpr uint32_t kEphemeralPortCount = 1u << 30;

  /// Binds and listens on `uds_path` and registers it (edge-triggered) on `epoll_fd`. A stale
  /// socket file there is replaced; a live one or a non-socket file is an error naming it.
  static Result<std::unique_ptr<VsockMuxer>> create(int epoll_fd, std::string uds_path,
                                                    uint64_t guest_cid, VsockOptions options);
  /// Closes every connection and removes the socket file if it is still the one we bound.
  ~VsockMuxer();
  VsockMuxer(const VsockMuxer&) = delete;
  VsockMuxer& operator=(const VsockMuxer&) = delete;

  /// Driver active (DRIVER_OK) or not. Going active sends the REQUESTs of clients that
  /// connected before; going inactive drops every connection the guest knew silently (its
  /// sockets died with the device reset) and keeps clients still in their handshake.
  void set_active(bool active);
  void accept_clients();
  void on_socket_event(uint64_t id, uint32_t events);
  /// A tx packet classified kDeliver; `payload` (host iovecs into the guest's tx buffers,
  /// valid for this call) holds header.len bytes.
  void on_guest_packet(const VsockHeader& header, std::span<const iovec> payload);
  /// Answers a malformed tx packet with RST.
  void queue_reset_reply(const VsockHeader& bad);
  /// Whether next_rx_packet() may have something.
  bool has_rx_work() const noexcept { return !control_.empty() || !ready_.empty(); }
  bool tx_backlogged() const noexcept { return control_.size() >= kMaxControlBacklog; }
  /// The next packet for the guest, its payload (header.len bytes) written to the start of
  /// `payload` (iovecs into the guest's rx buffers, whose total bounds it; entries are
  /// restored before returning); std::nullopt when there is nothing to send.
  std::optional<VsockHeader> next_rx_packet(std::span<iovec> payload);
  /// Drops connections whose handshake or close timed out; asks guests that left a
  /// connection without credit for longer than credit_request_delay for an update.
  void expire_deadlines(Clock::time_point now);

  const std::string& path() const noexcept { return path_; }
  std::size_t connection_count() const noexcept { return conns_.size(); }
  /// Guest data held for host sockets plus handshake leftovers, now and at most so far.
  uint64_t buffered_bytes() const noexcept { return buffered_; }
  uint64_t peak_buffered_bytes() const noexcept { return peak_buffered_; }

 private:
  struct Control {
    ConnKey key;
    Op op;
    uint32_t flags = 0;
  };

  VsockMuxer(int epoll_fd, std::string path, uint64_t guest_cid, VsockOptions options)
      : epoll_fd_(epoll_fd), path_(std::move(path)), guest_cid_(guest_cid), options_(options) {}
  Result<void> bind_listener();

  Connection* find(uint64_t id);
  Connection* find(ConnKey key);
  Result<Connection*> add_connection(UniqueFd fd, Connection::State state);
  void remove(Connection& conn);
  void reset_connection(Connection& conn);
  void queue_control(ConnKey key, Op op, uint32_t flags = 0);
  void mark_ready(Connection& conn);
  void account(int64_t delta);

  void read_connect_line(Connection& conn);
  void start_host_connection(Connection& conn, uint32_t guest_port);
  std::optional<uint32_t> allocate_ephemeral_port();
  void connect_guest_request(const VsockHeader& header);
  void handle_established_packet(Connection& conn, const VsockHeader& header,
                                 std::span<const iovec> payload);
  void flush_and_progress(Connection& conn);
  std::optional<VsockHeader> read_data_packet(Connection& conn, std::span<iovec> payload);
  VsockHeader control_header(const Control& control);

  int epoll_fd_;
  std::string path_;
  uint64_t guest_cid_;
  VsockOptions options_;
  std::optional<UnixListener> listener_;  // set by create()
  bool active_ = false;

  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::unordered_map<ConnKey, uint64_t, ConnKeyHash> by_key_;
  std::unordered_set<uint32_t> ephemeral_in_use_;
  uint32_t next_ephemeral_ = 0;  // offset into the ephemeral range
  uint64_t next_id_ = kListenerId + 1;
  std::deque<Control> control_;
  std::deque<uint64_t> ready_;  // connections that may have host data for the guest
  uint64_t buffered_ = 0;
  uint64_t peak_buffered_ = 0;
};

}  // namespace cvm::devices::virtio::vsock
