// SPDX-License-Identifier: Apache-2.0
// VsockDevice: virtio-vsock (virtio 1.2 §5.10, device type 19) with the host side speaking
// hybrid vsock over Unix sockets like Firecracker and Cloud Hypervisor
// (runtime-integration.md §3.2-3.3). One event-loop thread per device owns every socket and
// does all queue processing; the transport only kicks it. Included by the machine
// (composition), tests and benchmarks.
#pragma once

#include <sys/epoll.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/vsock/vsock_muxer.h"

namespace cvm::devices::virtio::vsock {

/// struct virtio_vsock_config (§5.10.4): le64 guest_cid at offset 0.
inline constexpr std::size_t kConfigSize = 8;

/// Thread-safety: all methods are thread-safe. State is guarded by one mutex that the event
/// loop holds while it handles a batch of socket events and queue work, so reset() waits
/// for that batch and afterwards nothing touches guest memory.
class VsockDevice final : public VirtioDevice {
 public:
  /// Validates the CID (3 <= cid < 0xffffffff), binds and listens on `uds_path` at once (so
  /// a bad path fails before the VM starts; errors name it) and starts the event loop.
  static Result<std::unique_ptr<VsockDevice>> create(uint64_t guest_cid, std::string uds_path,
                                                     VsockOptions options = {});
  /// Stops and joins the event loop, closes every socket and removes the socket file.
  ~VsockDevice() override;
  VsockDevice(const VsockDevice&) = delete;
  VsockDevice& operator=(const VsockDevice&) = delete;

  DeviceType device_type() const override { return DeviceType::kVsock; }
  uint64_t device_features() const override;
  std::span<const uint16_t> queue_max_sizes() const override { return queue_max_sizes_; }
  void read_config(uint64_t offset, std::span<std::byte> out) const override;
  void write_config(uint64_t offset, std::span<const std::byte> data) override;
  Result<void> activate(GuestMemoryView& memory, VirtioInterrupt& interrupt,
                        uint64_t driver_features,
                        std::vector<std::optional<SplitVirtqueue>> queues) override;
  void reset() override;
  void process_queue(uint16_t index) override;
  /// Takes every queue's notifier into the event loop's epoll set: a guest kick then wakes
  /// the loop directly instead of the notifier thread, which would only write kick_.
  bool adopt_queue_notifier(uint16_t index, UniqueFd notifier) override;

  uint64_t guest_cid() const noexcept { return guest_cid_; }
  const std::string& uds_path() const noexcept { return uds_path_; }
  /// Open host connections (any state).
  std::size_t connection_count() const;
  /// Guest data held for host sockets that do not drain: now, and the most so far. Bounded
  /// by max_connections x conn_buffer_bytes (+ 63 handshake bytes per connection).
  uint64_t buffered_bytes() const;
  uint64_t peak_buffered_bytes() const;

 private:
  VsockDevice(uint64_t guest_cid, std::string uds_path, VsockOptions options);
  Result<void> start();
  void kick();
  void run();
  void handle_events(std::span<const epoll_event> events);
  void service_queues();
  Result<void> service_locked();
  Result<bool> process_tx();
  Result<void> deliver_tx(const DescriptorChain& chain);
  Result<void> gather_rx();
  Result<void> fill_rx();
  Result<std::size_t> rx_payload_iovecs();
  static uint32_t payload_room(const DescriptorChain& chain);
  Result<void> write_rx_packets(VsockHeader header);
  Result<void> signal_if_needed(SplitVirtqueue& queue, uint16_t index);
  void fail(const Error& error);

  // rx chains held at once: Linux posts 4 KiB rx buffers, so one socket read (a recvmsg
  // straight into their payload areas) fills up to 64 of them (its whole 256 KiB credit)
  // instead of one recv() per packet; the driver is signalled after each read's worth.
  static constexpr std::size_t kRxBatch = 64;

  uint64_t guest_cid_;
  std::string uds_path_;
  VsockOptions options_;
  std::array<uint16_t, 3> queue_max_sizes_;
  std::array<std::byte, kConfigSize> config_{};
  UniqueFd epoll_;
  UniqueFd kick_;  // eventfd: queue notifications and the stop request
  // Adopted queue notifiers (KVM ioeventfds), index = queue; registered in epoll_ with
  // VsockMuxer::kQueueNotifierId + index. Written before the guest runs, read by the loop.
  std::array<UniqueFd, 3> notifiers_;

  mutable std::mutex mutex_;  // guards everything below
  std::unique_ptr<VsockMuxer> muxer_;
  GuestMemoryView* memory_ = nullptr;
  VirtioInterrupt* interrupt_ = nullptr;
  std::optional<SplitVirtqueue> rx_;
  std::optional<SplitVirtqueue> tx_;
  std::optional<SplitVirtqueue> event_;  // kept for the driver; no events are sent
  bool broken_ = false;  // NEEDS_RESET was raised; nothing is processed until reset()
  // Popped rx chains not filled yet: a ring of rx_count_ entries from rx_first_. The chains'
  // buffer vectors are reused, so the data path allocates nothing per packet.
  std::array<DescriptorChain, kRxBatch> rx_held_;
  std::size_t rx_first_ = 0;
  std::size_t rx_count_ = 0;
  DescriptorChain tx_chain_;        // the tx chain being processed (reused likewise)
  // Host iovecs of the payload areas of the held rx chains, or of one tx packet's payload
  // (GuestMemoryView::host_iovecs): socket I/O goes straight to and from guest memory.
  std::vector<iovec> iov_;
  // A tx payload whose buffers need more than kMaxIovecs pieces is copied here instead.
  std::vector<std::byte> scratch_;
  VsockMuxer::Clock::time_point last_sweep_{};

  std::atomic<bool> stopping_{false};
  std::thread loop_;  // last: runs run()
};

}  // namespace cvm::devices::virtio::vsock
