// SPDX-License-Identifier: Apache-2.0
// Split virtqueue walking (virtio 1.2 §2.7). Ring layout, all little-endian:
//   virtq_desc  (16 bytes): addr u64 @0, len u32 @8, flags u16 @12, next u16 @14
//   virtq_avail: flags u16 @0, idx u16 @2, ring[size] u16 @4, used_event u16 @4+2*size
//   virtq_used:  flags u16 @0, idx u16 @2, ring[size] {id u32, len u32} @4,
//                avail_event u16 @4+8*size
#include "devices/virtio/virtqueue.h"

#include <array>
#include <atomic>
#include <bit>

#include "base/byte_reader.h"
#include "base/checked.h"
#include "devices/virtio/virtio_spec.h"

namespace cvm::devices::virtio {
namespace {

constexpr uint64_t kDescSize = 16;
constexpr uint64_t kAvailHeader = 4;  // flags + idx
constexpr uint64_t kUsedHeader = 4;
constexpr uint64_t kUsedElemSize = 8;

Error guest_error(std::string message) { return Error(ErrorCode::kGuest, std::move(message)); }

// Checks alignment and that [gpa, gpa + length) is guest memory.
Result<void> check_area(const GuestMemoryView& memory, const char* name, uint64_t gpa,
                        uint64_t length, uint64_t align) {
  if (gpa % align != 0) {
    return make_error(ErrorCode::kGuest, "{} {:#x} is not {}-byte aligned", name, gpa, align);
  }
  if (!memory.contains(gpa, length)) {
    return make_error(ErrorCode::kGuest, "{} {:#x}+{:#x} is outside guest memory", name, gpa,
                      length);
  }
  return ok();
}

}  // namespace

Result<SplitVirtqueue> SplitVirtqueue::create(const QueueLayout& layout, uint16_t max_size,
                                              QueueFeatures features, GuestMemoryView& memory) {
  if (layout.size == 0 || layout.size > max_size || !std::has_single_bit(layout.size)) {
    return make_error(ErrorCode::kGuest, "queue size {} is not a power of two in [1, {}]",
                      layout.size, max_size);
  }
  const uint64_t n = layout.size;
  // Sizes include the event words, which exist whether or not EVENT_IDX is negotiated.
  CVM_TRY(check_area(memory, "descriptor table", layout.desc_table, kDescSize * n, 16));
  CVM_TRY(check_area(memory, "available ring", layout.avail_ring, kAvailHeader + 2 * n + 2, 2));
  CVM_TRY(check_area(memory, "used ring", layout.used_ring,
                     kUsedHeader + kUsedElemSize * n + 2, 4));
  return SplitVirtqueue(layout, features, memory);
}

// Ring words the driver may be storing right now (avail idx, used_event, flags) are read once:
// GuestMemoryView guarantees an aligned 2-byte read is a single load, so the value is one the
// driver wrote, never half of an old and half of a new one (base/guest_memory_view.h).
Result<uint16_t> SplitVirtqueue::read_u16(uint64_t gpa) const {
  std::array<std::byte, 2> raw{};
  CVM_TRY(memory_->read(gpa, raw));
  return load_le<uint16_t>(raw);
}

Result<uint16_t> SplitVirtqueue::read_avail_idx() const {
  CVM_ASSIGN_OR_RETURN(uint16_t idx, read_u16(layout_.avail_ring + 2));
  // Ring entries and descriptors written before idx must be read after it (§2.7.13.3).
  std::atomic_thread_fence(std::memory_order_acquire);
  return idx;
}

Result<SplitVirtqueue::Descriptor> SplitVirtqueue::read_descriptor(uint64_t table,
                                                                   uint32_t index) const {
  // Bounds: callers pass index < table entries and the table was checked (or is checked by
  // memory_->read) to lie in guest memory; the copy happens before any field is trusted.
  std::array<std::byte, kDescSize> raw{};
  CVM_TRY(memory_->read(table + kDescSize * index, raw));
  std::span<const std::byte> bytes(raw);
  return Descriptor{
      .addr = load_le<uint64_t>(bytes.subspan<0, 8>()),
      .len = load_le<uint32_t>(bytes.subspan<8, 4>()),
      .flags = load_le<uint16_t>(bytes.subspan<12, 2>()),
      .next = load_le<uint16_t>(bytes.subspan<14, 2>()),
  };
}

Result<void> SplitVirtqueue::walk_chain(uint16_t head, DescriptorChain& chain) const {
  chain.head = head;
  chain.readable.clear();
  chain.writable.clear();
  chain.readable_bytes = 0;
  chain.writable_bytes = 0;
  uint64_t table = layout_.desc_table;
  uint32_t table_entries = layout_.size;
  uint32_t index = head;
  // Loop detection: a chain visits each table entry at most once, so more steps than
  // entries means a cycle (§2.7.5.3.1: no chain is longer than the queue size).
  uint32_t budget = table_entries;
  bool in_indirect = false;
  for (;;) {
    if (budget == 0) {
      return guest_error("descriptor chain loops or is longer than its table");
    }
    --budget;
    CVM_ASSIGN_OR_RETURN(Descriptor desc, read_descriptor(table, index));
    if ((desc.flags & desc_flags::kIndirect) != 0) {
      if (!features_.indirect_desc || in_indirect || (desc.flags & desc_flags::kNext) != 0) {
        return guest_error("indirect descriptor not allowed here (§2.7.5.3.1)");
      }
      if (desc.len == 0 || desc.len % kDescSize != 0 ||
          desc.len / kDescSize > kMaxIndirectDescriptors) {
        return make_error(ErrorCode::kGuest, "indirect table length {:#x} is invalid",
                          desc.len);
      }
      CVM_TRY(check_area(*memory_, "indirect table", desc.addr, desc.len, 1));
      table = desc.addr;
      table_entries = static_cast<uint32_t>(desc.len / kDescSize);
      budget = table_entries;
      index = 0;
      in_indirect = true;
      continue;
    }
    if (!memory_->contains(desc.addr, desc.len)) {
      return make_error(ErrorCode::kGuest, "buffer {:#x}+{:#x} is outside guest memory",
                        desc.addr, desc.len);
    }
    const bool writable = (desc.flags & desc_flags::kWrite) != 0;
    if (!writable && !chain.writable.empty()) {
      return guest_error("device-readable buffer after a device-writable one (§2.7.4.2)");
    }
    uint32_t& total = writable ? chain.writable_bytes : chain.readable_bytes;
    auto sum = checked_add<uint32_t>(total, desc.len);
    if (!sum) {
      return guest_error("descriptor chain length overflows 32 bits");
    }
    total = *sum;
    (writable ? chain.writable : chain.readable).push_back({desc.addr, desc.len});
    if ((desc.flags & desc_flags::kNext) == 0) {
      return ok();
    }
    if (desc.next >= table_entries) {
      return make_error(ErrorCode::kGuest, "next descriptor {} is outside a table of {}",
                        desc.next, table_entries);
    }
    index = desc.next;
  }
}

Result<std::optional<DescriptorChain>> SplitVirtqueue::pop() {
  DescriptorChain chain;
  CVM_ASSIGN_OR_RETURN(const bool popped, pop_into(chain));
  return popped ? std::optional<DescriptorChain>(std::move(chain)) : std::nullopt;
}

Result<bool> SplitVirtqueue::pop_into(DescriptorChain& chain) {
  CVM_ASSIGN_OR_RETURN(uint16_t avail_idx, read_avail_idx());
  const auto pending = static_cast<uint16_t>(avail_idx - next_avail_);
  if (pending == 0) {
    return false;
  }
  if (pending > layout_.size) {
    return make_error(ErrorCode::kGuest, "avail idx {} is {} entries ahead of a queue of {}",
                      avail_idx, pending, layout_.size);
  }
  const uint64_t slot = next_avail_ % layout_.size;
  CVM_ASSIGN_OR_RETURN(uint16_t head, read_u16(layout_.avail_ring + kAvailHeader + 2 * slot));
  if (head >= layout_.size) {
    return make_error(ErrorCode::kGuest, "chain head {} is outside a queue of {}", head,
                      layout_.size);
  }
  CVM_TRY(walk_chain(head, chain));
  ++next_avail_;
  return true;
}

Result<void> SplitVirtqueue::add_used(uint16_t head, uint32_t written) {
  const uint64_t slot = next_used_ % layout_.size;
  std::array<std::byte, kUsedElemSize> elem{};
  store_le<uint32_t>(std::span(elem).subspan<0, 4>(), head);
  store_le<uint32_t>(std::span(elem).subspan<4, 4>(), written);
  CVM_TRY(memory_->write(layout_.used_ring + kUsedHeader + kUsedElemSize * slot, elem));
  // The element must be visible before the new idx (§2.7.8.2).
  std::atomic_thread_fence(std::memory_order_release);
  ++next_used_;
  std::array<std::byte, 2> idx{};
  store_le<uint16_t>(idx, next_used_);
  return memory_->write(layout_.used_ring + 2, idx);
}

Result<bool> SplitVirtqueue::enable_notification_and_check_pending() {
  if (features_.event_idx) {
    std::array<std::byte, 2> event{};
    store_le<uint16_t>(event, next_avail_);
    CVM_TRY(memory_->write(layout_.used_ring + kUsedHeader + kUsedElemSize * layout_.size,
                           event));
    // avail_event must be visible before we re-read avail idx, or a notification the
    // driver suppresses in between is lost.
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  CVM_ASSIGN_OR_RETURN(uint16_t avail_idx, read_avail_idx());
  return avail_idx != next_avail_;
}

Result<bool> SplitVirtqueue::needs_notification() {
  // The used idx store must be ordered before reading the driver's suppression state.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint16_t old_used = signalled_used_;
  signalled_used_ = next_used_;
  if (features_.event_idx) {
    CVM_ASSIGN_OR_RETURN(uint16_t used_event,
                         read_u16(layout_.avail_ring + kAvailHeader + 2 * layout_.size));
    return vring_need_event(used_event, next_used_, old_used);
  }
  CVM_ASSIGN_OR_RETURN(uint16_t flags, read_u16(layout_.avail_ring));
  return old_used != next_used_ && (flags & kAvailFlagNoInterrupt) == 0;
}

namespace {

// Calls fn(gpa, buffer_offset, length) for each piece of [offset, offset+length) of the
// concatenated buffers; kGuest error if the buffers end first.
template <typename Fn>
Result<void> for_each_piece(std::span<const GuestBuffer> buffers, uint64_t offset,
                            uint64_t length, Fn&& fn) {
  uint64_t done = 0;
  for (const GuestBuffer& buffer : buffers) {
    if (done == length) {
      break;
    }
    if (offset >= buffer.len) {
      offset -= buffer.len;
      continue;
    }
    const uint64_t piece = std::min<uint64_t>(buffer.len - offset, length - done);
    CVM_TRY(fn(buffer.addr + offset, done, piece));
    done += piece;
    offset = 0;
  }
  if (done != length) {
    return make_error(ErrorCode::kGuest, "descriptor buffers are {:#x} bytes too short",
                      length - done);
  }
  return ok();
}

}  // namespace

Result<void> read_from_buffers(const GuestMemoryView& memory,
                               std::span<const GuestBuffer> buffers, uint64_t offset,
                               std::span<std::byte> out) {
  return for_each_piece(buffers, offset, out.size(),
                        [&](uint64_t gpa, uint64_t at, uint64_t length) {
                          return memory.read(gpa, out.subspan(at, length));
                        });
}

Result<void> write_to_buffers(GuestMemoryView& memory, std::span<const GuestBuffer> buffers,
                              uint64_t offset, std::span<const std::byte> data) {
  return for_each_piece(buffers, offset, data.size(),
                        [&](uint64_t gpa, uint64_t at, uint64_t length) {
                          return memory.write(gpa, data.subspan(at, length));
                        });
}

}  // namespace cvm::devices::virtio
