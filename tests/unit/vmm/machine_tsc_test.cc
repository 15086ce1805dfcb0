// SPDX-License-Identifier: Apache-2.0
// --platform tsc_khz on the machine, against the recording Sys: a plain VM sets it with the
// VM-scoped KVM_SET_TSC_KHZ before its first vCPU when KVM offers KVM_CAP_VM_TSC_CONTROL, else
// per vCPU, and CPUID 0x40000010 reports what KVM then says the vCPUs run at; a confidential
// backend without VM TSC control (SEV-SNP) refuses the key before its launch starts. The TDX
// side is in tests/unit/tdx/tdx_machine_test.cc (against the TDX ABI model).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/vmm/machine_test_support.h"
#include "tests/unit/vmm/tiny_elf.h"
#include "vmm/kvm/recording_sys.h"
#include "vmm/machine.h"
#include "vmm/plain_backend.h"

namespace cvm::vmm {
namespace {

constexpr uint32_t kTimingLeaf = 0x40000010;

/// A host whose KVM keeps the TSC kHz the last KVM_SET_TSC_KHZ gave (0: none yet) and reports
/// it through KVM_GET_TSC_KHZ, like a host with TSC scaling.
struct TscHost {
  explicit TscHost(bool vm_tsc_control) {
    testing::script_plain_host(sys, 0x10a);
    sys.set_extension(KVM_CAP_VM_TSC_CONTROL, vm_tsc_control ? 1 : 0);
    sys.on(KVM_SET_TSC_KHZ, [this](int, std::uintptr_t arg) {
      khz = static_cast<uint32_t>(arg);
      return 0L;
    });
    sys.on(KVM_GET_TSC_KHZ, [this](int, std::uintptr_t) { return static_cast<long>(khz); });
  }
  kvm::RecordingSys sys;
  uint32_t khz = 0;
};

class KernelFile {
 public:
  KernelFile() {
    const uint8_t code[] = {0xf4};  // hlt
    path_ = testing::write_temp_file("cvmm_machine_tsc", "vmlinux",
                                     test::tiny_elf_kernel(code, 0x200000));
  }
  ~KernelFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

VmConfig plain_config(const std::string& kernel, std::optional<uint32_t> tsc_khz) {
  VmConfig config;
  config.payload.kernel = kernel;
  config.cpus.boot_vcpus = 2;
  config.memory.size_bytes = 64 << 20;
  config.serial.mode = SerialMode::kOff;
  config.platform.tsc_khz = tsc_khz;
  return config;
}

/// "NAME@ROLE" of the TSC calls and vCPU creations, in order.
std::vector<std::string> tsc_sequence(const kvm::RecordingSys& sys) {
  std::vector<std::string> out;
  for (const kvm::RecordedCall& call : sys.calls()) {
    if (call.name == "KVM_SET_TSC_KHZ" || call.name == "KVM_CREATE_VCPU") {
      out.push_back(call.name + "@" + call.fd_role);
    }
  }
  return out;
}

/// EAX of CPUID 0x40000010 in every KVM_SET_CPUID2 (0 where the leaf is missing).
std::vector<uint32_t> timing_leaf_eax(const kvm::RecordingSys& sys) {
  std::vector<uint32_t> out;
  for (const kvm::RecordedCall& call : sys.calls_named("KVM_SET_CPUID2")) {
    const auto header = call.arg_as<kvm_cpuid2>();
    uint32_t eax = 0;
    for (uint32_t i = 0; i < header.nent; ++i) {
      kvm_cpuid_entry2 entry{};
      const std::size_t at = sizeof(kvm_cpuid2) + i * sizeof(entry);
      if (at + sizeof(entry) > call.arg_bytes.size()) {
        break;
      }
      std::memcpy(&entry, call.arg_bytes.data() + at, sizeof(entry));
      if (entry.function == kTimingLeaf) {
        eax = entry.eax;
      }
    }
    out.push_back(eax);
  }
  return out;
}

TEST(MachineTscTest, VmScopedCallComesBeforeTheFirstVcpuWhenKvmOffersIt) {
  TscHost host(/*vm_tsc_control=*/true);
  KernelFile kernel;
  auto machine = Machine::create(plain_config(kernel.path(), 2'345'678), host.sys);
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_EQ(tsc_sequence(host.sys),
            (std::vector<std::string>{"KVM_SET_TSC_KHZ@vm", "KVM_CREATE_VCPU@vm",
                                      "KVM_CREATE_VCPU@vm"}));
  EXPECT_EQ(host.sys.calls_named("KVM_SET_TSC_KHZ").at(0).arg, 2'345'678u);
  EXPECT_EQ(timing_leaf_eax(host.sys), (std::vector<uint32_t>{2'345'678, 2'345'678}));
}

TEST(MachineTscTest, EachVcpuGetsTheCallWithoutVmTscControl) {
  TscHost host(/*vm_tsc_control=*/false);
  KernelFile kernel;
  auto machine = Machine::create(plain_config(kernel.path(), 1'800'000), host.sys);
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_EQ(tsc_sequence(host.sys),
            (std::vector<std::string>{"KVM_CREATE_VCPU@vm", "KVM_SET_TSC_KHZ@vcpu0",
                                      "KVM_CREATE_VCPU@vm", "KVM_SET_TSC_KHZ@vcpu1"}));
  for (const kvm::RecordedCall& call : host.sys.calls_named("KVM_SET_TSC_KHZ")) {
    EXPECT_EQ(call.arg, 1'800'000u);
  }
  EXPECT_EQ(timing_leaf_eax(host.sys), (std::vector<uint32_t>{1'800'000, 1'800'000}));
}

TEST(MachineTscTest, WithoutTheKeyKvmsDefaultStandsAndTheLeafReportsIt) {
  TscHost host(/*vm_tsc_control=*/true);
  host.khz = 2'100'000;  // the host frequency KVM gives new vCPUs
  KernelFile kernel;
  auto machine = Machine::create(plain_config(kernel.path(), std::nullopt), host.sys);
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_TRUE(host.sys.calls_named("KVM_SET_TSC_KHZ").empty());
  EXPECT_EQ(timing_leaf_eax(host.sys), (std::vector<uint32_t>{2'100'000, 2'100'000}));
}

TEST(MachineTscTest, KvmRefusingTheFrequencyNamesTheOption) {
  TscHost host(/*vm_tsc_control=*/true);
  host.sys.fail_next(KVM_SET_TSC_KHZ, EINVAL);  // beyond the host's TSC scaling range
  KernelFile kernel;
  auto machine = Machine::create(plain_config(kernel.path(), 4'000'000'000u), host.sys);
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "--platform tsc_khz=4000000000: KVM_SET_TSC_KHZ: Invalid argument");
  EXPECT_TRUE(host.sys.calls_named("KVM_CREATE_VCPU").empty());
  EXPECT_EQ(host.sys.live_mappings(), 0u);
}

/// A confidential backend without VM TSC control, as SEV-SNP's (requirements().vm_tsc_khz
/// false); it records whether its launch started.
class NoTscTeeBackend final : public PlainBackend {
 public:
  explicit NoTscTeeBackend(bool* init_vm_called) : init_vm_called_(init_vm_called) {}
  std::string_view name() const noexcept override { return "sev-snp"; }
  TeeRequirements requirements() const noexcept override {
    return {.vm_type = KVM_X86_DEFAULT_VM,
            .private_memory = true,
            .vmm_sets_vcpu_registers = true,
            .firmware_boot = true,
            .vm_tsc_khz = false,
            .legacy_vmx_pages = false};
  }
  HostSupport check_host(const kvm::System&) const override {
    return {.tee = "sev-snp", .available = true, .findings = {}, .reason = {}};
  }
  Result<firmware::LaunchPlan> build_launch_plan(const TeeLaunchInputs&) const override {
    return firmware::LaunchPlan{};
  }
  Result<void> init_vm(const kvm::System&, const kvm::Vm&, const firmware::LaunchPlan&) override {
    *init_vm_called_ = true;
    return ok();
  }

 private:
  bool* init_vm_called_;
};

TEST(MachineTscTest, BackendWithoutVmTscControlRefusesTheKeyBeforeItsLaunch) {
  kvm::RecordingSys sys;
  testing::script_confidential_host(sys, 0x10a);
  const std::byte image[4096] = {};
  const std::string firmware = testing::write_temp_file("cvmm_machine_tsc", "ovmf.fd", image);
  VmConfig config = plain_config("", 2'000'000);
  config.platform.tee = TeeKind::kSevSnp;
  config.payload.firmware = firmware;
  bool init_vm_called = false;
  auto machine = Machine::create(config, std::make_unique<NoTscTeeBackend>(&init_vm_called), sys);
  ::unlink(firmware.c_str());
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "--platform tsc_khz: the sev-snp backend cannot set the guest TSC frequency");
  EXPECT_FALSE(init_vm_called);
  EXPECT_TRUE(sys.calls_named("KVM_SET_TSC_KHZ").empty());
}

}  // namespace
}  // namespace cvm::vmm
