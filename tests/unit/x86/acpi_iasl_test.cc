// SPDX-License-Identifier: Apache-2.0
// Cross-checks the generated DSDT/FADT/MADT with an independent implementation: ACPICA's
// disassembler (`iasl -d`, Debian package acpica-tools). Skipped when iasl is not installed.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vmm/x86/acpi/tables.h"

namespace cvm::vmm::x86::acpi {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool have_iasl() { return std::system("command -v iasl >/dev/null 2>&1") == 0; }

/// Writes `table` to a temporary directory, disassembles it and returns the .dsl text.
std::string disassemble(const std::vector<std::byte>& table, const std::string& stem) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("cvmm-iasl-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto dat = dir / (stem + ".dat");
  std::ofstream(dat, std::ios::binary)
      .write(reinterpret_cast<const char*>(table.data()), static_cast<long>(table.size()));
  const std::string cmd = "cd " + dir.string() + " && iasl -d " + dat.filename().string() +
                          " >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream dsl(dir / (stem + ".dsl"));
  std::stringstream text;
  text << dsl.rdbuf();
  std::filesystem::remove_all(dir);
  return text.str();
}

TEST(AcpiIaslTest, DsdtDisassemblesToTheExpectedDevices) {
  if (!have_iasl()) {
    GTEST_SKIP() << "iasl is absent: install acpica-tools";
  }
  const std::string dsl = disassemble(
      build_dsdt({.vcpu_count = 1, .virtio_devices = {*virtio_mmio_slot(0), *virtio_mmio_slot(1)}}),
      "dsdt");
  EXPECT_THAT(dsl, HasSubstr("DefinitionBlock (\"\", \"DSDT\", 2, \"CVMM  \", \"CVMMDSDT\""));
  EXPECT_THAT(dsl, HasSubstr("Device (COM1)"));
  EXPECT_THAT(dsl, HasSubstr("EisaId (\"PNP0501\")"));
  EXPECT_THAT(dsl, HasSubstr("0x03F8,             // Range Minimum"));
  EXPECT_THAT(dsl, HasSubstr("Device (PS2K)"));
  EXPECT_THAT(dsl, HasSubstr("Device (VR01)"));
  EXPECT_THAT(dsl, HasSubstr("Name (_HID, \"LNRO0005\")"));
  EXPECT_THAT(dsl, HasSubstr("0xD0001000,         // Address Base"));
  EXPECT_THAT(dsl, HasSubstr("Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )"));
  EXPECT_THAT(dsl, HasSubstr("Name (\\_S5, Package (0x02)"));
  EXPECT_THAT(dsl, Not(HasSubstr("Error")));
}

TEST(AcpiIaslTest, FadtDecodesAsHardwareReducedWithOurRegisters) {
  if (!have_iasl()) {
    GTEST_SKIP() << "iasl is absent: install acpica-tools";
  }
  const std::string dsl = disassemble(build_fadt(0xe0200, true), "facp");
  EXPECT_THAT(dsl, HasSubstr("Hardware Reduced (V5) : 1"));
  EXPECT_THAT(dsl, HasSubstr("8042 Present on ports 60/64 (V2) : 1"));
  EXPECT_THAT(dsl, HasSubstr("Address : 0000000000000600"));
  EXPECT_THAT(dsl, HasSubstr("Address : 0000000000000601"));
  EXPECT_THAT(dsl, HasSubstr("Value to cause reset : 01"));
  EXPECT_THAT(dsl, Not(HasSubstr("Invalid")));
}

TEST(AcpiIaslTest, MadtDecodesEveryEntry) {
  if (!have_iasl()) {
    GTEST_SKIP() << "iasl is absent: install acpica-tools";
  }
  const InterruptOverride iso{.source_irq = 0, .gsi = 2, .flags = 0};
  const std::string dsl = disassemble(build_madt(2, {&iso, 1}), "apic");
  EXPECT_THAT(dsl, HasSubstr("Local Apic Address : FEE00000"));
  EXPECT_THAT(dsl, HasSubstr("Local Apic ID : 01"));
  EXPECT_THAT(dsl, HasSubstr("Subtable Type : 01 [I/O APIC]"));
  EXPECT_THAT(dsl, HasSubstr("Address : FEC00000"));
  EXPECT_THAT(dsl, HasSubstr("Subtable Type : 02 [Interrupt Source Override]"));
  EXPECT_THAT(dsl, Not(HasSubstr("Invalid")));
}

}  // namespace
}  // namespace cvm::vmm::x86::acpi
