// SPDX-License-Identifier: Apache-2.0
// base/guest_copy.h: aligned guest words are copied whole while the "guest" (another thread)
// rewrites them; other sizes and alignments copy exactly like memcpy.
#include "base/guest_copy.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>

#include "base/guest_memory_view.h"

namespace cvm {
namespace {

TEST(GuestCopyTest, EverySizeAndAlignmentCopiesTheBytes) {
  alignas(16) std::array<std::byte, 32> guest{};
  for (std::size_t i = 0; i < guest.size(); ++i) {
    guest[i] = static_cast<std::byte>(i * 13 + 1);
  }
  for (std::size_t offset = 0; offset < 9; ++offset) {
    for (std::size_t size = 0; size <= 16; ++size) {
      std::array<std::byte, 16> out{};
      copy_from_guest(out.data(), guest.data() + offset, size);
      EXPECT_EQ(0, std::memcmp(out.data(), guest.data() + offset, size)) << offset << "+" << size;
      alignas(16) std::array<std::byte, 32> written{};
      copy_to_guest(written.data() + offset, out.data(), size);
      EXPECT_EQ(0, std::memcmp(written.data() + offset, out.data(), size)) << offset << "+" << size;
      EXPECT_EQ(written[offset + size], std::byte{0}) << "wrote past the end";
    }
  }
}

// A driver flipping an avail idx between two values whose bytes all differ: every read sees
// one of the two, never one byte of each (the torn read that put a device into NEEDS_RESET).
// Runs until the reader has seen the value change many times, so the two really overlapped.
// A stress check, not a proof: glibc's 2-byte memcpy (word load, then byte load of the last
// byte) tears only in a window of one instruction, seen in 2 of ~40 vsock bench runs and not
// in this loop on the build machine.
TEST(GuestCopyTest, ConcurrentlyWrittenAlignedWordIsNeverTorn) {
  BufferGuestMemory memory(0x1000, 64);
  constexpr uint16_t kA = 0x00ff, kB = 0xff00;
  auto* idx = reinterpret_cast<uint16_t*>(memory.bytes().data() + 2);
  __atomic_store_n(idx, kA, __ATOMIC_RELAXED);
  std::atomic<bool> stop{false};
  std::thread guest([&] {
    for (uint32_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      __atomic_store_n(idx, (i & 1) != 0 ? kA : kB, __ATOMIC_RELAXED);
    }
  });
  uint64_t torn = 0, changes = 0, reads = 0;
  uint16_t last = kA;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (changes < 200'000 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 1000; ++i, ++reads) {
      std::array<std::byte, 2> out{};
      ASSERT_TRUE(memory.read(0x1002, out).has_value());
      uint16_t value = 0;
      std::memcpy(&value, out.data(), 2);
      torn += (value != kA && value != kB) ? 1 : 0;
      changes += value != last ? 1 : 0;
      last = value;
    }
  }
  stop = true;
  guest.join();
  EXPECT_EQ(torn, 0u) << "of " << reads << " reads";
  EXPECT_GE(changes, 1000u) << "the writer and reader hardly overlapped; nothing was tested";
}

}  // namespace
}  // namespace cvm
