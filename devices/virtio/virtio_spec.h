// SPDX-License-Identifier: Apache-2.0
// Constants from the virtio 1.2 specification shared by the virtio core, the transports and
// the devices: device status bits, transport feature bits, device IDs and ring flags.
// Included by devices/virtio/ and its tests only.
#pragma once

#include <cstdint>

namespace cvm::devices::virtio {

/// Device status field bits (virtio 1.2 §2.1).
namespace status {
inline constexpr uint32_t kAcknowledge = 1;
inline constexpr uint32_t kDriver = 2;
inline constexpr uint32_t kDriverOk = 4;
inline constexpr uint32_t kFeaturesOk = 8;
inline constexpr uint32_t kDeviceNeedsReset = 64;
inline constexpr uint32_t kFailed = 128;
}  // namespace status

/// Reserved (transport-level) feature bit numbers (virtio 1.2 §6).
namespace feature {
inline constexpr unsigned kIndirectDesc = 28;   // VIRTIO_F_INDIRECT_DESC
inline constexpr unsigned kEventIdx = 29;       // VIRTIO_F_EVENT_IDX
inline constexpr unsigned kVersion1 = 32;       // VIRTIO_F_VERSION_1
inline constexpr unsigned kAccessPlatform = 33; // VIRTIO_F_ACCESS_PLATFORM
}  // namespace feature

/// Bit mask for feature bit `bit`.
constexpr uint64_t feature_bit(unsigned bit) { return uint64_t{1} << bit; }

/// Device IDs (virtio 1.2 §5).
enum class DeviceType : uint32_t {
  kBlock = 2,
  kVsock = 19,
};

/// Split virtqueue descriptor flags (virtio 1.2 §2.7.5).
namespace desc_flags {
inline constexpr uint16_t kNext = 1;
inline constexpr uint16_t kWrite = 2;
inline constexpr uint16_t kIndirect = 4;
}  // namespace desc_flags

/// virtq_avail.flags: the driver asks for no used-buffer notifications (§2.7.6).
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;

}  // namespace cvm::devices::virtio
