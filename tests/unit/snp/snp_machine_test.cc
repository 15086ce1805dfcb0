// SPDX-License-Identifier: Apache-2.0
// `cvmm run --platform sev_snp=on --firmware OVMF.fd` up to the first KVM_RUN: vmm::Machine::create
// with the real SEV-SNP backend against the SNP ABI model instead of /dev/kvm. Proves that the
// machine (guest memory, vCPU set-up, CPUID before launch) drives the backend in an order the
// model accepts, that the launch is finished, and that what the whole machine had measured
// folds to the launch digest cvmm-measure computes (and, for Debian's OVMF.fd with one vCPU, to
// the pinned reference). Also that the launched image answers on the MMIO bus as ROM (OVMF's
// SEV-ES/SNP flash writes arrive as KVM_EXIT_MMIO there). Not proven without SNP hardware: that
// the PSP and OVMF then boot, and that KVM delivers those writes exactly as modelled here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "base/hex.h"
#include "tests/unit/firmware/snp/synthetic_ovmf.h"
#include "firmware/snp/launch_digest.h"
#include "tests/unit/snp/snp_kvm_model.h"
#include "tests/unit/snp/snp_launch_harness.h"
#include "vmm/machine.h"
#include "vmm/snp/snp_backend.h"

namespace cvm::vmm::snp::testing {
namespace {

constexpr const char* kDebianOvmfOneVcpuDigest =
    "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe"
    "7a97e3";

VmConfig snp_config(uint32_t vcpus) {
  VmConfig config;
  config.platform.tee = TeeKind::kSevSnp;
  config.payload.firmware = CVMM_OVMF_FD;
  config.cpus.boot_vcpus = vcpus;
  config.memory.size_bytes = 256ull << 20;
  config.serial.mode = SerialMode::kOff;
  return config;
}

class SnpMachineTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(SnpMachineTest, MachineLaunchesAGuestTheModelAcceptsWithCvmmMeasuresDigest) {
  if (!load_blob(CVMM_OVMF_FD)) {
    GTEST_SKIP() << CVMM_OVMF_FD << " is absent: install Debian's ovmf package";
  }
  const uint32_t vcpus = GetParam();
  const VmConfig config = snp_config(vcpus);
  SnpKvmModel model;
  SnpBackendHooks hooks;
  hooks.read_host_file = snp_enabled_files();
  hooks.log = [](std::string_view) {};
  auto machine = Machine::create(config, make_snp_backend(config.platform, hooks), model);
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_EQ(model.violations(), std::vector<std::string>{});
  EXPECT_TRUE(model.finished());

