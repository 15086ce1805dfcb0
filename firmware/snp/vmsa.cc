// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/vmsa.h"

#include <span>

#include "base/byte_reader.h"

namespace cvm::firmware::snp {
namespace {

// Byte offsets inside the VMSA page: AMD64 APM vol. 2, table B-4 "VMSA Layout, State Save
// Area for SEV-ES" (the same layout as Linux arch/x86/include/asm/svm.h
// struct sev_es_save_area). Only the fields cvmm ever sets are named; all others stay 0.
namespace offset {
constexpr std::size_t kEs = 0x000;  // segment registers, 16 bytes each (struct vmcb_seg)
constexpr std::size_t kCs = 0x010;
constexpr std::size_t kSs = 0x020;
constexpr std::size_t kDs = 0x030;
constexpr std::size_t kFs = 0x040;
constexpr std::size_t kGs = 0x050;
constexpr std::size_t kGdtr = 0x060;
constexpr std::size_t kLdtr = 0x070;
constexpr std::size_t kIdtr = 0x080;
constexpr std::size_t kTr = 0x090;
constexpr std::size_t kEfer = 0x0d0;
constexpr std::size_t kCr4 = 0x148;
constexpr std::size_t kCr0 = 0x158;
constexpr std::size_t kDr7 = 0x160;
constexpr std::size_t kDr6 = 0x168;
constexpr std::size_t kRflags = 0x170;
constexpr std::size_t kRip = 0x178;
constexpr std::size_t kGPat = 0x268;
constexpr std::size_t kRdx = 0x310;
constexpr std::size_t kSevFeatures = 0x3b0;
constexpr std::size_t kXcr0 = 0x3e8;
constexpr std::size_t kMxcsr = 0x408;   // u32
constexpr std::size_t kX87Fcw = 0x410;  // u16
// Segment field offsets inside struct vmcb_seg.
constexpr std::size_t kSegSelector = 0;
constexpr std::size_t kSegAttrib = 2;
constexpr std::size_t kSegLimit = 4;
constexpr std::size_t kSegBase = 8;
constexpr std::size_t kSegSize = 16;
}  // namespace offset

static_assert(offset::kTr + offset::kSegSize <= offset::kEfer, "segments precede EFER");
static_assert(offset::kX87Fcw + sizeof(uint16_t) <= kVmsaSize, "x87 FCW lies inside the page");

// VMCB segment attributes (APM vol. 2 §15.5.1, "Segment State in the VMCB": the descriptor's
// type/S/DPL/P bits in 7:0 and AVL/L/DB/G in 11:8).
constexpr uint16_t kAttrCode = 0x9b;     // present, code, readable, accessed
constexpr uint16_t kAttrData = 0x93;     // present, data, writable, accessed
constexpr uint16_t kAttrLdt = 0x82;      // present, system, LDT
constexpr uint16_t kAttrBusyTss = 0x8b;  // present, system, busy 32-bit TSS
// PAT MSR power-on value (APM vol. 2 §7.8.2 / table A-5).
constexpr uint64_t kResetPat = 0x0007040600070406;

template <std::unsigned_integral T>
void put(std::vector<std::byte>& page, std::size_t at, T value) {
  store_le<T>(std::span<std::byte>(page).subspan(at).first<sizeof(T)>(), value);
}

void put_segment(std::vector<std::byte>& page, std::size_t at, const VmsaSegment& segment) {
  put<uint16_t>(page, at + offset::kSegSelector, segment.selector);
  put<uint16_t>(page, at + offset::kSegAttrib, segment.attrib);
  put<uint32_t>(page, at + offset::kSegLimit, segment.limit);
  put<uint64_t>(page, at + offset::kSegBase, segment.base);
}

}  // namespace

std::optional<VmmType> parse_vmm_type(std::string_view text) noexcept {
  if (text == "cvmm") {
    return VmmType::kCvmm;
  }
  if (text == "qemu" || text == "QEMU") {
    return VmmType::kQemu;
  }
  if (text == "ec2") {
    return VmmType::kEc2;
  }
  if (text == "gce") {
    return VmmType::kGce;
  }
  return std::nullopt;
}

std::string_view vmm_type_name(VmmType type) noexcept {
  switch (type) {
    case VmmType::kCvmm:
      return "cvmm";
    case VmmType::kQemu:
      return "qemu";
    case VmmType::kEc2:
      return "ec2";
    case VmmType::kGce:
      return "gce";
  }
  return "unknown";
}

// cvmm's reset state (the kCvmm case) is, by design, QEMU's: the SNP backend programs every
// vCPU with the x86 architectural reset state the way QEMU's x86_cpu_reset does
// (KVM_SET_SREGS/REGS/FPU/XCRS: CS 0xf000/base 0xffff0000/attr 0x9b, data segments 0x93,
// LDTR 0x82, TR 0x8b, all limits 0xffff, CR0 0x60000010, EFER 0, CR4 0, DR6 0xffff0ff0,
// DR7 0x400, RFLAGS 2, RDX = CPUID signature, PAT power-on value, XCR0 1, MXCSR 0x1f80,
// FCW 0x37f), and the APs at the firmware's SEV-ES reset address. KVM then writes the VMSA
// from that state (arch/x86/kvm/svm/sev.c sev_es_sync_vmsa), applying its own adjustments:
// EFER.SVME set (0x1000), CR4.MCE set (0x40), CR0.CD/NW cleared (0x10 remains). There is
// no reason to differ: matching QEMU keeps cvmm's expected measurements reproducible with
// sev-snp-measure --vmm-type QEMU.
VcpuResetState vcpu_reset_state(const VcpuResetParams& params) noexcept {
  const bool qemu_like = params.vmm == VmmType::kCvmm || params.vmm == VmmType::kQemu;
  VcpuResetState s;
  uint16_t code_attr = kAttrCode;
  uint16_t stack_attr = kAttrData;
  uint16_t tr_attr = kAttrBusyTss;
  s.g_pat = kResetPat;
  if (qemu_like) {
    s.rdx = params.cpu_signature;
    s.mxcsr = 0x1f80;  // MXCSR reset value: all exceptions masked
    s.x87_fcw = 0x37f;  // FNINIT control word
  } else {
    // EC2 and GCE put a fixed family-6 signature in RDX and leave the FPU state zero.
    s.rdx = 0x600;
    if (params.vmm == VmmType::kEc2) {
      // EC2: the BSP's CS is not marked accessed; SS not accessed; TR is a busy 16-bit TSS.
      code_attr = params.reset_address == kBspResetAddress ? 0x9a : kAttrCode;
      stack_attr = 0x92;
      tr_attr = 0x83;
    } else {
      s.g_pat = 0x00070106;  // GCE's hypervisor programs its own PAT
    }
  }
  s.es = {0, kAttrData, 0xffff, 0};
  s.cs = {0xf000, code_attr, 0xffff, params.reset_address & 0xffff0000u};
  s.ss = {0, stack_attr, 0xffff, 0};
  s.ds = {0, kAttrData, 0xffff, 0};
  s.fs = {0, kAttrData, 0xffff, 0};
  s.gs = {0, kAttrData, 0xffff, 0};
  s.gdtr = {0, 0, 0xffff, 0};
  s.idtr = {0, 0, 0xffff, 0};
  s.ldtr = {0, kAttrLdt, 0xffff, 0};
  s.tr = {0, tr_attr, 0xffff, 0};
  s.efer = 0x1000;  // EFER.SVME, set by KVM
  s.cr4 = 0x40;     // CR4.MCE, set by KVM
  s.cr0 = 0x10;     // CR0.ET; KVM clears the reset value's CD and NW
  s.dr7 = 0x400;
  s.dr6 = 0xffff0ff0;
  s.rflags = 0x2;
  s.rip = params.reset_address & 0xffffu;
  s.sev_features = params.sev_features;
  s.xcr0 = 0x1;  // x87 state only
  return s;
}

std::vector<std::byte> encode_vmsa(const VcpuResetState& state) {
  std::vector<std::byte> page(kVmsaSize);
  put_segment(page, offset::kEs, state.es);
  put_segment(page, offset::kCs, state.cs);
  put_segment(page, offset::kSs, state.ss);
  put_segment(page, offset::kDs, state.ds);
  put_segment(page, offset::kFs, state.fs);
  put_segment(page, offset::kGs, state.gs);
  put_segment(page, offset::kGdtr, state.gdtr);
  put_segment(page, offset::kLdtr, state.ldtr);
  put_segment(page, offset::kIdtr, state.idtr);
  put_segment(page, offset::kTr, state.tr);
  put<uint64_t>(page, offset::kEfer, state.efer);
  put<uint64_t>(page, offset::kCr4, state.cr4);
  put<uint64_t>(page, offset::kCr0, state.cr0);
  put<uint64_t>(page, offset::kDr7, state.dr7);
  put<uint64_t>(page, offset::kDr6, state.dr6);
  put<uint64_t>(page, offset::kRflags, state.rflags);
  put<uint64_t>(page, offset::kRip, state.rip);
  put<uint64_t>(page, offset::kGPat, state.g_pat);
  put<uint64_t>(page, offset::kRdx, state.rdx);
  put<uint64_t>(page, offset::kSevFeatures, state.sev_features);
  put<uint64_t>(page, offset::kXcr0, state.xcr0);
  put<uint32_t>(page, offset::kMxcsr, state.mxcsr);
  put<uint16_t>(page, offset::kX87Fcw, state.x87_fcw);
  return page;
}

}  // namespace cvm::firmware::snp
