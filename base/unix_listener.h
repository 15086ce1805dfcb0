// SPDX-License-Identifier: Apache-2.0
// UnixListener: a listening AF_UNIX stream socket bound to a filesystem path, owned RAII-style
// (architecture-anchors §B.5). Used by the hybrid-vsock muxer (runtime-integration.md §3.2)
// and the Cloud Hypervisor compatible API socket (§1.2). Also the two helpers every Unix
// socket user needs: a checked sockaddr_un and a non-blocking connect.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace cvm {

/// The longest path a sockaddr_un holds (108 bytes with the terminating NUL).
inline constexpr std::size_t kMaxUnixSocketPathBytes = sizeof(sockaddr_un::sun_path) - 1;

/// `path` as an AF_UNIX address. Errors (kInvalidArgument) name `what` ("vsock socket",
/// "API socket") and the path when it is empty or longer than kMaxUnixSocketPathBytes.
Result<sockaddr_un> unix_socket_address(const std::string& path, std::string_view what);

/// Connects a non-blocking, close-on-exec stream socket to `path`. A Unix connect never
/// blocks, so a full backlog (EAGAIN) is a failure like ECONNREFUSED or ENOENT.
Result<UniqueFd> connect_unix_socket(const std::string& path, std::string_view what);

class UnixListener final {
 public:
  /// Binds a non-blocking, close-on-exec listening socket to `path`. A stale socket file
  /// there (left by a process that died) is replaced; a socket something still listens on
  /// or a file that is not a socket is an error naming `what` and the path.
  static Result<UnixListener> bind(const std::string& path, int backlog, std::string_view what);

  UnixListener(UnixListener&& other) noexcept;
  UnixListener& operator=(UnixListener&& other) noexcept;
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;
  /// Closes the socket and removes the file if it is still the one we bound: another process
  /// may have replaced it since, and its socket must survive our exit.
  ~UnixListener();

  int fd() const noexcept { return fd_.get(); }
  const std::string& path() const noexcept { return path_; }

 private:
  UnixListener(UniqueFd fd, std::string path, dev_t dev, ino_t ino) noexcept
      : fd_(std::move(fd)), path_(std::move(path)), dev_(dev), ino_(ino) {}
  void unlink_if_ours() noexcept;

  UniqueFd fd_;
  std::string path_;
  // Identity of the socket file we created, compared before unlinking it.
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace cvm
