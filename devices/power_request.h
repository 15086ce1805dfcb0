// SPDX-License-Identifier: Apache-2.0
// How a device asks the machine to power off or reset the VM (ACPI sleep control register,
// ACPI reset register, i8042 reset pulse). Included by devices/ and implemented by vmm/.
#pragma once

#include <string_view>

namespace cvm::devices {

enum class PowerRequest {
  kPowerOff,  // guest entered S5 (soft off)
  kReset,     // guest asked for a platform reset; cvmm does not reboot, it exits with status 0
};

constexpr std::string_view to_string(PowerRequest request) noexcept {
  switch (request) {
    case PowerRequest::kPowerOff:
      return "power-off";
    case PowerRequest::kReset:
      return "reset";
  }
  return "unknown";
}

/// Receives power requests. Called on a vCPU thread while the requesting device holds its
/// mutex: implementations must not block and must not call back into the device; typically
/// they record the request, set a stop flag and kick the vCPUs. A guest may request
/// repeatedly (Linux writes the reset command ten times); implementations must tolerate it.
class PowerRequestSink {
 public:
  virtual ~PowerRequestSink() = default;
  virtual void request(PowerRequest request) = 0;
};

}  // namespace cvm::devices
