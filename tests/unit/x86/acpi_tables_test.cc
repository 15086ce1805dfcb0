// SPDX-License-Identifier: Apache-2.0
// Builds the ACPI tables and parses them back the way an OS does: RSDP -> XSDT -> tables,
// checking every checksum, signature and length.
#include "vmm/x86/acpi/tables.h"

#include <algorithm>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/x86/synthetic_images.h"
#include "vmm/x86/acpi/aml.h"

namespace cvm::vmm::x86::acpi {
namespace {

using testing::peek;

uint8_t byte_sum(const std::vector<std::byte>& v, std::size_t at, std::size_t len) {
  uint8_t sum = 0;
  for (std::size_t i = 0; i < len; ++i) {
    sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(v.at(at + i)));
  }
  return sum;
}

std::string text(const std::vector<std::byte>& v, std::size_t at, std::size_t len) {
  std::string s;
  for (std::size_t i = 0; i < len; ++i) {
    s.push_back(static_cast<char>(v.at(at + i)));
  }
  return s;
}

bool contains(const std::vector<std::byte>& hay, std::size_t at, std::size_t len,
              const aml::Bytes& needle) {
  auto begin = hay.begin() + static_cast<long>(at);
  return std::search(begin, begin + static_cast<long>(len), needle.begin(), needle.end()) !=
         begin + static_cast<long>(len);
}

/// Table offset in the blob by signature, found through RSDP -> XSDT (and FADT -> DSDT).
struct Parsed {
  std::map<std::string, std::size_t> offset;
  std::map<std::string, std::size_t> length;
};

Parsed parse(const AcpiTables& t) {
  Parsed p;
  const auto& b = t.blob.bytes;
  const uint64_t base = t.blob.gpa;
  EXPECT_EQ(text(b, 0, 8), "RSD PTR ");
  EXPECT_EQ(byte_sum(b, 0, 20), 0);
  EXPECT_EQ(byte_sum(b, 0, 36), 0);
  EXPECT_EQ(peek(b, 15, 1), 2u);
  EXPECT_EQ(peek(b, 20, 4), 36u);
  const std::size_t xsdt = peek(b, 24, 8) - base;
  auto check_sdt = [&](std::size_t at, const std::string& sig) {
    EXPECT_EQ(text(b, at, 4), sig);
    const std::size_t len = peek(b, at + 4, 4);
    EXPECT_LE(at + len, b.size());
    EXPECT_EQ(byte_sum(b, at, len), 0) << sig << " checksum";
    p.offset[sig] = at;
    p.length[sig] = len;
  };
  check_sdt(xsdt, "XSDT");
  const std::size_t entries = (p.length["XSDT"] - 36) / 8;
  for (std::size_t i = 0; i < entries; ++i) {
    const std::size_t at = peek(b, xsdt + 36 + i * 8, 8) - base;
    check_sdt(at, text(b, at, 4));
  }
  if (p.offset.count("FACP")) {
    check_sdt(peek(b, p.offset["FACP"] + 140, 8) - base, "DSDT");
  }
  return p;
}

TEST(AcpiTablesTest, AllTablesParseBackWithValidChecksums) {
  auto t = build_acpi_tables({.vcpu_count = 2,
                              .virtio_devices = {*virtio_mmio_slot(0), *virtio_mmio_slot(1)}});
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->rsdp_gpa, 0xe0000u);
  EXPECT_EQ(t->blob.gpa, 0xe0000u);
  const Parsed p = parse(*t);
  EXPECT_EQ(p.length.at("XSDT"), 36u + 16u);
  EXPECT_EQ(p.length.at("FACP"), 276u);
  EXPECT_EQ(p.length.at("APIC"), 36u + 8u + 2 * 8u + 12u + 10u);
  EXPECT_TRUE(p.offset.count("DSDT"));
  for (const auto& [sig, at] : p.offset) {
    EXPECT_EQ(at % 16, 0u) << sig;
  }
}

TEST(AcpiTablesTest, FadtIsHardwareReducedWithSleepRegistersOnOurPorts) {
  auto t = build_acpi_tables({.vcpu_count = 1});
  ASSERT_TRUE(t);
  const Parsed p = parse(*t);
  const auto& b = t->blob.bytes;
  const std::size_t f = p.offset.at("FACP");
  EXPECT_EQ(peek(b, f + 8, 1), 6u);                      // revision
  EXPECT_EQ(peek(b, f + 131, 1), 5u);                    // minor version
  EXPECT_NE(peek(b, f + 112, 4) & (1u << 20), 0u);       // HW_REDUCED_ACPI
  EXPECT_NE(peek(b, f + 112, 4) & (1u << 10), 0u);       // RESET_REG_SUP
  EXPECT_EQ(peek(b, f + 109, 2), 0x26u);                 // 8042 | VGA absent | no CMOS RTC
  EXPECT_EQ(peek(b, f + 40, 4), peek(b, f + 140, 8));    // DSDT == X_DSDT
  // SLEEP_CONTROL_REG GAS @244: System I/O, 8 bits, offset 0, byte access, port 0x600.
  EXPECT_EQ(peek(b, f + 244, 4), 0x01000801u);
  EXPECT_EQ(peek(b, f + 248, 8), 0x600u);
  EXPECT_EQ(peek(b, f + 260, 8), 0x601u);                // SLEEP_STATUS_REG address
  EXPECT_EQ(peek(b, f + 120, 8), 0x602u);                // RESET_REG address
  EXPECT_EQ(peek(b, f + 128, 1), 1u);                    // RESET_VALUE
}

