// SPDX-License-Identifier: Apache-2.0
// `cvmm run --platform tdx=on` up to the first KVM_RUN: vmm::Machine::create with the real
// TDX backend, against the TDX ABI model instead of /dev/kvm. Proves that the machine drives
// the backend in an order the kernel accepts (no model violation), that the TD is finalized,
// and that the pages the whole machine had KVM measure fold to cvmm-measure's MRTD. What it
// cannot prove without TDX hardware: that a real TDX module and TDVF then boot.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <span>
#include <string>
#include <utility>
#include <vector>

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

/// vmm::Machine::create with the real TDX backend on `model` (a host whose TDX module
/// parameter reads Y) for `config`, whose payload.firmware is set to the synthetic `image`.
Result<std::unique_ptr<vmm::Machine>> launch_td(TdxAbiModel& model, vmm::VmConfig config,
                                                std::span<const std::byte> image) {
  script_tdx_host(model);
  const std::string firmware = write_temp("tdvf.fd", image);
  const std::string module_parameter = write_temp("tdx_param", std::as_bytes(std::span("Y\n", 2)));
  vmm::tdx::TdxBackendOptions options;
  options.tdx_module_parameter = module_parameter;
  config.payload.firmware = firmware;
  auto machine = vmm::Machine::create(config, vmm::tdx::make_tdx_backend({}, options), model);
  ::unlink(firmware.c_str());
  ::unlink(module_parameter.c_str());
  return machine;
}

/// The MRTD of the pages the model saw added, and the one cvmm-measure computes; TD_PARAMS
/// (attributes, XFAM, TSC frequency, MRCONFIGID...) is not part of MRTD.
std::pair<std::string, std::string> issued_and_expected_mrtd(const TdxAbiModel& model,
                                                             std::span<const std::byte> image,
                                                             uint64_t memory, uint32_t vcpus) {
  const std::vector<AddedRegion> added = model.added_regions();  // owns the page bytes
  std::vector<fwtdx::TdxInitMemRegion> issued;
  for (const AddedRegion& region : added) {
    issued.push_back({region.gpa, region.nr_pages, region.measure, region.bytes});
  }
  auto expected = fwtdx::build_tdx_launch(
      {.firmware = std::make_shared<const std::vector<std::byte>>(image.begin(), image.end()),
       .memory_size = memory,
       .vcpus = vcpus});
  if (!expected) {
    return {to_hex(fwtdx::measure_mrtd(issued)), expected.error().message()};
  }
  EXPECT_EQ(issued.size(), fwtdx::lower_tdx_plan(expected->plan).size());
  return {to_hex(fwtdx::measure_mrtd(issued)), to_hex(fwtdx::measure_mrtd(expected->plan))};
}

class TdxMachineTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(TdxMachineTest, MachineLaunchesATdTheAbiModelAcceptsWithCvmmMeasuresMrtd) {
  const uint32_t vcpus = GetParam();
  const uint64_t memory = 256ull << 20;
  const auto image = fwtdx::testing::make_image(fwtdx::testing::default_sections());
  TdxAbiModel model;
  auto machine = launch_td(model, td_config("", vcpus, memory), image);
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_EQ(model.violations(), std::vector<std::string>{});
  EXPECT_TRUE(model.finalized());
  EXPECT_EQ(model.vcpu_hob_gpas().size(), vcpus);
  const auto [issued, expected] = issued_and_expected_mrtd(model, image, memory, vcpus);
  EXPECT_EQ(issued, expected);
  // Without --platform tsc_khz the TD keeps KVM's default, the host TSC frequency.
  EXPECT_TRUE(model.recorder().calls_named("KVM_SET_TSC_KHZ").empty());
  EXPECT_EQ(model.td_tsc_khz(), TdxModelConfig{}.host_tsc_khz);
  // Nothing ran: the launch stops before the first KVM_RUN.
  EXPECT_TRUE(model.recorder().calls_named("KVM_RUN").empty());
}

