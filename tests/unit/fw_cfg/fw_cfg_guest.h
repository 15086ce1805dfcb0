// SPDX-License-Identifier: Apache-2.0
// Test-side fw_cfg "firmware": reads items through a FwCfgDevice's ports and DMA exactly as a
// guest does, and a model of OVMF's ACPI table-loader processing (edk2 stable202211
// OvmfPkg/AcpiPlatformDxe/QemuFwCfgAcpi.c: CollectAllocationsRestrictedTo32Bit,
// ProcessCmdAllocate/AddPointer/AddChecksum with their checks, then the second pass that
// picks the tables to install). Written from the documented behaviour, for tests only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/guest_memory_view.h"
#include "base/result.h"
#include "devices/bus.h"

namespace cvm::devices::fw_cfg::testing {

/// Guest memory made of separate regions (to place blobs above and below 4 GiB).
class RegionGuestMemory final : public GuestMemoryView {
 public:
  void add_region(uint64_t base, std::size_t size);
  Result<void> read(uint64_t gpa, std::span<std::byte> out) const override;
  Result<void> write(uint64_t gpa, std::span<const std::byte> data) override;
  bool contains(uint64_t gpa, uint64_t length) const override;
  Result<std::size_t> host_iovecs(uint64_t gpa, uint64_t length,
                                  std::span<iovec> out) override;

 private:
  const BufferGuestMemory* region_for(uint64_t gpa, uint64_t length) const;
  std::vector<std::unique_ptr<BufferGuestMemory>> regions_;
};

/// A guest driver for the device at port offsets 0..11 of `device`.
class FwCfgGuest final {
 public:
  FwCfgGuest(BusDevice& device, GuestMemoryView& memory) : device_(device), memory_(memory) {}

  void select(uint16_t key);
  std::vector<std::byte> read_port(std::size_t length);
  /// One DMA operation with the access structure at `access_gpa`; returns the control word
  /// the device wrote back.
  uint32_t dma(uint64_t access_gpa, uint32_t control, uint32_t length, uint64_t address);
  /// The file directory entries: name -> (key, size).
  std::map<std::string, std::pair<uint16_t, uint32_t>> directory();
  /// Selects `name` and reads it through the data port.
  std::optional<std::vector<std::byte>> read_file(const std::string& name);

 private:
  BusDevice& device_;
  GuestMemoryView& memory_;
};

/// What the OVMF model did.
struct OvmfAcpiResult {
  std::map<std::string, uint64_t> blob_addresses;  // ALLOCATE: file -> guest address
  std::vector<std::string> installed;              // signatures handed to InstallAcpiTable
};

/// Runs "etc/table-loader" like OVMF: each ALLOCATE reads the file over DMA to `high` (or to
/// `low` when a pointer narrower than 8 bytes targets it; next page each time), ADD_POINTER
/// and ADD_CHECKSUM patch guest memory with OVMF's checks, then the second pass lists the
/// tables OVMF would install. `dma_access_gpa` is a 16-byte scratch area for DMA.
/// Errors: kGuest naming the check OVMF would fail with EFI_PROTOCOL_ERROR/UNSUPPORTED.
Result<OvmfAcpiResult> run_ovmf_table_loader(FwCfgGuest& guest, GuestMemoryView& memory,
                                             uint64_t low, uint64_t high,
                                             uint64_t dma_access_gpa);

}  // namespace cvm::devices::fw_cfg::testing
