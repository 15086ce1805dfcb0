// SPDX-License-Identifier: Apache-2.0
// `cvmm run --platform tdx=on` up to the first KVM_RUN: vmm::Machine::create with the real
// TDX backend, against the TDX ABI model instead of /dev/kvm. Proves that the machine drives
// the backend in an order the kernel accepts (no model violation), that the TD is finalized,
// and that the pages the whole machine had KVM measure fold to cvmm-measure's MRTD. What it
// cannot prove without TDX hardware: that a real TDX module and TDVF then boot.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "base/hex.h"
#include "firmware/tdx/mrtd.h"
#include "tests/unit/firmware/tdx/tdvf_test_image.h"
#include "tests/unit/tdx/tdx_abi_model.h"
#include "vmm/machine.h"
#include "vmm/tdx/tdx_backend.h"

namespace cvm::tdx_test {
namespace {

namespace fw = cvm::firmware;
namespace fwtdx = cvm::firmware::tdx;

std::string write_temp(const std::string& name, std::span<const std::byte> bytes) {
  const std::string path =
      ::testing::TempDir() + "cvmm_tdx_machine_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

vmm::VmConfig td_config(const std::string& firmware, uint32_t vcpus, uint64_t memory) {
  vmm::VmConfig config;
  config.platform.tee = vmm::TeeKind::kTdx;
  config.payload.firmware = firmware;
  config.cpus.boot_vcpus = vcpus;
  config.memory.size_bytes = memory;
  config.serial.mode = vmm::SerialMode::kOff;
  return config;
}

void script_tdx_host(TdxAbiModel& model) {
  auto& recorder = model.recorder();
  for (long cap : {KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_USER_MEMORY,
                   KVM_CAP_IRQFD, KVM_CAP_IOEVENTFD, KVM_CAP_GUEST_MEMFD, KVM_CAP_USER_MEMORY2}) {
    recorder.set_extension(cap, 1);
  }
  recorder.set_extension(KVM_CAP_MEMORY_ATTRIBUTES, KVM_MEMORY_ATTRIBUTE_PRIVATE);
  recorder.set_extension(KVM_CAP_EXIT_HYPERCALL, 1 << KVM_HC_MAP_GPA_RANGE);
}

class TdxMachineTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(TdxMachineTest, MachineLaunchesATdTheAbiModelAcceptsWithCvmmMeasuresMrtd) {
  const uint32_t vcpus = GetParam();
  const uint64_t memory = 256ull << 20;
  const auto image = fwtdx::testing::make_image(fwtdx::testing::default_sections());
  const std::string firmware = write_temp("tdvf.fd", image);
  TdxAbiModel model;
  script_tdx_host(model);
  const std::string module_parameter = write_temp("tdx_param", std::as_bytes(std::span("Y\n", 2)));
  vmm::tdx::TdxBackendOptions options;
  options.tdx_module_parameter = module_parameter;
  auto machine = vmm::Machine::create(td_config(firmware, vcpus, memory),
                                      vmm::tdx::make_tdx_backend({}, options), model);
  ::unlink(firmware.c_str());
  ::unlink(module_parameter.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_EQ(model.violations(), std::vector<std::string>{});
  EXPECT_TRUE(model.finalized());
  EXPECT_EQ(model.vcpu_hob_gpas().size(), vcpus);

  const std::vector<AddedRegion> added = model.added_regions();  // owns the page bytes
  std::vector<fwtdx::TdxInitMemRegion> issued;
  for (const AddedRegion& region : added) {
    issued.push_back({region.gpa, region.nr_pages, region.measure, region.bytes});
  }
  auto expected = fwtdx::build_tdx_launch(
      {.firmware = std::make_shared<const std::vector<std::byte>>(image),
       .memory_size = memory,
       .vcpus = vcpus});
  ASSERT_TRUE(expected.has_value()) << expected.error().message();
  EXPECT_EQ(to_hex(fwtdx::measure_mrtd(issued)), to_hex(fwtdx::measure_mrtd(expected->plan)));
  EXPECT_EQ(issued.size(), fwtdx::lower_tdx_plan(expected->plan).size());
  // Nothing ran: the launch stops before the first KVM_RUN.
  EXPECT_TRUE(model.recorder().calls_named("KVM_RUN").empty());
}

INSTANTIATE_TEST_SUITE_P(Vcpus, TdxMachineTest, ::testing::Values(1u, 2u, 4u));

}  // namespace
}  // namespace cvm::tdx_test
