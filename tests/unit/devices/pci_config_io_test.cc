// SPDX-License-Identifier: Apache-2.0
// PCI configuration mechanism #1 on ports 0xcf8-0xcff with the i440FX/PIIX functions OVMF
// probes: identities as QEMU's "pc" machine reports them, byte/word/dword data-port offsets,
// master aborts, hostile widths, the PIIX3 reset control register and PIIX4 PMBA mapping.
#include "devices/pci/pci_config_io.h"

#include <gtest/gtest.h>

#include "devices/acpi/acpi_pm_io.h"
#include "devices/pci/i440fx.h"
#include "tests/unit/devices/test_doubles.h"

namespace cvm::devices::pci {
namespace {

using testing::read_le;
using testing::RecordingPowerSink;
using testing::write_le;

uint64_t fake_clock_ns = 0;
uint64_t fake_clock() noexcept { return fake_clock_ns; }

constexpr uint32_t address(uint8_t device, uint8_t function, uint8_t reg) {
  return kConfigAddressEnable | (uint32_t{device} << 11) | (uint32_t{function} << 8) | reg;
}

/// The three functions of the firmware platform on a config-I/O device and a port bus.
struct Platform {
  RecordingPowerSink sink;
  Bus pio{BusKind::kPio};
  std::shared_ptr<acpi::AcpiPmIo> pm_io = std::make_shared<acpi::AcpiPmIo>(sink, &fake_clock);
  PciConfigIo config{sink};
  Piix4PowerManagement* pm = nullptr;

