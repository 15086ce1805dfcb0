// SPDX-License-Identifier: Apache-2.0
// build_acpi_tables: validation and placement of the tables built in tables.cc.
#include "base/checked.h"
#include "vmm/x86/acpi/tables.h"

namespace cvm::vmm::x86::acpi {
namespace {

constexpr uint64_t kTableAlignment = 16;  // RSDP must be; the rest for tidiness

Result<void> validate(const AcpiSpec& spec) {
  if (spec.vcpu_count == 0 || spec.vcpu_count > 255) {
    return make_error(ErrorCode::kInvalidArgument, "acpi: vcpu count {} is out of range 1..255",
                      spec.vcpu_count);
  }
  for (const VirtioMmioSlot& slot : spec.virtio_devices) {
    if (!range_within<uint64_t>(slot.base, slot.size, kMmioHoleEnd) || slot.size == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "acpi: virtio-mmio window {:#x}+{:#x} is not below 4 GiB", slot.base,
                        slot.size);
    }
    if (slot.irq >= kIoapicPins) {
      return make_error(ErrorCode::kInvalidArgument,
                        "acpi: virtio-mmio irq {} is not an IOAPIC pin (0..{})", slot.irq,
                        kIoapicPins - 1);
    }
  }
  if (spec.virtio_devices.size() > 255) {
    return make_error(ErrorCode::kInvalidArgument, "acpi: too many virtio-mmio devices ({})",
                      spec.virtio_devices.size());
  }
  for (const InterruptOverride& iso : spec.overrides) {
    if (iso.source_irq >= 16 || iso.gsi >= kIoapicPins) {
      return make_error(ErrorCode::kInvalidArgument,
                        "acpi: interrupt override {} -> gsi {} is not ISA irq -> IOAPIC pin",
                        iso.source_irq, iso.gsi);
    }
  }
  return ok();
}

uint64_t align16(uint64_t v) { return (v + kTableAlignment - 1) & ~(kTableAlignment - 1); }

}  // namespace

Result<AcpiTableSet> build_acpi_table_set(const AcpiSpec& spec, uint64_t base) {
  CVM_TRY(validate(spec));
  const std::vector<std::byte> dsdt = build_dsdt(spec);
  const std::vector<std::byte> madt = build_madt(spec.vcpu_count, spec.overrides);

  AcpiTableSet set;
  set.xsdt_offset = 0;
  set.xsdt_entries = 2;
  set.fadt_offset = align16(set.xsdt_offset + kSdtHeaderSize + set.xsdt_entries * 8);
  set.madt_offset = align16(set.fadt_offset + kFadtSize);
  set.dsdt_offset = align16(set.madt_offset + madt.size());
  set.bytes.resize(set.dsdt_offset + dsdt.size());
  const std::vector<std::byte> fadt = build_fadt(base + set.dsdt_offset, spec.i8042);
  const uint64_t xsdt_entries[] = {base + set.fadt_offset, base + set.madt_offset};
  const std::vector<std::byte> xsdt = build_xsdt(xsdt_entries);
  put_bytes(set.bytes, set.xsdt_offset, xsdt);
  put_bytes(set.bytes, set.fadt_offset, fadt);
  put_bytes(set.bytes, set.madt_offset, madt);
  put_bytes(set.bytes, set.dsdt_offset, dsdt);
  return set;
}

Result<AcpiTables> build_acpi_tables(const AcpiSpec& spec) {
  // RSDP first, then the table set (the RSDP scan wants it 16-byte aligned at the start).
  const uint64_t tables_at = align16(kRsdpSize);
  CVM_ASSIGN_OR_RETURN(const AcpiTableSet set, build_acpi_table_set(spec, spec.gpa + tables_at));
  const uint64_t total = tables_at + set.bytes.size();
  if (total > spec.max_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "acpi tables need {:#x} bytes but only {:#x} are reserved at {:#x}", total,
                      spec.max_bytes, spec.gpa);
  }
  const std::vector<std::byte> rsdp = build_rsdp(spec.gpa + tables_at + set.xsdt_offset);

  AcpiTables tables;
  tables.rsdp_gpa = spec.gpa;
  tables.blob = GuestBlob{.gpa = spec.gpa, .bytes = std::vector<std::byte>(total),
                          .label = "acpi tables"};
  std::span<std::byte> out(tables.blob.bytes);
  put_bytes(out, 0, rsdp);
  put_bytes(out, tables_at, set.bytes);
  return tables;
}

}  // namespace cvm::vmm::x86::acpi
