// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/vsock/vsock_muxer.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "devices/virtio/guest_error_log.h"

namespace cvm::devices::virtio::vsock {
namespace {

constexpr int kListenBacklog = 128;

// Outgoing connections to PATH_<port> for guest-initiated streams (§3.3).
Result<UniqueFd> connect_unix(const std::string& path) {
  return connect_unix_socket(path, "vsock socket");
}

Result<void> epoll_add(int epoll_fd, int fd, uint64_t id) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return errno_error(ErrorCode::kIo, "epoll_ctl(ADD)", errno);
  }
  return ok();
}

}  // namespace

Result<std::unique_ptr<VsockMuxer>> VsockMuxer::create(int epoll_fd, std::string uds_path,
                                                       uint64_t guest_cid, VsockOptions options) {
  std::unique_ptr<VsockMuxer> muxer(
      new VsockMuxer(epoll_fd, std::move(uds_path), guest_cid, options));
  CVM_TRY(muxer->bind_listener());
  return muxer;
}

Result<void> VsockMuxer::bind_listener() {
  CVM_ASSIGN_OR_RETURN(listener_, UnixListener::bind(path_, kListenBacklog, "vsock socket"));
  return epoll_add(epoll_fd_, listener_->fd(), kListenerId);
}

VsockMuxer::~VsockMuxer() {
  // Connections first, then the listener (its destructor removes the socket file if it is
  // still ours).
  conns_.clear();
}

void VsockMuxer::set_active(bool active) {
  active_ = active;
  if (active) {
    std::vector<Connection*> waiting;  // start_host_connection() may remove from conns_
    for (auto& [id, conn] : conns_) {
      if (conn->state() == Connection::State::kAwaitDriver) {
        waiting.push_back(conn.get());
      }
    }
    for (Connection* conn : waiting) {
      start_host_connection(*conn, conn->requested_port);
    }
    return;
  }
  // Connections without a guest side hold no accounted bytes (their leftover handshake
  // bytes are counted once the REQUEST goes out), so buffered_ drops to zero.
  std::erase_if(conns_, [](const auto& entry) { return entry.second->has_guest_side(); });
  by_key_.clear();
  ephemeral_in_use_.clear();
  control_.clear();
  ready_.clear();
  buffered_ = 0;
}

Connection* VsockMuxer::find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

Connection* VsockMuxer::find(ConnKey key) {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : find(it->second);
}

Result<Connection*> VsockMuxer::add_connection(UniqueFd fd, Connection::State state) {
  const uint64_t id = next_id_++;
  CVM_TRY(epoll_add(epoll_fd_, fd.get(), id));
  auto conn = std::make_unique<Connection>(std::move(fd), id, state, options_.conn_buffer_bytes);
  Connection* raw = conn.get();
  conns_.emplace(id, std::move(conn));
  return raw;
}

void VsockMuxer::remove(Connection& conn) {
  if (conn.has_guest_side()) {
    by_key_.erase(conn.key());
    if (conn.host_initiated) {
      ephemeral_in_use_.erase(conn.key().local_port);
    }
  }
  account(-static_cast<int64_t>(conn.buffered_to_host() + conn.pending_to_guest_bytes()));
  conns_.erase(conn.id());  // closes the fd, which also leaves the epoll set
}

void VsockMuxer::reset_connection(Connection& conn) {
  if (conn.has_guest_side()) {
    queue_control(conn.key(), Op::kRst);
  }
  remove(conn);
}

void VsockMuxer::queue_control(ConnKey key, Op op, uint32_t flags) {
  control_.push_back(Control{.key = key, .op = op, .flags = flags});
}

void VsockMuxer::queue_reset_reply(const VsockHeader& bad) {
  queue_control(ConnKey{.local_port = bad.dst_port, .peer_port = bad.src_port}, Op::kRst);
}

void VsockMuxer::mark_ready(Connection& conn) {
  const bool can_read = !conn.host_eof && (conn.guest_shutdown & kShutdownRcv) == 0 &&
                        (conn.readable || conn.has_pending_to_guest());
  if (conn.state() == Connection::State::kEstablished && can_read && !conn.in_ready_queue) {
    conn.in_ready_queue = true;
    ready_.push_back(conn.id());
  }
}

void VsockMuxer::account(int64_t delta) {
  buffered_ = static_cast<uint64_t>(static_cast<int64_t>(buffered_) + delta);
  peak_buffered_ = std::max(peak_buffered_, buffered_);
}

