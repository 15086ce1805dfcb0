// SPDX-License-Identifier: Apache-2.0
// Test doubles playing a Linux virtio-vsock guest against VsockDevice (which runs its own
// event-loop thread): VsockGuestDriver owns the three rings in fake guest memory (built on
// VirtqDriver) and moves raw packets; GuestVsockStack on top behaves like the guest kernel's
// vsock stream layer (listening ports, RESPONSE, credit updates, optional slow reader).
// Included by unit tests and the vsock benchmark only.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "base/byte_reader.h"
#include "base/guest_memory_view.h"
#include "base/unique_fd.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/vsock/vsock_packet.h"
#include "tests/unit/virtio/virtq_driver.h"

namespace cvm::devices::virtio::testing {

/// BufferGuestMemory shared by the device thread and the test thread (the "guest").
/// Locked (tests): every access takes a mutex, which gives each a happens-before edge that
/// ThreadSanitizer understands. Unlocked (the benchmark): plain memcpy between fences, like
/// the machine's GuestMemory and a real guest, so a 64 KiB copy on one side does not stall
/// the other; ring ordering then rests on the fences both sides issue (x86-TSO). Aligned
/// 2-byte accesses (ring indices) are single loads and stores there, as a driver's are:
/// glibc's memcpy of 2 bytes is two loads and can tear.
class LockedGuestMemory final : public GuestMemoryView {
 public:
  explicit LockedGuestMemory(std::size_t size, bool locked = true)
      : locked_(locked), inner_(0, size) {}
  Result<void> read(uint64_t gpa, std::span<std::byte> out) const override {
    if (!locked_) {
      if (const uint16_t* word = ring_word(gpa, out.size())) {
        store_le<uint16_t>(out.first<2>(), __atomic_load_n(word, __ATOMIC_ACQUIRE));
        return ok();
      }
      auto result = inner_.read(gpa, out);
      std::atomic_thread_fence(std::memory_order_acquire);
      return result;
    }
    std::lock_guard lock(mutex_);
    return inner_.read(gpa, out);
  }
  Result<void> write(uint64_t gpa, std::span<const std::byte> data) override {
    if (!locked_) {
      if (uint16_t* word = const_cast<uint16_t*>(ring_word(gpa, data.size()))) {
        __atomic_store_n(word, load_le<uint16_t>(data.first<2>()), __ATOMIC_RELEASE);
        return ok();
      }
      std::atomic_thread_fence(std::memory_order_release);
      return inner_.write(gpa, data);
    }
    std::lock_guard lock(mutex_);
    return inner_.write(gpa, data);
  }
  bool contains(uint64_t gpa, uint64_t length) const override {
    return inner_.contains(gpa, length);
  }
  // The device then does socket I/O on these bytes without the lock: its ring accesses
  // (locked, or fenced when unlocked) order the payload as a real guest's do.
  Result<std::size_t> host_iovecs(uint64_t gpa, uint64_t length,
                                  std::span<iovec> out) override {
    return inner_.host_iovecs(gpa, length, out);
  }

 private:
  // The word at an aligned 2-byte access inside memory, else nullptr.
  const uint16_t* ring_word(uint64_t gpa, std::size_t size) const {
    if (size != 2 || gpa % 2 != 0 || !inner_.contains(gpa, 2)) {
      return nullptr;
    }
    return reinterpret_cast<const uint16_t*>(inner_.bytes().data() + gpa);
  }

  bool locked_;
  mutable std::mutex mutex_;
  mutable BufferGuestMemory inner_;
};

/// Counts used-buffer notifications and wakes a waiting test.
class SignalInterrupt final : public VirtioInterrupt {
 public:
  void signal_used_queue(uint16_t /*queue*/) override {
    {
      std::lock_guard lock(mutex_);
      ++signals_;
    }
    cv_.notify_all();
  }
  void signal_config_change() override {}
  void set_needs_reset() override {
    needs_reset = true;
    cv_.notify_all();
  }
  /// Waits until a notification newer than the last wait() or `timeout`.
  void wait(std::chrono::microseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return signals_ != seen_; });
    seen_ = signals_;
  }
  std::atomic<bool> needs_reset{false};

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t signals_ = 0;
  uint64_t seen_ = 0;
};

struct GuestPacket {
  vsock::VsockHeader header;
  std::vector<std::byte> payload;
};

