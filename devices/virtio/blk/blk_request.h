// SPDX-License-Identifier: Apache-2.0
// virtio-blk request decoding (virtio 1.2 §5.2.6) as pure functions: bytes and sizes in,
// a request to execute or an immediate status out. No I/O, no guest memory access, so the
// rules are unit-tested and fuzzed directly. Included by the blk device, tests, fuzzers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"

namespace cvm::devices::virtio::blk {

inline constexpr uint64_t kSectorSize = 512;
/// struct virtio_blk_req header: type le32 @0, reserved le32 @4, sector le64 @8.
inline constexpr std::size_t kHeaderSize = 16;
/// VIRTIO_BLK_ID_BYTES: length of the GET_ID serial string.
inline constexpr std::size_t kIdBytes = 20;
/// struct virtio_blk_discard_write_zeroes: sector le64 @0, num_sectors le32 @8, flags le32 @12.
inline constexpr std::size_t kRangeSize = 16;
/// virtio_blk_discard_write_zeroes.flags bit 0 (§5.2.6).
inline constexpr uint32_t kRangeFlagUnmap = 1;

/// Request types (§5.2.6, VIRTIO_BLK_T_*).
enum class RequestType : uint32_t {
  kIn = 0,
  kOut = 1,
  kFlush = 4,
  kGetId = 8,
  kDiscard = 11,
  kWriteZeroes = 13,
};

/// Status byte values (§5.2.6, VIRTIO_BLK_S_*).
enum class Status : uint8_t { kOk = 0, kIoErr = 1, kUnsupported = 2 };

/// What the device supports; limits advertised in its config space.
struct DiskLimits {
  uint64_t capacity_sectors = 0;
  bool readonly = false;
  bool discard = false;
  bool write_zeroes = false;
  uint32_t max_discard_sectors = 0;
  uint32_t max_discard_seg = 0;
  uint32_t max_write_zeroes_sectors = 0;
  uint32_t max_write_zeroes_seg = 0;
};

/// A decoded request. Byte ranges refer to the chain's readable stream (OUT, DISCARD,
/// WRITE_ZEROES payload, after the header) or writable stream (IN, GET_ID, before the
/// trailing status byte).
struct Request {
  RequestType type = RequestType::kIn;
  uint64_t sector = 0;
  uint32_t data_bytes = 0;  // IN/OUT data, GET_ID bytes to write, range-array length
};

/// Either a request to execute (status kOk) or a status to report without touching the disk.
struct Decoded {
  Status status = Status::kOk;
  Request request;
};

/// Decodes a request from its 16 header bytes and the chain's readable/writable byte totals.
/// Returns a kGuest Error only for a chain the device cannot even answer (no header, no
/// status byte) or one that asks the device to write into device-readable buffers (IN or
/// GET_ID data in readable descriptors); the caller then sets NEEDS_RESET. Everything else
/// is a status: IOERR for out-of-range sectors, lengths that are not whole sectors, and
/// writes to a read-only disk (§5.2.6.2); UNSUPP for unknown or unoffered types.
[[nodiscard]] Result<Decoded> decode_request(std::span<const std::byte, kHeaderSize> header,
                                             uint32_t readable_bytes, uint32_t writable_bytes,
                                             const DiskLimits& limits);

/// One validated DISCARD/WRITE_ZEROES range in bytes.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool unmap = false;
};

/// Decodes the DISCARD or WRITE_ZEROES range array (§5.2.6). Status kOk and the ranges, or
/// UNSUPP for unknown flags (and UNMAP on DISCARD), IOERR for a malformed array, too many
/// segments, too many sectors or a range past the capacity.
[[nodiscard]] Status decode_ranges(std::span<const std::byte> payload, RequestType type,
                                   const DiskLimits& limits, std::vector<ByteRange>& out);

}  // namespace cvm::devices::virtio::blk
