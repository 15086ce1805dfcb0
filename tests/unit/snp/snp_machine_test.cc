// SPDX-License-Identifier: Apache-2.0
// `cvmm run --platform sev_snp=on --firmware OVMF.fd` up to the first KVM_RUN: vmm::Machine::create
// with the real SEV-SNP backend against the SNP ABI model instead of /dev/kvm. Proves that the
// machine (guest memory, vCPU set-up, CPUID before launch) drives the backend in an order the
// model accepts, that the launch is finished, and that what the whole machine had measured
// folds to the launch digest cvmm-measure computes (and, for Debian's OVMF.fd with one vCPU, to
// the pinned reference). Not proven without SNP hardware: that the PSP and OVMF then boot.
#include <gtest/gtest.h>

#include "base/hex.h"
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

}  // namespace
}  // namespace cvm::vmm::snp::testing
