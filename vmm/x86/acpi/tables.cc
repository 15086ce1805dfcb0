// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86/acpi/tables.h"

#include <fmt/format.h>

#include "devices/fw_cfg/fw_cfg_device.h"
#include "vmm/x86/acpi/aml.h"

namespace cvm::vmm::x86::acpi {
namespace {

constexpr uint32_t kCreatorId = 0x4d4d5643;  // "CVMM"
constexpr uint32_t kCreatorRevision = 1;
constexpr uint32_t kOemRevision = 1;

// FADT (§5.2.9 Table 5.9) field offsets and flag bits used here.
constexpr std::size_t kFadtDsdt = 40;
constexpr std::size_t kFadtIapcBootArch = 109;
constexpr std::size_t kFadtFlags = 112;
constexpr std::size_t kFadtResetReg = 116;
constexpr std::size_t kFadtResetValue = 128;
constexpr std::size_t kFadtMinorVersion = 131;
constexpr std::size_t kFadtXDsdt = 140;
constexpr std::size_t kFadtSleepControlReg = 244;
constexpr std::size_t kFadtSleepStatusReg = 256;
constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinor = 5;  // ACPI 6.5
constexpr uint32_t kFlagResetRegSup = 1u << 10;
constexpr uint32_t kFlagHwReducedAcpi = 1u << 20;
constexpr uint16_t kBootArch8042 = 1u << 1;
constexpr uint16_t kBootArchVgaNotPresent = 1u << 2;
constexpr uint16_t kBootArchCmosRtcNotPresent = 1u << 5;

// MADT (§5.2.12) structure types and sizes.
constexpr uint8_t kMadtRevision = 5;
constexpr uint8_t kMadtLocalApic = 0;      // 8 bytes: type, len, uid u8, apic id u8, flags u32
constexpr uint8_t kMadtIoApic = 1;         // 12 bytes: type, len, id, 0, addr u32, gsi base u32
constexpr uint8_t kMadtIso = 2;            // 10 bytes: type, len, bus, source, gsi u32, flags u16
constexpr uint32_t kLocalApicEnabled = 1;

/// Generic Address Structure (§5.2.3.2, 12 bytes) for a one-byte System I/O register.
void put_io_gas(std::span<std::byte> out, std::size_t at, uint16_t port) {
  put_le<uint8_t>(out, at + 0, 1);  // address space: System I/O
  put_le<uint8_t>(out, at + 1, 8);  // register bit width
  put_le<uint8_t>(out, at + 2, 0);  // bit offset
  put_le<uint8_t>(out, at + 3, 1);  // access size: byte
  put_le<uint64_t>(out, at + 4, port);
}

}  // namespace

std::vector<std::byte> build_sdt(std::string_view signature, uint8_t revision,
                                 std::string_view oem_table_id,
                                 std::span<const std::byte> body) {
  CVM_CHECK(signature.size() == 4 && oem_table_id.size() == 8, "bad SDT signature or id");
  std::vector<std::byte> t(kSdtHeaderSize + body.size());
  put_chars(t, 0, signature);
  put_le<uint32_t>(t, 4, static_cast<uint32_t>(t.size()));
  put_le<uint8_t>(t, 8, revision);
  put_chars(t, 10, kOemId);
  put_chars(t, 16, oem_table_id);
  put_le<uint32_t>(t, 24, kOemRevision);
  put_le<uint32_t>(t, 28, kCreatorId);
  put_le<uint32_t>(t, 32, kCreatorRevision);
  put_bytes(t, kSdtHeaderSize, body);
  put_le<uint8_t>(t, 9, checksum_complement(t));
  return t;
}

std::vector<std::byte> build_rsdp(uint64_t xsdt_gpa) {
  std::vector<std::byte> r(kRsdpSize);
  put_chars(r, 0, "RSD PTR ");
  put_chars(r, 9, kOemId);
  put_le<uint8_t>(r, 15, 2);
  put_le<uint32_t>(r, 16, 0);  // no RSDT: every OS cvmm targets reads the XSDT
  put_le<uint32_t>(r, 20, kRsdpSize);
  put_le<uint64_t>(r, 24, xsdt_gpa);
  put_le<uint8_t>(r, 8, checksum_complement(std::span<const std::byte>(r).first(20)));
  put_le<uint8_t>(r, 32, checksum_complement(r));
  return r;
}

std::vector<std::byte> build_xsdt(std::span<const uint64_t> tables) {
  std::vector<std::byte> body(tables.size() * 8);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    put_le<uint64_t>(body, i * 8, tables[i]);
  }
  return build_sdt("XSDT", 1, "CVMMXSDT", body);
}

