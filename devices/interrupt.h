// SPDX-License-Identifier: Apache-2.0
// Interrupt outputs of device models. Devices raise interrupts only through these interfaces;
// the machine (vmm/) implements them with irqfd, KVM_SIGNAL_MSI or GSI routes, and tests
// implement them with recorders. Included by devices/ and by vmm/.
#pragma once

#include <cstdint>

namespace cvm::devices {

/// One interrupt input pin of an interrupt controller (IOAPIC pin, GSI) as seen by a device.
///
/// Thread-safety: devices call these from vCPU threads and from the event-loop thread, often
/// while holding their own mutex. Implementations must be thread-safe, must not block for
/// long, and must never call back into the device that raised the line (lock order is always
/// device -> interrupt controller -> MsiSink). Failures (a failing irqfd write) are the
/// implementation's to log; a device cannot do anything about them.
class InterruptLine {
 public:
  virtual ~InterruptLine() = default;

  /// Edge-triggered use: one pulse (assert, then deassert).
  virtual void trigger() = 0;

  /// Level-triggered use: `asserted` is the logical level (polarity already applied, so an
  /// active-low PCI INTx pin is still reported as `true` when active). Devices call this only
  /// when the level changes, but implementations must tolerate repeats.
  virtual void set_level(bool asserted) = 0;
};

/// A message-signalled interrupt in the x86 format (Intel SDM vol. 3, §11.11 "Message
/// Signalled Interrupts"; AMD APM vol. 2 §16.5).
///
/// `address` bits: 31:20 = 0xFEE, 19:12 destination ID bits 7:0, 3 redirection hint,
/// 2 destination mode (1 = logical). Destination ID bits 31:8 (x2APIC) travel in bits 63:40,
/// i.e. address_hi[31:8], which is what KVM reads when the VM enabled KVM_CAP_X2APIC_API with
/// KVM_X2APIC_API_USE_32BIT_IDS.
/// `data` bits: 7:0 vector, 10:8 delivery mode, 14 level (1 = assert), 15 trigger mode
/// (1 = level).
struct MsiMessage {
  uint64_t address = 0;
  uint32_t data = 0;

  uint32_t address_lo() const noexcept { return static_cast<uint32_t>(address); }
  uint32_t address_hi() const noexcept { return static_cast<uint32_t>(address >> 32); }
  friend bool operator==(const MsiMessage&, const MsiMessage&) = default;
};

/// Delivers MSIs to the local APICs (KVM_SIGNAL_MSI, or an irqfd behind a GSI route).
/// Thread-safety and re-entrancy rules are those of InterruptLine.
class MsiSink {
 public:
  virtual ~MsiSink() = default;
  virtual void deliver(const MsiMessage& message) = 0;
};

}  // namespace cvm::devices
