// SPDX-License-Identifier: Apache-2.0
// VirtioMmioDevices: the machine's virtio-mmio devices on x86_64 (issue 3). For device n it
// maps a MmioTransport at slot n's window (vmm/x86/layout.h: 0xd0000000 + n * 4 KiB, IRQ 5 + n),
// and wires the data path around the vCPUs (virtio 1.2 §4.2.3.3, §4.2.3.4):
//   driver -> device: one ioeventfd per queue on QueueNotify (datamatch = queue index), so a
//     notification is an in-kernel eventfd signal instead of an MMIO exit. A device with its
//     own event loop adopts its queues' eventfds (VirtioDevice::adopt_queue_notifier, given a
//     dup) and is woken by the kick itself; for the others one notifier thread
//     ("virtio-notify") polls them and calls the transport's notify_queue() off the vCPUs;
//   device -> driver: an irqfd on GSI = the slot's IOAPIC pin. With the split irqchip that GSI
//     is the MSI route MachineDevices mirrors from the guest-programmed IOAPIC entry, so an
//     interrupt is one eventfd write. The DSDT describes the pin as edge-triggered, matching
//     irqfd without a resampler.
// The devices are described to the guest by the DSDT (LNRO0005) and, when the user turned
// ACPI off, by virtio_mmio.device= arguments (vmm/x86/cmdline.h); slots() gives both.
//
// Owned by MachineDevices; destroyed only after the vCPU threads are joined. Destruction stops
// the notifier thread, then resets each device (which waits for its in-flight work), so no
// device touches guest memory after this object is gone.
#pragma once

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "base/guest_memory_view.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "devices/bus.h"
#include "devices/interrupt.h"
#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/virtio_device.h"
#include "vmm/kvm/vm.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm {

/// An InterruptLine that raises a GSI through KVM_IRQFD: trigger() is one eventfd write.
/// Thread-safe (eventfd writes are atomic).
class IrqfdLine final : public devices::InterruptLine {
 public:
  /// Creates the eventfd and registers it for `gsi`. Errors name the GSI and errno.
  [[nodiscard]] static Result<std::unique_ptr<IrqfdLine>> create(const kvm::Vm& vm, uint32_t gsi);

  void trigger() override;
  /// Edge semantics only (the DSDT says edge): a rising level is one pulse.
  void set_level(bool asserted) override;

  int event_fd() const noexcept { return event_.get(); }

 private:
  explicit IrqfdLine(UniqueFd event) noexcept : event_(std::move(event)) {}
  UniqueFd event_;
};

class VirtioMmioDevices final {
 public:
  VirtioMmioDevices(const VirtioMmioDevices&) = delete;
  VirtioMmioDevices& operator=(const VirtioMmioDevices&) = delete;
  /// Stops the notifier thread, then resets every device.
  ~VirtioMmioDevices();

  /// Wires `devices` in order into slots 0, 1, ... on `mmio_bus`. `vm`, `memory` and
  /// `mmio_bus` must outlive the result. Does not start the notifier (see start()).
  /// Errors: kInvalidArgument for more devices than slots; kKvm naming the failing
  /// irqfd/ioeventfd registration; kIo for eventfd/epoll failures.
  [[nodiscard]] static Result<std::unique_ptr<VirtioMmioDevices>> create(
      const kvm::Vm& vm, GuestMemoryView& memory, devices::Bus& mmio_bus,
      std::vector<std::unique_ptr<devices::virtio::VirtioDevice>> devices);

  /// Starts the notifier thread (once). Errors: kIo if the thread cannot start.
  [[nodiscard]] Result<void> start();

  /// The slots of the wired devices, in order (the first disk is the first slot).
  std::vector<x86::VirtioMmioSlot> slots() const;

 private:
  struct Wired {
    x86::VirtioMmioSlot slot;
    std::unique_ptr<devices::virtio::VirtioDevice> device;
    std::unique_ptr<IrqfdLine> irq;
    std::shared_ptr<devices::virtio::MmioTransport> transport;
    std::vector<UniqueFd> queue_events;  // index = queue
  };

  VirtioMmioDevices(UniqueFd epoll, UniqueFd stop_event) noexcept
      : epoll_(std::move(epoll)), stop_event_(std::move(stop_event)) {}
  [[nodiscard]] Result<void> wire(const kvm::Vm& vm, GuestMemoryView& memory,
                                  devices::Bus& mmio_bus,
                                  std::unique_ptr<devices::virtio::VirtioDevice> device);
  [[nodiscard]] Result<void> watch(int fd, uint64_t token);
  void notifier_main() noexcept;

  UniqueFd epoll_;
  UniqueFd stop_event_;
  std::vector<Wired> wired_;
  std::thread notifier_;
};

}  // namespace cvm::vmm
