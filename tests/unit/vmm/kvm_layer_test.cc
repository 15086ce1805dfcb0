// SPDX-License-Identifier: Apache-2.0
// kvm::System/Vm/Vcpu against the recording Sys: exact ioctl sequences and error texts.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "vmm/kvm/host_diagnosis.h"
#include "vmm/kvm/ioctl.h"
#include "vmm/kvm/recording_sys.h"
#include "vmm/kvm/system.h"

namespace cvm::kvm {
namespace {

System open_system(RecordingSys& sys) {
  auto system = System::open(sys);
  EXPECT_TRUE(system.has_value()) << system.error().message();
  return std::move(system).value();
}

TEST(KvmSystemTest, AbsentDevKvmIsNotSupportedByHost) {
  RecordingSys sys;
  sys.fail_open(ENOENT);
  auto system = System::open(sys);
  ASSERT_FALSE(system.has_value());
  EXPECT_EQ(system.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_EQ(system.error().sys_errno(), ENOENT);
  EXPECT_EQ(system.error().message().rfind("/dev/kvm is absent: ", 0), 0u)
      << system.error().message();
}

TEST(KvmHostDiagnosisTest, ReadsTheFlagsLineOnly) {
  KvmHostFacts facts;
  parse_cpuinfo_flags("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                      "flags\t\t: fpu vme svm hypervisor lahf_lm\nbugs\t\t: vmx\n"
                      "flags\t\t: vmx\n",
                      facts);
  EXPECT_TRUE(facts.cpu_has_svm);
  EXPECT_TRUE(facts.cpu_is_virtual);
  EXPECT_FALSE(facts.cpu_has_vmx);  // not in the first CPU's flags, only in "bugs" and later
  KvmHostFacts none;
  parse_cpuinfo_flags("flags: svmx vmxx hypervisors\n", none);
  EXPECT_FALSE(none.cpu_has_vmx || none.cpu_has_svm || none.cpu_is_virtual);
  parse_cpuinfo_flags("", none);
  parse_cpuinfo_flags("flags without a colon vmx\n", none);
  EXPECT_FALSE(none.cpu_has_vmx);
}

TEST(KvmHostDiagnosisTest, SaysWhatToDoForEachKindOfHost) {
  const auto explain = [](bool vmx, bool svm, bool virt, std::vector<std::string> modules) {
    return explain_missing_dev_kvm(KvmHostFacts{.cpu_has_vmx = vmx, .cpu_has_svm = svm,
                                                .cpu_is_virtual = virt,
                                                .kvm_modules = std::move(modules)});
  };
  // This development host: a kvm-pvm guest whose kvm_pvm refuses to bind.
  EXPECT_EQ(explain(false, false, true, {"kvm", "kvm_pvm"}),
            "kvm_pvm is loaded but did not register /dev/kvm (the kernel log, dmesg, says why)");
  EXPECT_EQ(explain(true, false, false, {"kvm", "kvm_intel"}),
            "kvm_intel is loaded but did not register /dev/kvm (the kernel log, dmesg, says why)");
  EXPECT_EQ(explain(true, false, false, {}), "no kvm module is loaded (modprobe kvm_intel)");
  EXPECT_EQ(explain(false, true, true, {}), "no kvm module is loaded (modprobe kvm_amd)");
  EXPECT_NE(explain(false, false, true, {}).find("enable nested virtualization"),
            std::string::npos);
  EXPECT_NE(explain(false, false, false, {}).find("disabled in the firmware"), std::string::npos);
}

TEST(KvmSystemTest, PermissionDeniedSaysSo) {
  RecordingSys sys;
  sys.fail_open(EACCES);
  auto system = System::open(sys);
  ASSERT_FALSE(system.has_value());
  EXPECT_EQ(system.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_NE(system.error().message().find("/dev/kvm: permission denied"), std::string::npos);
}

TEST(KvmSystemTest, OpenChecksApiVersionThenMmapSize) {
  RecordingSys sys;
  System system = open_system(sys);
  EXPECT_EQ(sys.call_names(),
            (std::vector<std::string>{"open", "KVM_GET_API_VERSION", "KVM_GET_VCPU_MMAP_SIZE"}));
  EXPECT_EQ(sys.calls()[0].fd_role, "/dev/kvm");
  EXPECT_EQ(sys.calls()[1].fd_role, "kvm");
  EXPECT_EQ(system.vcpu_mmap_size(), 3u * 4096);
}

TEST(KvmSystemTest, WrongApiVersionIsRejected) {
  RecordingSys sys;
  sys.on(KVM_GET_API_VERSION, [](int, std::uintptr_t) { return 11L; });
  auto system = System::open(sys);
  ASSERT_FALSE(system.has_value());
  EXPECT_EQ(system.error().message(), "/dev/kvm: KVM API version 11, expected 12");
}

TEST(KvmSystemTest, VmTypeWithoutCapabilityIsNotSupported) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_TDX_VM);
  ASSERT_FALSE(vm.has_value());
  EXPECT_EQ(vm.error().code(), ErrorCode::kNotSupportedByHost);
  EXPECT_EQ(vm.error().message(),
            "KVM_CREATE_VM: VM type 5 is not supported by this host (types 0x1)");
  EXPECT_TRUE(sys.calls_named("KVM_CREATE_VM").empty());
}

TEST(KvmSystemTest, CreateVmPassesTypeWhenAdvertised) {
  RecordingSys sys;
  sys.set_extension(KVM_CAP_VM_TYPES, (1 << KVM_X86_DEFAULT_VM) | (1 << KVM_X86_SNP_VM));
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_SNP_VM);
  ASSERT_TRUE(vm.has_value()) << vm.error().message();
  auto created = sys.calls_named("KVM_CREATE_VM");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].arg, 4u);
  EXPECT_EQ(created[0].fd_role, "kvm");
  EXPECT_EQ(sys.role_of(vm->fd()), "vm");
  EXPECT_EQ(vm->type(), 4u);
}