std::vector<std::byte> build_fadt(uint64_t dsdt_gpa, bool i8042) {
  std::vector<std::byte> body(kFadtSize - kSdtHeaderSize);
  auto at = [](std::size_t table_offset) { return table_offset - kSdtHeaderSize; };
  // 32-bit DSDT pointer too: our tables are below 1 MiB and some parsers look here first.
  put_le<uint32_t>(body, at(kFadtDsdt), static_cast<uint32_t>(dsdt_gpa));
  const uint16_t boot_arch =
      kBootArchVgaNotPresent | kBootArchCmosRtcNotPresent | (i8042 ? kBootArch8042 : 0);
  put_le<uint16_t>(body, at(kFadtIapcBootArch), boot_arch);
  put_le<uint32_t>(body, at(kFadtFlags), kFlagHwReducedAcpi | kFlagResetRegSup);
  put_io_gas(body, at(kFadtResetReg), kAcpiResetPort);
  put_le<uint8_t>(body, at(kFadtResetValue), kAcpiResetValue);
  put_le<uint8_t>(body, at(kFadtMinorVersion), kFadtMinor);
  put_le<uint64_t>(body, at(kFadtXDsdt), dsdt_gpa);
  put_io_gas(body, at(kFadtSleepControlReg), kAcpiSleepControlPort);
  put_io_gas(body, at(kFadtSleepStatusReg), kAcpiSleepStatusPort);
  return build_sdt("FACP", kFadtRevision, "CVMMFACP", body);
}

std::vector<std::byte> build_madt(uint32_t vcpu_count,
                                  std::span<const InterruptOverride> isos) {
  std::vector<std::byte> body;
  ByteAppender out(body);
  out.le<uint32_t>(static_cast<uint32_t>(kLapicAddress));
  out.le<uint32_t>(0);  // flags: no PCAT_COMPAT, there is no 8259 pair to mask
  for (uint32_t cpu = 0; cpu < vcpu_count; ++cpu) {
    out.u8(kMadtLocalApic);
    out.u8(8);
    out.u8(static_cast<uint8_t>(cpu));  // ACPI processor UID
    out.u8(static_cast<uint8_t>(cpu));  // APIC id (matches CPUID leaf 1 EBX[31:24])
    out.le<uint32_t>(kLocalApicEnabled);
  }
  out.u8(kMadtIoApic);
  out.u8(12);
  out.u8(0);  // IOAPIC id
  out.u8(0);
  out.le<uint32_t>(static_cast<uint32_t>(kIoapicAddress));
  out.le<uint32_t>(0);  // GSI base
  for (const InterruptOverride& iso : isos) {
    out.u8(kMadtIso);
    out.u8(10);
    out.u8(0);  // bus: ISA
    out.u8(iso.source_irq);
    out.le<uint32_t>(iso.gsi);
    out.le<uint16_t>(iso.flags);
  }
  return build_sdt("APIC", kMadtRevision, "CVMMMADT", body);
}

std::vector<std::byte> build_dsdt(const AcpiSpec& spec) {
  using namespace aml;  // NOLINT: builder vocabulary
  Bytes devices;
  if (spec.com1) {
    devices = concat({devices, device("COM1", concat({
        name("_HID", eisa_id("PNP0501")),
        name("_UID", integer(0)),
        name("_CRS", resource_template({io_port(kCom1Port, kCom1Port, 0, kCom1PortCount),
                                        irq_no_flags(kCom1Irq)})),
    }))});
  }
  if (spec.i8042) {
    devices = concat({devices, device("PS2K", concat({
        name("_HID", eisa_id("PNP0303")),
        name("_CRS", resource_template({io_port(kI8042DataPort, kI8042DataPort, 0, 1),
                                        io_port(kI8042CommandPort, kI8042CommandPort, 0, 1),
                                        irq_no_flags(kI8042Irq)})),
    }))});
  }
  if (spec.fw_cfg) {
    // _STA 0x0b: present, enabled, not shown in UI (what QEMU's acpi-build.c uses).
    devices = concat({devices, device("FWCF", concat({
        name("_HID", string("QEMU0002")),
        name("_STA", integer(0x0b)),
        name("_CRS", resource_template({io_port(cvm::devices::fw_cfg::kFwCfgPortBase,
                                                cvm::devices::fw_cfg::kFwCfgPortBase, 1,
                                                cvm::devices::fw_cfg::kFwCfgPortCount)})),
    }))});
  }
  for (std::size_t i = 0; i < spec.virtio_devices.size(); ++i) {
    const VirtioMmioSlot& slot = spec.virtio_devices[i];
    const std::string dev_name = fmt::format("VR{:02X}", i);
    // Edge-triggered, active high, exclusive: what irqfd delivers without a resampler.
    devices = concat({devices, device(dev_name, concat({
        name("_HID", string("LNRO0005")),
        name("_UID", integer(i)),
        name("_CRS", resource_template({memory32_fixed(true, static_cast<uint32_t>(slot.base),
                                                       static_cast<uint32_t>(slot.size)),
                                        extended_interrupt(true, false, false, slot.irq)})),
    }))});
  }
  const Bytes aml_code = concat({
      scope("\\_SB_", devices),
      name("\\_S5_", package({integer(kAcpiSleepTypeS5), integer(kAcpiSleepTypeS5)})),
  });
  return build_sdt("DSDT", 2, "CVMMDSDT", aml_code);
}

}  // namespace cvm::vmm::x86::acpi