void VsockMuxer::accept_clients() {
  for (;;) {
    UniqueFd fd(::accept4(listener_->fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log_guest_error(fmt::format("virtio-vsock {}", path_),
                        errno_error(ErrorCode::kIo, "accept", errno));
      }
      return;
    }
    if (conns_.size() >= options_.max_connections) {
      continue;  // closing at once tells the client to retry later
    }
    auto added = add_connection(std::move(fd), Connection::State::kAwaitConnectLine);
    if (!added) {
      log_guest_error(fmt::format("virtio-vsock {}", path_), added.error());
      continue;
    }
    (*added)->deadline = Clock::now() + options_.handshake_timeout;
  }
}

void VsockMuxer::on_socket_event(uint64_t id, uint32_t events) {
  Connection* conn = find(id);
  if (conn == nullptr) {
    return;  // closed earlier in this batch
  }
  const bool hangup = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if ((events & EPOLLIN) != 0 || hangup) {
    conn->readable = true;
  }
  const bool new_hup = (events & (EPOLLHUP | EPOLLERR)) != 0 && !conn->host_hup;
  conn->host_hup = conn->host_hup || new_hup;
  switch (conn->state()) {
    case Connection::State::kAwaitConnectLine:
      read_connect_line(*conn);
      return;
    case Connection::State::kAwaitDriver:
    case Connection::State::kAwaitResponse:
      if (hangup) {
        reset_connection(*conn);  // the client gave up before the guest answered
      }
      return;
    case Connection::State::kEstablished:
      if (new_hup && conn->host_eof) {
        // Already told the guest "no more data"; now it cannot send either.
        queue_control(conn->key(), Op::kShutdown, kShutdownRcv | kShutdownSend);
        conn->deadline = Clock::now() + options_.close_timeout;
      }
      flush_and_progress(*conn);
      if (find(id) != nullptr) {
        mark_ready(*conn);
      }
      return;
  }
}

