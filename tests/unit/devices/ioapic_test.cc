// SPDX-License-Identifier: Apache-2.0
#include "devices/ioapic/ioapic.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::ioapic {
namespace {

using testing::read_le;
using testing::RecordingMsiSink;
using testing::write_le;

constexpr uint8_t rte_low(unsigned pin) { return static_cast<uint8_t>(0x10 + 2 * pin); }
constexpr uint8_t rte_high(unsigned pin) { return static_cast<uint8_t>(0x11 + 2 * pin); }

class IoapicTest : public ::testing::Test {
 protected:
  /// Programs `pin` the way Linux does: high dword (destination) first, then low dword.
  void program(unsigned pin, uint32_t low, uint32_t high = 0) {
    ioapic_.write_register(rte_high(pin), high);
    ioapic_.write_register(rte_low(pin), low);
  }
  std::size_t delivered() const { return sink_.messages.size(); }

  RecordingMsiSink sink_;
  Ioapic ioapic_{sink_, 2};
};

TEST_F(IoapicTest, IdVersionAndArbitrationRegisters) {
  EXPECT_EQ(ioapic_.read_register(0x00), 0x02000000u);
  EXPECT_EQ(ioapic_.read_register(0x01), 0x00170020u);  // 24 entries, version 0x20
  EXPECT_EQ(ioapic_.read_register(0x02), 0x02000000u);
  ioapic_.write_register(0x00, 0xffffffff);
  EXPECT_EQ(ioapic_.read_register(0x00), 0x0f000000u);
  ioapic_.write_register(0x01, 0);
  EXPECT_EQ(ioapic_.read_register(0x01), 0x00170020u);  // read-only
  EXPECT_EQ(ioapic_.read_register(0x40), 0u);           // no such register
}

TEST_F(IoapicTest, RedirectionEntriesResetMaskedAndRoundTrip) {
  for (unsigned pin = 0; pin < kIoapicPinCount; ++pin) {
    EXPECT_EQ(ioapic_.read_register(rte_low(pin)), 0x00010000u) << pin;
    EXPECT_EQ(ioapic_.read_register(rte_high(pin)), 0u) << pin;
  }
  program(5, 0x0000a931, 0x03000000);
  EXPECT_EQ(ioapic_.read_register(rte_low(5)), 0x0000a931u);
  EXPECT_EQ(ioapic_.read_register(rte_high(5)), 0x03000000u);
  EXPECT_EQ(ioapic_.redirection_entry(5), 0x030000000000a931u);
}

TEST_F(IoapicTest, ReadOnlyAndReservedBitsAreNotWritable) {
  // Delivery status (12), remote IRR (14) and reserved 31:17 written as 1.
  program(1, 0xfffe5030);
  EXPECT_EQ(ioapic_.read_register(rte_low(1)), 0x00000030u);
}

TEST_F(IoapicTest, MmioWindowSelectsAndAccessesRegisters) {
  write_le(ioapic_, kIoregselOffset, 0x01, 4);
  EXPECT_EQ(read_le(ioapic_, kIoregselOffset, 4), 0x01u);
  EXPECT_EQ(read_le(ioapic_, kIowinOffset, 4), 0x00170020u);
  EXPECT_EQ(read_le(ioapic_, kIowinOffset + 2, 1), 0x17u);  // byte lane 2
  write_le(ioapic_, kIoregselOffset, rte_low(9), 4);
  write_le(ioapic_, kIowinOffset, 0x00000041, 4);
  EXPECT_EQ(ioapic_.redirection_entry(9), 0x41u);
  EXPECT_EQ(read_le(ioapic_, 0x20, 4), 0u);  // hole in the window
}

TEST(IoapicMsiTest, ComposesAddressAndDataFromEntry) {
  // Physical, fixed, edge, vector 0x30, destination 1.
  MsiMessage edge = redirection_entry_to_msi(0x0100000000000030ULL);
  EXPECT_EQ(edge.address, 0xfee01000u);
  EXPECT_EQ(edge.data, 0x00000030u);
  // Logical, lowest priority, level, vector 0x31, destination 3.
  MsiMessage level = redirection_entry_to_msi(0x030000000000a931ULL);
  EXPECT_EQ(level.address, 0xfee03004u);
  EXPECT_EQ(level.data, 0x0000c131u);
  // NMI delivery mode, vector ignored by the APIC but carried.
  EXPECT_EQ(redirection_entry_to_msi(0x0000000000000400ULL).data, 0x00000400u);
  // Mask and remote IRR do not change the message.
  EXPECT_EQ(redirection_entry_to_msi(0x030000000001e931ULL), level);
}

TEST(IoapicMsiTest, ExtendedDestinationIdGoesToAddressHigh) {
  // Destination 0x1a5: bits 7:0 (0xa5) in RTE 63:56, bits 14:8 (0x01) in RTE 55:49.
  const uint64_t entry = (0xa5ULL << 56) | (0x01ULL << 49) | 0x40;
  MsiMessage msi = redirection_entry_to_msi(entry);
  EXPECT_EQ(msi.address_lo(), 0xfeea5000u);
  EXPECT_EQ(msi.address_hi(), 0x00000100u);
  EXPECT_EQ(msi.data, 0x40u);
}

TEST_F(IoapicTest, EdgePinDeliversOncePerRisingEdge) {
  program(4, 0x00000024, 0x00000000);
  ioapic_.set_irq(4, true);
  ASSERT_EQ(delivered(), 1u);
  EXPECT_EQ(sink_.messages[0], (MsiMessage{.address = 0xfee00000, .data = 0x24}));
  ioapic_.set_irq(4, true);  // still high: no edge
  EXPECT_EQ(delivered(), 1u);
  ioapic_.set_irq(4, false);
  ioapic_.set_irq(4, true);
  EXPECT_EQ(delivered(), 2u);
  EXPECT_EQ(ioapic_.redirection_entry(4) & kRteRemoteIrr, 0u);
}

TEST_F(IoapicTest, MaskedPinsDeliverNothingUntilUnmasked) {
  program(4, 0x00010024);  // masked edge
  IoapicPin pin(ioapic_, 4);
  pin.trigger();
  EXPECT_EQ(delivered(), 0u);
  program(4, 0x00000024);  // unmask: the latched edge is delivered once
  EXPECT_EQ(delivered(), 1u);
  program(4, 0x00000024);
  EXPECT_EQ(delivered(), 1u);

  program(10, 0x00018040);  // masked level
  ioapic_.set_irq(10, true);
  EXPECT_EQ(delivered(), 1u);
  program(10, 0x00008040);  // unmask with the line still asserted
  EXPECT_EQ(delivered(), 2u);
  EXPECT_EQ(sink_.messages[1].data, 0x0000c040u);
}

TEST_F(IoapicTest, LevelPinHoldsRemoteIrrUntilEoi) {
  program(10, 0x00008040);
  ioapic_.set_irq(10, true);
  ASSERT_EQ(delivered(), 1u);
  EXPECT_NE(ioapic_.read_register(rte_low(10)) & 0x4000, 0u);  // remote IRR
  ioapic_.set_irq(10, false);
  ioapic_.set_irq(10, true);
  EXPECT_EQ(delivered(), 1u);  // no re-delivery before EOI
  ioapic_.on_eoi(0x41);        // another vector
  EXPECT_EQ(delivered(), 1u);
  ioapic_.on_eoi(0x40);        // still asserted: delivered again
  EXPECT_EQ(delivered(), 2u);
  ioapic_.set_irq(10, false);
  ioapic_.on_eoi(0x40);
  EXPECT_EQ(delivered(), 2u);
  EXPECT_EQ(ioapic_.read_register(rte_low(10)) & 0x4000, 0u);
}

TEST_F(IoapicTest, EoiRegisterActsLikeKvmEoiExit) {
  program(11, 0x00008051);
  ioapic_.set_irq(11, true);
  ASSERT_EQ(delivered(), 1u);
  write_le(ioapic_, kEoiOffset, 0x51, 4);
  EXPECT_EQ(delivered(), 2u);
}

TEST_F(IoapicTest, SwitchingToEdgeClearsRemoteIrr) {
  program(12, 0x00008060);
  ioapic_.set_irq(12, true);
  ASSERT_NE(ioapic_.redirection_entry(12) & kRteRemoteIrr, 0u);
  program(12, 0x00010060);  // masked edge
  EXPECT_EQ(ioapic_.redirection_entry(12) & kRteRemoteIrr, 0u);
}

TEST_F(IoapicTest, OutOfRangePinIsIgnored) {
  ioapic_.set_irq(kIoapicPinCount, true);
  ioapic_.set_irq(1000, true);
  EXPECT_EQ(delivered(), 0u);
  EXPECT_EQ(ioapic_.redirection_entry(kIoapicPinCount), 0u);
}

TEST_F(IoapicTest, RouteObserverSeesEveryEntryChange) {
  std::vector<IoapicRoute> routes;
  ioapic_.set_route_observer([&routes](const IoapicRoute& route) { routes.push_back(route); });
  ASSERT_EQ(routes.size(), kIoapicPinCount);
  EXPECT_TRUE(routes[7].masked);
  routes.clear();
  program(9, 0x00008039, 0x01000000);  // level, vector 0x39, destination 1
  ASSERT_EQ(routes.size(), 2u);           // high write, then low write
  EXPECT_EQ(routes[1].pin, 9u);
  EXPECT_FALSE(routes[1].masked);
  EXPECT_TRUE(routes[1].level_triggered);
  EXPECT_EQ(routes[1].msi, (MsiMessage{.address = 0xfee01000, .data = 0xc039}));
}

}  // namespace
}  // namespace cvm::devices::ioapic
