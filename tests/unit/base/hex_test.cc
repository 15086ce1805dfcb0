#include "base/hex.h"

#include <gtest/gtest.h>

namespace cvm {
namespace {

TEST(HexTest, RoundTrip) {
  auto bytes = from_hex("0xDEadBEef", "test");
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(to_hex(*bytes), "deadbeef");
}

TEST(HexTest, RejectsBadInput) {
  EXPECT_FALSE(from_hex("abc", "policy").has_value());
  auto r = from_hex("zz", "policy");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "policy: invalid hex digit at position 0");
}

}  // namespace
}  // namespace cvm
