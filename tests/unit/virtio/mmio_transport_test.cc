// SPDX-License-Identifier: Apache-2.0
// virtio-mmio v2 register model (virtio 1.2 §4.2.2) and feature/status negotiation (§3.1).
#include "devices/virtio/mmio_transport.h"

#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "tests/unit/virtio/virtq_driver.h"

namespace cvm::devices::virtio {
namespace {

using testing::VirtqDriver;

constexpr uint64_t kDeviceFeatureBit = 5;

// Records what the transport asks of it.
class FakeDevice final : public VirtioDevice {
 public:
  DeviceType device_type() const override { return DeviceType::kBlock; }
  uint64_t device_features() const override { return feature_bit(kDeviceFeatureBit); }
  std::span<const uint16_t> queue_max_sizes() const override { return max_sizes_; }
  void read_config(uint64_t offset, std::span<std::byte> out) const override {
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = static_cast<std::byte>(0x10 + offset + i);
    }
  }
  void write_config(uint64_t offset, std::span<const std::byte> data) override {
    config_writes.emplace_back(offset, data.size());
  }
  Result<void> activate(GuestMemoryView& /*memory*/, VirtioInterrupt& interrupt,
                        uint64_t driver_features,
                        std::vector<std::optional<SplitVirtqueue>> queues) override {
    ++activations;
    activated_features = driver_features;
    activated_queues = std::move(queues);
    interrupt_ = &interrupt;
    return ok();
  }
  void reset() override { ++resets; }
  void process_queue(uint16_t index) override { processed.push_back(index); }

  VirtioInterrupt* interrupt_ = nullptr;
  int activations = 0;
  int resets = 0;
  uint64_t activated_features = 0;
  std::vector<std::optional<SplitVirtqueue>> activated_queues;
  std::vector<uint16_t> processed;
  std::vector<std::pair<uint64_t, std::size_t>> config_writes;

 private:
  std::array<uint16_t, 2> max_sizes_{256, 64};
};

class RecordingLine final : public InterruptLine {
 public:
  void trigger() override { ++triggers; }
  void set_level(bool asserted) override { levels.push_back(asserted); }
  int triggers = 0;
  std::vector<bool> levels;
};

class MmioTransportTest : public ::testing::Test {
 protected:
  MmioTransportTest() { make_transport({}); }

