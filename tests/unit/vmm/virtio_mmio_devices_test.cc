// SPDX-License-Identifier: Apache-2.0
// The virtio-mmio wiring of the machine, checked ioctl by ioctl without /dev/kvm: slot windows
// on the MMIO bus, one irqfd per device on its slot's GSI, one datamatched ioeventfd per queue
// on QueueNotify, notifications reaching process_queue() on the notifier thread, and a device
// interrupt becoming a write to the irqfd's eventfd.
#include "vmm/virtio_mmio_devices.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/system.h"

namespace cvm::vmm {
namespace {

namespace virtio = devices::virtio;

/// Two queues; records notifications (thread-safe: they arrive on the notifier thread).
class NotifiedDevice final : public virtio::VirtioDevice {
 public:
  virtio::DeviceType device_type() const override { return virtio::DeviceType::kBlock; }
  uint64_t device_features() const override { return 0; }
  std::span<const uint16_t> queue_max_sizes() const override { return max_sizes_; }
  void read_config(uint64_t, std::span<std::byte> out) const override {
    std::memset(out.data(), 0, out.size());
  }
  void write_config(uint64_t, std::span<const std::byte>) override {}
  Result<void> activate(GuestMemoryView&, virtio::VirtioInterrupt&, uint64_t,
                        std::vector<std::optional<virtio::SplitVirtqueue>>) override {
    return ok();
  }
  void reset() override {
    std::lock_guard lock(mutex_);
    ++resets;
  }
  void process_queue(uint16_t index) override {
    std::lock_guard lock(mutex_);
    processed.push_back(index);
    changed_.notify_all();
  }
  /// With adopt_queue0: takes queue 0's notifier as a device with its own loop would.
  bool adopt_queue_notifier(uint16_t index, UniqueFd notifier) override {
    if (!adopt_queue0 || index != 0) {
      return false;
    }
    adopted = std::move(notifier);
    return true;
  }
  /// Waits up to 5 s until `count` notifications arrived.
  std::vector<uint16_t> wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(5), [&] { return processed.size() >= count; });
    return processed;
  }

  int resets = 0;
  bool adopt_queue0 = false;
  UniqueFd adopted;

 private:
  std::array<uint16_t, 2> max_sizes_{128, 128};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<uint16_t> processed;
};

struct Fixture {
  BufferGuestMemory memory{0, 1 << 20};
  kvm::RecordingSys sys;
  std::optional<kvm::System> system;
  std::optional<kvm::Vm> vm;
  devices::Bus bus{devices::BusKind::kMmio};

  Fixture() {
    system.emplace(std::move(kvm::System::open(sys)).value());
    vm.emplace(std::move(system->create_vm(KVM_X86_DEFAULT_VM)).value());
  }
};

uint32_t read32(devices::Bus& bus, uint64_t address) {
  std::byte bytes[4]{};
  EXPECT_TRUE(bus.read(address, bytes));
  uint32_t value = 0;
  std::memcpy(&value, bytes, 4);
  return value;
}

TEST(VirtioMmioDevicesTest, EachDeviceGetsItsSlotIrqfdAndOneIoeventfdPerQueue) {
  Fixture f;
  std::vector<std::unique_ptr<virtio::VirtioDevice>> list;
  list.push_back(std::make_unique<NotifiedDevice>());
  list.push_back(std::make_unique<NotifiedDevice>());
  auto set = VirtioMmioDevices::create(*f.vm, f.memory, f.bus, std::move(list));
  ASSERT_TRUE(set.has_value()) << set.error().message();

  const auto slots = (*set)->slots();
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[0].base, 0xd0000000u);
  EXPECT_EQ(slots[0].irq, 5u);
  EXPECT_EQ(slots[1].base, 0xd0001000u);
  EXPECT_EQ(slots[1].irq, 6u);
  EXPECT_EQ(read32(f.bus, 0xd0000000), 0x74726976u);  // "virt"
  EXPECT_EQ(read32(f.bus, 0xd0001008), 2u);            // device id: block

  const auto irqfds = f.sys.calls_named("KVM_IRQFD");
  ASSERT_EQ(irqfds.size(), 2u);
  EXPECT_EQ(irqfds[0].arg_as<kvm_irqfd>().gsi, 5u);
  EXPECT_EQ(irqfds[1].arg_as<kvm_irqfd>().gsi, 6u);
  EXPECT_EQ(irqfds[0].arg_as<kvm_irqfd>().flags, 0u);

  const auto ioeventfds = f.sys.calls_named("KVM_IOEVENTFD");
  ASSERT_EQ(ioeventfds.size(), 4u);
  const uint64_t expected_addr[] = {0xd0000050, 0xd0000050, 0xd0001050, 0xd0001050};
  for (std::size_t i = 0; i < ioeventfds.size(); ++i) {
    const auto request = ioeventfds[i].arg_as<kvm_ioeventfd>();
    EXPECT_EQ(request.addr, expected_addr[i]);
    EXPECT_EQ(request.len, 4u);
    EXPECT_EQ(request.flags, static_cast<uint32_t>(KVM_IOEVENTFD_FLAG_DATAMATCH));
    EXPECT_EQ(request.datamatch, i % 2);
  }
}

