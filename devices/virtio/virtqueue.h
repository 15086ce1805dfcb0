// SPDX-License-Identifier: Apache-2.0
// SplitVirtqueue: the device side of a virtio 1.2 split virtqueue (§2.7): popping descriptor
// chains from the available ring, returning them through the used ring, and EVENT_IDX
// notification suppression. Everything the guest controls is copied out of guest memory
// first and then validated; any violation is returned as a kGuest Error, after which the
// caller marks the device DEVICE_NEEDS_RESET (§2.1.2). Nothing here aborts on guest input.
// Included by the virtio core, devices and their tests.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/guest_memory_view.h"
#include "base/result.h"

namespace cvm::devices::virtio {

/// Where the driver placed one queue and how big it is (from the transport registers).
struct QueueLayout {
  uint16_t size = 0;           // QueueNum: number of descriptors, a power of two
  uint64_t desc_table = 0;     // QueueDesc: struct virtq_desc[size], 16-byte aligned
  uint64_t avail_ring = 0;     // QueueDriver: struct virtq_avail, 2-byte aligned
  uint64_t used_ring = 0;      // QueueDevice: struct virtq_used, 4-byte aligned
};

/// Negotiated features that change how the ring is walked.
struct QueueFeatures {
  bool event_idx = false;      // VIRTIO_F_EVENT_IDX
  bool indirect_desc = false;  // VIRTIO_F_INDIRECT_DESC
};

/// One guest buffer of a descriptor chain. addr + len never overflows and lies inside guest
/// memory when the chain was produced by SplitVirtqueue::pop().
struct GuestBuffer {
  uint64_t addr = 0;
  uint32_t len = 0;
};

/// A validated descriptor chain: device-readable buffers first, then device-writable ones
/// (§2.7.4.2). Total sizes fit in uint32_t.
struct DescriptorChain {
  uint16_t head = 0;
  std::vector<GuestBuffer> readable;
  std::vector<GuestBuffer> writable;
  uint32_t readable_bytes = 0;
  uint32_t writable_bytes = 0;
};

/// Most entries an indirect descriptor table may hold (the spec sets no limit; Linux never
/// exceeds its queue size, and QEMU uses the same cap).
inline constexpr uint32_t kMaxIndirectDescriptors = 1024;

/// Largest queue size the split ring format allows (§2.7).
inline constexpr uint16_t kMaxQueueSize = 32768;

/// Device side of one split virtqueue.
///
/// Thread-safety: none; the owning device serialises calls (it holds its device mutex).
/// Lifetime: keeps a reference to `memory`, which must outlive the queue (the machine owns
/// guest memory and destroys devices first).
class SplitVirtqueue final {
 public:
  /// Validates the layout: size a power of two in [1, max_size], alignment (§2.7: 16, 2, 4)
  /// and that all three ring areas lie inside guest memory. kGuest error otherwise.
  [[nodiscard]] static Result<SplitVirtqueue> create(const QueueLayout& layout,
                                                     uint16_t max_size, QueueFeatures features,
                                                     GuestMemoryView& memory);

  /// Pops the next available chain, or std::nullopt if the ring is empty. Errors (kGuest):
  /// avail idx running ahead by more than the queue size, head index out of range, chain
  /// loops or longer than the queue, nested/malformed indirect tables, buffers outside
  /// guest memory or overflowing, a readable buffer after a writable one.
  [[nodiscard]] Result<std::optional<DescriptorChain>> pop();

  /// pop() into `chain`, reusing the capacity of its buffer vectors (a device's hot path
  /// then allocates nothing per chain). True when a chain was popped; on false or on an
  /// error `chain` holds nothing meaningful. Same errors as pop().
  [[nodiscard]] Result<bool> pop_into(DescriptorChain& chain);

  /// Returns chain `head` with `written` bytes written by the device to the used ring.
  [[nodiscard]] Result<void> add_used(uint16_t head, uint32_t written);

  /// With EVENT_IDX: publishes avail_event = next index the device will read, then reports
  /// whether the driver made more buffers available meanwhile (so the caller pops again
  /// rather than sleeping through a suppressed notification, §2.7.10). Without EVENT_IDX it
  /// only reports whether buffers are pending.
  [[nodiscard]] Result<bool> enable_notification_and_check_pending();

  /// Whether the driver wants a used-buffer notification for the entries added since the
  /// last call (§2.7.7.2: used_event with EVENT_IDX, else the NO_INTERRUPT flag).
  [[nodiscard]] Result<bool> needs_notification();

  uint16_t size() const noexcept { return layout_.size; }
  uint16_t next_avail() const noexcept { return next_avail_; }
  uint16_t next_used() const noexcept { return next_used_; }

 private:
  SplitVirtqueue(const QueueLayout& layout, QueueFeatures features, GuestMemoryView& memory)
      : layout_(layout), features_(features), memory_(&memory) {}

  struct Descriptor {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
  };

  Result<uint16_t> read_u16(uint64_t gpa) const;
  Result<Descriptor> read_descriptor(uint64_t table, uint32_t index) const;
  Result<void> walk_chain(uint16_t head, DescriptorChain& chain) const;
  Result<uint16_t> read_avail_idx() const;

  QueueLayout layout_;
  QueueFeatures features_;
  GuestMemoryView* memory_;
  uint16_t next_avail_ = 0;       // next avail ring slot the device reads
  uint16_t next_used_ = 0;        // next used ring slot the device writes (= used idx)
  uint16_t signalled_used_ = 0;   // used idx at the last needs_notification() call
};

/// Copies bytes [offset, offset + out.size()) of the concatenation of `buffers` into `out`.
/// kGuest error if the buffers are too short or memory access fails.
[[nodiscard]] Result<void> read_from_buffers(const GuestMemoryView& memory,
                                             std::span<const GuestBuffer> buffers,
                                             uint64_t offset, std::span<std::byte> out);

/// Copies `data` to bytes [offset, offset + data.size()) of the concatenation of `buffers`.
[[nodiscard]] Result<void> write_to_buffers(GuestMemoryView& memory,
                                            std::span<const GuestBuffer> buffers,
                                            uint64_t offset, std::span<const std::byte> data);

/// vring_need_event() of §2.7.10: true when `new_idx` has moved past `event_idx` since
/// `old_idx`, all modulo 2^16.
constexpr bool vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx) {
  return static_cast<uint16_t>(new_idx - event_idx - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

}  // namespace cvm::devices::virtio
