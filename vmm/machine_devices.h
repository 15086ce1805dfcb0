// SPDX-License-Identifier: Apache-2.0
// The x86 platform devices of a cvmm machine and how vCPU exits reach them:
//   port I/O  0x3f8-0x3ff  16550 UART (COM1), IRQ 4 through the IOAPIC
//             0x60-0x64    i8042 (reset via command 0xFE, used by reboot=k)
//             0x80         ignored (Linux's I/O delay port)
//             0x440        boot-timing port: each guest byte written is timestamped
//                          (CLOCK_MONOTONIC) for the boot benchmark; printed at exit
//             0x510-0x51b  fw_cfg (firmware boot only): selector 0x510, data 0x511, DMA
//                          address 0x514-0x51b (devices/fw_cfg/fw_cfg_device.h); items from
//                          vmm/fw_cfg_items.h (e820, ACPI table-loader, CPUs, kernel)
//             0x600-0x602  ACPI sleep control/status and reset registers (power-off, reset)
//   MMIO      0xd0000000+  virtio-mmio devices, 4 KiB each, IRQ 5+ (virtio_mmio_devices.h)
//   MMIO      0xfec00000   userspace IOAPIC (split irqchip), delivering MSIs with
//                          KVM_SIGNAL_MSI and mirroring its routes into KVM's GSI table so
//                          level-triggered EOIs come back as KVM_EXIT_IOAPIC_EOI.
//   MMIO      [4 GiB - image size, 4 GiB)  SEV-SNP firmware boots only: the launched firmware
//                          image, read-only (devices/firmware_rom; vmm/firmware_platform.h)
// Power requests (ACPI S5, ACPI reset, i8042 reset) stop the VM with status 0.
// Owned by vmm::Machine; must outlive the vCPU threads (the machine joins them first).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "base/result.h"
#include "devices/acpi/power_device.h"
#include "devices/bus.h"
#include "devices/debug/boot_timing_port.h"
#include "devices/fw_cfg/fw_cfg_store.h"
#include "devices/interrupt.h"
#include "devices/ioapic/ioapic.h"
#include "devices/legacy/i8042.h"
#include "devices/power_request.h"
#include "devices/serial/serial_output.h"
#include "devices/serial/uart_16550.h"
#include "vmm/config/vm_config.h"
#include "devices/virtio/virtio_device.h"
#include "vmm/console_input.h"
#include "vmm/kvm/vm.h"
#include "vmm/vcpu_runner.h"
#include "vmm/virtio_mmio_devices.h"

namespace cvm::vmm {

class MachineDevices final : public ExitDispatcher,
                             public devices::PowerRequestSink,
                             public devices::MsiSink {
 public:
  MachineDevices(const MachineDevices&) = delete;
  MachineDevices& operator=(const MachineDevices&) = delete;
  ~MachineDevices() override = default;

  /// Builds the devices and their bus ranges; `virtio` devices go to virtio-mmio slots 0, 1,
  /// ... in order. `vm` and `memory` must outlive the devices.
  /// With `fw_cfg` (firmware boot) the fw_cfg device serves it at 0x510, its DMA reaching
  /// guest memory through `memory`.
  /// Errors: kIo when the serial log file cannot be created (naming it); virtio wiring errors
  /// (VirtioMmioDevices::create).
  [[nodiscard]] static Result<std::unique_ptr<MachineDevices>> create(
      const kvm::Vm& vm, const SerialConfig& serial, GuestMemoryView& memory,
      std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> virtio = {},
      std::optional<devices::fw_cfg::FwCfgStore> fw_cfg = std::nullopt);

  /// Starts the device threads: virtio notifications, and with `--serial tty` on a terminal
  /// the console input (raw mode until the devices are destroyed; Ctrl-A x stops the VM).
  /// Call after attach() and before the vCPUs run.
  [[nodiscard]] Result<void> start();

  /// Where power requests go; set before the vCPUs start.
  void attach(VcpuRunner& runner) noexcept { runner_.store(&runner); }

  // ExitDispatcher (vCPU threads).
  void pio_read(uint16_t port, std::span<std::byte> data) override;
  void pio_write(uint16_t port, std::span<const std::byte> data) override;
  void mmio_read(uint64_t address, std::span<std::byte> data) override;
  void mmio_write(uint64_t address, std::span<const std::byte> data) override;
  void ioapic_eoi(uint8_t vector) override;

  // PowerRequestSink (devices, on vCPU threads).
  void request(devices::PowerRequest request) override;
  // MsiSink (IOAPIC, on vCPU threads).
  void deliver(const devices::MsiMessage& message) override;

  /// The port-I/O bus, for platform devices the machine adds for a firmware boot
  /// (vmm/firmware_platform.h). Insert before the vCPUs run.
  devices::Bus& pio_bus() noexcept { return pio_; }
  /// The MMIO bus, for the read-only firmware image of a confidential firmware boot
  /// (vmm/firmware_platform.h insert_firmware_rom). Insert before the vCPUs run.
  devices::Bus& mmio_bus() noexcept { return mmio_; }

  /// Marks written to the boot-timing port so far.
  std::vector<devices::debug::BootTimingMark> boot_marks() const {
    return boot_timing_->marks();
  }

 private:
  MachineDevices(const kvm::Vm& vm, const SerialConfig& serial) : vm_(vm), serial_(serial) {}
  [[nodiscard]] Result<void> insert_devices(std::unique_ptr<devices::serial::SerialOutput> out);
  void update_route(const devices::ioapic::IoapicRoute& route);

  const kvm::Vm& vm_;
  SerialConfig serial_;
  std::atomic<VcpuRunner*> runner_{nullptr};
  devices::Bus pio_{devices::BusKind::kPio};
  devices::Bus mmio_{devices::BusKind::kMmio};
  std::unique_ptr<devices::serial::SerialOutput> serial_output_;
  std::shared_ptr<devices::ioapic::Ioapic> ioapic_;
  std::unique_ptr<devices::ioapic::IoapicPin> com1_irq_;
  std::shared_ptr<devices::serial::Uart16550> com1_;
  std::shared_ptr<devices::debug::BootTimingPort> boot_timing_;
  std::mutex routes_mutex_;
  std::array<devices::ioapic::IoapicRoute, devices::ioapic::kIoapicPinCount> routes_{};
  std::atomic<uint64_t> msi_failures_{0};
  // Last: destroyed first, so virtio devices stop (and stop raising irqfds or touching
  // guest memory) before anything they use goes away.
  std::unique_ptr<VirtioMmioDevices> virtio_;
  std::unique_ptr<ConsoleInput> console_input_;  // stops (and restores the tty) first
};

/// The serial sink for `serial`: stdout, a new file (truncated), or nothing.
/// Errors: kIo naming the file.
[[nodiscard]] Result<std::unique_ptr<devices::serial::SerialOutput>> open_serial_output(
    const SerialConfig& serial);

}  // namespace cvm::vmm
