#include "firmware/guid.h"

#include <gtest/gtest.h>

namespace cvm::firmware {
namespace {

TEST(GuidTest, StoresMixedEndianBytes) {
  constexpr Guid g = Guid::parse("96b582de-1fb2-45f7-baea-a366c55a082d");
  // Data1 0x96b582de little-endian first.
  EXPECT_EQ(g.bytes()[0], std::byte{0xde});
  EXPECT_EQ(g.bytes()[3], std::byte{0x96});
  EXPECT_EQ(g.bytes()[4], std::byte{0xb2});  // Data2 0x1fb2
  EXPECT_EQ(g.bytes()[6], std::byte{0xf7});  // Data3 0x45f7
  EXPECT_EQ(g.bytes()[8], std::byte{0xba});  // Data4 in order
  EXPECT_EQ(g.to_string(), "96b582de-1fb2-45f7-baea-a366c55a082d");
}

}  // namespace
}  // namespace cvm::firmware
