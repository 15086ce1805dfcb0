// SPDX-License-Identifier: Apache-2.0
// eventfd(2) as cvmm uses it everywhere: a non-blocking wake-up counter that one thread
// signals and another polls and drains (vCPU stop, device kicks, KVM ioeventfds and irqfds,
// the API server's and the console's wake-ups).
#pragma once

#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace cvm {

/// A new non-blocking, close-on-exec eventfd with a zero counter. Errors: kIo
/// "eventfd for <what>: <errno text>".
[[nodiscard]] Result<UniqueFd> make_eventfd(std::string_view what);

/// Adds 1 to the counter, waking whoever polls it. Never blocks; the only failure is a
/// counter that would overflow, and then a wake-up is pending anyway, so none is reported.
void signal_eventfd(int fd) noexcept;

/// Reads the counter back to zero (the eventfd must be non-blocking); false when nothing was
/// pending.
bool drain_eventfd(int fd) noexcept;

}  // namespace cvm
