// SPDX-License-Identifier: Apache-2.0
#include "devices/pci/i440fx.h"

#include "base/rate_limited_log.h"

namespace cvm::devices::pci {
namespace {

// Class codes (PCI Code and ID Assignment Specification 1.12, §1.7): bridge devices.
constexpr uint32_t kClassHostBridge = 0x060000;
constexpr uint32_t kClassIsaBridge = 0x060100;
constexpr uint32_t kClassOtherBridge = 0x068000;
constexpr uint32_t kI440fxSmramOffset = 0x72;
constexpr uint8_t kI440fxSmramReset = 0x02;
constexpr uint8_t kPiix3PirqDisabled = 0x80;
constexpr uint8_t kPiix4PmbaResourceTypeIo = 0x01;  // RTE, bit 0: the base is an I/O address

/// A function whose device-specific registers are plain storage.
class StorageFunction final : public PciFunction {
 public:
  explicit StorageFunction(const PciIdentity& identity) : PciFunction(identity) {
    define_storage(kDeviceSpecificOffset, kConfigSpaceSize);
  }
  void set_reset_value(uint32_t offset, uint8_t value) { define_byte(offset, value, 0xff); }
};

bool overlaps(uint32_t offset, std::size_t size, uint32_t first, uint32_t end) {
  return offset < end && offset + size > first;
}

}  // namespace

std::unique_ptr<PciFunction> make_i440fx_host_bridge() {
  auto function = std::make_unique<StorageFunction>(PciIdentity{
      .vendor_id = kIntelVendorId, .device_id = kI440fxDeviceId, .revision_id = 0x02,
      .class_code = kClassHostBridge});
  function->set_reset_value(kI440fxSmramOffset, kI440fxSmramReset);
  return function;
}

std::unique_ptr<PciFunction> make_piix3_isa_bridge() {
  auto function = std::make_unique<StorageFunction>(PciIdentity{
      .vendor_id = kIntelVendorId, .device_id = kPiix3IsaDeviceId, .revision_id = 0x00,
      .class_code = kClassIsaBridge, .multi_function = true});
  for (uint32_t pirq = 0; pirq < 4; ++pirq) {
    function->set_reset_value(kPiix3PirqRouteOffset + pirq, kPiix3PirqDisabled);
  }
  return function;
}

Piix4PowerManagement::Piix4PowerManagement(Bus& pio, std::shared_ptr<acpi::AcpiPmIo> pm_io)
    : PciFunction(PciIdentity{.vendor_id = kIntelVendorId, .device_id = kPiix4PmDeviceId,
                              .revision_id = 0x03, .class_code = kClassOtherBridge,
                              .interrupt_pin = 1}),
      pio_(pio),
      pm_io_(std::move(pm_io)) {
  define_storage(kDeviceSpecificOffset, kConfigSpaceSize);
  define_byte(kPiix4PmbaOffset, kPiix4PmbaResourceTypeIo, static_cast<uint8_t>(kPiix4PmbaBaseMask));
  define_byte(kPiix4PmbaOffset + 1, 0, static_cast<uint8_t>(kPiix4PmbaBaseMask >> 8));
  define_byte(kPiix4PmbaOffset + 2, 0, 0);
  define_byte(kPiix4PmbaOffset + 3, 0, 0);
  define_byte(kPiix4PmRegMiscOffset, 0, kPiix4PmRegMiscIoEnable);
}

void Piix4PowerManagement::on_config_write(uint32_t offset, std::size_t size) {
  if (!overlaps(offset, size, kPiix4PmbaOffset, kPiix4PmbaOffset + 4) &&
      !overlaps(offset, size, kPiix4PmRegMiscOffset, kPiix4PmRegMiscOffset + 1)) {
    return;
  }
  const bool enabled = (config_byte(kPiix4PmRegMiscOffset) & kPiix4PmRegMiscIoEnable) != 0;
  const auto base = static_cast<uint16_t>(config_word(kPiix4PmbaOffset) & kPiix4PmbaBaseMask);
  const uint16_t wanted = enabled ? base : 0;
  if (wanted == mapped_base_) {
    return;
  }
  if (mapped_base_ != 0) {
    (void)pio_.remove(mapped_base_);  // inserted by us at exactly this base
    mapped_base_ = 0;
  }
  if (wanted == 0) {
    return;
  }
  if (auto inserted = pio_.insert(pm_io_, wanted, acpi::kPmIoSize); !inserted) {
    CVM_LOG_RATE_LIMITED(5, "piix4 pm: cannot map the PM block at {:#x}: {}", wanted,
                         inserted.error().message());
    return;
  }
  mapped_base_ = wanted;
}

}  // namespace cvm::devices::pci
