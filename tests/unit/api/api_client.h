// SPDX-License-Identifier: Apache-2.0
// A raw HTTP/1.1 client over a Unix socket for the API tests: it writes requests byte for
// byte as Kata's clients do and parses responses the way runtime-rs does (status line, then
// Content-Length if present), so the tests see exactly what the shim would.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/unique_fd.h"

namespace cvm::vmm::api::testing {

struct RawResponse {
  unsigned status = 0;
  std::string head;  // status line and headers, CRLFs included
  std::string body;
};

class ApiClient {
 public:
  /// Connects to `path`, retrying for up to `timeout` while the server is starting (as Kata's
  /// readiness loop does).
  static std::optional<ApiClient> connect(const std::string& path,
                                          std::chrono::milliseconds timeout =
                                              std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
      if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
        timeval tv{.tv_sec = 10, .tv_usec = 0};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return ApiClient(std::move(fd));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  /// Sends `method /api/v1/endpoint` like runtime-rs: request line, Host and Accept, then
  /// Content-Length only when there is a body, no Content-Type.
  std::optional<RawResponse> call(std::string_view method, std::string_view endpoint,
                                  std::string_view body = "") {
    std::string request = std::string(method) + " /api/v1/" + std::string(endpoint) +
                          " HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n";
    if (!body.empty()) {
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request += "\r\n";
    request += body;
    if (!send_all(request)) {
      return std::nullopt;
    }
    return read_response();
  }

  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  std::optional<RawResponse> read_response() {
    std::size_t head_end = std::string::npos;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    RawResponse response;
    response.head = buffer_.substr(0, head_end + 4);
    buffer_.erase(0, head_end + 4);
    if (!response.head.starts_with("HTTP/1.1 ")) {
      return std::nullopt;
    }
    response.status = static_cast<unsigned>(std::stoul(response.head.substr(9, 3)));
    std::size_t length = 0;
    // runtime-rs looks for this exact, case-sensitive header name.
    if (const auto at = response.head.find("Content-Length: "); at != std::string::npos) {
      length = std::stoul(response.head.substr(at + 16));
    }
    while (buffer_.size() < length) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    response.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return response;
  }

  /// True when the server closed the connection (read returns 0).
  bool closed_by_server() {
    char byte = 0;
    return ::recv(fd_.get(), &byte, 1, 0) == 0;
  }

 private:
  explicit ApiClient(UniqueFd fd) : fd_(std::move(fd)) {}
  bool fill() {
    char chunk[256];  // runtime-rs reads 256 bytes at a time
    const ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  UniqueFd fd_;
  std::string buffer_;
};

}  // namespace cvm::vmm::api::testing
