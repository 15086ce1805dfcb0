// SPDX-License-Identifier: Apache-2.0
// CPUID leaf layouts: Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 Appendix E.
#include "vmm/x86/cpuid.h"

#include <algorithm>
#include <bit>

namespace cvm::vmm::x86 {
namespace {

enum class Reg : uint8_t { kEax, kEbx, kEcx, kEdx };

struct FeatureBits {
  CpuFeature feature;
  uint32_t function;
  uint32_t index;
  Reg reg;
  uint32_t mask;
};

constexpr uint32_t bit(unsigned n) { return 1u << n; }

// The bits each hideable feature clears. XSAVE drags along everything whose state XSAVE
// manages (Linux arch/x86/kernel/cpu/cpuid-deps.c: OSXSAVE, AVX*, FMA, F16C, MPX, PKU, AMX).
constexpr FeatureBits kFeatureBits[] = {
    {CpuFeature::kCx16, 1, 0, Reg::kEcx, bit(13)},
    {CpuFeature::kPopcnt, 1, 0, Reg::kEcx, bit(23)},
    {CpuFeature::kXsave, 1, 0, Reg::kEcx, bit(26) | bit(27) | bit(28) | bit(12) | bit(29)},
    {CpuFeature::kXsave, 7, 0, Reg::kEbx,
     bit(5) | bit(14) | bit(16) | bit(17) | bit(21) | bit(26) | bit(27) | bit(28) | bit(30) |
         bit(31)},
    {CpuFeature::kXsave, 7, 0, Reg::kEcx,
     bit(1) | bit(3) | bit(4) | bit(6) | bit(9) | bit(10) | bit(11) | bit(12) | bit(14)},
    {CpuFeature::kXsave, 7, 0, Reg::kEdx,
     bit(2) | bit(3) | bit(8) | bit(22) | bit(23) | bit(24) | bit(25)},
    {CpuFeature::kXsave, 7, 1, Reg::kEax, bit(4) | bit(5)},
    {CpuFeature::kXsave, 0x80000001, 0, Reg::kEcx, bit(11) | bit(16)},  // XOP, FMA4
    {CpuFeature::kFsgsbase, 7, 0, Reg::kEbx, bit(0)},
    {CpuFeature::kRdtscp, 0x80000001, 0, Reg::kEdx, bit(27)},
    {CpuFeature::kSmep, 7, 0, Reg::kEbx, bit(7)},
    {CpuFeature::kSmap, 7, 0, Reg::kEbx, bit(20)},
    {CpuFeature::kPcid, 1, 0, Reg::kEcx, bit(17)},
    {CpuFeature::kInvpcid, 7, 0, Reg::kEbx, bit(10)},
    {CpuFeature::kRdrand, 1, 0, Reg::kEcx, bit(30)},
    {CpuFeature::kRdseed, 7, 0, Reg::kEbx, bit(18)},
    {CpuFeature::kRdpid, 7, 0, Reg::kEcx, bit(22)},
    {CpuFeature::kUmip, 7, 0, Reg::kEcx, bit(2)},
    {CpuFeature::kPdpe1gb, 0x80000001, 0, Reg::kEdx, bit(26)},
};

uint32_t& reg_of(CpuidEntry& e, Reg reg) {
  switch (reg) {
    case Reg::kEax:
      return e.eax;
    case Reg::kEbx:
      return e.ebx;
    case Reg::kEcx:
      return e.ecx;
    case Reg::kEdx:
      return e.edx;
  }
  CVM_UNREACHABLE("bad cpuid register");
}

/// Leaves whose subleaf is meaningful match on index; others on function alone.
bool matches(const CpuidEntry& e, uint32_t function, uint32_t index) {
  return e.function == function &&
         ((e.flags & kCpuidFlagSignificantIndex) == 0 || e.index == index);
}

void hide_features(std::vector<CpuidEntry>& table, std::span<const CpuFeature> hidden) {
  for (const FeatureBits& fb : kFeatureBits) {
    if (std::find(hidden.begin(), hidden.end(), fb.feature) == hidden.end()) {
      continue;
    }
    for (CpuidEntry& e : table) {
      if (matches(e, fb.function, fb.index)) {
        reg_of(e, fb.reg) &= ~fb.mask;
      }
    }
  }
  if (std::find(hidden.begin(), hidden.end(), CpuFeature::kXsave) != hidden.end()) {
    // Leaf 0xD describes XSAVE state components; without XSAVE it must read as all zero.
    for (CpuidEntry& e : table) {
      if (e.function == 0xd) {
        e.eax = e.ebx = e.ecx = e.edx = 0;
      }
    }
  }
}

bool is_amd(std::span<const CpuidEntry> table) {
  for (const CpuidEntry& e : table) {
    if (e.function == 0) {
      return e.ebx == 0x68747541 && e.edx == 0x69746e65 && e.ecx == 0x444d4163;  // AuthenticAMD
    }
  }
  return false;
}

void set_topology_leaf(std::vector<CpuidEntry>& table, uint32_t function, uint32_t apic_id,
                       uint32_t vcpus) {
  const bool present = std::any_of(table.begin(), table.end(),
                                   [&](const CpuidEntry& e) { return e.function == function; });
  if (!present) {
    return;
  }
  std::erase_if(table, [&](const CpuidEntry& e) { return e.function == function; });
  // Level 0 = SMT (one thread per core), level 1 = core (all vCPUs), level 2 terminates.
  const auto core_shift = static_cast<uint32_t>(std::bit_width(vcpus - 1));
  constexpr uint32_t kTypeSmt = 1, kTypeCore = 2;
  const CpuidEntry levels[] = {
      {function, 0, kCpuidFlagSignificantIndex, 0, 1, (kTypeSmt << 8) | 0, apic_id},
      {function, 1, kCpuidFlagSignificantIndex, core_shift, vcpus, (kTypeCore << 8) | 1,
       apic_id},
      {function, 2, kCpuidFlagSignificantIndex, 0, 0, 2, apic_id},
  };
  table.insert(table.end(), std::begin(levels), std::end(levels));
}

void set_topology(std::vector<CpuidEntry>& table, uint32_t apic_id, uint32_t vcpus) {
  const bool amd = is_amd(table);
  for (CpuidEntry& e : table) {
    if (e.function == 1) {
      e.ebx = (e.ebx & 0x0000ffffu) | (apic_id << 24) | (std::min(vcpus, 255u) << 16);
      e.edx = vcpus > 1 ? (e.edx | bit(28)) : (e.edx & ~bit(28));
    } else if (e.function == 4) {
      const uint32_t level = (e.eax >> 5) & 7;
      const uint32_t sharing = level == 3 ? vcpus - 1 : 0;
      e.eax = (e.eax & 0x3fffu) | ((std::min(sharing, 0xfffu)) << 14) |
              (std::min(vcpus - 1, 63u) << 26);
    } else if (e.function == 0x80000008 && amd) {
      e.ecx = (e.ecx & ~0xffu) | (vcpus - 1);
    }
  }
  set_topology_leaf(table, 0xb, apic_id, vcpus);
  set_topology_leaf(table, 0x1f, apic_id, vcpus);
}

void set_hypervisor_leaves(std::vector<CpuidEntry>& table, const CpuidPolicy& policy) {
  uint32_t kvm_features = 0;
  for (const CpuidEntry& e : table) {
    if (e.function == kCpuidKvmFeaturesLeaf) {
      kvm_features = e.eax;
    }
  }
  std::erase_if(table, [](const CpuidEntry& e) {
    return e.function >= kCpuidKvmSignatureLeaf && e.function <= kCpuidKvmSignatureLeaf + 0xff;
  });
  const uint32_t max_leaf = policy.tsc_khz ? kCpuidTimingLeaf : kCpuidKvmFeaturesLeaf;
  // "KVMKVMKVM\0\0\0" in EBX, ECX, EDX.
  table.push_back({kCpuidKvmSignatureLeaf, 0, 0, max_leaf, 0x4b4d564b, 0x564b4d56, 0x0000004d});
  table.push_back({kCpuidKvmFeaturesLeaf, 0, 0, kvm_features, 0, 0, 0});
  if (policy.tsc_khz) {
    table.push_back({kCpuidTimingLeaf, 0, 0, *policy.tsc_khz, kKvmApicBusKhz, 0, 0});
  }
  for (CpuidEntry& e : table) {
    if (e.function == 1) {
      e.ecx |= bit(31);  // hypervisor present
    }
  }
}

}  // namespace

Result<std::vector<CpuidEntry>> build_vcpu_cpuid(std::span<const CpuidEntry> supported,
                                                 const CpuidPolicy& policy,
                                                 uint32_t vcpu_index) {
  if (policy.vcpu_count == 0 || policy.vcpu_count > 255) {
    return make_error(ErrorCode::kInvalidArgument, "vcpu count {} is out of range 1..255",
                      policy.vcpu_count);
  }
  if (vcpu_index >= policy.vcpu_count) {
    return make_error(ErrorCode::kInvalidArgument, "vcpu index {} is not below the count {}",
                      vcpu_index, policy.vcpu_count);
  }
  std::vector<CpuidEntry> table(supported.begin(), supported.end());
  set_topology(table, vcpu_index, policy.vcpu_count);
  set_hypervisor_leaves(table, policy);
  hide_features(table, policy.hidden);
  return table;
}

std::vector<MsrEntry> boot_msrs(std::span<const uint32_t> supported) {
  const MsrEntry wanted[] = {
      {kMsrIa32SysenterCs, 0},
      {kMsrIa32SysenterEsp, 0},
      {kMsrIa32SysenterEip, 0},
      {kMsrStar, 0},
      {kMsrCstar, 0},
      {kMsrKernelGsBase, 0},
      {kMsrSyscallMask, 0},
      {kMsrLstar, 0},
      {kMsrIa32MiscEnable, kMiscEnableFastStrings},
      {kMsrMtrrDefType, kMtrrDefTypeEnabledWriteback},
  };
  std::vector<MsrEntry> out;
  for (const MsrEntry& msr : wanted) {
    if (std::find(supported.begin(), supported.end(), msr.index) != supported.end()) {
      out.push_back(msr);
    }
  }
  return out;
}

}  // namespace cvm::vmm::x86
