// SPDX-License-Identifier: Apache-2.0
// QEMU's firmware configuration device (fw_cfg) on x86 I/O ports, as QEMU's
// hw/nvram/fw_cfg.c implements docs/specs/fw_cfg.rst: the traditional selector/data interface
// and the DMA interface. Firmware (OVMF QemuFwCfgLib, SeaBIOS) and Linux's qemu_fw_cfg read
// the memory map, ACPI tables, CPU count and direct-boot kernel through it. Included by the
// machine (vmm/machine_devices) and tests.
//
// Ports (relative offset in parentheses; the device occupies kFwCfgPortBase + 12):
//   0x510 (0)      selector, 16-bit write: selects an item, data offset = 0
//   0x511 (1)      data, read: the next bytes of the item, in order (string-preserving);
//                  0x00 past the end or for an unknown key. Writes are ignored (QEMU >= 2.4).
//                  QEMU also serves 1-byte data reads at 0x510; so does this device.
//   0x512-0x513    unused: reads 0, writes ignored
//   0x514-0x51b    DMA address, big-endian u64: reads return "QEMU CFG"; a 32-bit write at
//                  0x514 sets the high half, a 32-bit write at 0x518 sets the low half and
//                  starts the transfer, one 64-bit write at 0x514 sets both and starts it.
//
// DMA (fw_cfg.rst "Guest-side DMA Interface"): the address names a 16-byte FWCfgDmaAccess in
// guest memory, all fields big-endian: control u32 @0, length u32 @4, address u64 @8.
// control bits: error 0x01, read 0x02, skip 0x04, select 0x08 (key in bits 31:16), write 0x10.
// The device writes control back: 0 on success, 0x01 on error.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <span>

#include "base/guest_memory_view.h"
#include "devices/bus.h"
#include "devices/fw_cfg/fw_cfg_store.h"

namespace cvm::devices::fw_cfg {

inline constexpr uint16_t kFwCfgPortBase = 0x510;
inline constexpr uint16_t kFwCfgSelectorPort = 0x510;
inline constexpr uint16_t kFwCfgDataPort = 0x511;
inline constexpr uint16_t kFwCfgDmaPort = 0x514;
inline constexpr uint64_t kFwCfgPortCount = 12;

/// "QEMU CFG" as the big-endian value the DMA address register reads back.
inline constexpr uint64_t kDmaSignature = 0x51454d5520434647ull;

inline constexpr uint32_t kDmaCtlError = 0x01;
inline constexpr uint32_t kDmaCtlRead = 0x02;
inline constexpr uint32_t kDmaCtlSkip = 0x04;
inline constexpr uint32_t kDmaCtlSelect = 0x08;
inline constexpr uint32_t kDmaCtlWrite = 0x10;
inline constexpr std::size_t kDmaAccessSize = 16;

/// What one DMA operation did, for tests and the fuzzer.
struct FwCfgDmaStats {
  uint64_t transfers = 0;
  uint64_t errors = 0;
};

/// The device. Guest behaviour is defined for every input:
///   - unknown keys select an empty item (reads 0x00, DMA reads zero-fill, as QEMU);
///   - a DMA read whose destination range is not entirely guest memory (or wraps) fails with
///     the error bit before writing anything; otherwise `length` bytes are written: the item's
///     remaining bytes, then zeros (QEMU fills past the end with zeros);
///   - skip advances the offset, at most to the end of the item;
///   - write is refused with the error bit: every item is read-only;
///   - neither read, write nor skip: nothing moves, control becomes 0;
///   - an access structure outside guest memory: nothing happens except (if possible) the
///     error bit in its control word.
/// Memory is only reached through `memory` (GuestMemoryView bounds-checks every access), and
/// zero-fill is written in bounded chunks, so a 4 GiB length costs no host allocation.
///
/// Thread-safety: a private mutex serialises accesses (vCPU threads). `memory` must outlive
/// the device.
class FwCfgDevice final : public BusDevice {
 public:
  /// Starts with the signature selected, as QEMU after reset.
  FwCfgDevice(FwCfgStore store, GuestMemoryView& memory);

  void read(uint64_t offset, std::span<std::byte> data) override;
  void write(uint64_t offset, std::span<const std::byte> data) override;

  FwCfgDmaStats dma_stats() const;
  const FwCfgStore& store() const noexcept { return store_; }

 private:
  void select_locked(uint16_t key);
  void read_data_locked(std::span<std::byte> out);
  void write_dma_register_locked(uint64_t offset, std::span<const std::byte> data);
  void run_dma_locked(uint64_t access_gpa);
  /// The transfer of one access; returns the control word to write back.
  uint32_t transfer_locked(uint32_t control, uint32_t length, uint64_t address);
  bool dma_read_locked(uint32_t length, uint64_t address);
  bool zero_fill(uint64_t address, uint64_t length);

  const FwCfgStore store_;
  GuestMemoryView& memory_;
  mutable std::mutex mutex_;
  const FwCfgBytes* selected_ = nullptr;  // guarded by mutex_; null = unknown key
  uint64_t data_offset_ = 0;              // guarded by mutex_
  uint64_t dma_address_ = 0;              // guarded by mutex_; reset after each transfer
  FwCfgDmaStats stats_{};                 // guarded by mutex_
};

}  // namespace cvm::devices::fw_cfg
