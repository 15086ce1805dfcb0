// SPDX-License-Identifier: Apache-2.0
// The ACPI tables for firmware boot: instead of placing tables at fixed guest addresses
// (build_acpi_tables, direct kernel boot), cvmm serves them over fw_cfg as QEMU does
// (hw/i386/acpi-build.c): "etc/acpi/rsdp" and "etc/acpi/tables" hold the same tables with
// every pointer set to an offset into "etc/acpi/tables" and every checksum byte 0, and
// "etc/table-loader" tells the firmware to allocate both, add the blob addresses to the
// pointers and compute the checksums (devices/fw_cfg/table_loader.h). The tables themselves
// come from the one builder, build_acpi_table_set.
//
// What OVMF does with it (edk2 OvmfPkg/AcpiPlatformDxe/QemuFwCfgAcpi.c, stable202211): it runs
// the script, then installs every ADD_POINTER target that carries a valid ACPI header through
// EFI_ACPI_TABLE_PROTOCOL, skipping RSDT/XSDT and pointers it has seen (the FADT's DSDT and
// X_DSDT both point at the DSDT); the protocol builds its own RSDP/XSDT and links FADT->DSDT.
// Because the FADT's 32-bit DSDT field is relocated with a 4-byte ADD_POINTER, OVMF keeps
// "etc/acpi/tables" below 4 GiB. SeaBIOS uses the RSDP as given (it asks for the F segment).
// Pure; included by vmm/ and tests.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "devices/fw_cfg/table_loader.h"
#include "vmm/x86/acpi/tables.h"

namespace cvm::vmm::x86::acpi {

inline constexpr std::string_view kAcpiRsdpFile = "etc/acpi/rsdp";
inline constexpr std::string_view kAcpiTablesFile = "etc/acpi/tables";
inline constexpr std::string_view kTableLoaderFile = "etc/table-loader";

/// FADT pointer fields (ACPI 6.5 §5.2.9 Table 5.9): DSDT u32 @40, X_DSDT u64 @140.
inline constexpr std::size_t kFadtDsdtField = 40;
inline constexpr std::size_t kFadtXDsdtField = 140;
/// RSDP fields (§5.2.5.3): Checksum @8 over bytes 0..19, XsdtAddress u64 @24, Extended
/// Checksum @32 over all 36 bytes. SDT header Checksum @9 over the whole table.
inline constexpr std::size_t kRsdpChecksumField = 8;
inline constexpr std::size_t kRsdpV1Length = 20;
inline constexpr std::size_t kRsdpXsdtField = 24;
inline constexpr std::size_t kRsdpExtChecksumField = 32;
inline constexpr std::size_t kSdtChecksumField = 9;
/// Allocation alignments QEMU asks for (acpi-build.c): tables 64, RSDP 16.
inline constexpr uint32_t kAcpiTablesAlign = 64;
inline constexpr uint32_t kAcpiRsdpAlign = 16;

struct FwCfgAcpiTables {
  std::vector<std::byte> rsdp;    // "etc/acpi/rsdp": 36 bytes, XsdtAddress = XSDT offset
  std::vector<std::byte> tables;  // "etc/acpi/tables": XSDT, FADT, MADT, DSDT
  std::vector<devices::fw_cfg::LoaderCommand> commands;
  std::vector<std::byte> loader;  // "etc/table-loader": `commands` encoded
};

/// Builds the three files for `spec` (spec.gpa and spec.max_bytes are not used: the firmware
/// chooses the addresses). Errors: as build_acpi_table_set; kInternal if a table exceeds the
/// 32-bit offsets of the script.
[[nodiscard]] Result<FwCfgAcpiTables> build_fw_cfg_acpi_tables(const AcpiSpec& spec);

}  // namespace cvm::vmm::x86::acpi
