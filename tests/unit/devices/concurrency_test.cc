// SPDX-License-Identifier: Apache-2.0
// The one place the device unit tests use threads: the bus and the devices promise to be
// callable from several vCPU threads and the stdin thread at once (devices/bus.h), and only
// a concurrent test (best under -DCVMM_SANITIZE=ON or TSan) can check that promise. Each test
// is bounded and asserts exact counts, so it is deterministic in its result.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "devices/bus.h"
#include "devices/serial/uart_16550.h"
#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices {
namespace {

using testing::RecordingInterruptLine;
using testing::RecordingSerialOutput;

class CountingDevice final : public BusDevice {
 public:
  void read(uint64_t /*offset*/, std::span<std::byte> data) override {
    reads.fetch_add(1);
    for (std::byte& b : data) {
      b = std::byte{0};
    }
  }
  void write(uint64_t /*offset*/, std::span<const std::byte> /*data*/) override {
    writes.fetch_add(1);
  }
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> writes{0};
};

TEST(DevicesConcurrencyTest, BusDispatchesWhileRangesChange) {
  Bus bus(BusKind::kPio);
  auto stable = std::make_shared<CountingDevice>();
  ASSERT_TRUE(bus.insert(stable, 0x100, 0x10).has_value());
  constexpr int kThreads = 3;
  constexpr int kAccesses = 20000;

  std::atomic<bool> done{false};
  std::thread churn([&bus, &done] {
    // Inserts and removes a neighbouring range while the vCPU threads dispatch.
    while (!done.load()) {
      auto device = std::make_shared<CountingDevice>();
      if (bus.insert(device, 0x200, 0x10).has_value()) {
        (void)bus.remove(0x200);
      }
    }
  });
  std::vector<std::thread> vcpus;
  for (int t = 0; t < kThreads; ++t) {
    vcpus.emplace_back([&bus] {
      std::byte data[4] = {};
      for (int i = 0; i < kAccesses; ++i) {
        bus.read(0x104, data);
        bus.write(0x108, data);
        bus.read(0x204, data);  // handled or not, depending on the churn
      }
    });
  }
  for (auto& thread : vcpus) {
    thread.join();
  }
  done = true;
  churn.join();
  EXPECT_EQ(stable->reads.load(), uint64_t{kThreads} * kAccesses);
  EXPECT_EQ(stable->writes.load(), uint64_t{kThreads} * kAccesses);
}

TEST(DevicesConcurrencyTest, UartDeliversHostInputInOrderAcrossThreads) {
  RecordingInterruptLine line;  // only touched under the UART's mutex
  RecordingSerialOutput output;
  auto uart = std::make_shared<serial::Uart16550>(line, output);
  Bus bus(BusKind::kPio);
  ASSERT_TRUE(bus.insert(uart, serial::kCom1Port, serial::kUartRegisterCount).has_value());
  uart->write_register(2, 0x01);  // FIFOs on
  constexpr std::size_t kBytes = 20000;

  std::thread stdin_thread([&uart] {
    std::size_t sent = 0;
    while (sent < kBytes) {
      const std::byte next{static_cast<uint8_t>(sent & 0xff)};
      sent += uart->feed_input(std::span<const std::byte>(&next, 1));
    }
  });
  std::size_t received = 0;
  bool in_order = true;
  while (received < kBytes) {
    std::byte lsr[1];
    bus.read(serial::kCom1Port + 5, lsr);
    if ((static_cast<uint8_t>(lsr[0]) & 0x01) == 0) {
      continue;
    }
    std::byte rbr[1];
    bus.read(serial::kCom1Port, rbr);
    in_order = in_order && static_cast<uint8_t>(rbr[0]) == (received & 0xff);
    ++received;
  }
  stdin_thread.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(uart->input_room(), serial::Uart16550::kInputQueueCapacity);
}

}  // namespace
}  // namespace cvm::devices
