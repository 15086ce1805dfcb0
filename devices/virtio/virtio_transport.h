// SPDX-License-Identifier: Apache-2.0
// VirtioTransport: what the machine needs from any virtio transport (virtio-mmio on x86_64,
// virtio-ccw later on s390x; architecture-anchors §B.3). Register or channel-command
// decoding stays inside each implementation. Included by transports and the machine.
#pragma once

#include <cstdint>

#include "devices/virtio/virtio_device.h"

namespace cvm::devices::virtio {

class VirtioTransport {
 public:
  virtual ~VirtioTransport() = default;

  /// The device behind this transport.
  virtual VirtioDevice& device() = 0;
  /// Number of queues of the device.
  virtual uint16_t num_queues() const = 0;
  /// A driver notification for `queue` arrived (from an ioeventfd the machine registered, or
  /// a trapped register write). Calls the device's process_queue(); out-of-range queues are
  /// ignored. Call it off the vCPU threads when possible.
  virtual void notify_queue(uint16_t queue) = 0;
};

}  // namespace cvm::devices::virtio
