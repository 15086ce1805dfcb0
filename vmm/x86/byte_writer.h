// SPDX-License-Identifier: Apache-2.0
// Little-endian stores into byte buffers that cvmm itself sized (zero page, ACPI tables,
// page tables, GDT). The buffers are ours, so an out-of-range store is a cvmm bug and aborts
// via CVM_CHECK; untrusted input is validated before it reaches these helpers.
// Included by vmm/x86/ only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/byte_reader.h"
#include "base/checked.h"
#include "base/result.h"

namespace cvm::vmm::x86 {

/// Stores `value` little-endian at `out[offset]`. Aborts if it does not fit (internal bug).
template <std::unsigned_integral T>
void put_le(std::span<std::byte> out, std::size_t offset, T value) {
  CVM_CHECK(range_within<std::size_t>(offset, sizeof(T), out.size()), "put_le past the buffer");
  store_le<T>(out.subspan(offset).template first<sizeof(T)>(), value);
}

/// Copies `bytes` to `out[offset]`. Aborts if it does not fit (internal bug).
inline void put_bytes(std::span<std::byte> out, std::size_t offset,
                      std::span<const std::byte> bytes) {
  CVM_CHECK(range_within<std::size_t>(offset, bytes.size(), out.size()),
            "put_bytes past the buffer");
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[offset + i] = bytes[i];
  }
}

/// Copies the characters of `text` (no terminator) to `out[offset]`.
inline void put_chars(std::span<std::byte> out, std::size_t offset, std::string_view text) {
  put_bytes(out, offset, as_bytes(text));
}

/// The byte that makes the sum of `bytes` plus itself 0 mod 256 (ACPI table checksums).
inline uint8_t checksum_complement(std::span<const std::byte> bytes) noexcept {
  uint8_t sum = 0;
  for (std::byte b : bytes) {
    sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
  }
  return static_cast<uint8_t>(0x100 - sum);
}

/// Appends little-endian integers and bytes to a growing vector.
class ByteAppender final {
 public:
  explicit ByteAppender(std::vector<std::byte>& out) noexcept : out_(out) {}

  template <std::unsigned_integral T>
  void le(T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      out_.push_back(static_cast<std::byte>((value >> (8 * i)) & 0xff));
    }
  }
  void u8(uint8_t value) { out_.push_back(static_cast<std::byte>(value)); }
  void bytes(std::span<const std::byte> data) { out_.insert(out_.end(), data.begin(), data.end()); }
  void chars(std::string_view text) { bytes(as_bytes(text)); }

 private:
  std::vector<std::byte>& out_;
};

/// A block of bytes destined for guest-physical address `gpa` (zero page, tables, ...).
struct GuestBlob {
  uint64_t gpa = 0;
  std::vector<std::byte> bytes{};
  std::string_view label;  // static text naming the structure, for errors
};

/// Copies `blob` into `ram`, which maps guest-physical [ram_gpa, ram_gpa + ram.size()).
/// Errors: kInvalidArgument naming the blob if it does not lie entirely inside `ram`.
[[nodiscard]] inline Result<void> write_blob(std::span<std::byte> ram, uint64_t ram_gpa,
                                             const GuestBlob& blob) {
  auto offset = checked_sub<uint64_t>(blob.gpa, ram_gpa);
  if (!offset || !range_within<uint64_t>(*offset, blob.bytes.size(), ram.size())) {
    return make_error(ErrorCode::kInvalidArgument,
                      "{} at {:#x} (size {:#x}) lies outside guest ram [{:#x}, {:#x})", blob.label,
                      blob.gpa, blob.bytes.size(), ram_gpa, ram_gpa + ram.size());
  }
  put_bytes(ram, static_cast<std::size_t>(*offset), blob.bytes);
  return ok();
}

}  // namespace cvm::vmm::x86
