// SPDX-License-Identifier: Apache-2.0
// Hand-assembled guests run on real KVM through kvm::Vm, GuestMemory and VcpuRunner. Each
// guest's bytes are listed with their disassembly (checked with objdump -b binary).
#include <gtest/gtest.h>

#include <cstdint>

#include "tests/kvm/test_vm.h"
#include "vmm/kvm/uapi.h"

namespace cvm::test {
namespace {

constexpr uint16_t kDebugPort = 0xe9;

TestVm make_vm(const TestVmOptions& options) {
  auto vm = create_test_vm(options);
  EXPECT_TRUE(vm.has_value()) << vm.error().message();
  return std::move(vm).value();
}

vmm::StopReport run(TestVm& vm, PortRecorder& io) {
  auto runner = vmm::VcpuRunner::start(vm.vcpus, io);
  EXPECT_TRUE(runner.has_value()) << runner.error().message();
  io.attach(runner->get());
  return (*runner)->wait();
}

TEST(KvmBootTest, HostReportsApiAndCpuid) {
  CVM_REQUIRE_KVM();
  auto system = kvm::System::open();
  ASSERT_TRUE(system.has_value()) << system.error().message();
  EXPECT_GE(system->vcpu_mmap_size(), sizeof(kvm_run));
  auto cpuid = system->supported_cpuid();
  ASSERT_TRUE(cpuid.has_value()) << cpuid.error().message();
  EXPECT_FALSE(cpuid->empty());
  auto types = system->supported_vm_types();
  ASSERT_TRUE(types.has_value());
  EXPECT_NE(*types & 1u, 0u);
}

TEST(KvmBootTest, RealModeOutThenHlt) {
  CVM_REQUIRE_KVM();
  TestVm vm = make_vm({});
  const uint8_t code[] = {
      0xb0, 0x41,  // mov al, 'A'
      0xe6, 0xe9,  // out 0xe9, al
      0xf4,        // hlt
  };
  vm.load(0x1000, code);
  ASSERT_TRUE(enter_real_mode(vm.vcpus[0], 0x1000).has_value());
  PortRecorder io;
  const vmm::StopReport report = run(vm, io);
  EXPECT_EQ(report.status, 0) << report.reason;
  EXPECT_EQ(io.written(kDebugPort), "A");
}

constexpr uint8_t kCom1Hello[] = {
    0x66, 0xba, 0xf8, 0x03,  // mov dx, 0x3f8
    0xb0, 0x48,              // mov al, 'H'
    0xee,                    // out dx, al
    0xb0, 0x69,              // mov al, 'i'
    0xee,                    // out dx, al
    0xf4,                    // hlt
};

TEST(KvmBootTest, ProtectedModeEntryWritesCom1) {
  CVM_REQUIRE_KVM();
  TestVm vm = make_vm({});
  vm.load(0x100000, kCom1Hello);
  ASSERT_TRUE(enter_protected_mode(vm.vcpus[0], 0x100000).has_value());
  PortRecorder io;
  const vmm::StopReport report = run(vm, io);
  EXPECT_EQ(report.status, 0) << report.reason;
  EXPECT_EQ(io.written(0x3f8), "Hi");
}

TEST(KvmBootTest, LongModeEntryWithPageTables) {
  CVM_REQUIRE_KVM();
  TestVm vm = make_vm({});
  const uint8_t code[] = {
      0x66, 0xba, 0xe9, 0x00,                                      // mov dx, 0xe9
      0x48, 0xb8, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12,  // movabs rax, 0x12..f0
      0x48, 0xc1, 0xe8, 0x38,                                      // shr rax, 56
      0xee,                                                        // out dx, al
      0xf4,                                                        // hlt
  };
  vm.load(0x200000, code);
  ASSERT_TRUE(enter_long_mode(vm, vm.vcpus[0], 0x200000).has_value());
  PortRecorder io;
  const vmm::StopReport report = run(vm, io);
  EXPECT_EQ(report.status, 0) << report.reason;
  EXPECT_EQ(io.written(kDebugPort), "\x12");  // only a 64-bit shift leaves 0x12 in al
}

TEST(KvmBootTest, TripleFaultStopsWithFailureAndRegisters) {
  CVM_REQUIRE_KVM();
  TestVm vm = make_vm({});
  const uint8_t code[] = {0x0f, 0x0b};  // ud2 with an empty IDT: #UD -> #DF -> triple fault
  vm.load(0x100000, code);
  ASSERT_TRUE(enter_protected_mode(vm.vcpus[0], 0x100000).has_value());
  PortRecorder io;
  const vmm::StopReport report = run(vm, io);
  EXPECT_EQ(report.status, 1);
  EXPECT_NE(report.reason.find("guest triple fault"), std::string::npos) << report.reason;
  EXPECT_NE(report.reason.find("rip "), std::string::npos) << report.reason;
}

TEST(KvmBootTest, FourVcpusAllStartAndReportTheirApicIds) {
  CVM_REQUIRE_KVM();
  TestVm vm = make_vm({.vcpus = 4, .split_irqchip = true});
  const uint8_t code[] = {
      0xa1, 0x20, 0x00, 0xe0, 0xfe,              // mov eax, [0xfee00020]  (LAPIC ID)
      0xc1, 0xe8, 0x18,                          // shr eax, 24
      0x8d, 0x48, 0x01,                          // lea ecx, [eax + 1]
      0x89, 0x0c, 0x85, 0x00, 0x50, 0x00, 0x00,  // mov [eax * 4 + 0x5000], ecx
      0xe6, 0xe9,                                // out 0xe9, al
      0xf4,                                      // hlt (in-kernel with a LAPIC)
      0xeb, 0xfd,                                // jmp hlt
  };
  vm.load(0x100000, code);
  for (const kvm::Vcpu& vcpu : vm.vcpus) {
    ASSERT_TRUE(enter_protected_mode(vcpu, 0x100000).has_value());
  }
  PortRecorder io;
  io.stop_after(kDebugPort, 4);
  const vmm::StopReport report = run(vm, io);
  EXPECT_EQ(report.status, 0) << report.reason;
  EXPECT_EQ(io.written(kDebugPort).size(), 4u);
  for (uint32_t id = 0; id < 4; ++id) {
    uint32_t value = 0;
    ASSERT_TRUE(vm.memory->read(0x5000 + id * 4, std::as_writable_bytes(std::span(&value, 1)))
                    .has_value());
    EXPECT_EQ(value, id + 1) << "vCPU with APIC id " << id << " did not run";
  }
}

TEST(KvmBootTest, GuestMemfdBackedRamRunsAGuest) {
  CVM_REQUIRE_KVM();
  auto system = kvm::System::open();
  ASSERT_TRUE(system.has_value()) << system.error().message();
  auto gmem = system->check_extension(KVM_CAP_GUEST_MEMFD);
  ASSERT_TRUE(gmem.has_value());
  if (*gmem <= 0) {
    GTEST_SKIP() << "this KVM host has no KVM_CAP_GUEST_MEMFD";
  }
  TestVm vm = make_vm({.backing = vmm::RamBacking::kGuestMemfd});
  ASSERT_TRUE(vm.memory->regions()[0].guest_memfd.has_value());
  vm.load(0x100000, kCom1Hello);
  ASSERT_TRUE(enter_protected_mode(vm.vcpus[0], 0x100000).has_value());
  PortRecorder io;
  const vmm::StopReport report = run(vm, io);
  EXPECT_EQ(report.status, 0) << report.reason;
  EXPECT_EQ(io.written(0x3f8), "Hi");
}

}  // namespace
}  // namespace cvm::test
