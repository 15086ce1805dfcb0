// SPDX-License-Identifier: Apache-2.0
#include "base/event_fd.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include <fmt/format.h>

namespace cvm {

Result<UniqueFd> make_eventfd(std::string_view what) {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd.valid()) {
    return errno_error(ErrorCode::kIo, fmt::format("eventfd for {}", what), errno);
  }
  return fd;
}

void signal_eventfd(int fd) noexcept {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(fd, &one, sizeof(one));
}

bool drain_eventfd(int fd) noexcept {
  uint64_t count = 0;
  return ::read(fd, &count, sizeof(count)) == static_cast<ssize_t>(sizeof(count));
}

}  // namespace cvm