  void make_transport(MmioTransport::Options options) {
    transport = std::make_unique<MmioTransport>(
        device, memory, line,
        MmioTransport::Hooks{.on_driver_ok = [this] { ++driver_ok_hooks; },
                             .on_trapped_notify = nullptr},
        options);
  }
  uint32_t rd(uint64_t offset) {
    std::array<std::byte, 4> raw{};
    transport->read(offset, raw);
    return load_le<uint32_t>(raw);
  }
  void wr(uint64_t offset, uint32_t value) {
    std::array<std::byte, 4> raw{};
    store_le<uint32_t>(raw, value);
    transport->write(offset, raw);
  }
  void negotiate(uint64_t features) {
    wr(mmio_reg::kStatus, status::kAcknowledge);
    wr(mmio_reg::kStatus, status::kAcknowledge | status::kDriver);
    wr(mmio_reg::kDriverFeaturesSel, 0);
    wr(mmio_reg::kDriverFeatures, static_cast<uint32_t>(features));
    wr(mmio_reg::kDriverFeaturesSel, 1);
    wr(mmio_reg::kDriverFeatures, static_cast<uint32_t>(features >> 32));
    wr(mmio_reg::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
  }
  void setup_queue(uint32_t index, const QueueLayout& layout) {
    wr(mmio_reg::kQueueSel, index);
    wr(mmio_reg::kQueueNum, layout.size);
    wr(mmio_reg::kQueueDescLow, static_cast<uint32_t>(layout.desc_table));
    wr(mmio_reg::kQueueDescHigh, static_cast<uint32_t>(layout.desc_table >> 32));
    wr(mmio_reg::kQueueDriverLow, static_cast<uint32_t>(layout.avail_ring));
    wr(mmio_reg::kQueueDriverHigh, 0);
    wr(mmio_reg::kQueueDeviceLow, static_cast<uint32_t>(layout.used_ring));
    wr(mmio_reg::kQueueDeviceHigh, 0);
    wr(mmio_reg::kQueueReady, 1);
  }
  static constexpr uint32_t kUpToFeaturesOk =
      status::kAcknowledge | status::kDriver | status::kFeaturesOk;
  const uint64_t version1 = feature_bit(feature::kVersion1);

  BufferGuestMemory memory{0, 1 << 20};
  VirtqDriver driver{memory, 16};
  FakeDevice device;
  RecordingLine line;
  int driver_ok_hooks = 0;
  std::unique_ptr<MmioTransport> transport;
};

TEST_F(MmioTransportTest, IdentificationRegisters) {
  EXPECT_EQ(rd(mmio_reg::kMagicValue), 0x74726976u);
  EXPECT_EQ(rd(mmio_reg::kVersion), 2u);
  EXPECT_EQ(rd(mmio_reg::kDeviceId), 2u);
  EXPECT_EQ(rd(mmio_reg::kVendorId), 0u);
  EXPECT_EQ(rd(mmio_reg::kShmLenLow), 0xffffffffu);
}

TEST_F(MmioTransportTest, DeviceFeaturesCombineDeviceAndTransportBits) {
  wr(mmio_reg::kDeviceFeaturesSel, 0);
  EXPECT_EQ(rd(mmio_reg::kDeviceFeatures), (1u << 5) | (1u << 28) | (1u << 29));
  wr(mmio_reg::kDeviceFeaturesSel, 1);
  EXPECT_EQ(rd(mmio_reg::kDeviceFeatures), 0b11u);  // VERSION_1, ACCESS_PLATFORM
  wr(mmio_reg::kDeviceFeaturesSel, 2);
  EXPECT_EQ(rd(mmio_reg::kDeviceFeatures), 0u);
}

TEST_F(MmioTransportTest, AccessPlatformCanBeWithheld) {
  make_transport({.access_platform = false});
  wr(mmio_reg::kDeviceFeaturesSel, 1);
  EXPECT_EQ(rd(mmio_reg::kDeviceFeatures), 0b01u);
}

TEST_F(MmioTransportTest, FeaturesOkSticksForOfferedSubsetWithVersion1) {
  negotiate(version1 | feature_bit(kDeviceFeatureBit));
  EXPECT_EQ(rd(mmio_reg::kStatus), kUpToFeaturesOk);
}

TEST_F(MmioTransportTest, FeaturesOkRefusedWithoutVersion1) {
  negotiate(feature_bit(kDeviceFeatureBit));
  EXPECT_EQ(rd(mmio_reg::kStatus), status::kAcknowledge | status::kDriver);
}

TEST_F(MmioTransportTest, FeaturesOkRefusedForUnofferedFeature) {
  negotiate(version1 | feature_bit(7));
  EXPECT_EQ(rd(mmio_reg::kStatus), status::kAcknowledge | status::kDriver);
}

TEST_F(MmioTransportTest, DriverFeaturesAreFrozenAfterFeaturesOk) {
  negotiate(version1);
  wr(mmio_reg::kDriverFeaturesSel, 0);
  wr(mmio_reg::kDriverFeatures, 1u << 5);
  setup_queue(0, driver.layout());
  wr(mmio_reg::kStatus, kUpToFeaturesOk | status::kDriverOk);
  ASSERT_EQ(device.activations, 1);
  EXPECT_EQ(device.activated_features, version1);
}

TEST_F(MmioTransportTest, DriverOkWithoutFeaturesOkIsIgnored) {
  wr(mmio_reg::kStatus, status::kAcknowledge | status::kDriver | status::kDriverOk);
  EXPECT_EQ(rd(mmio_reg::kStatus), status::kAcknowledge | status::kDriver);
  EXPECT_EQ(device.activations, 0);
}

TEST_F(MmioTransportTest, DriverOkActivatesWithProgrammedQueues) {
  EXPECT_EQ(rd(mmio_reg::kQueueNumMax), 256u);
  wr(mmio_reg::kQueueSel, 1);
  EXPECT_EQ(rd(mmio_reg::kQueueNumMax), 64u);
  wr(mmio_reg::kQueueSel, 2);
  EXPECT_EQ(rd(mmio_reg::kQueueNumMax), 0u);
  negotiate(version1 | feature_bit(feature::kEventIdx));
  setup_queue(0, driver.layout());
  EXPECT_EQ(rd(mmio_reg::kQueueReady), 1u);
  wr(mmio_reg::kStatus, kUpToFeaturesOk | status::kDriverOk);
  EXPECT_EQ(rd(mmio_reg::kStatus), kUpToFeaturesOk | status::kDriverOk);
  ASSERT_EQ(device.activations, 1);
  EXPECT_EQ(driver_ok_hooks, 1);
  ASSERT_EQ(device.activated_queues.size(), 2u);
  ASSERT_TRUE(device.activated_queues[0].has_value());
  EXPECT_EQ(device.activated_queues[0]->size(), 16);
  EXPECT_FALSE(device.activated_queues[1].has_value());
}

TEST_F(MmioTransportTest, InvalidQueueAtDriverOkSetsNeedsReset) {
  negotiate(version1);
  QueueLayout layout = driver.layout();
  layout.size = 3;
  setup_queue(0, layout);
  wr(mmio_reg::kStatus, kUpToFeaturesOk | status::kDriverOk);
  EXPECT_EQ(device.activations, 0);
  EXPECT_EQ(rd(mmio_reg::kStatus),
            kUpToFeaturesOk | status::kDriverOk | status::kDeviceNeedsReset);
  EXPECT_EQ(rd(mmio_reg::kInterruptStatus), kInterruptConfigChange);
  EXPECT_EQ(line.triggers, 1);
}

TEST_F(MmioTransportTest, QueueRegistersAreLockedOnceReady) {
  setup_queue(0, driver.layout());
  wr(mmio_reg::kQueueNum, 8);
  EXPECT_EQ(rd(mmio_reg::kQueueNum), 16u);
}

TEST_F(MmioTransportTest, QueueCanBeDisabledBeforeDriverOk) {
  setup_queue(0, driver.layout());
  wr(mmio_reg::kQueueReady, 0);
  EXPECT_EQ(rd(mmio_reg::kQueueReady), 0u);
  wr(mmio_reg::kQueueNum, 8);
  EXPECT_EQ(rd(mmio_reg::kQueueNum), 8u);
}

TEST_F(MmioTransportTest, QueueStaysReadyAfterDriverOk) {
  negotiate(version1);
  setup_queue(0, driver.layout());
  wr(mmio_reg::kStatus, kUpToFeaturesOk | status::kDriverOk);
  wr(mmio_reg::kQueueReady, 0);
  EXPECT_EQ(rd(mmio_reg::kQueueReady), 1u);
}

TEST_F(MmioTransportTest, StatusWriteThatClearsBitsIsIgnored) {
  negotiate(version1);
  wr(mmio_reg::kStatus, status::kAcknowledge);
  EXPECT_EQ(rd(mmio_reg::kStatus), kUpToFeaturesOk);
}

TEST_F(MmioTransportTest, WritingZeroStatusResetsEverything) {
  negotiate(version1);
  setup_queue(0, driver.layout());
  wr(mmio_reg::kStatus, kUpToFeaturesOk | status::kDriverOk);
  device.interrupt_->signal_used_queue(0);
  EXPECT_EQ(rd(mmio_reg::kInterruptStatus), kInterruptUsedBuffer);
  wr(mmio_reg::kStatus, 0);
  EXPECT_EQ(device.resets, 1);
  EXPECT_EQ(rd(mmio_reg::kStatus), 0u);
  EXPECT_EQ(rd(mmio_reg::kInterruptStatus), 0u);
  wr(mmio_reg::kQueueSel, 0);
  EXPECT_EQ(rd(mmio_reg::kQueueReady), 0u);
  EXPECT_EQ(rd(mmio_reg::kQueueNum), 0u);
}

TEST_F(MmioTransportTest, InterruptAckClearsOnlyAcknowledgedBits) {
  negotiate(version1);
  setup_queue(0, driver.layout());
  wr(mmio_reg::kStatus, kUpToFeaturesOk | status::kDriverOk);
  device.interrupt_->signal_used_queue(0);
  device.interrupt_->signal_config_change();
  EXPECT_EQ(line.triggers, 2);
  EXPECT_EQ(rd(mmio_reg::kConfigGeneration), 1u);
  EXPECT_EQ(rd(mmio_reg::kInterruptStatus), 3u);
  wr(mmio_reg::kInterruptAck, kInterruptUsedBuffer);
  EXPECT_EQ(rd(mmio_reg::kInterruptStatus), kInterruptConfigChange);
}

TEST_F(MmioTransportTest, LevelTriggeredLineFollowsInterruptStatus) {
  make_transport({.access_platform = true, .level_triggered = true});
  negotiate(version1);
  setup_queue(0, driver.layout());
  wr(mmio_reg::kStatus, kUpToFeaturesOk | status::kDriverOk);
  device.interrupt_->signal_used_queue(0);
  device.interrupt_->signal_config_change();
  EXPECT_TRUE(transport->interrupt_pending());
  wr(mmio_reg::kInterruptAck, kInterruptUsedBuffer);
  EXPECT_EQ(line.levels, (std::vector<bool>{true, true}));
  wr(mmio_reg::kInterruptAck, kInterruptConfigChange);
  EXPECT_EQ(line.levels, (std::vector<bool>{true, true, false}));
  EXPECT_FALSE(transport->interrupt_pending());
  EXPECT_EQ(line.triggers, 0);
}

TEST_F(MmioTransportTest, TrappedNotifyProcessesTheQueue) {
  wr(mmio_reg::kQueueNotify, 1);
  wr(mmio_reg::kQueueNotify, 9);  // no such queue: ignored
  EXPECT_EQ(device.processed, std::vector<uint16_t>{1});
  transport->notify_queue(0);
  EXPECT_EQ(device.processed, (std::vector<uint16_t>{1, 0}));
  EXPECT_EQ(MmioTransport::queue_notify_offset(), 0x50u);
}

TEST_F(MmioTransportTest, ConfigSpaceAllowsAnyWidth) {
  std::array<std::byte, 1> one{};
  transport->read(0x102, one);
  EXPECT_EQ(one[0], std::byte{0x12});
  std::array<std::byte, 8> eight{};
  transport->read(0x104, eight);
  EXPECT_EQ(load_le<uint64_t>(eight), 0x1b1a191817161514u);
  transport->write(0x108, std::span<const std::byte>(eight).first(2));
  EXPECT_EQ(device.config_writes, (std::vector<std::pair<uint64_t, std::size_t>>{{8, 2}}));
}

TEST_F(MmioTransportTest, NonWordRegisterAccessReadsZeroAndWritesNothing) {
  std::array<std::byte, 2> two{std::byte{0xff}, std::byte{0xff}};
  transport->read(mmio_reg::kMagicValue, two);
  EXPECT_EQ(two[0], std::byte{0});
  std::array<std::byte, 4> word{};
  transport->read(mmio_reg::kMagicValue + 1, word);
  EXPECT_EQ(load_le<uint32_t>(word), 0u);
  transport->write(mmio_reg::kStatus, std::span<const std::byte>(two).first(1));
  EXPECT_EQ(rd(mmio_reg::kStatus), 0u);
}

}  // namespace
}  // namespace cvm::devices::virtio
