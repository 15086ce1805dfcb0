// SPDX-License-Identifier: Apache-2.0
#include "devices/legacy/system_control_port.h"

#include <algorithm>

namespace cvm::devices::legacy {

void SystemControlPort::read(uint64_t offset, std::span<std::byte> data) {
  std::fill(data.begin(), data.end(), std::byte{0xff});
  if (offset != 0 || data.empty()) {
    return;
  }
  std::lock_guard lock(mutex_);
  data[0] = std::byte{value_};
}

void SystemControlPort::write(uint64_t offset, std::span<const std::byte> data) {
  if (offset != 0 || data.empty()) {
    return;
  }
  const auto value = static_cast<uint8_t>(data[0]);
  std::lock_guard lock(mutex_);
  value_ = static_cast<uint8_t>(value & ~kSystemControlFastReset);
  if ((value & kSystemControlFastReset) != 0) {
    sink_.request(PowerRequest::kReset);
  }
}

}  // namespace cvm::devices::legacy