  Platform() {
    EXPECT_TRUE(config.add_function(0, 0, make_i440fx_host_bridge()).has_value());
    EXPECT_TRUE(config.add_function(1, 0, make_piix3_isa_bridge()).has_value());
    auto function = std::make_unique<Piix4PowerManagement>(pio, pm_io);
    pm = function.get();
    EXPECT_TRUE(config.add_function(1, 3, std::move(function)).has_value());
  }
  /// A `size`-byte config read at port 0xcfc + (reg & 3) after selecting reg.
  uint64_t read(uint8_t device, uint8_t function, uint8_t reg, std::size_t size) {
    write_le(config, 0, address(device, function, reg & 0xfc), 4);
    return read_le(config, 4 + (reg & 3), size);
  }
  void write(uint8_t device, uint8_t function, uint8_t reg, uint64_t value, std::size_t size) {
    write_le(config, 0, address(device, function, reg & 0xfc), 4);
    write_le(config, 4 + (reg & 3), value, size);
  }
};

TEST(PciConfigIoTest, FunctionsIdentifyAsQemuPcMachine) {
  Platform p;
  EXPECT_EQ(p.read(0, 0, 0x00, 4), 0x12378086u);
  EXPECT_EQ(p.read(0, 0, 0x08, 4), 0x06000002u);  // class 060000, revision 02
  EXPECT_EQ(p.read(0, 0, 0x0c, 4), 0x00000000u);  // single-function header
  EXPECT_EQ(p.read(1, 0, 0x00, 4), 0x70008086u);
  EXPECT_EQ(p.read(1, 0, 0x08, 4), 0x06010000u);
  EXPECT_EQ(p.read(1, 0, 0x0e, 1), 0x80u);  // multi-function: 00:01.3 exists
  EXPECT_EQ(p.read(1, 3, 0x00, 4), 0x71138086u);
  EXPECT_EQ(p.read(1, 3, 0x08, 4), 0x06800003u);
  EXPECT_EQ(p.read(1, 3, 0x3d, 1), 0x01u);  // INTA#
  EXPECT_EQ(p.read(1, 3, 0x40, 4), 0x00000001u);  // PMBA: RTE set, base 0
  EXPECT_EQ(p.read(1, 0, 0x60, 4), 0x80808080u);  // PIRQ routing disabled
  EXPECT_EQ(p.read(0, 0, 0x72, 1), 0x02u);        // SMRAM
}

TEST(PciConfigIoTest, DataPortOffsetsSelectBytesAndWords) {
  Platform p;
  EXPECT_EQ(p.read(0, 0, 0x02, 2), 0x1237u);  // word at 0xcfe
  EXPECT_EQ(p.read(0, 0, 0x02, 1), 0x37u);    // byte at 0xcfe
  EXPECT_EQ(p.read(0, 0, 0x03, 1), 0x12u);    // byte at 0xcff
  EXPECT_EQ(p.read(0, 0, 0x01, 2), 0x3780u);  // unaligned word at 0xcfd
  EXPECT_EQ(p.read(0, 0, 0x00, 1), 0x86u);
}

TEST(PciConfigIoTest, AbsentFunctionsAndOtherBusesReadAllOnes) {
  Platform p;
  EXPECT_EQ(p.read(0x1f, 0, 0x00, 4), 0xffffffffu);
  EXPECT_EQ(p.read(1, 1, 0x00, 2), 0xffffu);
  write_le(p.config, 0, 0x80010000, 4);  // bus 1, device 0
  EXPECT_EQ(read_le(p.config, 4, 4), 0xffffffffu);
  write_le(p.config, 0, 0x00000000, 4);  // enable bit clear
  EXPECT_EQ(read_le(p.config, 4, 4), 0xffffffffu);
  write_le(p.config, 4, 0x12345678, 4);  // dropped, no crash
  EXPECT_EQ(p.read(0, 0, 0x00, 4), 0x12378086u);
}

TEST(PciConfigIoTest, ConfigAddressTakesOnlyDwordWrites) {
  Platform p;
  write_le(p.config, 0, 0x80000000, 4);
  EXPECT_EQ(read_le(p.config, 0, 4), 0x80000000u);
  write_le(p.config, 3, 0x01, 1);  // Linux's type-1 probe: outb(0x01, 0xcfb)
  write_le(p.config, 0, 0xffff, 2);
  EXPECT_EQ(read_le(p.config, 0, 4), 0x80000000u);
  write_le(p.config, 0, 0xffffffff, 4);  // reserved bits 30:24 and 1:0 read 0
  EXPECT_EQ(read_le(p.config, 0, 4), 0x80fffffcu);
  EXPECT_EQ(read_le(p.config, 2, 2), 0x80ffu);
}

TEST(PciConfigIoTest, ReadOnlyHeaderKeepsItsValueAndBarsStayZero) {
  Platform p;
  p.write(0, 0, 0x00, 0xdeadbeef, 4);
  EXPECT_EQ(p.read(0, 0, 0x00, 4), 0x12378086u);
  for (uint8_t bar = 0x10; bar <= 0x24; bar += 4) {
    p.write(1, 3, bar, 0xffffffff, 4);  // what PciBusDxe writes to size a BAR
    EXPECT_EQ(p.read(1, 3, bar, 4), 0u) << "BAR at " << int{bar};
  }
  p.write(0, 0, 0x30, 0xfffffffe, 4);
  EXPECT_EQ(p.read(0, 0, 0x30, 4), 0u);
  p.write(0, 0, 0x04, 0xffff, 2);
  EXPECT_EQ(p.read(0, 0, 0x04, 2), 0x0407u);
  p.write(0, 0, 0x3c, 0x0a, 1);
  EXPECT_EQ(p.read(0, 0, 0x3c, 1), 0x0au);
}

TEST(PciConfigIoTest, DeviceSpecificRegistersKeepWhatOvmfWrites) {
  Platform p;
  // OVMF's PciAcpiInitialization (BdsPlatform.c) routes PIRQ A-D.
  p.write(1, 0, 0x60, 0x0a, 1);
  p.write(1, 0, 0x61, 0x0a, 1);
  p.write(1, 0, 0x62, 0x0b, 1);
  p.write(1, 0, 0x63, 0x0b, 1);
  EXPECT_EQ(p.read(1, 0, 0x60, 4), 0x0b0b0a0au);
  p.write(0, 0, 0x59, 0x30, 1);  // PAM0
  EXPECT_EQ(p.read(0, 0, 0x59, 1), 0x30u);
}

TEST(PciConfigIoTest, PmbaAndPmioseMapTheAcpiPmBlock) {
  Platform p;
  // OVMF's PlatformMiscInitialization: PMBA |= 0xb000, then PMREGMISC.PMIOSE.
  p.write(1, 3, 0x40, 0xb000, 4);
  EXPECT_EQ(p.read(1, 3, 0x40, 4), 0x0000b001u);
  EXPECT_EQ(p.pm->mapped_base(), 0u);  // not decoded until PMIOSE
  EXPECT_EQ(p.pio.lookup(0xb008).device, nullptr);
  p.write(1, 3, 0x80, 0xff, 1);
  EXPECT_EQ(p.read(1, 3, 0x80, 1), 0x01u);
  EXPECT_EQ(p.pm->mapped_base(), 0xb000u);
  EXPECT_EQ(p.pio.lookup(0xb008).device, p.pm_io);
  EXPECT_EQ(p.pio.lookup(0xb03f).device, p.pm_io);
  EXPECT_EQ(p.pio.lookup(0xb040).device, nullptr);
  fake_clock_ns = 1'000'000;  // 1 ms after the block was created at t = 0
  std::byte timer[4] = {};
  EXPECT_TRUE(p.pio.read(0xb008, timer));
  EXPECT_EQ(static_cast<uint8_t>(timer[0]) | static_cast<uint8_t>(timer[1]) << 8, 3579);
  // Moving the base moves the block; the low bits of PMBA are not part of the base.
  p.write(1, 3, 0x40, 0xc07f, 2);
  EXPECT_EQ(p.read(1, 3, 0x40, 4), 0x0000c041u);
  EXPECT_EQ(p.pm->mapped_base(), 0xc040u);
  EXPECT_EQ(p.pio.lookup(0xb008).device, nullptr);
  p.write(1, 3, 0x80, 0x00, 1);
  EXPECT_EQ(p.pm->mapped_base(), 0u);
  EXPECT_EQ(p.pio.lookup(0xc048).device, nullptr);
  fake_clock_ns = 0;
}

TEST(PciConfigIoTest, PmbaOverlappingAnotherDeviceStaysUnmapped) {
  Platform p;
  auto other = std::make_shared<acpi::AcpiPmIo>(p.sink, &fake_clock);
  ASSERT_TRUE(p.pio.insert(other, 0x3f8, 8).has_value());
  p.write(1, 3, 0x40, 0x3c0, 4);  // [0x3c0, 0x400) overlaps 0x3f8
  p.write(1, 3, 0x80, 0x01, 1);
  EXPECT_EQ(p.pm->mapped_base(), 0u);
  EXPECT_EQ(p.pio.lookup(0x3f8).device, other);
}

TEST(PciConfigIoTest, ResetControlRegisterResetsOnRcpu) {
  Platform p;
  write_le(p.config, 1, 0x02, 1);  // SRST alone: remembered, no reset
  EXPECT_EQ(read_le(p.config, 1, 1), 0x02u);
  EXPECT_TRUE(p.sink.requests.empty());
  write_le(p.config, 1, 0x06, 1);  // OVMF's ResetCold: RCPU | SRST
  ASSERT_EQ(p.sink.requests.size(), 1u);
  EXPECT_EQ(p.sink.requests[0], PowerRequest::kReset);
}

TEST(PciConfigIoTest, HostileAccessesNeverEscapeTheConfigSpace) {
  Platform p;
  write_le(p.config, 0, address(0, 0, 0xfc), 4);
  EXPECT_EQ(read_le(p.config, 7, 1), 0x00u);        // register 0xff
  EXPECT_EQ(read_le(p.config, 6, 4), 0xffffffffu);  // runs past 0xcff: master abort
  EXPECT_EQ(read_le(p.config, 8, 4), 0xffffffffu);  // past the device's ports
  EXPECT_EQ(read_le(p.config, 5, 8), 0xffffffffffffffffu);
  write_le(p.config, 7, 0x55, 1);
  write_le(p.config, 6, 0xffffffff, 4);
  write_le(p.config, 1000, 0xffffffff, 4);
  std::byte none[1];
  p.config.read(4, std::span<std::byte>(none, 0));
  p.config.write(4, std::span<const std::byte>(none, 0));
  EXPECT_EQ(p.read(0, 0, 0xfc, 4), 0x55000000u);
  const auto direct = make_i440fx_host_bridge();
  std::byte big[8];
  direct->read_config(0xfe, big);
  EXPECT_EQ(static_cast<uint8_t>(big[1]), 0x00u);
  EXPECT_EQ(static_cast<uint8_t>(big[2]), 0xffu);
  direct->read_config(0xffffffff, big);
  EXPECT_EQ(static_cast<uint8_t>(big[0]), 0xffu);
  direct->write_config(0xffffffff, big);
  EXPECT_EQ(direct->config_dword(0), 0x12378086u);
}

TEST(PciConfigIoTest, AddFunctionRefusesBadAndTakenSlots) {
  RecordingPowerSink sink;
  PciConfigIo config(sink);
  EXPECT_TRUE(config.add_function(0, 0, make_i440fx_host_bridge()).has_value());
  EXPECT_EQ(config.add_function(0, 0, make_i440fx_host_bridge()).error().message(),
            "pci: 00:00.0 is already taken");
  EXPECT_EQ(config.add_function(32, 0, make_i440fx_host_bridge()).error().message(),
            "pci: no slot 00:20.0 for a function");
  EXPECT_FALSE(config.add_function(0, 8, make_i440fx_host_bridge()).has_value());
  EXPECT_FALSE(config.add_function(2, 0, nullptr).has_value());
}

}  // namespace
}  // namespace cvm::devices::pci
