// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/vsock/vsock_device.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/byte_reader.h"
#include "base/event_fd.h"
#include "devices/virtio/guest_error_log.h"
#include "devices/virtio/guest_iovecs.h"

namespace cvm::devices::virtio::vsock {
namespace {

constexpr int kMaxEventsPerWait = 64;
// The loop wakes at least this often to expire handshake/close deadlines.
constexpr int kTickMs = 100;
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
// Rounds of tx -> rx -> tx when tx stopped on a full control backlog that rx then drained.
constexpr int kMaxServiceRounds = 64;

}  // namespace

Result<std::unique_ptr<VsockDevice>> VsockDevice::create(uint64_t guest_cid, std::string uds_path,
                                                         VsockOptions options) {
  if (guest_cid < kMinGuestCid || guest_cid >= kMaxGuestCidExclusive) {
    return make_error(ErrorCode::kInvalidArgument,
                      "vsock guest cid {} is reserved (valid: 3..4294967294)", guest_cid);
  }
  if (options.queue_size == 0 || (options.queue_size & (options.queue_size - 1)) != 0 ||
      options.queue_size > kMaxQueueSize) {
    return make_error(ErrorCode::kInvalidArgument, "vsock queue size {} is not a power of two",
                      options.queue_size);
  }
  if (options.conn_buffer_bytes < kMaxPayloadBytes || options.max_connections == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "vsock connection buffer must be >= 64 KiB and connections >= 1");
  }
  std::unique_ptr<VsockDevice> device(new VsockDevice(guest_cid, std::move(uds_path), options));
  CVM_TRY(device->start());
  return device;
}

VsockDevice::VsockDevice(uint64_t guest_cid, std::string uds_path, VsockOptions options)
    : guest_cid_(guest_cid),
      uds_path_(std::move(uds_path)),
      options_(options),
      queue_max_sizes_{options.queue_size, options.queue_size, options.queue_size},
      iov_(kMaxIovecs),
      scratch_(kMaxPayloadBytes) {
  store_le<uint64_t>(std::span(config_).first<8>(), guest_cid_);
}

Result<void> VsockDevice::start() {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) {
    return errno_error(ErrorCode::kIo, "epoll_create1", errno);
  }
  CVM_ASSIGN_OR_RETURN(kick_, make_eventfd("the virtio-vsock event loop"));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = VsockMuxer::kKickId;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, kick_.get(), &ev) != 0) {
    return errno_error(ErrorCode::kIo, "epoll_ctl(ADD eventfd)", errno);
  }
  CVM_ASSIGN_OR_RETURN(muxer_, VsockMuxer::create(epoll_.get(), uds_path_, guest_cid_, options_));
  loop_ = std::thread([this] { run(); });
  return ok();
}

VsockDevice::~VsockDevice() {
  if (loop_.joinable()) {
    stopping_ = true;
    kick();
    loop_.join();
  }
  std::lock_guard lock(mutex_);
  muxer_.reset();  // closes connections, removes the socket file
}

uint64_t VsockDevice::device_features() const { return feature_bit(kFeatureStream); }

void VsockDevice::read_config(uint64_t offset, std::span<std::byte> out) const {
  std::fill(out.begin(), out.end(), std::byte{0});
  if (offset >= config_.size()) {
    return;
  }
  const std::size_t n = std::min<std::size_t>(out.size(), config_.size() - offset);
  // Bounds: offset < config_.size() and n <= the remaining bytes.
  std::memcpy(out.data(), config_.data() + offset, n);
}

void VsockDevice::write_config(uint64_t /*offset*/, std::span<const std::byte> /*data*/) {
  // guest_cid is read-only (§5.10.4).
}

Result<void> VsockDevice::activate(GuestMemoryView& memory, VirtioInterrupt& interrupt,
                                   uint64_t /*driver_features*/,
                                   std::vector<std::optional<SplitVirtqueue>> queues) {
  if (queues.size() != 3 || !queues[kRxQueue] || !queues[kTxQueue]) {
    return make_error(ErrorCode::kGuest, "virtio-vsock activated without its rx and tx queues");
  }
  {
    std::lock_guard lock(mutex_);
    memory_ = &memory;
    interrupt_ = &interrupt;
    rx_ = std::move(queues[kRxQueue]);
    tx_ = std::move(queues[kTxQueue]);
    event_ = std::move(queues[kEventQueue]);
    broken_ = false;
    muxer_->set_active(true);
  }
  kick();  // buffers may be posted already
  return ok();
}

void VsockDevice::reset() {
  std::lock_guard lock(mutex_);
  muxer_->set_active(false);  // the guest's sockets are gone: close the host ends
  rx_first_ = 0;
  rx_count_ = 0;
  rx_.reset();
  tx_.reset();
  event_.reset();
  memory_ = nullptr;
  interrupt_ = nullptr;
  broken_ = false;
}

void VsockDevice::process_queue(uint16_t /*index*/) { kick(); }

