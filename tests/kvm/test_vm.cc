// SPDX-License-Identifier: Apache-2.0
#include "tests/kvm/test_vm.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace cvm::test {
namespace {

constexpr uint64_t kTssAddress = 0xfffbd000;  // 3 pages below the identity-map page
constexpr uint64_t kIdentityMapAddress = 0xfffbc000;

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code64) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.s = 1;
  s.g = 1;
  s.l = code64 ? 1 : 0;
  s.db = code64 ? 0 : 1;
  return s;
}

/// TR must be a usable busy TSS for VM entry on Intel even if the guest never uses it.
kvm_segment boot_tss() {
  kvm_segment tr{};
  tr.limit = 0x67;
  tr.type = 11;
  tr.present = 1;
  return tr;
}

Result<void> set_flat_state(const kvm::Vcpu& vcpu, uint64_t rip, bool long_mode) {
  CVM_ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.get_sregs());
  sregs.cs = flat_segment(0x10, 11, long_mode);
  const kvm_segment data = flat_segment(0x18, 3, false);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  sregs.tr = boot_tss();
  sregs.cr0 = 0x11;  // PE | ET
  if (long_mode) {
    sregs.gdt.base = 0x500;
    sregs.gdt.limit = 31;
    sregs.cr3 = 0x2000;
    sregs.cr4 = 0x20;  // PAE
    sregs.cr0 |= 0x80000000;  // PG
    sregs.efer = 0x500;       // LME | LMA
  }
  CVM_TRY(vcpu.set_sregs(sregs));
  kvm_regs regs{};
  regs.rip = rip;
  regs.rflags = 0x2;
  regs.rsp = 0x8000;
  return vcpu.set_regs(regs);
}

}  // namespace

bool dev_kvm_absent() { return ::access("/dev/kvm", F_OK) != 0 && errno == ENOENT; }

void TestVm::load(uint64_t gpa, std::span<const uint8_t> bytes) {
  auto result = memory->write(gpa, std::as_bytes(bytes));
  ASSERT_TRUE(result.has_value()) << result.error().message();
}

Result<TestVm> create_test_vm(const TestVmOptions& options) {
  TestVm t;
  CVM_ASSIGN_OR_RETURN(t.system, kvm::System::open());
  CVM_ASSIGN_OR_RETURN(t.vm, t.system->create_vm(KVM_X86_DEFAULT_VM));
  CVM_TRY(t.vm->set_tss_addr(kTssAddress));
  CVM_TRY(t.vm->set_identity_map_addr(kIdentityMapAddress));
  if (options.split_irqchip) {
    CVM_TRY(t.vm->enable_split_irqchip());
  }
  const vmm::RamRange ram[] = {{0, options.ram_bytes}};
  CVM_ASSIGN_OR_RETURN(t.memory, vmm::GuestMemory::create(*t.vm, ram, options.backing));
  CVM_ASSIGN_OR_RETURN(const auto cpuid, t.system->supported_cpuid());
  for (unsigned i = 0; i < options.vcpus; ++i) {
    CVM_ASSIGN_OR_RETURN(kvm::Vcpu vcpu, t.vm->create_vcpu(i));
    CVM_TRY(vcpu.set_cpuid2(cpuid));
    if (options.split_irqchip && i > 0) {
      // APs wait for INIT/SIPI under an in-kernel LAPIC; test guests start them directly.
      CVM_TRY(vcpu.set_mp_state(KVM_MP_STATE_RUNNABLE));
    }
    t.vcpus.push_back(std::move(vcpu));
  }
  return t;
}

Result<void> enter_real_mode(const kvm::Vcpu& vcpu, uint64_t rip) {
  CVM_ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.get_sregs());
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  CVM_TRY(vcpu.set_sregs(sregs));
  kvm_regs regs{};
  regs.rip = rip;
  regs.rflags = 0x2;
  return vcpu.set_regs(regs);
}

Result<void> enter_protected_mode(const kvm::Vcpu& vcpu, uint64_t rip) {
  return set_flat_state(vcpu, rip, false);
}

Result<void> enter_long_mode(TestVm& vm, const kvm::Vcpu& vcpu, uint64_t rip) {
  // GDT: null, null, 64-bit code (0x10), data (0x18).
  const uint64_t gdt[] = {0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};
  CVM_TRY(vm.memory->write(0x500, std::as_bytes(std::span(gdt))));
  // PML4[0] -> PDPT at 0x3000, PDPT[0] -> PD at 0x4000, PD: 512 x 2 MiB pages (1 GiB).
  const uint64_t pml4e = 0x3000 | 0x3;
  const uint64_t pdpte = 0x4000 | 0x3;
  CVM_TRY(vm.memory->write(0x2000, std::as_bytes(std::span(&pml4e, 1))));
  CVM_TRY(vm.memory->write(0x3000, std::as_bytes(std::span(&pdpte, 1))));
  std::vector<uint64_t> pd(512);
  for (uint64_t i = 0; i < pd.size(); ++i) {
    pd[i] = (i << 21) | 0x83;  // present, writable, 2 MiB page
  }
  CVM_TRY(vm.memory->write(0x4000, std::as_bytes(std::span(pd))));
  return set_flat_state(vcpu, rip, true);
}

void PortRecorder::pio_read(uint16_t, std::span<std::byte> data) {
  std::memset(data.data(), 0xff, data.size());
}

void PortRecorder::pio_write(uint16_t port, std::span<const std::byte> data) {
  std::size_t count = 0;
  {
    std::lock_guard lock(mutex_);
    std::string& text = writes_[port];
    for (std::byte b : data) {
      text.push_back(static_cast<char>(b));
    }
    count = text.size();
  }
  if (stop_after_ != 0 && port == stop_port_ && count >= stop_after_) {
    vmm::VcpuRunner* runner = nullptr;
    while ((runner = runner_.load()) == nullptr) {
      std::this_thread::yield();  // start() has not returned the runner yet
    }
    runner->request_stop(0, "test guest finished");
  }
}

void PortRecorder::mmio_read(uint64_t, std::span<std::byte> data) {
  std::memset(data.data(), 0xff, data.size());
}

void PortRecorder::mmio_write(uint64_t, std::span<const std::byte>) {}

std::string PortRecorder::written(uint16_t port) {
  std::lock_guard lock(mutex_);
  return writes_[port];
}

}  // namespace cvm::test
