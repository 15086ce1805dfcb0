// SPDX-License-Identifier: Apache-2.0
#include "devices/pci/pci_config_io.h"

#include <algorithm>

#include "base/rate_limited_log.h"

namespace cvm::devices::pci {
namespace {

constexpr uint64_t kDataOffset = 4;  // 0xcfc - 0xcf8
constexpr uint64_t kResetControlOffset = kResetControlPort - kPciConfigIoBase;

void fill_ones(std::span<std::byte> data) { std::fill(data.begin(), data.end(), std::byte{0xff}); }

}  // namespace

Result<void> PciConfigIo::add_function(uint8_t device, uint8_t function,
                                       std::unique_ptr<PciFunction> pci_function) {
  if (device > 31 || function > 7 || pci_function == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "pci: no slot 00:{:02x}.{} for a function",
                      device, function);
  }
  std::lock_guard lock(mutex_);
  auto& slot = functions_[device * 8u + function];
  if (slot != nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "pci: 00:{:02x}.{} is already taken", device,
                      function);
  }
  slot = std::move(pci_function);
  return ok();
}

PciFunction* PciConfigIo::selected_locked() const {
  if ((address_ & kConfigAddressEnable) == 0 || ((address_ >> 16) & 0xff) != 0) {
    return nullptr;
  }
  return functions_[(address_ >> 8) & 0xff].get();  // device 15:11 and function 10:8
}

void PciConfigIo::read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  if (offset == kResetControlOffset && data.size() == 1) {
    data[0] = std::byte{reset_control_};
    return;
  }
  if (offset < kDataOffset) {
    // Bytes of CONFIG_ADDRESS; anything past it reads as all-ones.
    for (std::size_t i = 0; i < data.size(); ++i) {
      const uint64_t at = offset + i;
      data[i] = at < kDataOffset ? std::byte{static_cast<uint8_t>(address_ >> (8 * at))}
                                 : std::byte{0xff};
    }
    return;
  }
  const PciFunction* function = selected_locked();
  if (function == nullptr || offset + data.size() > kPciConfigIoCount) {
    fill_ones(data);
    return;
  }
  function->read_config((address_ & 0xfc) + static_cast<uint32_t>(offset - kDataOffset), data);
}

void PciConfigIo::write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  if (offset < kDataOffset) {
    write_address_locked(offset, data);
    return;
  }
  PciFunction* function = selected_locked();
  if (function == nullptr || offset + data.size() > kPciConfigIoCount) {
    return;  // master abort: the write goes nowhere
  }
  function->write_config((address_ & 0xfc) + static_cast<uint32_t>(offset - kDataOffset), data);
}

void PciConfigIo::write_address_locked(uint64_t offset, std::span<const std::byte> data) {
  if (offset == kResetControlOffset && data.size() == 1) {
    const auto value = static_cast<uint8_t>(data[0]);
    if ((value & kResetControlResetCpu) != 0) {
      sink_.request(PowerRequest::kReset);
    }
    reset_control_ = value & kResetControlSystemReset;
    return;
  }
  if (offset != 0 || data.size() != 4) {
    // Mechanism #1 decodes CONFIG_ADDRESS for 32-bit accesses only (PCI 3.0 §3.2.2.3.2);
    // Linux's type-1 probe writes the byte at 0xcfb and expects it to be ignored.
    CVM_LOG_RATE_LIMITED(5, "pci: ignoring {}-byte write to port {:#x}", data.size(),
                         kPciConfigIoBase + offset);
    return;
  }
  uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(data[i]) << (8 * i);
  }
  address_ = value & kConfigAddressWritable;
}

}  // namespace cvm::devices::pci