/// The three vsock rings in one fake guest memory, driven from the test thread.
class VsockGuestDriver {
 public:
  struct Config {
    uint64_t cid = 3;
    uint16_t queue_size = 128;
    uint32_t rx_payload = 4096;  // Linux posts 4 KiB rx buffers
    bool rx_split = false;       // header and payload in two descriptors (Linux < 6.2)
    /// tx payload in two descriptors, split at an odd offset (the device then writes one
    /// packet from two iovecs; the chain still fits the 3 descriptors a tx slot may use).
    bool tx_payload_split = false;
    uint32_t max_tx_payload = 64 * 1024;
    /// Like Linux's virtio_vsock_rx_fill(): refill the rx ring only once fewer than half of
    /// its buffers are posted (false: re-post every buffer as soon as it is consumed).
    bool refill_at_half = true;
    /// Unlocked guest memory (benchmark only; see LockedGuestMemory).
    bool unlocked_memory = false;
    /// Kick through one eventfd per queue that the device adopted
    /// (VirtioDevice::adopt_queue_notifier), as KVM's ioeventfds do in cvmm, instead of
    /// calling process_queue(). Queues the device declines fall back to process_queue().
    bool kick_through_eventfds = false;
  };
  static constexpr uint64_t kRxData = 0x100000;

