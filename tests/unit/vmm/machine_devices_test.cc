// SPDX-License-Identifier: Apache-2.0
// The machine's device wiring: power requests stop the runner, COM1 reaches the serial sink and
// raises its IOAPIC pin as an MSI, and IOAPIC routes are mirrored into KVM's GSI table.
#include "vmm/machine_devices.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/system.h"

namespace cvm::vmm {
namespace {

struct Fixture {
  BufferGuestMemory memory{0, 1 << 20};
  kvm::RecordingSys sys;
  std::optional<kvm::System> system;
  std::optional<kvm::Vm> vm;
  std::unique_ptr<MachineDevices> devices;
  std::unique_ptr<VcpuRunner> runner;

  explicit Fixture(SerialConfig serial = {SerialMode::kOff, ""}) {
    system.emplace(std::move(kvm::System::open(sys)).value());
    vm.emplace(std::move(system->create_vm(KVM_X86_DEFAULT_VM)).value());
    auto created = MachineDevices::create(*vm, serial, memory);
    EXPECT_TRUE(created.has_value()) << created.error().message();
    devices = std::move(created).value();
    runner = std::move(VcpuRunner::create({}, *devices)).value();
    devices->attach(*runner);
  }
  void out(uint16_t port, uint8_t value) {
    const std::byte byte{value};
    devices->pio_write(port, std::span(&byte, 1));
  }
  void mmio_out32(uint64_t address, uint32_t value) {
    std::byte bytes[4];
    std::memcpy(bytes, &value, 4);
    devices->mmio_write(address, bytes);
  }
};

TEST(MachineDevicesTest, I8042ResetStopsWithStatusZero) {
  Fixture f;
  f.out(0x64, 0xfe);
  ASSERT_TRUE(f.runner->stop_requested());
  const StopReport report = f.runner->wait();
  EXPECT_EQ(report.status, 0);
  EXPECT_EQ(report.reason, "guest requested reset");
}

TEST(MachineDevicesTest, AcpiSleepS5PowersOff) {
  Fixture f;
  f.out(0x600, (5 << 2) | 0x20);
  EXPECT_EQ(f.runner->wait().reason, "guest requested power-off");
}

TEST(MachineDevicesTest, Com1WritesReachTheSerialFile) {
  const std::string path = ::testing::TempDir() + "cvmm_serial_" + std::to_string(::getpid());
  {
    Fixture f({SerialMode::kFile, path});
    for (char c : std::string("ok\n")) {
      f.out(0x3f8, static_cast<uint8_t>(c));
    }
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  ::unlink(path.c_str());
  EXPECT_EQ(text.str(), "ok\n");
}

TEST(MachineDevicesTest, SerialLogThatCannotBeCreatedIsAnError) {
  kvm::RecordingSys sys;
  auto system = kvm::System::open(sys);
  auto vm = system->create_vm(KVM_X86_DEFAULT_VM);
  BufferGuestMemory memory(0, 4096);
  auto devices =
      MachineDevices::create(*vm, {SerialMode::kFile, "/nonexistent/dir/log"}, memory);
  ASSERT_FALSE(devices.has_value());
  EXPECT_EQ(devices.error().message(),
            "serial log /nonexistent/dir/log: No such file or directory");
}

TEST(MachineDevicesTest, UnmaskedIoapicPinIsMirroredAndCom1InterruptBecomesMsi) {
  Fixture f;
  // IOREDTBL[4]: vector 0x31, fixed, physical destination 0, edge, unmasked.
  f.mmio_out32(0xfec00000, 0x10 + 2 * 4 + 1);
  f.mmio_out32(0xfec00010, 0);
  f.mmio_out32(0xfec00000, 0x10 + 2 * 4);
  f.mmio_out32(0xfec00010, 0x31);
  const auto routing = f.sys.calls_named("KVM_SET_GSI_ROUTING");
  ASSERT_FALSE(routing.empty());
  const auto& last = routing.back();
  ASSERT_EQ(last.arg_as<kvm_irq_routing>().nr, 1u);
  kvm_irq_routing_entry entry{};
  std::memcpy(&entry, last.arg_bytes.data() + 8, sizeof(entry));
  EXPECT_EQ(entry.gsi, 4u);
  EXPECT_EQ(entry.type, static_cast<uint32_t>(KVM_IRQ_ROUTING_MSI));
  EXPECT_EQ(entry.u.msi.address_lo, 0xfee00000u);
  EXPECT_EQ(entry.u.msi.data, 0x31u);

  // UART: OUT2 gates the IRQ, IER bit 1 enables the THR-empty interrupt -> pin 4 rises.
  f.out(0x3f8 + 4, 0x08);
  f.out(0x3f8 + 1, 0x02);
  const auto msis = f.sys.calls_named("KVM_SIGNAL_MSI");
  ASSERT_FALSE(msis.empty());
  EXPECT_EQ(msis.back().arg_as<kvm_msi>().address_lo, 0xfee00000u);
  EXPECT_EQ(msis.back().arg_as<kvm_msi>().data, 0x31u);
}

TEST(MachineDevicesTest, IoDelayAndBootTimingPortsAreHandled) {
  Fixture f;
  f.out(0x80, 0x00);
  f.out(0x440, 0x07);
  const auto marks = f.devices->boot_marks();
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].value, 0x07);
  EXPECT_FALSE(f.runner->stop_requested());
}

}  // namespace
}  // namespace cvm::vmm
