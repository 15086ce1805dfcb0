// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/acpi/acpi_fw_cfg.h"

#include <limits>
#include <string>

namespace cvm::vmm::x86::acpi {
namespace {

namespace fw = devices::fw_cfg;

uint32_t u32(std::size_t value) { return static_cast<uint32_t>(value); }

fw::LoaderAddPointer to_tables(std::string_view dest, std::size_t field, uint8_t size) {
  return fw::LoaderAddPointer{.dest_file = std::string(dest),
                              .src_file = std::string(kAcpiTablesFile),
                              .offset = u32(field),
                              .size = size};
}

fw::LoaderAddChecksum checksum(std::string_view file, std::size_t result, std::size_t start,
                               std::size_t length) {
  return fw::LoaderAddChecksum{.file = std::string(file),
                               .result_offset = u32(result),
                               .start = u32(start),
                               .length = u32(length)};
}

/// Length field (u32 @4) of the SDT at `offset`.
std::size_t sdt_length(std::span<const std::byte> bytes, std::size_t offset) {
  return load_le<uint32_t>(bytes.subspan(offset + 4).first<4>());
}

/// The script: allocations, then per table its pointers followed by its checksum, so every
/// checksum covers the relocated pointers (as QEMU orders them).
std::vector<fw::LoaderCommand> loader_commands(const AcpiTableSet& set) {
  const std::string_view tables = kAcpiTablesFile;
  std::vector<fw::LoaderCommand> c;
  c.push_back(fw::LoaderAllocate{std::string(tables), kAcpiTablesAlign, fw::LoaderZone::kHigh});
  c.push_back(fw::LoaderAllocate{std::string(kAcpiRsdpFile), kAcpiRsdpAlign,
                                 fw::LoaderZone::kFseg});
  c.push_back(checksum(tables, set.dsdt_offset + kSdtChecksumField, set.dsdt_offset,
                       sdt_length(set.bytes, set.dsdt_offset)));
  c.push_back(checksum(tables, set.madt_offset + kSdtChecksumField, set.madt_offset,
                       sdt_length(set.bytes, set.madt_offset)));
  c.push_back(to_tables(tables, set.fadt_offset + kFadtDsdtField, 4));
  c.push_back(to_tables(tables, set.fadt_offset + kFadtXDsdtField, 8));
  c.push_back(checksum(tables, set.fadt_offset + kSdtChecksumField, set.fadt_offset,
                       sdt_length(set.bytes, set.fadt_offset)));
  for (std::size_t i = 0; i < set.xsdt_entries; ++i) {
    c.push_back(to_tables(tables, set.xsdt_offset + kSdtHeaderSize + 8 * i, 8));
  }
  c.push_back(checksum(tables, set.xsdt_offset + kSdtChecksumField, set.xsdt_offset,
                       sdt_length(set.bytes, set.xsdt_offset)));
  c.push_back(to_tables(kAcpiRsdpFile, kRsdpXsdtField, 8));
  c.push_back(checksum(kAcpiRsdpFile, kRsdpChecksumField, 0, kRsdpV1Length));
  c.push_back(checksum(kAcpiRsdpFile, kRsdpExtChecksumField, 0, kRsdpSize));
  return c;
}

}  // namespace

Result<FwCfgAcpiTables> build_fw_cfg_acpi_tables(const AcpiSpec& spec) {
  CVM_ASSIGN_OR_RETURN(AcpiTableSet set, build_acpi_table_set(spec, 0));
  if (set.bytes.size() > std::numeric_limits<uint32_t>::max()) {
    return make_error(ErrorCode::kInternal, "acpi tables of {:#x} bytes exceed u32 offsets",
                      set.bytes.size());
  }
  FwCfgAcpiTables out;
  out.rsdp = build_rsdp(set.xsdt_offset);
  // The loader computes every checksum over a zero checksum byte (OVMF overwrites the byte
  // with the sum's complement, SeaBIOS subtracts the sum from it).
  out.rsdp[kRsdpChecksumField] = std::byte{0};
  out.rsdp[kRsdpExtChecksumField] = std::byte{0};
  for (std::size_t table : {set.xsdt_offset, set.fadt_offset, set.madt_offset, set.dsdt_offset}) {
    set.bytes[table + kSdtChecksumField] = std::byte{0};
  }
  out.commands = loader_commands(set);
  CVM_ASSIGN_OR_RETURN(out.loader, devices::fw_cfg::encode_table_loader(out.commands));
  out.tables = std::move(set.bytes);
  return out;
}

}  // namespace cvm::vmm::x86::acpi
