// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/vsock/vsock_packet.h"

#include <algorithm>
#include <array>

#include "base/byte_reader.h"

namespace cvm::devices::virtio::vsock {
namespace {

template <typename T, std::size_t Offset>
void put(std::span<std::byte, kHeaderSize> out, T value) {
  store_le<T>(out.template subspan<Offset, sizeof(T)>(), value);
}

template <typename T, std::size_t Offset>
T get(std::span<const std::byte, kHeaderSize> in) {
  return load_le<T>(in.template subspan<Offset, sizeof(T)>());
}

bool known_op(uint16_t op) {
  return op >= static_cast<uint16_t>(Op::kRequest) &&
         op <= static_cast<uint16_t>(Op::kCreditRequest);
}

}  // namespace

void encode_header(const VsockHeader& h, std::span<std::byte, kHeaderSize> out) {
  put<uint64_t, 0>(out, h.src_cid);
  put<uint64_t, 8>(out, h.dst_cid);
  put<uint32_t, 16>(out, h.src_port);
  put<uint32_t, 20>(out, h.dst_port);
  put<uint32_t, 24>(out, h.len);
  put<uint16_t, 28>(out, h.type);
  put<uint16_t, 30>(out, h.op);
  put<uint32_t, 32>(out, h.flags);
  put<uint32_t, 36>(out, h.buf_alloc);
  put<uint32_t, 40>(out, h.fwd_cnt);
}

VsockHeader decode_header(std::span<const std::byte, kHeaderSize> in) {
  VsockHeader h;
  h.src_cid = get<uint64_t, 0>(in);
  h.dst_cid = get<uint64_t, 8>(in);
  h.src_port = get<uint32_t, 16>(in);
  h.dst_port = get<uint32_t, 20>(in);
  h.len = get<uint32_t, 24>(in);
  h.type = get<uint16_t, 28>(in);
  h.op = get<uint16_t, 30>(in);
  h.flags = get<uint32_t, 32>(in);
  h.buf_alloc = get<uint32_t, 36>(in);
  h.fwd_cnt = get<uint32_t, 40>(in);
  return h;
}

TxPacket classify_tx_packet(std::span<const std::byte> header_bytes, uint32_t readable_bytes,
                            uint64_t guest_cid) {
  TxPacket packet;
  if (header_bytes.size() < kHeaderSize || readable_bytes < kHeaderSize) {
    packet.reason = "chain shorter than the 44-byte header";
    return packet;
  }
  packet.header = decode_header(header_bytes.first<kHeaderSize>());
  const VsockHeader& h = packet.header;
  // An RST is never answered with an RST: two buggy peers must not ping-pong forever.
  const Verdict bad = h.op == static_cast<uint16_t>(Op::kRst) ? Verdict::kDrop : Verdict::kReset;
  auto reject = [&](std::string_view why) {
    packet.verdict = bad;
    packet.reason = why;
    return packet;
  };
  if (h.src_cid != guest_cid) {
    return reject("src_cid is not the guest cid");
  }
  if (h.dst_cid != kHostCid) {
    return reject("dst_cid is not the host cid 2");
  }
  if (h.type != kTypeStream) {
    return reject("socket type is not STREAM");
  }
  if (h.len > kMaxPayloadBytes) {
    return reject("payload length exceeds 64 KiB");
  }
  if (h.len > readable_bytes - kHeaderSize) {
    return reject("payload length exceeds the descriptor chain");
  }
  if (!known_op(h.op)) {
    return reject("unknown op");
  }
  packet.verdict = Verdict::kDeliver;
  return packet;
}

Result<TxPacket> parse_tx_chain(const GuestMemoryView& memory, const DescriptorChain& chain,
                                uint64_t guest_cid) {
  std::array<std::byte, kHeaderSize> raw{};
  const std::size_t have = std::min<std::size_t>(chain.readable_bytes, kHeaderSize);
  CVM_TRY(read_from_buffers(memory, chain.readable, 0, std::span(raw).first(have)));
  return classify_tx_packet(std::span<const std::byte>(raw).first(have), chain.readable_bytes,
                            guest_cid);
}

VsockHeader reset_reply(const VsockHeader& bad, uint64_t guest_cid) {
  VsockHeader rst;
  rst.src_cid = kHostCid;
  rst.dst_cid = guest_cid;
  rst.src_port = bad.dst_port;
  rst.dst_port = bad.src_port;
  rst.type = kTypeStream;
  rst.op = static_cast<uint16_t>(Op::kRst);
  return rst;
}

std::string_view op_name(uint16_t op) {
  static constexpr std::array<std::string_view, 8> kNames{
      "INVALID", "REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW", "CREDIT_UPDATE",
      "CREDIT_REQUEST"};
  return op < kNames.size() ? kNames[op] : std::string_view("unknown op");
}

}  // namespace cvm::devices::virtio::vsock
