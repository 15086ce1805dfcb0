// SPDX-License-Identifier: Apache-2.0
#include "vmm/signals.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace cvm::vmm {
namespace {

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

Result<StopSignals> StopSignals::block() {
  const sigset_t set = stop_set();
  sigset_t previous;
  if (const int err = pthread_sigmask(SIG_BLOCK, &set, &previous); err != 0) {
    return errno_error(ErrorCode::kIo, "blocking SIGINT/SIGTERM", err);
  }
  UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd.valid()) {
    const int err = errno;
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return errno_error(ErrorCode::kIo, "signalfd for SIGINT/SIGTERM", err);
  }
  return StopSignals(std::move(fd), previous);
}

StopSignals::StopSignals(StopSignals&& other) noexcept
    : fd_(std::move(other.fd_)),
      previous_(other.previous_),
      active_(std::exchange(other.active_, false)) {}

StopSignals::~StopSignals() {
  if (!active_) {
    return;
  }
  // A SIGINT/SIGTERM that arrived while the VM stopped would otherwise be delivered the
  // moment the mask is restored and kill the process after the VM already ended cleanly.
  signalfd_siginfo info;
  while (::read(fd_.get(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
  }
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

}  // namespace cvm::vmm
