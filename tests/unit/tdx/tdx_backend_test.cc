// SPDX-License-Identifier: Apache-2.0
// The TDX backend driven through TdxAbiModel (a kvm::Sys that enforces the TDX KVM ABI rules of
// tee-kvm-reference §1-§2) in the TeeBackend order of vmm/tee_backend.h.
//
// What this proves: the backend's ioctl sequence, argument structs and order satisfy the rules
// as the reference documents them, and the pages it hands to INIT_MEM_REGION fold to the MRTD
// cvmm-measure computes. What it cannot prove: that a real TDX module accepts the CPUID,
// attributes and XFAM chosen on a real host, or that the reference's rules are complete.
#include "vmm/tdx/tdx_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/hex.h"
#include "firmware/sha.h"
#include "firmware/tdx/mrtd.h"
#include "tests/unit/firmware/tdx/tdvf_test_image.h"
#include "tests/unit/tdx/tdx_abi_model.h"
#include "vmm/host_check.h"
#include "vmm/private_memory.h"
#include "vmm/tdx/tdx_vm.h"

namespace cvm::tdx_test {
namespace {

namespace fw = cvm::firmware;
namespace fwtdx = cvm::firmware::tdx;
using vmm::GuestMemory;
using vmm::RamRange;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

fw::Blob blob_of(std::vector<std::byte> bytes) {
  return std::make_shared<const std::vector<std::byte>>(std::move(bytes));
}

fw::Blob synthetic_firmware() {
  return blob_of(fwtdx::testing::make_image(fwtdx::testing::default_sections()));
}

/// A second layout: legacy locator, two TempMem sections, the HOB between them, a measured CFV.
fw::Blob synthetic_firmware_legacy() {
  using fwtdx::testing::RawSection;
  const std::vector<RawSection> sections = {
      {0x0, 0x4000, 0xffff0000, 0x4000, 1, 1},     // CFV, measured here
      {0x0, 0, 0x800000, 0x10000, 3, 0},           // TempMem
      {0x0, 0, 0x810000, 0x2000, 2, 0},            // TD_HOB
      {0x0, 0, 0x900000, 0x3000, 3, 0},            // TempMem
      {0x8000, 0x8000, 0xffff8000, 0x8000, 0, 1},  // BFV
  };
  return blob_of(fwtdx::testing::make_image(sections, false));
}

/// The Debian OVMF.fd when it carries TDVF metadata, else null.
fw::Blob debian_ovmf() {
  auto bytes = read_file("/usr/share/ovmf/OVMF.fd");
  if (!bytes || !fwtdx::parse_tdvf_metadata(*bytes)) {
    return nullptr;
  }
  return blob_of(std::move(*bytes));
}

std::vector<RamRange> td_ram(uint64_t memory) {
  std::vector<RamRange> ram = {{0, std::min(memory, fwtdx::kTdxLowRamLimit)}};
  if (memory > fwtdx::kTdxLowRamLimit) {
    ram.push_back({fwtdx::kTdxHighRamBase, memory - fwtdx::kTdxLowRamLimit});
  }
  return ram;
}

/// The machine's side of the launch, in the order of vmm/tee_backend.h. Members are declared
/// so that vCPUs and the VM go before guest memory.
struct Launch {
  explicit Launch(TdxModelConfig config = {}, vmm::PlatformConfig platform = tdx_platform())
      : model(config), backend(vmm::tdx::make_tdx_backend(platform)) {}

  static vmm::PlatformConfig tdx_platform() {
    vmm::PlatformConfig platform;
    platform.tee = vmm::TeeKind::kTdx;
    return platform;
  }

