// SPDX-License-Identifier: Apache-2.0
#include "vmm/register_dump.h"

#include <fmt/format.h>

namespace cvm::vmm {
namespace {

std::string segment(const char* name, const kvm_segment& s) {
  return fmt::format("{}={:04x} base {:#x} limit {:#x} type {:#x} l {} db {}", name, s.selector,
                     s.base, s.limit, s.type, s.l, s.db);
}

}  // namespace

std::string format_registers(const kvm_regs& r, const kvm_sregs& s) {
  std::string out;
  out += fmt::format("  rip {:016x} rflags {:016x} rsp {:016x} rbp {:016x}\n", r.rip, r.rflags,
                     r.rsp, r.rbp);
  out += fmt::format("  rax {:016x} rbx {:016x} rcx {:016x} rdx {:016x}\n", r.rax, r.rbx, r.rcx,
                     r.rdx);
  out += fmt::format("  rsi {:016x} rdi {:016x} r8  {:016x} r9  {:016x}\n", r.rsi, r.rdi, r.r8,
                     r.r9);
  out += fmt::format("  r10 {:016x} r11 {:016x} r12 {:016x} r13 {:016x}\n", r.r10, r.r11, r.r12,
                     r.r13);
  out += fmt::format("  r14 {:016x} r15 {:016x}\n", r.r14, r.r15);
  out += fmt::format("  {}\n  {}\n  {}\n", segment("cs", s.cs), segment("ds", s.ds),
                     segment("ss", s.ss));
  out += fmt::format("  cr0 {:#x} cr2 {:#x} cr3 {:#x} cr4 {:#x} efer {:#x} apic_base {:#x}\n",
                     s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.apic_base);
  out += fmt::format("  gdt base {:#x} limit {:#x}, idt base {:#x} limit {:#x}", s.gdt.base,
                     s.gdt.limit, s.idt.base, s.idt.limit);
  return out;
}

}  // namespace cvm::vmm
