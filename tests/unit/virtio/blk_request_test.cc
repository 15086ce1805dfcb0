// SPDX-License-Identifier: Apache-2.0
// virtio-blk request decoding (virtio 1.2 §5.2.6).
#include "devices/virtio/blk/blk_request.h"

#include <gtest/gtest.h>

#include "base/byte_reader.h"

namespace cvm::devices::virtio::blk {
namespace {

std::array<std::byte, kHeaderSize> header(uint32_t type, uint64_t sector) {
  std::array<std::byte, kHeaderSize> raw{};
  store_le<uint32_t>(std::span(raw).subspan<0, 4>(), type);
  store_le<uint64_t>(std::span(raw).subspan<8, 8>(), sector);
  return raw;
}

std::vector<std::byte> ranges(std::initializer_list<std::array<uint64_t, 3>> items) {
  std::vector<std::byte> out(items.size() * kRangeSize);
  std::size_t at = 0;
  for (const auto& item : items) {
    std::span<std::byte> r = std::span(out).subspan(at, kRangeSize);
    store_le<uint64_t>(r.subspan<0, 8>(), item[0]);
    store_le<uint32_t>(r.subspan<8, 4>(), static_cast<uint32_t>(item[1]));
    store_le<uint32_t>(r.subspan<12, 4>(), static_cast<uint32_t>(item[2]));
    at += kRangeSize;
  }
  return out;
}

const DiskLimits kLimits{.capacity_sectors = 100,
                         .readonly = false,
                         .discard = true,
                         .write_zeroes = true,
                         .max_discard_sectors = 50,
                         .max_discard_seg = 2,
                         .max_write_zeroes_sectors = 50,
                         .max_write_zeroes_seg = 2};

Status status_of(uint32_t type, uint64_t sector, uint32_t readable, uint32_t writable,
                 const DiskLimits& limits = kLimits) {
  auto decoded = decode_request(header(type, sector), readable, writable, limits);
  EXPECT_TRUE(decoded.has_value()) << decoded.error().message();
  return decoded ? decoded->status : Status::kOk;
}

TEST(BlkRequestTest, ReadDecodesSectorAndLength) {
  auto decoded = decode_request(header(0, 7), 16, 1024 + 1, kLimits);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->status, Status::kOk);
  EXPECT_EQ(decoded->request.type, RequestType::kIn);
  EXPECT_EQ(decoded->request.sector, 7u);
  EXPECT_EQ(decoded->request.data_bytes, 1024u);
}

TEST(BlkRequestTest, WriteDecodesPayloadLength) {
  auto decoded = decode_request(header(1, 99), 16 + 512, 1, kLimits);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->status, Status::kOk);
  EXPECT_EQ(decoded->request.data_bytes, 512u);
}

TEST(BlkRequestTest, AccessPastCapacityIsIoError) {
  EXPECT_EQ(status_of(0, 99, 16, 1024 + 1), Status::kIoErr);
  EXPECT_EQ(status_of(1, 100, 16 + 512, 1), Status::kIoErr);
  EXPECT_EQ(status_of(0, ~uint64_t{0}, 16, 512 + 1), Status::kIoErr);  // sector wraps
  EXPECT_EQ(status_of(0, 99, 16, 512 + 1), Status::kOk);                // last sector
}

TEST(BlkRequestTest, PartialSectorIsIoError) {
  EXPECT_EQ(status_of(0, 0, 16, 100 + 1), Status::kIoErr);
  EXPECT_EQ(status_of(1, 0, 16 + 513, 1), Status::kIoErr);
}

TEST(BlkRequestTest, WriteToReadOnlyDiskIsIoError) {
  DiskLimits ro = kLimits;
  ro.readonly = true;
  EXPECT_EQ(status_of(1, 0, 16 + 512, 1, ro), Status::kIoErr);
  EXPECT_EQ(status_of(13, 0, 32, 1, ro), Status::kIoErr);
  EXPECT_EQ(status_of(0, 0, 16, 512 + 1, ro), Status::kOk);
}

