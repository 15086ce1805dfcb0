#include "base/result.h"

#include <gtest/gtest.h>

namespace cvm {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "value {} is not positive", v);
  }
  return v;
}

Result<int> doubled(int v) {
  CVM_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Result<void> checked(int v) {
  CVM_TRY(parse_positive(v));
  return ok();
}

TEST(ResultTest, ValuePropagates) {
  auto r = doubled(4);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 8);
}

TEST(ResultTest, ErrorPropagatesThroughMacros) {
  auto r = doubled(-1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "value -1 is not positive");
  EXPECT_FALSE(checked(0).has_value());
  EXPECT_TRUE(checked(1).has_value());
}

TEST(ResultTest, ContextChainsOutermostFirst) {
  Error e(ErrorCode::kIo, "short read");
  e.context("reading kernel").context("loading guest");
  EXPECT_EQ(e.message(), "loading guest: reading kernel: short read");
}

TEST(ResultTest, ErrnoErrorCarriesErrno) {
  Error e = errno_error(ErrorCode::kKvm, "KVM_RUN", EINVAL);
  EXPECT_EQ(e.sys_errno(), EINVAL);
  EXPECT_EQ(e.message(), "KVM_RUN: Invalid argument");
}

}  // namespace
}  // namespace cvm
