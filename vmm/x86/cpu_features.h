// SPDX-License-Identifier: Apache-2.0
// CPU features cvmm can hide from a guest, by the names Linux's clearcpuid= uses
// (arch/x86/include/asm/cpufeatures.h). The same set drives the CPUID filter (cpuid.h) and the
// clearcpuid= command-line argument (cmdline.h): on nested/emulating hosts the command line is
// what reliably reaches the guest (shared/docs/nested-kvm-notes.md), CPUID masking only
// partly. Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace cvm::vmm::x86 {

enum class CpuFeature : uint8_t {
  kCx16,      // CPUID.1:ECX[13]  cmpxchg16b
  kPopcnt,    // CPUID.1:ECX[23]
  kXsave,     // CPUID.1:ECX[26]  (also hides OSXSAVE, AVX family, leaf 0xD)
  kFsgsbase,  // CPUID.7.0:EBX[0]
  kRdtscp,    // CPUID.80000001h:EDX[27]
  kSmep,      // CPUID.7.0:EBX[7]
  kSmap,      // CPUID.7.0:EBX[20]
  kPcid,      // CPUID.1:ECX[17]
  kInvpcid,   // CPUID.7.0:EBX[10]
  kRdrand,    // CPUID.1:ECX[30]
  kRdseed,    // CPUID.7.0:EBX[18]
  kRdpid,     // CPUID.7.0:ECX[22]
  kUmip,      // CPUID.7.0:ECX[2]
  kPdpe1gb,   // CPUID.80000001h:EDX[26]  1 GiB pages
};

/// The features that must be hidden for Linux guests on the nested kvm_pvm build host:
/// its instruction emulator cannot run cmpxchg16b, popcnt or xrstor
/// (shared/docs/nested-kvm-notes.md, "Instructions the emulator cannot handle").
inline constexpr CpuFeature kNestedHostRequiredHidden[] = {CpuFeature::kCx16,
                                                          CpuFeature::kPopcnt,
                                                          CpuFeature::kXsave};
/// The required set plus the precautionary ones from the same notes.
inline constexpr CpuFeature kNestedHostHidden[] = {
    CpuFeature::kCx16,    CpuFeature::kPopcnt, CpuFeature::kXsave,   CpuFeature::kFsgsbase,
    CpuFeature::kRdtscp,  CpuFeature::kSmap,   CpuFeature::kPcid,    CpuFeature::kInvpcid,
    CpuFeature::kRdrand,  CpuFeature::kRdseed, CpuFeature::kRdpid,
};

/// The Linux name, e.g. "cx16".
std::string_view cpu_feature_name(CpuFeature feature) noexcept;

/// Parses a comma-separated list of names ("cx16,popcnt,xsave"); empty text gives an empty
/// list; duplicates are dropped. Errors: kInvalidArgument naming the unknown feature and
/// listing the known ones.
[[nodiscard]] Result<std::vector<CpuFeature>> parse_cpu_features(std::string_view list);

/// "clearcpuid=cx16,popcnt,xsave" for `features`, or "" when empty.
std::string clearcpuid_argument(std::span<const CpuFeature> features);

}  // namespace cvm::vmm::x86
