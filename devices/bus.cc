// SPDX-License-Identifier: Apache-2.0
#include "devices/bus.h"

#include <algorithm>
#include <mutex>

#include "base/checked.h"
#include "base/rate_limited_log.h"

namespace cvm::devices {

Result<void> Bus::insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t size) {
  if (device == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "{} bus: null device at {:#x}",
                      to_string(kind_), base);
  }
  if (size == 0) {
    return make_error(ErrorCode::kInvalidArgument, "{} bus: empty range at {:#x}",
                      to_string(kind_), base);
  }
  // The last byte must be representable; a range may end exactly at 2^64.
  if (!checked_add<uint64_t>(base, size - 1)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "{} bus: range at {:#x} size {:#x} wraps past the end of the address space",
                      to_string(kind_), base, size);
  }
  const uint64_t last = base + (size - 1);
  std::unique_lock lock(mutex_);
  // The first range starting after `base` must start after `last`; the range before it must
  // end before `base`.
  auto next = ranges_.upper_bound(base);
  if (next != ranges_.end() && next->first <= last) {
    return make_error(ErrorCode::kInvalidArgument,
                      "{} bus: range [{:#x}, {:#x}] overlaps [{:#x}, {:#x}]", to_string(kind_),
                      base, last, next->first, next->first + (next->second.size - 1));
  }
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    const uint64_t prev_last = prev->first + (prev->second.size - 1);
    if (prev_last >= base) {
      return make_error(ErrorCode::kInvalidArgument,
                        "{} bus: range [{:#x}, {:#x}] overlaps [{:#x}, {:#x}]", to_string(kind_),
                        base, last, prev->first, prev_last);
    }
  }
  ranges_.emplace(base, Range{.size = size, .device = std::move(device)});
  return ok();
}

Result<void> Bus::remove(uint64_t base) {
  std::unique_lock lock(mutex_);
  if (ranges_.erase(base) == 0) {
    return make_error(ErrorCode::kNotFound, "{} bus: no range starts at {:#x}", to_string(kind_),
                      base);
  }
  return ok();
}

std::map<uint64_t, Bus::Range>::const_iterator Bus::find_range_locked(uint64_t address) const {
  auto it = ranges_.upper_bound(address);
  if (it == ranges_.begin()) {
    return ranges_.end();
  }
  --it;
  if (address - it->first >= it->second.size) {
    return ranges_.end();
  }
  return it;
}

Bus::Lookup Bus::lookup(uint64_t address) const {
  std::shared_lock lock(mutex_);
  auto it = find_range_locked(address);
  if (it == ranges_.end()) {
    return {};
  }
  return Lookup{.device = it->second.device, .base = it->first, .offset = address - it->first};
}

Bus::Lookup Bus::lookup_access(uint64_t address, std::size_t length) const {
  if (length == 0 || length > kMaxAccessSize) {
    return {};
  }
  std::shared_lock lock(mutex_);
  auto it = find_range_locked(address);
  if (it == ranges_.end()) {
    return {};
  }
  // Bounds: find_range_locked guarantees offset < size, so size - offset cannot underflow.
  // An access running past the end of the range would reach into a neighbour: unhandled.
  const uint64_t offset = address - it->first;
  if (it->second.size - offset < length) {
    return {};
  }
  return Lookup{.device = it->second.device, .base = it->first, .offset = offset};
}

bool Bus::read(uint64_t address, std::span<std::byte> data) {
  Lookup found = lookup_access(address, data.size());
  if (found.device == nullptr) {
    std::fill(data.begin(), data.end(), std::byte{0xff});
    unhandled_reads_.fetch_add(1, std::memory_order_relaxed);
    CVM_LOG_RATE_LIMITED(10, "{} bus: unhandled read of {} bytes at {:#x}", to_string(kind_),
                         data.size(), address);
    return false;
  }
  found.device->read(found.offset, data);
  return true;
}

bool Bus::write(uint64_t address, std::span<const std::byte> data) {
  Lookup found = lookup_access(address, data.size());
  if (found.device == nullptr) {
    unhandled_writes_.fetch_add(1, std::memory_order_relaxed);
    CVM_LOG_RATE_LIMITED(10, "{} bus: unhandled write of {} bytes at {:#x}", to_string(kind_),
                         data.size(), address);
    return false;
  }
  found.device->write(found.offset, data);
  return true;
}

}  // namespace cvm::devices
