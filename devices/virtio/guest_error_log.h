// SPDX-License-Identifier: Apache-2.0
// Rate-limited logging of guest-caused errors (architecture-anchors §B.6 class 2): a hostile
// guest must not be able to flood the host log. Included by devices/virtio/ only.
#pragma once

#include <string_view>

#include "base/result.h"

namespace cvm::devices::virtio {

/// Logs "<device>: guest error: <error>" to stderr through base/rate_limited_log.h, at most
/// 10 lines per 5 seconds across all virtio devices; suppressed lines are counted and the
/// count is printed with the next admitted line.
/// Thread-safe.
void log_guest_error(std::string_view device, const Error& error);

/// Number of guest errors reported since process start (a metric for tests and stats).
uint64_t guest_error_count();

}  // namespace cvm::devices::virtio
