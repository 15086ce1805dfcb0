// SPDX-License-Identifier: Apache-2.0
#include "base/unix_listener.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace cvm {
namespace {

class UnixListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/cvmm-unix-listener-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    path_ = dir_ + "/api.sock";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::unlink((path_ + ".moved").c_str());
    ::rmdir(dir_.c_str());
  }

  static bool is_socket(const std::string& path) {
    struct stat st{};
    return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  }

  // A socket file nobody listens on, as a crashed process leaves it.
  void make_stale_socket() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    auto addr = unix_socket_address(path_, "test socket");
    ASSERT_TRUE(addr.has_value());
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)), 0);
  }  // closing the unlistened socket leaves the file behind

  std::string dir_;
  std::string path_;
};

TEST_F(UnixListenerTest, BindsNonBlockingCloexecListenerAndAcceptsConnections) {
  auto listener = UnixListener::bind(path_, 4, "API socket");
  ASSERT_TRUE(listener.has_value()) << listener.error().message();
  EXPECT_EQ(listener->path(), path_);
  EXPECT_TRUE(is_socket(path_));
  EXPECT_NE(::fcntl(listener->fd(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(listener->fd(), F_GETFD) & FD_CLOEXEC, 0);
  auto client = connect_unix_socket(path_, "API socket");
  ASSERT_TRUE(client.has_value()) << client.error().message();
  UniqueFd accepted(::accept4(listener->fd(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(accepted.valid());
}

TEST_F(UnixListenerTest, StaleSocketIsReplaced) {
  make_stale_socket();
  ASSERT_TRUE(is_socket(path_));
  auto listener = UnixListener::bind(path_, 4, "API socket");
  ASSERT_TRUE(listener.has_value()) << listener.error().message();
  EXPECT_TRUE(connect_unix_socket(path_, "API socket").has_value());
}

TEST_F(UnixListenerTest, LiveListenerIsRefusedAndKeepsItsFile) {
  auto first = UnixListener::bind(path_, 4, "API socket");
  ASSERT_TRUE(first.has_value());
  auto second = UnixListener::bind(path_, 4, "API socket");
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(second.error().message(),
            "API socket path " + path_ + " is in use by a listening process");
  EXPECT_TRUE(connect_unix_socket(path_, "API socket").has_value());  // first still serves
}

TEST_F(UnixListenerTest, RegularFileIsRefusedAndKept) {
  UniqueFd file(::open(path_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  ASSERT_TRUE(file.valid());
  auto listener = UnixListener::bind(path_, 4, "vsock socket");
  ASSERT_FALSE(listener.has_value());
  EXPECT_EQ(listener.error().message(),
            "vsock socket path " + path_ + " exists and is not a socket");
  struct stat st{};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(UnixListenerTest, PathLongerThan107BytesIsRefused) {
  const std::string longest = "/tmp/" + std::string(kMaxUnixSocketPathBytes - 5, 'a');
  ASSERT_EQ(longest.size(), 107u);
  EXPECT_TRUE(unix_socket_address(longest, "API socket").has_value());
  const std::string too_long = longest + "b";
  auto listener = UnixListener::bind(too_long, 4, "API socket");
  ASSERT_FALSE(listener.has_value());
  EXPECT_EQ(listener.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(listener.error().message(),
            "API socket path " + too_long + ": empty or longer than 107 bytes");
  EXPECT_FALSE(UnixListener::bind("", 4, "API socket").has_value());
}

TEST_F(UnixListenerTest, DestructionRemovesTheFileItBound) {
  {
    auto listener = UnixListener::bind(path_, 4, "API socket");
    ASSERT_TRUE(listener.has_value());
  }
  struct stat st{};
  EXPECT_NE(::lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(UnixListenerTest, DestructionKeepsAFileThatReplacedOurs) {
  {
    auto listener = UnixListener::bind(path_, 4, "API socket");
    ASSERT_TRUE(listener.has_value());
    // Another process moved ours away and put its own file there.
    ASSERT_EQ(::rename(path_.c_str(), (path_ + ".moved").c_str()), 0);
    UniqueFd file(::open(path_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    ASSERT_TRUE(file.valid());
  }
  struct stat st{};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(UnixListenerTest, MovedFromListenerDoesNotUnlink) {
  auto listener = UnixListener::bind(path_, 4, "API socket");
  ASSERT_TRUE(listener.has_value());
  {
    UnixListener moved = std::move(*listener);
    { UnixListener gone = std::move(*listener); }  // empty: must not touch the file
    EXPECT_TRUE(is_socket(path_));
    EXPECT_EQ(moved.path(), path_);
  }
  EXPECT_FALSE(is_socket(path_));
}

}  // namespace
}  // namespace cvm