INSTANTIATE_TEST_SUITE_P(Vcpus, TdxMachineTest, ::testing::Values(1u, 2u, 4u));

/// Position of the first recorded call `name`@`role` satisfying `match`, or -1.
template <typename Match>
long position(const std::vector<kvm::RecordedCall>& calls, const std::string& name,
              const std::string& role, Match match) {
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].name == name && calls[i].fd_role == role && match(calls[i])) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

// Issue 5's order: VM with split irqchip and TSC frequency, then KVM_TDX_INIT_VM, then vCPUs.
TEST(TdxMachineTsc, TscKhzIsSetOnTheVmAfterTheIrqchipAndBeforeInitVmAndAnyVcpu) {
  const uint64_t memory = 256ull << 20;
  const auto image = fwtdx::testing::make_image(fwtdx::testing::default_sections());
  vmm::VmConfig config = td_config("", 2, memory);
  config.platform.tsc_khz = 1'900'000;
  TdxAbiModel model;
  auto machine = launch_td(model, config, image);
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_EQ(model.violations(), std::vector<std::string>{});
  EXPECT_TRUE(model.finalized());

  const auto calls = model.recorder().calls();
  const auto any = [](const kvm::RecordedCall&) { return true; };
  const auto tdx_command = [](uint32_t id) {
    return [id](const kvm::RecordedCall& call) { return call.arg_as<kvm_tdx_cmd>().id == id; };
  };
  const long split = position(calls, "KVM_ENABLE_CAP", "vm", [](const kvm::RecordedCall& call) {
    return call.arg_as<kvm_enable_cap>().cap == KVM_CAP_SPLIT_IRQCHIP;
  });
  const long tsc = position(calls, "KVM_SET_TSC_KHZ", "vm", any);
  const long init_vm = position(calls, "KVM_MEMORY_ENCRYPT_OP", "vm", tdx_command(KVM_TDX_INIT_VM));
  const long first_vcpu = position(calls, "KVM_CREATE_VCPU", "vm", any);
  ASSERT_GE(split, 0);
  ASSERT_GE(tsc, 0);
  EXPECT_LT(split, tsc);
  EXPECT_LT(tsc, init_vm);
  EXPECT_LT(init_vm, first_vcpu);
  const auto tsc_calls = model.recorder().calls_named("KVM_SET_TSC_KHZ");
  ASSERT_EQ(tsc_calls.size(), 1u);  // once, on the VM: never per vCPU on a TD
  EXPECT_EQ(tsc_calls[0].fd_role, "vm");
  EXPECT_EQ(tsc_calls[0].arg, 1'900'000u);
  EXPECT_EQ(model.td_tsc_khz(), 1'900'000u);  // TD_PARAMS.TSC_FREQUENCY 76 * 25 MHz
  // TSC_FREQUENCY is a TD_PARAMS field, not a measured page: cvmm-measure's MRTD still holds.
  const auto [issued, expected] = issued_and_expected_mrtd(model, image, memory, 2);
  EXPECT_EQ(issued, expected);
}

TEST(TdxMachineTsc, KvmRefusingTheTscStopsTheLaunchBeforeInitVm) {
  const auto image = fwtdx::testing::make_image(fwtdx::testing::default_sections());
  vmm::VmConfig config = td_config("", 1, 256ull << 20);
  config.platform.tsc_khz = 1'900'000;
  TdxAbiModel model({.max_guest_tsc_khz = 1'900'000});  // a host that cannot scale that far
  auto machine = launch_td(model, config, image);
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "--platform tsc_khz=1900000: KVM_SET_TSC_KHZ: Invalid argument");
  EXPECT_EQ(model.violations(), std::vector<std::string>{});
  EXPECT_EQ(position(model.recorder().calls(), "KVM_MEMORY_ENCRYPT_OP", "vm",
                     [](const kvm::RecordedCall& call) {
                       return call.arg_as<kvm_tdx_cmd>().id == KVM_TDX_INIT_VM;
                     }),
            -1);
}

}  // namespace
}  // namespace cvm::tdx_test