  Result<void> open_and_plan(fw::Blob firmware, uint32_t vcpu_count, uint64_t memory_bytes) {
    CVM_ASSIGN_OR_RETURN(system, kvm::System::open(model));
    vmm::TeeLaunchInputs inputs;
    inputs.firmware = std::move(firmware);
    inputs.vcpu_count = vcpu_count;
    inputs.memory_bytes = memory_bytes;
    CVM_ASSIGN_OR_RETURN(plan, backend->build_launch_plan(inputs));
    memory_size = memory_bytes;
    return ok();
  }
  Result<void> create_vm() {
    CVM_ASSIGN_OR_RETURN(vm, system->create_vm(backend->requirements().vm_type));
    CVM_TRY(vm->enable_split_irqchip());
    return vm->set_tsc_khz(2'000'000);
  }
  Result<void> init_vm() { return backend->init_vm(*system, *vm, plan); }
  Result<void> create_memory() {
    const auto ram = td_ram(memory_size);
    CVM_ASSIGN_OR_RETURN(memory, GuestMemory::create(*vm, ram, vmm::RamBacking::kPrivate));
    return ok();
  }
  Result<void> create_vcpus(bool init_all = true) {
    for (uint32_t i = 0; i < plan.vcpus.size(); ++i) {
      CVM_ASSIGN_OR_RETURN(kvm::Vcpu vcpu, vm->create_vcpu(i));
      vcpus.push_back(std::move(vcpu));
      if (init_all || i == 0) {
        CVM_TRY(backend->init_vcpu(*vm, vcpus.back(), plan));
      }
    }
    return ok();
  }
  Result<void> launch() { return backend->launch(*vm, *memory, vcpus, plan); }

  /// The launch steps in order; up_to() runs the synthetic-firmware launch through `last`.
  enum class Step { kPlan, kVm, kInitVm, kMemory, kVcpus };
  Result<void> up_to(Step last, uint32_t vcpu_count = 1) {
    CVM_TRY(open_and_plan(synthetic_firmware(), vcpu_count, 128 * kMiB));
    if (last >= Step::kVm) CVM_TRY(create_vm());
    if (last >= Step::kInitVm) CVM_TRY(init_vm());
    if (last >= Step::kMemory) CVM_TRY(create_memory());
    if (last >= Step::kVcpus) CVM_TRY(create_vcpus());
    return ok();
  }

  Result<void> all(fw::Blob firmware, uint32_t vcpu_count, uint64_t memory_bytes) {
    CVM_TRY(open_and_plan(std::move(firmware), vcpu_count, memory_bytes));
    CVM_TRY(create_vm());
    CVM_TRY(init_vm());
    CVM_TRY(create_memory());
    CVM_TRY(create_vcpus());
    return launch();
  }

  /// Names of the KVM calls the backend and machine issued, with the TDX subcommand decoded.
  std::vector<std::string> tdx_sequence() {
    std::vector<std::string> out;
    for (const auto& call : model.recorder().calls()) {
      if (call.name == "KVM_MEMORY_ENCRYPT_OP") {
        static const char* kNames[] = {"CAPABILITIES",    "INIT_VM",     "INIT_VCPU",
                                       "INIT_MEM_REGION", "FINALIZE_VM", "GET_CPUID"};
        const auto id = call.arg_as<kvm_tdx_cmd>().id;
        out.push_back(std::string("TDX_") + (id < 6 ? kNames[id] : "?") + "@" + call.fd_role);
      } else if (call.name == "KVM_CREATE_VCPU" || call.name == "KVM_SET_CPUID2" ||
                 call.name == "KVM_ENABLE_CAP" || call.name == "KVM_SET_TSC_KHZ") {
        out.push_back(call.name + "@" + call.fd_role);
      }
    }
    return out;
  }

