// SPDX-License-Identifier: Apache-2.0
// A userspace I/O APIC (Intel 82093AA) for KVM's split irqchip: the local APICs stay in the
// kernel, this model turns pin levels into MSIs. Reference: Intel 82093AA I/O Advanced
// Programmable Interrupt Controller (IOAPIC) datasheet, 1996, §3 "Register Description";
// the version 0x20 EOI register follows the ICH/PCH I/O APIC. Included by the machine.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

#include "devices/bus.h"
#include "devices/interrupt.h"

namespace cvm::devices::ioapic {

/// Default MMIO window of the first I/O APIC on PCs (82093AA §3.0; MP spec, ACPI MADT).
inline constexpr uint64_t kIoapicDefaultBase = 0xfec00000;
inline constexpr uint64_t kIoapicMmioSize = 0x1000;
inline constexpr unsigned kIoapicPinCount = 24;
inline constexpr uint8_t kIoapicVersion = 0x20;

/// MMIO offsets (datasheet §3.0; EOI register: PCH datasheets, "EOI Register").
inline constexpr uint64_t kIoregselOffset = 0x00;
inline constexpr uint64_t kIowinOffset = 0x10;
inline constexpr uint64_t kEoiOffset = 0x40;

/// Register indices selected through IOREGSEL (datasheet Table 2).
inline constexpr uint8_t kRegId = 0x00;
inline constexpr uint8_t kRegVersion = 0x01;
inline constexpr uint8_t kRegArbitration = 0x02;
inline constexpr uint8_t kRegRedirectionBase = 0x10;  // entry n: low 0x10+2n, high 0x11+2n

/// Redirection-table entry fields (datasheet §3.2.4, IOREDTBL[23:0]).
inline constexpr uint64_t kRteVectorMask = 0xff;                 // bits 7:0
inline constexpr unsigned kRteDeliveryModeShift = 8;              // bits 10:8
inline constexpr uint64_t kRteDestModeLogical = 1ULL << 11;
inline constexpr uint64_t kRteDeliveryStatus = 1ULL << 12;       // read-only, always 0 here
inline constexpr uint64_t kRteActiveLow = 1ULL << 13;
inline constexpr uint64_t kRteRemoteIrr = 1ULL << 14;            // read-only
inline constexpr uint64_t kRteLevelTriggered = 1ULL << 15;
inline constexpr uint64_t kRteMasked = 1ULL << 16;
inline constexpr unsigned kRteExtendedDestShift = 49;              // bits 55:49, dest ID 14:8
inline constexpr unsigned kRteDestShift = 56;                      // bits 63:56, dest ID 7:0
/// Reset value of every entry: masked, everything else 0.
inline constexpr uint64_t kRteResetValue = kRteMasked;

/// The MSI a redirection entry describes (Intel SDM vol. 3 §11.11.1-2):
///   address = 0xFEE00000 | dest[7:0] << 12 | dest_mode_logical << 2
///             | dest[14:8] << 40   (extended destination ID, RTE bits 55:49)
///   data    = vector | delivery_mode << 8 | (level ? 1 << 14 | 1 << 15 : 0)
/// Destination bits 14:8 come from the 15-bit "extended destination ID" format that Linux
/// uses when the hypervisor advertises KVM_FEATURE_MSI_EXT_DEST_ID. They are placed in
/// address_hi[14:8], which KVM reads as destination bits 14:8 once the VM enabled
/// KVM_CAP_X2APIC_API with KVM_X2APIC_API_USE_32BIT_IDS; with <= 255 APIC IDs they are 0.
/// Mask and remote-IRR bits are ignored. Pure.
MsiMessage redirection_entry_to_msi(uint64_t entry) noexcept;

/// What a pin currently routes to, reported to the RouteObserver.
struct IoapicRoute {
  unsigned pin = 0;
  MsiMessage msi;
  bool masked = true;
  bool level_triggered = false;
};

/// 82093AA with 24 pins, delivering through an MsiSink.
///
/// Semantics:
/// - Pin inputs are logical levels (`set_irq(pin, true)` = asserted); the polarity bit is
///   stored for the guest but not applied, the device models already report active = true.
/// - Edge-triggered pin: a rising edge latches the pin's IRR; an unmasked pin with IRR set
///   delivers once and clears it. Unlike the datasheet (which drops edges on masked pins) a
///   latched edge is delivered when the guest unmasks the pin, as QEMU does, so an edge that
///   arrives while Linux sets up the IRQ is not lost.
/// - Level-triggered pin: while asserted, unmasked and remote IRR clear, deliver and set
///   remote IRR. on_eoi(vector) clears remote IRR of the level pins with that vector and
///   delivers again if the line is still asserted. Reprogramming a pin to edge clears it.
/// - Delivery status always reads 0: delivery is synchronous.
///
/// The machine must mirror each pin's route into KVM (KVM_SET_GSI_ROUTING, GSI = pin) so the
/// split irqchip knows the level-triggered vectors and reports their EOIs as
/// KVM_EXIT_IOAPIC_EOI; the RouteObserver reports every redirection-entry change for that.
///
/// Thread-safety: every public member locks a private mutex. The MsiSink and RouteObserver
/// are called with it held; they must not call back into the IOAPIC.
class Ioapic final : public BusDevice {
 public:
  using RouteObserver = std::function<void(const IoapicRoute&)>;

