// SPDX-License-Identifier: Apache-2.0
// Rate-limited logging of guest-caused errors (architecture-anchors §B.6 class 2): a hostile
// guest must not be able to flood the host log. Included by devices/virtio/ only.
// TODO(#3): switch to base/rate_limited_log.h once it lands in main.
#pragma once

#include <string_view>

#include "base/result.h"

namespace cvm::devices::virtio {

/// Logs "<device>: <error>" to stderr, at most kBurst messages per kWindowSeconds across the
/// process; suppressed messages are counted and reported with the next one printed.
/// Thread-safe.
void log_guest_error(std::string_view device, const Error& error);

/// Number of guest errors reported since process start (a metric for tests and stats).
uint64_t guest_error_count();

}  // namespace cvm::devices::virtio