void VsockMuxer::read_connect_line(Connection& conn) {
  ConnectLineBuffer& line = conn.connect_line();
  for (;;) {
    std::array<std::byte, kMaxConnectLineBytes> buf{};
    // Never read past what the line may still hold: later bytes belong to the stream.
    const ssize_t n = ::recv(conn.fd(), buf.data(), line.free_space(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      conn.readable = false;
      return;
    }
    if (n <= 0) {
      remove(conn);  // closed or failed before the handshake
      return;
    }
    const auto state = line.feed(std::span(buf).first(static_cast<std::size_t>(n)));
    if (state == ConnectLineBuffer::State::kNeedMore) {
      continue;
    }
    auto port = state == ConnectLineBuffer::State::kComplete
                    ? parse_connect_line(line.line())
                    : Result<uint32_t>(make_error(ErrorCode::kInvalidArgument,
                                                  "hybrid vsock handshake: line too long"));
    if (!port) {
      remove(conn);  // garbage: the client redials
      return;
    }
    if (!active_) {
      // The guest driver is not up yet (the client dialled during boot or a device reset):
      // the REQUEST goes out from set_active(true), unless this expires first.
      conn.requested_port = *port;
      conn.set_state(Connection::State::kAwaitDriver);
      conn.deadline = Clock::now() + options_.driver_ready_timeout;
      return;
    }
    start_host_connection(conn, *port);
    return;
  }
}

std::optional<uint32_t> VsockMuxer::allocate_ephemeral_port() {
  if (ephemeral_in_use_.size() >= options_.max_connections) {
    return std::nullopt;
  }
  for (;;) {
    const uint32_t port = kFirstEphemeralPort + next_ephemeral_;
    next_ephemeral_ = (next_ephemeral_ + 1) % kEphemeralPortCount;
    if (ephemeral_in_use_.insert(port).second) {
      return port;
    }
  }
}

void VsockMuxer::start_host_connection(Connection& conn, uint32_t guest_port) {
  const std::optional<uint32_t> local = allocate_ephemeral_port();
  if (!local) {
    remove(conn);
    return;
  }
  conn.host_initiated = true;
  conn.set_key(ConnKey{.local_port = *local, .peer_port = guest_port});
  conn.set_state(Connection::State::kAwaitResponse);
  by_key_[conn.key()] = conn.id();
  conn.set_pending_to_guest(conn.connect_line().leftover());
  account(static_cast<int64_t>(conn.pending_to_guest_bytes()));
  conn.deadline = Clock::now() + options_.handshake_timeout;
  queue_control(conn.key(), Op::kRequest);
}

void VsockMuxer::on_guest_packet(const VsockHeader& header, std::span<const iovec> payload) {
  const ConnKey key{.local_port = header.dst_port, .peer_port = header.src_port};
  Connection* conn = find(key);
  const auto op = static_cast<Op>(header.op);
  if (op == Op::kRst) {
    if (conn != nullptr) {
      remove(*conn);  // the guest refused or aborted: the client sees EOF
    }
    return;
  }
  if (op == Op::kRequest) {
    if (conn != nullptr) {
      reset_connection(*conn);  // a second REQUEST for a live stream: both sides start over
      return;
    }
    connect_guest_request(header);
    return;
  }
  if (conn == nullptr) {
    queue_reset_reply(header);
    return;
  }
  if (conn->update_peer_credit(header)) {
    mark_ready(*conn);
  }
  handle_established_packet(*conn, header, payload);
}

void VsockMuxer::connect_guest_request(const VsockHeader& header) {
  const ConnKey key{.local_port = header.dst_port, .peer_port = header.src_port};
  if (conns_.size() >= options_.max_connections) {
    queue_control(key, Op::kRst);
    return;
  }
  auto fd = connect_unix(fmt::format("{}_{}", path_, header.dst_port));
  if (!fd) {
    queue_control(key, Op::kRst);  // nothing listens on PATH_<port>
    return;
  }
  auto added = add_connection(std::move(*fd), Connection::State::kEstablished);
  if (!added) {
    log_guest_error(fmt::format("virtio-vsock {}", path_), added.error());
    queue_control(key, Op::kRst);
    return;
  }
  Connection& conn = **added;
  conn.set_key(key);
  by_key_[key] = conn.id();
  conn.update_peer_credit(header);
  queue_control(key, Op::kResponse);
}

void VsockMuxer::handle_established_packet(Connection& conn, const VsockHeader& header,
                                           std::span<const iovec> payload) {
  const auto op = static_cast<Op>(header.op);
  const bool awaiting = conn.state() == Connection::State::kAwaitResponse;
  if (op == Op::kResponse) {
    if (!awaiting) {
      reset_connection(conn);
      return;
    }
    conn.set_state(Connection::State::kEstablished);
    conn.deadline.reset();
    conn.set_reply_line(connect_ok_line(conn.key().local_port));
    const uint64_t id = conn.id();
    flush_and_progress(conn);
    if (find(id) != nullptr) {
      mark_ready(conn);  // bytes after the CONNECT line, or data the client sent meanwhile
    }
    return;
  }
  if (awaiting) {
    reset_connection(conn);  // anything but RESPONSE/RST before the handshake completed
    return;
  }
  switch (op) {
    case Op::kShutdown:
      conn.guest_shutdown |= header.flags & (kShutdownRcv | kShutdownSend);
      flush_and_progress(conn);
      return;
    case Op::kRw: {
      if ((conn.guest_shutdown & kShutdownSend) != 0) {
        reset_connection(conn);  // data after "I will send no more"
        return;
      }
      const std::size_t before = conn.buffered_to_host();
      const Connection::Io io = conn.accept_guest_data(payload);
      account(static_cast<int64_t>(conn.buffered_to_host()) - static_cast<int64_t>(before));
      if (io != Connection::Io::kOk) {
        reset_connection(conn);  // credit overrun or the host socket is gone
        return;
      }
      flush_and_progress(conn);
      return;
    }
    case Op::kCreditRequest:
      if (!conn.credit_update_queued) {
        conn.credit_update_queued = true;
        queue_control(conn.key(), Op::kCreditUpdate);
      }
      return;
    default:
      return;  // CREDIT_UPDATE: the credit was recorded already
  }
}

// Moves buffered guest data to the host socket, then does what the freed space or the
// guest's SHUTDOWN makes due: a credit update, shutdown(SHUT_WR), or the final RST.
void VsockMuxer::flush_and_progress(Connection& conn) {
  if (conn.state() != Connection::State::kEstablished) {
    return;
  }
  const std::size_t before = conn.buffered_to_host();
  const Connection::Io io = conn.flush_to_host();
  account(static_cast<int64_t>(conn.buffered_to_host()) - static_cast<int64_t>(before));
  if (io != Connection::Io::kOk) {
    reset_connection(conn);
    return;
  }
  if (conn.should_send_credit_update() && !conn.credit_update_queued) {
    conn.credit_update_queued = true;
    queue_control(conn.key(), Op::kCreditUpdate);
  }
  if (!conn.to_host_empty()) {
    return;
  }
  if ((conn.guest_shutdown & (kShutdownRcv | kShutdownSend)) == (kShutdownRcv | kShutdownSend)) {
    reset_connection(conn);  // §5.10.6.4: the guest closed; our RST completes its close
    return;
  }
  if ((conn.guest_shutdown & kShutdownSend) != 0 && !conn.host_write_shut) {
    ::shutdown(conn.fd(), SHUT_WR);  // the client reads EOF
    conn.host_write_shut = true;
  }
}

VsockHeader VsockMuxer::control_header(const Control& control) {
  VsockHeader h;
  h.src_cid = kHostCid;
  h.dst_cid = guest_cid_;
  h.src_port = control.key.local_port;
  h.dst_port = control.key.peer_port;
  h.type = kTypeStream;
  h.op = static_cast<uint16_t>(control.op);
  h.flags = control.flags;
  if (Connection* conn = find(control.key); conn != nullptr && control.op != Op::kRst) {
    conn->stamp_credit(h);
    if (control.op == Op::kCreditUpdate) {
      conn->credit_update_queued = false;
    }
  }
  return h;
}

std::optional<VsockHeader> VsockMuxer::next_rx_packet(std::span<iovec> payload) {
  for (;;) {
    if (!control_.empty()) {
      const Control control = control_.front();
      control_.pop_front();
      return control_header(control);
    }
    if (ready_.empty()) {
      return std::nullopt;
    }
    const uint64_t id = ready_.front();
    ready_.pop_front();
    Connection* conn = find(id);
    if (conn == nullptr) {
      continue;
    }
    conn->in_ready_queue = false;
    if (auto packet = read_data_packet(*conn, payload)) {
      return packet;
    }
  }
}

// One RW (or the SHUTDOWN for EOF) from `conn`, or nothing (no data, no credit, or the
// connection failed and an RST was queued instead).
std::optional<VsockHeader> VsockMuxer::read_data_packet(Connection& conn,
                                                        std::span<iovec> payload) {
  if (conn.host_eof || (conn.guest_shutdown & kShutdownRcv) != 0) {
    return std::nullopt;
  }
  if (conn.peer_credit() == 0) {
    if (!conn.credit_starved_since) {
      conn.credit_starved_since = Clock::now();  // expire_deadlines() asks if this lasts
    }
    return std::nullopt;  // back on the ready queue when the guest grants credit
  }
  const std::size_t pending_before = conn.pending_to_guest_bytes();
  const Connection::HostRead read = conn.read_from_host(payload);
  account(static_cast<int64_t>(conn.pending_to_guest_bytes()) -
          static_cast<int64_t>(pending_before));
  if (read.error) {
    reset_connection(conn);
    return std::nullopt;
  }
  Control control{.key = conn.key(), .op = Op::kRw};
  if (read.bytes == 0 && !read.eof) {
    return std::nullopt;  // EAGAIN: the next EPOLLIN puts it back
  }
  if (read.eof) {
    conn.host_eof = true;
    control.op = Op::kShutdown;
    control.flags = kShutdownSend | (conn.host_hup ? kShutdownRcv : 0u);
    if (conn.host_hup) {
      conn.deadline = Clock::now() + options_.close_timeout;
    }
    return control_header(control);
  }
  VsockHeader h = control_header(control);
  h.len = static_cast<uint32_t>(read.bytes);
  conn.note_sent_to_guest(h.len);
  mark_ready(conn);  // round robin: back at the end while it may have more
  return h;
}

void VsockMuxer::expire_deadlines(Clock::time_point now) {
  std::vector<Connection*> expired;
  for (auto& [id, conn] : conns_) {
    if (conn->deadline && *conn->deadline <= now) {
      expired.push_back(conn.get());
    } else if (conn->credit_starved_since && !conn->credit_request_queued &&
               now - *conn->credit_starved_since >= options_.credit_request_delay &&
               conn->peer_credit() == 0) {
      conn->credit_request_queued = true;  // the guest may not know we are waiting
      queue_control(conn->key(), Op::kCreditRequest);
    }
  }
  for (Connection* conn : expired) {
    if (conn->state() == Connection::State::kAwaitDriver) {
      log_guest_error(fmt::format("virtio-vsock {}", path_),
                      make_error(ErrorCode::kGuest,
                                 "hybrid vsock CONNECT {}: guest driver not ready within {} ms, "
                                 "closing the client",
                                 conn->requested_port, options_.driver_ready_timeout.count()));
    }
    reset_connection(*conn);
  }
}

}  // namespace cvm::devices::virtio::vsock
