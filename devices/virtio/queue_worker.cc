// SPDX-License-Identifier: Apache-2.0
#include "devices/virtio/queue_worker.h"

#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "base/event_fd.h"

namespace cvm::devices::virtio {
Result<std::unique_ptr<QueueWorker>> QueueWorker::start(const char* thread_name,
                                                        std::function<void()> work) {
  CVM_ASSIGN_OR_RETURN(UniqueFd wake,
                       make_eventfd(fmt::format("the {} thread", thread_name)));
  try {
    return std::unique_ptr<QueueWorker>(
        new QueueWorker(thread_name, std::move(work), std::move(wake)));
  } catch (const std::system_error& e) {
    return make_error(ErrorCode::kIo, "starting the {} thread: {}", thread_name, e.what());
  }
}

QueueWorker::QueueWorker(const char* thread_name, std::function<void()> work, UniqueFd wake)
    : thread_name_(thread_name),
      work_(std::move(work)),
      wake_(std::move(wake)),
      thread_([this] { run(); }) {}

QueueWorker::~QueueWorker() {
  stopping_ = true;
  signal_eventfd(wake_.get());
  thread_.join();
}

void QueueWorker::kick() {
  kicked_.store(true);
  signal_eventfd(wake_.get());
}

void QueueWorker::watch(UniqueFd notifier) {
  {
    std::lock_guard lock(mutex_);
    notifiers_.push_back(std::move(notifier));
  }
  signal_eventfd(wake_.get());  // the thread rebuilds its poll set
}

void QueueWorker::run() {
  (void)::pthread_setname_np(::pthread_self(), thread_name_);
  std::vector<pollfd> fds;
  while (!stopping_) {
    fds.assign(1, pollfd{wake_.get(), POLLIN, 0});
    {
      std::lock_guard lock(mutex_);
      for (const UniqueFd& notifier : notifiers_) {
        fds.push_back(pollfd{notifier.get(), POLLIN, 0});
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      continue;  // EINTR; nothing else can fail with valid descriptors
    }
    // Every readable eventfd is drained (and kicked_ cleared) before the work runs, so a
    // kick that arrives while it runs makes the next poll return and the work run once more.
    // wake_ alone (watch(), stop) is no reason to run it.
    if ((fds[0].revents & POLLIN) != 0) {
      drain_eventfd(wake_.get());
    }
    bool kicked = kicked_.exchange(false);
    for (std::size_t i = 1; i < fds.size(); ++i) {
      kicked = ((fds[i].revents & POLLIN) != 0 && drain_eventfd(fds[i].fd)) || kicked;
    }
    if (kicked && !stopping_) {
      work_();
    }
  }
}

}  // namespace cvm::devices::virtio