  TdxAbiModel model;
  std::unique_ptr<vmm::TeeBackend> backend;
  std::optional<kvm::System> system;
  fw::LaunchPlan plan;
  uint64_t memory_size = 0;
  std::unique_ptr<GuestMemory> memory;
  std::optional<kvm::Vm> vm;
  std::vector<kvm::Vcpu> vcpus;
};

TEST(TdxBackendTest, RequirementsAreThoseOfATd) {
  auto backend = vmm::tdx::make_tdx_backend(Launch::tdx_platform());
  const vmm::TeeRequirements r = backend->requirements();
  EXPECT_EQ(backend->name(), "tdx");
  EXPECT_EQ(r.vm_type, KVM_X86_TDX_VM);
  EXPECT_TRUE(r.private_memory);
  EXPECT_FALSE(r.vmm_sets_vcpu_registers);
  EXPECT_TRUE(r.firmware_boot);
  EXPECT_TRUE(r.vm_tsc_khz);
  EXPECT_FALSE(r.legacy_vmx_pages);
  EXPECT_NE(backend->exit_interceptor(), nullptr);
}

TEST(TdxBackendTest, PlanWithoutFirmwareIsRefused) {
  auto backend = vmm::tdx::make_tdx_backend(Launch::tdx_platform());
  vmm::TeeLaunchInputs inputs;
  inputs.memory_bytes = 256 * kMiB;
  auto plan = backend->build_launch_plan(inputs);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code(), ErrorCode::kInvalidArgument);
}

TEST(TdxBackendTest, FullLaunchSatisfiesEveryAbiRule) {
  Launch t;
  auto result = t.all(synthetic_firmware(), 2, 256 * kMiB);
  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(t.model.violations(), std::vector<std::string>{});
  EXPECT_TRUE(t.model.finalized());
  EXPECT_EQ(t.tdx_sequence(),
            (std::vector<std::string>{"KVM_ENABLE_CAP@vm",
                                      "KVM_SET_TSC_KHZ@vm",  // machine: irqchip, TSC
                                      "KVM_ENABLE_CAP@vm",   // MapGPA exits
                                      "TDX_CAPABILITIES@vm",
                                      "TDX_CAPABILITIES@vm",  // 6 entries, E2BIG, 12
                                      "KVM_ENABLE_CAP@vm",    // APIC bus 40 ns
                                      "TDX_INIT_VM@vm",
                                      "KVM_CREATE_VCPU@vm",
                                      "TDX_INIT_VCPU@vcpu0",
                                      "TDX_GET_CPUID@vcpu0",
                                      "KVM_SET_CPUID2@vcpu0",
                                      "KVM_CREATE_VCPU@vm",
                                      "TDX_INIT_VCPU@vcpu1",
                                      "TDX_GET_CPUID@vcpu1",
                                      "KVM_SET_CPUID2@vcpu1",
                                      "TDX_INIT_MEM_REGION@vcpu0",
                                      "TDX_INIT_MEM_REGION@vcpu0",
                                      "TDX_INIT_MEM_REGION@vcpu0",
                                      "TDX_INIT_MEM_REGION@vcpu0",
                                      "TDX_FINALIZE_VM@vm"}));
  // Every vCPU got the TD HOB GPA (section 3 of the synthetic image, at 0x3000).
  EXPECT_EQ(t.plan.td_hob_gpa, 0x3000u);
  EXPECT_EQ(t.model.vcpu_hob_gpas(), (std::map<uint32_t, uint64_t>{{0, 0x3000}, {1, 0x3000}}));
}

TEST(TdxBackendTest, InitVmCarriesFilteredCpuidXfamAndMeasurementRegisters) {
  vmm::PlatformConfig platform = Launch::tdx_platform();
  for (uint8_t i = 0; i < 48; ++i) {
    platform.mrconfigid.push_back(i);
    platform.mrowner.push_back(static_cast<uint8_t>(0x80 + i));
    platform.mrownerconfig.push_back(static_cast<uint8_t>(0xff - i));
  }
  Launch t({}, platform);
  ASSERT_TRUE(t.all(synthetic_firmware(), 1, 128 * kMiB).has_value());
  const kvm_tdx_init_vm init = t.model.init_vm_header();
  EXPECT_EQ(init.attributes, vmm::tdx::kTdAttributeSeptVeDisable);
  // Host XCR0 0x602e7 | XSS 0x19900, limited to the module's 0x6e7: bits 0-2, 5-7, 9.
  EXPECT_EQ(init.xfam, 0x2e7u);
  EXPECT_EQ(std::memcmp(init.mrconfigid, platform.mrconfigid.data(), 48), 0);
  EXPECT_EQ(std::memcmp(init.mrowner, platform.mrowner.data(), 48), 0);
  EXPECT_EQ(std::memcmp(init.mrownerconfig, platform.mrownerconfig.data(), 48), 0);
  const auto cpuid = t.model.init_vm_cpuid();
  // Leaf 0x14 is configurable but the host lacks it: dropped. The rest: host AND mask.
  ASSERT_EQ(cpuid.size(), 7u);
  EXPECT_EQ(cpuid[1].function, 0x7u);
  EXPECT_EQ(cpuid[1].ebx, 0xf3bfbfbfu & 0xdc3fafbfu);
  EXPECT_EQ(cpuid[6].function, 0x80000008u);
  EXPECT_EQ(cpuid[6].eax, 0x34u);
}

TEST(TdxBackendTest, BadMeasurementRegisterLengthIsRefusedBeforeInitVm) {
  vmm::PlatformConfig platform = Launch::tdx_platform();
  platform.mrowner.assign(47, 1);
  Launch t({}, platform);
  ASSERT_TRUE(t.up_to(Launch::Step::kVm).has_value());
  auto result = t.init_vm();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message(), "TDX MROWNER: 47 bytes, expected 48");
}

