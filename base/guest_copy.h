// SPDX-License-Identifier: Apache-2.0
// Copies between host buffers and guest RAM that a guest may be writing at the same time.
// A naturally aligned 2-, 4- or 8-byte access is one load or store, so a field the guest
// updates concurrently (a virtqueue's avail/used idx and flags, virtio 1.2 §2.7: the driver
// and device each write such fields while the other reads) is seen old or new, never torn.
// glibc's memcpy may assemble a 2-byte copy from two 1-byte loads taken at different times
// (observed: a torn avail idx put a virtio device into DEVICE_NEEDS_RESET). Longer or
// unaligned copies are plain memcpy: no single-copy atomicity is promised for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace cvm {

namespace detail {
template <typename Word>
inline bool copy_word_in(std::byte* dst, const std::byte* guest) {
  if (reinterpret_cast<std::uintptr_t>(guest) % sizeof(Word) != 0) {
    return false;
  }
  const Word value = __atomic_load_n(reinterpret_cast<const Word*>(guest), __ATOMIC_RELAXED);
  std::memcpy(dst, &value, sizeof(Word));
  return true;
}

template <typename Word>
inline bool copy_word_out(std::byte* guest, const std::byte* src) {
  if (reinterpret_cast<std::uintptr_t>(guest) % sizeof(Word) != 0) {
    return false;
  }
  Word value;
  std::memcpy(&value, src, sizeof(Word));
  __atomic_store_n(reinterpret_cast<Word*>(guest), value, __ATOMIC_RELAXED);
  return true;
}
}  // namespace detail

/// Copies `size` bytes of guest memory at `guest` to `dst` (see the file comment).
inline void copy_from_guest(std::byte* dst, const std::byte* guest, std::size_t size) {
  const bool single = (size == 2 && detail::copy_word_in<uint16_t>(dst, guest)) ||
                      (size == 4 && detail::copy_word_in<uint32_t>(dst, guest)) ||
                      (size == 8 && detail::copy_word_in<uint64_t>(dst, guest));
  if (!single && size != 0) {
    std::memcpy(dst, guest, size);
  }
}

/// Copies `size` bytes from `src` to guest memory at `guest` (see the file comment).
inline void copy_to_guest(std::byte* guest, const std::byte* src, std::size_t size) {
  const bool single = (size == 2 && detail::copy_word_out<uint16_t>(guest, src)) ||
                      (size == 4 && detail::copy_word_out<uint32_t>(guest, src)) ||
                      (size == 8 && detail::copy_word_out<uint64_t>(guest, src));
  if (!single && size != 0) {
    std::memcpy(guest, src, size);
  }
}

}  // namespace cvm