bool VsockDevice::adopt_queue_notifier(uint16_t index, UniqueFd notifier) {
  if (index >= notifiers_.size() || !notifier.valid()) {
    return false;
  }
  std::lock_guard lock(mutex_);
  if (notifiers_[index].valid()) {
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = VsockMuxer::kQueueNotifierId + index;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, notifier.get(), &ev) != 0) {
    return false;  // the notifier thread keeps delivering this queue's kicks
  }
  notifiers_[index] = std::move(notifier);
  return true;
}

void VsockDevice::kick() { signal_eventfd(kick_.get()); }

std::size_t VsockDevice::connection_count() const {
  std::lock_guard lock(mutex_);
  return muxer_->connection_count();
}

uint64_t VsockDevice::buffered_bytes() const {
  std::lock_guard lock(mutex_);
  return muxer_->buffered_bytes();
}

uint64_t VsockDevice::peak_buffered_bytes() const {
  std::lock_guard lock(mutex_);
  return muxer_->peak_buffered_bytes();
}

void VsockDevice::run() {
  (void)::pthread_setname_np(::pthread_self(), "virtio-vsock");
  std::array<epoll_event, kMaxEventsPerWait> events{};
  while (!stopping_) {
    const int n = ::epoll_wait(epoll_.get(), events.data(), kMaxEventsPerWait, kTickMs);
    if (n < 0 && errno != EINTR) {
      log_guest_error(fmt::format("virtio-vsock {}", uds_path_),
                      errno_error(ErrorCode::kIo, "epoll_wait", errno));
      continue;
    }
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    handle_events(std::span(events).first(static_cast<std::size_t>(std::max(n, 0))));
    const auto now = VsockMuxer::Clock::now();
    if (now - last_sweep_ >= kSweepInterval) {
      last_sweep_ = now;
      muxer_->expire_deadlines(now);
    }
    service_queues();
  }
}

void VsockDevice::handle_events(std::span<const epoll_event> events) {
  for (const epoll_event& ev : events) {
    if (ev.data.u64 == VsockMuxer::kKickId) {
      drain_eventfd(kick_.get());
    } else if (ev.data.u64 >= VsockMuxer::kQueueNotifierId &&
               ev.data.u64 < VsockMuxer::kQueueNotifierId + notifiers_.size()) {
      // A guest kick: drained here; service_queues() after the batch does the work.
      drain_eventfd(notifiers_[ev.data.u64 - VsockMuxer::kQueueNotifierId].get());
    } else if (ev.data.u64 == VsockMuxer::kListenerId) {
      muxer_->accept_clients();
    } else {
      muxer_->on_socket_event(ev.data.u64, ev.events);
    }
  }
}

void VsockDevice::service_queues() {
  if (!rx_ || !tx_ || broken_) {
    return;
  }
  if (auto served = service_locked(); !served) {
    fail(served.error());
  }
}

void VsockDevice::fail(const Error& error) {
  log_guest_error(fmt::format("virtio-vsock {}", uds_path_), error);
  broken_ = true;
  interrupt_->set_needs_reset();
}

Result<void> VsockDevice::service_locked() {
  for (int round = 0; round < kMaxServiceRounds; ++round) {
    CVM_ASSIGN_OR_RETURN(const bool stalled, process_tx());
    CVM_TRY(fill_rx());
    if (!stalled || muxer_->tx_backlogged()) {
      break;
    }
  }
  CVM_TRY(signal_if_needed(*tx_, kTxQueue));
  return signal_if_needed(*rx_, kRxQueue);
}

// Used-buffer notification for what was added since the last check, if the driver wants one
// (EVENT_IDX: only when it has caught up, so a busy driver is not interrupted per batch).
Result<void> VsockDevice::signal_if_needed(SplitVirtqueue& queue, uint16_t index) {
  CVM_ASSIGN_OR_RETURN(const bool notify, queue.needs_notification());
  if (notify) {
    interrupt_->signal_used_queue(index);
  }
  return ok();
}

// Takes tx packets until the ring is empty; true when it stopped early because the control
// backlog (answers waiting for rx buffers) is full. The answers (credit updates above all)
// go out after the ring is empty: sending each at once wakes the guest per packet, which
// measured slower (guest -> host 28% of the ceiling instead of 53%, median of 8 runs).
Result<bool> VsockDevice::process_tx() {
  for (;;) {
    if (muxer_->tx_backlogged()) {
      return true;
    }
    CVM_ASSIGN_OR_RETURN(const bool popped, tx_->pop_into(tx_chain_));
    if (!popped) {
      CVM_ASSIGN_OR_RETURN(const bool pending, tx_->enable_notification_and_check_pending());
      if (!pending) {
        return false;
      }
      continue;
    }
    CVM_TRY(deliver_tx(tx_chain_));
    CVM_TRY(tx_->add_used(tx_chain_.head, 0));
  }
}