TEST(TdxBackendTest, BusyInitVmIsRetried) {
  Launch t({.init_vm_busy = 3});
  ASSERT_TRUE(t.all(synthetic_firmware(), 1, 128 * kMiB).has_value());
  int init_vms = 0;
  for (const auto& name : t.tdx_sequence()) {
    init_vms += name == "TDX_INIT_VM@vm";
  }
  EXPECT_EQ(init_vms, 4);
  EXPECT_EQ(t.model.violations(), std::vector<std::string>{});
}

TEST(TdxBackendTest, FirmwareOutsideRamGetsPrivateSlots) {
  Launch t;
  ASSERT_TRUE(t.all(synthetic_firmware(), 1, 128 * kMiB).has_value());
  // RAM slot 0, then the CFV [0xffff0000, +16K) and BFV [0xffff8000, +32K) (not adjacent).
  const auto regions = t.memory->regions();
  ASSERT_EQ(regions.size(), 3u);
  EXPECT_EQ(regions[1].gpa, 0xffff0000u);
  EXPECT_EQ(regions[1].size, 0x4000u);
  EXPECT_EQ(regions[2].gpa, 0xffff8000u);
  EXPECT_EQ(regions[2].size, 0x8000u);
}

// ---- measurement equivalence -------------------------------------------------------------

/// MRTD of what the model's TDX module received, folded in issue order.
fw::Sha384Digest fold_issued(const TdxAbiModel& model) {
  const auto added = model.added_regions();
  std::vector<fwtdx::TdxInitMemRegion> regions;
  for (const AddedRegion& region : added) {
    regions.push_back({region.gpa, region.nr_pages, region.measure, region.bytes});
  }
  return fwtdx::measure_mrtd(regions);
}

/// What `cvmm-measure tdx --firmware F --memory M` computes (tools/measure/tdx_command.cc).
fw::Sha384Digest cvmm_measure(const fw::Blob& firmware, uint64_t memory) {
  auto launch = fwtdx::build_tdx_launch({.firmware = firmware, .memory_size = memory, .vcpus = 1});
  EXPECT_TRUE(launch.has_value()) << launch.error().message();
  return fwtdx::measure_mrtd(launch->plan);
}

struct EquivalenceCase {
  const char* firmware;
  uint32_t vcpus;
  uint64_t memory;
  uint64_t pages_per_call;
};

class TdxMeasurementEquivalenceTest : public ::testing::TestWithParam<EquivalenceCase> {};

TEST_P(TdxMeasurementEquivalenceTest, IssuedPagesFoldToTheMrtdCvmmMeasurePrints) {
  const EquivalenceCase& c = GetParam();
  fw::Blob firmware;
  if (std::string(c.firmware) == "debian-ovmf") {
    firmware = debian_ovmf();
    if (!firmware) {
      GTEST_SKIP() << "/usr/share/ovmf/OVMF.fd is absent or has no TDVF metadata";
    }
  } else {
    firmware =
        std::string(c.firmware) == "synthetic" ? synthetic_firmware() : synthetic_firmware_legacy();
  }
  Launch t({.pages_per_call = c.pages_per_call});
  auto result = t.all(firmware, c.vcpus, c.memory);
  ASSERT_TRUE(result.has_value()) << result.error().message();
  ASSERT_EQ(t.model.violations(), std::vector<std::string>{});
  const auto issued = fold_issued(t.model);
  const auto expected = cvmm_measure(firmware, c.memory);
  EXPECT_EQ(to_hex(issued), to_hex(expected));
  // The Debian 12 build's MRTD, from firmware/tdx mrtd_test (an independent implementation).
  if (std::string(c.firmware) == "debian-ovmf" &&
      to_hex(fw::sha256(*firmware)) ==
          "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773") {
    EXPECT_EQ(to_hex(issued),
              "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a2"
              "12967fb231c47");
  }
  // The comparison can fail: one flipped byte in the last measured page changes the fold.
  auto added = t.model.added_regions();
  ASSERT_GE(added.size(), t.plan.ranges.size());
  auto measured =
      std::find_if(added.rbegin(), added.rend(), [](const AddedRegion& r) { return r.measure; });
  ASSERT_NE(measured, added.rend());
  measured->bytes.back() ^= std::byte{1};
  std::vector<fwtdx::TdxInitMemRegion> tampered;
  for (const AddedRegion& region : added) {
    tampered.push_back({region.gpa, region.nr_pages, region.measure, region.bytes});
  }
  EXPECT_NE(to_hex(fwtdx::measure_mrtd(tampered)), to_hex(expected));
}

