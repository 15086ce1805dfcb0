// SPDX-License-Identifier: Apache-2.0
#include "devices/ioapic/ioapic.h"

#include <algorithm>

#include "base/byte_reader.h"
#include "base/rate_limited_log.h"

namespace cvm::devices::ioapic {
namespace {

// MSI address/data layout (Intel SDM vol. 3 §11.11.1 Figure 11-24, §11.11.2 Figure 11-25).
constexpr uint64_t kMsiAddressBase = 0xfee00000;
constexpr unsigned kMsiAddressDestShift = 12;
constexpr uint64_t kMsiAddressDestModeLogical = 1ULL << 2;
constexpr unsigned kMsiAddressExtendedDestShift = 40;  // address_hi bits 14:8
constexpr unsigned kMsiDataDeliveryModeShift = 8;
constexpr uint32_t kMsiDataLevelAssert = 1U << 14;
constexpr uint32_t kMsiDataLevelTriggered = 1U << 15;

constexpr uint64_t kRteDeliveryModeMask = 0x7ULL << kRteDeliveryModeShift;
constexpr uint64_t kRteExtendedDestMask = 0x7fULL << kRteExtendedDestShift;
// Low-dword bits the guest may write: vector, delivery mode, destination mode, polarity,
// trigger mode, mask. Delivery status and remote IRR are read-only; 31:17 are reserved.
constexpr uint32_t kRteWritableLow = 0xfff | 0x2000 | 0x8000 | 0x10000;
constexpr uint32_t kIdMask = 0x0f000000;  // ID register bits 27:24
constexpr unsigned kVersionMaxEntryShift = 16;

}  // namespace

MsiMessage redirection_entry_to_msi(uint64_t entry) noexcept {
  const uint64_t dest_low = (entry >> kRteDestShift) & 0xff;
  const uint64_t dest_high = (entry & kRteExtendedDestMask) >> kRteExtendedDestShift;
  MsiMessage msi;
  msi.address = kMsiAddressBase | (dest_low << kMsiAddressDestShift) |
                (dest_high << kMsiAddressExtendedDestShift);
  if ((entry & kRteDestModeLogical) != 0) {
    msi.address |= kMsiAddressDestModeLogical;
  }
  const auto delivery_mode =
      static_cast<uint32_t>((entry & kRteDeliveryModeMask) >> kRteDeliveryModeShift);
  msi.data = static_cast<uint32_t>(entry & kRteVectorMask) |
             (delivery_mode << kMsiDataDeliveryModeShift);
  if ((entry & kRteLevelTriggered) != 0) {
    msi.data |= kMsiDataLevelTriggered | kMsiDataLevelAssert;
  }
  return msi;
}

Ioapic::Ioapic(MsiSink& sink, uint8_t id) noexcept : sink_(sink), id_(id & 0x0f) {
  redirection_.fill(kRteResetValue);
}

void Ioapic::read(uint64_t offset, std::span<std::byte> data) {
  std::fill(data.begin(), data.end(), std::byte{0});
  std::lock_guard lock(mutex_);
  uint32_t value = 0;
  const uint64_t dword = offset & ~uint64_t{3};
  if (dword == kIoregselOffset) {
    value = ioregsel_;
  } else if (dword == kIowinOffset) {
    value = read_register_locked(ioregsel_);
  }
  // Byte-lane extraction: the access may start inside the dword and is at most 8 bytes;
  // lanes past the dword read 0.
  std::array<std::byte, 4> lanes{};
  store_le<uint32_t>(lanes, value);
  for (std::size_t i = 0; i < data.size() && (offset & 3) + i < lanes.size(); ++i) {
    data[i] = lanes[(offset & 3) + i];
  }
}

void Ioapic::write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  if (offset == kIoregselOffset && !data.empty()) {
    ioregsel_ = static_cast<uint8_t>(data[0]);
    return;
  }
  if (offset == kEoiOffset && !data.empty()) {
    on_eoi_locked(static_cast<uint8_t>(data[0]));
    return;
  }
  if (offset == kIowinOffset && data.size() == 4) {
    write_register_locked(ioregsel_, load_le<uint32_t>(data.first<4>()));
    return;
  }
  CVM_LOG_RATE_LIMITED(5, "ioapic: ignoring {}-byte write at offset {:#x}", data.size(), offset);
}

void Ioapic::set_irq(unsigned pin, bool asserted) {
  if (pin >= kIoapicPinCount) {
    CVM_LOG_RATE_LIMITED(5, "ioapic: set_irq on pin {} out of range", pin);
    return;
  }
  std::lock_guard lock(mutex_);
  const uint32_t bit = 1U << pin;
  const bool was_asserted = (line_level_ & bit) != 0;
  line_level_ = asserted ? (line_level_ | bit) : (line_level_ & ~bit);
  if ((redirection_[pin] & kRteLevelTriggered) != 0) {
    irr_ = asserted ? (irr_ | bit) : (irr_ & ~bit);
  } else if (asserted && !was_asserted) {
    irr_ |= bit;
  }
  service_locked(pin);
}

