// SPDX-License-Identifier: Apache-2.0
// QueueWorker: kicks run the work on the worker thread; none is lost.
#include "devices/virtio/queue_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace cvm::devices::virtio {
namespace {

bool wait_for(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(QueueWorkerTest, KickRunsWorkOnAnotherThread) {
  std::atomic<int> runs{0};
  std::atomic<bool> other_thread{false};
  const auto caller = std::this_thread::get_id();
  QueueWorker worker([&] {
    other_thread = std::this_thread::get_id() != caller;
    ++runs;
  });
  worker.kick();
  ASSERT_TRUE(wait_for([&] { return runs.load() >= 1; }));
  EXPECT_TRUE(other_thread.load());
}

TEST(QueueWorkerTest, KickDuringWorkCausesAnotherRun) {
  std::atomic<int> runs{0};
  std::atomic<bool> release{false};
  QueueWorker worker([&] {
    ++runs;
    while (runs.load() == 1 && !release.load()) {
      std::this_thread::yield();
    }
  });
  worker.kick();
  ASSERT_TRUE(wait_for([&] { return runs.load() == 1; }));
  worker.kick();  // arrives while the first run is still busy
  release = true;
  EXPECT_TRUE(wait_for([&] { return runs.load() == 2; }));
}

}  // namespace
}  // namespace cvm::devices::virtio
