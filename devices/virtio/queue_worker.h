// SPDX-License-Identifier: Apache-2.0
// QueueWorker: one host thread that runs a device's queue work whenever it is kicked, so
// blocking disk I/O never runs on a vCPU thread or stalls the event loop
// (architecture-anchors §B.3). Included by devices that do blocking host I/O.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace cvm::devices::virtio {

/// Thread-safety: kick() and watch() may be called from any thread. `work` runs only on the
/// worker thread, never concurrently with itself. Kicks that arrive while `work` runs cause
/// one more run, so no notification is lost.
class QueueWorker final {
 public:
  /// Starts the thread. `thread_name` (at most 15 bytes, the kernel's limit) is what ps/top
  /// show for it, so an operator can tell a device's I/O thread from the vCPUs.
  /// Errors: kIo when the wake-up eventfd or the thread cannot be created.
  [[nodiscard]] static Result<std::unique_ptr<QueueWorker>> start(const char* thread_name,
                                                                  std::function<void()> work);
  /// Stops and joins the thread; a run in progress completes first.
  ~QueueWorker();
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  void kick();
  /// Also runs the work whenever eventfd `notifier` is signalled (a queue's KVM ioeventfd,
  /// VirtioDevice::adopt_queue_notifier): the guest's kick then wakes this thread directly.
  /// The worker drains and owns it.
  void watch(UniqueFd notifier);

 private:
  QueueWorker(const char* thread_name, std::function<void()> work, UniqueFd wake);
  void run();

  const char* thread_name_;
  std::function<void()> work_;
  UniqueFd wake_;  // eventfd: kick(), watch() and the stop request
  std::mutex mutex_;  // guards notifiers_
  std::vector<UniqueFd> notifiers_;
  std::atomic<bool> kicked_{false};  // kick() since the last run
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: starts after the fields it reads are initialised
};

}  // namespace cvm::devices::virtio
