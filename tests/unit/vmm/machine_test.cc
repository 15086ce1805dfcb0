// SPDX-License-Identifier: Apache-2.0
// Machine creation against the recording Sys (the whole ioctl sequence of a plain-KVM boot),
// the platform devices, the x86 register conversions and the config checks.
#include "vmm/machine.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/byte_reader.h"
#include "tests/unit/vmm/tiny_elf.h"
#include "tests/unit/vmm/machine_test_support.h"
#include "vmm/kvm/recording_sys.h"
#include "vmm/plain_backend.h"
#include "vmm/x86_vcpu.h"

namespace cvm::vmm {
namespace {

std::string temp_path(const std::string& name) {
  return testing::temp_path("cvmm_machine_test", name);
}

std::string write_kernel(const std::string& name) {
  const uint8_t code[] = {0xf4};  // hlt
  const auto image = test::tiny_elf_kernel(code, 0x200000);
  const std::string path = temp_path(name);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(image.data()),
            static_cast<std::streamsize>(image.size()));
  out.close();
  return path;
}

void script_host(kvm::RecordingSys& sys) {
  // IA32_ARCH_CAPABILITIES: not a boot MSR, must not be written.
  testing::script_plain_host(sys, 0x10a);
}

/// True when `expected` appears in `names` in this order (other calls may interleave).
bool in_order(const std::vector<std::string>& names, const std::vector<std::string>& expected) {
  auto it = names.begin();
  for (const std::string& name : expected) {
    it = std::find(it, names.end(), name);
    if (it == names.end()) {
      return false;
    }
    ++it;
  }
  return true;
}

VmConfig basic_config(const std::string& kernel) {
  VmConfig config;
  config.payload.kernel = kernel;
  config.cpus.boot_vcpus = 2;
  config.memory.size_bytes = 64 << 20;
  config.serial.mode = SerialMode::kOff;
  return config;
}

TEST(MachineTest, CreateIssuesThePlainKvmBootSequence) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string kernel = write_kernel("sequence");
  auto machine = Machine::create(basic_config(kernel), sys);
  ::unlink(kernel.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();

  EXPECT_TRUE(in_order(sys.call_names(),
                       {"open", "KVM_GET_API_VERSION", "KVM_CHECK_EXTENSION", "KVM_CREATE_VM",
                        "KVM_SET_IDENTITY_MAP_ADDR", "KVM_SET_TSS_ADDR", "KVM_ENABLE_CAP",
                        "KVM_SET_USER_MEMORY_REGION", "KVM_GET_SUPPORTED_CPUID",
                        "KVM_CREATE_VCPU", "KVM_CREATE_VCPU", "KVM_GET_TSC_KHZ",
                        "KVM_SET_CPUID2", "KVM_SET_MSRS", "KVM_SET_LAPIC", "KVM_SET_FPU",
                        "KVM_SET_CPUID2", "KVM_SET_MSRS", "KVM_SET_LAPIC", "KVM_SET_FPU",
                        "KVM_SET_SREGS", "KVM_SET_REGS", "KVM_SET_GSI_ROUTING"}));
  EXPECT_EQ(sys.calls_named("KVM_SET_TSS_ADDR").at(0).arg, kTssAddress);
  EXPECT_EQ(sys.calls_named("KVM_SET_IDENTITY_MAP_ADDR").at(0).arg_as<uint64_t>(),
            kIdentityMapAddress);
  const auto split = sys.calls_named("KVM_ENABLE_CAP").at(0).arg_as<kvm_enable_cap>();
  EXPECT_EQ(split.cap, static_cast<uint32_t>(KVM_CAP_SPLIT_IRQCHIP));
  EXPECT_EQ(split.args[0], 24u);
  const auto slot = sys.calls_named("KVM_SET_USER_MEMORY_REGION").at(0)
                        .arg_as<kvm_userspace_memory_region>();
  EXPECT_EQ(slot.guest_phys_addr, 0u);
  EXPECT_EQ(slot.memory_size, 64u << 20);
  const auto vcpus = sys.calls_named("KVM_CREATE_VCPU");
  ASSERT_EQ(vcpus.size(), 2u);
  EXPECT_EQ(vcpus[1].arg, 1u);
  // Only the BSP gets boot registers: the 64-bit entry at e_entry with the zero page in RSI.
  const auto regs = sys.calls_named("KVM_SET_REGS");
  ASSERT_EQ(regs.size(), 1u);
  EXPECT_EQ(regs[0].fd_role, "vcpu0");
  EXPECT_EQ(regs[0].arg_as<kvm_regs>().rip, 0x200000u);
  EXPECT_EQ(regs[0].arg_as<kvm_regs>().rsi, x86::kZeroPageAddress);
  EXPECT_NE(sys.calls_named("KVM_SET_SREGS").at(0).arg_as<kvm_sregs>().efer & 0x400, 0u);
  // Boot MSRs never include one the host did not list.
  for (const auto& call : sys.calls_named("KVM_SET_MSRS")) {
    const auto header = call.arg_as<kvm_msrs>();
    for (uint32_t i = 0; i < header.nmsrs; ++i) {
      kvm_msr_entry entry{};
      std::memcpy(&entry, call.arg_bytes.data() + 8 + i * sizeof(entry), sizeof(entry));
      EXPECT_EQ(entry.index, 0x174u);
    }
  }
  EXPECT_TRUE(sys.calls_named("KVM_RUN").empty());
}

TEST(MachineTest, MissingKernelLeavesNothingBehind) {
  kvm::RecordingSys sys;
  script_host(sys);
  VmConfig config = basic_config("/nonexistent/vmlinux");
  config.serial.mode = SerialMode::kFile;
  config.serial.file = temp_path("serial-never-created");
  auto machine = Machine::create(config, sys);
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "reading the kernel: /nonexistent/vmlinux: No such file or directory");
  EXPECT_EQ(sys.live_mappings(), 0u);
  EXPECT_NE(::access(config.serial.file.c_str(), F_OK), 0);
}