TEST(AcpiTablesTest, MadtListsEveryVcpuTheIoapicAndOverrides) {
  auto t = build_acpi_tables({.vcpu_count = 3});
  ASSERT_TRUE(t);
  const Parsed p = parse(*t);
  const auto& b = t->blob.bytes;
  const std::size_t m = p.offset.at("APIC");
  EXPECT_EQ(peek(b, m + 36, 4), 0xfee00000u);
  EXPECT_EQ(peek(b, m + 40, 4), 0u);
  std::size_t at = m + 44;
  for (uint32_t cpu = 0; cpu < 3; ++cpu, at += 8) {
    EXPECT_EQ(peek(b, at, 2), 0x0800u);                 // type 0, length 8
    EXPECT_EQ(peek(b, at + 2, 1), cpu);                 // UID
    EXPECT_EQ(peek(b, at + 3, 1), cpu);                 // APIC id
    EXPECT_EQ(peek(b, at + 4, 4), 1u);                  // enabled
  }
  EXPECT_EQ(peek(b, at, 2), 0x0c01u);                   // IOAPIC, length 12
  EXPECT_EQ(peek(b, at + 4, 4), 0xfec00000u);
  EXPECT_EQ(peek(b, at + 8, 4), 0u);                    // GSI base
  at += 12;
  EXPECT_EQ(peek(b, at, 2), 0x0a02u);                   // ISO, length 10
  EXPECT_EQ(peek(b, at + 3, 1), 0u);                    // IRQ 0
  EXPECT_EQ(peek(b, at + 4, 4), 2u);                    // -> GSI 2
  EXPECT_EQ(at + 10, m + p.length.at("APIC"));
}

TEST(AcpiTablesTest, DsdtDescribesCom1VirtioDevicesAndS5) {
  const VirtioMmioSlot slot = *virtio_mmio_slot(2);
  auto t = build_acpi_tables({.vcpu_count = 1, .virtio_devices = {slot}, .i8042 = false});
  ASSERT_TRUE(t);
  const Parsed p = parse(*t);
  const auto& b = t->blob.bytes;
  const std::size_t d = p.offset.at("DSDT");
  const std::size_t len = p.length.at("DSDT");
  EXPECT_EQ(peek(b, d + 8, 1), 2u);  // revision 2: 64-bit integers
  using namespace aml;               // NOLINT
  EXPECT_TRUE(contains(b, d, len, name("\\_S5_", package({integer(5), integer(5)}))));
  EXPECT_TRUE(contains(b, d, len, name("_HID", eisa_id("PNP0501"))));
  EXPECT_TRUE(contains(b, d, len, resource_template({io_port(0x3f8, 0x3f8, 0, 8),
                                                      irq_no_flags(4)})));
  EXPECT_TRUE(contains(b, d, len, name("_HID", string("LNRO0005"))));
  EXPECT_TRUE(contains(b, d, len, resource_template({memory32_fixed(true, 0xd0002000, 0x1000),
                                                      extended_interrupt(true, false, false, 7)})));
  EXPECT_FALSE(contains(b, d, len, eisa_id("PNP0303")));  // i8042 off
  // The AML starts with Scope(\_SB_).
  EXPECT_EQ(peek(b, d + 36, 1), 0x10u);
}

TEST(AcpiTablesTest, InvalidSpecsAreRejected) {
  EXPECT_FALSE(build_acpi_tables({.vcpu_count = 0}));
  auto irq = build_acpi_tables(
      {.vcpu_count = 1, .virtio_devices = {{.base = 0xd0000000, .size = 0x1000, .irq = 24}}});
  ASSERT_FALSE(irq);
  EXPECT_THAT(irq.error().message(), ::testing::HasSubstr("irq 24 is not an IOAPIC pin"));
  auto high = build_acpi_tables(
      {.vcpu_count = 1, .virtio_devices = {{.base = 0xfffff800, .size = 0x1000, .irq = 5}}});
  ASSERT_FALSE(high);
  EXPECT_THAT(high.error().message(), ::testing::HasSubstr("not below 4 GiB"));
  auto small = build_acpi_tables({.vcpu_count = 1, .max_bytes = 0x100});
  ASSERT_FALSE(small);
  EXPECT_THAT(small.error().message(), ::testing::HasSubstr("only 0x100 are reserved"));
}

TEST(AcpiTablesTest, ManyVcpusAndDevicesStillFitTheRegion) {
  std::vector<VirtioMmioSlot> slots;
  for (uint32_t i = 0; i < kVirtioMmioMaxSlots; ++i) {
    slots.push_back(*virtio_mmio_slot(i));
  }
  auto t = build_acpi_tables({.vcpu_count = 255, .virtio_devices = slots});
  ASSERT_TRUE(t) << t.error().message();
  const Parsed p = parse(*t);
  EXPECT_EQ(p.length.at("APIC"), 36u + 8u + 255 * 8u + 12u + 10u);
  EXPECT_LE(t->blob.bytes.size(), kAcpiTablesEnd - kAcpiTablesAddress);
}

}  // namespace
}  // namespace cvm::vmm::x86::acpi
