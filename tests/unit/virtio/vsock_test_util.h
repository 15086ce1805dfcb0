// SPDX-License-Identifier: Apache-2.0
// Host-side helpers for the vsock device tests and benchmark: a non-blocking Unix-socket
// client or server end that the (single) test thread drives between guest pumps.
// Included by unit tests and the vsock benchmark only.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "base/unique_fd.h"

namespace cvm::devices::virtio::testing {

inline sockaddr_un unix_addr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return addr;
}

/// Listening Unix socket (for guest -> host connections to PATH_<port>).
inline UniqueFd listen_unix(const std::string& path) {
  ::unlink(path.c_str());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const sockaddr_un addr = unix_addr(path);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd.get(), 128) != 0) {
    return UniqueFd();
  }
  return fd;
}

/// One non-blocking stream end with an input buffer and an output queue.
class HostEnd {
 public:
  HostEnd() = default;
  explicit HostEnd(UniqueFd fd) : fd_(std::move(fd)) {
    ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
  }
  /// Connects to `path` (blocking connect, then non-blocking I/O).
  static HostEnd connect(const std::string& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_un addr = unix_addr(path);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      return HostEnd();
    }
    return HostEnd(std::move(fd));
  }
  /// Accepts one connection from `listener` (blocking up to the caller's poll).
  static HostEnd accept_from(int listener) {
    return HostEnd(UniqueFd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)));
  }

  static void set_blocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK); }
  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  void queue(std::string_view text) {
    out.insert(out.end(), reinterpret_cast<const std::byte*>(text.data()),
               reinterpret_cast<const std::byte*>(text.data()) + text.size());
  }
  void queue(std::span<const std::byte> bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

  /// Writes what the socket takes; false once it failed (peer gone).
  bool pump_out() {
    while (out_pos < out.size()) {
      const ssize_t n = ::send(fd_.get(), out.data() + out_pos, out.size() - out_pos,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        out_pos += static_cast<std::size_t>(n);
        continue;
      }
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return true;
  }
  /// Reads what is available (up to `limit` bytes in total so far when reading slowly).
  void pump_in(std::size_t limit = SIZE_MAX) {
    std::byte buf[65536];
    while (!eof && in_total < limit) {
      const std::size_t want = std::min<std::size_t>(sizeof(buf), limit - in_total);
      const ssize_t n = ::recv(fd_.get(), buf, want, MSG_DONTWAIT);
      if (n > 0) {
        if (keep_input) {
          in.insert(in.end(), buf, buf + n);
        }
        for (ssize_t i = 0; i < n; ++i) {
          fnv = (fnv ^ static_cast<uint8_t>(buf[i])) * 1099511628211ull;
        }
        in_total += static_cast<std::size_t>(n);
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        eof = true;
      } else {
        return;
      }
    }
  }
  std::string input_text() const {
    return std::string(reinterpret_cast<const char*>(in.data()), in.size());
  }
  void close() { fd_.reset(); }

  std::vector<std::byte> in;
  std::size_t in_total = 0;
  uint64_t fnv = 1469598103934665603ull;
  bool keep_input = true;
  bool eof = false;
  std::vector<std::byte> out;
  std::size_t out_pos = 0;

 private:
  UniqueFd fd_;
};

/// Deterministic test bytes: byte i of stream `seed`.
inline std::vector<std::byte> pattern(std::size_t size, uint32_t seed) {
  std::vector<std::byte> out(size);
  uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    out[i] = static_cast<std::byte>(x >> 24);
  }
  return out;
}

inline uint64_t fnv1a(std::span<const std::byte> bytes) {
  uint64_t h = 1469598103934665603ull;
  for (std::byte b : bytes) {
    h = (h ^ static_cast<uint8_t>(b)) * 1099511628211ull;
  }
  return h;
}

}  // namespace cvm::devices::virtio::testing
