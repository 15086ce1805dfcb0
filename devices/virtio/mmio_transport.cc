// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/mmio_transport.h"

#include <fmt/format.h>

#include "base/byte_reader.h"
#include "devices/virtio/guest_error_log.h"

namespace cvm::devices::virtio {
namespace {

void log_bad_access(const char* what, uint64_t offset, std::size_t size) {
  log_guest_error("virtio-mmio", make_error(ErrorCode::kGuest, "{} at {:#x} of size {}", what,
                                            offset, size));
}

// Replaces the low or high half of a 64-bit register pair.
void set_half(uint64_t& reg, bool high, uint32_t value) {
  const unsigned shift = high ? 32 : 0;
  reg = (reg & ~(uint64_t{0xffffffff} << shift)) | (uint64_t{value} << shift);
}

}  // namespace

MmioTransport::MmioTransport(VirtioDevice& device, GuestMemoryView& memory, InterruptLine& irq,
                             Hooks hooks, Options options)
    : irq_(&irq),
      hooks_(std::move(hooks)),
      options_(options),
      core_(device, memory, *this, options.access_platform) {}

uint16_t MmioTransport::num_queues() const {
  // The queue count is fixed at construction, so no lock is needed.
  return static_cast<uint16_t>(core_.num_queues());
}

void MmioTransport::read(uint64_t offset, std::span<std::byte> data) {
  std::fill(data.begin(), data.end(), std::byte{0});
  if (offset >= mmio_reg::kConfig) {
    std::lock_guard lock(mutex_);
    core_.device().read_config(offset - mmio_reg::kConfig, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) {
    log_bad_access("unaligned or non-32-bit register read", offset, data.size());
    return;
  }
  uint32_t value = 0;
  {
    std::lock_guard lock(mutex_);
    value = read_register(offset);
  }
  store_le<uint32_t>(data.first<4>(), value);
}

uint32_t MmioTransport::read_register(uint64_t offset) {
  const QueueRegisters* q = core_.queue(queue_sel_);
  switch (offset) {
    case mmio_reg::kMagicValue: return kMmioMagic;
    case mmio_reg::kVersion: return kMmioVersion;
    case mmio_reg::kDeviceId: return static_cast<uint32_t>(core_.device().device_type());
    case mmio_reg::kVendorId: return 0;
    case mmio_reg::kDeviceFeatures: return core_.offered_features_word(device_features_sel_);
    case mmio_reg::kQueueNumMax: return q != nullptr ? q->max_size : 0;
    case mmio_reg::kQueueNum: return q != nullptr ? q->layout.size : 0;
    case mmio_reg::kQueueReady: return q != nullptr && q->ready ? 1 : 0;
    case mmio_reg::kInterruptStatus: return interrupt_status_.load(std::memory_order_acquire);
    case mmio_reg::kStatus: return core_.status();
    case mmio_reg::kConfigGeneration:
      return config_generation_.load(std::memory_order_acquire);
    // §4.2.2: a non-existent shared memory region reads as length -1.
    case mmio_reg::kShmLenLow:
    case mmio_reg::kShmLenHigh: return 0xffffffff;
    default: return 0;
  }
}

void MmioTransport::write(uint64_t offset, std::span<const std::byte> data) {
  if (offset >= mmio_reg::kConfig) {
    std::lock_guard lock(mutex_);
    core_.device().write_config(offset - mmio_reg::kConfig, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) {
    log_bad_access("unaligned or non-32-bit register write", offset, data.size());
    return;
  }
  const uint32_t value = load_le<uint32_t>(data.first<4>());
  if (offset == mmio_reg::kQueueNotify) {
    // No lock: notify_queue() may process the queue on this thread.
    if (hooks_.on_trapped_notify) {
      hooks_.on_trapped_notify(static_cast<uint16_t>(value));
    } else {
      notify_queue(static_cast<uint16_t>(value));
    }
    return;
  }
  StatusChange change = StatusChange::kNone;
  {
    std::lock_guard lock(mutex_);
    write_register(offset, value, change);
  }
  if (change == StatusChange::kActivated && hooks_.on_driver_ok) {
    hooks_.on_driver_ok();
  }
}

void MmioTransport::write_register(uint64_t offset, uint32_t value, StatusChange& change) {
  switch (offset) {
    case mmio_reg::kDeviceFeaturesSel: device_features_sel_ = value; return;
    case mmio_reg::kDriverFeatures:
      core_.set_driver_features_word(driver_features_sel_, value);
      return;
    case mmio_reg::kDriverFeaturesSel: driver_features_sel_ = value; return;
    case mmio_reg::kQueueSel: queue_sel_ = value; return;
    case mmio_reg::kInterruptAck: acknowledge(value); return;
    case mmio_reg::kStatus:
      change = core_.write_status(value);
      if (change == StatusChange::kReset) {
        acknowledge(~0u);
      }
      return;
    default: write_queue_register(offset, value); return;
  }
}

void MmioTransport::write_queue_register(uint64_t offset, uint32_t value) {
  QueueRegisters* q = core_.queue(queue_sel_);
  if (offset == mmio_reg::kQueueReady && q != nullptr &&
      (core_.status() & status::kDriverOk) == 0) {
    // Linux disables a queue (QueueReady = 0) when it tears down a half-set-up device and
    // reads it back; allowed until DRIVER_OK (after it, only with VIRTIO_F_RING_RESET).
    q->ready = (value & 1) != 0;
    return;
  }
  if (q == nullptr || !core_.queue_setup_allowed(queue_sel_)) {
    log_bad_access("queue register write to an unknown or live queue", offset, 4);
    return;
  }
  switch (offset) {
    // The size is validated at DRIVER_OK (SplitVirtqueue::create), not here, so the driver
    // may write the registers in any order.
    case mmio_reg::kQueueNum: q->layout.size = static_cast<uint16_t>(value); return;
    case mmio_reg::kQueueDescLow: set_half(q->layout.desc_table, false, value); return;
    case mmio_reg::kQueueDescHigh: set_half(q->layout.desc_table, true, value); return;
    case mmio_reg::kQueueDriverLow: set_half(q->layout.avail_ring, false, value); return;
    case mmio_reg::kQueueDriverHigh: set_half(q->layout.avail_ring, true, value); return;
    case mmio_reg::kQueueDeviceLow: set_half(q->layout.used_ring, false, value); return;
    case mmio_reg::kQueueDeviceHigh: set_half(q->layout.used_ring, true, value); return;
    default: log_bad_access("write to a read-only or reserved register", offset, 4); return;
  }
}

void MmioTransport::notify_queue(uint16_t queue) {
  if (queue >= num_queues()) {
    log_bad_access("notification for a queue that does not exist", queue, 4);
    return;
  }
  core_.device().process_queue(queue);
}

void MmioTransport::raise(uint32_t interrupt_bits) {
  interrupt_status_.fetch_or(interrupt_bits, std::memory_order_acq_rel);
  if (options_.level_triggered) {
    irq_->set_level(true);
  } else {
    irq_->trigger();
  }
}

void MmioTransport::acknowledge(uint32_t interrupt_bits) {
  const uint32_t before = interrupt_status_.fetch_and(~interrupt_bits, std::memory_order_acq_rel);
  // Lower a level-triggered line once the last pending bit is acknowledged. A concurrent
  // raise() between the two steps re-asserts the line right after, so nothing is lost.
  if (options_.level_triggered && before != 0 && (before & ~interrupt_bits) == 0) {
    irq_->set_level(false);
    if (interrupt_pending()) {
      irq_->set_level(true);
    }
  }
}

void MmioTransport::signal_used_queue(uint16_t /*queue*/) { raise(kInterruptUsedBuffer); }

void MmioTransport::signal_config_change() {
  config_generation_.fetch_add(1, std::memory_order_acq_rel);
  raise(kInterruptConfigChange);
}

void MmioTransport::set_needs_reset() {
  core_.set_needs_reset();
  raise(kInterruptConfigChange);
}

}  // namespace cvm::devices::virtio
