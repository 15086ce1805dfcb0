#include "base/checked.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace cvm {
namespace {

TEST(CheckedTest, AddDetectsOverflow) {
  EXPECT_EQ(checked_add<uint32_t>(1, 2), 3u);
  EXPECT_FALSE(checked_add<uint32_t>(std::numeric_limits<uint32_t>::max(), 1));
}

TEST(CheckedTest, MulAndSub) {
  EXPECT_EQ(checked_mul<uint64_t>(1u << 20, 4096), uint64_t{1} << 32);
  EXPECT_FALSE(checked_mul<uint64_t>(uint64_t{1} << 40, uint64_t{1} << 40));
  EXPECT_EQ(checked_sub<uint64_t>(5, 3), 2u);
  EXPECT_FALSE(checked_sub<uint64_t>(3, 5));
}

TEST(CheckedTest, AlignUp) {
  EXPECT_EQ(checked_align_up<uint64_t>(1, 4096), 4096u);
  EXPECT_EQ(checked_align_up<uint64_t>(4096, 4096), 4096u);
  EXPECT_FALSE(checked_align_up<uint64_t>(1, 3));
  EXPECT_FALSE(checked_align_up<uint64_t>(std::numeric_limits<uint64_t>::max(), 4096));
}

TEST(CheckedTest, RangeWithin) {
  EXPECT_TRUE(range_within<std::size_t>(0, 10, 10));
  EXPECT_FALSE(range_within<std::size_t>(1, 10, 10));
  EXPECT_FALSE(range_within<std::size_t>(std::numeric_limits<std::size_t>::max(), 2, 10));
}

}  // namespace
}  // namespace cvm