TEST(MachineTest, DisksAreWiredInOrderWithIrqfdAndIoeventfd) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string kernel = write_kernel("disks");
  const std::string disk_a = temp_path("disk_a.img");
  const std::string disk_b = temp_path("disk_b.img");
  for (const std::string& path : {disk_a, disk_b}) {
    std::ofstream(path, std::ios::binary) << std::string(4096, '\0');
  }
  VmConfig config = basic_config(kernel);
  config.disks = {{disk_a, false, "root"}, {disk_b, true, ""}};
  auto machine = Machine::create(config, sys);
  for (const std::string& path : {kernel, disk_a, disk_b}) {
    ::unlink(path.c_str());
  }
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  const auto irqfds = sys.calls_named("KVM_IRQFD");
  ASSERT_EQ(irqfds.size(), 2u);
  EXPECT_EQ(irqfds[0].arg_as<kvm_irqfd>().gsi, 5u);
  EXPECT_EQ(irqfds[1].arg_as<kvm_irqfd>().gsi, 6u);
  const auto ioeventfds = sys.calls_named("KVM_IOEVENTFD");
  ASSERT_EQ(ioeventfds.size(), 2u);  // virtio-blk has one request queue
  EXPECT_EQ(ioeventfds[0].arg_as<kvm_ioeventfd>().addr, 0xd0000050u);
  EXPECT_EQ(ioeventfds[1].arg_as<kvm_ioeventfd>().addr, 0xd0001050u);
  EXPECT_TRUE(in_order(sys.call_names(), {"KVM_SET_REGS", "KVM_IRQFD", "KVM_IOEVENTFD"}));
}

