// SPDX-License-Identifier: Apache-2.0
// vmm::run_vm end to end on real KVM with tiny ELF "kernels" (hand-assembled 64-bit code
// wrapped by tests/unit/vmm/tiny_elf.h): the vmm/x86 loader puts them at 2 MiB and enters them
// through the Linux 64-bit boot protocol, with the split irqchip, COM1, i8042, the ACPI power
// device and the boot-timing port of the real machine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/kvm/test_vm.h"
#include "tests/unit/vmm/tiny_elf.h"
#include "vmm/run_vm.h"

namespace cvm::test {
namespace {

constexpr uint64_t kLoadAddress = 0x200000;

/// Writes "OK\n" to COM1 and marks the boot-timing port; `tail` decides how the guest ends.
std::vector<uint8_t> guest_code(std::initializer_list<uint8_t> tail) {
  std::vector<uint8_t> code = {
      0x66, 0xba, 0xf8, 0x03,  // mov dx, 0x3f8
      0xb0, 0x4f, 0xee,        // mov al, 'O'; out dx, al
      0xb0, 0x4b, 0xee,        // mov al, 'K'; out dx, al
      0xb0, 0x0a, 0xee,        // mov al, '\n'; out dx, al
      0x66, 0xba, 0x40, 0x04,  // mov dx, 0x440
      0xb0, 0x01, 0xee,        // mov al, 1; out dx, al
  };
  for (uint8_t byte : tail) {
    code.push_back(byte);
  }
  return code;
}

struct GuestRun {
  Result<int> status = 0;
  std::string serial;
};

GuestRun run_guest(std::span<const uint8_t> code, unsigned vcpus = 1, bool guest_memfd = false) {
  const std::string base = ::testing::TempDir() + "cvmm_run_vm_" + std::to_string(::getpid());
  const std::string kernel = base + ".elf";
  const auto image = tiny_elf_kernel(code, kLoadAddress);
  std::ofstream out(kernel, std::ios::binary);
  out.write(reinterpret_cast<const char*>(image.data()),
            static_cast<std::streamsize>(image.size()));
  out.close();
  vmm::VmConfig config;
  config.payload.kernel = kernel;
  config.cpus.boot_vcpus = vcpus;
  config.memory.size_bytes = 64 << 20;
  config.memory.guest_memfd = guest_memfd;
  config.serial.mode = vmm::SerialMode::kFile;
  config.serial.file = base + ".serial";
  GuestRun run{vmm::run_vm(config), ""};
  std::ifstream in(config.serial.file);
  std::stringstream text;
  text << in.rdbuf();
  run.serial = text.str();
  ::unlink(kernel.c_str());
  ::unlink(config.serial.file.c_str());
  return run;
}

TEST(KvmRunVmTest, I8042ResetEndsWithStatusZeroAfterSerialOutput) {
  CVM_REQUIRE_KVM();
  const auto code = guest_code({
      0xb0, 0xfe, 0xe6, 0x64,  // mov al, 0xfe; out 0x64, al  (i8042 pulse reset)
      0xf4, 0xeb, 0xfd,        // hlt; jmp hlt
  });
  const GuestRun run = run_guest(code);
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_EQ(*run.status, 0);
  EXPECT_EQ(run.serial, "OK\n");
}

TEST(KvmRunVmTest, AcpiPowerOffEndsWithStatusZero) {
  CVM_REQUIRE_KVM();
  const auto code = guest_code({
      0x66, 0xba, 0x00, 0x06,  // mov dx, 0x600
      0xb0, 0x34, 0xee,        // mov al, SLP_EN | SLP_TYP(5) << 2; out dx, al
      0xf4, 0xeb, 0xfd,        // hlt; jmp hlt
  });
  const GuestRun run = run_guest(code, 2);
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_EQ(*run.status, 0);
  EXPECT_EQ(run.serial, "OK\n");
}

TEST(KvmRunVmTest, TripleFaultEndsWithFailureStatus) {
  CVM_REQUIRE_KVM();
  const auto code = guest_code({0x0f, 0x0b});  // ud2 with no IDT: triple fault
  const GuestRun run = run_guest(code);
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_EQ(*run.status, 1);
  EXPECT_EQ(run.serial, "OK\n");
}

TEST(KvmRunVmTest, GuestMemfdBackedMachineBoots) {
  CVM_REQUIRE_KVM();
  auto system = kvm::System::open();
  ASSERT_TRUE(system.has_value()) << system.error().message();
  if (*system->check_extension(KVM_CAP_GUEST_MEMFD) <= 0) {
    GTEST_SKIP() << "this KVM host has no KVM_CAP_GUEST_MEMFD";
  }
  const auto code = guest_code({0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd});
  const GuestRun run = run_guest(code, 1, /*guest_memfd=*/true);
  ASSERT_TRUE(run.status.has_value()) << run.status.error().message();
  EXPECT_EQ(*run.status, 0);
  EXPECT_EQ(run.serial, "OK\n");
}

}  // namespace
}  // namespace cvm::test
