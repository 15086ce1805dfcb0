// SPDX-License-Identifier: Apache-2.0
// Private guest memory on real KVM: a KVM_X86_SW_PROTECTED_VM (the software-only private
// memory VM type, tee-kvm-reference §1.2) with RamBacking::kPrivate RAM, whose pages are
// converted by convert_guest_memory while a hand-assembled real-mode guest runs. It shows
// that after each conversion the guest sees the side KVM should map:
//   private page written by the guest            -> guest reads its own value (guest_memfd)
//   converted to shared, host writes the mapping -> guest reads the host's value
//   converted back to private                    -> guest reads 0 (the hole punched earlier)
// and that the host's shared view is zeroed when the page goes private again.
// Needs a host with CONFIG_KVM_SW_PROTECTED_VM; skips with the reason otherwise.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "tests/kvm/test_vm.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/system.h"
#include "vmm/kvm/uapi.h"
#include "vmm/private_memory.h"
#include "vmm/vcpu_exit.h"

namespace cvm::test {
namespace {

constexpr uint64_t kCodeGpa = 0x1000;
constexpr uint64_t kDataGpa = 0x3000;
constexpr uint16_t kValuePort = 0x10;
constexpr uint16_t kSyncPort = 0x11;

// Real mode, loaded at 0x1000 (checked with objdump -b binary -m i8086):
constexpr uint8_t kGuest[] = {
    0xc6, 0x06, 0x00, 0x30, 0x5a,  // mov byte [0x3000], 0x5a   (private: goes to guest_memfd)
    0xa0, 0x00, 0x30,              // mov al, [0x3000]
    0xe6, 0x10,                    // out 0x10, al              -> 0x5a
    0xe6, 0x11,                    // out 0x11, al              host: 0x3000 -> shared, writes 0xa5
    0xa0, 0x00, 0x30,              // mov al, [0x3000]
    0xe6, 0x10,                    // out 0x10, al              -> 0xa5
    0xe6, 0x11,                    // out 0x11, al              host: 0x3000 -> private
    0xa0, 0x00, 0x30,              // mov al, [0x3000]
    0xe6, 0x10,                    // out 0x10, al              -> 0x00
    0xf4,                          // hlt
};

struct SwProtectedVm {
  std::optional<kvm::System> system;
  std::unique_ptr<vmm::GuestMemory> memory;
  std::optional<kvm::Vm> vm;
  std::optional<kvm::Vcpu> vcpu;
};

/// Why the host cannot run this test, or nullopt.
std::optional<std::string> missing_support(const kvm::System& system) {
  auto types = system.supported_vm_types();
  if (!types || (*types & (1u << KVM_X86_SW_PROTECTED_VM)) == 0) {
    return "host KVM does not offer KVM_X86_SW_PROTECTED_VM (CONFIG_KVM_SW_PROTECTED_VM off)";
  }
  return std::nullopt;
}

TEST(PrivateMemoryKvmTest, GuestSeesTheSideEachConversionSelects) {
  CVM_REQUIRE_KVM();
  SwProtectedVm t;
  auto system = kvm::System::open();
  ASSERT_TRUE(system.has_value()) << system.error().message();
  t.system.emplace(std::move(system).value());
  if (auto missing = missing_support(*t.system)) {
    GTEST_SKIP() << *missing;
  }
  auto vm = t.system->create_vm(KVM_X86_SW_PROTECTED_VM);
  ASSERT_TRUE(vm.has_value()) << vm.error().message();
  t.vm.emplace(std::move(vm).value());
  auto attributes = t.vm->check_extension(KVM_CAP_MEMORY_ATTRIBUTES);
  if (!attributes || (static_cast<uint64_t>(*attributes) & KVM_MEMORY_ATTRIBUTE_PRIVATE) == 0) {
    GTEST_SKIP() << "KVM_CAP_MEMORY_ATTRIBUTES lacks PRIVATE for KVM_X86_SW_PROTECTED_VM";
  }
  ASSERT_TRUE(t.vm->set_tss_addr(0xfffbd000).has_value());
  const vmm::RamRange ram[] = {{0, 2 << 20}};
  auto memory = vmm::GuestMemory::create(*t.vm, ram, vmm::RamBacking::kPrivate);
  ASSERT_TRUE(memory.has_value()) << memory.error().message();
  t.memory = std::move(memory).value();

  // The code page must be shared: the host can only write the shared side.
  ASSERT_TRUE(vmm::convert_guest_memory(*t.vm, *t.memory, kCodeGpa, 0x1000, false).has_value());
  ASSERT_TRUE(t.memory->write(kCodeGpa, std::as_bytes(std::span(kGuest))).has_value());
  auto cpuid = t.system->supported_cpuid();
  ASSERT_TRUE(cpuid.has_value());
  auto vcpu = t.vm->create_vcpu(0);
  ASSERT_TRUE(vcpu.has_value()) << vcpu.error().message();
  t.vcpu.emplace(std::move(vcpu).value());
  ASSERT_TRUE(t.vcpu->set_cpuid2(*cpuid).has_value());
  ASSERT_TRUE(enter_real_mode(*t.vcpu, kCodeGpa).has_value());

  vmm::MemoryConversionHandler handler;
  handler.attach(*t.vm, *t.memory);
  std::string values;
  int syncs = 0;
  for (int exits = 0; exits < 64; ++exits) {
    auto outcome = t.vcpu->run();
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message();
    if (*outcome == kvm::RunOutcome::kInterrupted) {
      continue;
    }
    const vmm::VcpuExit exit = vmm::decode_exit(t.vcpu->run_data());
    if (auto policy = handler.handle(*t.vcpu, exit)) {
      ASSERT_EQ(policy->verdict, vmm::ExitVerdict::kContinue) << policy->reason;
      continue;
    }
    if (std::holds_alternative<vmm::HltExit>(exit)) {
      break;
    }
    const auto* io = std::get_if<vmm::IoExit>(&exit);
    ASSERT_NE(io, nullptr) << vmm::describe_exit(exit);
    const auto data = vmm::io_data(*io, t.vcpu->run_area());
    ASSERT_EQ(data.size(), 1u);
    if (io->port == kValuePort) {
      values.push_back(static_cast<char>(data[0]));
      continue;
    }
    ASSERT_EQ(io->port, kSyncPort);
    const bool to_private = ++syncs == 2;
    ASSERT_TRUE(vmm::convert_guest_memory(*t.vm, *t.memory, kDataGpa, 0x1000, to_private));
    if (!to_private) {
      const std::byte marker{0xa5};
      ASSERT_TRUE(t.memory->write(kDataGpa, std::span(&marker, 1)).has_value());
    } else {
      std::byte shared{0xff};
      ASSERT_TRUE(t.memory->read(kDataGpa, std::span(&shared, 1)).has_value());
      EXPECT_EQ(shared, std::byte{0}) << "shared side not discarded on conversion to private";
    }
  }
  EXPECT_EQ(values, std::string("\x5a\xa5\x00", 3));
}

}  // namespace
}  // namespace cvm::test
