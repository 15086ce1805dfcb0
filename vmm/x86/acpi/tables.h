// SPDX-License-Identifier: Apache-2.0
// ACPI tables for a cvmm x86 guest (ACPI 6.5 §5.2): RSDP (revision 2), XSDT, FADT
// (hardware-reduced ACPI), MADT and the DSDT, laid out as one blob for
// [kAcpiTablesAddress, kAcpiTablesEnd). Pure: values in, bytes out.
//
// SDT header (36 bytes, §5.2.6): Signature[4] @0, Length u32 @4, Revision u8 @8,
//   Checksum u8 @9, OEMID[6] @10, OEM Table ID[8] @16, OEM Revision u32 @24,
//   Creator ID u32 @28, Creator Revision u32 @32.
// RSDP (36 bytes, §5.2.5.3): "RSD PTR " @0, Checksum u8 @8 (first 20 bytes), OEMID[6] @9,
//   Revision u8 @15 (= 2), RsdtAddress u32 @16 (= 0), Length u32 @20 (= 36),
//   XsdtAddress u64 @24, Extended Checksum u8 @32 (all 36 bytes), Reserved[3] @33.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "vmm/x86/byte_writer.h"
#include "vmm/x86/layout.h"

namespace cvm::vmm::x86::acpi {

inline constexpr std::size_t kSdtHeaderSize = 36;
inline constexpr std::size_t kRsdpSize = 36;
inline constexpr std::size_t kFadtSize = 276;  // ACPI 6.x FADT, through Hypervisor Vendor Id
inline constexpr std::string_view kOemId = "CVMM  ";

/// An ISA interrupt routed to a different GSI (MADT Interrupt Source Override, §5.2.12.5).
struct InterruptOverride {
  uint8_t source_irq = 0;
  uint32_t gsi = 0;
  uint16_t flags = 0;  // MPS INTI flags: 0 = conforms to the bus (ISA: edge, active high)
};

struct AcpiSpec {
  uint32_t vcpu_count = 1;  // MADT: one enabled processor per vCPU, APIC id = index
  std::vector<VirtioMmioSlot> virtio_devices{};  // DSDT LNRO0005 devices
  bool com1 = true;    // DSDT PNP0501 at kCom1Port / kCom1Irq
  bool i8042 = true;   // DSDT PNP0303 at 0x60/0x64 IRQ 1, FADT IAPC_BOOT_ARCH 8042 flag
  /// DSDT FWCF (_HID "QEMU0002", QEMU docs/specs/fw_cfg.rst "ACPI Interface") claiming the
  /// fw_cfg ports, as QEMU does; Linux's qemu_fw_cfg driver binds to it. Firmware boots only.
  bool fw_cfg = false;
  /// Default: the PC convention IRQ0 -> GSI2 (the PIT timer on IOAPIC pin 2).
  std::vector<InterruptOverride> overrides = {{.source_irq = 0, .gsi = 2, .flags = 0}};
  uint64_t gpa = kAcpiTablesAddress;               // where the blob is placed; RSDP first
  uint64_t max_bytes = kAcpiTablesEnd - kAcpiTablesAddress;
};

struct AcpiTables {
  GuestBlob blob{};         // all tables, RSDP at blob.gpa
  uint64_t rsdp_gpa = 0;  // pass as boot_params.acpi_rsdp_addr / hvm_start_info.rsdp_paddr
};

/// XSDT, FADT, MADT and DSDT laid out back to back (XSDT first, each 16-byte aligned,
/// checksums set) as if the first byte were at guest address `base`: every pointer between
/// them (XSDT entries, FADT DSDT/X_DSDT) holds `base` + the target's offset. With base 0 the
/// pointers are offsets into `bytes`, which is what the fw_cfg table-loader relocates.
struct AcpiTableSet {
  std::vector<std::byte> bytes{};
  std::size_t xsdt_offset = 0;
  std::size_t fadt_offset = 0;
  std::size_t madt_offset = 0;
  std::size_t dsdt_offset = 0;
  std::size_t xsdt_entries = 0;  // u64 entries after the XSDT header: FADT, MADT
};
/// Errors: as build_acpi_tables, except the size limit (callers check their own).
[[nodiscard]] Result<AcpiTableSet> build_acpi_table_set(const AcpiSpec& spec, uint64_t base);

/// Builds RSDP, XSDT, FADT, MADT and DSDT (each table 16-byte aligned, checksums set).
/// Errors: kInvalidArgument if vcpu_count is 0 or above 255, a virtio device window is not
/// below 4 GiB (Memory32Fixed) or its IRQ is not an IOAPIC pin, an override names a
/// non-ISA IRQ, or the tables exceed max_bytes.
[[nodiscard]] Result<AcpiTables> build_acpi_tables(const AcpiSpec& spec);

/// One SDT: the 36-byte header (signature, revision, OEM fields, length, checksum) + body.
std::vector<std::byte> build_sdt(std::string_view signature, uint8_t revision,
                                 std::string_view oem_table_id,
                                 std::span<const std::byte> body);
/// RSDP revision 2 pointing at the XSDT.
std::vector<std::byte> build_rsdp(uint64_t xsdt_gpa);
/// XSDT listing `tables` (not the DSDT, which the FADT points to).
std::vector<std::byte> build_xsdt(std::span<const uint64_t> tables);
/// FADT: HW_REDUCED_ACPI, SLEEP_CONTROL/STATUS at kAcpiSleepControlPort/StatusPort, RESET_REG
/// at kAcpiResetPort, X_DSDT = dsdt_gpa.
std::vector<std::byte> build_fadt(uint64_t dsdt_gpa, bool i8042);
/// MADT: local APIC at kLapicAddress, one Processor Local APIC per vCPU, the IOAPIC
/// (id 0, kIoapicAddress, GSI base 0) and the overrides.
std::vector<std::byte> build_madt(uint32_t vcpu_count, std::span<const InterruptOverride> isos);
/// DSDT: \_SB_ with COM1/PS2K/VRnn devices as selected, and \_S5_ = Package {5, 5}.
std::vector<std::byte> build_dsdt(const AcpiSpec& spec);

}  // namespace cvm::vmm::x86::acpi