TEST(VirtioMmioDevicesTest, IoeventfdSignalReachesProcessQueueOnTheNotifierThread) {
  Fixture f;
  auto device = std::make_unique<NotifiedDevice>();
  NotifiedDevice* raw = device.get();
  std::vector<std::unique_ptr<virtio::VirtioDevice>> list;
  list.push_back(std::move(device));
  auto set = VirtioMmioDevices::create(*f.vm, f.memory, f.bus, std::move(list));
  ASSERT_TRUE(set.has_value()) << set.error().message();
  ASSERT_TRUE((*set)->start().has_value());

  // What KVM does when the guest writes 1 to QueueNotify: signal queue 1's eventfd.
  const auto ioeventfds = f.sys.calls_named("KVM_IOEVENTFD");
  ASSERT_EQ(ioeventfds.size(), 2u);
  const uint64_t one = 1;
  ASSERT_EQ(::write(ioeventfds[1].arg_as<kvm_ioeventfd>().fd, &one, sizeof one), 8);
  EXPECT_EQ(raw->wait_for(1), std::vector<uint16_t>({1}));
  ASSERT_EQ(::write(ioeventfds[0].arg_as<kvm_ioeventfd>().fd, &one, sizeof one), 8);
  EXPECT_EQ(raw->wait_for(2), std::vector<uint16_t>({1, 0}));

  set->reset();  // stops the notifier, then resets the device
}

TEST(VirtioMmioDevicesTest, AnAdoptedNotifierGoesToTheDeviceAndNotThroughTheNotifierThread) {
  Fixture f;
  auto device = std::make_unique<NotifiedDevice>();
  device->adopt_queue0 = true;
  NotifiedDevice* raw = device.get();
  std::vector<std::unique_ptr<virtio::VirtioDevice>> list;
  list.push_back(std::move(device));
  auto set = VirtioMmioDevices::create(*f.vm, f.memory, f.bus, std::move(list));
  ASSERT_TRUE(set.has_value()) << set.error().message();
  ASSERT_TRUE((*set)->start().has_value());
  ASSERT_TRUE(raw->adopted.valid());

  const auto ioeventfds = f.sys.calls_named("KVM_IOEVENTFD");
  ASSERT_EQ(ioeventfds.size(), 2u);  // KVM still signals both queues' eventfds
  const int queue0 = ioeventfds[0].arg_as<kvm_ioeventfd>().fd;
  EXPECT_NE(raw->adopted.get(), queue0);  // the device's own descriptor ...
  const uint64_t one = 1;
  ASSERT_EQ(::write(queue0, &one, sizeof one), 8);
  pollfd ready{raw->adopted.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&ready, 1, 5000), 1);  // ... of the same eventfd
  // Queue 1 was declined: the notifier thread delivers it, and only it.
  ASSERT_EQ(::write(ioeventfds[1].arg_as<kvm_ioeventfd>().fd, &one, sizeof one), 8);
  EXPECT_EQ(raw->wait_for(1), std::vector<uint16_t>({1}));
  uint64_t count = 0;
  EXPECT_EQ(::read(raw->adopted.get(), &count, sizeof count), 8);  // nobody else drained it
  EXPECT_EQ(count, 1u);
  set->reset();
}

TEST(VirtioMmioDevicesTest, TrappedNotifyStillReachesTheDevice) {
  // Without a matching ioeventfd (e.g. a 2-byte write), the write exits to the bus.
  Fixture f;
  auto device = std::make_unique<NotifiedDevice>();
  NotifiedDevice* raw = device.get();
  std::vector<std::unique_ptr<virtio::VirtioDevice>> list;
  list.push_back(std::move(device));
  auto set = VirtioMmioDevices::create(*f.vm, f.memory, f.bus, std::move(list));
  ASSERT_TRUE(set.has_value());
  const uint32_t queue = 0;
  std::byte bytes[4];
  std::memcpy(bytes, &queue, 4);
  EXPECT_TRUE(f.bus.write(0xd0000050, bytes));
  EXPECT_EQ(raw->wait_for(1), std::vector<uint16_t>({0}));
}

TEST(IrqfdLineTest, TriggerSignalsTheRegisteredEventfd) {
  Fixture f;
  auto line = IrqfdLine::create(*f.vm, 7);
  ASSERT_TRUE(line.has_value()) << line.error().message();
  const auto irqfds = f.sys.calls_named("KVM_IRQFD");
  ASSERT_EQ(irqfds.size(), 1u);
  EXPECT_EQ(irqfds[0].arg_as<kvm_irqfd>().gsi, 7u);
  EXPECT_EQ(static_cast<int>(irqfds[0].arg_as<kvm_irqfd>().fd), (*line)->event_fd());
  (*line)->trigger();
  (*line)->set_level(false);  // edge line: lowering is no event
  (*line)->set_level(true);
  uint64_t count = 0;
  ASSERT_EQ(::read((*line)->event_fd(), &count, sizeof count), 8);
  EXPECT_EQ(count, 2u);
}

TEST(IrqfdLineTest, FailingIrqfdRegistrationNamesTheGsi) {
  Fixture f;
  f.sys.fail_next(KVM_IRQFD, EINVAL);
  auto line = IrqfdLine::create(*f.vm, 9);
  ASSERT_FALSE(line.has_value());
  EXPECT_NE(line.error().message().find("gsi 9"), std::string::npos) << line.error().message();
  EXPECT_NE(line.error().message().find("KVM_IRQFD"), std::string::npos);
}

TEST(VirtioMmioDevicesTest, MoreDevicesThanSlotsAreRefused) {
  Fixture f;
  std::vector<std::unique_ptr<virtio::VirtioDevice>> list;
  for (uint32_t i = 0; i <= x86::kVirtioMmioMaxSlots; ++i) {
    list.push_back(std::make_unique<NotifiedDevice>());
  }
  auto set = VirtioMmioDevices::create(*f.vm, f.memory, f.bus, std::move(list));
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().message(),
            "20 virtio devices requested; this machine has 19 virtio-mmio slots");
}

}  // namespace
}  // namespace cvm::vmm