  // The same plan cvmm-measure folds (the backend's builder is cvmm-measure's, proven in
  // snp_measurement_test); the machine must not have changed what was measured.
  TeeLaunchInputs inputs;
  inputs.firmware = load_blob(CVMM_OVMF_FD);
  inputs.vcpu_count = vcpus;
  inputs.platform = config.platform;
  auto plan = make_snp_backend(config.platform, hooks)->build_launch_plan(inputs);
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  EXPECT_EQ(to_hex(model.digest()), to_hex(firmware::snp::measure_snp(*plan)));
  if (vcpus == 1) {
    EXPECT_EQ(to_hex(model.digest()), kDebianOvmfOneVcpuDigest);
  }
}

INSTANTIATE_TEST_SUITE_P(Vcpus, SnpMachineTest, ::testing::Values(1u, 2u, 4u));

// QemuFlashPtrWrite under SEV-ES/SNP: one-byte VMGEXIT MMIO writes at the image's GPA, which
// the vCPU runner dispatches to the MMIO bus exactly like these calls.
TEST(SnpMachineFirmwareRomTest, FirmwareRegionIsReadOnlyMmio) {
  const auto ovmf = firmware::testing::build_synthetic_ovmf();
  const std::string path = ::testing::TempDir() + "cvmm_snp_rom_" +
                           std::to_string(::getpid()) + "_ovmf.fd";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(ovmf.data()), static_cast<std::streamsize>(ovmf.size()));
  VmConfig config = snp_config(1);
  config.payload.firmware = path;
  SnpKvmModel model;
  SnpBackendHooks hooks;
  hooks.read_host_file = snp_enabled_files();
  hooks.log = [](std::string_view) {};
  auto machine = Machine::create(config, make_snp_backend(config.platform, hooks), model);
  ::unlink(path.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  MachineDevices& devices = (*machine)->devices();
  devices::Bus& mmio = devices.mmio_bus();

  const uint64_t base = (uint64_t{1} << 32) - ovmf.size();  // the image ends at 4 GiB
  const uint64_t before = mmio.unhandled_writes();
  // QemuFlashWrite of one byte at offset 0x100: WRITE_BYTE_CMD, data, READ_ARRAY_CMD.
  for (const uint8_t value : {0x10, 0x5a, 0xff}) {
    const std::byte data[1] = {std::byte{value}};
    devices.mmio_write(base + 0x100, data);
  }
  const std::byte wide[8] = {};
  devices.mmio_write(base + ovmf.size() - 8, wide);
  EXPECT_EQ(mmio.unhandled_writes(), before);

  std::byte byte[1] = {};
  devices.mmio_read(base + 0x100, byte);
  EXPECT_EQ(byte[0], ovmf[0x100]);
  std::byte last[8] = {};
  devices.mmio_read(base + ovmf.size() - 8, last);
  EXPECT_EQ(std::vector<std::byte>(std::begin(last), std::end(last)),
            std::vector<std::byte>(ovmf.end() - 8, ovmf.end()));
  EXPECT_EQ(mmio.unhandled_reads(), 0u);

  // Below the image the bus is still empty: the counter does see unclaimed writes.
  const std::byte data[1] = {std::byte{0x10}};
  devices.mmio_write(base - 1, data);
  EXPECT_EQ(mmio.unhandled_writes(), before + 1);
}

// cvmm-measure --vmm-type cvmm refuses the same kernels (tests/unit/firmware/snp CLI tests):
// a kernel fw_cfg could not serve is refused before the launch measures anything.
TEST(SnpMachineKernelTest, NonBzImageKernelIsRefusedBeforeTheLaunch) {
  const auto ovmf = firmware::testing::build_synthetic_ovmf();
  const std::string stem = ::testing::TempDir() + "cvmm_snp_kernel_" + std::to_string(::getpid());
  std::vector<std::byte> pattern(10000);  // the sev-snp-measure reference kernel: no "HdrS"
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    pattern[i] = static_cast<std::byte>((i * 13 + 1) & 0xff);
  }
  const std::pair<std::string, const std::vector<std::byte>*> files[] = {
      {stem + "_ovmf.fd", &ovmf}, {stem + "_kernel", &pattern}};
  for (const auto& [path, bytes] : files) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes->data()),
               static_cast<std::streamsize>(bytes->size()));
  }
  VmConfig config = snp_config(1);
  config.payload.firmware = files[0].first;
  config.payload.kernel = files[1].first;
  SnpKvmModel model;
  SnpBackendHooks hooks;
  hooks.read_host_file = snp_enabled_files();
  hooks.log = [](std::string_view) {};
  auto machine = Machine::create(config, make_snp_backend(config.platform, hooks), model);
  for (const auto& file : files) {
    ::unlink(file.first.c_str());
  }
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "--kernel " + files[1].first +
                ": firmware direct boot needs a bzImage (the firmware loads the kernel through "
                "fw_cfg): no \"HdrS\" setup header at 0x202");
  EXPECT_EQ(model.sev_commands(), std::vector<uint32_t>{});
  EXPECT_TRUE(model.measured().empty());
}

}  // namespace
}  // namespace cvm::vmm::snp::testing