TEST(MachineTest, VsockFollowsTheDisksAndOwnsItsSocketFile) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string kernel = write_kernel("vsock");
  const std::string disk = temp_path("vsock_disk.img");
  std::ofstream(disk, std::ios::binary) << std::string(4096, '\0');
  const std::string socket = temp_path("vsock.sock");
  VmConfig config = basic_config(kernel);
  config.disks = {{disk, false, ""}};
  config.vsock = VsockConfig{.cid = 42, .socket = socket};
  {
    auto machine = Machine::create(config, sys);
    ASSERT_TRUE(machine.has_value()) << machine.error().message();
    EXPECT_EQ(::access(socket.c_str(), F_OK), 0);  // bound before the guest runs
    const auto irqfds = sys.calls_named("KVM_IRQFD");
    ASSERT_EQ(irqfds.size(), 2u);
    EXPECT_EQ(irqfds[1].arg_as<kvm_irqfd>().gsi, 6u);
    const auto ioeventfds = sys.calls_named("KVM_IOEVENTFD");
    ASSERT_EQ(ioeventfds.size(), 4u);  // blk: 1 queue; vsock: rx, tx, event
    for (std::size_t i = 1; i < 4; ++i) {
      EXPECT_EQ(ioeventfds[i].arg_as<kvm_ioeventfd>().addr, 0xd0001050u);
      EXPECT_EQ(ioeventfds[i].arg_as<kvm_ioeventfd>().datamatch, i - 1);
    }
  }
  EXPECT_NE(::access(socket.c_str(), F_OK), 0);  // removed with the machine
  ::unlink(kernel.c_str());
  ::unlink(disk.c_str());
}

TEST(MachineTest, UnusableVsockSocketPathFailsBeforeAnyKvmObjectExists) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string kernel = write_kernel("badvsock");
  VmConfig config = basic_config(kernel);
  config.vsock = VsockConfig{.cid = 3, .socket = "/nonexistent/dir/v.sock"};
  auto machine = Machine::create(config, sys);
  ::unlink(kernel.c_str());
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message().rfind("--vsock: ", 0), 0u) << machine.error().message();
  EXPECT_NE(machine.error().message().find("/nonexistent/dir/v.sock"), std::string::npos);
  EXPECT_TRUE(sys.calls().empty());
}

TEST(MachineTest, MissingDiskFailsBeforeAnyKvmObjectExists) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string kernel = write_kernel("nodisk");
  VmConfig config = basic_config(kernel);
  config.disks = {{"/nonexistent/disk.img", false, ""}};
  auto machine = Machine::create(config, sys);
  ::unlink(kernel.c_str());
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().message(),
            "--disk: disk image /nonexistent/disk.img: open: No such file or directory");
  EXPECT_TRUE(sys.calls().empty());
}

TEST(MachineTest, DiskSizeNotAMultipleOf512IsRefused) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string kernel = write_kernel("odddisk");
  const std::string disk = temp_path("odd.img");
  std::ofstream(disk, std::ios::binary) << std::string(1000, 'x');
  VmConfig config = basic_config(kernel);
  config.disks = {{disk, false, ""}};
  auto machine = Machine::create(config, sys);
  ::unlink(kernel.c_str());
  ::unlink(disk.c_str());
  ASSERT_FALSE(machine.has_value());
  EXPECT_NE(machine.error().message().find("512"), std::string::npos)
      << machine.error().message();
  EXPECT_TRUE(sys.calls().empty());
}

/// A TEE backend whose host check fails, to check that the machine stops at the check.
class UnavailableBackend final : public PlainBackend {
 public:
  std::string_view name() const noexcept override { return "tdx"; }
  TeeRequirements requirements() const noexcept override {
    return {.vm_type = KVM_X86_TDX_VM, .private_memory = true};
  }
  HostSupport check_host(const kvm::System&) const override {
    return {.tee = "tdx", .available = false, .findings = {},
            .reason = "KVM VM type KVM_X86_TDX_VM (5): not offered"};
  }
};

TEST(MachineTest, TeeTheHostCannotRunFailsWithTheHostCheckReasonBeforeAnyVm) {
  kvm::RecordingSys sys;
  script_host(sys);
  const std::string kernel = write_kernel("tee");
  VmConfig config = basic_config(kernel);
  config.platform.tee = TeeKind::kTdx;
  config.payload.firmware = "/nonexistent/TDVF.fd";  // never read: the host check comes first
  auto machine = Machine::create(config, std::make_unique<UnavailableBackend>(), sys);
  ::unlink(kernel.c_str());
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_EQ(machine.error().message(),
            "--platform tdx=on: this host cannot run tdx guests: KVM VM type KVM_X86_TDX_VM (5): "
            "not offered");
  EXPECT_TRUE(sys.calls_named("KVM_CREATE_VM").empty());
  EXPECT_EQ(sys.live_mappings(), 0u);
}

