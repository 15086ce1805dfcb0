// SPDX-License-Identifier: Apache-2.0
// VirtioDevice: the transport-independent device interface (architecture-anchors §B.3), and
// VirtioInterrupt, the transport services a device uses to talk back to the driver. A device
// is written once and sits behind virtio-mmio (x86) or, later, virtio-ccw (s390x).
// Included by devices, transports and the machine.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/guest_memory_view.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"

namespace cvm::devices::virtio {

/// Notifications a device sends to the driver, implemented by the transport.
///
/// Thread-safety: callable from any thread (device workers, the event loop) and lock-free
/// with respect to the transport's register lock, so a device may call it while holding its
/// own mutex.
class VirtioInterrupt {
 public:
  virtual ~VirtioInterrupt() = default;
  /// The device added buffers to the used ring of `queue` and the ring asked to be told.
  virtual void signal_used_queue(uint16_t queue) = 0;
  /// The device configuration space changed (bumps ConfigGeneration).
  virtual void signal_config_change() = 0;
  /// The device hit an unrecoverable guest error: sets DEVICE_NEEDS_RESET (§2.1.2) and
  /// sends a configuration change notification.
  virtual void set_needs_reset() = 0;
};

/// A virtio device model. The transport calls every method with its own lock held except
/// process_queue(), so implementations guard state shared with process_queue() by a mutex.
class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;

  virtual DeviceType device_type() const = 0;
  /// Device-specific feature bits (§6: bits 0-23 and 50+). The transport adds the
  /// transport bits (VERSION_1, EVENT_IDX, INDIRECT_DESC, ACCESS_PLATFORM).
  virtual uint64_t device_features() const = 0;
  /// Maximum size of each queue; the number of entries is the number of queues.
  virtual std::span<const uint16_t> queue_max_sizes() const = 0;

  /// Reads device configuration space bytes [offset, offset + out.size()). Bytes outside the
  /// configuration structure read as zero.
  virtual void read_config(uint64_t offset, std::span<std::byte> out) const = 0;
  /// Writes configuration space; read-only fields ignore writes.
  virtual void write_config(uint64_t offset, std::span<const std::byte> data) = 0;

  /// Starts the device after DRIVER_OK. `queues` has one entry per queue_max_sizes() entry;
  /// an entry is std::nullopt when the driver left that queue disabled. `memory` and
  /// `interrupt` outlive the activation (until reset() or destruction). An error means the
  /// driver's setup is unusable; the transport then sets DEVICE_NEEDS_RESET.
  [[nodiscard]] virtual Result<void> activate(GuestMemoryView& memory,
                                              VirtioInterrupt& interrupt,
                                              uint64_t driver_features,
                                              std::vector<std::optional<SplitVirtqueue>> queues) = 0;

  /// Returns the device to its initial state; afterwards it no longer touches guest memory.
  /// Blocks until in-flight queue processing has stopped.
  virtual void reset() = 0;

  /// Processes the available buffers of queue `index` (after a driver notification). Runs
  /// off the vCPU threads (event loop or device worker). Guest errors set NEEDS_RESET via the
  /// VirtioInterrupt and are logged rate-limited; never aborts. No-op when not activated.
  virtual void process_queue(uint16_t index) = 0;

  /// Optional: a device with its own event loop may wait on queue `index`'s notification
  /// eventfd (the KVM ioeventfd the guest's QueueNotify write signals) itself, instead of
  /// having process_queue() called by the transport's notifier thread: one thread hand-off
  /// fewer per guest kick (architecture-anchors §B.3). `notifier` is the device's own
  /// descriptor of that eventfd (a dup); the device drains it and then does what
  /// process_queue(index) would. Returns false to decline (the default), and the caller keeps
  /// delivering process_queue(). Called before the guest runs, from the machine's thread.
  virtual bool adopt_queue_notifier(uint16_t /*index*/, UniqueFd /*notifier*/) { return false; }
};

}  // namespace cvm::devices::virtio
