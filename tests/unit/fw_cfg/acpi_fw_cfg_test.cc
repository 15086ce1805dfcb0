// SPDX-License-Identifier: Apache-2.0
// The relocatable ACPI files: served through the fw_cfg device and executed by the OVMF model
// (tests/unit/fw_cfg/fw_cfg_guest.h), they must become exactly the tables cvmm's builder lays
// out at the addresses the firmware picked, with every checksum 0 and every pointer right.
#include "vmm/x86/acpi/acpi_fw_cfg.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/byte_reader.h"
#include "devices/fw_cfg/fw_cfg_device.h"
#include "tests/unit/fw_cfg/fw_cfg_guest.h"

namespace cvm::vmm::x86::acpi {
namespace {

namespace fw = devices::fw_cfg;

constexpr uint64_t kLow = 0x7f000000;    // below 4 GiB, where restricted blobs go
constexpr uint64_t kHigh = 0x123450000;  // above 4 GiB
constexpr uint64_t kDmaScratch = 0x1000;

AcpiSpec spec_with_devices() {
  AcpiSpec spec;
  spec.vcpu_count = 3;
  spec.virtio_devices = {*virtio_mmio_slot(0), *virtio_mmio_slot(1)};
  return spec;
}

uint8_t sum8(std::span<const std::byte> bytes) {
  uint8_t sum = 0;
  for (std::byte b : bytes) {
    sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
  }
  return sum;
}

uint64_t le64_at(std::span<const std::byte> bytes, std::size_t at) {
  return load_le<uint64_t>(bytes.subspan(at).first<8>());
}

struct Served {
  fw::testing::RegionGuestMemory memory;
  std::unique_ptr<fw::FwCfgDevice> device;
  std::unique_ptr<fw::testing::FwCfgGuest> guest;
};

std::unique_ptr<Served> serve(FwCfgAcpiTables files) {
  auto served = std::make_unique<Served>();
  served->memory.add_region(0, 1 << 20);
  served->memory.add_region(kLow, 1 << 20);
  served->memory.add_region(kHigh, 1 << 20);
  fw::FwCfgStoreBuilder builder;
  EXPECT_TRUE(builder.add_file(kAcpiRsdpFile, fw::FwCfgBytes(std::move(files.rsdp))));
  EXPECT_TRUE(builder.add_file(kAcpiTablesFile, fw::FwCfgBytes(std::move(files.tables))));
  EXPECT_TRUE(builder.add_file(kTableLoaderFile, fw::FwCfgBytes(std::move(files.loader))));
  served->device = std::make_unique<fw::FwCfgDevice>(*std::move(builder).build(), served->memory);
  served->guest = std::make_unique<fw::testing::FwCfgGuest>(*served->device, served->memory);
  return served;
}

TEST(AcpiFwCfgTest, OvmfLoaderTurnsTheFilesIntoTheTablesBuiltAtThoseAddresses) {
  const AcpiSpec spec = spec_with_devices();
  auto files = build_fw_cfg_acpi_tables(spec);
  ASSERT_TRUE(files.has_value()) << files.error().message();
  const std::size_t tables_size = files->tables.size();
  auto served = serve(std::move(*files));
  auto run = fw::testing::run_ovmf_table_loader(*served->guest, served->memory, kLow, kHigh,
                                                kDmaScratch);
  ASSERT_TRUE(run.has_value()) << run.error().message();

  // The 4-byte FADT.DSDT pointer keeps the tables below 4 GiB; the RSDP may go anywhere.
  EXPECT_EQ(run->blob_addresses.at("etc/acpi/tables"), kLow);
  EXPECT_EQ(run->blob_addresses.at("etc/acpi/rsdp"), kHigh);
  // What OVMF hands to EFI_ACPI_TABLE_PROTOCOL: the DSDT once (DSDT and X_DSDT point to the
  // same table), FADT and MADT; never the XSDT.
  EXPECT_EQ(run->installed, (std::vector<std::string>{"DSDT", "FACP", "APIC"}));

  auto expected = build_acpi_table_set(spec, kLow);
  ASSERT_TRUE(expected.has_value());
  std::vector<std::byte> tables(tables_size);
  ASSERT_TRUE(served->memory.read(kLow, tables).has_value());
  EXPECT_EQ(tables, expected->bytes);
  std::vector<std::byte> rsdp(kRsdpSize);
  ASSERT_TRUE(served->memory.read(kHigh, rsdp).has_value());
  EXPECT_EQ(rsdp, build_rsdp(kLow + expected->xsdt_offset));

  // Independently of the builder: checksums and pointers of the linked set.
  EXPECT_EQ(sum8(std::span(rsdp).first(20)), 0);
  EXPECT_EQ(sum8(rsdp), 0);
  EXPECT_EQ(le64_at(rsdp, 24), kLow);
  const std::span<const std::byte> t(tables);
  for (std::size_t at : {expected->xsdt_offset, expected->fadt_offset, expected->madt_offset,
                         expected->dsdt_offset}) {
    const uint32_t length = load_le<uint32_t>(t.subspan(at + 4).first<4>());
    EXPECT_EQ(sum8(t.subspan(at, length)), 0) << "table at offset " << at;
  }
  EXPECT_EQ(le64_at(t, expected->xsdt_offset + 36), kLow + expected->fadt_offset);
  EXPECT_EQ(le64_at(t, expected->xsdt_offset + 44), kLow + expected->madt_offset);
  EXPECT_EQ(load_le<uint32_t>(t.subspan(expected->fadt_offset + 40).first<4>()),
            kLow + expected->dsdt_offset);
  EXPECT_EQ(le64_at(t, expected->fadt_offset + 140), kLow + expected->dsdt_offset);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&t[expected->dsdt_offset]), 4), "DSDT");
}

