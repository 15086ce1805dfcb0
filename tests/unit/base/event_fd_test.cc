// SPDX-License-Identifier: Apache-2.0
// base/event_fd.h: the wake-up counter every cvmm thread pair uses.
#include "base/event_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>

namespace cvm {
namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

TEST(EventFdTest, SignalsAccumulateUntilOneDrainResetsThem) {
  auto fd = make_eventfd("the test");
  ASSERT_TRUE(fd.has_value()) << fd.error().message();
  EXPECT_FALSE(readable(fd->get()));
  EXPECT_FALSE(drain_eventfd(fd->get()));  // non-blocking: nothing pending, no wait
  signal_eventfd(fd->get());
  signal_eventfd(fd->get());
  EXPECT_TRUE(readable(fd->get()));
  EXPECT_TRUE(drain_eventfd(fd->get()));
  EXPECT_FALSE(readable(fd->get()));
  EXPECT_FALSE(drain_eventfd(fd->get()));
}

TEST(EventFdTest, IsNonBlockingAndCloseOnExec) {
  auto fd = make_eventfd("the test");
  ASSERT_TRUE(fd.has_value());
  EXPECT_NE(::fcntl(fd->get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, 0);
}

}  // namespace
}  // namespace cvm
