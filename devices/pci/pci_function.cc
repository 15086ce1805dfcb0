// SPDX-License-Identifier: Apache-2.0
#include "devices/pci/pci_function.h"

namespace cvm::devices::pci {
namespace {

// Command register bits the guest may set (PCI 3.0 §6.2.2): I/O space, memory space, bus
// master in the low byte; interrupt disable (bit 10) in the high byte.
constexpr uint8_t kCommandLowWritable = 0x07;
constexpr uint8_t kCommandHighWritable = 0x04;

}  // namespace

PciFunction::PciFunction(const PciIdentity& identity) {
  define_byte(kVendorIdOffset, static_cast<uint8_t>(identity.vendor_id), 0);
  define_byte(kVendorIdOffset + 1, static_cast<uint8_t>(identity.vendor_id >> 8), 0);
  define_byte(kDeviceIdOffset, static_cast<uint8_t>(identity.device_id), 0);
  define_byte(kDeviceIdOffset + 1, static_cast<uint8_t>(identity.device_id >> 8), 0);
  define_byte(kCommandOffset, 0, kCommandLowWritable);
  define_byte(kCommandOffset + 1, 0, kCommandHighWritable);
  define_byte(kRevisionIdOffset, identity.revision_id, 0);
  for (uint32_t i = 0; i < 3; ++i) {
    define_byte(kClassCodeOffset + i, static_cast<uint8_t>(identity.class_code >> (8 * i)), 0);
  }
  define_byte(kHeaderTypeOffset, identity.multi_function ? kHeaderTypeMultiFunction : 0, 0);
  define_byte(kInterruptLineOffset, 0, 0xff);
  define_byte(kInterruptPinOffset, identity.interrupt_pin, 0);
}

void PciFunction::read_config(uint32_t offset, std::span<std::byte> data) const {
  for (std::size_t i = 0; i < data.size(); ++i) {
    const uint64_t at = static_cast<uint64_t>(offset) + i;
    data[i] = std::byte{at < kConfigSpaceSize ? config_[at] : uint8_t{0xff}};
  }
}

void PciFunction::write_config(uint32_t offset, std::span<const std::byte> data) {
  std::size_t written = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const uint64_t at = static_cast<uint64_t>(offset) + i;
    if (at >= kConfigSpaceSize) {
      break;
    }
    const uint8_t mask = writable_[at];
    const auto value = static_cast<uint8_t>(data[i]);
    config_[at] = static_cast<uint8_t>((config_[at] & ~mask) | (value & mask));
    ++written;
  }
  if (written != 0) {
    on_config_write(offset, written);
  }
}

uint16_t PciFunction::config_word(uint32_t offset) const noexcept {
  return static_cast<uint16_t>(config_byte(offset) | (config_byte(offset + 1) << 8));
}

uint32_t PciFunction::config_dword(uint32_t offset) const noexcept {
  return static_cast<uint32_t>(config_word(offset)) |
         (static_cast<uint32_t>(config_word(offset + 2)) << 16);
}

void PciFunction::define_byte(uint32_t offset, uint8_t value, uint8_t writable_mask) noexcept {
  if (offset < kConfigSpaceSize) {
    config_[offset] = value;
    writable_[offset] = writable_mask;
  }
}

void PciFunction::define_storage(uint32_t first, uint32_t end, uint8_t value) noexcept {
  for (uint32_t offset = first; offset < end && offset < kConfigSpaceSize; ++offset) {
    define_byte(offset, value, 0xff);
  }
}

}  // namespace cvm::devices::pci