TEST(AcpiFwCfgTest, ServedFilesHoldOffsetsAndZeroChecksums) {
  auto files = build_fw_cfg_acpi_tables(spec_with_devices());
  ASSERT_TRUE(files.has_value());
  auto set = build_acpi_table_set(spec_with_devices(), 0);
  ASSERT_TRUE(set.has_value());
  const std::span<const std::byte> t(files->tables);
  EXPECT_EQ(le64_at(t, set->fadt_offset + 140), set->dsdt_offset);
  EXPECT_EQ(le64_at(t, set->xsdt_offset + 36), set->fadt_offset);
  for (std::size_t at : {set->xsdt_offset, set->fadt_offset, set->madt_offset, set->dsdt_offset}) {
    EXPECT_EQ(t[at + 9], std::byte{0});
  }
  EXPECT_EQ(files->rsdp[8], std::byte{0});
  EXPECT_EQ(files->rsdp[32], std::byte{0});
  EXPECT_EQ(le64_at(files->rsdp, 24), 0u);  // the XSDT is at offset 0 of etc/acpi/tables
  // 2 ALLOCATE, 7 ADD_POINTER (FADT x2, XSDT x2, RSDP x1 ... ) and checksums, 128 bytes each.
  EXPECT_EQ(files->loader.size(), files->commands.size() * 128);
  EXPECT_EQ(files->commands.size(), 2u + 5u + 6u);
}

TEST(AcpiFwCfgTest, FixedAddressTablesAreTheSameBuilderAfterTheRsdp) {
  AcpiSpec spec = spec_with_devices();
  auto fixed = build_acpi_tables(spec);
  ASSERT_TRUE(fixed.has_value());
  auto set = build_acpi_table_set(spec, spec.gpa + 48);
  ASSERT_TRUE(set.has_value());
  const auto& blob = fixed->blob.bytes;
  EXPECT_EQ(std::vector<std::byte>(blob.begin() + 48, blob.end()), set->bytes);
  EXPECT_EQ(le64_at(blob, 24), spec.gpa + 48);
}

TEST(AcpiFwCfgTest, FirmwareBootDsdtDeclaresTheFwCfgPortsLikeQemu) {
  if (std::system("command -v iasl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "iasl is absent: install acpica-tools";
  }
  AcpiSpec spec;
  spec.fw_cfg = true;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("cvmm-fwcf-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto dsdt = build_dsdt(spec);
  std::ofstream(dir / "dsdt.dat", std::ios::binary)
      .write(reinterpret_cast<const char*>(dsdt.data()), static_cast<long>(dsdt.size()));
  const std::string cmd = "cd " + dir.string() + " && iasl -d dsdt.dat >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::stringstream dsl;
  dsl << std::ifstream(dir / "dsdt.dsl").rdbuf();
  std::filesystem::remove_all(dir);
  const std::string text = dsl.str();
  EXPECT_NE(text.find("Device (FWCF)"), std::string::npos) << text;
  EXPECT_NE(text.find("Name (_HID, \"QEMU0002\")"), std::string::npos) << text;
  EXPECT_NE(text.find("Name (_STA, 0x0B)"), std::string::npos) << text;
  EXPECT_NE(text.find("0x0510,             // Range Minimum"), std::string::npos) << text;
  EXPECT_NE(text.find("0x0C,               // Length"), std::string::npos) << text;
  AcpiSpec direct;
  const auto plain = build_dsdt(direct);
  const std::string plain_text(reinterpret_cast<const char*>(plain.data()), plain.size());
  EXPECT_EQ(plain_text.find("QEMU0002"), std::string::npos);  // direct boots: unchanged
}

}  // namespace
}  // namespace cvm::vmm::x86::acpi
