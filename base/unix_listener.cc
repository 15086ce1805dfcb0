// SPDX-License-Identifier: Apache-2.0
#include "base/unix_listener.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace cvm {
namespace {

// Removes a leftover socket file at `path` from a previous run. Refuses non-sockets and a
// socket something still listens on (another VMM using the same path): connecting is the
// only way to tell a live socket from a dead one.
Result<void> remove_stale_socket(const std::string& path, std::string_view what) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? ok() : errno_error(ErrorCode::kIo, fmt::format("stat {}", path), errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "{} path {} exists and is not a socket", what,
                      path);
  }
  if (connect_unix_socket(path, what)) {
    return make_error(ErrorCode::kInvalidArgument, "{} path {} is in use by a listening process",
                      what, path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errno_error(ErrorCode::kIo, fmt::format("unlink stale socket {}", path), errno);
  }
  return ok();
}

}  // namespace

Result<sockaddr_un> unix_socket_address(const std::string& path, std::string_view what) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() > kMaxUnixSocketPathBytes) {
    return make_error(ErrorCode::kInvalidArgument, "{} path {}: empty or longer than {} bytes",
                      what, path, kMaxUnixSocketPathBytes);
  }
  // Bounds: path.size() < sizeof(sun_path); the zeroed tail terminates it.
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

Result<UniqueFd> connect_unix_socket(const std::string& path, std::string_view what) {
  CVM_ASSIGN_OR_RETURN(sockaddr_un addr, unix_socket_address(path, what));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return errno_error(ErrorCode::kIo, "socket(AF_UNIX)", errno);
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return errno_error(ErrorCode::kIo, fmt::format("connect {}", path), errno);
  }
  return fd;
}

Result<UnixListener> UnixListener::bind(const std::string& path, int backlog,
                                        std::string_view what) {
  CVM_ASSIGN_OR_RETURN(sockaddr_un addr, unix_socket_address(path, what));
  CVM_TRY(remove_stale_socket(path, what));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return errno_error(ErrorCode::kIo, "socket(AF_UNIX)", errno);
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return errno_error(ErrorCode::kIo, fmt::format("bind {} {}", what, path), errno);
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    return errno_error(ErrorCode::kIo, fmt::format("stat {} {} after bind", what, path), err);
  }
  // From here on the destructor removes the file on every error path.
  UnixListener listener(std::move(fd), path, st.st_dev, st.st_ino);
  if (::listen(listener.fd(), backlog) != 0) {
    return errno_error(ErrorCode::kIo, fmt::format("listen on {} {}", what, path), errno);
  }
  return listener;
}

UnixListener::UnixListener(UnixListener&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::exchange(other.path_, {})),
      dev_(other.dev_),
      ino_(other.ino_) {}

UnixListener& UnixListener::operator=(UnixListener&& other) noexcept {
  if (this != &other) {
    unlink_if_ours();
    fd_ = std::move(other.fd_);
    path_ = std::exchange(other.path_, {});
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

UnixListener::~UnixListener() { unlink_if_ours(); }

void UnixListener::unlink_if_ours() noexcept {
  struct stat st{};
  if (fd_.valid() && !path_.empty() && ::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ &&
      st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
  fd_.reset();
}

}  // namespace cvm