Result<void> VsockDevice::deliver_tx(const DescriptorChain& chain) {
  CVM_ASSIGN_OR_RETURN(const TxPacket packet, parse_tx_chain(*memory_, chain, guest_cid_));
  if (packet.verdict != Verdict::kDeliver) {
    log_guest_error(fmt::format("virtio-vsock {}", uds_path_),
                    make_error(ErrorCode::kGuest, "tx packet {} {}->{}: {}",
                               op_name(packet.header.op), packet.header.src_port,
                               packet.header.dst_port, packet.reason));
    if (packet.verdict == Verdict::kReset) {
      muxer_->queue_reset_reply(packet.header);
    }
    return ok();
  }
  const uint32_t len = packet.header.len;
  CVM_ASSIGN_OR_RETURN(const std::size_t used,
                       buffers_to_iovecs(*memory_, chain.readable, kHeaderSize, len, iov_));
  std::span<const iovec> payload = std::span(iov_).first(used);
  if (iovec_bytes(payload) < len) {
    // More pieces than one sendmsg takes (a chain of tiny buffers): copy it out instead.
    const std::span<std::byte> bytes = std::span(scratch_).first(len);
    CVM_TRY(read_from_buffers(*memory_, chain.readable, kHeaderSize, bytes));
    iov_[0] = iovec{.iov_base = bytes.data(), .iov_len = bytes.size()};
    payload = std::span(iov_).first(1);
  }
  muxer_->on_guest_packet(packet.header, payload);
  return ok();
}

// Holds up to kRxBatch popped rx chains so one socket read can fill several of them.
Result<void> VsockDevice::gather_rx() {
  while (rx_count_ < kRxBatch) {
    DescriptorChain& chain = rx_held_[(rx_first_ + rx_count_) % kRxBatch];
    CVM_ASSIGN_OR_RETURN(const bool popped, rx_->pop_into(chain));
    if (!popped) {
      if (rx_count_ > 0) {
        return ok();
      }
      CVM_ASSIGN_OR_RETURN(const bool pending, rx_->enable_notification_and_check_pending());
      if (pending) {
        continue;
      }
      return ok();  // starved: the driver's next rx notification resumes us
    }
    if (chain.writable_bytes < kHeaderSize) {
      log_guest_error(fmt::format("virtio-vsock {}", uds_path_),
                      make_error(ErrorCode::kGuest, "rx buffer of {} bytes cannot hold a header",
                                 chain.writable_bytes));
      CVM_TRY(rx_->add_used(chain.head, 0));
      continue;
    }
    ++rx_count_;
  }
  return ok();
}

// Moves rx packets (control first, then host data) into held rx chains, signalling the
// driver after every socket read's worth so it consumes while the next read happens.
Result<void> VsockDevice::fill_rx() {
  while (muxer_->has_rx_work()) {
    CVM_TRY(gather_rx());
    if (rx_count_ == 0) {
      return ok();
    }
    CVM_ASSIGN_OR_RETURN(const std::size_t used, rx_payload_iovecs());
    std::optional<VsockHeader> packet = muxer_->next_rx_packet(std::span(iov_).first(used));
    if (!packet) {
      return ok();
    }
    CVM_TRY(write_rx_packets(*packet));
    if (packet->len > 0) {
      CVM_TRY(signal_if_needed(*rx_, kRxQueue));
    }
  }
  return ok();
}

// Host iovecs of the held chains' payload areas (after each header), chain after chain in
// the order write_rx_packets() uses them; a prefix if they need more than kMaxIovecs.
Result<std::size_t> VsockDevice::rx_payload_iovecs() {
  std::size_t used = 0;
  for (std::size_t i = 0; i < rx_count_ && used < iov_.size(); ++i) {
    const DescriptorChain& chain = rx_held_[(rx_first_ + i) % kRxBatch];
    const uint32_t room = payload_room(chain);
    CVM_ASSIGN_OR_RETURN(const std::size_t n,
                         buffers_to_iovecs(*memory_, chain.writable, kHeaderSize, room,
                                           std::span(iov_).subspan(used)));
    used += n;
    if (iovec_bytes(std::span(iov_).subspan(used - n, n)) < room) {
      break;  // out of iovecs inside this chain: later chains must not follow a gap
    }
  }
  return used;
}

uint32_t VsockDevice::payload_room(const DescriptorChain& chain) {
  return std::min(chain.writable_bytes - static_cast<uint32_t>(kHeaderSize), kMaxPayloadBytes);
}

// Writes `header` into the held chains whose payload areas the muxer filled (through iov_),
// splitting the payload into several packets with the same header when it exceeds one
// chain (stream data has no message boundaries). fill_rx() never reads more than the held
// chains take.
Result<void> VsockDevice::write_rx_packets(VsockHeader header) {
  const uint32_t total = header.len;
  uint32_t offset = 0;
  do {
    const DescriptorChain& chain = rx_held_[rx_first_];
    rx_first_ = (rx_first_ + 1) % kRxBatch;
    --rx_count_;
    const uint32_t n = std::min(total - offset, payload_room(chain));
    header.len = n;
    std::array<std::byte, kHeaderSize> raw{};
    encode_header(header, raw);
    CVM_TRY(write_to_buffers(*memory_, chain.writable, 0, raw));
    CVM_TRY(rx_->add_used(chain.head, static_cast<uint32_t>(kHeaderSize) + n));
    offset += n;
  } while (offset < total);
  return ok();
}

}  // namespace cvm::devices::virtio::vsock
