// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/vsock/hybrid_connect.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace cvm::devices::virtio::vsock {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_blank(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool keyword_matches(std::string_view word) {
  constexpr std::string_view kKeyword = "connect";
  if (word.size() != kKeyword.size()) {
    return false;
  }
  for (std::size_t i = 0; i < word.size(); ++i) {
    const char lower = (word[i] >= 'A' && word[i] <= 'Z') ? static_cast<char>(word[i] + 32)
                                                          : word[i];
    if (lower != kKeyword[i]) {
      return false;
    }
  }
  return true;
}

Result<uint32_t> parse_port(std::string_view digits) {
  if (digits.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "hybrid vsock handshake: missing port");
  }
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return make_error(ErrorCode::kInvalidArgument,
                        "hybrid vsock handshake: port is not a decimal number");
    }
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > UINT32_MAX) {
      return make_error(ErrorCode::kInvalidArgument,
                        "hybrid vsock handshake: port exceeds 4294967295");
    }
  }
  return static_cast<uint32_t>(value);
}

}  // namespace

Result<uint32_t> parse_connect_line(std::string_view line) {
  if (line.size() >= kMaxConnectLineBytes) {
    return make_error(ErrorCode::kInvalidArgument, "hybrid vsock handshake: line too long");
  }
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  line = trim_blanks(line);
  const std::size_t blank = line.find_first_of(" \t");
  if (blank == std::string_view::npos || !keyword_matches(line.substr(0, blank))) {
    return make_error(ErrorCode::kInvalidArgument,
                      "hybrid vsock handshake: expected 'CONNECT <port>'");
  }
  return parse_port(trim_blanks(line.substr(blank)));
}

std::string connect_ok_line(uint32_t host_port) { return fmt::format("OK {}\n", host_port); }

ConnectLineBuffer::State ConnectLineBuffer::feed(std::span<const std::byte> data) {
  if (newline_) {
    return State::kComplete;
  }
  const std::size_t n = std::min(data.size(), free_space());
  // Bounds: n <= kMaxConnectLineBytes - size_.
  std::memcpy(bytes_ + size_, data.data(), n);
  const std::size_t old_size = size_;
  size_ += n;
  const char* found = static_cast<const char*>(std::memchr(bytes_ + old_size, '\n', n));
  if (found != nullptr) {
    newline_ = static_cast<std::size_t>(found - bytes_);
    return State::kComplete;
  }
  return size_ == kMaxConnectLineBytes ? State::kTooLong : State::kNeedMore;
}

std::string_view ConnectLineBuffer::line() const noexcept {
  return std::string_view(bytes_, newline_.value_or(0));
}

std::span<const std::byte> ConnectLineBuffer::leftover() const noexcept {
  if (!newline_) {
    return {};
  }
  const std::size_t start = *newline_ + 1;
  return std::as_bytes(std::span<const char>(bytes_ + start, size_ - start));
}

}  // namespace cvm::devices::virtio::vsock
