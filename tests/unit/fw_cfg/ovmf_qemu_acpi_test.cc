// SPDX-License-Identifier: Apache-2.0
// cvmm's ACPI fw_cfg files against the real firmware (label qemu): Debian's OVMF.fd
// (edk2-stable202211) boots under QEMU TCG on machine type pc-i440fx-1.6, the last one for which
// QEMU builds no ACPI tables itself, so cvmm's "etc/table-loader", "etc/acpi/rsdp" and
// "etc/acpi/tables" are the only ones (given with -fw_cfg). Once OVMF reaches its shell, guest
// RAM is dumped through the QEMU monitor and searched: OVMF must have run the script and
// installed exactly cvmm's MADT and DSDT, and a FADT whose DSDT pointers lead to that DSDT,
// behind its own RSDP/XSDT with valid checksums. Skipped without QEMU or OVMF.fd.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "base/byte_reader.h"
#include "base/file.h"
#include "base/unique_fd.h"
#include "tests/guest/guest_harness.h"
#include "vmm/x86/acpi/acpi_fw_cfg.h"

namespace cvm::vmm::x86::acpi {
namespace {

using test::guest::ChildProcess;
using test::guest::TempDir;

constexpr const char* kQemu = "/usr/bin/qemu-system-x86_64";
constexpr uint64_t kRamBytes = 128 << 20;

void write_bytes(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

/// Sends one monitor command over the unix socket and waits `settle` for it to finish.
bool monitor(const std::filesystem::path& socket_path, const std::string& command,
             std::chrono::milliseconds settle) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path.c_str());
  if (!fd.valid() ||
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return false;
  }
  const std::string line = command + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return false;
  }
  std::this_thread::sleep_for(settle);
  return true;
}

uint8_t sum8(std::span<const std::byte> bytes) {
  uint8_t sum = 0;
  for (std::byte b : bytes) {
    sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
  }
  return sum;
}

struct Dump {
  std::vector<std::byte> ram;
  /// The SDT at `gpa` (whole table per its Length), or empty if it does not fit.
  std::vector<std::byte> table(uint64_t gpa) const {
    if (gpa + 36 > ram.size()) {
      return {};
    }
    const uint32_t length = load_le<uint32_t>(std::span(ram).subspan(gpa + 4).first<4>());
    if (length < 36 || gpa + length > ram.size()) {
      return {};
    }
    return {ram.begin() + static_cast<std::ptrdiff_t>(gpa),
            ram.begin() + static_cast<std::ptrdiff_t>(gpa + length)};
  }
  /// Every revision-2 RSDP with both checksums valid.
  std::vector<uint64_t> rsdps() const {
    std::vector<uint64_t> found;
    const std::string_view text(reinterpret_cast<const char*>(ram.data()), ram.size());
    for (std::size_t at = text.find("RSD PTR "); at != std::string_view::npos;
         at = text.find("RSD PTR ", at + 8)) {
      const auto rsdp = std::span(ram).subspan(at, std::min<std::size_t>(36, ram.size() - at));
      if (rsdp.size() == 36 && rsdp[15] == std::byte{2} && sum8(rsdp.first(20)) == 0 &&
          sum8(rsdp) == 0) {
        found.push_back(at);
      }
    }
    return found;
  }
};

std::string signature(std::span<const std::byte> table) {
  return std::string(reinterpret_cast<const char*>(table.data()), 4);
}

