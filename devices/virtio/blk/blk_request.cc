// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/blk/blk_request.h"

#include "base/byte_reader.h"
#include "base/checked.h"

namespace cvm::devices::virtio::blk {
namespace {

// True when [sector, sector + bytes/512) lies inside the disk.
bool sectors_in_range(uint64_t sector, uint64_t bytes, uint64_t capacity) {
  return range_within<uint64_t>(sector, bytes / kSectorSize, capacity);
}

Decoded status_only(Status status, RequestType type) {
  return Decoded{.status = status, .request = {.type = type, .sector = 0, .data_bytes = 0}};
}

}  // namespace

Result<Decoded> decode_request(std::span<const std::byte, kHeaderSize> header,
                               uint32_t readable_bytes, uint32_t writable_bytes,
                               const DiskLimits& limits) {
  if (readable_bytes < kHeaderSize) {
    return make_error(ErrorCode::kGuest, "blk request has {} readable bytes, header needs {}",
                      readable_bytes, kHeaderSize);
  }
  if (writable_bytes == 0) {
    return make_error(ErrorCode::kGuest, "blk request has no writable status byte");
  }
  const auto raw_type = load_le<uint32_t>(header.subspan<0, 4>());
  const auto sector = load_le<uint64_t>(header.subspan<8, 8>());
  const auto type = static_cast<RequestType>(raw_type);
  const uint32_t payload = readable_bytes - static_cast<uint32_t>(kHeaderSize);
  const uint32_t in_data = writable_bytes - 1;
  Request request{.type = type, .sector = sector, .data_bytes = 0};
  switch (type) {
    case RequestType::kIn:
    case RequestType::kGetId:
      if (payload != 0) {
        return make_error(ErrorCode::kGuest,
                          "blk request type {} puts {} data bytes in device-readable buffers",
                          raw_type, payload);
      }
      if (type == RequestType::kGetId) {
        request.data_bytes = std::min<uint32_t>(in_data, kIdBytes);
        return Decoded{.status = Status::kOk, .request = request};
      }
      request.data_bytes = in_data;
      break;
    case RequestType::kOut:
      if (limits.readonly) {
        return status_only(Status::kIoErr, type);
      }
      request.data_bytes = payload;
      break;
    case RequestType::kFlush:
      return Decoded{.status = Status::kOk, .request = request};
    case RequestType::kDiscard:
    case RequestType::kWriteZeroes: {
      const bool offered = type == RequestType::kDiscard ? limits.discard : limits.write_zeroes;
      if (!offered) {
        return status_only(Status::kUnsupported, type);
      }
      if (limits.readonly) {
        return status_only(Status::kIoErr, type);
      }
      request.data_bytes = payload;
      return Decoded{.status = Status::kOk, .request = request};
    }
    default:
      return status_only(Status::kUnsupported, type);
  }
  // IN and OUT: whole sectors inside the disk (§5.2.6.1, §5.2.6.2).
  if (request.data_bytes % kSectorSize != 0 ||
      !sectors_in_range(sector, request.data_bytes, limits.capacity_sectors)) {
    return status_only(Status::kIoErr, type);
  }
  return Decoded{.status = Status::kOk, .request = request};
}

Status decode_ranges(std::span<const std::byte> payload, RequestType type,
                     const DiskLimits& limits, std::vector<ByteRange>& out) {
  out.clear();
  const bool discard = type == RequestType::kDiscard;
  const uint32_t max_seg = discard ? limits.max_discard_seg : limits.max_write_zeroes_seg;
  const uint32_t max_sectors =
      discard ? limits.max_discard_sectors : limits.max_write_zeroes_sectors;
  if (payload.empty() || payload.size() % kRangeSize != 0 ||
      payload.size() / kRangeSize > max_seg) {
    return Status::kIoErr;
  }
  for (std::size_t at = 0; at < payload.size(); at += kRangeSize) {
    auto range = payload.subspan(at, kRangeSize);
    const auto sector = load_le<uint64_t>(range.subspan<0, 8>());
    const auto num_sectors = load_le<uint32_t>(range.subspan<8, 4>());
    const auto flags = load_le<uint32_t>(range.subspan<12, 4>());
    if ((flags & ~kRangeFlagUnmap) != 0 || (discard && flags != 0)) {
      return Status::kUnsupported;
    }
    if (num_sectors > max_sectors ||
        !range_within<uint64_t>(sector, num_sectors, limits.capacity_sectors)) {
      return Status::kIoErr;
    }
    // Cannot overflow: sector + num_sectors <= capacity = file size / 512.
    out.push_back(ByteRange{.offset = sector * kSectorSize,
                            .length = uint64_t{num_sectors} * kSectorSize,
                            .unmap = (flags & kRangeFlagUnmap) != 0});
  }
  return Status::kOk;
}

}  // namespace cvm::devices::virtio::blk
