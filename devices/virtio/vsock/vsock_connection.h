// SPDX-License-Identifier: Apache-2.0
// One hybrid-vsock stream: the host Unix socket plus the per-connection state of the
// virtio-vsock protocol (virtio 1.2 §5.10.6.3): credit-based flow control in both
// directions, SHUTDOWN bookkeeping and the bounded buffer of guest data that the host socket
// has not taken yet. The muxer owns connections and drives them from its event loop.
// Included by the vsock muxer and its tests.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "devices/virtio/vsock/hybrid_connect.h"
#include "devices/virtio/vsock/vsock_packet.h"

namespace cvm::devices::virtio::vsock {

/// (host-side port, guest-side port): what identifies a stream on one device.
struct ConnKey {
  uint32_t local_port = 0;  // port on CID 2
  uint32_t peer_port = 0;   // port on the guest CID
  bool operator==(const ConnKey&) const = default;
};

struct ConnKeyHash {
  std::size_t operator()(const ConnKey& k) const noexcept {
    return std::hash<uint64_t>{}((uint64_t{k.local_port} << 32) | k.peer_port);
  }
};

/// Credit the peer grants us: buf_alloc - (tx_cnt - fwd_cnt) in wrapping 32-bit arithmetic
/// (§5.10.6.3). A peer claiming to have consumed more than we sent gets zero, not 4 GiB.
constexpr uint32_t available_credit(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt,
                                    uint32_t tx_cnt) {
  const uint32_t in_flight = tx_cnt - peer_fwd_cnt;
  return in_flight > peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
}

class Connection final {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State {
    kAwaitConnectLine,  // host client accepted, handshake line incomplete
    kAwaitDriver,       // CONNECT line complete, the guest driver is not active yet
    kAwaitResponse,     // REQUEST sent to the guest, waiting for RESPONSE or RST
    kEstablished,       // data flows
  };

  Connection(UniqueFd fd, uint64_t id, State state, uint32_t buf_alloc);

  uint64_t id() const noexcept { return id_; }
  int fd() const noexcept { return fd_.get(); }
  State state() const noexcept { return state_; }
  void set_state(State state) noexcept { state_ = state; }
  ConnKey key() const noexcept { return key_; }
  void set_key(ConnKey key) noexcept { key_ = key; }
  ConnectLineBuffer& connect_line() noexcept { return line_; }
  /// Whether the guest knows this stream (has a ConnKey): after the REQUEST went out or the
  /// guest's own REQUEST was accepted.
  bool has_guest_side() const noexcept {
    return state_ == State::kAwaitResponse || state_ == State::kEstablished;
  }
  /// kAwaitDriver: the guest port the client asked for.
  uint32_t requested_port = 0;

  // --- flow control -------------------------------------------------------------------
  /// Records buf_alloc/fwd_cnt from any packet of the peer; true if our credit grew.
  bool update_peer_credit(const VsockHeader& header);
  /// Bytes we may still send to the guest.
  uint32_t peer_credit() const noexcept {
    return available_credit(peer_buf_alloc_, peer_fwd_cnt_, tx_cnt_);
  }
  /// Fills buf_alloc/fwd_cnt of an outgoing header and notes them as advertised.
  void stamp_credit(VsockHeader& header);
  /// True when the guest's view of our free space is below half the buffer and we have
  /// freed space it does not know about (it would otherwise stall).
  bool should_send_credit_update() const noexcept;
  bool credit_update_queued = false;
  bool credit_request_queued = false;
  /// When we found the guest's credit exhausted (cleared when it grows); a CREDIT_REQUEST
  /// goes out only if the guest stays silent (VsockOptions::credit_request_delay).
  std::optional<Clock::time_point> credit_starved_since;

  // --- guest -> host --------------------------------------------------------------------
  enum class Io { kOk, kCreditExceeded, kHostGone };
  /// Takes payload of an RW packet, given as host iovecs into the guest's tx buffers: written
  /// to the socket straight from there (sendmsg) where possible, only what the socket does
  /// not take is copied to the connection's buffer. kCreditExceeded when the guest sent
  /// beyond the credit we granted (nothing taken).
  Io accept_guest_data(std::span<const iovec> payload);
  /// Writes the reply line (if any) and buffered guest data to the socket.
  Io flush_to_host();
  /// Queues a line sent to the client before any guest data ("OK <port>\n").
  void set_reply_line(std::string line) { reply_line_ = std::move(line); }
  std::size_t buffered_to_host() const noexcept { return to_host_.size() - to_host_head_; }
  bool to_host_empty() const noexcept { return buffered_to_host() == 0 && reply_line_.empty(); }

  // --- host -> guest --------------------------------------------------------------------
  struct HostRead {
    std::size_t bytes = 0;
    bool eof = false;    // the client shut its write side (or closed)
    bool error = false;  // the socket failed (reset)
  };
  /// Reads at most min(room, peer_credit()) bytes into the iovecs `out` (the guest's rx
  /// buffers; restored before returning), room being their total: first bytes that followed
  /// the handshake line, then the socket (one recvmsg). bytes == 0 && !eof && !error:
  /// nothing available.
  HostRead read_from_host(std::span<iovec> out);
  /// Counts payload sent to the guest (tx_cnt).
  void note_sent_to_guest(uint32_t bytes) noexcept { tx_cnt_ += bytes; }
  void set_pending_to_guest(std::span<const std::byte> bytes);
  bool has_pending_to_guest() const noexcept { return !pending_to_guest_.empty(); }
  std::size_t pending_to_guest_bytes() const noexcept { return pending_to_guest_.size(); }

  // --- socket readiness (edge-triggered epoll) and shutdown flags --------------------------
  bool readable = false;       // EPOLLIN seen and no EAGAIN since
  bool host_hup = false;       // EPOLLHUP: the client closed both directions
  bool host_eof = false;       // read returned 0; SHUTDOWN(SEND) sent to the guest
  bool host_write_shut = false;  // shutdown(SHUT_WR) done after the guest's SHUTDOWN(SEND)
  uint32_t guest_shutdown = 0;  // union of SHUTDOWN flags the guest sent
  bool in_ready_queue = false;
  bool host_initiated = false;  // accepted on PATH (owns an ephemeral local port)
  std::optional<Clock::time_point> deadline;  // handshake or close timeout

 private:
  UniqueFd fd_;
  uint64_t id_;
  State state_;
  ConnKey key_;
  ConnectLineBuffer line_;
  // Flow control (§5.10.6.3). Our receive buffer is to_host_.
  uint32_t buf_alloc_;              // what we advertise
  uint32_t fwd_cnt_ = 0;            // guest bytes written to the host socket
  uint32_t rx_cnt_ = 0;             // guest bytes received
  uint32_t advertised_fwd_cnt_ = 0; // fwd_cnt in the last header we sent
  uint32_t peer_buf_alloc_ = 0;
  uint32_t peer_fwd_cnt_ = 0;
  uint32_t tx_cnt_ = 0;             // bytes sent to the guest
  std::string reply_line_;
  std::vector<std::byte> to_host_;
  std::size_t to_host_head_ = 0;
  std::vector<std::byte> pending_to_guest_;  // bytes after the handshake line (<= 63)
};

}  // namespace cvm::devices::virtio::vsock
