// SPDX-License-Identifier: Apache-2.0
#include "devices/serial/serial_output.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "base/rate_limited_log.h"
#include "base/result.h"

namespace cvm::devices::serial {

void FdSerialOutput::write(std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
    if (written > 0) {
      // Bounds: write() returns at most bytes.size().
      bytes = bytes.subspan(static_cast<std::size_t>(written));
      continue;
    }
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written < 0 && errno == EAGAIN) {
      pollfd pfd{.fd = fd_, .events = POLLOUT, .revents = 0};
      int ready = 0;
      do {
        ready = ::poll(&pfd, 1, kFullWaitMs);
      } while (ready < 0 && errno == EINTR);
      if (ready > 0) {
        continue;
      }
    }
    const int err = written < 0 ? errno : 0;
    dropped_bytes_.fetch_add(bytes.size(), std::memory_order_relaxed);
    CVM_LOG_RATE_LIMITED(1, "serial output: dropping {} bytes: {}", bytes.size(),
                         err != 0 ? errno_error(ErrorCode::kIo, fmt::format("write fd {}", fd_), err)
                                        .message()
                                  : fmt::format("fd {} stayed full", fd_));
    return;
  }
}

}  // namespace cvm::devices::serial