TEST(OvmfQemuAcpiTest, Ovmf202211InstallsCvmmsTablesFromTheTableLoader) {
  if (::access(kQemu, X_OK) != 0 || ::access(CVMM_OVMF_FD, R_OK) != 0) {
    GTEST_SKIP() << kQemu << " or " << CVMM_OVMF_FD << " is absent (qemu-system-x86, ovmf)";
  }
  auto dir = TempDir::create("cvmm-ovmf-acpi-");
  ASSERT_TRUE(dir) << dir.error().message();
  AcpiSpec spec;
  spec.vcpu_count = 2;
  spec.fw_cfg = true;
  spec.virtio_devices = {*virtio_mmio_slot(0)};
  auto files = build_fw_cfg_acpi_tables(spec);
  ASSERT_TRUE(files.has_value()) << files.error().message();
  const auto& d = dir->path();
  write_bytes(d / "rsdp", files->rsdp);
  write_bytes(d / "tables", files->tables);
  write_bytes(d / "loader", files->loader);
  const auto serial = d / "serial.log";
  const auto socket_path = d / "monitor.sock";
  const auto dump_path = d / "ram.bin";
  auto qemu = ChildProcess::spawn(
      {kQemu, "-M", "pc-i440fx-1.6,accel=tcg", "-bios", CVMM_OVMF_FD, "-m", "128M",
       "-nodefaults", "-display", "none", "-serial", "file:" + serial.string(), "-monitor",
       "unix:" + socket_path.string() + ",server,nowait", "-fw_cfg",
       "name=etc/table-loader,file=" + (d / "loader").string(), "-fw_cfg",
       "name=etc/acpi/rsdp,file=" + (d / "rsdp").string(), "-fw_cfg",
       "name=etc/acpi/tables,file=" + (d / "tables").string()},
      d / "qemu.log");
  ASSERT_TRUE(qemu) << qemu.error().message();
  bool shell = false;
  for (int i = 0; i < 180 && !shell; ++i) {  // OVMF reaches its shell in ~10 s under TCG
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto log = read_text_file(serial.string());
    shell = log && log->find("Shell>") != std::string::npos;
  }
  ASSERT_TRUE(shell) << "OVMF did not reach its shell";
  ASSERT_TRUE(monitor(socket_path,
                      fmt::format("pmemsave 0 {:#x} \"{}\"", kRamBytes, dump_path.string()),
                      std::chrono::seconds(3)));
  monitor(socket_path, "quit", std::chrono::milliseconds(200));
  (void)qemu->wait(std::chrono::seconds(10));
  auto ram = read_file(dump_path.string());
  ASSERT_TRUE(ram.has_value()) << ram.error().message();
  ASSERT_EQ(ram->size(), kRamBytes);
  Dump dump{std::move(*ram)};

  const auto rsdps = dump.rsdps();
  ASSERT_EQ(rsdps.size(), 1u) << "OVMF installs one RSDP (cvmm's own etc/acpi/rsdp is freed)";
  const auto rsdp = std::span<const std::byte>(dump.ram).subspan(rsdps[0], 36);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&rsdp[9]), 6), kOemId);
  const auto xsdt = dump.table(load_le<uint64_t>(rsdp.subspan<24, 8>()));
  ASSERT_FALSE(xsdt.empty());
  EXPECT_EQ(signature(xsdt), "XSDT");
  EXPECT_EQ(sum8(xsdt), 0);
  std::vector<std::string> installed;
  std::vector<std::byte> madt, dsdt32, dsdt64;
  for (std::size_t at = 36; at + 8 <= xsdt.size(); at += 8) {
    const auto table = dump.table(load_le<uint64_t>(std::span(xsdt).subspan(at).first<8>()));
    ASSERT_FALSE(table.empty());
    EXPECT_EQ(sum8(table), 0) << signature(table);
    installed.push_back(signature(table));
    if (signature(table) == "APIC") {
      madt = table;
    }
    if (signature(table) == "FACP") {
      dsdt32 = dump.table(load_le<uint32_t>(std::span(table).subspan<40, 4>()));
      dsdt64 = dump.table(load_le<uint64_t>(std::span(table).subspan<140, 8>()));
    }
  }
  std::sort(installed.begin(), installed.end());
  EXPECT_EQ(installed, (std::vector<std::string>{"APIC", "FACP"}));
  // Tables without pointers are installed byte for byte as cvmm built them.
  EXPECT_EQ(madt, build_madt(spec.vcpu_count, spec.overrides));
  EXPECT_EQ(dsdt32, build_dsdt(spec));
  EXPECT_EQ(dsdt64, build_dsdt(spec));
}

}  // namespace
}  // namespace cvm::vmm::x86::acpi