INSTANTIATE_TEST_SUITE_P(Firmware, TdxMeasurementEquivalenceTest,
                         ::testing::Values(EquivalenceCase{"synthetic", 1, 128 * kMiB, 0},
                                           EquivalenceCase{"synthetic", 4, 2 * kGiB, 0},
                                           EquivalenceCase{"synthetic", 2, 3 * kGiB + 512 * kMiB,
                                                           3},
                                           EquivalenceCase{"legacy", 1, 64 * kMiB, 0},
                                           EquivalenceCase{"legacy", 3, 4 * kGiB, 5},
                                           EquivalenceCase{"debian-ovmf", 1, 512 * kMiB, 0},
                                           EquivalenceCase{"debian-ovmf", 2, 2 * kGiB, 7},
                                           EquivalenceCase{"debian-ovmf", 8, 5 * kGiB, 0}));

TEST(TdxMeasurementTest, DifferentMemorySizeGivesADifferentHobButTheSameMrtd) {
  // The HOB is PAGE.ADDed without MR.EXTEND: only its GPA enters MRTD (§2.9).
  Launch small, large;
  ASSERT_TRUE(small.all(synthetic_firmware(), 1, 128 * kMiB).has_value());
  ASSERT_TRUE(large.all(synthetic_firmware(), 1, 4 * kGiB).has_value());
  EXPECT_EQ(to_hex(fold_issued(small.model)), to_hex(fold_issued(large.model)));
  EXPECT_NE(small.model.added_regions()[3].bytes, large.model.added_regions()[3].bytes);
}

// ---- the model catches a wrong order -------------------------------------------------------

TEST(TdxAbiModelTest, VcpuBeforeInitVmIsRefused) {
  Launch t;
  ASSERT_TRUE(t.up_to(Launch::Step::kVm).has_value());
  auto vcpu = t.vm->create_vcpu(0);
  ASSERT_FALSE(vcpu.has_value());
  EXPECT_EQ(vcpu.error().sys_errno(), EIO);
  EXPECT_EQ(t.model.violations(),
            std::vector<std::string>{"KVM_CREATE_VCPU 0 before KVM_TDX_INIT_VM"});
}

TEST(TdxAbiModelTest, MemRegionBeforeEveryVcpuIsInitialisedIsRefused) {
  Launch t;
  ASSERT_TRUE(t.up_to(Launch::Step::kMemory, 2).has_value());
  ASSERT_TRUE(t.create_vcpus(false).has_value());
  auto result = t.launch();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(t.model.violations(),
            std::vector<std::string>{
                "KVM_TDX_INIT_MEM_REGION before KVM_TDX_INIT_VCPU of all 2 vCPUs (1 done)"});
}

TEST(TdxAbiModelTest, SecondLaunchAfterFinalizeIsRefused) {
  Launch t;
  ASSERT_TRUE(t.all(synthetic_firmware(), 1, 128 * kMiB).has_value());
  auto again = t.launch();
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(t.model.violations(),
            std::vector<std::string>{"KVM_TDX_INIT_MEM_REGION after KVM_TDX_FINALIZE_VM"});
}

TEST(TdxAbiModelTest, SharedPageInTheInitialImageIsRefused) {
  Launch t;
  ASSERT_TRUE(t.up_to(Launch::Step::kVcpus).has_value());
  ASSERT_TRUE(vmm::convert_guest_memory(*t.vm, *t.memory, 0x2000, 0x1000, false).has_value());
  auto result = t.launch();
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message().find("TempMem (section 2)"), std::string::npos)
      << result.error().message();
  EXPECT_EQ(t.model.violations(),
            std::vector<std::string>{"KVM_TDX_INIT_MEM_REGION gpa 0x1000+0x2000 is not private"});
}

TEST(TdxAbiModelTest, InitVmTwiceIsRefused) {
  Launch t;
  ASSERT_TRUE(t.up_to(Launch::Step::kInitVm).has_value());
  ASSERT_FALSE(vmm::tdx::init_td(*t.vm, {}).has_value());
  EXPECT_EQ(t.model.violations(), std::vector<std::string>{"KVM_TDX_INIT_VM issued twice"});
  // The whole step again trips earlier: the APIC bus may only be set before INIT_VM.
  ASSERT_FALSE(t.init_vm().has_value());
  EXPECT_EQ(t.model.violations().back(), "APIC bus cycles set after KVM_TDX_INIT_VM");
}

