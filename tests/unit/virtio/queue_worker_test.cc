// SPDX-License-Identifier: Apache-2.0
// QueueWorker: kicks run the work on the worker thread; none is lost.
#include "devices/virtio/queue_worker.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

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
  auto started = QueueWorker::start("test-worker", [&] {
    other_thread = std::this_thread::get_id() != caller;
    std::array<char, 16> buffer{};
    if (::pthread_getname_np(::pthread_self(), buffer.data(), buffer.size()) == 0) {
      name = buffer.data();
    }
    ++runs;
  });
  ASSERT_TRUE(started.has_value()) << started.error().message();
  QueueWorker& worker = **started;
  worker.kick();
  ASSERT_TRUE(wait_for([&] { return runs.load() >= 1; }));
  EXPECT_TRUE(other_thread.load());
  EXPECT_EQ(name, "test-worker");  // what ps -L and top -H show for the device's I/O thread
}

TEST(QueueWorkerTest, KickDuringWorkCausesAnotherRun) {
  std::atomic<int> runs{0};
  std::atomic<bool> release{false};
  auto started = QueueWorker::start("test-worker", [&] {
    ++runs;
    while (runs.load() == 1 && !release.load()) {
      std::this_thread::yield();
    }
  });
  ASSERT_TRUE(started.has_value());
  QueueWorker& worker = **started;
  worker.kick();
  ASSERT_TRUE(wait_for([&] { return runs.load() == 1; }));
  worker.kick();  // arrives while the first run is still busy
  release = true;
  EXPECT_TRUE(wait_for([&] { return runs.load() == 2; }));
}

TEST(QueueWorkerTest, AWatchedEventfdRunsTheWorkAndIsDrained) {
  std::atomic<int> runs{0};
  auto started = QueueWorker::start("test-worker", [&] { ++runs; });
  ASSERT_TRUE(started.has_value());
  UniqueFd notifier(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  UniqueFd guest_side(::fcntl(notifier.get(), F_DUPFD_CLOEXEC, 0));
  (*started)->watch(std::move(notifier));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(runs.load(), 0);  // watching is no reason to run the work
  const uint64_t one = 1;
  ASSERT_EQ(::write(guest_side.get(), &one, sizeof(one)), 8);  // what KVM does on a kick
  ASSERT_TRUE(wait_for([&] { return runs.load() == 1; }));
  // The worker read the counter (a level-triggered fd left full would spin the thread).
  ASSERT_TRUE(wait_for([&] {
    pollfd p{guest_side.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }));
}

}  // namespace
}  // namespace cvm::devices::virtio
