// SPDX-License-Identifier: Apache-2.0
#include "devices/acpi/acpi_pm_io.h"

#include "base/rate_limited_log.h"

namespace cvm::devices::acpi {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

uint16_t replace_byte(uint16_t value, uint64_t byte_index, uint8_t byte) {
  const unsigned shift = byte_index == 0 ? 0 : 8;
  const unsigned kept = value & ~(0xffu << shift);
  return static_cast<uint16_t>(kept | (static_cast<unsigned>(byte) << shift));
}

}  // namespace

uint32_t pm_timer_value(uint64_t elapsed_ns) noexcept {
  // Split so nothing overflows: seconds * Hz fits for 5e12 s, the remainder product < 3.6e15.
  const uint64_t ticks = (elapsed_ns / kNsPerSecond) * kPmTimerHz +
                         (elapsed_ns % kNsPerSecond) * kPmTimerHz / kNsPerSecond;
  return static_cast<uint32_t>(ticks & kPmTimerMask);
}

AcpiPmIo::AcpiPmIo(PowerRequestSink& sink, Clock clock)
    : sink_(sink), clock_(clock), start_ns_(clock()) {}

uint8_t AcpiPmIo::register_byte_locked(uint64_t offset, uint32_t timer) const {
  switch (offset) {
    case kPm1StatusOffset:
    case kPm1StatusOffset + 1:
      return static_cast<uint8_t>(status_ >> (8 * (offset - kPm1StatusOffset)));
    case kPm1EnableOffset:
    case kPm1EnableOffset + 1:
      return static_cast<uint8_t>(enable_ >> (8 * (offset - kPm1EnableOffset)));
    case kPm1ControlOffset:
    case kPm1ControlOffset + 1:
      return static_cast<uint8_t>(control_ >> (8 * (offset - kPm1ControlOffset)));
    case kPmTimerOffset:
    case kPmTimerOffset + 1:
    case kPmTimerOffset + 2:
    case kPmTimerOffset + 3:
      return static_cast<uint8_t>(timer >> (8 * (offset - kPmTimerOffset)));
    default:
      return 0;
  }
}

void AcpiPmIo::read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  const uint32_t timer = pm_timer_value(clock_() - start_ns_);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = std::byte{register_byte_locked(offset + i, timer)};
  }
}

void AcpiPmIo::write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  if (data.size() > 2 || offset >= kPmTimerOffset || offset % 2 + data.size() > 2) {
    // PM1 registers are 16 bits wide; the timer is read-only; the rest is not modelled.
    CVM_LOG_RATE_LIMITED(5, "acpi pm: ignoring {}-byte write at offset {:#x}", data.size(),
                         offset);
    return;
  }
  const uint64_t reg = offset & ~uint64_t{1};
  uint16_t value = reg == kPm1StatusOffset ? 0 : reg == kPm1EnableOffset ? enable_ : control_;
  for (std::size_t i = 0; i < data.size(); ++i) {
    value = replace_byte(value, (offset + i) % 2, static_cast<uint8_t>(data[i]));
  }
  switch (reg) {
    case kPm1StatusOffset:
      status_ = static_cast<uint16_t>(status_ & ~value);  // write-1-to-clear
      return;
    case kPm1EnableOffset:
      enable_ = value;
      return;
    default:
      write_control_locked(value);
      return;
  }
}

void AcpiPmIo::write_control_locked(uint16_t value) {
  control_ = static_cast<uint16_t>(value & ~kPm1ControlSleepEnable);
  if ((value & kPm1ControlSleepEnable) == 0) {
    return;
  }
  const auto sleep_type =
      static_cast<uint16_t>((value & kPm1ControlSleepTypeMask) >> kPm1ControlSleepTypeShift);
  if (sleep_type == kPiix4SoftOffSleepType) {
    sink_.request(PowerRequest::kPowerOff);
    return;
  }
  CVM_LOG_RATE_LIMITED(5, "acpi pm: sleep type {} is not supported, ignoring", sleep_type);
}

}  // namespace cvm::devices::acpi
