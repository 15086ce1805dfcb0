// SPDX-License-Identifier: Apache-2.0
// The part of the PC keyboard controller (Intel 8042) a guest uses to reset the machine, plus
// system control port B (0x61). No keyboard or mouse is attached. Included by the machine.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>

#include "devices/bus.h"
#include "devices/power_request.h"

namespace cvm::devices::legacy {

/// The device covers ports 0x60-0x64: 0x60 data, 0x61 system control port B, 0x64
/// status (read) / command (write). 0x62 and 0x63 read 0 and ignore writes.
inline constexpr uint16_t kI8042PortBase = 0x60;
inline constexpr uint64_t kI8042PortCount = 5;

/// Controller commands written to port 0x64 (IBM PC/AT Technical Reference, "Keyboard
/// Controller"; the names follow Linux drivers/input/serio/i8042.h).
inline constexpr uint8_t kI8042CmdReadCtr = 0x20;
inline constexpr uint8_t kI8042CmdWriteCtr = 0x60;
inline constexpr uint8_t kI8042CmdAuxDisable = 0xa7;
inline constexpr uint8_t kI8042CmdAuxEnable = 0xa8;
inline constexpr uint8_t kI8042CmdAuxTest = 0xa9;
inline constexpr uint8_t kI8042CmdSelfTest = 0xaa;
inline constexpr uint8_t kI8042CmdKbdTest = 0xab;
inline constexpr uint8_t kI8042CmdKbdDisable = 0xad;
inline constexpr uint8_t kI8042CmdKbdEnable = 0xae;
inline constexpr uint8_t kI8042CmdReadOutputPort = 0xd0;
inline constexpr uint8_t kI8042CmdWriteOutputPort = 0xd1;
inline constexpr uint8_t kI8042CmdPulseReset = 0xfe;  // pulse output port bit 0 (CPU reset)

/// Status register bits (port 0x64 read).
inline constexpr uint8_t kI8042StatusOutputFull = 0x01;  // OBF: data waiting at 0x60
inline constexpr uint8_t kI8042StatusInputFull = 0x02;   // IBF: always 0, commands run at once
inline constexpr uint8_t kI8042StatusSystemFlag = 0x04;  // passed self-test (CTR bit 2)
inline constexpr uint8_t kI8042StatusCommand = 0x08;     // last write went to 0x64
inline constexpr uint8_t kI8042StatusUnlocked = 0x10;    // keyboard not inhibited

/// Reset paths (each sends PowerRequest::kReset): command 0xFE and every pulse command 0xF0-0xFF
/// with bit 0 clear (Linux reboot=k writes 0xFE ten times after waiting for IBF to clear), and
/// command 0xD1 followed by an output-port byte with bit 0 (the reset line) clear.
/// Linux with reboot=k (arch/x86/kernel/reboot.c) only polls status at 0x64 in kb_wait() and
/// writes 0xFE to 0x64; older kernels poll with inb_p(), which also writes port 0x80 (left to
/// the bus's unhandled path). Linux's default reboot order tries the FADT reset register
/// (acpi::PowerDevice) first and falls back to this path.
/// Port 0x61 reads 0: no NMI source (bits 7:6, read by Linux's NMI handler), speaker and PIT
/// gate 2 off; writes are ignored.
///
/// Command responses are placed in the output buffer (read at 0x60); no IRQ 1/12 is raised.
/// Bytes written to 0x60 for the keyboard itself are ignored (no device answers), so a guest
/// should not probe a keyboard (Linux: i8042.dumbkbd or no PS/2 controller in ACPI).
///
/// Thread-safety: a private mutex serialises accesses; the PowerRequestSink is called with it
/// held and must outlive the device.
class I8042 final : public BusDevice {
 public:
  explicit I8042(PowerRequestSink& sink) noexcept : sink_(sink) {}

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

 private:
  uint8_t read_port(uint64_t offset);
  void write_port(uint64_t offset, uint8_t value);
  void write_command(uint8_t command);
  void write_data(uint8_t value);
  void respond(uint8_t value);

  PowerRequestSink& sink_;
  std::mutex mutex_;
  // Guarded by mutex_.
  uint8_t ctr_ = 0x45;            // controller configuration byte: kbd IRQ, system flag, XLATE
  uint8_t output_port_ = 0x03;    // bit 0: reset line inactive (high), bit 1: A20 enabled
  uint8_t output_buffer_ = 0;
  bool output_full_ = false;
  bool last_write_was_command_ = false;
  uint8_t pending_command_ = 0;   // a command waiting for its data byte at 0x60, or 0
};

}  // namespace cvm::devices::legacy
