// SPDX-License-Identifier: Apache-2.0
#include "devices/acpi/power_device.h"

#include <algorithm>

#include "base/rate_limited_log.h"

namespace cvm::devices::acpi {
namespace {

constexpr uint64_t kSleepControlOffset = kAcpiSleepControlPort - kAcpiPowerPortBase;
constexpr uint64_t kSleepStatusOffset = kAcpiSleepStatusPort - kAcpiPowerPortBase;
constexpr uint64_t kResetOffset = kAcpiResetPort - kAcpiPowerPortBase;

}  // namespace

void PowerDevice::read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  std::fill(data.begin(), data.end(), std::byte{0});
  if (offset == kSleepStatusOffset && !data.empty()) {
    data[0] = std::byte{sleep_status_};
  }
}

void PowerDevice::write(uint64_t offset, std::span<const std::byte> data) {
  if (data.size() != 1) {
    // The FADT declares byte access; wider accesses are a guest bug.
    CVM_LOG_RATE_LIMITED(5, "acpi power: ignoring {}-byte write at offset {:#x}", data.size(),
                         offset);
    return;
  }
  const auto value = static_cast<uint8_t>(data[0]);
  std::lock_guard lock(mutex_);
  switch (offset) {
    case kSleepControlOffset:
      write_sleep_control(value);
      return;
    case kSleepStatusOffset:
      // WAK_STS is write-1-to-clear; the other bits are reserved.
      sleep_status_ = static_cast<uint8_t>(sleep_status_ & ~(value & kSleepStatusWake));
      return;
    case kResetOffset:
      if (value == kAcpiResetValue) {
        sink_.request(PowerRequest::kReset);
        return;
      }
      CVM_LOG_RATE_LIMITED(5, "acpi power: reset register written with {:#04x}, expected {:#04x}",
                           value, kAcpiResetValue);
      return;
    default:
      return;
  }
}

void PowerDevice::write_sleep_control(uint8_t value) {
  if ((value & kSleepControlEnable) == 0) {
    return;  // SLP_TYP alone does nothing until SLP_EN is written
  }
  const auto sleep_type =
      static_cast<uint8_t>((value & kSleepControlTypeMask) >> kSleepControlTypeShift);
  if (sleep_type == kAcpiS5SleepType) {
    sink_.request(PowerRequest::kPowerOff);
    return;
  }
  CVM_LOG_RATE_LIMITED(5, "acpi power: sleep type {} is not supported, waking at once",
                       sleep_type);
  sleep_status_ |= kSleepStatusWake;
}

}  // namespace cvm::devices::acpi
