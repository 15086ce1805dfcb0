// SPDX-License-Identifier: Apache-2.0
// One PCI function's 256-byte type-0 configuration space, held as bytes with a per-byte mask
// of the bits the guest may change. Functions here decode no BARs: BAR and expansion-ROM
// registers read as zero, so a firmware's BAR sizing finds nothing to map. Included by
// devices/pci and its tests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace cvm::devices::pci {

inline constexpr std::size_t kConfigSpaceSize = 256;

// Type-0 header offsets (PCI Local Bus Specification 3.0, §6.1, Figure 6-1).
inline constexpr uint32_t kVendorIdOffset = 0x00;
inline constexpr uint32_t kDeviceIdOffset = 0x02;
inline constexpr uint32_t kCommandOffset = 0x04;
inline constexpr uint32_t kRevisionIdOffset = 0x08;
inline constexpr uint32_t kClassCodeOffset = 0x09;  // prog-if 0x09, sub-class 0x0a, base 0x0b
inline constexpr uint32_t kHeaderTypeOffset = 0x0e;
inline constexpr uint32_t kInterruptLineOffset = 0x3c;
inline constexpr uint32_t kInterruptPinOffset = 0x3d;
/// First device-specific register; everything from here up is the function's own.
inline constexpr uint32_t kDeviceSpecificOffset = 0x40;
/// Header-type bit 7: the device has functions other than 0 (PCI 3.0 §6.2.1).
inline constexpr uint8_t kHeaderTypeMultiFunction = 0x80;

/// The read-only identity of a function (PCI 3.0 §6.2.1).
struct PciIdentity {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint8_t revision_id = 0;
  uint32_t class_code = 0;  // 24 bits: base class << 16 | sub-class << 8 | programming interface
  bool multi_function = false;
  uint8_t interrupt_pin = 0;  // 0 = none, 1..4 = INTA#..INTD#
};

/// A configuration space with the standard header filled from a PciIdentity: the command
/// register's I/O, memory, bus-master (bits 0-2) and INTx-disable (bit 10) bits and the
/// interrupt-line register are writable; every other header byte is read-only.
///
/// Not thread-safe: the owner (PciConfigIo) serialises all accesses.
class PciFunction {
 public:
  explicit PciFunction(const PciIdentity& identity);
  virtual ~PciFunction() = default;
  PciFunction(const PciFunction&) = delete;
  PciFunction& operator=(const PciFunction&) = delete;

  /// Copies the bytes at [offset, offset + data.size()); bytes beyond the 256-byte space
  /// read as 0xff (guest-controlled offsets never index past the array).
  void read_config(uint32_t offset, std::span<std::byte> data) const;

  /// Merges the bytes into the space under the writable mask (read-only bits keep their
  /// value, bytes beyond the space are dropped), then calls on_config_write().
  void write_config(uint32_t offset, std::span<const std::byte> data);

  uint8_t config_byte(uint32_t offset) const noexcept {
    return offset < kConfigSpaceSize ? config_[offset] : 0xff;
  }
  /// The little-endian 16/32-bit value at `offset` (bytes beyond the space read 0xff).
  uint16_t config_word(uint32_t offset) const noexcept;
  uint32_t config_dword(uint32_t offset) const noexcept;

 protected:
  /// Sets the reset value of one byte and which of its bits the guest may change.
  void define_byte(uint32_t offset, uint8_t value, uint8_t writable_mask) noexcept;
  /// Makes [first, end) plain read/write storage with the given reset value.
  void define_storage(uint32_t first, uint32_t end, uint8_t value = 0) noexcept;
  /// Called after every write with the range written (already clipped to the space).
  virtual void on_config_write(uint32_t /*offset*/, std::size_t /*size*/) {}

 private:
  std::array<uint8_t, kConfigSpaceSize> config_{};
  std::array<uint8_t, kConfigSpaceSize> writable_{};
};

}  // namespace cvm::devices::pci
