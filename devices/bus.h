// SPDX-License-Identifier: Apache-2.0
// BusDevice and Bus: the address maps that vCPU threads dispatch port-I/O and MMIO exits to
// (architecture-anchors §B.3). The machine owns one Bus per address space (kPio, kMmio).
// Included by devices/ and vmm/.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string_view>

#include "base/result.h"

namespace cvm::devices {

/// A device register window on a bus.
///
/// `offset` is relative to the base the device was inserted at and lies inside its range;
/// `data.size()` is the access width (1, 2, 4 or 8 bytes; the Bus guarantees 1..8 and that
/// the whole access lies inside the range). Values are little-endian in `data`.
///
/// Thread-safety: the Bus calls read/write concurrently from every vCPU thread without any
/// lock of its own, so each implementation serialises itself. The devices in devices/ hold a
/// private mutex for the duration of one access. Guest-controlled: implementations never
/// abort; unknown offsets read as all-ones or zero (documented per device) and writes to them
/// are dropped with a rate-limited log line.
class BusDevice {
 public:
  virtual ~BusDevice() = default;
  /// Fills all of `data`.
  virtual void read(uint64_t offset, std::span<std::byte> data) = 0;
  virtual void write(uint64_t offset, std::span<const std::byte> data) = 0;
};

enum class BusKind { kPio, kMmio };

constexpr std::string_view to_string(BusKind kind) noexcept {
  return kind == BusKind::kPio ? "pio" : "mmio";
}

/// An address map from non-overlapping ranges [base, base + size) to devices.
///
/// Thread-safety: read()/write() take a shared lock only long enough to find the device and
/// copy its shared_ptr, then call the device unlocked; insert()/remove() take the exclusive
/// lock. A device may therefore insert or remove ranges from inside its own read/write. After
/// remove() returns, an access that looked the device up just before may still be running.
class Bus final {
 public:
  /// Largest access dispatched to a device (MMIO exits carry at most 8 bytes).
  static constexpr std::size_t kMaxAccessSize = 8;

  explicit Bus(BusKind kind) noexcept : kind_(kind) {}
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  BusKind kind() const noexcept { return kind_; }

  /// Maps [base, base + size) to `device`.
  /// Errors: kInvalidArgument when size is 0, the range wraps past 2^64, `device` is null, or
  /// the range overlaps an existing one (the message names both ranges).
  [[nodiscard]] Result<void> insert(std::shared_ptr<BusDevice> device, uint64_t base,
                                    uint64_t size);

  /// Unmaps the range that starts exactly at `base`. Errors: kNotFound.
  [[nodiscard]] Result<void> remove(uint64_t base);

  /// A device and the offset of an address inside its range.
  struct Lookup {
    std::shared_ptr<BusDevice> device;
    uint64_t base = 0;
    uint64_t offset = 0;
  };
  /// The device whose range holds `address`, or a Lookup with a null device.
  Lookup lookup(uint64_t address) const;

  /// Dispatches a guest read. Returns true when a device handled it. Unhandled reads (no
  /// device, access crossing the end of a range, size 0 or > 8) fill `data` with 0xff, are
  /// counted and logged (rate-limited).
  bool read(uint64_t address, std::span<std::byte> data);

  /// Dispatches a guest write. Returns true when a device handled it. Unhandled writes are
  /// dropped, counted and logged (rate-limited).
  bool write(uint64_t address, std::span<const std::byte> data);

  uint64_t unhandled_reads() const noexcept { return unhandled_reads_.load(); }
  uint64_t unhandled_writes() const noexcept { return unhandled_writes_.load(); }

 private:
  struct Range {
    uint64_t size = 0;
    std::shared_ptr<BusDevice> device;
  };

  /// The range holding `address`, or ranges_.end(). Caller holds mutex_ (either mode).
  std::map<uint64_t, Range>::const_iterator find_range_locked(uint64_t address) const;
  /// lookup() plus the check that [address, address + length) stays inside the range.
  Lookup lookup_access(uint64_t address, std::size_t length) const;

  const BusKind kind_;
  mutable std::shared_mutex mutex_;
  std::map<uint64_t, Range> ranges_;  // keyed by base; guarded by mutex_
  std::atomic<uint64_t> unhandled_reads_{0};
  std::atomic<uint64_t> unhandled_writes_{0};
};

}  // namespace cvm::devices