TEST(KvmSystemTest, SupportedCpuidRetriesOnE2big) {
  RecordingSys sys;
  System system = open_system(sys);
  sys.fail_next(KVM_GET_SUPPORTED_CPUID, E2BIG);
  sys.on(KVM_GET_SUPPORTED_CPUID, [](int, std::uintptr_t arg) {
    auto* cpuid = reinterpret_cast<kvm_cpuid2*>(arg);
    cpuid->nent = 2;
    cpuid->entries[0].function = 0;
    cpuid->entries[0].eax = 0xd;
    cpuid->entries[1].function = 1;
    cpuid->entries[1].ecx = 0x80000000u;
    return 0L;
  });
  auto entries = system.supported_cpuid();
  ASSERT_TRUE(entries.has_value()) << entries.error().message();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].eax, 0xdu);
  EXPECT_EQ((*entries)[1].ecx, 0x80000000u);
  auto calls = sys.calls_named("KVM_GET_SUPPORTED_CPUID");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].arg_as<kvm_cpuid2>().nent, 256u);
  EXPECT_EQ(calls[1].arg_as<kvm_cpuid2>().nent, 512u);
}

TEST(KvmVmTest, ErrorNamesTheIoctlAndErrno) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value());
  sys.fail_next(KVM_SET_USER_MEMORY_REGION2, EINVAL);
  kvm_userspace_memory_region2 region{};
  region.slot = 1;
  region.guest_phys_addr = 0x100000;
  region.memory_size = 0x200000;
  auto result = vm->set_user_memory_region2(region);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kKvm);
  EXPECT_EQ(result.error().sys_errno(), EINVAL);
  EXPECT_EQ(result.error().message(),
            "slot 1 gpa 0x100000 size 0x200000: KVM_SET_USER_MEMORY_REGION2: Invalid argument");
}

TEST(KvmVmTest, SplitIrqchipEnablesCapability121With24Pins) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value());
  ASSERT_TRUE(vm->enable_split_irqchip().has_value());
  auto calls = sys.calls_named("KVM_ENABLE_CAP");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].fd_role, "vm");
  const auto cap = calls[0].arg_as<kvm_enable_cap>();
  EXPECT_EQ(cap.cap, 121u);
  EXPECT_EQ(cap.args[0], 24u);
  EXPECT_EQ(cap.args[1], 0u);
}

TEST(KvmVmTest, GsiRoutingCopiesEveryEntry) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value());
  std::vector<kvm_irq_routing_entry> entries(2);
  entries[0].gsi = 4;
  entries[0].type = KVM_IRQ_ROUTING_MSI;
  entries[0].u.msi.address_lo = 0xfee00000;
  entries[0].u.msi.data = 0x31;
  entries[1].gsi = 5;
  ASSERT_TRUE(vm->set_gsi_routing(entries).has_value());
  auto calls = sys.calls_named("KVM_SET_GSI_ROUTING");
  ASSERT_EQ(calls.size(), 1u);
  ASSERT_EQ(calls[0].arg_bytes.size(), 8u + 2 * 48);
  kvm_irq_routing_entry first{};
  std::memcpy(&first, calls[0].arg_bytes.data() + 8, sizeof(first));
  EXPECT_EQ(first.gsi, 4u);
  EXPECT_EQ(first.u.msi.address_lo, 0xfee00000u);
  EXPECT_EQ(first.u.msi.data, 0x31u);
}