TEST(TdxAbiModelTest, InitVmWithoutCapabilitiesOrApicBusIsRefused) {
  Launch t;
  ASSERT_TRUE(t.up_to(Launch::Step::kVm).has_value());
  auto result = vmm::tdx::init_td(*t.vm, {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(t.model.violations(),
            std::vector<std::string>{"KVM_TDX_INIT_VM before KVM_TDX_CAPABILITIES"});
}

TEST(TdxAbiModelTest, UnalignedSourceIsRefused) {
  Launch t;
  ASSERT_TRUE(t.up_to(Launch::Step::kVcpus).has_value());
  alignas(4096) static std::byte page[2 * 4096];
  auto result = vmm::tdx::init_mem_region(t.vcpus[0], page + 16, 0x1000, 1, false);
  ASSERT_FALSE(result.has_value());
  ASSERT_EQ(t.model.violations().size(), 1u);
  EXPECT_NE(t.model.violations()[0].find("not 4 KiB aligned"), std::string::npos);
}

TEST(TdxAbiModelTest, UnsupportedAttributesGetTheModuleStatusDecoded) {
  Launch t({.supported_attrs = 1ull << 28});
  // The backend asks only for SEPT_VE_DISABLE.
  ASSERT_TRUE(t.up_to(Launch::Step::kInitVm).has_value());
  Launch u({.supported_attrs = 1ull << 30});
  ASSERT_TRUE(u.up_to(Launch::Step::kVm).has_value());
  auto refused = u.init_vm();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kNotSupportedByHost);
}

TEST(TdxAbiModelTest, ModuleStatusIsDecodedIntoTheError) {
  // A deliberately wrong INIT_VM (DEBUG, which the model's module does not offer): the model
  // answers EINVAL with hw_error TDX_OPERAND_INVALID, as KVM passes the SEAMCALL status back.
  Launch t;
  ASSERT_TRUE(t.up_to(Launch::Step::kVm).has_value());
  ASSERT_TRUE(vmm::tdx::query_capabilities(*t.vm).has_value());
  ASSERT_TRUE(t.vm->enable_cap(KVM_CAP_X86_APIC_BUS_CYCLES_NS, {40}).has_value());
  vmm::tdx::TdInitParams params;
  params.attributes = vmm::tdx::kTdAttributeDebug;
  auto result = vmm::tdx::init_td(*t.vm, params);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kTeeFirmware);
  EXPECT_EQ(result.error().fw_status(), 0xC000010000000000u);
  EXPECT_EQ(result.error().message(),
            "KVM_TDX_INIT_VM: KVM_MEMORY_ENCRYPT_OP: Invalid argument, TDX module status "
            "TDX_OPERAND_INVALID (0xc000010000000000)");
}

TEST(TdxCpuidTest, FilterKeepsConfigurableLeavesAndBits) {
  const auto filtered =
      vmm::tdx::filter_cpuid_for_td(TdxAbiModel::host_cpuid(), TdxAbiModel::configurable_cpuid());
  std::vector<std::pair<uint32_t, uint32_t>> leaves;
  for (const auto& e : filtered) {
    leaves.emplace_back(e.function, e.index);
  }
  EXPECT_EQ(
      leaves,
      (std::vector<std::pair<uint32_t, uint32_t>>{
          {0x1, 0}, {0x7, 0}, {0x7, 1}, {0xd, 0}, {0xd, 1}, {0x80000001, 0}, {0x80000008, 0}}));
  EXPECT_EQ(filtered[0].ecx, 0xfffa3223u & 0x31fa3203u);
  EXPECT_EQ(filtered[2].eax, 0x00001c30u & 0x00201c30u);
  EXPECT_EQ(filtered[4].ecx, 0x00019900u & 0x00019800u);
}

TEST(TdxCpuidTest, XfamIsHostXcr0AndXssWithinTheModuleMask) {
  const auto host = TdxAbiModel::host_cpuid();
  EXPECT_EQ(vmm::tdx::choose_xfam(host, ~uint64_t{0}), 0x602e7u | 0x19900u);
  EXPECT_EQ(vmm::tdx::choose_xfam(host, 0x3), 0x3u);
  EXPECT_EQ(vmm::tdx::choose_xfam({}, ~uint64_t{0}), 0u);
}

