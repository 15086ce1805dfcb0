// SPDX-License-Identifier: Apache-2.0
// Pure virtio-vsock packet layer (virtio 1.2 §5.10.6): the 44-byte little-endian packet
// header, its encoding, and the classification of a driver-to-device (tx) packet into
// "deliver", "answer with RST" or "drop". Nothing here touches sockets or threads; the
// device and the fuzzer call it with bytes copied out of guest memory.
// Included by devices/virtio/vsock/, its tests and fuzzers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/guest_memory_view.h"
#include "base/result.h"
#include "devices/virtio/virtqueue.h"

namespace cvm::devices::virtio::vsock {

/// Well-known CIDs (§5.10.4): the host is always 2; 0, 1 and 0xffffffff are reserved.
inline constexpr uint64_t kHostCid = 2;
inline constexpr uint64_t kMinGuestCid = 3;
inline constexpr uint64_t kMaxGuestCidExclusive = 0xffffffff;

/// virtio-vsock feature bits (§5.10.3).
inline constexpr unsigned kFeatureStream = 0;     // VIRTIO_VSOCK_F_STREAM
inline constexpr unsigned kFeatureSeqpacket = 1;  // VIRTIO_VSOCK_F_SEQPACKET (not offered)

/// Queue indices (§5.10.2).
inline constexpr uint16_t kRxQueue = 0;
inline constexpr uint16_t kTxQueue = 1;
inline constexpr uint16_t kEventQueue = 2;

/// Packet operations (§5.10.6, VIRTIO_VSOCK_OP_*).
enum class Op : uint16_t {
  kInvalid = 0,
  kRequest = 1,
  kResponse = 2,
  kRst = 3,
  kShutdown = 4,
  kRw = 5,
  kCreditUpdate = 6,
  kCreditRequest = 7,
};

/// Socket types (§5.10.6, VIRTIO_VSOCK_TYPE_*). Only STREAM is supported.
inline constexpr uint16_t kTypeStream = 1;
inline constexpr uint16_t kTypeSeqpacket = 2;

/// SHUTDOWN flags (§5.10.6.4): the sender will receive / send no more data.
inline constexpr uint32_t kShutdownRcv = 1;
inline constexpr uint32_t kShutdownSend = 2;

/// Largest payload accepted in one tx packet or produced in one rx packet. Linux sends at
/// most 64 KiB per packet (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE); anything longer is hostile.
inline constexpr uint32_t kMaxPayloadBytes = 64 * 1024;

/// struct virtio_vsock_hdr (§5.10.6), packed, all fields little-endian on the wire. Held in
/// host order here; encode_header()/decode_header() do the (de)serialisation field by field.
struct __attribute__((packed)) VsockHeader {
  uint64_t src_cid = 0;    // offset 0,  le64
  uint64_t dst_cid = 0;    // offset 8,  le64
  uint32_t src_port = 0;   // offset 16, le32
  uint32_t dst_port = 0;   // offset 20, le32
  uint32_t len = 0;        // offset 24, le32: payload bytes after the header
  uint16_t type = 0;       // offset 28, le16: kTypeStream
  uint16_t op = 0;         // offset 30, le16: Op
  uint32_t flags = 0;      // offset 32, le32: SHUTDOWN flags
  uint32_t buf_alloc = 0;  // offset 36, le32: sender's receive buffer size
  uint32_t fwd_cnt = 0;    // offset 40, le32: bytes the sender consumed from that buffer
};
inline constexpr std::size_t kHeaderSize = 44;
static_assert(sizeof(VsockHeader) == kHeaderSize);
static_assert(offsetof(VsockHeader, len) == 24 && offsetof(VsockHeader, op) == 30 &&
              offsetof(VsockHeader, fwd_cnt) == 40);

/// Serialises `header` (little-endian).
void encode_header(const VsockHeader& header, std::span<std::byte, kHeaderSize> out);
/// Deserialises 44 header bytes.
VsockHeader decode_header(std::span<const std::byte, kHeaderSize> bytes);

/// What the device does with a tx packet.
enum class Verdict {
  kDeliver,  // well-formed: hand to the connection layer
  kReset,    // malformed but addressable: answer with RST (never for an RST itself)
  kDrop,     // nothing sensible to answer (too short for a header, or a bad RST)
};

/// Result of classifying one tx packet.
struct TxPacket {
  VsockHeader header;
  Verdict verdict = Verdict::kDrop;
  std::string_view reason;  // why it is not delivered (static text), empty when delivered
};

/// Classifies a tx packet whose header bytes are `header_bytes` (fewer than 44 when the
/// chain is shorter) in a chain of `readable_bytes` device-readable bytes. Rules: a full
/// header; src_cid == guest_cid; dst_cid == kHostCid; type STREAM; len <= kMaxPayloadBytes
/// and covered by the chain; a known op other than INVALID.
TxPacket classify_tx_packet(std::span<const std::byte> header_bytes, uint32_t readable_bytes,
                            uint64_t guest_cid);

/// Reads and classifies the tx packet in `chain` (header possibly split across descriptors).
/// Errors only when guest memory cannot be read (kGuest).
Result<TxPacket> parse_tx_chain(const GuestMemoryView& memory, const DescriptorChain& chain,
                                uint64_t guest_cid);

/// The RST answering `bad` (addresses swapped), from the host to `guest_cid`.
VsockHeader reset_reply(const VsockHeader& bad, uint64_t guest_cid);

/// Human-readable op name for logs ("RW", "op 99").
std::string_view op_name(uint16_t op);

}  // namespace cvm::devices::virtio::vsock