TEST(KvmVmTest, GuestMemfdRequestCarriesSizeAndFlags) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value());
  auto gmem =
      vm->create_guest_memfd(0x400000, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
  ASSERT_TRUE(gmem.has_value()) << gmem.error().message();
  EXPECT_EQ(sys.role_of(gmem->fd()), "gmem0");
  const auto request =
      sys.calls_named("KVM_CREATE_GUEST_MEMFD").at(0).arg_as<kvm_create_guest_memfd>();
  EXPECT_EQ(request.size, 0x400000u);
  EXPECT_EQ(request.flags, 3u);
  EXPECT_EQ(request.reserved[0], 0u);
}

TEST(KvmVmTest, MemoryEncryptOpPassesTheWholeCommand) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value());
  kvm_tdx_cmd command{};
  command.id = KVM_TDX_FINALIZE_VM;
  command.hw_error = 0;
  sys.fail_next(KVM_MEMORY_ENCRYPT_OP, EIO);
  auto result = vm->memory_encrypt_op(&command);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message(), "KVM_MEMORY_ENCRYPT_OP: Input/output error");
  const auto recorded = sys.calls_named("KVM_MEMORY_ENCRYPT_OP").at(0);
  EXPECT_EQ(recorded.arg_bytes.size(), 24u);
  EXPECT_EQ(recorded.arg_as<kvm_tdx_cmd>().id, 4u);
}

TEST(KvmVcpuTest, CreateVcpuMapsKvmRun) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value());
  auto vcpu = vm->create_vcpu(1);
  ASSERT_TRUE(vcpu.has_value()) << vcpu.error().message();
  auto names = sys.call_names();
  ASSERT_GE(names.size(), 2u);
  EXPECT_EQ(names[names.size() - 2], "KVM_CREATE_VCPU");
  EXPECT_EQ(names.back(), "mmap");
  EXPECT_EQ(sys.calls().back().fd_role, "vcpu1");
  EXPECT_EQ(sys.calls().back().arg, 3u * 4096);
  EXPECT_EQ(vcpu->run_area().size(), 3u * 4096);
  EXPECT_EQ(sys.live_mappings(), 1u);
}

TEST(KvmVcpuTest, RejectedMsrIsNamed) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value());
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value());
  sys.on(KVM_SET_MSRS, [](int, std::uintptr_t) { return 1L; });
  const kvm_msr_entry msrs[] = {{0x174, 0, 0}, {0x10a, 0, 1}};
  auto result = vcpu->set_msrs(msrs);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message(), "KVM_SET_MSRS: MSR 0x10a not accepted on vCPU 0");
  EXPECT_EQ(sys.calls_named("KVM_SET_MSRS").at(0).arg_bytes.size(), 8u + 2 * 16);
}

TEST(KvmVcpuTest, RunDistinguishesInterruptsMemoryFaultsAndErrors) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value());
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value());
  sys.fail_next(KVM_RUN, EINTR);
  auto interrupted = vcpu->run();
  ASSERT_TRUE(interrupted.has_value());
  EXPECT_EQ(*interrupted, RunOutcome::kInterrupted);

  vcpu->run_data().exit_reason = KVM_EXIT_MEMORY_FAULT;
  sys.fail_next(KVM_RUN, EFAULT);
  auto fault = vcpu->run();
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(*fault, RunOutcome::kExit);

  vcpu->run_data().exit_reason = KVM_EXIT_IO;
  sys.fail_next(KVM_RUN, EFAULT);
  auto failed = vcpu->run();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message(), "KVM_RUN on vCPU 0: Bad address");
}

TEST(KvmVcpuTest, ImmediateExitIsWrittenToKvmRun) {
  RecordingSys sys;
  System system = open_system(sys);
  auto vm = system.create_vm(KVM_X86_DEFAULT_VM);
  ASSERT_TRUE(vm.has_value());
  auto vcpu = vm->create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value());
  vcpu->set_immediate_exit(true);
  EXPECT_EQ(vcpu->run_data().immediate_exit, 1);
  vcpu->set_immediate_exit(false);
  EXPECT_EQ(vcpu->run_data().immediate_exit, 0);
}

TEST(KvmIoctlNameTest, KnownAndUnknownRequests) {
  EXPECT_EQ(ioctl_name(KVM_CREATE_GUEST_MEMFD), "KVM_CREATE_GUEST_MEMFD");
  EXPECT_EQ(ioctl_name(0x4008AE90), "KVM_SET_CPUID2");
  EXPECT_EQ(ioctl_name(0x1234), "ioctl 0x1234");
}

}  // namespace
}  // namespace cvm::kvm
