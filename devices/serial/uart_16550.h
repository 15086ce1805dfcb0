// SPDX-License-Identifier: Apache-2.0
// A 16550A UART register model (the PC's COM ports) as the Linux 8250 driver probes and
// drives it. Register map and bit meanings: National Semiconductor PC16550D data sheet,
// Table II "Summary of Accessible Registers" (also include/uapi/linux/serial_reg.h).
// x86 only (architecture-anchors §B.3: s390x has no port I/O). Included by the machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

#include "devices/bus.h"
#include "devices/interrupt.h"
#include "devices/serial/serial_output.h"

namespace cvm::devices::serial {

/// Conventional PC COM1 resources (IBM PC/AT): ports 0x3f8-0x3ff, ISA IRQ 4 (edge-triggered,
/// active-high on the IOAPIC, the ISA default of the MP/ACPI MADT conventions).
inline constexpr uint16_t kCom1Port = 0x3f8;
inline constexpr uint32_t kCom1Irq = 4;
/// Size of the register window: offsets 0-7.
inline constexpr uint64_t kUartRegisterCount = 8;

/// 16550A register model.
///
/// Behaviour a driver can observe:
/// - Transmission is instantaneous: THR writes go straight to the SerialOutput (or, in
///   loopback mode, into the receive FIFO), so LSR.THRE and LSR.TEMT always read 1 and a THRE
///   interrupt is pending again right after each THR write.
/// - Receive: host input (feed_input) waits in a bounded host queue and moves into the
///   16-byte receive FIFO (1-byte RBR when FIFOs are disabled) as the guest reads. With FIFOs
///   enabled and fewer bytes than the trigger level, IIR reports the character timeout (0xC)
///   at once, as if the four character times had passed, so input is never stuck.
/// - The interrupt output is IIR-pending AND MCR.OUT2 AND NOT MCR.LOOP, as on PC boards where
///   OUT2 gates the IRQ line and loopback forces OUT2 inactive. The line is driven with
///   InterruptLine::set_level on each change; an edge-triggered IOAPIC pin sees each rising
///   edge, which is what the 8250 driver's interrupt loop relies on.
/// - Modem lines: outside loopback, DCD, DSR and CTS read asserted (a connected terminal)
///   and RI deasserted.
///
/// Thread-safety: every public member locks a private mutex; read/write come from vCPU
/// threads and feed_input from the machine's stdin thread. The InterruptLine and SerialOutput
/// are called with that mutex held (see their lock-order rules) and must outlive the UART.
class Uart16550 final : public BusDevice {
 public:
  /// Receive FIFO depth of a 16550A.
  static constexpr std::size_t kFifoSize = 16;
  /// Host-side input queued behind the FIFO; feed_input refuses bytes beyond this.
  static constexpr std::size_t kInputQueueCapacity = 4096;

  Uart16550(InterruptLine& interrupt, SerialOutput& output) noexcept
      : interrupt_(interrupt), output_(output) {}

  /// BusDevice: multi-byte accesses are handled one register per byte (offset + i).
  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

  /// Single-register access, the unit of the model. `offset` >= 8 reads 0xff / is ignored.
  uint8_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint8_t value);

  /// Queues host input (bytes read from stdin) for the guest and raises the receive interrupt
  /// if enabled. Returns how many bytes were accepted; the rest did not fit the host queue and
  /// should be offered again later (input_room() says how much fits).
  std::size_t feed_input(std::span<const std::byte> bytes);
  std::size_t input_room() const;

  /// Called (on a vCPU thread, with the UART mutex held, so it must not call back into the
  /// UART; typically it writes an eventfd) once the guest has drained the host queue to at
  /// least half its capacity after a feed_input() that could not take everything. Lets the
  /// stdin thread stop polling stdin while the queue is full. Replaces any earlier notifier.
  void set_input_room_notifier(std::function<void()> notifier);

  /// Whether the interrupt output is currently asserted (for tests and debugging).
  bool interrupt_asserted() const;

 private:
  uint8_t read_locked(uint64_t offset);
  void write_locked(uint64_t offset, uint8_t value);
  void write_ier(uint8_t value);
  void write_fcr(uint8_t value);
  void write_mcr(uint8_t value);
  void transmit(uint8_t value);
  uint8_t receive();
  uint8_t read_iir();
  uint8_t read_lsr();
  uint8_t read_msr();
  /// Modem-status input bits (MSR 7:4) as the line state currently implies.
  uint8_t modem_status_inputs() const;
  /// Interrupt identification (IIR bits 3:0) of the highest-priority pending source.
  uint8_t pending_interrupt_id() const;
  bool fifo_enabled() const;
  std::size_t receive_capacity() const;
  std::size_t trigger_level() const;
  bool loopback() const;
  /// Moves host input into the receive FIFO while it has room (not in loopback mode).
  void refill_receive_fifo();
  /// Recomputes the interrupt output and drives the line if it changed.
  void update_interrupt();

  InterruptLine& interrupt_;
  SerialOutput& output_;
  mutable std::mutex mutex_;
  // Everything below is guarded by mutex_.
  uint8_t ier_ = 0;
  uint8_t fcr_ = 0;  // write-only register; kept for IIR bits 7:6 and the trigger level
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t lsr_errors_ = 0;  // sticky LSR error bits (overrun), cleared by reading LSR
  uint8_t msr_deltas_ = 0;  // MSR bits 3:0, cleared by reading MSR
  uint8_t msr_inputs_ = 0xb0;  // MSR bits 7:4 as last computed (DCD|DSR|CTS), for deltas
  uint8_t scr_ = 0;
  uint16_t divisor_ = 0;
  bool thr_interrupt_pending_ = false;
  bool interrupt_asserted_ = false;
  std::deque<uint8_t> receive_fifo_;
  std::deque<uint8_t> host_input_;
  bool input_blocked_ = false;  // feed_input refused bytes; notify when room comes back
  std::function<void()> input_room_notifier_;
};

}  // namespace cvm::devices::serial