/// A confidential backend that records the launch steps the machine drives, with a plan that
/// writes one page in RAM and the firmware volume just below 4 GiB.
class RecordingTeeBackend final : public PlainBackend {
 public:
  explicit RecordingTeeBackend(std::vector<std::string>* steps) : steps_(steps) {}
  std::string_view name() const noexcept override { return "tdx"; }
  TeeRequirements requirements() const noexcept override {
    return {.vm_type = KVM_X86_TDX_VM,
            .private_memory = true,
            .vmm_sets_vcpu_registers = false,
            .firmware_boot = true,
            .vm_tsc_khz = true,
            .legacy_vmx_pages = false};
  }
  HostSupport check_host(const kvm::System&) const override {
    steps_->push_back("check_host");
    return {.tee = "tdx", .available = true, .findings = {}, .reason = {}};
  }
  Result<firmware::LaunchPlan> build_launch_plan(const TeeLaunchInputs& inputs) const override {
    steps_->push_back(fmt::format("plan firmware={} vcpus={} cmdline={}",
                                  inputs.firmware ? inputs.firmware->size() : 0,
                                  inputs.vcpu_count, inputs.cmdline));
    firmware::LaunchPlan plan;
    const std::pair<uint64_t, uint64_t> ranges[] = {
        {0x800000, 0x1000}, {0xffe00000, 0x100000}, {0xfff00000, 0x100000}};
    for (const auto& [gpa, size] : ranges) {
      firmware::PlanRange range;
      range.gpa = gpa;
      range.size = size;
      plan.ranges.push_back(range);
    }
    return plan;
  }
  Result<void> init_vm(const kvm::System&, const kvm::Vm& vm,
                       const firmware::LaunchPlan&) override {
    steps_->push_back(fmt::format("init_vm type={}", vm.type()));
    return ok();
  }
  Result<void> init_vcpu(const kvm::Vm&, const kvm::Vcpu& vcpu,
                         const firmware::LaunchPlan&) override {
    steps_->push_back(fmt::format("init_vcpu {}", vcpu.id()));
    return ok();
  }
  Result<void> launch(const kvm::Vm&, GuestMemory& memory, std::span<kvm::Vcpu> vcpus,
                      const firmware::LaunchPlan& plan) override {
    bool covered = true;
    for (const auto& range : plan.ranges) {
      covered = covered && memory.contains(range.gpa, range.size);
    }
    steps_->push_back(fmt::format("launch vcpus={} backing={} covered={}", vcpus.size(),
                                  to_string(memory.backing()), covered));
    return ok();
  }

 private:
  std::vector<std::string>* steps_;
};

TEST(MachineTest, ConfidentialLaunchFollowsTheBackendOrder) {
  kvm::RecordingSys sys;
  testing::script_confidential_host(sys, 0x10a);
  const std::string firmware = temp_path("tdvf.fd");
  std::ofstream(firmware, std::ios::binary) << std::string(8192, '\x5a');
  VmConfig config = basic_config("");
  config.platform.tee = TeeKind::kTdx;
  config.payload.firmware = firmware;
  config.payload.cmdline = "console=hvc0";
  std::vector<std::string> steps;
  auto machine = Machine::create(config, std::make_unique<RecordingTeeBackend>(&steps), sys);
  ::unlink(firmware.c_str());
  ASSERT_TRUE(machine.has_value()) << machine.error().message();
  EXPECT_EQ(steps, (std::vector<std::string>{
                       "check_host", "plan firmware=8192 vcpus=2 cmdline=console=hvc0",
                       "init_vm type=5", "init_vcpu 0", "init_vcpu 1",
                       "launch vcpus=2 backing=private covered=true"}));
  const auto names = sys.call_names();
  EXPECT_TRUE(in_order(names, {"KVM_CREATE_VM", "KVM_ENABLE_CAP", "KVM_CREATE_GUEST_MEMFD",
                               "KVM_SET_USER_MEMORY_REGION2", "KVM_CREATE_VCPU",
                               "KVM_CREATE_VCPU"}));
  EXPECT_EQ(sys.calls_named("KVM_CREATE_VM").at(0).arg, static_cast<uintptr_t>(KVM_X86_TDX_VM));
  // No VMX real-mode pages for a TD, and no register state: the TDX module owns it.
  EXPECT_TRUE(sys.calls_named("KVM_SET_TSS_ADDR").empty());
  EXPECT_TRUE(sys.calls_named("KVM_SET_REGS").empty());
  EXPECT_TRUE(sys.calls_named("KVM_SET_CPUID2").empty());
  // RAM (64 MiB) and the 2 MiB firmware volume below 4 GiB, each a guest_memfd slot.
  const auto slots = sys.calls_named("KVM_SET_USER_MEMORY_REGION2");
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[1].arg_as<kvm_userspace_memory_region2>().guest_phys_addr, 0xffe00000u);
  EXPECT_EQ(slots[1].arg_as<kvm_userspace_memory_region2>().memory_size, 0x200000u);
}

