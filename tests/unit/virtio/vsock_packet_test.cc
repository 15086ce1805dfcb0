// SPDX-License-Identifier: Apache-2.0
// virtio-vsock packet layer and hybrid-vsock handshake parser: exact wire bytes, every
// rejection rule, and hostile inputs.
#include "devices/virtio/vsock/vsock_packet.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "devices/virtio/vsock/hybrid_connect.h"
#include "devices/virtio/vsock/vsock_connection.h"
#include "tests/unit/virtio/virtq_driver.h"

namespace cvm::devices::virtio::vsock {
namespace {

constexpr uint64_t kGuestCid = 3;

VsockHeader valid_header(Op op = Op::kRw, uint32_t len = 0) {
  VsockHeader h;
  h.src_cid = kGuestCid;
  h.dst_cid = kHostCid;
  h.src_port = 5000;
  h.dst_port = 1024;
  h.len = len;
  h.type = kTypeStream;
  h.op = static_cast<uint16_t>(op);
  h.buf_alloc = 0x40000;
  h.fwd_cnt = 7;
  return h;
}

std::array<std::byte, kHeaderSize> encoded(const VsockHeader& h) {
  std::array<std::byte, kHeaderSize> raw{};
  encode_header(h, raw);
  return raw;
}

TxPacket classify(const VsockHeader& h, uint32_t readable) {
  const auto raw = encoded(h);
  return classify_tx_packet(raw, readable, kGuestCid);
}

TEST(VsockHeaderTest, EncodesEveryFieldLittleEndianAtSpecOffsets) {
  VsockHeader h;
  h.src_cid = 0x0102030405060708;
  h.dst_cid = 2;
  h.src_port = 0x11223344;
  h.dst_port = 0x55667788;
  h.len = 0x99aabbcc;
  h.type = 1;
  h.op = 5;
  h.flags = 3;
  h.buf_alloc = 0x00040000;
  h.fwd_cnt = 0xdeadbeef;
  const auto raw = encoded(h);
  const std::array<uint8_t, kHeaderSize> expected{
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // src_cid
      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // dst_cid
      0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55,  // src_port, dst_port
      0xcc, 0xbb, 0xaa, 0x99, 0x01, 0x00, 0x05, 0x00,  // len, type, op
      0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,  // flags, buf_alloc
      0xef, 0xbe, 0xad, 0xde};                         // fwd_cnt
  for (std::size_t i = 0; i < kHeaderSize; ++i) {
    EXPECT_EQ(static_cast<uint8_t>(raw[i]), expected[i]) << "byte " << i;
  }
  const VsockHeader back = decode_header(raw);
  EXPECT_EQ(back.src_cid, h.src_cid);
  EXPECT_EQ(back.dst_port, h.dst_port);
  EXPECT_EQ(back.len, h.len);
  EXPECT_EQ(back.fwd_cnt, h.fwd_cnt);
  EXPECT_EQ(back.flags, 3u);
}

TEST(VsockHeaderTest, WellFormedPacketIsDelivered) {
  const TxPacket p = classify(valid_header(Op::kRw, 100), kHeaderSize + 100);
  EXPECT_EQ(p.verdict, Verdict::kDeliver);
  EXPECT_EQ(p.header.len, 100u);
  EXPECT_EQ(p.header.src_port, 5000u);
  EXPECT_TRUE(p.reason.empty());
}

TEST(VsockHeaderTest, ShortChainIsDropped) {
  const auto raw = encoded(valid_header());
  EXPECT_EQ(classify_tx_packet(std::span(raw).first(43), 43, kGuestCid).verdict, Verdict::kDrop);
  EXPECT_EQ(classify_tx_packet({}, 0, kGuestCid).verdict, Verdict::kDrop);
}

TEST(VsockHeaderTest, SpoofedSourceCidGetsRst) {
  VsockHeader h = valid_header();
  h.src_cid = 4;
  EXPECT_EQ(classify(h, kHeaderSize).verdict, Verdict::kReset);
  h.src_cid = kHostCid;
  EXPECT_EQ(classify(h, kHeaderSize).verdict, Verdict::kReset);
}

TEST(VsockHeaderTest, DestinationOtherThanHostGetsRst) {
  VsockHeader h = valid_header();
  h.dst_cid = kGuestCid;  // guest-to-guest is not supported
  EXPECT_EQ(classify(h, kHeaderSize).verdict, Verdict::kReset);
  h.dst_cid = 0x100000002;  // upper bits must not be ignored
  EXPECT_EQ(classify(h, kHeaderSize).verdict, Verdict::kReset);
}

TEST(VsockHeaderTest, SeqpacketAndDgramGetRst) {
  VsockHeader h = valid_header(Op::kRequest);
  h.type = kTypeSeqpacket;
  const TxPacket p = classify(h, kHeaderSize);
  EXPECT_EQ(p.verdict, Verdict::kReset);
  EXPECT_EQ(p.reason, "socket type is not STREAM");
  h.type = 3;  // DGRAM in Linux's numbering
  EXPECT_EQ(classify(h, kHeaderSize).verdict, Verdict::kReset);
}

TEST(VsockHeaderTest, LengthBeyond64KiBOrTheChainGetsRst) {
  EXPECT_EQ(classify(valid_header(Op::kRw, kMaxPayloadBytes), kHeaderSize + kMaxPayloadBytes)
                .verdict,
            Verdict::kDeliver);
  EXPECT_EQ(classify(valid_header(Op::kRw, kMaxPayloadBytes + 1),
                     kHeaderSize + kMaxPayloadBytes + 1).verdict,
            Verdict::kReset);
  EXPECT_EQ(classify(valid_header(Op::kRw, 101), kHeaderSize + 100).verdict, Verdict::kReset);
  EXPECT_EQ(classify(valid_header(Op::kRw, 0xffffffff), 0xffffffff).verdict, Verdict::kReset);
}

TEST(VsockHeaderTest, UnknownOpsGetRstButABadRstIsDropped) {
  for (uint16_t op : {uint16_t{0}, uint16_t{8}, uint16_t{0xffff}}) {
    VsockHeader h = valid_header();
    h.op = op;
    EXPECT_EQ(classify(h, kHeaderSize).verdict, Verdict::kReset) << op;
  }
  VsockHeader rst = valid_header(Op::kRst);
  rst.type = kTypeSeqpacket;
  EXPECT_EQ(classify(rst, kHeaderSize).verdict, Verdict::kDrop);
}

TEST(VsockHeaderTest, ResetReplySwapsPortsAndAddressesTheGuest) {
  const VsockHeader rst = reset_reply(valid_header(), kGuestCid);
  EXPECT_EQ(rst.src_cid, kHostCid);
  EXPECT_EQ(rst.dst_cid, kGuestCid);
  EXPECT_EQ(rst.src_port, 1024u);
  EXPECT_EQ(rst.dst_port, 5000u);
  EXPECT_EQ(rst.op, static_cast<uint16_t>(Op::kRst));
  EXPECT_EQ(rst.type, kTypeStream);
}

TEST(VsockHeaderTest, TxChainWithHeaderSplitAcrossDescriptors) {
  BufferGuestMemory memory(0, 0x10000);
  const auto raw = encoded(valid_header(Op::kRw, 6));
  ASSERT_TRUE(memory.write(0x1000, std::span(raw).first(10)));
  ASSERT_TRUE(memory.write(0x2000, std::span(raw).subspan(10)));
  const std::array<std::byte, 6> payload{std::byte{'a'}, std::byte{'b'}, std::byte{'c'},
                                         std::byte{'d'}, std::byte{'e'}, std::byte{'f'}};
  ASSERT_TRUE(memory.write(0x3000, payload));
  DescriptorChain chain;
  chain.readable = {{0x1000, 10}, {0x2000, 34}, {0x3000, 6}};
  chain.readable_bytes = 50;
  auto parsed = parse_tx_chain(memory, chain, kGuestCid);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->verdict, Verdict::kDeliver);
  EXPECT_EQ(parsed->header.fwd_cnt, 7u);
  EXPECT_EQ(parsed->header.len, 6u);
  chain.readable_bytes = 49;  // one payload byte missing
  chain.readable.back().len = 5;
  EXPECT_EQ(parse_tx_chain(memory, chain, kGuestCid)->verdict, Verdict::kReset);
}

TEST(VsockCreditTest, AvailableCreditUsesWrappingCounters) {
  EXPECT_EQ(available_credit(0x40000, 0, 0), 0x40000u);
  EXPECT_EQ(available_credit(0x40000, 100, 0x40000), 100u);
  EXPECT_EQ(available_credit(0x40000, 0xfffffff0, 0x10), 0x40000u - 0x20u);  // wrapped
  EXPECT_EQ(available_credit(0x40000, 50, 10), 0u);  // peer claims more than we sent
  EXPECT_EQ(available_credit(0, 0, 0), 0u);
}

TEST(HybridConnectTest, ParsesKeywordInAnyCaseWithBlanks) {
  EXPECT_EQ(*parse_connect_line("CONNECT 1024"), 1024u);
  EXPECT_EQ(*parse_connect_line("connect 1024"), 1024u);
  EXPECT_EQ(*parse_connect_line("CoNnEcT 7"), 7u);
  EXPECT_EQ(*parse_connect_line("  CONNECT \t 52 \r"), 52u);
  EXPECT_EQ(*parse_connect_line("CONNECT 0"), 0u);
  EXPECT_EQ(*parse_connect_line("CONNECT 4294967295"), 4294967295u);
  EXPECT_EQ(*parse_connect_line("CONNECT 0001024"), 1024u);
}

TEST(HybridConnectTest, RejectsGarbage) {
  for (std::string_view bad :
       {"", "CONNECT", "CONNECT ", "CONNECT 4294967296", "CONNECT 99999999999999999999",
        "CONNECT -1", "CONNECT +1", "CONNECT 1x", "CONNECT 1 2", "CONNECTX 1", "CONNEC 1",
        "XCONNECT 1", "1024", "CONNECT 0x10", "OK 1024", "CONNECT\x00 1"}) {
    auto port = parse_connect_line(bad);
    EXPECT_FALSE(port.has_value()) << bad;
    if (!port) {
      EXPECT_EQ(port.error().code(), ErrorCode::kInvalidArgument);
    }
  }
  const std::string nul("CONNECT 1\0", 10);
  EXPECT_FALSE(parse_connect_line(nul).has_value());
  EXPECT_FALSE(parse_connect_line("CONNECT " + std::string(80, '1')).has_value());
  EXPECT_EQ(parse_connect_line("CONNECT 12345678901").error().message(),
            "hybrid vsock handshake: port exceeds 4294967295");
}

TEST(HybridConnectTest, OkLineFormat) {
  EXPECT_EQ(connect_ok_line(1073741824), "OK 1073741824\n");
}

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

TEST(HybridConnectTest, LineBufferKeepsBytesAfterTheNewline) {
  ConnectLineBuffer buffer;
  EXPECT_EQ(buffer.feed(bytes_of("conn")), ConnectLineBuffer::State::kNeedMore);
  EXPECT_EQ(buffer.feed(bytes_of("ect 1024\nhello")), ConnectLineBuffer::State::kComplete);
  EXPECT_EQ(buffer.line(), "connect 1024");
  const auto left = buffer.leftover();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(left.data()), left.size()), "hello");
}

TEST(HybridConnectTest, LineBufferRefusesAnOverlongLine) {
  ConnectLineBuffer buffer;
  const std::string junk(kMaxConnectLineBytes - 1, 'A');
  EXPECT_EQ(buffer.feed(bytes_of(junk)), ConnectLineBuffer::State::kNeedMore);
  EXPECT_EQ(buffer.free_space(), 1u);
  EXPECT_EQ(buffer.feed(bytes_of("BB")), ConnectLineBuffer::State::kTooLong);
}

}  // namespace
}  // namespace cvm::devices::virtio::vsock