  VsockGuestDriver(VirtioDevice& device, Config config)
      : device_(device),
        config_(config),
        tx_data_((kRxData + uint64_t{rx_chains()} * (config.rx_payload + 64) + 0xfff) & ~0xfffull),
        memory_(tx_data_ + tx_slots() * tx_slot_bytes(), !config.unlocked_memory),
        rx_(memory_, config.queue_size, 0, kRxData),
        tx_(memory_, config.queue_size, 0x10000, tx_data_),
        event_(memory_, config.queue_size, 0x20000, 0x80000) {
    if (config.kick_through_eventfds) {
      for (uint16_t queue = 0; queue < kick_fds_.size(); ++queue) {
        UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
        UniqueFd device_side(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
        if (device_.adopt_queue_notifier(queue, std::move(device_side))) {
          kick_fds_[queue] = std::move(fd);
          ++adopted_queues;
        }
      }
    }
  }

  /// Ring layouts of rx, tx and event, for a test that programs a transport instead.
  std::array<QueueLayout, 3> layouts() const {
    return {rx_.layout(), tx_.layout(), event_.layout()};
  }
  GuestMemoryView& memory() { return memory_; }
  /// Posts every rx buffer (after activation through a transport).
  void post_all_rx() {
    const uint16_t old_idx = rx_.avail_idx();
    for (uint16_t i = 0; i < rx_chains(); ++i) {
      post_rx(i);
    }
    kick(rx_, old_idx, vsock::kRxQueue);
  }

  /// Creates the queues, activates the device and posts every rx buffer.
  Result<void> activate() {
    std::vector<std::optional<SplitVirtqueue>> queues;
    for (VirtqDriver* d : {&rx_, &tx_, &event_}) {
      CVM_ASSIGN_OR_RETURN(auto q, SplitVirtqueue::create(d->layout(), config_.queue_size,
                                                          {.event_idx = true}, memory_));
      queues.emplace_back(std::move(q));
    }
    CVM_TRY(device_.activate(memory_, interrupt_, 0, std::move(queues)));
    post_all_rx();
    return ok();
  }

  /// Publishes one tx packet (header split after `header_split` bytes if given). False when
  /// every tx slot is in flight.
  bool send(const vsock::VsockHeader& header, std::span<const std::byte> payload,
            std::optional<uint32_t> header_split = std::nullopt) {
    reclaim_tx();
    if (tx_in_flight_.size() >= tx_slots()) {
      return false;
    }
    const uint64_t slot = tx_seq_++ % tx_slots();
    const uint64_t base = tx_data_ + slot * tx_slot_bytes();
    std::array<std::byte, vsock::kHeaderSize> raw{};
    vsock::encode_header(header, raw);
    tx_.put(base, raw);
    if (!payload.empty()) {
      tx_.put(base + vsock::kHeaderSize, payload);
    }
    std::vector<DriverBuffer> chain;
    chain.reserve(4);  // at most 4 pieces (also keeps g++ 12 -O3 from a false stringop-overflow)
    const uint32_t split = header_split.value_or(vsock::kHeaderSize);
    chain.push_back({base, split, false});
    if (split < vsock::kHeaderSize) {
      chain.push_back({base + split, static_cast<uint32_t>(vsock::kHeaderSize - split), false});
    }
    const auto size = static_cast<uint32_t>(payload.size());
    if (config_.tx_payload_split && !header_split && size > 1) {
      const uint32_t first = size / 2 + 1;
      chain.push_back({base + vsock::kHeaderSize, first, false});
      chain.push_back({base + vsock::kHeaderSize + first, size - first, false});
    } else if (!payload.empty()) {
      chain.push_back({base + vsock::kHeaderSize, size, false});
    }
    const uint16_t old_idx = tx_.avail_idx();
    tx_in_flight_.push_back(tx_.add_chain(chain));
    kick(tx_, old_idx, vsock::kTxQueue);
    return true;
  }

  /// Collects the packets the device put in rx buffers and re-posts those buffers (unless
  /// paused, which models a guest that stopped refilling its rx ring).
  std::vector<GuestPacket> receive() {
    std::vector<GuestPacket> out;
    // Like Linux's rx work: drain, then virtqueue_enable_cb() (used_event = what we have
    // seen, EVENT_IDX) and drain again if the device added buffers meanwhile, so an
    // interrupt the device decided not to send is never waited for.
    do {
      while (rx_used_seen_ != rx_.used_idx()) {
        out.push_back(take_rx());
      }
      rx_.set_used_event(rx_used_seen_);
      std::atomic_thread_fence(std::memory_order_seq_cst);
    } while (rx_used_seen_ != rx_.used_idx());
    const std::size_t posted = rx_chains() - pending_repost_.size();
    if (!rx_paused && (!config_.refill_at_half || posted < rx_chains() / 2u)) {
      repost();
    }
    return out;
  }

  void repost() {
    if (pending_repost_.empty()) {
      return;
    }
    const uint16_t old_idx = rx_.avail_idx();
    for (uint16_t chain : pending_repost_) {
      post_rx(chain);
    }
    pending_repost_.clear();
    kick(rx_, old_idx, vsock::kRxQueue);
  }

  SignalInterrupt& interrupt() { return interrupt_; }
  VirtqDriver& tx_driver() { return tx_; }
  const Config& config() const { return config_; }
  bool rx_paused = false;
  bool discard_payload = false;  // receive(): payloads are read but not returned
  int protocol_errors = 0;
  uint64_t kicks = 0;  // notifications sent to the device (after EVENT_IDX suppression)
  int adopted_queues = 0;  // queues whose kicks go through an eventfd the device adopted
  /// Whether a kick written to queue `index`'s eventfd is still unread by the device.
  bool kick_unread(uint16_t index) const {
    pollfd p{kick_fds_[index].get(), POLLIN, 0};
    return kick_fds_[index].valid() && ::poll(&p, 1, 0) == 1;
  }

 private:
  std::array<UniqueFd, 3> kick_fds_;  // by queue, when kick_through_eventfds
  GuestPacket take_rx() {
    const auto [id, len] = rx_.used_elem(rx_used_seen_++);
    const uint16_t chain = static_cast<uint16_t>(rx_consumed_++ % rx_chains());
    GuestPacket p;
    if (len >= vsock::kHeaderSize) {
      std::array<std::byte, vsock::kHeaderSize> raw{};
      (void)memory_.read(rx_buffer(chain), raw);
      p.header = vsock::decode_header(raw);
      const std::size_t payload = len - vsock::kHeaderSize;
      if (discard_payload) {
        // Copy out like the guest kernel would, into a reused buffer (a benchmark guest).
        scratch_.resize(std::max(scratch_.size(), payload));
        (void)memory_.read(rx_buffer(chain) + vsock::kHeaderSize,
                           std::span(scratch_).first(payload));
      } else if (payload > 0) {
        p.payload = rx_.get(rx_buffer(chain) + vsock::kHeaderSize, payload);
      }
    }
    if (id != rx_head(chain)) {
      protocol_errors++;
    }
    pending_repost_.push_back(chain);
    return p;
  }
  uint16_t rx_chains() const {
    return config_.rx_split ? static_cast<uint16_t>(config_.queue_size / 2) : config_.queue_size;
  }
  uint64_t rx_buffer(uint16_t chain) const {
    return kRxData + uint64_t{chain} * (config_.rx_payload + 64);
  }
  uint16_t rx_head(uint16_t chain) const {
    return static_cast<uint16_t>(config_.rx_split ? chain * 2 : chain);
  }
  void post_rx(uint16_t chain) {
    const uint64_t at = rx_buffer(chain);
    if (config_.rx_split) {
      rx_.add_chain({{at, static_cast<uint32_t>(vsock::kHeaderSize), true},
                     {at + vsock::kHeaderSize, config_.rx_payload, true}});
    } else {
      rx_.add_chain({{at, static_cast<uint32_t>(vsock::kHeaderSize) + config_.rx_payload, true}});
    }
  }
  // Like virtqueue_kick_prepare() with EVENT_IDX (§2.7.10): notify only when the device's
  // avail_event lies in the entries published since the last notification decision.
  void kick(VirtqDriver& queue, uint16_t old_idx, uint16_t index) {
    // The new avail idx must be visible before avail_event is read (Linux: virtio_mb).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (vring_need_event(queue.avail_event(), queue.avail_idx(), old_idx)) {
      ++kicks;
      if (kick_fds_[index].valid()) {
        const uint64_t one = 1;
        (void)!::write(kick_fds_[index].get(), &one, sizeof(one));
      } else {
        device_.process_queue(index);
      }
    }
  }
  std::size_t tx_slots() const { return config_.queue_size / 3; }
  uint64_t tx_slot_bytes() const { return config_.max_tx_payload + 256; }
  void reclaim_tx() {
    while (tx_used_seen_ != tx_.used_idx()) {
      const auto [id, len] = tx_.used_elem(tx_used_seen_++);
      if (tx_in_flight_.empty() || id != tx_in_flight_.front() || len != 0) {
        protocol_errors++;
      }
      if (!tx_in_flight_.empty()) {
        tx_in_flight_.pop_front();
      }
    }
    tx_.set_used_event(tx_used_seen_);
  }

