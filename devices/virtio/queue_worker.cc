// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/queue_worker.h"

#include <pthread.h>

namespace cvm::devices::virtio {

QueueWorker::QueueWorker(const char* thread_name, std::function<void()> work)
    : thread_name_(thread_name), work_(std::move(work)), thread_([this] { run(); }) {}

QueueWorker::~QueueWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void QueueWorker::kick() {
  {
    std::lock_guard lock(mutex_);
    kicked_ = true;
  }
  wake_.notify_one();
}

void QueueWorker::run() {
  (void)::pthread_setname_np(::pthread_self(), thread_name_);
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return kicked_ || stopping_; });
    if (stopping_) {
      return;
    }
    kicked_ = false;
    lock.unlock();
    work_();
    lock.lock();
  }
}

}  // namespace cvm::devices::virtio
