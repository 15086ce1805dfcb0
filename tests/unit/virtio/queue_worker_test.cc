// SPDX-License-Identifier: Apache-2.0
// QueueWorker: kicks run the work on the worker thread; none is lost.
#include "devices/virtio/queue_worker.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
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

TEST(QueueWorkerTest, KickRunsWorkOnAnotherThreadWithItsName) {
  std::atomic<int> runs{0};
  std::atomic<bool> other_thread{false};
  std::string name;
  const auto caller = std::this_thread::get_id();
  QueueWorker worker("test-worker", [&] {
    other_thread = std::this_thread::get_id() != caller;
    std::array<char, 16> buffer{};
    if (::pthread_getname_np(::pthread_self(), buffer.data(), buffer.size()) == 0) {
      name = buffer.data();
    }
    ++runs;
  });
  worker.kick();
  ASSERT_TRUE(wait_for([&] { return runs.load() >= 1; }));
  EXPECT_TRUE(other_thread.load());
  EXPECT_EQ(name, "test-worker");  // what ps -L and top -H show for the device's I/O thread
}

TEST(QueueWorkerTest, KickDuringWorkCausesAnotherRun) {
  std::atomic<int> runs{0};
  std::atomic<bool> release{false};
  QueueWorker worker("test-worker", [&] {
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