  VirtioDevice& device_;
  Config config_;
  uint64_t tx_data_;
  LockedGuestMemory memory_;
  SignalInterrupt interrupt_;
  VirtqDriver rx_;
  VirtqDriver tx_;
  VirtqDriver event_;
  uint16_t rx_used_seen_ = 0;
  uint64_t rx_consumed_ = 0;
  std::vector<uint16_t> pending_repost_;
  std::vector<std::byte> scratch_;
  uint16_t tx_used_seen_ = 0;
  uint64_t tx_seq_ = 0;
  std::deque<uint16_t> tx_in_flight_;
};

/// The guest kernel's side of vsock streams, enough to exercise the device like Linux does.
class GuestVsockStack {
 public:
  using Key = std::pair<uint32_t, uint32_t>;  // (guest port, host port)
  struct Conn {
    bool established = false;
    bool reset = false;          // RST received
    uint32_t host_shutdown = 0;  // SHUTDOWN flags received
    std::vector<std::byte> data;  // received payload (when keep_data)
    uint64_t received = 0;
    uint64_t fnv = 1469598103934665603ull;  // FNV-1a of everything received
    // Our receive buffer (credit we grant the host).
    uint32_t rx_cnt = 0;
    uint32_t fwd_cnt = 0;
    uint32_t advertised_fwd = 0;
    bool consume = true;  // false: a slow reader, data stays unread and credit runs out
    // Sending.
    std::vector<std::byte> out;
    std::size_t out_pos = 0;
    uint64_t synthetic_out = 0;  // bytes still to send from a fixed pattern after `out`
    uint32_t peer_buf_alloc = 0;
    uint32_t peer_fwd_cnt = 0;
    uint32_t tx_cnt = 0;
    uint32_t max_unread = 0;  // most unread bytes held: must stay <= buf_alloc
  };

  explicit GuestVsockStack(VsockGuestDriver& driver, uint32_t buf_alloc = 256 * 1024)
      : driver_(driver), buf_alloc_(buf_alloc) {}