TEST(MachineTest, ConfidentialGuestNeedsFirmware) {
  VmConfig config = basic_config("/k");
  config.platform.tee = TeeKind::kSevSnp;
  EXPECT_EQ(check_machine_config(config).error().message(),
            "--platform sev_snp=on needs --firmware (TDVF for TDX, an SEV-SNP OVMF for SNP)");
}

TEST(MachineTest, MissingSplitIrqchipIsAHostError) {
  kvm::RecordingSys sys;
  const std::string kernel = write_kernel("nosplit");
  auto machine = Machine::create(basic_config(kernel), sys);
  ::unlink(kernel.c_str());
  ASSERT_FALSE(machine.has_value());
  EXPECT_EQ(machine.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_EQ(machine.error().message(), "this host's KVM lacks KVM_CAP_SPLIT_IRQCHIP");
}

TEST(MachineTest, ConfigChecks) {
  VmConfig config = basic_config("/k");
  config.cpus.boot_vcpus = 0;
  EXPECT_EQ(check_machine_config(config).error().message(), "--cpus boot=0: must be 1 to 255");
  config = basic_config("/k");
  config.payload.firmware = "/usr/share/ovmf/OVMF.fd";
  EXPECT_TRUE(check_machine_config(config).has_value());  // the firmware loads the kernel
  config = basic_config("");
  EXPECT_EQ(check_machine_config(config).error().message(),
            "--kernel is required unless --firmware boots the guest");
  MemoryConfig memory;
  memory.guest_memfd = true;
  EXPECT_EQ(*ram_backing(memory), RamBacking::kGuestMemfd);
  memory.hugepages = true;
  EXPECT_FALSE(ram_backing(memory).has_value());
}

TEST(X86VcpuTest, LapicLintWiringKeepsMaskBits) {
  kvm_lapic_state lapic{};
  auto regs = std::as_writable_bytes(std::span(lapic.regs));
  store_le<uint32_t>(regs.subspan(0x350).first<4>(), 0x10000);  // masked, fixed mode
  set_lapic_lint_wiring(lapic);
  EXPECT_EQ(load_le<uint32_t>(regs.subspan(0x350).first<4>()), 0x10700u);
  EXPECT_EQ(load_le<uint32_t>(regs.subspan(0x360).first<4>()), 0x400u);
}

TEST(X86VcpuTest, SpecialRegistersAndCpuidConvert) {
  x86::SpecialRegisters boot;
  boot.cs = {.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 11, .present = 1,
             .l = 1, .g = 1};
  boot.cr3 = 0x2000;
  boot.efer = 0x500;
  kvm_sregs sregs{};
  sregs.apic_base = 0xfee00900;
  apply_special_registers(sregs, boot);
  EXPECT_EQ(sregs.cs.selector, 0x10);
  EXPECT_EQ(sregs.cs.l, 1);
  EXPECT_EQ(sregs.cr3, 0x2000u);
  EXPECT_EQ(sregs.efer, 0x500u);
  EXPECT_EQ(sregs.apic_base, 0xfee00900u);  // untouched

  kvm_cpuid_entry2 entry{};
  entry.function = 7;
  entry.index = 0;
  entry.flags = 1;
  entry.ebx = 0x12345678;
  const auto round = to_kvm_cpuid(from_kvm_cpuid(std::span(&entry, 1)));
  ASSERT_EQ(round.size(), 1u);
  EXPECT_EQ(round[0].function, 7u);
  EXPECT_EQ(round[0].flags, 1u);
  EXPECT_EQ(round[0].ebx, 0x12345678u);
}

}  // namespace
}  // namespace cvm::vmm
