// SPDX-License-Identifier: Apache-2.0
// Fuzzes virtio-vsock tx-chain parsing: the input describes how the packet bytes are split
// across up to 8 descriptors and supplies the bytes (header, payload) themselves.
// Invariants: no crash; a delivered packet obeys every rule (CIDs, STREAM, known op, length
// bounded by 64 KiB and the chain); an RST is never answered with RST; header encoding
// round-trips.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/guest_memory_view.h"
#include "devices/virtio/vsock/vsock_packet.h"

using cvm::BufferGuestMemory;
using namespace cvm::devices::virtio;
using namespace cvm::devices::virtio::vsock;

namespace {
constexpr uint64_t kGuestCid = 3;
constexpr std::size_t kMaxBytes = 0x10000 + kHeaderSize + 1;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const std::size_t pieces = 1 + (data[0] % 8);
  if (size < 1 + pieces) {
    return 0;
  }
  const uint8_t* bytes = data + 1 + pieces;
  const std::size_t total = std::min<std::size_t>(size - 1 - pieces, kMaxBytes);
  BufferGuestMemory memory(0, total + 1);  // sized to the input: a run costs no 64 KiB memset
  std::memcpy(memory.bytes().data(), bytes, total);
  // Descriptor i covers the next `split` bytes (the last takes the rest), placed in order.
  DescriptorChain chain;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < pieces && offset <= total; ++i) {
    const std::size_t len = i + 1 == pieces ? total - offset
                                             : std::min<std::size_t>(data[1 + i], total - offset);
    chain.readable.push_back({offset, static_cast<uint32_t>(len)});
    offset += len;
  }
  chain.readable_bytes = static_cast<uint32_t>(offset);
  auto parsed = parse_tx_chain(memory, chain, kGuestCid);
  if (!parsed) {
    __builtin_trap();  // every buffer lies inside memory
  }
  const TxPacket& p = *parsed;
  const VsockHeader& h = p.header;
  if (p.verdict == Verdict::kDeliver &&
      (h.src_cid != kGuestCid || h.dst_cid != kHostCid || h.type != kTypeStream ||
       h.len > kMaxPayloadBytes || h.len + kHeaderSize > chain.readable_bytes || h.op == 0 ||
       h.op > 7)) {
    __builtin_trap();
  }
  if (p.verdict == Verdict::kReset && h.op == static_cast<uint16_t>(Op::kRst)) {
    __builtin_trap();
  }
  if (chain.readable_bytes < kHeaderSize && p.verdict != Verdict::kDrop) {
    __builtin_trap();
  }
  if (total >= kHeaderSize) {
    std::array<std::byte, kHeaderSize> raw{};
    std::memcpy(raw.data(), bytes, kHeaderSize);
    std::array<std::byte, kHeaderSize> again{};
    encode_header(decode_header(raw), again);
    if (raw != again) {
      __builtin_trap();
    }
  }
  const VsockHeader rst = reset_reply(h, kGuestCid);
  if (rst.dst_port != h.src_port || rst.src_port != h.dst_port || rst.len != 0) {
    __builtin_trap();
  }
  return 0;
}
