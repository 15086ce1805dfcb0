// SPDX-License-Identifier: Apache-2.0
// GuestMemoryView: the only way device models reach guest memory (architecture-anchors §B.3).
// Every access is bounds-checked and copies bytes in or out; there are no long-lived pointers
// into guest RAM, with one exception: host_iovecs() lends host addresses of a checked range
// for one scatter-gather system call (a socket readv/writev straight to or from guest
// buffers), so pass-through payload is not copied through a bounce buffer. Under TDX/SNP an implementation covers the shared ranges only, so a private
// GPA is an ordinary error. Included by devices/ and vmm/; depends on base/ only.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "base/checked.h"
#include "base/guest_copy.h"
#include "base/result.h"

namespace cvm {

/// Bounds-checked, copying access to guest-physical memory.
///
/// Thread-safety: implementations must allow concurrent calls from several threads (vCPU
/// threads, the event loop, device workers). The guest may modify the bytes concurrently, so
/// callers copy structures out first and validate the copy, never the guest's bytes.
///
/// Single-copy atomicity: a read() or write() of 2, 4 or 8 bytes at a gpa aligned to its size
/// is one load or store (base/guest_copy.h), so a concurrent guest store of that word is seen
/// whole or not at all. Virtqueues rely on it for the ring indices the driver publishes
/// (virtio 1.2 §2.7.13.3: the driver updates idx after the ring entries, with a barrier); a
/// plain memcpy may tear them (glibc copies 2 bytes as a byte load and a word load).
/// tests/unit/vmm/guest_memory_view_contract_test.cc checks every implementation.
class GuestMemoryView {
 public:
  virtual ~GuestMemoryView() = default;

  /// Copies guest bytes [gpa, gpa + out.size()) into `out`. Fails with kGuest (nothing
  /// copied) when any byte of the range is outside the accessible guest memory or the
  /// range wraps around 2^64.
  [[nodiscard]] virtual Result<void> read(uint64_t gpa, std::span<std::byte> out) const = 0;

  /// Copies `data` to guest bytes [gpa, gpa + data.size()). Same failure rules as read().
  [[nodiscard]] virtual Result<void> write(uint64_t gpa, std::span<const std::byte> data) = 0;

  /// True when the whole range [gpa, gpa + length) is accessible (length 0 is always valid
  /// unless gpa itself is outside every region). Lets parsers reject a bad descriptor early.
  [[nodiscard]] virtual bool contains(uint64_t gpa, uint64_t length) const = 0;

  /// Resolves guest bytes [gpa, gpa + length) to the host memory behind them, for readv/
  /// writev/recvmsg/sendmsg straight against guest memory. Fills `out` in guest-address order
  /// with one iovec per host-contiguous piece (a range spanning two adjacent regions gives
  /// two) and returns how many entries it filled; when `out` is too short the filled entries
  /// cover a prefix of the range (sum their iov_len), and length 0 fills none. Fails with
  /// kGuest (nothing filled) exactly where read()/write() of the same range fail.
  ///
  /// Lifetime: the iovecs stay valid only while guest memory stays mapped, i.e. for the
  /// machine's lifetime (devices are destroyed before guest memory); do not keep them across
  /// a device reset. The guest may change the bytes at any time, so use them only for
  /// payload passed through unparsed; copy anything to be validated out with read().
  /// Under TDX/SNP they reach the shared side only, like read()/write().
  [[nodiscard]] virtual Result<std::size_t> host_iovecs(uint64_t gpa, uint64_t length,
                                                        std::span<iovec> out) = 0;
};

/// Error used by GuestMemoryView implementations for an inaccessible range.
inline Error guest_range_error(uint64_t gpa, uint64_t length) {
  return make_error(ErrorCode::kGuest, "guest range {:#x}+{:#x} is outside guest memory", gpa,
                    length);
}

/// One contiguous host buffer that backs guest addresses [base, base + size). Used by unit
/// tests and fuzzers as fake guest RAM; production code wraps the machine's RAM mappings.
/// Concurrent access as in base/guest_copy.h (aligned words are single loads/stores).
class BufferGuestMemory final : public GuestMemoryView {
 public:
  BufferGuestMemory(uint64_t base, std::size_t size) : base_(base), bytes_(size) {}

  Result<void> read(uint64_t gpa, std::span<std::byte> out) const override {
    if (!contains(gpa, out.size())) {
      return guest_range_error(gpa, out.size());
    }
    // Bounds: contains() proved [gpa - base_, + out.size()) lies inside bytes_.
    copy_from_guest(out.data(), bytes_.data() + (gpa - base_), out.size());
    return ok();
  }

  Result<void> write(uint64_t gpa, std::span<const std::byte> data) override {
    if (!contains(gpa, data.size())) {
      return guest_range_error(gpa, data.size());
    }
    // Bounds: as in read().
    copy_to_guest(bytes_.data() + (gpa - base_), data.data(), data.size());
    return ok();
  }

  bool contains(uint64_t gpa, uint64_t length) const override {
    return gpa >= base_ && range_within<uint64_t>(gpa - base_, length, bytes_.size());
  }

  Result<std::size_t> host_iovecs(uint64_t gpa, uint64_t length,
                                  std::span<iovec> out) override {
    if (!contains(gpa, length)) {
      return guest_range_error(gpa, length);
    }
    if (length == 0 || out.empty()) {
      return std::size_t{0};
    }
    // Bounds: contains() proved [gpa - base_, + length) lies inside bytes_.
    out[0] = iovec{.iov_base = bytes_.data() + (gpa - base_), .iov_len = length};
    return std::size_t{1};
  }

  uint64_t base() const noexcept { return base_; }
  std::span<std::byte> bytes() noexcept { return bytes_; }

 private:
  uint64_t base_;
  std::vector<std::byte> bytes_;
};

}  // namespace cvm
