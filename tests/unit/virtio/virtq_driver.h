// SPDX-License-Identifier: Apache-2.0
// VirtqDriver: a test double playing the guest driver of one split virtqueue (virtio 1.2
// §2.7) in fake guest memory (Firecracker's test_utils idea). It writes descriptors and the
// available ring byte by byte, so tests can build any hostile layout, and reads back the
// used ring. Included by unit tests, fuzzers and benchmarks only.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "base/byte_reader.h"
#include "base/guest_memory_view.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"

namespace cvm::devices::virtio::testing {

/// Guest memory layout used by the driver: rings low, a bump allocator for buffers above.
inline constexpr uint64_t kDescTableGpa = 0x1000;
inline constexpr uint64_t kAvailRingGpa = 0x9000;
inline constexpr uint64_t kUsedRingGpa = 0xb000;
inline constexpr uint64_t kDataGpa = 0x20000;

/// One buffer of a chain to publish.
struct DriverBuffer {
  uint64_t addr;
  uint32_t len;
  bool writable;
};

class VirtqDriver {
 public:
  /// `memory` must cover [0, kDataGpa + data space); size <= 2048 so the rings fit.
  /// Several drivers can share one memory (a multi-queue device): give each its own
  /// `ring_base` (added to the ring addresses above, 64 KiB apart is enough) and `data_base`.
  VirtqDriver(GuestMemoryView& memory, uint16_t size, uint64_t ring_base = 0,
              uint64_t data_base = kDataGpa)
      : memory_(memory), size_(size), ring_base_(ring_base), next_data_(data_base) {}

  QueueLayout layout() const {
    return QueueLayout{.size = size_, .desc_table = desc_gpa(), .avail_ring = avail_gpa(),
                       .used_ring = used_gpa()};
  }
  uint16_t size() const { return size_; }

  /// Writes descriptor `index` of the table at `table` (default: the queue's table).
  void set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next,
                uint64_t table = kDescTableGpa) {
    if (table == kDescTableGpa) {
      table = desc_gpa();
    }
    std::array<std::byte, 16> raw{};
    std::span<std::byte> s(raw);
    store_le<uint64_t>(s.subspan<0, 8>(), addr);
    store_le<uint32_t>(s.subspan<8, 4>(), len);
    store_le<uint16_t>(s.subspan<12, 2>(), flags);
    store_le<uint16_t>(s.subspan<14, 2>(), next);
    put(table + 16ull * index, raw);
  }

  /// Appends `head` to the available ring and bumps avail idx.
  void publish(uint16_t head) {
    put16(avail_gpa() + 4 + 2ull * (avail_idx_ % size_), head);
    ++avail_idx_;
    put16(avail_gpa() + 2, avail_idx_);
  }
  void set_avail_idx(uint16_t idx) { avail_idx_ = idx; put16(avail_gpa() + 2, idx); }
  void set_avail_flags(uint16_t flags) { put16(avail_gpa(), flags); }
  void set_used_event(uint16_t value) { put16(avail_gpa() + 4 + 2ull * size_, value); }

  /// Writes `buffers` as a chain into consecutive free descriptors; publishes and returns
  /// the head.
  uint16_t add_chain(std::initializer_list<DriverBuffer> buffers) {
    return add_chain(std::vector<DriverBuffer>(buffers));
  }
  uint16_t add_chain(const std::vector<DriverBuffer>& buffers) {
    const uint16_t head = next_desc_;
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      const uint16_t index = static_cast<uint16_t>((head + i) % size_);
      const bool last = i + 1 == buffers.size();
      const auto flags = static_cast<uint16_t>((buffers[i].writable ? desc_flags::kWrite : 0) |
                                               (last ? 0 : desc_flags::kNext));
      set_desc(index, buffers[i].addr, buffers[i].len, flags,
               static_cast<uint16_t>((index + 1) % size_));
    }
    next_desc_ = static_cast<uint16_t>((head + buffers.size()) % size_);
    publish(head);
    return head;
  }

  /// Reserves `len` bytes of buffer space (16-byte aligned) and returns its address.
  uint64_t alloc(uint64_t len) {
    const uint64_t at = next_data_;
    next_data_ += (len + 15) & ~uint64_t{15};
    return at;
  }

  uint16_t used_idx() const { return get16(used_gpa() + 2); }
  /// The avail idx this driver published last.
  uint16_t avail_idx() const { return avail_idx_; }
  uint16_t avail_event() const { return get16(used_gpa() + 4 + 8ull * size_); }
  /// {id, len} of used ring slot `slot`.
  std::pair<uint32_t, uint32_t> used_elem(uint16_t slot) const {
    std::array<std::byte, 8> raw{};
    (void)memory_.read(used_gpa() + 4 + 8ull * (slot % size_), raw);
    std::span<const std::byte> s(raw);
    return {load_le<uint32_t>(s.subspan<0, 4>()), load_le<uint32_t>(s.subspan<4, 4>())};
  }

  void put(uint64_t gpa, std::span<const std::byte> bytes) { (void)memory_.write(gpa, bytes); }
  std::vector<std::byte> get(uint64_t gpa, std::size_t len) const {
    std::vector<std::byte> out(len);
    (void)memory_.read(gpa, out);
    return out;
  }
  void put16(uint64_t gpa, uint16_t value) {
    std::array<std::byte, 2> raw{};
    store_le<uint16_t>(raw, value);
    put(gpa, raw);
  }
  uint16_t get16(uint64_t gpa) const {
    std::array<std::byte, 2> raw{};
    (void)memory_.read(gpa, raw);
    return load_le<uint16_t>(raw);
  }

 private:
  uint64_t desc_gpa() const { return ring_base_ + kDescTableGpa; }
  uint64_t avail_gpa() const { return ring_base_ + kAvailRingGpa; }
  uint64_t used_gpa() const { return ring_base_ + kUsedRingGpa; }

  GuestMemoryView& memory_;
  uint16_t size_;
  uint64_t ring_base_;
  uint16_t avail_idx_ = 0;
  uint16_t next_desc_ = 0;
  uint64_t next_data_;
};

}  // namespace cvm::devices::virtio::testing
