// SPDX-License-Identifier: Apache-2.0
// Fuzzes the hybrid-vsock handshake: parse_connect_line() on arbitrary bytes and the
// ConnectLineBuffer fed in arbitrary chunks. Invariants: no crash; an accepted line names a
// port that re-parses from its canonical form; the buffer never holds more than its bound
// and line + '\n' + leftover is exactly the prefix of the input it consumed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "devices/virtio/vsock/hybrid_connect.h"

using namespace cvm::devices::virtio::vsock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto port = parse_connect_line(input); port) {
    if (input.size() >= kMaxConnectLineBytes) {
      __builtin_trap();
    }
    auto again = parse_connect_line(fmt::format("CONNECT {}", *port));
    if (!again || *again != *port) {
      __builtin_trap();
    }
  }
  ConnectLineBuffer buffer;
  std::size_t consumed = 0;
  const std::size_t chunk = size == 0 ? 1 : 1 + data[0] % 16;
  ConnectLineBuffer::State state = ConnectLineBuffer::State::kNeedMore;
  while (consumed < size && state == ConnectLineBuffer::State::kNeedMore) {
    const std::size_t n = std::min(chunk, size - consumed);
    const std::size_t room = buffer.free_space();
    state = buffer.feed(std::as_bytes(std::span(data + consumed, n)));
    consumed += std::min(n, room);
  }
  if (consumed > kMaxConnectLineBytes) {
    __builtin_trap();
  }
  if (state == ConnectLineBuffer::State::kComplete) {
    std::string joined(buffer.line());
    joined += '\n';
    const auto left = buffer.leftover();
    joined.append(reinterpret_cast<const char*>(left.data()), left.size());
    if (joined != input.substr(0, consumed) || buffer.line().find('\n') != std::string::npos) {
      __builtin_trap();
    }
    (void)parse_connect_line(buffer.line());
  }
  return 0;
}