  void listen(uint32_t port) { listening_.insert(port); }
  /// Sends REQUEST from guest `port` to host port `host_port` (guest -> host connect).
  void connect(uint32_t port, uint32_t host_port) {
    conns_[{port, host_port}] = Conn{};
    control({port, host_port}, vsock::Op::kRequest);
  }
  void write(Key key, std::span<const std::byte> bytes) {
    Conn& c = conns_.at(key);
    c.out.insert(c.out.end(), bytes.begin(), bytes.end());
  }
  /// Queues `bytes` bytes of a fixed pattern without holding them (a benchmark source).
  void write_synthetic(Key key, uint64_t bytes) { conns_.at(key).synthetic_out += bytes; }
  void shutdown(Key key, uint32_t flags) { control(key, vsock::Op::kShutdown, flags); }
  void rst(Key key) { control(key, vsock::Op::kRst); }
  void set_consume(Key key, bool consume) {
    Conn& c = conns_.at(key);
    c.consume = consume;
    if (consume) {
      c.fwd_cnt = c.rx_cnt;
      maybe_credit_update(key, c);
    }
  }
  /// Queues a raw packet exactly as given.
  void send_raw(const vsock::VsockHeader& h, std::vector<std::byte> payload = {}) {
    tx_.push_back(GuestPacket{h, std::move(payload)});
  }

