// SPDX-License-Identifier: Apache-2.0
// StopSignals: while a VM runs, SIGINT and SIGTERM are blocked in every thread and read from a
// signalfd by the thread that waits for the VM (VcpuRunner::wait), so they stop the VM
// cleanly instead of killing the process mid-ioctl. The previous signal mask is restored on
// destruction (pending SIGINT/SIGTERM are consumed first), leaving the process as it was.
// Create it on the thread that will start the vCPU threads, before starting them, so they
// inherit the blocked mask.
#pragma once

#include <signal.h>

#include "base/result.h"
#include "base/unique_fd.h"

namespace cvm::vmm {

class StopSignals final {
 public:
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals();

  /// Blocks SIGINT and SIGTERM in the calling thread and opens a signalfd for them.
  /// Errors: kIo naming the failing call (the mask is restored).
  [[nodiscard]] static Result<StopSignals> block();
  StopSignals(StopSignals&& other) noexcept;
  StopSignals& operator=(StopSignals&&) = delete;

  /// The signalfd to poll (for VcpuRunner::wait).
  int fd() const noexcept { return fd_.get(); }

 private:
  StopSignals(UniqueFd fd, const sigset_t& previous) noexcept
      : fd_(std::move(fd)), previous_(previous), active_(true) {}

  UniqueFd fd_;
  sigset_t previous_{};
  bool active_ = false;
};

}  // namespace cvm::vmm
