// SPDX-License-Identifier: Apache-2.0
// MmioTransport: the virtio-mmio version 2 ("modern") register interface (virtio 1.2 §4.2.2)
// in front of one VirtioDevice. The machine maps it on the bus at a 4 KiB window, registers
// an ioeventfd on queue_notify_offset() (datamatch = queue index) whose handler calls
// notify_queue() on the event loop, and passes an irqfd-backed InterruptLine.
// Included by the machine and tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

#include "base/guest_memory_view.h"
#include "devices/bus.h"
#include "devices/interrupt.h"
#include "devices/virtio/virtio_core.h"
#include "devices/virtio/virtio_transport.h"

namespace cvm::devices::virtio {

/// Register offsets of the virtio-mmio v2 layout (virtio 1.2 §4.2.2, Table 4.1).
namespace mmio_reg {
inline constexpr uint64_t kMagicValue = 0x000;
inline constexpr uint64_t kVersion = 0x004;
inline constexpr uint64_t kDeviceId = 0x008;
inline constexpr uint64_t kVendorId = 0x00c;
inline constexpr uint64_t kDeviceFeatures = 0x010;
inline constexpr uint64_t kDeviceFeaturesSel = 0x014;
inline constexpr uint64_t kDriverFeatures = 0x020;
inline constexpr uint64_t kDriverFeaturesSel = 0x024;
inline constexpr uint64_t kQueueSel = 0x030;
inline constexpr uint64_t kQueueNumMax = 0x034;
inline constexpr uint64_t kQueueNum = 0x038;
inline constexpr uint64_t kQueueReady = 0x044;
inline constexpr uint64_t kQueueNotify = 0x050;
inline constexpr uint64_t kInterruptStatus = 0x060;
inline constexpr uint64_t kInterruptAck = 0x064;
inline constexpr uint64_t kStatus = 0x070;
inline constexpr uint64_t kQueueDescLow = 0x080;
inline constexpr uint64_t kQueueDescHigh = 0x084;
inline constexpr uint64_t kQueueDriverLow = 0x090;
inline constexpr uint64_t kQueueDriverHigh = 0x094;
inline constexpr uint64_t kQueueDeviceLow = 0x0a0;
inline constexpr uint64_t kQueueDeviceHigh = 0x0a4;
inline constexpr uint64_t kShmLenLow = 0x0b0;
inline constexpr uint64_t kShmLenHigh = 0x0b4;
inline constexpr uint64_t kShmBaseLow = 0x0b8;
inline constexpr uint64_t kShmBaseHigh = 0x0bc;
inline constexpr uint64_t kConfigGeneration = 0x0fc;
inline constexpr uint64_t kConfig = 0x100;
}  // namespace mmio_reg

inline constexpr uint32_t kMmioMagic = 0x74726976;  // "virt", little-endian
inline constexpr uint32_t kMmioVersion = 2;
/// Bus window each virtio-mmio device occupies (registers + config space fit in 4 KiB).
inline constexpr uint64_t kMmioWindowSize = 0x1000;

/// InterruptStatus bits (§4.2.2).
inline constexpr uint32_t kInterruptUsedBuffer = 1;
inline constexpr uint32_t kInterruptConfigChange = 2;

class MmioTransport final : public BusDevice, public VirtioTransport, private VirtioInterrupt {
 public:
  struct Hooks {
    /// Called (outside the register lock) after the driver set DRIVER_OK and the device
    /// activated, e.g. to start watching the queue ioeventfds. Optional.
    std::function<void()> on_driver_ok;
    /// Handles a QueueNotify write that reached the bus because no ioeventfd caught it.
    /// Optional; the default calls notify_queue() directly on the calling (vCPU) thread.
    std::function<void(uint16_t)> on_trapped_notify;
  };

  struct Options {
    bool access_platform = true;   // offer VIRTIO_F_ACCESS_PLATFORM
    /// false: one InterruptLine::trigger() per event (edge, as Firecracker wires virtio-mmio
    /// irqfds). true: the line level follows InterruptStatus != 0 (set_level), for a pin the
    /// DSDT describes as level-triggered; the machine's irqfd resampler then re-checks
    /// interrupt_pending().
    bool level_triggered = false;
  };

  /// `device`, `memory` and `irq` must outlive the transport.
  MmioTransport(VirtioDevice& device, GuestMemoryView& memory, InterruptLine& irq, Hooks hooks,
                Options options);

  /// Bus read at `offset` inside the window. Registers below 0x100 need aligned 32-bit
  /// accesses (others read as zero, §4.2.2.2); config space allows any width.
  /// Thread-safe (vCPU threads).
  void read(uint64_t offset, std::span<std::byte> data) override;
  /// Bus write at `offset`; malformed accesses are ignored and logged rate-limited.
  void write(uint64_t offset, std::span<const std::byte> data) override;

  /// Whether InterruptStatus has a bit set (for a level-triggered line's resampler).
  bool interrupt_pending() const noexcept {
    return interrupt_status_.load(std::memory_order_acquire) != 0;
  }

  /// Offset of QueueNotify inside the window, for the machine's ioeventfd.
  static constexpr uint64_t queue_notify_offset() { return mmio_reg::kQueueNotify; }

  VirtioDevice& device() override { return core_.device(); }
  uint16_t num_queues() const override;
  void notify_queue(uint16_t queue) override;

 private:
  // VirtioInterrupt, handed to the device at activation; lock-free.
  void signal_used_queue(uint16_t queue) override;
  void signal_config_change() override;
  void set_needs_reset() override;

  uint32_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint32_t value, StatusChange& change);
  void write_queue_register(uint64_t offset, uint32_t value);
  void raise(uint32_t interrupt_bits);
  void acknowledge(uint32_t interrupt_bits);

  InterruptLine* irq_;
  Hooks hooks_;
  Options options_;
  std::mutex mutex_;  // guards core_ and the selectors below
  VirtioCore core_;
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint32_t queue_sel_ = 0;
  std::atomic<uint32_t> interrupt_status_{0};
  std::atomic<uint32_t> config_generation_{0};
};

}  // namespace cvm::devices::virtio
