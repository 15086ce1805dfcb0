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

Result<AcpiTables> build_acpi_tables(const AcpiSpec& spec) {
  CVM_TRY(validate(spec));
  const std::vector<std::byte> dsdt = build_dsdt(spec);
  const std::vector<std::byte> madt = build_madt(spec.vcpu_count, spec.overrides);

  const uint64_t xsdt_at = align16(kRsdpSize);
  const uint64_t fadt_at = align16(xsdt_at + kSdtHeaderSize + 2 * 8);
  const uint64_t madt_at = align16(fadt_at + kFadtSize);
  const uint64_t dsdt_at = align16(madt_at + madt.size());
  const uint64_t total = dsdt_at + dsdt.size();
  if (total > spec.max_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "acpi tables need {:#x} bytes but only {:#x} are reserved at {:#x}", total,
                      spec.max_bytes, spec.gpa);
  }
  const std::vector<std::byte> fadt = build_fadt(spec.gpa + dsdt_at, spec.i8042);
  const uint64_t xsdt_entries[] = {spec.gpa + fadt_at, spec.gpa + madt_at};
  const std::vector<std::byte> xsdt = build_xsdt(xsdt_entries);
  const std::vector<std::byte> rsdp = build_rsdp(spec.gpa + xsdt_at);

  AcpiTables tables;
  tables.rsdp_gpa = spec.gpa;
  tables.blob = GuestBlob{.gpa = spec.gpa, .bytes = std::vector<std::byte>(total),
                          .label = "acpi tables"};
  std::span<std::byte> out(tables.blob.bytes);
  put_bytes(out, 0, rsdp);
  put_bytes(out, xsdt_at, xsdt);
  put_bytes(out, fadt_at, fadt);
  put_bytes(out, madt_at, madt);
  put_bytes(out, dsdt_at, dsdt);
  return tables;
}

}  // namespace cvm::vmm::x86::acpi