void Ioapic::on_eoi(uint8_t vector) {
  std::lock_guard lock(mutex_);
  on_eoi_locked(vector);
}

void Ioapic::on_eoi_locked(uint8_t vector) {
  for (unsigned pin = 0; pin < kIoapicPinCount; ++pin) {
    uint64_t& entry = redirection_[pin];
    if ((entry & kRteVectorMask) != vector || (entry & kRteLevelTriggered) == 0 ||
        (entry & kRteRemoteIrr) == 0) {
      continue;
    }
    entry &= ~kRteRemoteIrr;
    service_locked(pin);
  }
}

void Ioapic::set_route_observer(RouteObserver observer) {
  std::lock_guard lock(mutex_);
  route_observer_ = std::move(observer);
  for (unsigned pin = 0; pin < kIoapicPinCount; ++pin) {
    report_route_locked(pin);
  }
}

uint32_t Ioapic::read_register(uint8_t index) {
  std::lock_guard lock(mutex_);
  return read_register_locked(index);
}

void Ioapic::write_register(uint8_t index, uint32_t value) {
  std::lock_guard lock(mutex_);
  write_register_locked(index, value);
}

uint64_t Ioapic::redirection_entry(unsigned pin) const {
  if (pin >= kIoapicPinCount) {
    return 0;
  }
  std::lock_guard lock(mutex_);
  return redirection_[pin];
}

uint32_t Ioapic::read_register_locked(uint8_t index) const {
  switch (index) {
    case kRegId:
    case kRegArbitration:
      // The arbitration ID is loaded from the APIC ID (datasheet §3.2.3).
      return static_cast<uint32_t>(id_) << 24;
    case kRegVersion:
      return kIoapicVersion | ((kIoapicPinCount - 1) << kVersionMaxEntryShift);
    default:
      break;
  }
  if (index >= kRegRedirectionBase && index < kRegRedirectionBase + 2 * kIoapicPinCount) {
    const unsigned pin = (index - kRegRedirectionBase) / 2;
    const bool high_half = ((index - kRegRedirectionBase) & 1) != 0;
    return static_cast<uint32_t>(high_half ? redirection_[pin] >> 32 : redirection_[pin]);
  }
  return 0;  // undefined index
}

void Ioapic::write_register_locked(uint8_t index, uint32_t value) {
  if (index == kRegId) {
    id_ = static_cast<uint8_t>((value & kIdMask) >> 24);
    return;
  }
  if (index >= kRegRedirectionBase && index < kRegRedirectionBase + 2 * kIoapicPinCount) {
    const unsigned pin = (index - kRegRedirectionBase) / 2;
    write_redirection_locked(pin, ((index - kRegRedirectionBase) & 1) != 0, value);
    return;
  }
  // Version and arbitration are read-only; other indices do not exist.
  CVM_LOG_RATE_LIMITED(5, "ioapic: ignoring write of {:#x} to register {:#04x}", value, index);
}

void Ioapic::write_redirection_locked(unsigned pin, bool high_half, uint32_t value) {
  uint64_t& entry = redirection_[pin];
  if (high_half) {
    entry = (entry & 0xffffffffULL) | (static_cast<uint64_t>(value) << 32);
  } else {
    const uint64_t read_only = entry & (kRteDeliveryStatus | kRteRemoteIrr);
    entry = (entry & ~0xffffffffULL) | (value & kRteWritableLow) | read_only;
  }
  const uint32_t bit = 1U << pin;
  if ((entry & kRteLevelTriggered) == 0) {
    // Remote IRR is only defined for level-triggered entries.
    entry &= ~kRteRemoteIrr;
  } else {
    // A level pin's IRR follows the line, whatever edges it saw before.
    irr_ = (line_level_ & bit) != 0 ? (irr_ | bit) : (irr_ & ~bit);
  }
  report_route_locked(pin);
  service_locked(pin);
}

void Ioapic::service_locked(unsigned pin) {
  uint64_t& entry = redirection_[pin];
  const uint32_t bit = 1U << pin;
  if ((entry & kRteMasked) != 0 || (irr_ & bit) == 0) {
    return;
  }
  if ((entry & kRteLevelTriggered) != 0) {
    if ((entry & kRteRemoteIrr) != 0) {
      return;  // the previous interrupt of this pin has not been EOI'd yet
    }
    entry |= kRteRemoteIrr;
  } else {
    irr_ &= ~bit;
  }
  sink_.deliver(redirection_entry_to_msi(entry));
}

void Ioapic::report_route_locked(unsigned pin) const {
  if (!route_observer_) {
    return;
  }
  const uint64_t entry = redirection_[pin];
  route_observer_(IoapicRoute{.pin = pin,
                              .msi = redirection_entry_to_msi(entry),
                              .masked = (entry & kRteMasked) != 0,
                              .level_triggered = (entry & kRteLevelTriggered) != 0});
}

}  // namespace cvm::devices::ioapic