  /// One round: receive and react, then send what credit and tx slots allow.
  void pump() {
    for (GuestPacket& p : driver_.receive()) {
      dispatch(p);
    }
    drain_readers();
    flush_tx();
  }
  /// Pumps until `done()` or `timeout`; false on timeout.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      pump();
      if (done()) {
        return true;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      driver_.interrupt().wait(std::chrono::microseconds(200));
    }
  }

  std::map<Key, Conn>& conns() { return conns_; }
  Conn* find(Key key) {
    auto it = conns_.find(key);
    return it == conns_.end() ? nullptr : &it->second;
  }
  /// Connections accepted on a listening port, in arrival order.
  const std::vector<Key>& accepted() const { return accepted_; }
  std::vector<GuestPacket>& log() { return log_; }
  bool keep_data = true;
  bool keep_log = true;
  bool answer_requests = true;  // false: REQUESTs are only logged
  bool auto_rst_on_full_shutdown = true;  // like Linux: answer SHUTDOWN(both) with RST
  int errors = 0;  // packets that broke the protocol (credit overrun, bad address)
  uint64_t credit_requests = 0;  // CREDIT_REQUESTs the host sent

 private:
  vsock::VsockHeader header(Key key, vsock::Op op, uint32_t flags = 0) {
    vsock::VsockHeader h;
    h.src_cid = driver_.config().cid;
    h.dst_cid = vsock::kHostCid;
    h.src_port = key.first;
    h.dst_port = key.second;
    h.type = vsock::kTypeStream;
    h.op = static_cast<uint16_t>(op);
    h.flags = flags;
    h.buf_alloc = buf_alloc_;
    if (Conn* c = find(key)) {
      h.fwd_cnt = c->fwd_cnt;
      c->advertised_fwd = c->fwd_cnt;
    }
    return h;
  }
  void control(Key key, vsock::Op op, uint32_t flags = 0) {
    tx_.push_back(GuestPacket{header(key, op, flags), {}});
  }
  // Linux's rule (virtio_transport_stream_do_dequeue(), 6.1): after a read, send
  // CREDIT_UPDATE when the peer's view of our free space is below one 64 KiB packet, or when
  // the reader emptied its queue (rx_bytes < SO_RCVLOWAT = 1); reading here always empties it.
  void maybe_credit_update(Key key, Conn& c) {
    const uint32_t delta = c.fwd_cnt - c.advertised_fwd;
    const bool drained = c.rx_cnt == c.fwd_cnt;
    if (delta != 0 && (buf_alloc_ - delta < vsock::kMaxPayloadBytes || drained)) {
      control(key, vsock::Op::kCreditUpdate);
    }
  }
  // The application reads everything the rx batch delivered (one recv() per wake-up).
  void drain_readers() {
    for (auto& [key, c] : conns_) {
      if (c.consume && !c.reset && c.fwd_cnt != c.rx_cnt) {
        c.fwd_cnt = c.rx_cnt;
        maybe_credit_update(key, c);
      }
    }
  }

  void dispatch(const GuestPacket& p) {
    if (keep_log) {
      log_.push_back(p);
    }
    const vsock::VsockHeader& h = p.header;
    if (h.src_cid != vsock::kHostCid || h.dst_cid != driver_.config().cid ||
        h.type != vsock::kTypeStream) {
      ++errors;
      return;
    }
    const Key key{h.dst_port, h.src_port};
    const auto op = static_cast<vsock::Op>(h.op);
    if (op == vsock::Op::kRequest) {
      if (!answer_requests) {
        return;
      }
      if (!listening_.contains(h.dst_port) || conns_.contains(key)) {
        control(key, vsock::Op::kRst);
        return;
      }
      Conn& c = conns_[key];
      c.established = true;
      c.peer_buf_alloc = h.buf_alloc;
      c.peer_fwd_cnt = h.fwd_cnt;
      accepted_.push_back(key);
      control(key, vsock::Op::kResponse);
      return;
    }
    Conn* c = find(key);
    if (c == nullptr) {
      return;
    }
    c->peer_buf_alloc = h.buf_alloc;
    c->peer_fwd_cnt = h.fwd_cnt;
    on_stream_packet(key, *c, p);
  }

  void on_stream_packet(Key key, Conn& c, const GuestPacket& p) {
    switch (static_cast<vsock::Op>(p.header.op)) {
      case vsock::Op::kResponse:
        c.established = true;
        return;
      case vsock::Op::kRst:
        c.reset = true;
        return;
      case vsock::Op::kShutdown:
        c.host_shutdown |= p.header.flags;
        if (auto_rst_on_full_shutdown && c.host_shutdown == 3) {
          control(key, vsock::Op::kRst);
        }
        return;
      case vsock::Op::kCreditRequest:
        ++credit_requests;
        control(key, vsock::Op::kCreditUpdate);
        return;
      case vsock::Op::kRw:
        on_data(c, p.payload, p.header.len);
        return;
      default:
        return;
    }
  }

  // `len` is the header's length; `payload` is empty when the driver discards payloads.
  void on_data(Conn& c, const std::vector<std::byte>& payload, uint32_t len) {
    if (!payload.empty() && payload.size() != len) {
      ++errors;
    }
    c.rx_cnt += len;
    if (c.rx_cnt - c.fwd_cnt > buf_alloc_) {
      ++errors;  // the host ignored our credit
    }
    c.max_unread = std::max(c.max_unread, c.rx_cnt - c.fwd_cnt);
    c.received += len;
    for (std::byte b : payload) {
      c.fnv = (c.fnv ^ static_cast<uint8_t>(b)) * 1099511628211ull;
    }
    if (keep_data) {
      c.data.insert(c.data.end(), payload.begin(), payload.end());
    }
  }

  void flush_tx() {
    while (!tx_.empty()) {
      if (!driver_.send(tx_.front().header, tx_.front().payload)) {
        return;
      }
      tx_.pop_front();
    }
    for (auto& [key, c] : conns_) {
      while (c.established && !c.reset &&
             (c.out_pos < c.out.size() || c.synthetic_out > 0)) {
        const bool synthetic = c.out_pos == c.out.size();
        const uint32_t in_flight = c.tx_cnt - c.peer_fwd_cnt;
        const uint32_t credit = in_flight > c.peer_buf_alloc ? 0 : c.peer_buf_alloc - in_flight;
        const uint64_t left = synthetic ? c.synthetic_out : c.out.size() - c.out_pos;
        const std::size_t n = std::min<uint64_t>(
            {left, credit, driver_.config().max_tx_payload});
        if (n == 0) {
          break;
        }
        if (synthetic && synthetic_pattern_.size() < n) {
          synthetic_pattern_.assign(driver_.config().max_tx_payload, std::byte{0xa5});
        }
        vsock::VsockHeader h = header(key, vsock::Op::kRw);
        h.len = static_cast<uint32_t>(n);
        const std::span<const std::byte> payload =
            synthetic ? std::span<const std::byte>(synthetic_pattern_).first(n)
                      : std::span<const std::byte>(c.out).subspan(c.out_pos, n);
        if (!driver_.send(h, payload)) {
          return;
        }
        if (synthetic) {
          c.synthetic_out -= n;
        } else {
          c.out_pos += n;
        }
        c.tx_cnt += static_cast<uint32_t>(n);
      }
    }
  }

  VsockGuestDriver& driver_;
  uint32_t buf_alloc_;
  std::set<uint32_t> listening_;
  std::map<Key, Conn> conns_;
  std::vector<Key> accepted_;
  std::deque<GuestPacket> tx_;
  std::vector<GuestPacket> log_;
  std::vector<std::byte> synthetic_pattern_;
};

}  // namespace cvm::devices::virtio::testing
