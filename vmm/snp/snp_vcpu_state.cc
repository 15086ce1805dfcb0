// SPDX-License-Identifier: Apache-2.0
#include "vmm/snp/snp_vcpu_state.h"

#include <algorithm>
#include <cstring>

namespace cvm::vmm::snp {
namespace {

using firmware::snp::VcpuResetState;
using firmware::snp::VmsaSegment;

// Descriptor types (AMD APM vol. 2 §4.7/§4.8): code execute/read accessed, data read/write
// accessed, LDT, busy 32-bit TSS.
constexpr uint8_t kTypeCodeReadAccessed = 0xb;
constexpr uint8_t kTypeDataWriteAccessed = 0x3;
constexpr uint8_t kTypeLdt = 0x2;
constexpr uint8_t kTypeBusyTss = 0xb;
constexpr uint64_t kResetCr0 = 0x60000010;  // CD | NW | ET
constexpr uint64_t kCr0CacheDisable = 1ull << 30;
constexpr uint64_t kCr0NotWriteThrough = 1ull << 29;
constexpr uint64_t kCr4Mce = 1ull << 6;
constexpr uint64_t kEferSvme = 1ull << 12;
constexpr uint64_t kResetDr6 = 0xffff0ff0;
constexpr uint64_t kResetDr7 = 0x400;
constexpr uint16_t kResetFcw = 0x37f;
constexpr uint32_t kResetMxcsr = 0x1f80;

kvm_segment real_mode_segment(uint16_t selector, uint64_t base, uint8_t type, bool code_or_data) {
  kvm_segment s{};
  s.base = base;
  s.limit = 0xffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.s = code_or_data ? 1 : 0;
  return s;
}

// svm_set_segment's VMCB attribute packing.
VmsaSegment vmcb_segment(const kvm_segment& s) {
  const bool present = s.present != 0 && s.unusable == 0;
  const uint16_t attrib = static_cast<uint16_t>(
      (s.type & 0xf) | ((s.s & 1) << 4) | ((s.dpl & 3) << 5) | ((present ? 1 : 0) << 7) |
      ((s.avl & 1) << 8) | ((s.l & 1) << 9) | ((s.db & 1) << 10) | ((s.g & 1) << 11));
  return VmsaSegment{s.selector, attrib, s.limit, s.base};
}

VmsaSegment vmcb_dtable(const kvm_dtable& t) {
  return VmsaSegment{0, 0, static_cast<uint32_t>(t.limit), t.base};
}

Result<void> require_zero(uint64_t value, const char* field) {
  if (value != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP VMSA model: {} = {:#x} is not carried by the modelled VMSA", field,
                      value);
  }
  return ok();
}

Result<void> check_unmodelled(const kvm_regs& r, const kvm_sregs& s, const kvm_fpu& f) {
  const std::pair<uint64_t, const char*> fields[] = {
      {r.rax, "rax"}, {r.rbx, "rbx"}, {r.rcx, "rcx"}, {r.rsi, "rsi"}, {r.rdi, "rdi"},
      {r.rsp, "rsp"}, {r.rbp, "rbp"}, {r.r8, "r8"},   {r.r9, "r9"},   {r.r10, "r10"},
      {r.r11, "r11"}, {r.r12, "r12"}, {r.r13, "r13"}, {r.r14, "r14"}, {r.r15, "r15"},
      {s.cr2, "cr2"}, {s.cr3, "cr3"}, {s.cr8, "cr8"}, {f.fsw, "fsw"}, {f.ftwx, "ftwx"},
      {f.last_opcode, "fpu last_opcode"}, {f.last_ip, "fpu last_ip"},
      {f.last_dp, "fpu last_dp"}};
  for (const auto& [value, name] : fields) {
    CVM_TRY(require_zero(value, name));
  }
  const auto is_zero = [](const auto& array) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(&array);
    return std::all_of(bytes, bytes + sizeof(array), [](unsigned char b) { return b == 0; });
  };
  if (!is_zero(f.fpr) || !is_zero(f.xmm)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "SNP VMSA model: x87/SSE registers are not carried by the modelled VMSA");
  }
  return ok();
}

}  // namespace

SnpVcpuProgram snp_vcpu_program(const firmware::VcpuStart& start, uint32_t cpu_signature) {
  SnpVcpuProgram p;
  p.regs.rflags = 0x2;  // bit 1 is reserved, always one
  p.regs.rip = start.rip;
  p.regs.rdx = cpu_signature;  // the reset value of EDX is the CPUID signature (APM vol. 2 §14.1.3)
  kvm_sregs& s = p.sregs;
  s.cs = real_mode_segment(start.cs_selector, start.cs_base, kTypeCodeReadAccessed, true);
  s.ds = real_mode_segment(0, 0, kTypeDataWriteAccessed, true);
  s.es = s.ds;
  s.fs = s.ds;
  s.gs = s.ds;
  s.ss = s.ds;
  s.ldt = real_mode_segment(0, 0, kTypeLdt, false);
  s.tr = real_mode_segment(0, 0, kTypeBusyTss, false);
  s.gdt.limit = 0xffff;
  s.idt.limit = 0xffff;
  s.cr0 = kResetCr0;
  p.fpu.fcw = kResetFcw;
  p.fpu.mxcsr = kResetMxcsr;
  p.xcr0 = 1;  // x87 only
  p.pat = kResetPat;
  return p;
}

void apply_program_sregs(kvm_sregs& sregs, const kvm_sregs& program) noexcept {
  sregs.cs = program.cs;
  sregs.ds = program.ds;
  sregs.es = program.es;
  sregs.fs = program.fs;
  sregs.gs = program.gs;
  sregs.ss = program.ss;
  sregs.tr = program.tr;
  sregs.ldt = program.ldt;
  sregs.gdt = program.gdt;
  sregs.idt = program.idt;
  sregs.cr0 = program.cr0;
  sregs.cr2 = program.cr2;
  sregs.cr3 = program.cr3;
  sregs.cr4 = program.cr4;
  sregs.cr8 = program.cr8;
  sregs.efer = program.efer;
}

Result<VcpuResetState> kvm_vmsa_state(const kvm_regs& regs, const kvm_sregs& sregs,
                                      const kvm_fpu& fpu, uint64_t xcr0, uint64_t pat,
                                      uint64_t sev_features) {
  CVM_TRY(check_unmodelled(regs, sregs, fpu));
  VcpuResetState v;
  v.es = vmcb_segment(sregs.es);
  v.cs = vmcb_segment(sregs.cs);
  v.ss = vmcb_segment(sregs.ss);
  v.ds = vmcb_segment(sregs.ds);
  v.fs = vmcb_segment(sregs.fs);
  v.gs = vmcb_segment(sregs.gs);
  v.gdtr = vmcb_dtable(sregs.gdt);
  v.ldtr = vmcb_segment(sregs.ldt);
  v.idtr = vmcb_dtable(sregs.idt);
  v.tr = vmcb_segment(sregs.tr);
  v.efer = sregs.efer | kEferSvme;
  v.cr4 = sregs.cr4 | kCr4Mce;
  v.cr0 = sregs.cr0 & ~(kCr0CacheDisable | kCr0NotWriteThrough);
  v.dr7 = kResetDr7;
  v.dr6 = kResetDr6;
  v.rflags = regs.rflags;
  v.rip = regs.rip;
  v.g_pat = pat;
  v.rdx = regs.rdx;
  v.sev_features = sev_features;
  v.xcr0 = xcr0;
  v.mxcsr = fpu.mxcsr;
  v.x87_fcw = fpu.fcw;
  return v;
}

}  // namespace cvm::vmm::snp
