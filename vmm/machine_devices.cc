// SPDX-License-Identifier: Apache-2.0
#include "vmm/machine_devices.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include "devices/fw_cfg/fw_cfg_device.h"

namespace cvm::vmm {
namespace {

/// Accepts and ignores everything (Linux writes port 0x80 as an I/O delay); reads 0xff.
class IgnoredPort final : public devices::BusDevice {
 public:
  void read(uint64_t, std::span<std::byte> data) override {
    for (std::byte& b : data) {
      b = std::byte{0xff};
    }
  }
  void write(uint64_t, std::span<const std::byte>) override {}
};

constexpr uint16_t kIoDelayPort = 0x80;

}  // namespace

Result<std::unique_ptr<devices::serial::SerialOutput>> open_serial_output(
    const SerialConfig& serial) {
  using devices::serial::DiscardSerialOutput;
  using devices::serial::FdSerialOutput;
  switch (serial.mode) {
    case SerialMode::kTty:
      return std::unique_ptr<devices::serial::SerialOutput>(
          new FdSerialOutput(FdSerialOutput::borrowed(STDOUT_FILENO)));
    case SerialMode::kFile: {
      UniqueFd fd(::open(serial.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!fd.valid()) {
        return errno_error(ErrorCode::kIo, fmt::format("serial log {}", serial.file), errno);
      }
      return std::unique_ptr<devices::serial::SerialOutput>(new FdSerialOutput(std::move(fd)));
    }
    case SerialMode::kOff:
      return std::unique_ptr<devices::serial::SerialOutput>(new DiscardSerialOutput());
  }
  return make_error(ErrorCode::kInternal, "unknown serial mode");
}

Result<std::unique_ptr<MachineDevices>> MachineDevices::create(
    const kvm::Vm& vm, const SerialConfig& serial, GuestMemoryView& memory,
    std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> virtio,
    std::optional<devices::fw_cfg::FwCfgStore> fw_cfg) {
  CVM_ASSIGN_OR_RETURN(auto output, open_serial_output(serial));
  std::unique_ptr<MachineDevices> devices(new MachineDevices(vm, serial));
  CVM_TRY(devices->insert_devices(std::move(output)));
  if (fw_cfg) {
    namespace fw = cvm::devices::fw_cfg;
    CVM_TRY(devices->pio_.insert(std::make_shared<fw::FwCfgDevice>(std::move(*fw_cfg), memory),
                                 fw::kFwCfgPortBase, fw::kFwCfgPortCount));
  }
  if (!virtio.empty()) {
    CVM_ASSIGN_OR_RETURN(devices->virtio_,
                         VirtioMmioDevices::create(vm, memory, devices->mmio_, std::move(virtio)));
  }
  return devices;
}

Result<void> MachineDevices::insert_devices(std::unique_ptr<devices::serial::SerialOutput> out) {
  namespace d = devices;
  serial_output_ = std::move(out);
  ioapic_ = std::make_shared<d::ioapic::Ioapic>(*this);
  CVM_TRY(mmio_.insert(ioapic_, d::ioapic::kIoapicDefaultBase, d::ioapic::kIoapicMmioSize));
  com1_irq_ = std::make_unique<d::ioapic::IoapicPin>(*ioapic_, d::serial::kCom1Irq);
  com1_ = std::make_shared<d::serial::Uart16550>(*com1_irq_, *serial_output_);
  CVM_TRY(pio_.insert(com1_, d::serial::kCom1Port, d::serial::kUartRegisterCount));
  CVM_TRY(pio_.insert(std::make_shared<d::legacy::I8042>(*this), d::legacy::kI8042PortBase,
                      d::legacy::kI8042PortCount));
  CVM_TRY(pio_.insert(std::make_shared<IgnoredPort>(), kIoDelayPort, 1));
  boot_timing_ = std::make_shared<d::debug::BootTimingPort>();
  CVM_TRY(pio_.insert(boot_timing_, d::debug::kBootTimingPort, d::debug::kBootTimingPortCount));
  CVM_TRY(pio_.insert(std::make_shared<d::acpi::PowerDevice>(*this), d::acpi::kAcpiPowerPortBase,
                      d::acpi::kAcpiPowerPortCount));
  // Reports all 24 (masked) routes at once, which installs an empty GSI table.
  ioapic_->set_route_observer([this](const d::ioapic::IoapicRoute& r) { update_route(r); });
  return ok();
}

Result<void> MachineDevices::start() {
  if (virtio_) {
    CVM_TRY(virtio_->start());
  }
  if (serial_.mode != SerialMode::kTty || console_input_ || ::isatty(STDIN_FILENO) != 1) {
    return ok();
  }
  CVM_ASSIGN_OR_RETURN(auto raw, RawTerminal::enter(STDIN_FILENO));
  auto on_quit = [this] {
    if (VcpuRunner* runner = runner_.load()) {
      runner->request_stop(0, "console escape Ctrl-A x");
    }
  };
  CVM_ASSIGN_OR_RETURN(console_input_,
                       ConsoleInput::start(STDIN_FILENO, *com1_, on_quit, std::move(raw)));
  return ok();
}

void MachineDevices::pio_read(uint16_t port, std::span<std::byte> data) { pio_.read(port, data); }

void MachineDevices::pio_write(uint16_t port, std::span<const std::byte> data) {
  pio_.write(port, data);
}

void MachineDevices::mmio_read(uint64_t address, std::span<std::byte> data) {
  mmio_.read(address, data);
}

void MachineDevices::mmio_write(uint64_t address, std::span<const std::byte> data) {
  mmio_.write(address, data);
}

void MachineDevices::ioapic_eoi(uint8_t vector) { ioapic_->on_eoi(vector); }

void MachineDevices::request(devices::PowerRequest request) {
  if (VcpuRunner* runner = runner_.load()) {
    runner->request_stop(0, fmt::format("guest requested {}", devices::to_string(request)));
  }
}

void MachineDevices::deliver(const devices::MsiMessage& message) {
  auto delivered = vm_.signal_msi(message.address, message.data);
  // A failing KVM_SIGNAL_MSI means a broken route, not a guest error; report it once rather
  // than on every interrupt.
  if (!delivered && msi_failures_.fetch_add(1) == 0) {
    std::fprintf(stderr, "cvmm: delivering MSI %#llx/%#x: %s\n",
                 static_cast<unsigned long long>(message.address), message.data,
                 delivered.error().message().c_str());
  }
}

void MachineDevices::update_route(const devices::ioapic::IoapicRoute& route) {
  std::lock_guard lock(routes_mutex_);
  if (route.pin >= routes_.size()) {
    return;
  }
  routes_[route.pin] = route;
  std::vector<kvm_irq_routing_entry> table;
  for (const auto& r : routes_) {
    if (r.masked) {
      continue;
    }
    kvm_irq_routing_entry entry{};
    entry.gsi = r.pin;
    entry.type = KVM_IRQ_ROUTING_MSI;
    entry.u.msi.address_lo = r.msi.address_lo();
    entry.u.msi.address_hi = r.msi.address_hi();
    entry.u.msi.data = r.msi.data;
    table.push_back(entry);
  }
  // KVM derives the level-triggered vectors whose EOI it must report (KVM_EXIT_IOAPIC_EOI)
  // from these routes; a failure leaves the previous table in place.
  auto result = vm_.set_gsi_routing(table);
  if (!result) {
    std::fprintf(stderr, "cvmm: mirroring IOAPIC routes: %s\n", result.error().message().c_str());
  }
}

}  // namespace cvm::vmm
