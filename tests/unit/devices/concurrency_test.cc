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

#include "devices/acpi/acpi_pm_io.h"
#include "devices/bus.h"
#include "devices/pci/i440fx.h"
#include "devices/pci/pci_config_io.h"
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

uint64_t steady_ns() noexcept { return 0; }

// One vCPU moves the PIIX4 PM block around (PMBA/PMIOSE writes through 0xcf8/0xcfc, which
// insert and remove bus ranges from inside a device access) while another reads the PM
// timer port: every read either reaches the block (timer 0 with this clock) or misses it
// (all-ones), never anything else, and the block ends where the last write put it.
TEST(DevicesConcurrencyTest, PmBlockMovesWhileAnotherVcpuReadsIt) {
  testing::RecordingPowerSink sink;
  Bus pio(BusKind::kPio);
  auto pm_io = std::make_shared<acpi::AcpiPmIo>(sink, &steady_ns);
  auto config = std::make_shared<pci::PciConfigIo>(sink);
  ASSERT_TRUE(config
                  ->add_function(1, 3, std::make_unique<pci::Piix4PowerManagement>(pio, pm_io))
                  .has_value());
  ASSERT_TRUE(pio.insert(config, pci::kPciConfigIoBase, pci::kPciConfigIoCount).has_value());
  auto out32 = [&](uint16_t port, uint32_t value) {
    std::byte data[4];
    for (int i = 0; i < 4; ++i) {
      data[i] = std::byte{static_cast<uint8_t>(value >> (8 * i))};
    }
    pio.write(port, data);
  };
  std::atomic<bool> done{false};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> wrong{0};
  std::thread reader([&] {
    while (!done.load()) {
      std::byte data[4];
      pio.read(0xb008, data);
      uint32_t value = 0;
      for (int i = 0; i < 4; ++i) {
        value |= static_cast<uint32_t>(data[i]) << (8 * i);
      }
      (value == 0 ? hits : value == 0xffffffff ? misses : wrong).fetch_add(1);
    }
  });
  out32(0xcf8, 0x80000b40);
  out32(0xcfc, 0xb000);
  for (int i = 0; i < 2000; ++i) {
    out32(0xcf8, 0x80000b80);
    out32(0xcfc, static_cast<uint32_t>(i & 1) ^ 1);  // PMIOSE on, off, on, ...
  }
  done.store(true);
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(pio.lookup(0xb008).device, nullptr);  // the last write (i = 1999) cleared PMIOSE
  EXPECT_EQ(pio.unhandled_reads(), misses.load());
}

}  // namespace
}  // namespace cvm::devices
