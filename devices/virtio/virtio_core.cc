// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/virtio_core.h"

#include "devices/virtio/guest_error_log.h"

namespace cvm::devices::virtio {
namespace {

// Transport feature bits offered for every device (virtio 1.2 §6).
uint64_t transport_features(bool access_platform) {
  uint64_t bits = feature_bit(feature::kVersion1) | feature_bit(feature::kEventIdx) |
                  feature_bit(feature::kIndirectDesc);
  if (access_platform) {
    bits |= feature_bit(feature::kAccessPlatform);
  }
  return bits;
}

}  // namespace

VirtioCore::VirtioCore(VirtioDevice& device, GuestMemoryView& memory,
                       VirtioInterrupt& interrupt, bool access_platform)
    : device_(&device),
      memory_(&memory),
      interrupt_(&interrupt),
      offered_features_(device.device_features() | transport_features(access_platform)) {
  for (uint16_t max : device.queue_max_sizes()) {
    queues_.push_back(QueueRegisters{.max_size = max, .layout = {}, .ready = false});
  }
}

uint32_t VirtioCore::offered_features_word(uint32_t index) const noexcept {
  return index < 2 ? static_cast<uint32_t>(offered_features_ >> (32 * index)) : 0;
}

void VirtioCore::set_driver_features_word(uint32_t index, uint32_t value) noexcept {
  if (index > 1 || (status_ & status::kFeaturesOk) != 0) {
    return;
  }
  const unsigned shift = 32 * index;
  driver_features_ = (driver_features_ & ~(uint64_t{0xffffffff} << shift)) |
                     (uint64_t{value} << shift);
}

uint32_t VirtioCore::status() const noexcept {
  return status_ |
         (needs_reset_.load(std::memory_order_acquire) ? status::kDeviceNeedsReset : 0);
}

bool VirtioCore::features_acceptable() const noexcept {
  // §6.1: a modern device requires VERSION_1; the driver accepts only offered bits.
  return (driver_features_ & ~offered_features_) == 0 &&
         (driver_features_ & feature_bit(feature::kVersion1)) != 0;
}

QueueRegisters* VirtioCore::queue(uint32_t index) noexcept {
  return index < queues_.size() ? &queues_[index] : nullptr;
}

bool VirtioCore::queue_setup_allowed(uint32_t index) const noexcept {
  return index < queues_.size() && !queues_[index].ready &&
         (status_ & status::kDriverOk) == 0;
}

void VirtioCore::reset() {
  device_->reset();
  status_ = 0;
  driver_features_ = 0;
  needs_reset_.store(false, std::memory_order_release);
  for (QueueRegisters& q : queues_) {
    q.layout = {};
    q.ready = false;
  }
}

Result<void> VirtioCore::activate() {
  const QueueFeatures features{
      .event_idx = (driver_features_ & feature_bit(feature::kEventIdx)) != 0,
      .indirect_desc = (driver_features_ & feature_bit(feature::kIndirectDesc)) != 0,
  };
  std::vector<std::optional<SplitVirtqueue>> queues;
  for (std::size_t i = 0; i < queues_.size(); ++i) {
    const QueueRegisters& q = queues_[i];
    if (!q.ready) {
      queues.emplace_back();
      continue;
    }
    auto created = SplitVirtqueue::create(q.layout, q.max_size, features, *memory_);
    if (!created) {
      return std::move(created).error().context(fmt::format("queue {}", i));
    }
    queues.emplace_back(std::move(*created));
  }
  return device_->activate(*memory_, *interrupt_, driver_features_, std::move(queues));
}

StatusChange VirtioCore::write_status(uint32_t value) {
  value &= 0xff & ~status::kDeviceNeedsReset;  // NEEDS_RESET is device-owned
  if (value == 0) {
    reset();
    return StatusChange::kReset;
  }
  if ((status_ & ~value) != 0) {
    // §2.1.2: the driver never clears a bit other than by writing 0; ignore the write.
    log_guest_error("virtio", make_error(ErrorCode::kGuest,
                                         "status write {:#x} clears bits of {:#x}", value,
                                         status_));
    return StatusChange::kNone;
  }
  const uint32_t added = value & ~status_;
  if ((added & status::kFeaturesOk) != 0 && !features_acceptable()) {
    value &= ~status::kFeaturesOk;  // the driver reads it back and gives up (§3.1.1)
  }
  StatusChange change = StatusChange::kNone;
  if ((added & status::kDriverOk) != 0) {
    if ((value & status::kFeaturesOk) == 0) {
      value &= ~status::kDriverOk;
    } else if (auto activated = activate(); !activated) {
      log_guest_error(fmt::format("virtio device {}", static_cast<uint32_t>(
                                                          device_->device_type())),
                      activated.error());
      interrupt_->set_needs_reset();
    } else {
      change = StatusChange::kActivated;
    }
  }
  status_ = value;
  return change;
}

}  // namespace cvm::devices::virtio
