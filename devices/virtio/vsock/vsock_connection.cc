// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/vsock/vsock_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "base/byte_reader.h"
#include "devices/virtio/guest_iovecs.h"

namespace cvm::devices::virtio::vsock {
namespace {

enum class SendOutcome { kAll, kPartial, kFailed };

// Sends as much of `bytes` as the socket takes; `sent` is the count written.
SendOutcome send_some(int fd, std::span<const std::byte> bytes, std::size_t& sent) {
  sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return SendOutcome::kPartial;
    }
    return SendOutcome::kFailed;
  }
  return SendOutcome::kAll;
}

// Sends as much of `payload` as the socket takes, like send_some(): after a partial sendmsg
// it tries again from the first unsent byte (the reader may have drained meanwhile) until
// the socket says EAGAIN. `sent` is the count written; the iovecs are not modified.
SendOutcome send_iovecs(int fd, std::span<const iovec> payload, std::size_t& sent) {
  sent = 0;
  std::size_t index = 0;   // first entry not sent completely
  std::size_t offset = 0;  // bytes of it already sent
  while (index < payload.size()) {
    iovec head{.iov_base = static_cast<std::byte*>(payload[index].iov_base) + offset,
               .iov_len = payload[index].iov_len - offset};
    msghdr msg{};
    if (offset > 0) {  // a partly sent entry goes alone, the rest in the next call
      msg.msg_iov = &head;
      msg.msg_iovlen = 1;
    } else {
      msg.msg_iov = const_cast<iovec*>(payload.data() + index);  // sendmsg only reads them
      msg.msg_iovlen = payload.size() - index;
    }
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno == EAGAIN || errno == EWOULDBLOCK ? SendOutcome::kPartial
                                                     : SendOutcome::kFailed;
    }
    sent += static_cast<std::size_t>(n);
    std::size_t left = static_cast<std::size_t>(n);
    const std::size_t index_before = index;
    const std::size_t offset_before = offset;
    while (index < payload.size()) {
      const std::size_t remaining = payload[index].iov_len - offset;
      if (left < remaining) {
        offset += left;
        break;
      }
      left -= remaining;
      ++index;
      offset = 0;
    }
    if (index == index_before && offset == offset_before) {
      return SendOutcome::kPartial;  // no progress (never for a stream socket with data)
    }
  }
  return SendOutcome::kAll;
}

}  // namespace

Connection::Connection(UniqueFd fd, uint64_t id, State state, uint32_t buf_alloc)
    : fd_(std::move(fd)), id_(id), state_(state), buf_alloc_(buf_alloc) {}

bool Connection::update_peer_credit(const VsockHeader& header) {
  const uint32_t before = peer_credit();
  peer_buf_alloc_ = header.buf_alloc;
  peer_fwd_cnt_ = header.fwd_cnt;
  const bool grew = peer_credit() > before;
  if (grew) {
    credit_request_queued = false;
    credit_starved_since.reset();
  }
  return grew;
}

void Connection::stamp_credit(VsockHeader& header) {
  header.buf_alloc = buf_alloc_;
  header.fwd_cnt = fwd_cnt_;
  advertised_fwd_cnt_ = fwd_cnt_;
}

bool Connection::should_send_credit_update() const noexcept {
  const uint32_t guest_view_used = rx_cnt_ - advertised_fwd_cnt_;
  const uint32_t guest_view_free = guest_view_used > buf_alloc_ ? 0 : buf_alloc_ - guest_view_used;
  // Half a window rather than Linux's "whenever the reader drained" (an update per 64 KiB
  // packet): measured no faster here, and each update costs the guest an rx packet.
  return fwd_cnt_ != advertised_fwd_cnt_ && guest_view_free < buf_alloc_ / 2;
}

Connection::Io Connection::accept_guest_data(std::span<const iovec> payload) {
  const std::size_t total = iovec_bytes(payload);
  const uint32_t buffered = rx_cnt_ - fwd_cnt_;
  if (total > buf_alloc_ - buffered) {
    return Io::kCreditExceeded;
  }
  rx_cnt_ += static_cast<uint32_t>(total);
  std::size_t sent = 0;
  if (to_host_empty()) {
    if (send_iovecs(fd_.get(), payload, sent) == SendOutcome::kFailed) {
      return Io::kHostGone;
    }
    fwd_cnt_ += static_cast<uint32_t>(sent);
  }
  if (sent == total) {
    return Io::kOk;
  }
  if (to_host_head_ > 0 && to_host_head_ >= to_host_.size() / 2) {
    to_host_.erase(to_host_.begin(), to_host_.begin() + static_cast<long>(to_host_head_));
    to_host_head_ = 0;
  }
  // Bounded: rx_cnt_ - fwd_cnt_ <= buf_alloc_ (checked above) is what is buffered.
  const std::size_t old_size = to_host_.size();
  to_host_.resize(old_size + (total - sent));
  copy_from_iovecs(payload, sent, std::span(to_host_).subspan(old_size));
  return Io::kOk;
}

Connection::Io Connection::flush_to_host() {
  std::size_t sent = 0;
  if (!reply_line_.empty()) {
    const auto outcome = send_some(fd_.get(), cvm::as_bytes(reply_line_), sent);
    reply_line_.erase(0, sent);
    if (outcome == SendOutcome::kFailed) {
      return Io::kHostGone;
    }
    if (outcome == SendOutcome::kPartial) {
      return Io::kOk;
    }
  }
  const auto outcome =
      send_some(fd_.get(), std::span(to_host_).subspan(to_host_head_), sent);
  to_host_head_ += sent;
  fwd_cnt_ += static_cast<uint32_t>(sent);
  if (to_host_head_ == to_host_.size()) {
    to_host_.clear();
    to_host_head_ = 0;
  }
  return outcome == SendOutcome::kFailed ? Io::kHostGone : Io::kOk;
}

Connection::HostRead Connection::read_from_host(std::span<iovec> out) {
  HostRead result;
  const std::size_t limit = std::min<std::size_t>(iovec_bytes(out), peer_credit());
  if (limit == 0) {
    return result;
  }
  if (!pending_to_guest_.empty()) {
    result.bytes = std::min(limit, pending_to_guest_.size());
    copy_to_iovecs(out, std::span(pending_to_guest_).first(result.bytes));
    pending_to_guest_.erase(pending_to_guest_.begin(),
                            pending_to_guest_.begin() + static_cast<long>(result.bytes));
    return result;
  }
  const IovecPrefix prefix(out, limit);
  msghdr msg{};
  msg.msg_iov = prefix.get().data();
  msg.msg_iovlen = prefix.get().size();
  for (;;) {
    const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
    if (n > 0) {
      result.bytes = static_cast<std::size_t>(n);
    } else if (n == 0) {
      result.eof = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      readable = false;
    } else {
      result.error = true;
    }
    return result;
  }
}

void Connection::set_pending_to_guest(std::span<const std::byte> bytes) {
  pending_to_guest_.assign(bytes.begin(), bytes.end());
}

}  // namespace cvm::devices::virtio::vsock
