// SPDX-License-Identifier: Apache-2.0
// VirtioCore: the transport-independent half of every virtio transport: feature negotiation,
// the device status state machine (virtio 1.2 §2.1, §3.1) and per-queue setup, leading to
// VirtioDevice::activate(). virtio-mmio maps its registers onto it; virtio-ccw will map its
// channel commands onto it. Included by transports and their tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "base/guest_memory_view.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtqueue.h"

namespace cvm::devices::virtio {

/// Driver-programmed state of one queue (QueueNum/QueueReady/QueueDesc/Driver/Device).
struct QueueRegisters {
  uint16_t max_size = 0;
  QueueLayout layout;
  bool ready = false;
};

/// What a status write did, so the transport can run hooks outside its lock.
enum class StatusChange { kNone, kReset, kActivated };

/// Thread-safety: not thread-safe except set_needs_reset() and status(), which may race with
/// everything else; the transport serialises the rest under its register lock.
class VirtioCore final {
 public:
  /// `device`, `memory` and `interrupt` must outlive the core. `access_platform` offers
  /// VIRTIO_F_ACCESS_PLATFORM (confidential guests need it; architecture-anchors §B.3).
  VirtioCore(VirtioDevice& device, GuestMemoryView& memory, VirtioInterrupt& interrupt,
             bool access_platform);

  VirtioDevice& device() noexcept { return *device_; }

  /// Device and transport features the driver may accept.
  uint64_t offered_features() const noexcept { return offered_features_; }
  /// 32-bit word `index` (0 = bits 0-31) of offered_features(); words past 1 read as zero.
  uint32_t offered_features_word(uint32_t index) const noexcept;
  /// Sets word `index` of the driver features. Ignored after FEATURES_OK (§3.1.1) and for
  /// index > 1.
  void set_driver_features_word(uint32_t index, uint32_t value) noexcept;
  uint64_t driver_features() const noexcept { return driver_features_; }

  /// Device status as the driver reads it, including DEVICE_NEEDS_RESET.
  uint32_t status() const noexcept;
  /// Applies a driver status write (§2.1.2, §3.1.1): 0 resets; bits may only be added;
  /// FEATURES_OK sticks only if the accepted features are a subset of the offered ones and
  /// include VERSION_1; DRIVER_OK needs FEATURES_OK and activates the device.
  StatusChange write_status(uint32_t value);
  /// Marks the device DEVICE_NEEDS_RESET. Lock-free, callable from any thread.
  void set_needs_reset() noexcept { needs_reset_.store(true, std::memory_order_release); }

  std::size_t num_queues() const noexcept { return queues_.size(); }
  /// Queue `index`, or nullptr when out of range.
  QueueRegisters* queue(uint32_t index) noexcept;
  /// Whether the driver may still change queue `index`'s setup (before ready / DRIVER_OK).
  bool queue_setup_allowed(uint32_t index) const noexcept;

 private:
  void reset();
  bool features_acceptable() const noexcept;
  Result<void> activate();

  VirtioDevice* device_;
  GuestMemoryView* memory_;
  VirtioInterrupt* interrupt_;
  uint64_t offered_features_;
  uint64_t driver_features_ = 0;
  uint32_t status_ = 0;
  std::atomic<bool> needs_reset_{false};
  std::vector<QueueRegisters> queues_;
};

}  // namespace cvm::devices::virtio
