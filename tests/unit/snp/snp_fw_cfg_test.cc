// SPDX-License-Identifier: Apache-2.0
// Measured direct boot end to end without SNP hardware: `cvmm run --platform sev_snp=on
// --firmware OVMF --kernel bzImage --initrd ... --cmdline ...` through vmm::Machine against
// SnpKvmModel. The kernel-hashes page the model saw measured (LAUNCH_UPDATE, type NORMAL)
// must hold the SHA-256 of exactly what the machine's fw_cfg device then serves to OVMF:
// setup ‖ kernel (0x18, 0x11), the initrd (0x12) and the command line with its NUL (0x15).
// OVMF's BlobVerifierLib compares those hashes; a mismatch would stop the boot.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "base/byte_reader.h"
#include "devices/fw_cfg/fw_cfg_device.h"
#include "firmware/sha.h"
#include "tests/unit/firmware/snp/synthetic_ovmf.h"
#include "tests/unit/snp/snp_kvm_model.h"
#include "tests/unit/snp/snp_launch_harness.h"
#include "tests/unit/x86/synthetic_images.h"
#include "vmm/machine.h"
#include "vmm/snp/snp_backend.h"

namespace cvm::vmm::snp::testing {
namespace {

namespace fw = devices::fw_cfg;

std::string write_temp(const std::string& name, std::span<const std::byte> bytes) {
  const std::string path = ::testing::TempDir() + "cvmm_snp_fw_cfg_" +
                           std::to_string(::getpid()) + "_" + name;
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

/// Reads item `key` (of `size` bytes) through the machine's port dispatch, as OVMF does.
std::vector<std::byte> read_item(MachineDevices& devices, uint16_t key, std::size_t size) {
  std::array<std::byte, 2> select{};
  store_le<uint16_t>(select, key);
  devices.pio_write(fw::kFwCfgSelectorPort, select);
  std::vector<std::byte> out(size);
  for (std::byte& b : out) {
    devices.pio_read(fw::kFwCfgDataPort, std::span(&b, 1));
  }
  return out;
}

uint32_t read_u32(MachineDevices& devices, uint16_t key) {
  const auto bytes = read_item(devices, key, 4);
  return load_le<uint32_t>(std::span<const std::byte, 4>(bytes.data(), 4));
}

TEST(SnpFwCfgTest, MeasuredKernelHashesMatchWhatFwCfgServes) {
  firmware::testing::SyntheticOvmfOptions ovmf_options;
  const auto ovmf = firmware::testing::build_synthetic_ovmf(ovmf_options);
  const auto kernel = x86::testing::make_bzimage({.setup_sects = 5, .payload_size = 0x2345});
  const std::vector<std::byte> initrd(4321, std::byte{0x17});
  const std::string paths[] = {write_temp("ovmf.fd", ovmf), write_temp("bzImage", kernel),
                               write_temp("initrd", initrd)};
  VmConfig config;
  config.platform.tee = TeeKind::kSevSnp;
  config.payload.firmware = paths[0];
  config.payload.kernel = paths[1];
  config.payload.initramfs = paths[2];
  config.payload.cmdline = "console=ttyS0 root=/dev/vda";
  config.cpus.boot_vcpus = 1;
  config.memory.size_bytes = 256ull << 20;
  config.serial.mode = SerialMode::kOff;
  SnpKvmModel model;
  SnpBackendHooks hooks;
  hooks.read_host_file = snp_enabled_files();
  hooks.log = [](std::string_view) {};
  auto machine = Machine::create(config, make_snp_backend(config.platform, hooks), model);
  for (const auto& path : paths) {
    ::unlink(path.c_str());
  }
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_EQ(model.violations(), std::vector<std::string>{});

  // The hashes page: type NORMAL at the page of the hashes area, table at base & 0xfff.
  const uint64_t page_gpa = ovmf_options.hashes_base & ~uint64_t{0xfff};
  const std::size_t table = ovmf_options.hashes_base & 0xfff;
  std::optional<std::vector<std::byte>> page;
  for (const MeasuredPage& measured : model.measured()) {
    if (measured.gpa == page_gpa && measured.type == firmware::snp::SnpPageType::kNormal) {
      page = measured.contents;
    }
  }
  ASSERT_TRUE(page.has_value()) << "no kernel-hashes page measured at " << page_gpa;
  // Entries (GUID, u16 length, SHA-256) start at 18 (cmdline), 68 (initrd), 118 (kernel).
  auto measured_hash = [&](std::size_t entry) {
    const auto begin = page->begin() + static_cast<std::ptrdiff_t>(table + entry + 16 + 2);
    return std::vector<std::byte>(begin, begin + 32);
  };
  auto as_vector = [](const firmware::Sha256Digest& d) {
    return std::vector<std::byte>(d.begin(), d.end());
  };

  MachineDevices& devices = (*machine)->devices();
  const uint32_t setup_size = read_u32(devices, fw::kKeySetupSize);
  const uint32_t kernel_size = read_u32(devices, fw::kKeyKernelSize);
  EXPECT_EQ(setup_size, 6u * 512);
  auto served_kernel = read_item(devices, fw::kKeySetupData, setup_size);
  const auto rest = read_item(devices, fw::kKeyKernelData, kernel_size);
  served_kernel.insert(served_kernel.end(), rest.begin(), rest.end());
  EXPECT_EQ(as_vector(firmware::sha256(served_kernel)), measured_hash(118));
  const auto served_initrd =
      read_item(devices, fw::kKeyInitrdData, read_u32(devices, fw::kKeyInitrdSize));
  EXPECT_EQ(as_vector(firmware::sha256(served_initrd)), measured_hash(68));
  const auto served_cmdline =
      read_item(devices, fw::kKeyCmdlineData, read_u32(devices, fw::kKeyCmdlineSize));
  EXPECT_EQ(served_cmdline.back(), std::byte{0});
  EXPECT_EQ(as_vector(firmware::sha256(served_cmdline)), measured_hash(18));
}

}  // namespace
}  // namespace cvm::vmm::snp::testing