// ---- host check ----------------------------------------------------------------------------

// Per process: ctest runs each test in its own process, in parallel, and two of them writing
// one shared file ("Y" vs "N") made a host-check test read the other's parameter.
std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name + "_" + std::to_string(::getpid());
  std::ofstream(path) << text;
  return path;
}

vmm::HostSupport model_host_check(TdxAbiModel& model, const std::string& parameter_text) {
  vmm::tdx::TdxBackendOptions options;
  options.tdx_module_parameter = write_temp("tdx_param", parameter_text);
  auto backend = vmm::tdx::make_tdx_backend(Launch::tdx_platform(), options);
  auto system = kvm::System::open(model);
  EXPECT_TRUE(system.has_value());
  return backend->check_host(*system);
}

TEST(TdxHostCheckTest, WithoutDevKvmEveryCheckIsUnavailable) {
  kvm::RecordingSys sys;
  sys.fail_open(ENOENT);
  std::vector<std::unique_ptr<vmm::TeeBackend>> backends;
  backends.push_back(vmm::tdx::make_tdx_backend(Launch::tdx_platform()));
  const auto support = vmm::check_host_support(backends, sys);
  ASSERT_EQ(support.size(), 1u);
  EXPECT_EQ(support[0].tee, "tdx");
  EXPECT_FALSE(support[0].available);
  EXPECT_NE(support[0].reason.find("/dev/kvm is absent"), std::string::npos) << support[0].reason;
}

TEST(TdxHostCheckTest, ThisMachine) {
  std::vector<std::unique_ptr<vmm::TeeBackend>> backends;
  backends.push_back(vmm::tdx::make_tdx_backend(Launch::tdx_platform()));
  const auto support = vmm::check_host_support(backends);
  ASSERT_EQ(support.size(), 1u);
  if (std::fopen("/dev/kvm", "r") == nullptr && errno == ENOENT) {
    EXPECT_FALSE(support[0].available);
    EXPECT_NE(support[0].reason.find("/dev/kvm is absent"), std::string::npos);
  } else {
    EXPECT_FALSE(support[0].reason.empty() && !support[0].available);
  }
}

TEST(TdxHostCheckTest, NoTdxVmTypeIsTheReason) {
  TdxAbiModel model({.vm_types = 1});
  const auto support = model_host_check(model, "Y\n");
  EXPECT_FALSE(support.available);
  EXPECT_EQ(support.reason, "KVM VM type KVM_X86_TDX_VM (5): not offered (KVM_CAP_VM_TYPES = 0x1)");
  EXPECT_TRUE(model.recorder().calls_named("KVM_CREATE_VM").empty());
}

TEST(TdxHostCheckTest, DisabledModuleParameterIsTheReason) {
  TdxAbiModel model;
  const auto support = model_host_check(model, "N\n");
  EXPECT_FALSE(support.available);
  EXPECT_EQ(support.reason.rfind("kvm_intel.tdx: disabled", 0), 0u) << support.reason;
}

TEST(TdxHostCheckTest, CapableHostListsEveryFinding) {
  TdxAbiModel model;
  const auto support = model_host_check(model, "Y\n");
  EXPECT_TRUE(support.available) << support.reason;
  EXPECT_EQ(support.findings,
            (std::vector<std::string>{
                "KVM VM type KVM_X86_TDX_VM (5): offered (KVM_CAP_VM_TYPES = 0x21)",
                "kvm_intel.tdx: enabled (load kvm_intel with tdx=1 on a host whose BIOS enables "
                "TDX)",
                "TDX module: attributes 0x8000000050000000, XFAM 0x6e7, 8 configurable CPUID "
                "leaves",
                "KVM_CAP_GUEST_MEMFD on a TD: 0x1 (ok)", "KVM_CAP_USER_MEMORY2 on a TD: 0x1 (ok)",
                "KVM_CAP_MEMORY_ATTRIBUTES on a TD: 0x8 (ok)",
                "KVM_CAP_EXIT_HYPERCALL on a TD: 0x1000 (ok)",
                "KVM_CAP_X86_APIC_BUS_CYCLES_NS on a TD: 0x1 (ok)",
                "KVM_CAP_SPLIT_IRQCHIP: yes (a TD needs its IOAPIC in userspace)"}));
}

}  // namespace
}  // namespace cvm::tdx_test