  /// `sink` must outlive the IOAPIC. `id` is the APIC ID reported in the ID register (bits
  /// 27:24) and in the ACPI MADT.
  explicit Ioapic(MsiSink& sink, uint8_t id = 0) noexcept;

  /// MMIO window, offsets relative to the base (kIoapicDefaultBase).
  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

  /// Drives input pin `pin` (0..23). An out-of-range pin is a machine bug: logged, ignored.
  void set_irq(unsigned pin, bool asserted);

  /// The local APICs accepted an EOI for `vector` (KVM_EXIT_IOAPIC_EOI, or a guest write to
  /// the EOI register).
  void on_eoi(uint8_t vector);

  /// Installs the observer and immediately reports all 24 routes through it.
  void set_route_observer(RouteObserver observer);

  /// Register-level access, the unit of the model (index as written to IOREGSEL).
  uint32_t read_register(uint8_t index);
  void write_register(uint8_t index, uint32_t value);

  /// The current redirection entry of `pin` including remote IRR (0 for a bad pin).
  uint64_t redirection_entry(unsigned pin) const;

 private:
  uint32_t read_register_locked(uint8_t index) const;
  void write_register_locked(uint8_t index, uint32_t value);
  void write_redirection_locked(unsigned pin, bool high_half, uint32_t value);
  void on_eoi_locked(uint8_t vector);
  /// Delivers `pin`'s interrupt if it is pending and deliverable.
  void service_locked(unsigned pin);
  void report_route_locked(unsigned pin) const;

  MsiSink& sink_;
  mutable std::mutex mutex_;
  // Guarded by mutex_.
  RouteObserver route_observer_;
  uint8_t id_ = 0;
  uint8_t ioregsel_ = 0;
  std::array<uint64_t, kIoapicPinCount> redirection_{};
  uint32_t line_level_ = 0;  // bit n: pin n asserted
  uint32_t irr_ = 0;         // bit n: pin n has an interrupt waiting (edge latched / level high)
};

/// An InterruptLine wired to one IOAPIC pin (e.g. the UART on pin 4). Holds a reference:
/// the Ioapic must outlive it.
class IoapicPin final : public InterruptLine {
 public:
  IoapicPin(Ioapic& ioapic, unsigned pin) noexcept : ioapic_(ioapic), pin_(pin) {}
  void trigger() override {
    ioapic_.set_irq(pin_, true);
    ioapic_.set_irq(pin_, false);
  }
  void set_level(bool asserted) override { ioapic_.set_irq(pin_, asserted); }

 private:
  Ioapic& ioapic_;
  unsigned pin_;
};

}  // namespace cvm::devices::ioapic
