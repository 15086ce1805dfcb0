// SPDX-License-Identifier: Apache-2.0
// QueueWorker: one host thread that runs a device's queue work whenever it is kicked, so
// blocking disk I/O never runs on a vCPU thread or stalls the event loop
// (architecture-anchors §B.3). Included by devices that do blocking host I/O.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace cvm::devices::virtio {

/// Thread-safety: kick() may be called from any thread. `work` runs only on the worker
/// thread, never concurrently with itself. Kicks that arrive while `work` runs cause one more
/// run, so no notification is lost.
class QueueWorker final {
 public:
  /// `thread_name` (at most 15 bytes, the kernel's limit) is what ps/top show for the
  /// thread, so an operator can tell a device's I/O thread from the vCPUs.
  QueueWorker(const char* thread_name, std::function<void()> work);
  /// Stops and joins the thread; a run in progress completes first.
  ~QueueWorker();
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  void kick();

 private:
  void run();

  const char* thread_name_;
  std::function<void()> work_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool kicked_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the fields it reads are initialised
};

}  // namespace cvm::devices::virtio
