// SPDX-License-Identifier: Apache-2.0
// base/guest_copy.h: every size and alignment copies exactly like memcpy. That aligned words
// are never torn by a concurrent guest store is checked through the GuestMemoryView
// implementations in tests/unit/vmm/guest_memory_view_contract_test.cc.
#include "base/guest_copy.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

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

}  // namespace
}  // namespace cvm
