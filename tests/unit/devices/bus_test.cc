// SPDX-License-Identifier: Apache-2.0
#include "devices/bus.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices {
namespace {

/// Remembers the last access and answers reads with offset-derived bytes.
class FakeDevice final : public BusDevice {
 public:
  void read(uint64_t offset, std::span<std::byte> data) override {
    last_read_offset = offset;
    last_read_size = data.size();
    for (std::size_t i = 0; i < data.size(); ++i) {
      data[i] = static_cast<std::byte>(0x10 + offset + i);
    }
  }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    last_write_offset = offset;
    last_write.assign(data.begin(), data.end());
  }
  uint64_t last_read_offset = ~0ULL;
  std::size_t last_read_size = 0;
  uint64_t last_write_offset = ~0ULL;
  std::vector<std::byte> last_write;
};

TEST(BusTest, InsertRejectsOverlapOnEitherSide) {
  Bus bus(BusKind::kPio);
  ASSERT_TRUE(bus.insert(std::make_shared<FakeDevice>(), 0x3f8, 8).has_value());

  auto overlaps_end = bus.insert(std::make_shared<FakeDevice>(), 0x3ff, 1);
  ASSERT_FALSE(overlaps_end.has_value());
  EXPECT_EQ(overlaps_end.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(overlaps_end.error().message(),
            "pio bus: range [0x3ff, 0x3ff] overlaps [0x3f8, 0x3ff]");

  auto overlaps_start = bus.insert(std::make_shared<FakeDevice>(), 0x3f0, 9);
  ASSERT_FALSE(overlaps_start.has_value());
  EXPECT_EQ(overlaps_start.error().message(),
            "pio bus: range [0x3f0, 0x3f8] overlaps [0x3f8, 0x3ff]");

  auto contains = bus.insert(std::make_shared<FakeDevice>(), 0x300, 0x200);
  EXPECT_FALSE(contains.has_value());

  // Adjacent ranges on both sides are fine.
  EXPECT_TRUE(bus.insert(std::make_shared<FakeDevice>(), 0x3f0, 8).has_value());
  EXPECT_TRUE(bus.insert(std::make_shared<FakeDevice>(), 0x400, 1).has_value());
}

TEST(BusTest, InsertRejectsEmptyWrappingAndNullRanges) {
  Bus bus(BusKind::kMmio);
  EXPECT_FALSE(bus.insert(std::make_shared<FakeDevice>(), 0x1000, 0).has_value());
  EXPECT_FALSE(bus.insert(std::make_shared<FakeDevice>(), ~0ULL, 2).has_value());
  EXPECT_FALSE(bus.insert(nullptr, 0x1000, 1).has_value());
  // A range ending exactly at 2^64 is representable.
  EXPECT_TRUE(bus.insert(std::make_shared<FakeDevice>(), ~0ULL - 0xfff, 0x1000).has_value());
}

TEST(BusTest, LookupFindsOffsetInsideRange) {
  Bus bus(BusKind::kMmio);
  auto device = std::make_shared<FakeDevice>();
  ASSERT_TRUE(bus.insert(device, 0xfec00000, 0x1000).has_value());

  auto found = bus.lookup(0xfec00010);
  EXPECT_EQ(found.device, device);
  EXPECT_EQ(found.base, 0xfec00000u);
  EXPECT_EQ(found.offset, 0x10u);
  EXPECT_EQ(bus.lookup(0xfec00fff).offset, 0xfffu);
  EXPECT_EQ(bus.lookup(0xfec01000).device, nullptr);
  EXPECT_EQ(bus.lookup(0xfebfffff).device, nullptr);
}

TEST(BusTest, DispatchesReadsAndWritesWithRelativeOffset) {
  Bus bus(BusKind::kPio);
  auto device = std::make_shared<FakeDevice>();
  ASSERT_TRUE(bus.insert(device, 0x3f8, 8).has_value());

  std::array<std::byte, 2> data{};
  EXPECT_TRUE(bus.read(0x3fa, data));
  EXPECT_EQ(device->last_read_offset, 2u);
  EXPECT_EQ(data[0], std::byte{0x12});
  EXPECT_EQ(data[1], std::byte{0x13});

  const std::array<std::byte, 1> out{std::byte{0x41}};
  EXPECT_TRUE(bus.write(0x3f8, out));
  EXPECT_EQ(device->last_write_offset, 0u);
  ASSERT_EQ(device->last_write.size(), 1u);
  EXPECT_EQ(device->last_write[0], std::byte{0x41});
  EXPECT_EQ(bus.unhandled_reads(), 0u);
  EXPECT_EQ(bus.unhandled_writes(), 0u);
}

TEST(BusTest, UnhandledReadReturnsAllOnesAndIsCounted) {
  Bus bus(BusKind::kPio);
  std::array<std::byte, 4> data{};
  EXPECT_FALSE(bus.read(0x80, data));
  for (std::byte b : data) {
    EXPECT_EQ(b, std::byte{0xff});
  }
  const std::array<std::byte, 1> out{std::byte{0}};
  EXPECT_FALSE(bus.write(0x80, out));
  EXPECT_FALSE(bus.write(0x81, out));
  EXPECT_EQ(bus.unhandled_reads(), 1u);
  EXPECT_EQ(bus.unhandled_writes(), 2u);
}

TEST(BusTest, AccessCrossingRangeEndIsUnhandled) {
  Bus bus(BusKind::kPio);
  auto device = std::make_shared<FakeDevice>();
  ASSERT_TRUE(bus.insert(device, 0x600, 3).has_value());

  std::array<std::byte, 4> data{};
  EXPECT_FALSE(bus.read(0x600, data));  // 4 bytes into a 3-byte range
  EXPECT_EQ(device->last_read_size, 0u);
  EXPECT_EQ(data[0], std::byte{0xff});
  std::array<std::byte, 2> two{};
  EXPECT_TRUE(bus.read(0x601, two));
  EXPECT_FALSE(bus.read(0x602, two));
}

TEST(BusTest, OversizedAndEmptyAccessesAreUnhandled) {
  Bus bus(BusKind::kMmio);
  auto device = std::make_shared<FakeDevice>();
  ASSERT_TRUE(bus.insert(device, 0x1000, 0x100).has_value());
  std::array<std::byte, 16> big{};
  EXPECT_FALSE(bus.read(0x1000, big));
  EXPECT_FALSE(bus.read(0x1000, std::span<std::byte>()));
  EXPECT_EQ(bus.unhandled_reads(), 2u);
  std::array<std::byte, 8> eight{};
  EXPECT_TRUE(bus.read(0x1000, eight));
}

TEST(BusTest, RemoveUnmapsOnlyExactBase) {
  Bus bus(BusKind::kPio);
  ASSERT_TRUE(bus.insert(std::make_shared<FakeDevice>(), 0x60, 5).has_value());
  auto missing = bus.remove(0x61);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(bus.remove(0x60).has_value());
  EXPECT_EQ(bus.lookup(0x60).device, nullptr);
  EXPECT_TRUE(bus.insert(std::make_shared<FakeDevice>(), 0x60, 1).has_value());
}

}  // namespace
}  // namespace cvm::devices
