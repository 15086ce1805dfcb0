// SPDX-License-Identifier: Apache-2.0
#include "devices/fw_cfg/fw_cfg_device.h"

#include <algorithm>

#include "base/byte_reader.h"
#include "base/rate_limited_log.h"

namespace cvm::devices::fw_cfg {
namespace {

constexpr uint64_t kSelectorOffset = kFwCfgSelectorPort - kFwCfgPortBase;  // 0
constexpr uint64_t kDataOffset = kFwCfgDataPort - kFwCfgPortBase;          // 1
constexpr uint64_t kDmaOffset = kFwCfgDmaPort - kFwCfgPortBase;            // 4
constexpr uint64_t kDmaLowOffset = kDmaOffset + 4;                         // 8
constexpr std::size_t kZeroChunk = 64 * 1024;

uint64_t load_be_span(std::span<const std::byte> bytes) {
  uint64_t value = 0;
  for (std::byte b : bytes) {
    value = (value << 8) | static_cast<uint8_t>(b);
  }
  return value;
}

}  // namespace

FwCfgDevice::FwCfgDevice(FwCfgStore store, GuestMemoryView& memory)
    : store_(std::move(store)), memory_(memory) {
  selected_ = store_.find(kKeySignature);
}

void FwCfgDevice::read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  std::fill(data.begin(), data.end(), std::byte{0});
  if (offset == kSelectorOffset || offset == kDataOffset) {
    if (offset == kSelectorOffset && data.size() != 1) {
      return;  // the selector itself is write-only; QEMU only serves 1-byte data reads here
    }
    read_data_locked(data);
    return;
  }
  if (offset >= kDmaOffset && offset < kFwCfgPortCount && store_.dma_enabled()) {
    // The register reads as the signature, byte i of "QEMU CFG" at DMA offset i.
    for (std::size_t i = 0; i < data.size() && offset - kDmaOffset + i < 8; ++i) {
      const uint64_t shift = 8 * (7 - (offset - kDmaOffset + i));
      data[i] = static_cast<std::byte>((kDmaSignature >> shift) & 0xff);
    }
  }
}

void FwCfgDevice::write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  if (offset == kSelectorOffset && data.size() == 2) {
    select_locked(load_le<uint16_t>(data.first<2>()));
    return;
  }
  if (offset >= kDmaOffset && store_.dma_enabled()) {
    write_dma_register_locked(offset, data);
    return;
  }
  if (offset == kDataOffset || offset == kSelectorOffset) {
    return;  // data writes are no-ops since QEMU 2.4 (fw_cfg.rst "Selector Register")
  }
  CVM_LOG_RATE_LIMITED(5, "fw_cfg: ignoring {}-byte write at port offset {:#x}", data.size(),
                       offset);
}

FwCfgDmaStats FwCfgDevice::dma_stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void FwCfgDevice::select_locked(uint16_t key) {
  selected_ = store_.find(key);
  data_offset_ = 0;
}

void FwCfgDevice::read_data_locked(std::span<std::byte> out) {
  const std::span<const std::byte> item = selected_ ? selected_->span() : std::span<const std::byte>{};
  for (std::byte& b : out) {
    if (data_offset_ >= item.size()) {
      return;  // the caller zero-filled `out`
    }
    b = item[data_offset_++];
  }
}

void FwCfgDevice::write_dma_register_locked(uint64_t offset, std::span<const std::byte> data) {
  const uint64_t value = load_be_span(data);
  if (offset == kDmaOffset && data.size() == 4) {
    dma_address_ = (value << 32) | (dma_address_ & 0xffffffffu);
    return;
  }
  if (offset == kDmaLowOffset && data.size() == 4) {
    run_dma_locked((dma_address_ & ~uint64_t{0xffffffffu}) | value);
    return;
  }
  if (offset == kDmaOffset && data.size() == 8) {
    run_dma_locked(value);
    return;
  }
  CVM_LOG_RATE_LIMITED(5, "fw_cfg: ignoring {}-byte DMA register write at offset {:#x}",
                       data.size(), offset);
}

void FwCfgDevice::run_dma_locked(uint64_t access_gpa) {
  dma_address_ = 0;  // as QEMU: the register reads 0 again after an operation
  ++stats_.transfers;
  std::array<std::byte, kDmaAccessSize> access{};
  uint32_t control = kDmaCtlError;
  if (memory_.read(access_gpa, access)) {
    // Copied out first: the guest may change the structure while we work (architecture §B.3).
    const auto bytes = std::span<const std::byte>(access);
    control = transfer_locked(load_be<uint32_t>(bytes.subspan<0, 4>()),
                              load_be<uint32_t>(bytes.subspan<4, 4>()),
                              load_be<uint64_t>(bytes.subspan<8, 8>()));
  } else {
    CVM_LOG_RATE_LIMITED(5, "fw_cfg: DMA access structure at {:#x} is outside guest memory",
                         access_gpa);
  }
  if (control & kDmaCtlError) {
    ++stats_.errors;
  }
  std::array<std::byte, 4> result{};
  for (std::size_t i = 0; i < 4; ++i) {
    result[i] = static_cast<std::byte>((control >> (8 * (3 - i))) & 0xff);
  }
  // Nothing more to do if even the control word is unreachable: the guest then never sees
  // completion, which is its own doing.
  (void)memory_.write(access_gpa, result);
}

uint32_t FwCfgDevice::transfer_locked(uint32_t control, uint32_t length, uint64_t address) {
  if (control & kDmaCtlSelect) {
    select_locked(static_cast<uint16_t>(control >> 16));
  }
  if (control & kDmaCtlRead) {
    return dma_read_locked(length, address) ? 0 : kDmaCtlError;
  }
  if (control & kDmaCtlWrite) {
    CVM_LOG_RATE_LIMITED(5, "fw_cfg: refusing a DMA write of {:#x} bytes: items are read-only",
                         length);
    return kDmaCtlError;
  }
  if (control & kDmaCtlSkip) {
    const uint64_t size = selected_ ? selected_->size() : 0;
    if (data_offset_ < size) {
      data_offset_ += std::min<uint64_t>(length, size - data_offset_);
    }
  }
  return 0;
}

bool FwCfgDevice::dma_read_locked(uint32_t length, uint64_t address) {
  if (length == 0) {
    return true;
  }
  if (!memory_.contains(address, length)) {
    CVM_LOG_RATE_LIMITED(5, "fw_cfg: DMA read into {:#x}+{:#x} leaves guest memory", address,
                         length);
    return false;
  }
  const std::span<const std::byte> item =
      selected_ ? selected_->span() : std::span<const std::byte>{};
  uint64_t copied = 0;
  if (data_offset_ < item.size()) {
    copied = std::min<uint64_t>(length, item.size() - data_offset_);
    if (!memory_.write(address, item.subspan(data_offset_, copied))) {
      return false;
    }
    data_offset_ += copied;
  }
  // contains() proved address + length does not wrap.
  return zero_fill(address + copied, length - copied);
}

bool FwCfgDevice::zero_fill(uint64_t address, uint64_t length) {
  static const std::array<std::byte, kZeroChunk> kZeros{};
  while (length > 0) {
    const uint64_t chunk = std::min<uint64_t>(length, kZeroChunk);
    if (!memory_.write(address, std::span(kZeros).first(chunk))) {
      return false;
    }
    address += chunk;
    length -= chunk;
  }
  return true;
}

}  // namespace cvm::devices::fw_cfg
