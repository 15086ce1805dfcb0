// SPDX-License-Identifier: Apache-2.0
// base/guest_memory_view.h: BufferGuestMemory's host_iovecs() resolves exactly the ranges
// read()/write() accept, to the bytes they would copy.
#include "base/guest_memory_view.h"

#include <gtest/gtest.h>

#include <array>
#include <limits>

namespace cvm {
namespace {

constexpr uint64_t kBase = 0x10000;
constexpr std::size_t kSize = 0x2000;

TEST(BufferGuestMemoryIovecTest, RangeResolvesToTheBytesReadAndWriteUse) {
  BufferGuestMemory memory(kBase, kSize);
  std::array<iovec, 4> out{};
  auto used = memory.host_iovecs(kBase + 0x100, 0x80, out);
  ASSERT_TRUE(used.has_value()) << used.error().message();
  ASSERT_EQ(*used, 1u);
  EXPECT_EQ(out[0].iov_base, memory.bytes().data() + 0x100);
  EXPECT_EQ(out[0].iov_len, 0x80u);
  static_cast<std::byte*>(out[0].iov_base)[5] = std::byte{0x5a};
  std::array<std::byte, 1> read{};
  ASSERT_TRUE(memory.read(kBase + 0x105, read).has_value());
  EXPECT_EQ(read[0], std::byte{0x5a});
}

TEST(BufferGuestMemoryIovecTest, WholeMemoryAndEmptyRangesAreAccepted) {
  BufferGuestMemory memory(kBase, kSize);
  std::array<iovec, 1> out{};
  auto whole = memory.host_iovecs(kBase, kSize, out);
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(*whole, 1u);
  EXPECT_EQ(out[0].iov_len, kSize);
  auto at_end = memory.host_iovecs(kBase + kSize, 0, out);
  ASSERT_TRUE(at_end.has_value());
  EXPECT_EQ(*at_end, 0u);
  auto no_room = memory.host_iovecs(kBase, 16, std::span<iovec>());
  ASSERT_TRUE(no_room.has_value());
  EXPECT_EQ(*no_room, 0u);
}

TEST(BufferGuestMemoryIovecTest, OutOfRangeFailsExactlyWhereReadFails) {
  BufferGuestMemory memory(kBase, kSize);
  std::array<iovec, 2> out{};
  struct Case {
    uint64_t gpa;
    uint64_t length;
  };
  const Case cases[] = {
      {kBase - 1, 1},                                     // below
      {kBase + kSize - 4, 5},                             // one byte past the end
      {kBase + kSize + 1, 0},                             // empty, beyond the end
      {kBase + 8, std::numeric_limits<uint64_t>::max()},  // wraps around 2^64
      {std::numeric_limits<uint64_t>::max(), 2},          // wraps around 2^64
  };
  for (const Case& c : cases) {
    out[0] = iovec{};
    auto used = memory.host_iovecs(c.gpa, c.length, out);
    ASSERT_FALSE(used.has_value()) << c.gpa << "+" << c.length;
    EXPECT_EQ(used.error().code(), ErrorCode::kGuest);
    EXPECT_EQ(out[0].iov_base, nullptr) << "filled despite failing";
    EXPECT_FALSE(memory.contains(c.gpa, c.length));
  }
  auto error = memory.host_iovecs(kBase + kSize - 4, 5, out);
  ASSERT_FALSE(error.has_value());
  EXPECT_EQ(error.error().message(), "guest range 0x11ffc+0x5 is outside guest memory");
}

}  // namespace
}  // namespace cvm
