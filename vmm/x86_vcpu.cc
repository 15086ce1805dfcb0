// SPDX-License-Identifier: Apache-2.0
#include "vmm/x86_vcpu.h"

#include <fmt/format.h>

#include "base/byte_reader.h"

namespace cvm::vmm {
namespace {

// Local APIC register offsets in kvm_lapic_state.regs (Intel SDM Vol. 3A Table 11-1).
constexpr std::size_t kLapicLvtLint0 = 0x350;
constexpr std::size_t kLapicLvtLint1 = 0x360;
constexpr uint32_t kLvtDeliveryModeMask = 0x700;  // bits 10:8
constexpr uint32_t kDeliveryModeNmi = 4 << 8;
constexpr uint32_t kDeliveryModeExtInt = 7 << 8;

void set_delivery_mode(kvm_lapic_state& lapic, std::size_t offset, uint32_t mode) noexcept {
  auto bytes = std::as_writable_bytes(std::span(lapic.regs)).subspan(offset).first<4>();
  const uint32_t value = load_le<uint32_t>(bytes);
  store_le<uint32_t>(bytes, (value & ~kLvtDeliveryModeMask) | mode);
}

Result<void> with_vcpu(Result<void> result, uint32_t id, std::string_view step) {
  if (!result) {
    return std::move(result).error().context(fmt::format("vCPU {}: {}", id, step));
  }
  return ok();
}

}  // namespace

kvm_segment to_kvm_segment(const x86::Segment& s) noexcept {
  kvm_segment out{};
  out.base = s.base;
  out.limit = s.limit;
  out.selector = s.selector;
  out.type = s.type;
  out.present = s.present;
  out.dpl = s.dpl;
  out.db = s.db;
  out.s = s.s;
  out.l = s.l;
  out.g = s.g;
  out.avl = s.avl;
  out.unusable = s.unusable;
  return out;
}

void apply_special_registers(kvm_sregs& sregs, const x86::SpecialRegisters& boot) noexcept {
  sregs.cs = to_kvm_segment(boot.cs);
  sregs.ds = to_kvm_segment(boot.ds);
  sregs.es = to_kvm_segment(boot.es);
  sregs.fs = to_kvm_segment(boot.fs);
  sregs.gs = to_kvm_segment(boot.gs);
  sregs.ss = to_kvm_segment(boot.ss);
  sregs.tr = to_kvm_segment(boot.tr);
  sregs.ldt = to_kvm_segment(boot.ldt);
  sregs.gdt.base = boot.gdt.base;
  sregs.gdt.limit = boot.gdt.limit;
  sregs.idt.base = boot.idt.base;
  sregs.idt.limit = boot.idt.limit;
  sregs.cr0 = boot.cr0;
  sregs.cr3 = boot.cr3;
  sregs.cr4 = boot.cr4;
  sregs.efer = boot.efer;
}

kvm_regs to_kvm_regs(const x86::GeneralRegisters& boot) noexcept {
  kvm_regs regs{};
  regs.rip = boot.rip;
  regs.rsp = boot.rsp;
  regs.rsi = boot.rsi;
  regs.rbx = boot.rbx;
  regs.rflags = boot.rflags;
  return regs;
}

std::vector<x86::CpuidEntry> from_kvm_cpuid(std::span<const kvm_cpuid_entry2> entries) {
  std::vector<x86::CpuidEntry> out;
  out.reserve(entries.size());
  for (const kvm_cpuid_entry2& e : entries) {
    out.push_back({e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx});
  }
  return out;
}

std::vector<kvm_cpuid_entry2> to_kvm_cpuid(std::span<const x86::CpuidEntry> entries) {
  std::vector<kvm_cpuid_entry2> out;
  out.reserve(entries.size());
  for (const x86::CpuidEntry& e : entries) {
    kvm_cpuid_entry2 k{};
    k.function = e.function;
    k.index = e.index;
    k.flags = e.flags;
    k.eax = e.eax;
    k.ebx = e.ebx;
    k.ecx = e.ecx;
    k.edx = e.edx;
    out.push_back(k);
  }
  return out;
}

void set_lapic_lint_wiring(kvm_lapic_state& lapic) noexcept {
  set_delivery_mode(lapic, kLapicLvtLint0, kDeliveryModeExtInt);
  set_delivery_mode(lapic, kLapicLvtLint1, kDeliveryModeNmi);
}

Result<void> configure_vcpu(const kvm::Vcpu& vcpu, const VcpuSetup& setup) {
  const std::vector<x86::CpuidEntry> supported = from_kvm_cpuid(setup.supported_cpuid);
  CVM_ASSIGN_OR_RETURN(const auto cpuid,
                       x86::build_vcpu_cpuid(supported, setup.cpuid_policy, vcpu.id()));
  CVM_TRY(with_vcpu(vcpu.set_cpuid2(to_kvm_cpuid(cpuid)), vcpu.id(), "CPUID"));

  if (setup.set_boot_msrs) {
    std::vector<kvm_msr_entry> msrs;
    for (const x86::MsrEntry& msr : x86::boot_msrs(setup.supported_msrs)) {
      msrs.push_back(kvm_msr_entry{msr.index, 0, msr.value});
    }
    CVM_TRY(with_vcpu(vcpu.set_msrs(msrs), vcpu.id(), "boot MSRs"));
  }

  CVM_ASSIGN_OR_RETURN(kvm_lapic_state lapic, vcpu.get_lapic());
  set_lapic_lint_wiring(lapic);
  CVM_TRY(with_vcpu(vcpu.set_lapic(lapic), vcpu.id(), "local APIC"));

  kvm_fpu fpu{};
  fpu.fcw = 0x37f;      // x87 control word after FNINIT (Intel SDM Vol. 1 §8.1.5)
  fpu.mxcsr = 0x1f80;   // MXCSR reset value (Intel SDM Vol. 1 §10.2.3)
  return with_vcpu(vcpu.set_fpu(fpu), vcpu.id(), "FPU");
}

Result<void> apply_boot_state(const kvm::Vcpu& vcpu, const x86::BootCpuState& state) {
  CVM_ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.get_sregs());
  apply_special_registers(sregs, state.sregs);
  CVM_TRY(with_vcpu(vcpu.set_sregs(sregs), vcpu.id(), "boot segment and control registers"));
  return with_vcpu(vcpu.set_regs(to_kvm_regs(state.regs)), vcpu.id(), "boot registers");
}

}  // namespace cvm::vmm