TEST(BlkRequestTest, UnknownOrUnofferedTypesAreUnsupported) {
  EXPECT_EQ(status_of(2, 0, 16, 1), Status::kUnsupported);   // SCSI_CMD (legacy)
  EXPECT_EQ(status_of(14, 0, 16, 1), Status::kUnsupported);  // SECURE_ERASE not offered
  DiskLimits no_discard = kLimits;
  no_discard.discard = false;
  EXPECT_EQ(status_of(11, 0, 32, 1, no_discard), Status::kUnsupported);
}

TEST(BlkRequestTest, GetIdWritesAtMostTwentyBytes) {
  auto decoded = decode_request(header(8, 0), 16, 64, kLimits);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->request.data_bytes, 20u);
  decoded = decode_request(header(8, 0), 16, 9, kLimits);
  EXPECT_EQ(decoded->request.data_bytes, 8u);
}

TEST(BlkRequestTest, FlushIgnoresSector) {
  EXPECT_EQ(status_of(4, 12345678, 16, 1), Status::kOk);
}

TEST(BlkRequestTest, MissingHeaderOrStatusIsMalformed) {
  auto no_header = decode_request(header(0, 0), 8, 1, kLimits);
  ASSERT_FALSE(no_header.has_value());
  EXPECT_EQ(no_header.error().message(), "blk request has 8 readable bytes, header needs 16");
  auto no_status = decode_request(header(1, 0), 16 + 512, 0, kLimits);
  ASSERT_FALSE(no_status.has_value());
  EXPECT_EQ(no_status.error().code(), ErrorCode::kGuest);
}

TEST(BlkRequestTest, ReadIntoDeviceReadableBuffersIsMalformed) {
  auto decoded = decode_request(header(0, 0), 16 + 512, 1, kLimits);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message(),
            "blk request type 0 puts 512 data bytes in device-readable buffers");
}

TEST(BlkRangesTest, DecodesDiscardRangesInBytes) {
  std::vector<ByteRange> out;
  auto payload = ranges({{1, 2, 0}, {10, 50, 0}});
  ASSERT_EQ(decode_ranges(payload, RequestType::kDiscard, kLimits, out), Status::kOk);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].offset, 512u);
  EXPECT_EQ(out[0].length, 1024u);
  EXPECT_EQ(out[1].offset, 5120u);
  EXPECT_FALSE(out[1].unmap);
}

TEST(BlkRangesTest, UnmapFlagAllowedOnlyForWriteZeroes) {
  std::vector<ByteRange> out;
  auto payload = ranges({{0, 8, kRangeFlagUnmap}});
  EXPECT_EQ(decode_ranges(payload, RequestType::kDiscard, kLimits, out), Status::kUnsupported);
  ASSERT_EQ(decode_ranges(payload, RequestType::kWriteZeroes, kLimits, out), Status::kOk);
  EXPECT_TRUE(out[0].unmap);
  auto unknown = ranges({{0, 8, 2}});
  EXPECT_EQ(decode_ranges(unknown, RequestType::kWriteZeroes, kLimits, out),
            Status::kUnsupported);
}

TEST(BlkRangesTest, LimitsAndBoundsAreIoErrors) {
  std::vector<ByteRange> out;
  EXPECT_EQ(decode_ranges(ranges({{0, 51, 0}}), RequestType::kDiscard, kLimits, out),
            Status::kIoErr);
  EXPECT_EQ(decode_ranges(ranges({{90, 11, 0}}), RequestType::kDiscard, kLimits, out),
            Status::kIoErr);
  EXPECT_EQ(decode_ranges(ranges({{~uint64_t{0}, 1, 0}}), RequestType::kDiscard, kLimits, out),
            Status::kIoErr);
  EXPECT_EQ(decode_ranges(ranges({{0, 1, 0}, {1, 1, 0}, {2, 1, 0}}), RequestType::kDiscard,
                          kLimits, out),
            Status::kIoErr);
  EXPECT_EQ(decode_ranges({}, RequestType::kDiscard, kLimits, out), Status::kIoErr);
  std::vector<std::byte> ragged(20);
  EXPECT_EQ(decode_ranges(ragged, RequestType::kDiscard, kLimits, out), Status::kIoErr);
}

}  // namespace
}  // namespace cvm::devices::virtio::blk
